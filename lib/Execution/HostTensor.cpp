//===- HostTensor.cpp - owning tensors and type mapping -------------------===//

#include "gpipe/Execution/Interpreter.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

using namespace mlir;
using namespace mlir::gpipe;

std::optional<gp_dtype> mlir::gpipe::dtypeFor(Type t) {
  if (t.isF32())
    return GP_F32;
  if (t.isF64())
    return GP_F64;
  if (t.isF16())
    return GP_F16;
  if (t.isBF16())
    return GP_BF16;
  if (auto i = dyn_cast<IntegerType>(t)) {
    if (i.isUnsigned())
      return i.getWidth() == 8 ? std::optional<gp_dtype>(GP_U8) : std::nullopt;
    switch (i.getWidth()) {
    case 1: return GP_BOOL;
    case 8: return GP_I8;
    case 16: return GP_I16;
    case 32: return GP_I32;
    case 64: return GP_I64;
    }
  }
  return std::nullopt;
}

bool mlir::gpipe::matches(const gp_tensor &t, RankedTensorType type) {
  auto dtype = dtypeFor(type.getElementType());
  if (!dtype || *dtype != t.dtype || t.rank != type.getRank())
    return false;
  for (int32_t i = 0; i < t.rank; ++i)
    if (t.dims[i] != type.getDimSize(i))
      return false;
  return true;
}

std::string mlir::gpipe::describeTensor(const gp_tensor &t) {
  std::string s = std::string(gp_dtype_name(t.dtype)) + "[";
  for (int32_t i = 0; i < t.rank; ++i)
    s += (i ? ", " : "") + std::to_string(t.dims[i]);
  return s + "]";
}

namespace {
/// Buffers of freed tensors, by size: the interpreter allocates the same
/// sizes op after op and run after run, and fresh pages cost page faults.
class BufferPool {
public:
  ~BufferPool() {
    for (auto &[bytes, buffers] : free)
      for (void *p : buffers)
        std::free(p);
  }
  void *acquire(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = free.find(bytes);
    if (it == free.end() || it->second.empty())
      return std::malloc(bytes);
    void *p = it->second.back();
    it->second.pop_back();
    return p;
  }
  void release(void *p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    free[bytes].push_back(p);
  }

private:
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> free;
};

BufferPool &pool() {
  static BufferPool instance;
  return instance;
}
} // namespace

FailureOr<HostTensor> HostTensor::allocate(RankedTensorType type, std::string *error) {
  // The type is printed only for a message: the interpreter allocates
  // every value through here.
  auto why = [&](const llvm::Twine &before, const llvm::Twine &after) -> FailureOr<HostTensor> {
    if (error) {
      std::string typeText;
      llvm::raw_string_ostream(typeText) << type;
      *error = (before + typeText + after).str();
    }
    return failure();
  };
  auto dtype = dtypeFor(type.getElementType());
  if (!dtype)
    return why("the CPU runtime has no element type of ", "");
  if (type.getRank() > GP_MAX_RANK || !type.hasStaticShape())
    return why("the CPU runtime holds static shapes of rank " + llvm::Twine(GP_MAX_RANK) +
                   " at most, not ",
               "");
  HostTensor h;
  gp_tensor_init(&h.tensor, *dtype, type.getRank(), type.getShape().data());
  size_t bytes = std::max<size_t>(h.bytes(), 1);
  void *data = pool().acquire(bytes);
  if (!data)
    return why("out of memory for a ", " (" + llvm::Twine(bytes) + " bytes)");
  h.storage = std::shared_ptr<void>(data, [bytes](void *p) { pool().release(p, bytes); });
  h.tensor.data = data;
  return h;
}

HostTensor HostTensor::adopt(const gp_tensor &t) {
  HostTensor h;
  h.tensor = t;
  h.storage = std::shared_ptr<void>(t.data, gp_free);
  return h;
}

size_t HostTensor::bytes() const {
  return gp_numel(&tensor) * gp_dtype_size(tensor.dtype);
}
