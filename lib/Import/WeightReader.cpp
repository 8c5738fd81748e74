//===- WeightReader.cpp - parameter values from ONNX files ----------------===//

#include "gpipe/Import/WeightReader.h"
#include "ConstTensor.h"
#include "ModelLoader.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>

using namespace mlir;
using namespace mlir::gpipe;
using TP = onnx::TensorProto;

struct WeightReader::Model {
  onnx::ModelProto proto;
  llvm::StringMap<const TP *> initializers;
};

WeightReader::WeightReader() = default;
WeightReader::~WeightReader() = default;

namespace {
/// Converts typed-field values to the element type's in-memory form.
template <typename Field>
void copyField(const Field &field, int32_t dtype, void *dst) {
  int64_t n = field.size();
  for (int64_t i = 0; i < n; ++i) {
    auto v = field.Get(i);
    switch (dtype) {
    case TP::FLOAT: static_cast<float *>(dst)[i] = (float)v; break;
    case TP::DOUBLE: static_cast<double *>(dst)[i] = (double)v; break;
    case TP::INT64: static_cast<int64_t *>(dst)[i] = (int64_t)v; break;
    case TP::INT32: static_cast<int32_t *>(dst)[i] = (int32_t)v; break;
    case TP::INT16: case TP::FLOAT16: case TP::BFLOAT16:
      static_cast<int16_t *>(dst)[i] = (int16_t)v; break;
    case TP::INT8: case TP::UINT8: static_cast<int8_t *>(dst)[i] = (int8_t)v; break;
    case TP::BOOL: static_cast<uint8_t *>(dst)[i] = v != 0; break;
    }
  }
}
/// Copies the inline values of `t` (raw or typed fields) into `dst`.
bool copyInline(const TP &t, int64_t n, void *dst, std::string &error) {
  int64_t bytes = n * import::dtypeBytes(t.data_type());
  if (t.has_raw_data()) {
    if ((int64_t)t.raw_data().size() != bytes) {
      error = "tensor '" + t.name() + "' holds the wrong number of bytes";
      return false;
    }
    std::memcpy(dst, t.raw_data().data(), bytes);
    return true;
  }
  int64_t count;
  switch (t.data_type()) {
  case TP::FLOAT: count = t.float_data_size(); break;
  case TP::DOUBLE: count = t.double_data_size(); break;
  case TP::INT64: count = t.int64_data_size(); break;
  default: count = t.int32_data_size(); break;
  }
  if (count != n) {
    error = "tensor '" + t.name() + "' holds " + std::to_string(count) + " values, expected " +
            std::to_string(n);
    return false;
  }
  switch (t.data_type()) {
  case TP::FLOAT: copyField(t.float_data(), t.data_type(), dst); break;
  case TP::DOUBLE: copyField(t.double_data(), t.data_type(), dst); break;
  case TP::INT64: copyField(t.int64_data(), t.data_type(), dst); break;
  default: copyField(t.int32_data(), t.data_type(), dst); break;
  }
  return true;
}
} // namespace

bool mlir::gpipe::decodeTensorProto(StringRef bytes, MLIRContext *context,
                                    DecodedTensor &out, std::string &error) {
  TP t;
  if (!t.ParseFromArray(bytes.data(), (int)bytes.size())) {
    error = "not a serialized ONNX tensor";
    return false;
  }
  Type elt = import::elementTypeFor(t.data_type(), context);
  if (!elt) {
    error = "unsupported " + import::dtypeName(t.data_type());
    return false;
  }
  if (t.data_location() == TP::EXTERNAL) {
    error = "external data is not supported here";
    return false;
  }
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > (int64_t(1) << 40) / d)) {
      error = "tensor has an invalid shape";
      return false;
    }
    n *= d;
  }
  int64_t have = t.has_raw_data() ? (int64_t)t.raw_data().size() / import::dtypeBytes(t.data_type())
                 : t.data_type() == TP::FLOAT  ? t.float_data_size()
                 : t.data_type() == TP::DOUBLE ? t.double_data_size()
                 : t.data_type() == TP::INT64  ? t.int64_data_size()
                                               : t.int32_data_size();
  if (have != n) {
    error = "tensor holds " + std::to_string(have) + " values for " + std::to_string(n) +
            " elements";
    return false;
  }
  out.name = t.name();
  out.type = RankedTensorType::get(shape, elt);
  out.data.assign(out.type.getNumElements() * import::dtypeBytes(t.data_type()), 0);
  return copyInline(t, out.type.getNumElements(), out.data.data(), error);
}

bool WeightReader::read(StringRef file, StringRef name, RankedTensorType type,
                        void *dst, std::string &error) {
  auto it = models.find(file);
  if (it == models.end()) {
    auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer) {
      error = "cannot open weights file '" + file.str() + "': " + buffer.getError().message();
      return false;
    }
    auto model = std::make_unique<Model>();
    if (!import::loadModel((*buffer)->getBuffer(), file, model->proto, error)) {
      error = file.str() + ": " + error;
      return false;
    }
    for (const auto &init : model->proto.graph().initializer())
      model->initializers[init.name()] = &init;
    it = models.try_emplace(file, std::move(model)).first;
  }
  auto init = it->second->initializers.find(name);
  if (init == it->second->initializers.end()) {
    error = "'" + file.str() + "' has no initializer '" + name.str() + "'";
    return false;
  }
  const TP &t = *init->second;
  int64_t n = type.getNumElements();
  int64_t bytes = n * import::dtypeBytes(t.data_type());
  int64_t have = 1;
  for (int64_t d : t.dims())
    have *= d;
  if (have != n || import::elementTypeFor(t.data_type(), type.getContext()) !=
                       type.getElementType()) {
    error = "initializer '" + name.str() + "' in '" + file.str() +
            "' does not have the parameter's type";
    return false;
  }
  if (t.data_location() == TP::EXTERNAL) {
    std::string location;
    int64_t offset = 0;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::atoll(kv.value().c_str());
    }
    llvm::SmallString<256> path(llvm::sys::path::parent_path(file));
    llvm::sys::path::append(path, location);
    std::ifstream in(path.str().str(), std::ios::binary);
    in.seekg(offset);
    if (!in || !in.read(static_cast<char *>(dst), bytes)) {
      error = "cannot read " + std::to_string(bytes) + " bytes of '" + name.str() +
              "' from '" + path.str().str() + "'";
      return false;
    }
    return true;
  }
  return copyInline(t, n, dst, error);
}

bool mlir::gpipe::writeModelWithInitializers(StringRef source, StringRef dest,
                                             const llvm::StringMap<StringRef> &values,
                                             std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(source, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot open '" + source.str() + "': " + buffer.getError().message();
    return false;
  }
  onnx::ModelProto model;
  if (!import::loadModel((*buffer)->getBuffer(), source, model, error))
    return false;
  size_t replaced = 0;
  for (auto &init : *model.mutable_graph()->mutable_initializer()) {
    auto it = values.find(init.name());
    if (it == values.end())
      continue;
    int64_t n = 1;
    for (int64_t d : init.dims())
      n *= d;
    if ((int64_t)it->second.size() != n * import::dtypeBytes(init.data_type())) {
      error = "the new value of '" + init.name() + "' has the wrong size";
      return false;
    }
    init.clear_float_data();
    init.clear_int32_data();
    init.clear_int64_data();
    init.clear_double_data();
    init.clear_uint64_data();
    init.clear_external_data();
    init.set_data_location(TP::DEFAULT);
    init.set_raw_data(it->second.data(), it->second.size());
    ++replaced;
  }
  if (replaced != values.size()) {
    error = "'" + source.str() + "' lacks some of the initializers to replace";
    return false;
  }
  std::ofstream out(dest.str(), std::ios::binary);
  if (!out || !model.SerializeToOstream(&out)) {
    error = "cannot write '" + dest.str() + "'";
    return false;
  }
  return true;
}
