//===- gpipe-cuda-info.cpp - the GPUs a CUDA trainer would run on ---------===//
//
// Lists the CUDA devices the runtime can use (name, compute capability,
// memory, SMs, peer access between them) and exits 0; without one, prints
// why (no driver, no device) and exits 1. The test suite runs it to decide
// whether the GPU tests run, and prints its reason when they are skipped.
//
//===----------------------------------------------------------------------===//

#include "gpipe/runtime/gp_cuda.h"

#include <cuda_runtime.h>

#include <cstdio>

int main() {
  int count = 0;
  if (gp_cuda_device_count(&count) != GP_OK) {
    std::printf("gpipe-cuda-info: no usable CUDA device: %s\n", gp_last_error());
    return 1;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
      std::printf("gpipe-cuda-info: cannot query device %d\n", d);
      return 1;
    }
    std::printf("GPU %d: %s, sm_%d%d, %.1f GiB, %d SMs", d, p.name, p.major, p.minor,
                p.totalGlobalMem / double(1 << 30), p.multiProcessorCount);
    for (int peer = 0; peer < count; ++peer) {
      int can = 0;
      if (peer != d && cudaDeviceCanAccessPeer(&can, d, peer) == cudaSuccess && can)
        std::printf(", peer access to GPU %d", peer);
    }
    std::printf("\n");
  }
  return 0;
}
