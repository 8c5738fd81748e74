//===- reduction.cu - sum, mean, max, min, arg max/min and global pooling -===//
//
// The CUDA counterparts of cpu/reduction.cpp and the CPU global pooling.
// Every reduction is brought to the view [outer, len, inner] (transposing
// into the workspace when the reduced axes are not adjacent) and runs either
// along rows (inner == 1: a warp or a block per row) or down columns (a
// thread per output). Too few outputs for the device split the reduced
// dimension into parts whose partial results a second pass combines.
// Values accumulate in double, as on the CPU.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <algorithm>
#include <limits>
#include <type_traits>

using namespace gp;
using gp::cuda::blocksFor;
using gp::cuda::kThreads;
using gp::cuda::Shape;
using gp::cuda::gatherStrided;
using gp::cuda::isNan;

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
/// Rows up to this long get a warp each; longer ones a block.
constexpr int64_t kWarpRowMax = 512;
/// A block's part of a row is at least this long.
constexpr int64_t kMinBlockLen = 4096;
/// Rows are split until about this many blocks run.
constexpr int64_t kTargetBlocks = 1024;
/// Columns are split until about this many threads run, each summing at
/// least kMinColumnLen values.
constexpr int64_t kTargetThreads = 1 << 17;
constexpr int64_t kMinColumnLen = 32;
/// gridDim.y's limit.
constexpr int64_t kMaxGridY = 65535;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Blocks for `items` work items taken `perBlock` at a time (grid-stride
/// loops cover the rest).
unsigned gridFor(int64_t items, int64_t perBlock) {
  int64_t blocks = std::max<int64_t>(ceilDiv(items, perBlock), 1);
  return static_cast<unsigned>(std::min<int64_t>(blocks, 65535 * 8));
}


//===----------------------------------------------------------------------===//
// Sum, mean, max and min
//===----------------------------------------------------------------------===//

/// Mean is a sum divided by the count when the result is written.
enum class Combine { Sum, Max, Min };

template <Combine C> __device__ __forceinline__ double identityOf() {
  if constexpr (C == Combine::Sum)
    return 0.0;
  else if constexpr (C == Combine::Max)
    return -std::numeric_limits<double>::infinity();
  else
    return std::numeric_limits<double>::infinity();
}

/// The CPU's update: max and min skip NaN (a NaN never compares greater), so
/// the accumulator never holds one and the combination is associative.
template <Combine C>
__device__ __forceinline__ double combine(double acc, double v) {
  if constexpr (C == Combine::Sum)
    return acc + v;
  else if constexpr (C == Combine::Max)
    return v > acc ? v : acc;
  else
    return v < acc ? v : acc;
}

/// The warp's combined value, in lane 0.
template <Combine C> __device__ __forceinline__ double warpCombine(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = combine<C>(v, __shfl_down_sync(kFullMask, v, offset));
  return v;
}

/// The block's combined value (of each warp's lane 0), in thread 0.
template <Combine C>
__device__ __forceinline__ double blockCombine(double v, double *shared) {
  int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  if (lane == 0)
    shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / kWarp) ? shared[lane] : identityOf<C>();
    v = warpCombine<C>(v);
  }
  // The next row reuses `shared`.
  __syncthreads();
  return v;
}

/// Reduces parts of rows: in is [rows, len], part p of a row covers
/// [p * partLen, (p + 1) * partLen) and its result goes to out[row * parts +
/// p], divided by `divisor` (the count for a mean, 1 otherwise: x / 1 is
/// exact). PerWarp: a warp per part; otherwise a block.
template <Combine C, typename In, typename Out, bool PerWarp>
__global__ void __launch_bounds__(kThreads)
    reduceRows(const In *in, Out *out, int64_t rows, int64_t len, int64_t parts,
               int64_t partLen, double divisor) {
  int64_t items = rows * parts, first, stride;
  int tid, width;
  if constexpr (PerWarp) {
    int warps = blockDim.x / kWarp;
    first = int64_t(blockIdx.x) * warps + threadIdx.x / kWarp;
    stride = int64_t(gridDim.x) * warps;
    tid = threadIdx.x % kWarp;
    width = kWarp;
  } else {
    first = blockIdx.x;
    stride = gridDim.x;
    tid = threadIdx.x;
    width = blockDim.x;
  }
  for (int64_t w = first; w < items; w += stride) {
    int64_t row = w / parts, part = w - row * parts;
    int64_t begin = part * partLen, end = min(len, begin + partLen);
    const In *p = in + row * len;
    double acc = identityOf<C>();
    for (int64_t k = begin + tid; k < end; k += width)
      acc = combine<C>(acc, double(p[k]));
    acc = warpCombine<C>(acc);
    if constexpr (!PerWarp) {
      __shared__ double shared[kThreads / kWarp];
      acc = blockCombine<C>(acc, shared);
    }
    if (tid == 0)
      out[w] = Out(acc / divisor);
  }
}

/// Reduces parts of columns: in is [outer, len, inner]; part blockIdx.y
/// covers [part * partLen, (part + 1) * partLen) of len and writes
/// out[part][outer][inner]. A thread per output, so neighbouring threads
/// read neighbouring elements.
template <Combine C, typename In, typename Out>
__global__ void reduceColumns(const In *in, Out *out, int64_t outer,
                              int64_t len, int64_t inner, int64_t partLen,
                              double divisor) {
  int64_t outputs = outer * inner, part = blockIdx.y;
  int64_t begin = part * partLen, end = min(len, begin + partLen);
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < outputs;
       q += int64_t(gridDim.x) * blockDim.x) {
    int64_t o = q / inner, i = q - o * inner;
    const In *p = in + o * len * inner + i;
    double acc = identityOf<C>();
    for (int64_t k = begin; k < end; ++k)
      acc = combine<C>(acc, double(p[k * inner]));
    out[part * outputs + q] = Out(acc / divisor);
  }
}


/// How a reduction over the view [outer, len, inner] runs.
struct Plan {
  int64_t outer = 1, len = 0, inner = 1;
  /// Parts len is split into (a second pass combines them when > 1).
  int64_t parts = 1, partLen = 0;
  bool perWarp = false;

  bool rows() const { return inner == 1; }
  size_t partialBytes() const {
    return parts > 1 ? size_t(outer * inner * parts) * sizeof(double) : 0;
  }
};

Plan planFor(int64_t outer, int64_t len, int64_t inner) {
  Plan p;
  p.outer = outer;
  p.len = len;
  p.inner = inner;
  int64_t want = 1;
  if (p.rows()) {
    p.perWarp = len <= kWarpRowMax;
    if (!p.perWarp)
      want =
          std::min(ceilDiv(len, kMinBlockLen), ceilDiv(kTargetBlocks, outer));
  } else if (outer * inner < kTargetThreads) {
    want = std::min({ceilDiv(len, kMinColumnLen),
                     ceilDiv(kTargetThreads, outer * inner), kMaxGridY});
  }
  want = std::max<int64_t>(want, 1);
  p.partLen = ceilDiv(len, want);
  p.parts = p.partLen ? ceilDiv(len, p.partLen) : 1;
  return p;
}

template <Combine C, typename T>
gp_status runPlan(gp_cuda_ctx *ctx, const Plan &p, const T *in, T *out,
                  double *partial, double divisor, const char *what) {
  cudaStream_t stream = ctx->stream;
  if (p.rows()) {
    if (p.perWarp)
      reduceRows<C, T, T, true>
          <<<gridFor(p.outer, kThreads / kWarp), kThreads, 0, stream>>>(
              in, out, p.outer, p.len, 1, p.len, divisor);
    else if (p.parts == 1)
      reduceRows<C, T, T, false><<<gridFor(p.outer, 1), kThreads, 0, stream>>>(
          in, out, p.outer, p.len, 1, p.len, divisor);
    else {
      reduceRows<C, T, double, false>
          <<<gridFor(p.outer * p.parts, 1), kThreads, 0, stream>>>(
              in, partial, p.outer, p.len, p.parts, p.partLen, 1.0);
      if (gp_cuda_check_launch(what) != GP_OK)
        return GP_ERROR;
      reduceRows<C, double, T, true>
          <<<gridFor(p.outer, kThreads / kWarp), kThreads, 0, stream>>>(
              partial, out, p.outer, p.parts, 1, p.parts, divisor);
    }
    return gp_cuda_check_launch(what);
  }
  int64_t outputs = p.outer * p.inner;
  if (p.parts == 1) {
    reduceColumns<C, T, T><<<blocksFor(outputs), kThreads, 0, stream>>>(
        in, out, p.outer, p.len, p.inner, p.len, divisor);
    return gp_cuda_check_launch(what);
  }
  dim3 grid(blocksFor(outputs), unsigned(p.parts));
  reduceColumns<C, T, double><<<grid, kThreads, 0, stream>>>(
      in, partial, p.outer, p.len, p.inner, p.partLen, 1.0);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  // The partial results are [parts, outputs]: columns again.
  reduceColumns<C, double, T><<<blocksFor(outputs), kThreads, 0, stream>>>(
      partial, out, 1, p.parts, outputs, p.parts, divisor);
  return gp_cuda_check_launch(what);
}

template <typename T>
gp_status runCombine(gp_cuda_ctx *ctx, Combine c, const Plan &p, const T *in,
                     T *out, double *partial, double divisor,
                     const char *what) {
  switch (c) {
  case Combine::Sum:
    return runPlan<Combine::Sum, T>(ctx, p, in, out, partial, divisor, what);
  case Combine::Max:
    return runPlan<Combine::Max, T>(ctx, p, in, out, partial, divisor, what);
  default:
    return runPlan<Combine::Min, T>(ctx, p, in, out, partial, divisor, what);
  }
}

/// Reduces `in` (nothing transposed) over the plan's view, with the partial
/// results in the workspace.
template <typename T>
gp_status reducePlanned(gp_cuda_ctx *ctx, Combine c, const Plan &p, const T *in,
                        T *out, double divisor, const char *what) {
  double *partial = nullptr;
  if (size_t bytes = p.partialBytes()) {
    partial = static_cast<double *>(gp::cuda::workspace(ctx, bytes));
    if (!partial)
      return GP_ERROR;
  }
  return runCombine<T>(ctx, c, p, in, out, partial, divisor, what);
}

/// gp_cuda_reduce for one element type: `reduced` flags the reduced
/// dimensions of x, `count` is how many values each output combines.
template <typename T>
gp_status reduceTyped(gp_cuda_ctx *ctx, Combine c, bool mean,
                      const gp_tensor *x, const std::vector<bool> &reduced,
                      int64_t count, gp_tensor *out) {
  const char *what = "gp_cuda_reduce";
  double divisor = mean ? double(count) : 1.0;
  T *o = static_cast<T *>(out->data);
  if (count == 0) // Nothing to read: every output is the identity.
    return reducePlanned<T>(ctx, c, planFor(1, 0, gp_numel(out)),
                            static_cast<const T *>(x->data), o, divisor, what);
  // Groups of neighbouring dimensions that are all reduced or all kept;
  // size-1 dimensions belong to neither.
  std::vector<int64_t> dims;
  std::vector<bool> groupReduced;
  for (int32_t d = 0; d < x->rank; ++d) {
    if (x->dims[d] == 1)
      continue;
    if (!dims.empty() && groupReduced.back() == reduced[d]) {
      dims.back() *= x->dims[d];
      continue;
    }
    dims.push_back(x->dims[d]);
    groupReduced.push_back(reduced[d]);
  }
  int64_t groups = int64_t(dims.size());
  int64_t reducedGroups =
      std::count(groupReduced.begin(), groupReduced.end(), true);
  bool trailingKept = groups > 0 && !groupReduced.back();
  int64_t inner = trailingKept ? dims.back() : 1;
  // outer: the kept groups before the reduced ones (all but a trailing kept
  // one once the reduced groups are moved together).
  int64_t outer = 1;
  for (int64_t g = 0; g < groups - (trailingKept ? 1 : 0); ++g)
    if (!groupReduced[g])
      outer *= dims[g];
  if (reducedGroups == 0) {
    outer = 1;
    inner = gp_numel(x);
  }
  Plan p = planFor(outer, count, inner);
  const T *in = static_cast<const T *>(x->data);
  if (reducedGroups <= 1)
    return reducePlanned<T>(ctx, c, p, in, o, divisor, what);

  // Reduced groups apart: gather them next to each other, keeping the
  // innermost group innermost so the gather reads along rows.
  std::vector<int64_t> strides = stridesOf(dims), order;
  for (int64_t g = 0; g < groups - (trailingKept ? 1 : 0); ++g)
    if (!groupReduced[g])
      order.push_back(g);
  for (int64_t g = 0; g < groups; ++g)
    if (groupReduced[g])
      order.push_back(g);
  if (trailingKept)
    order.push_back(groups - 1);
  Shape view;
  view.rank = int32_t(groups);
  for (int64_t k = 0; k < groups; ++k) {
    view.dims[k] = dims[order[k]];
    view.strides[k] = strides[order[k]];
  }
  int64_t n = gp_numel(x);
  size_t gatherBytes = (size_t(n) * sizeof(T) + 255) / 256 * 256;
  auto *ws = static_cast<unsigned char *>(
      gp::cuda::workspace(ctx, gatherBytes + p.partialBytes()));
  if (!ws)
    return GP_ERROR;
  T *gathered = reinterpret_cast<T *>(ws);
  gatherStrided<T>
      <<<blocksFor(n), kThreads, 0, ctx->stream>>>(in, view, gathered, n);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  return runCombine<T>(ctx, c, p, gathered, o,
                       reinterpret_cast<double *>(ws + gatherBytes), divisor,
                       what);
}

//===----------------------------------------------------------------------===//
// Arg max and arg min
//===----------------------------------------------------------------------===//

/// A value and its index along the axis; index -1: none yet.
template <typename T> struct Candidate {
  T value;
  int64_t index;
};

/// The better of two candidates; on equal values the first index, or the
/// last with selectLast. Candidates are never NaN.
template <typename T>
__device__ __forceinline__ Candidate<T> pick(Candidate<T> a, Candidate<T> b,
                                             bool isMax, bool selectLast) {
  if (b.index < 0)
    return a;
  if (a.index < 0)
    return b;
  if (b.value == a.value)
    return (selectLast ? b.index > a.index : b.index < a.index) ? b : a;
  return (isMax ? b.value > a.value : b.value < a.value) ? b : a;
}

template <typename T>
__device__ __forceinline__ Candidate<T> warpPick(Candidate<T> c, bool isMax,
                                                 bool selectLast) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    Candidate<T> other{__shfl_down_sync(kFullMask, c.value, offset),
                       __shfl_down_sync(kFullMask, c.index, offset)};
    c = pick(c, other, isMax, selectLast);
  }
  return c;
}

/// Arg max/min along rows of [rows, dim]. The CPU scans from index 0 and
/// takes a value only when it compares better than the best so far: a NaN
/// at index 0 therefore wins and a NaN elsewhere never does, which makes
/// the scan order-independent once the first element is looked at.
template <typename T, bool PerWarp>
__global__ void __launch_bounds__(kThreads)
    argRows(const T *in, int64_t *out, int64_t rows, int64_t dim, bool isMax,
            bool selectLast) {
  int64_t first, stride;
  int tid, width;
  if constexpr (PerWarp) {
    int warps = blockDim.x / kWarp;
    first = int64_t(blockIdx.x) * warps + threadIdx.x / kWarp;
    stride = int64_t(gridDim.x) * warps;
    tid = threadIdx.x % kWarp;
    width = kWarp;
  } else {
    first = blockIdx.x;
    stride = gridDim.x;
    tid = threadIdx.x;
    width = blockDim.x;
  }
  for (int64_t w = first; w < rows; w += stride) {
    const T *p = in + w * dim;
    bool nanFirst = isNan(p[0]);
    Candidate<T> best{T(0), -1};
    for (int64_t k = tid; k < dim && !nanFirst; k += width) {
      T v = p[k];
      if (!isNan(v))
        best = pick(best, Candidate<T>{v, k}, isMax, selectLast);
    }
    best = warpPick(best, isMax, selectLast);
    if constexpr (!PerWarp) {
      __shared__ T values[kThreads / kWarp];
      __shared__ int64_t indices[kThreads / kWarp];
      int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
      if (lane == 0) {
        values[warp] = best.value;
        indices[warp] = best.index;
      }
      __syncthreads();
      if (warp == 0) {
        bool has = lane < int(blockDim.x / kWarp);
        best =
            Candidate<T>{has ? values[lane] : T(0), has ? indices[lane] : -1};
        best = warpPick(best, isMax, selectLast);
      }
      // The next row reuses the shared arrays.
      __syncthreads();
    }
    if (tid == 0)
      out[w] = nanFirst ? 0 : best.index;
  }
}

/// Arg max/min down the columns of [outer, dim, inner]: a thread per output
/// runs the CPU's scan.
template <typename T>
__global__ void argColumns(const T *in, int64_t *out, int64_t outer,
                           int64_t dim, int64_t inner, bool isMax,
                           bool selectLast) {
  int64_t outputs = outer * inner;
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < outputs;
       q += int64_t(gridDim.x) * blockDim.x) {
    int64_t o = q / inner, i = q - o * inner;
    const T *p = in + o * dim * inner + i;
    int64_t best = 0;
    T cur = p[0];
    for (int64_t k = 1; k < dim; ++k) {
      T v = p[k * inner];
      bool better = isMax ? (v > cur || (selectLast && v == cur))
                          : (v < cur || (selectLast && v == cur));
      if (better) {
        best = k;
        cur = v;
      }
    }
    out[q] = best;
  }
}

template <typename T>
gp_status argReduceTyped(gp_cuda_ctx *ctx, const gp_tensor *x, int64_t outer,
                         int64_t dim, int64_t inner, bool isMax,
                         bool selectLast, gp_tensor *out) {
  const T *in = static_cast<const T *>(x->data);
  auto *o = static_cast<int64_t *>(out->data);
  cudaStream_t stream = ctx->stream;
  if (inner > 1)
    argColumns<T><<<blocksFor(outer * inner), kThreads, 0, stream>>>(
        in, o, outer, dim, inner, isMax, selectLast);
  else if (dim <= kWarpRowMax)
    argRows<T, true><<<gridFor(outer, kThreads / kWarp), kThreads, 0, stream>>>(
        in, o, outer, dim, isMax, selectLast);
  else
    argRows<T, false><<<gridFor(outer, 1), kThreads, 0, stream>>>(
        in, o, outer, dim, isMax, selectLast);
  return gp_cuda_check_launch("gp_cuda_arg_reduce");
}

} // namespace

extern "C" gp_status gp_cuda_reduce(gp_cuda_ctx *ctx, gp_reduce_op op,
                                    const gp_tensor *x, const int64_t *axes,
                                    int32_t naxes, gp_tensor *out) {
  if (!ctx || !x || !out || x->dtype != out->dtype)
    return fail("reduce: operands missing or of different element types");
  int32_t rank = x->rank;
  std::vector<bool> reduced(rank, naxes == 0);
  for (int32_t i = 0; i < naxes; ++i) {
    if (axes[i] < 0 || axes[i] >= rank)
      return fail("reduce: axis " + std::to_string(axes[i]) +
                  " is out of range");
    reduced[axes[i]] = true;
  }
  int64_t outN = 1, count = 1;
  for (int32_t d = 0; d < rank; ++d)
    (reduced[d] ? count : outN) *= x->dims[d];
  if (gp_numel(out) != outN)
    return fail("reduce: result " + describe(out) + " has the wrong size");
  if (count == 0 && (op == GP_REDUCE_MAX || op == GP_REDUCE_MIN))
    return fail("reduce: max/min over an empty set");
  if (x->dtype != GP_F32 && x->dtype != GP_F64)
    return fail("reduce: the CUDA kernel needs f32 or f64, got " + describe(x));
  if (outN == 0)
    return GP_OK;
  Combine c = op == GP_REDUCE_MAX   ? Combine::Max
              : op == GP_REDUCE_MIN ? Combine::Min
                                    : Combine::Sum;
  bool mean = op == GP_REDUCE_MEAN;
  if (x->dtype == GP_F32)
    return reduceTyped<float>(ctx, c, mean, x, reduced, count, out);
  return reduceTyped<double>(ctx, c, mean, x, reduced, count, out);
}

extern "C" gp_status gp_cuda_arg_reduce(gp_cuda_ctx *ctx, const gp_tensor *x,
                                        int64_t axis, bool is_max,
                                        bool select_last, gp_tensor *out) {
  if (!ctx || !x || !out || out->dtype != GP_I64 || axis < 0 || axis >= x->rank)
    return fail("arg_reduce: bad operands or axis");
  int64_t outer = 1, inner = 1, dim = x->dims[axis];
  for (int32_t d = 0; d < x->rank; ++d)
    if (d < axis)
      outer *= x->dims[d];
    else if (d > axis)
      inner *= x->dims[d];
  if (dim == 0 || gp_numel(out) != outer * inner)
    return fail("arg_reduce: result " + describe(out) + " does not match " +
                describe(x));
  if (outer * inner == 0)
    return GP_OK;
  switch (x->dtype) {
  case GP_F32:
    return argReduceTyped<float>(ctx, x, outer, dim, inner, is_max, select_last,
                                 out);
  case GP_F64:
    return argReduceTyped<double>(ctx, x, outer, dim, inner, is_max,
                                  select_last, out);
  case GP_I64:
    return argReduceTyped<int64_t>(ctx, x, outer, dim, inner, is_max,
                                   select_last, out);
  case GP_I32:
    return argReduceTyped<int32_t>(ctx, x, outer, dim, inner, is_max,
                                   select_last, out);
  default:
    return fail("arg_reduce: the CUDA kernel does not support " + describe(x));
  }
}

extern "C" gp_status gp_cuda_global_pool(gp_cuda_ctx *ctx, const gp_tensor *x,
                                         bool is_max, gp_tensor *out) {
  if (!ctx || !x || !out)
    return fail("global_pool: missing operand");
  if (x->rank != 4 || out->rank != 4)
    return fail("global_pool: expects NCHW tensors, got " + describe(x) +
                " -> " + describe(out));
  if (x->dtype != out->dtype)
    return fail("global_pool: element types differ");
  if (gp_status s = expectDims(out, "global_pool: result",
                               {x->dims[0], x->dims[1], 1, 1}))
    return s;
  if (x->dtype != GP_F32 && x->dtype != GP_F64)
    return fail(std::string("unsupported element type ") +
                gp_dtype_name(x->dtype));
  int64_t planes = x->dims[0] * x->dims[1], size = x->dims[2] * x->dims[3];
  if (planes == 0)
    return GP_OK;
  Combine c = is_max ? Combine::Max : Combine::Sum;
  double divisor = is_max ? 1.0 : double(size);
  Plan p = planFor(planes, size, 1);
  if (x->dtype == GP_F32)
    return reducePlanned<float>(ctx, c, p, static_cast<const float *>(x->data),
                                static_cast<float *>(out->data), divisor,
                                "gp_cuda_global_pool");
  return reducePlanned<double>(ctx, c, p, static_cast<const double *>(x->data),
                               static_cast<double *>(out->data), divisor,
                               "gp_cuda_global_pool");
}
