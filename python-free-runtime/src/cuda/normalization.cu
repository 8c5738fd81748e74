//===- normalization.cu - batch and layer norm, softmax on CUDA -----------===//
//
// The CUDA counterparts of cpu/normalization.cpp and normalization_grad.cpp,
// f32 only. Statistics accumulate in f64 in two passes (the mean, then the
// squared deviations from it) as the CPU kernels do. Every reduction splits
// its input into pieces fixed by the shapes alone and adds their partial
// sums in a fixed order: no floating-point atomics, so results do not change
// from run to run.
//
//===----------------------------------------------------------------------===//

#include "row_reduce.cuh"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

using namespace gp;
using gp::cuda::blocksFor;
using gp::cuda::kThreads;
using namespace gp::cuda;

namespace {


int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }







//===--- Shape checks -----------------------------------------------------===//

/// Fails unless `t` is an f32 tensor with `dims`.
gp_status expectF32(const gp_tensor *t, const std::string &what,
                    const std::vector<int64_t> &dims) {
  if (gp_status s = expect(t, what.c_str(), GP_F32))
    return s;
  return expectDims(t, what.c_str(), dims);
}

/// Fails unless `t` is an f32 tensor of `count` elements.
gp_status expectF32Numel(const gp_tensor *t, const std::string &what,
                         int64_t count) {
  if (gp_status s = expect(t, what.c_str(), GP_F32))
    return s;
  if (gp_numel(t) != count)
    return fail(what + " is " + describe(t) + ", expected " +
                std::to_string(count) + " elements");
  return GP_OK;
}

/// The checks of the batch norms: x is f32 of rank >= 2 and every named
/// per-channel operand is f32[C].
gp_status checkChannels(
    const char *op, const gp_tensor *x,
    std::initializer_list<std::pair<const gp_tensor *, const char *>> params) {
  if (!x || x->rank < 2)
    return fail(std::string(op) + ": input must have rank >= 2");
  if (gp_status s = expect(x, (std::string(op) + ": x").c_str(), GP_F32))
    return s;
  for (const auto &[p, name] : params)
    if (gp_status s = expectF32(p, std::string(op) + ": " + name, {x->dims[1]}))
      return s;
  return GP_OK;
}

/// The product of x's dimensions before and from `axis`.
std::pair<int64_t, int64_t> splitRows(const gp_tensor *x, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < x->rank; ++d)
    (d < axis ? outer : inner) *= x->dims[d];
  return {outer, inner};
}

//===--- Batch norm -------------------------------------------------------===//

__global__ void batchNormInference(const float *x, const float *scale,
                                   const float *bias, const float *mean,
                                   const float *var, float epsilon, int64_t c,
                                   int64_t sp, int64_t total, float *out) {
  for (int64_t i = gridStart(); i < total; i += gridStride()) {
    int64_t ch = (i / sp) % c;
    float k = scale[ch] / sqrtf(var[ch] + epsilon);
    float off = bias[ch] - mean[ch] * k;
    out[i] = x[i] * k + off;
  }
}

/// How a per-channel reduction splits each channel's `count` elements (over
/// N and the spatial dimensions) between blocks: enough blocks in all to
/// fill the device, few enough partial sums to add in one block.
struct ChannelSplit {
  int64_t chunks = 1, chunkLen = 1;
};
ChannelSplit splitChannels(int64_t c, int64_t count) {
  ChannelSplit split;
  split.chunks =
      std::max<int64_t>(1, std::min({ceilDiv(count, 16 * kThreads),
                                     ceilDiv(8192, c), int64_t(1024)}));
  split.chunkLen = ceilDiv(count, split.chunks);
  return split;
}

/// The terms a per-channel reduction adds up, as two sums (a, b), for
/// element `idx` of channel `ch`.
struct SumX {
  const float *x;
  __device__ void operator()(int64_t, int64_t idx, double &a, double &) const {
    a += x[idx];
  }
};
struct SquaredDeviation {
  const float *x;
  const double *mean;
  __device__ void operator()(int64_t ch, int64_t idx, double &a,
                             double &) const {
    double d = x[idx] - mean[ch];
    a += d * d;
  }
};
/// dy, and dy times the normalized x.
struct GradSums {
  const float *x, *dy;
  const double *mean, *inv;
  __device__ void operator()(int64_t ch, int64_t idx, double &a,
                             double &b) const {
    double d = dy[idx];
    a += d;
    b += d * ((x[idx] - mean[ch]) * inv[ch]);
  }
};

/// Block (ch, chunk) adds the terms of one chunk of channel ch's elements
/// into partials[(ch * chunks + chunk) * 2 + {0, 1}].
template <typename Term>
__global__ void channelPartials(Term term, int64_t c, int64_t sp, int64_t count,
                                int64_t chunkLen, double *partials) {
  int64_t ch = blockIdx.x, begin = int64_t(blockIdx.y) * chunkLen;
  int64_t end = begin + chunkLen < count ? begin + chunkLen : count;
  double a = 0, b = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    int64_t batch = j / sp;
    term(ch, (batch * c + ch) * sp + (j - batch * sp), a, b);
  }
  a = blockReduce(a, Add(), 0.0);
  b = blockReduce(b, Add(), 0.0);
  if (threadIdx.x == 0) {
    double *p = partials + (ch * gridDim.y + blockIdx.y) * 2;
    p[0] = a;
    p[1] = b;
  }
}

/// What a per-channel reduction does with channel ch's sums (a, b).
struct StoreMean {
  double count;
  double *mean;
  __device__ void operator()(int64_t ch, double sum, double) const {
    mean[ch] = sum / count;
  }
};
struct StoreInvStd {
  double count;
  float epsilon;
  double *inv;
  __device__ void operator()(int64_t ch, double sq, double) const {
    inv[ch] = 1.0 / sqrt(sq / count + epsilon);
  }
};
/// The affine map that normalizes the channel and the running statistics,
/// with the CPU kernel's mix of f32 and f64 arithmetic.
struct TrainUpdate {
  const float *scale, *bias, *runningMean, *runningVar;
  const double *mean;
  double count;
  float epsilon, momentum;
  bool unbiasedVarUpdate;
  float *k, *off, *newMean, *newVar;
  __device__ void operator()(int64_t ch, double sq, double) const {
    double var = sq / count, m = mean[ch];
    float kc = float(scale[ch] / sqrt(var + epsilon));
    k[ch] = kc;
    off[ch] = float(bias[ch] - m * kc);
    newMean[ch] = float(momentum * runningMean[ch] + (1 - momentum) * m);
    double update =
        unbiasedVarUpdate && count > 1 ? var * count / (count - 1) : var;
    newVar[ch] = float(momentum * runningVar[ch] + (1 - momentum) * update);
  }
};
/// Keeps sum(dy) and sum(dy * xhat) for dx and writes dbias and dscale.
struct StoreGradSums {
  double *sums;
  float *dscale, *dbias;
  __device__ void operator()(int64_t ch, double sumDy, double sumDyXhat) const {
    sums[ch * 2] = sumDy;
    sums[ch * 2 + 1] = sumDyXhat;
    dscale[ch] = float(sumDyXhat);
    dbias[ch] = float(sumDy);
  }
};

/// Block ch adds channel ch's partial sums and hands them to `finish`.
template <typename Finish>
__global__ void finishChannels(const double *partials, int64_t chunks,
                               Finish finish) {
  int64_t ch = blockIdx.x;
  const double *p = partials + ch * chunks * 2;
  double a = 0, b = 0;
  for (int64_t k = threadIdx.x; k < chunks; k += blockDim.x) {
    a += p[k * 2];
    b += p[k * 2 + 1];
  }
  a = blockReduce(a, Add(), 0.0);
  b = blockReduce(b, Add(), 0.0);
  if (threadIdx.x == 0)
    finish(ch, a, b);
}

/// Reduces `term` over each of the c channels of an [N, C, sp] tensor with
/// count = N * sp > 0 elements a channel, then calls `finish` per channel.
template <typename Term, typename Finish>
gp_status reduceChannels(gp_cuda_ctx *ctx, const char *what, Term term,
                         Finish finish, int64_t c, int64_t sp, int64_t count,
                         const ChannelSplit &split, double *partials) {
  dim3 grid(static_cast<unsigned>(c), static_cast<unsigned>(split.chunks));
  channelPartials<<<grid, kThreads, 0, ctx->stream>>>(term, c, sp, count,
                                                      split.chunkLen, partials);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  finishChannels<<<static_cast<unsigned>(c), kThreads, 0, ctx->stream>>>(
      partials, split.chunks, finish);
  return gp_cuda_check_launch(what);
}

__global__ void applyChannelAffine(const float *x, const float *k,
                                   const float *off, int64_t c, int64_t sp,
                                   int64_t total, float *out) {
  for (int64_t i = gridStart(); i < total; i += gridStride()) {
    int64_t ch = (i / sp) % c;
    out[i] = x[i] * k[ch] + off[ch];
  }
}

/// dx of the batch norm with batch statistics, in f64 as on the CPU.
__global__ void batchNormGradInput(const float *dy, const float *x,
                                   const float *scale, const double *mean,
                                   const double *inv, const double *sums,
                                   double count, int64_t c, int64_t sp,
                                   int64_t total, float *dx) {
  for (int64_t i = gridStart(); i < total; i += gridStride()) {
    int64_t ch = (i / sp) % c;
    double xhat = (x[i] - mean[ch]) * inv[ch];
    double k = scale[ch] * inv[ch] / count;
    dx[i] = float(k * (count * dy[i] - sums[ch * 2] - xhat * sums[ch * 2 + 1]));
  }
}

//===--- Layer norm -------------------------------------------------------===//

__global__ void layerNormRows(const float *x, const float *scale,
                              const float *bias, float epsilon, int64_t rows,
                              int64_t inner, float *out) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *row = x + r * inner;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x)
      sum += row[i];
    double mean = blockReduce(sum, Add(), 0.0) / double(inner);
    double sq = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      double d = row[i] - mean;
      sq += d * d;
    }
    sq = blockReduce(sq, Add(), 0.0);
    float inv = float(1.0 / sqrt(sq / double(inner) + epsilon));
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x)
      out[r * inner + i] =
          float((row[i] - mean) * inv) * scale[i] + (bias ? bias[i] : 0.0f);
  }
}

/// The mean and 1 / sqrt(var + epsilon) of every row, for the gradients.
__global__ void layerNormRowStats(const float *x, float epsilon, int64_t rows,
                                  int64_t inner, double *rowMean,
                                  double *rowInv) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *row = x + r * inner;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x)
      sum += row[i];
    double mean = blockReduce(sum, Add(), 0.0) / double(inner);
    double sq = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      double d = row[i] - mean;
      sq += d * d;
    }
    double var = blockReduce(sq, Add(), 0.0) / double(inner);
    if (threadIdx.x == 0) {
      rowMean[r] = mean;
      rowInv[r] = 1.0 / sqrt(var + epsilon);
    }
  }
}

__global__ void layerNormGradRows(const float *dy, const float *x,
                                  const float *scale, const double *rowMean,
                                  const double *rowInv, int64_t rows,
                                  int64_t inner, float *dx) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *row = x + r * inner, *drow = dy + r * inner;
    double mean = rowMean[r], inv = rowInv[r], sumG = 0, sumGXhat = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      // The f32 product, as the CPU kernel forms it.
      double g = drow[i] * scale[i];
      sumG += g;
      sumGXhat += g * ((row[i] - mean) * inv);
    }
    sumG = blockReduce(sumG, Add(), 0.0);
    sumGXhat = blockReduce(sumGXhat, Add(), 0.0);
    double n = double(inner);
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      double g = drow[i] * scale[i], xhat = (row[i] - mean) * inv;
      dx[r * inner + i] = float(inv / n * (n * g - sumG - xhat * sumGXhat));
    }
  }
}

/// The column sums of dscale and dbias: blocks of kColumns columns by
/// kRowLanes lanes of rows, each over one chunk of the rows.
constexpr int kColumns = 32, kRowLanes = 8;

/// Block (tile, chunk) adds dy * xhat and dy over the chunk's rows for the
/// tile's columns into partials[(chunk * inner + col) * 2 + {0, 1}].
__global__ void layerNormColumnPartials(const float *dy, const float *x,
                                        const double *rowMean,
                                        const double *rowInv, int64_t rows,
                                        int64_t inner, int64_t chunkRows,
                                        double *partials) {
  __shared__ double sums[2][kRowLanes][kColumns];
  int64_t col = int64_t(blockIdx.x) * kColumns + threadIdx.x;
  int64_t begin = int64_t(blockIdx.y) * chunkRows;
  int64_t end = begin + chunkRows < rows ? begin + chunkRows : rows;
  double ds = 0, db = 0;
  if (col < inner)
    for (int64_t r = begin + threadIdx.y; r < end; r += kRowLanes) {
      double d = dy[r * inner + col];
      ds += d * ((x[r * inner + col] - rowMean[r]) * rowInv[r]);
      db += d;
    }
  sums[0][threadIdx.y][threadIdx.x] = ds;
  sums[1][threadIdx.y][threadIdx.x] = db;
  __syncthreads();
  if (threadIdx.y != 0 || col >= inner)
    return;
  for (int lane = 1; lane < kRowLanes; ++lane) {
    ds += sums[0][lane][threadIdx.x];
    db += sums[1][lane][threadIdx.x];
  }
  double *p = partials + (int64_t(blockIdx.y) * inner + col) * 2;
  p[0] = ds;
  p[1] = db;
}

__global__ void layerNormColumnFinish(const double *partials, int64_t chunks,
                                      int64_t inner, float *dscale,
                                      float *dbias) {
  for (int64_t col = gridStart(); col < inner; col += gridStride()) {
    double ds = 0, db = 0;
    for (int64_t k = 0; k < chunks; ++k) {
      ds += partials[(k * inner + col) * 2];
      db += partials[(k * inner + col) * 2 + 1];
    }
    dscale[col] = float(ds);
    dbias[col] = float(db);
  }
}

//===--- Softmax ----------------------------------------------------------===//

/// Softmax over contiguous rows (the axis is the last non-unit one): one
/// block per row.
__global__ void softmaxRows(const float *x, int64_t rows, int64_t dim,
                            bool logOutput, float *out) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *row = x + r * dim;
    float mx = 0;
    float logSum = float(log(rowSumExp(row, dim, mx)));
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      float v = row[i] - mx - logSum;
      out[r * dim + i] = logOutput ? v : expf(v);
    }
  }
}

/// Softmax of [outer, dim, inner] over dim with inner > 1: one thread per
/// (outer, inner) pair, neighbouring threads reading neighbouring elements.
__global__ void softmaxStrided(const float *x, int64_t dim, int64_t inner,
                               int64_t total, bool logOutput, float *out) {
  for (int64_t p = gridStart(); p < total; p += gridStride()) {
    int64_t base = (p / inner) * dim * inner + p % inner;
    float mx = -INFINITY;
    for (int64_t i = 0; i < dim; ++i)
      mx = fmaxf(mx, x[base + i * inner]);
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i)
      sum += expf(x[base + i * inner] - mx);
    float logSum = float(log(sum));
    for (int64_t i = 0; i < dim; ++i) {
      float v = x[base + i * inner] - mx - logSum;
      out[base + i * inner] = logOutput ? v : expf(v);
    }
  }
}

} // namespace

//===--- Entry points -----------------------------------------------------===//

extern "C" gp_status
gp_cuda_batch_norm(gp_cuda_ctx *ctx, const gp_tensor *x, const gp_tensor *scale,
                   const gp_tensor *bias, const gp_tensor *mean,
                   const gp_tensor *var, float epsilon, gp_tensor *out) {
  if (gp_status s = checkChannels(
          "batch_norm", x,
          {{scale, "scale"}, {bias, "bias"}, {mean, "mean"}, {var, "var"}}))
    return s;
  if (gp_status s = expectF32(out, "batch_norm: out", dimsOf(x)))
    return s;
  int64_t total = gp_numel(x);
  if (total == 0)
    return GP_OK;
  batchNormInference<<<blocksFor(total), kThreads, 0, ctx->stream>>>(
      f32Data(x), f32Data(scale), f32Data(bias), f32Data(mean), f32Data(var),
      epsilon, x->dims[1], spatialSize(x), total, f32Data(out));
  return gp_cuda_check_launch("gp_cuda_batch_norm");
}

extern "C" gp_status
gp_cuda_batch_norm_train(gp_cuda_ctx *ctx, const gp_tensor *x,
                         const gp_tensor *scale, const gp_tensor *bias,
                         const gp_tensor *runningMean,
                         const gp_tensor *runningVar, float epsilon,
                         float momentum, bool unbiasedVarUpdate, gp_tensor *out,
                         gp_tensor *newMean, gp_tensor *newVar) {
  const char *what = "gp_cuda_batch_norm_train";
  if (gp_status s = checkChannels("batch_norm_train", x,
                                  {{scale, "scale"},
                                   {bias, "bias"},
                                   {runningMean, "running_mean"},
                                   {runningVar, "running_var"},
                                   {newMean, "new_mean"},
                                   {newVar, "new_var"}}))
    return s;
  if (gp_status s = expectF32(out, "batch_norm_train: out", dimsOf(x)))
    return s;
  int64_t c = x->dims[1], sp = spatialSize(x), count = x->dims[0] * sp;
  if (count == 0)
    return fail("batch_norm_train: empty batch");
  if (c == 0)
    return GP_OK;
  ChannelSplit split = splitChannels(c, count);
  size_t partialDoubles = size_t(c * split.chunks * 2);
  auto *ws = static_cast<unsigned char *>(gp::cuda::workspace(
      ctx, (partialDoubles + c) * sizeof(double) + 2 * c * sizeof(float)));
  if (!ws)
    return GP_ERROR;
  auto *partials = reinterpret_cast<double *>(ws);
  double *mean = partials + partialDoubles;
  auto *k = reinterpret_cast<float *>(mean + c);
  float *off = k + c;
  const float *in = f32Data(x);
  if (reduceChannels(ctx, what, SumX{in}, StoreMean{double(count), mean}, c, sp,
                     count, split, partials) != GP_OK)
    return GP_ERROR;
  TrainUpdate update{f32Data(scale),
                     f32Data(bias),
                     f32Data(runningMean),
                     f32Data(runningVar),
                     mean,
                     double(count),
                     epsilon,
                     momentum,
                     unbiasedVarUpdate,
                     k,
                     off,
                     f32Data(newMean),
                     f32Data(newVar)};
  if (reduceChannels(ctx, what, SquaredDeviation{in, mean}, update, c, sp,
                     count, split, partials) != GP_OK)
    return GP_ERROR;
  int64_t total = gp_numel(x);
  applyChannelAffine<<<blocksFor(total), kThreads, 0, ctx->stream>>>(
      in, k, off, c, sp, total, f32Data(out));
  return gp_cuda_check_launch(what);
}

extern "C" gp_status
gp_cuda_batch_norm_train_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                              const gp_tensor *x, const gp_tensor *scale,
                              float epsilon, gp_tensor *dx, gp_tensor *dscale,
                              gp_tensor *dbias) {
  const char *what = "gp_cuda_batch_norm_train_grad";
  if (gp_status s = checkChannels("batch_norm_train_grad", x, {}))
    return s;
  int64_t c = x->dims[1], sp = spatialSize(x), count = x->dims[0] * sp;
  if (gp_status s = expectF32(dy, "batch_norm_train_grad: dy", dimsOf(x)))
    return s;
  if (gp_status s = expectF32(dx, "batch_norm_train_grad: dx", dimsOf(x)))
    return s;
  if (gp_status s = expectF32Numel(scale, "batch_norm_train_grad: scale", c))
    return s;
  if (gp_status s = expectF32Numel(dscale, "batch_norm_train_grad: dscale", c))
    return s;
  if (gp_status s = expectF32Numel(dbias, "batch_norm_train_grad: dbias", c))
    return s;
  if (c == 0)
    return GP_OK;
  if (count == 0) {
    // No elements: the sums behind dscale and dbias are empty.
    size_t bytes = size_t(c) * sizeof(float);
    if (gp::cuda::check(cudaMemsetAsync(dscale->data, 0, bytes, ctx->stream),
                        "cudaMemsetAsync") != GP_OK)
      return GP_ERROR;
    return gp::cuda::check(cudaMemsetAsync(dbias->data, 0, bytes, ctx->stream),
                           "cudaMemsetAsync");
  }
  ChannelSplit split = splitChannels(c, count);
  size_t partialDoubles = size_t(c * split.chunks * 2);
  auto *partials = static_cast<double *>(
      gp::cuda::workspace(ctx, (partialDoubles + 4 * c) * sizeof(double)));
  if (!partials)
    return GP_ERROR;
  double *mean = partials + partialDoubles, *inv = mean + c, *sums = inv + c;
  const float *in = f32Data(x);
  const float *grad = f32Data(dy);
  if (reduceChannels(ctx, what, SumX{in}, StoreMean{double(count), mean}, c, sp,
                     count, split, partials) != GP_OK ||
      reduceChannels(ctx, what, SquaredDeviation{in, mean},
                     StoreInvStd{double(count), epsilon, inv}, c, sp, count,
                     split, partials) != GP_OK ||
      reduceChannels(ctx, what, GradSums{in, grad, mean, inv},
                     StoreGradSums{sums, f32Data(dscale), f32Data(dbias)}, c,
                     sp, count, split, partials) != GP_OK)
    return GP_ERROR;
  int64_t total = gp_numel(x);
  batchNormGradInput<<<blocksFor(total), kThreads, 0, ctx->stream>>>(
      grad, in, f32Data(scale), mean, inv, sums, double(count), c, sp, total,
      f32Data(dx));
  return gp_cuda_check_launch(what);
}

extern "C" gp_status gp_cuda_layer_norm(gp_cuda_ctx *ctx, const gp_tensor *x,
                                        const gp_tensor *scale,
                                        const gp_tensor *bias, int64_t axis,
                                        float epsilon, gp_tensor *out) {
  if (!x || !scale || !out || axis < 0 || axis >= x->rank)
    return fail("layer_norm: bad operands or axis");
  if (gp_status s = expect(x, "layer_norm: x", GP_F32))
    return s;
  auto [outer, inner] = splitRows(x, axis);
  if (gp_status s = expectF32Numel(scale, "layer_norm: scale", inner))
    return s;
  if (bias)
    if (gp_status s = expectF32Numel(bias, "layer_norm: bias", inner))
      return s;
  if (gp_status s = expectF32(out, "layer_norm: out", dimsOf(x)))
    return s;
  if (outer == 0 || inner == 0)
    return GP_OK;
  layerNormRows<<<rowBlocks(outer), rowThreads(inner), 0, ctx->stream>>>(
      f32Data(x), f32Data(scale), bias ? f32Data(bias) : nullptr, epsilon,
      outer, inner, f32Data(out));
  return gp_cuda_check_launch("gp_cuda_layer_norm");
}

extern "C" gp_status
gp_cuda_layer_norm_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                        const gp_tensor *x, const gp_tensor *scale,
                        int64_t axis, float epsilon, gp_tensor *dx,
                        gp_tensor *dscale, gp_tensor *dbias) {
  const char *what = "gp_cuda_layer_norm_grad";
  if (!dy || !x || !scale || !dx || !dscale || !dbias || axis < 0 ||
      axis >= x->rank)
    return fail("layer_norm_grad: bad operands or axis");
  if (gp_status s = expect(x, "layer_norm_grad: x", GP_F32))
    return s;
  if (gp_status s = expectF32(dy, "layer_norm_grad: dy", dimsOf(x)))
    return s;
  if (gp_status s = expectF32(dx, "layer_norm_grad: dx", dimsOf(x)))
    return s;
  auto [outer, inner] = splitRows(x, axis);
  if (gp_status s = expectF32Numel(scale, "layer_norm_grad: scale", inner))
    return s;
  if (gp_status s = expectF32Numel(dscale, "layer_norm_grad: dscale", inner))
    return s;
  if (gp_status s = expectF32Numel(dbias, "layer_norm_grad: dbias", inner))
    return s;
  if (inner == 0)
    return GP_OK;
  int64_t tiles = ceilDiv(inner, kColumns);
  int64_t chunks =
      std::max<int64_t>(1, std::min({ceilDiv(outer, 4 * kRowLanes),
                                     ceilDiv(8192, tiles), int64_t(1024)}));
  int64_t chunkRows = std::max<int64_t>(1, ceilDiv(outer, chunks));
  auto *rowMean = static_cast<double *>(gp::cuda::workspace(
      ctx, size_t(2 * outer + chunks * inner * 2) * sizeof(double)));
  if (!rowMean)
    return GP_ERROR;
  double *rowInv = rowMean + outer, *partials = rowInv + outer;
  const float *in = f32Data(x);
  const float *grad = f32Data(dy);
  if (outer > 0) {
    layerNormRowStats<<<rowBlocks(outer), rowThreads(inner), 0, ctx->stream>>>(
        in, epsilon, outer, inner, rowMean, rowInv);
    if (gp_cuda_check_launch(what) != GP_OK)
      return GP_ERROR;
  }
  // The column sums read dy before dx is written: dx may alias dy.
  dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
  layerNormColumnPartials<<<grid, dim3(kColumns, kRowLanes), 0, ctx->stream>>>(
      grad, in, rowMean, rowInv, outer, inner, chunkRows, partials);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  layerNormColumnFinish<<<blocksFor(inner), kThreads, 0, ctx->stream>>>(
      partials, chunks, inner, f32Data(dscale), f32Data(dbias));
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  if (outer == 0)
    return GP_OK;
  layerNormGradRows<<<rowBlocks(outer), rowThreads(inner), 0, ctx->stream>>>(
      grad, in, f32Data(scale), rowMean, rowInv, outer, inner, f32Data(dx));
  return gp_cuda_check_launch(what);
}

extern "C" gp_status gp_cuda_softmax(gp_cuda_ctx *ctx, const gp_tensor *x,
                                     int64_t axis, bool logSoftmax,
                                     gp_tensor *out) {
  if (!x || !out || axis < 0 || axis >= x->rank)
    return fail("softmax: bad operands or axis");
  if (gp_status s = expect(x, "softmax: x", GP_F32))
    return s;
  if (gp_status s = expectF32(out, "softmax: out", dimsOf(x)))
    return s;
  int64_t total = gp_numel(x);
  if (total == 0)
    return GP_OK;
  int64_t dim = x->dims[axis], inner = splitRows(x, axis + 1).second;
  const float *in = f32Data(x);
  float *o = f32Data(out);
  if (inner == 1) {
    int64_t rows = total / dim;
    softmaxRows<<<rowBlocks(rows), rowThreads(dim), 0, ctx->stream>>>(
        in, rows, dim, logSoftmax, o);
  } else {
    int64_t columns = total / dim;
    softmaxStrided<<<blocksFor(columns), kThreads, 0, ctx->stream>>>(
        in, dim, inner, columns, logSoftmax, o);
  }
  return gp_cuda_check_launch("gp_cuda_softmax");
}
