//===- cuda_internal.h - shared pieces of the CUDA backend ------*- C++ -*-===//
//
// The context behind gp_cuda_ctx, status checks that turn every CUDA,
// cuBLAS and cuDNN error into a message naming the call, and the launch
// geometry and N-d index helpers the kernels share.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_CUDA_CUDA_INTERNAL_H
#define GPIPE_RUNTIME_CUDA_CUDA_INTERNAL_H

#include "../common.h"
#include "gpipe/runtime/gp_cuda.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace gp::cuda {
/// An event recorded after a function's work on a stream (gp_cuda_finish in
/// event mode): the tensors published with it are complete once it is.
/// Shared by those tensors' blocks; destroyed with the last of them.
struct Fence {
  cudaEvent_t event = nullptr;
  cudaStream_t stream = nullptr;
  int device = 0;
  /// Increasing with each fence made: of two fences on one stream, the
  /// later has the larger number (and completes after the other).
  uint64_t seq = 0;
  /// Set once a query found the event complete: later waits are skipped.
  std::atomic<bool> done{false};
  Fence() = default;
  Fence(const Fence &) = delete;
  Fence &operator=(const Fence &) = delete;
  ~Fence() {
    if (event)
      cudaEventDestroy(event);
  }
};
} // namespace gp::cuda

struct gp_cuda_ctx {
  int device = 0;
  gp_cuda_precision precision = GP_PRECISION_FP32;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  /// cuBLASLt and cuDNN workspace (gp::cuda::workspace grows it).
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
  /// The event of the last gp_cuda_finish (event mode).
  std::shared_ptr<gp::cuda::Fence> lastFence;
  /// Per stream this one waited on (or found done), the largest fence
  /// number: an earlier fence of that stream needs no wait (a function's
  /// parameters all share the update's fence).
  std::unordered_map<cudaStream_t, uint64_t> waited;
  /// The function arena (gp_cuda_arena).
  unsigned char *arena = nullptr;
  size_t arenaBytes = 0;
  /// Device copies of constants, by host address.
  struct Constant {
    void *data = nullptr;
    gp_tensor view{};
  };
  std::unordered_map<const void *, Constant> constants;
  /// The algorithms the libraries' heuristics chose, by problem (a training
  /// step asks for the same shapes every micro-batch): cuBLASLt's, and
  /// cuDNN's with their workspace bytes and math type.
  std::unordered_map<std::string, cublasLtMatmulAlgo_t> matmulAlgos;
  /// Problems (same keys) cuBLASLt has no kernel for: gemm_act runs them unfused.
  std::unordered_set<std::string> matmulUnsupported;
  struct ConvAlgo {
    int algo = 0;
    size_t bytes = 0;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  };
  std::unordered_map<std::string, ConvAlgo> convAlgos;
};

namespace gp::cuda {

/// GP_OK, or GP_ERROR with "`call`: <CUDA's message>".
gp_status check(cudaError_t status, const char *call);
gp_status check(cublasStatus_t status, const char *call);
gp_status check(cudnnStatus_t status, const char *call);

/// At least `bytes` of the context's workspace (grown after waiting for the
/// stream); nullptr with the error set on failure.
void *workspace(gp_cuda_ctx *ctx, size_t bytes);

/// `bytes` rounded up to the 256-byte alignment of workspace regions.
inline size_t roundUp256(size_t bytes) { return (bytes + 255) / 256 * 256; }

/// Threads per block of the elementwise kernels, and the grid for `n`
/// elements (grid-stride loops cover the rest).
constexpr int kThreads = 256;
inline unsigned blocksFor(int64_t n) {
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks < 1)
    blocks = 1;
  return static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8);
}

/// Dimensions and strides passed by value to a kernel.
struct Shape {
  int32_t rank = 0;
  int64_t dims[GP_MAX_RANK] = {};
  /// Strides (in elements) of the tensor the index is read from; 0 on
  /// broadcast dimensions.
  int64_t strides[GP_MAX_RANK] = {};
};

#ifdef __CUDACC__
/// The offset in a tensor with `s.strides` of element `i` of a row-major
/// tensor with `s.dims`.
__device__ inline int64_t offsetOf(const Shape &s, int64_t i) {
  int64_t offset = 0;
  for (int32_t d = s.rank - 1; d >= 0; --d) {
    int64_t q = i / s.dims[d];
    offset += (i - q * s.dims[d]) * s.strides[d];
    i = q;
  }
  return offset;
}

/// NaN for floating-point types; never for the others.
template <typename T> __device__ __forceinline__ bool isNan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return v != v;
  else
    return false;
}

/// out[i] = in[offset of i in `view`]: a strided view made dense.
template <typename T>
__global__ void gatherStrided(const T *in, Shape view, T *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = in[offsetOf(view, i)];
}
#endif

} // namespace gp::cuda

#endif // GPIPE_RUNTIME_CUDA_CUDA_INTERNAL_H
