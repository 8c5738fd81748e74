//===- loss.cu - negative log-likelihood and cross-entropy on CUDA --------===//
//
// The CUDA counterparts of cpu/loss.cpp, f32 only. The per-element losses
// are independent; the SUM and MEAN reductions add per-block partial sums
// (in f64, as the CPU kernel accumulates) in one block in a fixed order, so
// results do not change from run to run. Softmax cross-entropy does not
// materialize the log-probabilities: it keeps each position's maximum and
// log-sum-exp over the classes and forms the one log-probability it needs.
//
// Unlike the CPU kernels, which fail on a label outside [0, C) that is not
// the ignore index, the device cannot report it without a synchronization:
// such a label counts as ignored (no loss, no weight, no gradient).
//
//===----------------------------------------------------------------------===//

#include "row_reduce.cuh"

#include <algorithm>
#include <cmath>
#include <string>

using namespace gp;
using gp::cuda::blocksFor;
using gp::cuda::kThreads;
using namespace gp::cuda;

namespace {


/// The most blocks of the first pass of a reduction (one partial each).
constexpr unsigned kMaxPartials = 1024;

unsigned partialCount(int64_t count) {
  return std::min(blocksFor(count), kMaxPartials);
}







/// Labels read as int64 from an i64 or i32 tensor.
struct Labels {
  const void *data;
  bool wide;
  __device__ int64_t operator[](int64_t i) const {
    return wide ? static_cast<const int64_t *>(data)[i]
                : static_cast<const int32_t *>(data)[i];
  }
};

/// The operands of the loss of the elements of labels [N, D...], D...
/// flattened to `inner`.
struct NllArgs {
  /// Log-probabilities [N, C, inner]; or, with rowMax set, the logits whose
  /// log-softmax over C the loss takes; null when only the weights are
  /// summed.
  const float *input = nullptr;
  /// Per label: the maximum over C and log(sum(exp(x - max))).
  const float *rowMax = nullptr, *rowLogSum = nullptr;
  Labels labels{};
  /// [C] or null (all ones).
  const float *weights = nullptr;
  int64_t c = 0, inner = 1, count = 0;
  bool hasIgnore = false;
  int64_t ignoreIndex = 0;
};

/// The loss and the weight of label i: both 0 for an ignored or
/// out-of-range label.
__device__ void nllTerm(const NllArgs &a, int64_t i, double &loss,
                        double &weight) {
  loss = 0;
  weight = 0;
  int64_t label = a.labels[i];
  if ((a.hasIgnore && label == a.ignoreIndex) || label < 0 || label >= a.c)
    return;
  weight = a.weights ? double(a.weights[label]) : 1.0;
  if (!a.input)
    return;
  int64_t b = i / a.inner, s = i - b * a.inner;
  float logProb = a.input[(b * a.c + label) * a.inner + s];
  if (a.rowMax)
    logProb = logProb - a.rowMax[i] - a.rowLogSum[i];
  loss = -weight * double(logProb);
}

__global__ void nllPerElement(NllArgs a, float *out) {
  for (int64_t i = gridStart(); i < a.count; i += gridStride()) {
    double loss, weight;
    nllTerm(a, i, loss, weight);
    out[i] = float(loss);
  }
}

/// Block k adds the losses and weights of its grid-stride share into
/// partials[2 * k] and partials[2 * k + 1].
__global__ void nllPartials(NllArgs a, double *partials) {
  double lossSum = 0, weightSum = 0;
  for (int64_t i = gridStart(); i < a.count; i += gridStride()) {
    double loss, weight;
    nllTerm(a, i, loss, weight);
    lossSum += loss;
    weightSum += weight;
  }
  lossSum = blockReduce(lossSum, Add(), 0.0);
  weightSum = blockReduce(weightSum, Add(), 0.0);
  if (threadIdx.x == 0) {
    partials[2 * blockIdx.x] = lossSum;
    partials[2 * blockIdx.x + 1] = weightSum;
  }
}

/// One block adds the partial sums; writes the reduced loss to out[0] and
/// the weight sum to *weightSum where they are non-null.
__global__ void nllFinish(const double *partials, unsigned parts,
                          gp_loss_reduction reduction, float *out,
                          double *weightSum) {
  double loss = 0, weight = 0;
  for (unsigned k = threadIdx.x; k < parts; k += blockDim.x) {
    loss += partials[2 * k];
    weight += partials[2 * k + 1];
  }
  loss = blockReduce(loss, Add(), 0.0);
  weight = blockReduce(weight, Add(), 0.0);
  if (threadIdx.x != 0)
    return;
  if (out)
    out[0] = reduction == GP_LOSS_SUM ? float(loss)
             : weight == 0            ? 0.0f
                                      : float(loss / weight);
  if (weightSum)
    *weightSum = weight;
}

/// The maximum and log-sum-exp over C of every row of contiguous [rows, C]
/// logits: one block per row.
__global__ void logSumExpRows(const float *x, int64_t rows, int64_t dim,
                              float *rowMax, float *rowLogSum) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *row = x + r * dim;
    float mx = 0;
    double sum = rowSumExp(row, dim, mx);
    if (threadIdx.x == 0) {
      rowMax[r] = mx;
      rowLogSum[r] = float(log(sum));
    }
  }
}

/// The same for [N, C, inner] logits with inner > 1: one thread per (N,
/// inner) position, neighbouring threads reading neighbouring elements.
__global__ void logSumExpStrided(const float *x, int64_t dim, int64_t inner,
                                 int64_t total, float *rowMax,
                                 float *rowLogSum) {
  for (int64_t p = gridStart(); p < total; p += gridStride()) {
    int64_t base = (p / inner) * dim * inner + p % inner;
    float mx = -INFINITY;
    for (int64_t i = 0; i < dim; ++i)
      mx = fmaxf(mx, x[base + i * inner]);
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i)
      sum += expf(x[base + i * inner] - mx);
    rowMax[p] = mx;
    rowLogSum[p] = float(log(sum));
  }
}

/// dinput [N, C, inner]: -weight * scale at each label's position, zero
/// elsewhere; one thread per element so that every element is written once.
__global__ void nllGrad(const float *dloss, Labels labels, const float *weights,
                        const double *weightSum, gp_loss_reduction reduction,
                        bool hasIgnore, int64_t ignoreIndex, int64_t c,
                        int64_t inner, int64_t total, float *dinput) {
  for (int64_t i = gridStart(); i < total; i += gridStride()) {
    int64_t t = i / inner, s = i - t * inner, b = t / c, k = t - b * c;
    int64_t j = b * inner + s, label = labels[j];
    float value = 0.0f;
    if (label == k && !(hasIgnore && label == ignoreIndex)) {
      double scale = reduction == GP_LOSS_NONE  ? double(dloss[j])
                     : reduction == GP_LOSS_SUM ? double(dloss[0])
                     : *weightSum == 0          ? 0.0
                                                : double(dloss[0]) / *weightSum;
      value = float(-(weights ? double(weights[label]) : 1.0) * scale);
    }
    dinput[i] = value;
  }
}

/// Checks the operands of a loss over `input` [N, C, D...] (log-probabilities
/// or logits) and fills `args` but for rowMax and rowLogSum.
gp_status checkLoss(const char *op, const gp_tensor *input,
                    const gp_tensor *labels, const gp_tensor *weights,
                    gp_loss_reduction reduction, bool hasIgnore,
                    int64_t ignoreIndex, const gp_tensor *out, NllArgs &args) {
  std::string name(op);
  if (!input || !labels || !out || input->rank < 2)
    return fail(name + ": input must have rank >= 2");
  if (gp_status s = expect(input, (name + ": input").c_str(), GP_F32))
    return s;
  if (labels->dtype != GP_I64 && labels->dtype != GP_I32)
    return fail(name + ": labels must be i64 or i32, got " + describe(labels));
  if (reduction != GP_LOSS_NONE && reduction != GP_LOSS_SUM &&
      reduction != GP_LOSS_MEAN)
    return fail(name + ": unknown reduction " + std::to_string(reduction));
  int64_t n = input->dims[0], c = input->dims[1], inner = 1;
  for (int32_t d = 2; d < input->rank; ++d)
    inner *= input->dims[d];
  int64_t count = n * inner;
  if (gp_numel(labels) != count)
    return fail(name + ": labels " + describe(labels) + " do not match " +
                describe(input));
  if (count > 0 && !labels->data)
    return fail(name + ": labels have no data");
  if (weights) {
    if (gp_status s = expect(weights, (name + ": weights").c_str(), GP_F32))
      return s;
    if (gp_numel(weights) != c)
      return fail(name + ": weights must hold " + std::to_string(c) +
                  " values");
  }
  if (gp_status s = expect(out, (name + ": result").c_str(), GP_F32))
    return s;
  if (reduction == GP_LOSS_NONE ? gp_numel(out) != count : gp_numel(out) != 1)
    return fail(name + ": result " + describe(out) + " has the wrong size");
  args.input = f32Data(input);
  args.labels = Labels{labels->data, labels->dtype == GP_I64};
  args.weights = weights ? f32Data(weights) : nullptr;
  args.c = c;
  args.inner = inner;
  args.count = count;
  args.hasIgnore = hasIgnore;
  args.ignoreIndex = ignoreIndex;
  return GP_OK;
}

/// Enqueues the loss: per element into `out`, or reduced to out[0] through
/// `partials` (2 * partialCount(a.count) doubles).
gp_status launchNll(gp_cuda_ctx *ctx, const char *what, const NllArgs &a,
                    gp_loss_reduction reduction, float *out, double *partials) {
  if (reduction == GP_LOSS_NONE) {
    if (a.count == 0)
      return GP_OK;
    nllPerElement<<<blocksFor(a.count), kThreads, 0, ctx->stream>>>(a, out);
    return gp_cuda_check_launch(what);
  }
  // Launched even without elements: out[0] is then 0.
  unsigned parts = partialCount(a.count);
  nllPartials<<<parts, kThreads, 0, ctx->stream>>>(a, partials);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  nllFinish<<<1, kThreads, 0, ctx->stream>>>(partials, parts, reduction, out,
                                             nullptr);
  return gp_cuda_check_launch(what);
}

} // namespace

extern "C" gp_status gp_cuda_nll_loss(gp_cuda_ctx *ctx, const gp_tensor *input,
                                      const gp_tensor *labels,
                                      const gp_tensor *weights,
                                      gp_loss_reduction reduction,
                                      bool has_ignore_index,
                                      int64_t ignore_index, gp_tensor *out) {
  NllArgs args;
  if (gp_status s = checkLoss("nll_loss", input, labels, weights, reduction,
                              has_ignore_index, ignore_index, out, args))
    return s;
  double *partials = nullptr;
  if (reduction != GP_LOSS_NONE) {
    partials = static_cast<double *>(gp::cuda::workspace(
        ctx, 2 * partialCount(args.count) * sizeof(double)));
    if (!partials)
      return GP_ERROR;
  }
  return launchNll(ctx, "gp_cuda_nll_loss", args, reduction, f32Data(out),
                   partials);
}

extern "C" gp_status gp_cuda_softmax_cross_entropy(
    gp_cuda_ctx *ctx, const gp_tensor *scores, const gp_tensor *labels,
    const gp_tensor *weights, gp_loss_reduction reduction,
    bool has_ignore_index, int64_t ignore_index, gp_tensor *out) {
  const char *what = "gp_cuda_softmax_cross_entropy";
  if (!scores || scores->rank < 2)
    return fail("softmax_cross_entropy: scores must have rank >= 2");
  NllArgs args;
  if (gp_status s =
          checkLoss("softmax_cross_entropy", scores, labels, weights, reduction,
                    has_ignore_index, ignore_index, out, args))
    return s;
  if (reduction == GP_LOSS_NONE && args.count == 0)
    return GP_OK;
  // Per label: the maximum and the log-sum-exp (f32 each), then the
  // partial sums of the reduction.
  size_t parts = reduction == GP_LOSS_NONE ? 0 : partialCount(args.count);
  size_t statBytes = (size_t(args.count) * 2 * sizeof(float) + 7) / 8 * 8;
  auto *ws = static_cast<unsigned char *>(
      gp::cuda::workspace(ctx, statBytes + 2 * parts * sizeof(double)));
  if (!ws)
    return GP_ERROR;
  auto *rowMax = reinterpret_cast<float *>(ws);
  float *rowLogSum = rowMax + args.count;
  auto *partials = reinterpret_cast<double *>(ws + statBytes);
  if (gp_numel(scores) > 0) {
    if (args.inner == 1)
      logSumExpRows<<<rowBlocks(args.count), rowThreads(args.c), 0,
                      ctx->stream>>>(args.input, args.count, args.c, rowMax,
                                     rowLogSum);
    else
      logSumExpStrided<<<blocksFor(args.count), kThreads, 0, ctx->stream>>>(
          args.input, args.c, args.inner, args.count, rowMax, rowLogSum);
    if (gp_cuda_check_launch(what) != GP_OK)
      return GP_ERROR;
  }
  args.rowMax = rowMax;
  args.rowLogSum = rowLogSum;
  return launchNll(ctx, what, args, reduction, f32Data(out), partials);
}

extern "C" gp_status
gp_cuda_nll_loss_grad(gp_cuda_ctx *ctx, const gp_tensor *dloss,
                      const gp_tensor *labels, const gp_tensor *weights,
                      gp_loss_reduction reduction, bool has_ignore_index,
                      int64_t ignore_index, gp_tensor *dinput) {
  const char *what = "gp_cuda_nll_loss_grad";
  if (!dloss || !labels || !dinput || dinput->rank < 2)
    return fail("nll_loss_grad: the input gradient must have rank >= 2");
  if (gp_status s = expect(dinput, "nll_loss_grad: dinput", GP_F32))
    return s;
  if (labels->dtype != GP_I64 && labels->dtype != GP_I32)
    return fail("nll_loss_grad: labels must be i64 or i32, got " +
                describe(labels));
  if (reduction != GP_LOSS_NONE && reduction != GP_LOSS_SUM &&
      reduction != GP_LOSS_MEAN)
    return fail("nll_loss_grad: unknown reduction " +
                std::to_string(reduction));
  if (gp_status s = expect(dloss, "nll_loss_grad: dloss", GP_F32))
    return s;
  if (weights)
    if (gp_status s = expect(weights, "nll_loss_grad: weights", GP_F32))
      return s;
  int64_t n = dinput->dims[0], c = dinput->dims[1], inner = 1;
  for (int32_t d = 2; d < dinput->rank; ++d)
    inner *= dinput->dims[d];
  int64_t count = n * inner;
  if (gp_numel(labels) != count || (weights && gp_numel(weights) != c) ||
      gp_numel(dloss) != (reduction == GP_LOSS_NONE ? count : 1))
    return fail("nll_loss_grad: operands do not match " + describe(dinput));
  int64_t total = gp_numel(dinput);
  if (total == 0)
    return GP_OK;
  if (!labels->data)
    return fail("nll_loss_grad: labels have no data");
  Labels labelView{labels->data, labels->dtype == GP_I64};
  const float *w = weights ? f32Data(weights) : nullptr;
  double *weightSum = nullptr;
  if (reduction == GP_LOSS_MEAN) {
    // The same weight sum the forward loss divides by.
    unsigned parts = partialCount(count);
    weightSum = static_cast<double *>(
        gp::cuda::workspace(ctx, (2 * parts + 1) * sizeof(double)));
    if (!weightSum)
      return GP_ERROR;
    double *partials = weightSum + 1;
    NllArgs args;
    args.labels = labelView;
    args.weights = w;
    args.c = c;
    args.inner = inner;
    args.count = count;
    args.hasIgnore = has_ignore_index;
    args.ignoreIndex = ignore_index;
    nllPartials<<<parts, kThreads, 0, ctx->stream>>>(args, partials);
    if (gp_cuda_check_launch(what) != GP_OK)
      return GP_ERROR;
    nllFinish<<<1, kThreads, 0, ctx->stream>>>(partials, parts, reduction,
                                               nullptr, weightSum);
    if (gp_cuda_check_launch(what) != GP_OK)
      return GP_ERROR;
  }
  nllGrad<<<blocksFor(total), kThreads, 0, ctx->stream>>>(
      f32Data(dloss), labelView, w, weightSum, reduction, has_ignore_index,
      ignore_index, c, inner, total, f32Data(dinput));
  return gp_cuda_check_launch(what);
}
