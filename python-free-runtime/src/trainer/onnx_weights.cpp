//===- onnx_weights.cpp - initializers of an ONNX model -------------------===//

#include "onnx_weights.h"

#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace gp;
using TP = onnx::TensorProto;

struct OnnxWeights::Model {
  onnx::ModelProto proto;
  std::string dir;
  std::map<std::string, int> initializers;
};

OnnxWeights::OnnxWeights() = default;
OnnxWeights::~OnnxWeights() = default;

namespace {
bool dtypeMatches(int32_t onnxType, gp_dtype dtype) {
  switch (onnxType) {
  case TP::FLOAT: return dtype == GP_F32;
  case TP::DOUBLE: return dtype == GP_F64;
  case TP::INT64: return dtype == GP_I64;
  case TP::INT32: return dtype == GP_I32;
  case TP::INT16: return dtype == GP_I16;
  case TP::INT8: return dtype == GP_I8;
  case TP::UINT8: return dtype == GP_U8;
  case TP::BOOL: return dtype == GP_BOOL;
  case TP::FLOAT16: return dtype == GP_F16;
  case TP::BFLOAT16: return dtype == GP_BF16;
  default: return false;
  }
}

template <typename Field> void copyField(const Field &field, gp_dtype dtype, void *dst) {
  for (int i = 0; i < field.size(); ++i) {
    auto v = field.Get(i);
    switch (dtype) {
    case GP_F32: static_cast<float *>(dst)[i] = static_cast<float>(v); break;
    case GP_F64: static_cast<double *>(dst)[i] = static_cast<double>(v); break;
    case GP_I64: static_cast<int64_t *>(dst)[i] = static_cast<int64_t>(v); break;
    case GP_I32: static_cast<int32_t *>(dst)[i] = static_cast<int32_t>(v); break;
    case GP_I16: case GP_F16: case GP_BF16: static_cast<int16_t *>(dst)[i] = static_cast<int16_t>(v); break;
    case GP_I8: case GP_U8: static_cast<int8_t *>(dst)[i] = static_cast<int8_t>(v); break;
    case GP_BOOL: static_cast<uint8_t *>(dst)[i] = v != 0; break;
    }
  }
}
} // namespace

bool OnnxWeights::load(const std::string &path, std::string &error) {
  auto m = std::make_unique<Model>();
  std::ifstream in(path, std::ios::binary);
  bool text = path.size() > 8 && path.compare(path.size() - 8, 8, ".onnxtxt") == 0;
  if (in && text) {
    // The ONNX text format (what gpipe-run and gpipe-compile also read).
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string contents = buffer.str();
    try {
      auto status = onnx::OnnxParser::Parse(m->proto, contents.c_str());
      if (!status.IsOK()) {
        error = "cannot parse the ONNX text model '" + path + "': " + status.ErrorMessage();
        for (char &c : error)
          if (c == '\n')
            c = ' ';
        return false;
      }
    } catch (const std::exception &e) {
      error = "cannot parse the ONNX text model '" + path + "': " + e.what();
      return false;
    }
  } else if (!in || !m->proto.ParseFromIstream(&in)) {
    error = "cannot read the ONNX model '" + path + "'";
    return false;
  }
  size_t slash = path.find_last_of('/');
  m->dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const auto &inits = m->proto.graph().initializer();
  for (int i = 0; i < inits.size(); ++i)
    m->initializers[inits.Get(i).name()] = i;
  model = std::move(m);
  return true;
}

bool OnnxWeights::read(const std::string &name, gp_tensor &dst, std::string &error) const {
  auto it = model ? model->initializers.find(name) : decltype(model->initializers.end())();
  if (!model || it == model->initializers.end()) {
    error = "the model has no initializer '" + name + "'";
    return false;
  }
  const TP &t = model->proto.graph().initializer(it->second);
  int64_t n = gp_numel(&dst), count = 1;
  for (int64_t d : t.dims())
    count *= d;
  if (!dtypeMatches(t.data_type(), dst.dtype) || count != n) {
    error = "initializer '" + name + "' does not have the type the program was compiled for";
    return false;
  }
  size_t bytes = n * gp_dtype_size(dst.dtype);
  if (t.data_location() == TP::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &entry : t.external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offset = std::stoll(entry.value());
      else if (entry.key() == "length")
        length = std::stoll(entry.value());
    }
    std::ifstream file(model->dir + "/" + location, std::ios::binary);
    if (!file || (length >= 0 && static_cast<size_t>(length) != bytes) ||
        !file.seekg(offset) || !file.read(static_cast<char *>(dst.data), bytes)) {
      error = "cannot read initializer '" + name + "' from external data '" + location + "'";
      return false;
    }
    return true;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != bytes) {
      error = "initializer '" + name + "' holds the wrong number of bytes";
      return false;
    }
    std::memcpy(dst.data, t.raw_data().data(), bytes);
    return true;
  }
  int64_t fields = t.data_type() == TP::FLOAT    ? t.float_data_size()
                   : t.data_type() == TP::DOUBLE ? t.double_data_size()
                   : t.data_type() == TP::INT64  ? t.int64_data_size()
                                                 : t.int32_data_size();
  if (fields != n) {
    error = "initializer '" + name + "' holds " + std::to_string(fields) + " values, expected " +
            std::to_string(n);
    return false;
  }
  switch (t.data_type()) {
  case TP::FLOAT: copyField(t.float_data(), dst.dtype, dst.data); break;
  case TP::DOUBLE: copyField(t.double_data(), dst.dtype, dst.data); break;
  case TP::INT64: copyField(t.int64_data(), dst.dtype, dst.data); break;
  default: copyField(t.int32_data(), dst.dtype, dst.data); break;
  }
  return true;
}

bool OnnxWeights::check(const std::string &name, gp_dtype dtype, int32_t rank,
                        const int64_t *dims, std::string &error) const {
  auto it = model ? model->initializers.find(name) : decltype(model->initializers.end())();
  if (!model || it == model->initializers.end()) {
    error = "the model has no initializer '" + name + "'";
    return false;
  }
  const TP &t = model->proto.graph().initializer(it->second);
  int64_t want = 1, have = 1;
  std::string wantText, haveText;
  for (int32_t i = 0; i < rank; ++i) {
    want *= dims[i];
    wantText += (i ? ", " : "") + std::to_string(dims[i]);
  }
  for (int i = 0; i < t.dims_size(); ++i) {
    have *= t.dims(i);
    haveText += (i ? ", " : "") + std::to_string(t.dims(i));
  }
  if (!dtypeMatches(t.data_type(), dtype) || want != have) {
    error = "initializer '" + name + "' is " + TP::DataType_Name(t.data_type()) + "[" +
            haveText + "]; the program was compiled for " +
            gp_dtype_name(dtype) + "[" + wantText + "]";
    return false;
  }
  return true;
}

bool OnnxWeights::save(const std::string &path,
                       const std::map<std::string, const gp_tensor *> &values,
                       std::string &error) const {
  onnx::ModelProto copy = model->proto;
  auto *inits = copy.mutable_graph()->mutable_initializer();
  for (int i = 0; i < inits->size(); ++i) {
    TP *t = inits->Mutable(i);
    auto it = values.find(t->name());
    if (it == values.end())
      continue;
    const gp_tensor &v = *it->second;
    t->clear_float_data();
    t->clear_double_data();
    t->clear_int64_data();
    t->clear_int32_data();
    t->clear_external_data();
    t->set_data_location(TP::DEFAULT);
    t->set_raw_data(v.data, gp_numel(&v) * gp_dtype_size(v.dtype));
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !copy.SerializeToOstream(&out) || !out.flush()) {
      std::remove(tmp.c_str());
      error = "cannot write '" + path + "'";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}
