//===- row_reduce.cuh - warp and block reductions the kernels share -*- CUDA -*-===//
//
// A block per row (normalization, softmax, losses): the launch geometry,
// grid-stride indices, and warp and block reductions that give every thread
// the same bits.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_CUDA_ROW_REDUCE_CUH
#define GPIPE_RUNTIME_CUDA_ROW_REDUCE_CUH

#include "cuda_internal.h"

#include <algorithm>

namespace gp::cuda {

/// The device data of an f32 tensor.
inline const float *f32Data(const gp_tensor *t) { return static_cast<const float *>(t->data); }
inline float *f32Data(gp_tensor *t) { return static_cast<float *>(t->data); }

/// Threads of a kernel that gives each row of `len` elements one block:
/// short rows would leave most of a large block idle.
inline unsigned rowThreads(int64_t len) { return len <= 128 ? 32 : len <= 1024 ? 128 : kThreads; }

/// Blocks for `rows` rows, one row each; the blocks loop over any rest.
inline unsigned rowBlocks(int64_t rows) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, 65535 * 8)));
}

/// The first index and the step of this thread in a grid-stride loop.
__device__ inline int64_t gridStart() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t gridStride() { return int64_t(blockDim.x) * gridDim.x; }

struct Add {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
/// fmaxf ignores a NaN operand, as std::max(mx, v) in the CPU kernels does
/// for the running maximum.
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// The reduction of `v` over the warp. The butterfly gives every lane the
/// same bits (each step combines the same two values, only swapped).
template <typename T, typename Op> __device__ T warpReduce(T v, Op op) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// The reduction of `v` over a one-dimensional block whose size is a
/// multiple of 32; every thread gets the result. Every thread of the block
/// must call it.
template <typename T, typename Op> __device__ T blockReduce(T v, Op op, T identity) {
  __shared__ T warpResults[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warpReduce(v, op);
  // A previous call may still be reading warpResults.
  __syncthreads();
  if (lane == 0)
    warpResults[warp] = v;
  __syncthreads();
  v = lane < int(blockDim.x / 32) ? warpResults[lane] : identity;
  return warpReduce(v, op);
}

/// A block's row of `dim` logits: its maximum (`mx`, NaN ignored as the CPU
/// does) and the sum of exp(x - mx) in double, on every thread.
__device__ inline double rowSumExp(const float *row, int64_t dim, float &mx) {
  mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    mx = fmaxf(mx, row[i]);
  mx = blockReduce(mx, Max(), -INFINITY);
  double sum = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    sum += expf(row[i] - mx);
  return blockReduce(sum, Add(), 0.0);
}

} // namespace gp::cuda

#endif // GPIPE_RUNTIME_CUDA_ROW_REDUCE_CUH
