//===- tensor.cpp - gp::Tensor --------------------------------------------===//

#include "gpipe/runtime/gp_program.h"
#include "../common.h"

#include <cstdlib>
#include <cstring>

using namespace gp;

Tensor Tensor::allocate(gp_dtype dtype, int32_t rank, const int64_t *dims) {
  gp_tensor view{};
  if (gp_tensor_init(&view, dtype, rank, dims) != GP_OK)
    return Tensor();
  size_t bytes = gp_numel(&view) * gp_dtype_size(dtype);
  void *data = std::malloc(bytes ? bytes : 1);
  if (!data) {
    fail("out of memory for " + describe(&view) + " (" + std::to_string(bytes) + " bytes)");
    return Tensor();
  }
  view.data = data;
  return Tensor(view, std::shared_ptr<void>(data, std::free));
}

Tensor Tensor::copyOf(const gp_tensor &src) {
  Tensor t = allocate(src.dtype, src.rank, src.dims);
  if (!t.empty())
    std::memcpy(t.view()->data, src.data, t.bytes());
  return t;
}

Tensor Tensor::adopt(const gp_tensor &t) { return Tensor(t, std::shared_ptr<void>(t.data, gp_free)); }

namespace {
gp::DeviceMemory *installedMemory = nullptr;
}

void gp::setDeviceMemory(DeviceMemory *memory) { installedMemory = memory; }

gp::DeviceMemory *gp::deviceMemory() { return installedMemory; }

Tensor gp::onHost(const Tensor &t, std::string &error) {
  if (t.empty() || t.device() < 0)
    return t;
  if (!installedMemory) {
    error = "a tensor on device " + std::to_string(t.device()) + " without device memory";
    return Tensor();
  }
  return installedMemory->toHost(t, error);
}

Tensor gp::onDevice(const Tensor &t, int device, std::string &error) {
  if (t.empty() || t.device() == device)
    return t;
  if (device < 0)
    return onHost(t, error);
  if (!installedMemory) {
    error = "no device memory for device " + std::to_string(device);
    return Tensor();
  }
  return installedMemory->toDevice(t, device, error);
}
