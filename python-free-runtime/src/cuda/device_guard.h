//===- device_guard.h - make a CUDA device current for a scope ---*- C++ -*-===//
//
// The runtime and the CUDA trainer call CUDA on threads whose current
// device belongs to someone else (a stage's generated code, the allocator's
// caller): a guard makes another device current and puts the caller's back.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_CUDA_DEVICE_GUARD_H
#define GPIPE_RUNTIME_CUDA_DEVICE_GUARD_H

#include <cuda_runtime.h>

namespace gp::cuda {

class DeviceGuard {
public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous) != cudaSuccess)
      previous = -1;
    if (previous != device)
      cudaSetDevice(device);
  }
  ~DeviceGuard() {
    int now = -1;
    if (previous >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous)
      cudaSetDevice(previous);
  }
  DeviceGuard(const DeviceGuard &) = delete;
  DeviceGuard &operator=(const DeviceGuard &) = delete;

private:
  int previous = -1;
};

} // namespace gp::cuda

#endif // GPIPE_RUNTIME_CUDA_DEVICE_GUARD_H
