//===- loss.cpp - negative log-likelihood and softmax cross-entropy -------===//

#include "../internal.h"

#include <algorithm>
#include <vector>

using namespace gp;

extern "C" gp_status gp_cpu_nll_loss(const gp_tensor *input, const gp_tensor *labels,
                                     const gp_tensor *weights, gp_loss_reduction reduction,
                                     bool hasIgnore, int64_t ignoreIndex, gp_tensor *out) {
  if (!input || !labels || !out || input->rank < 2)
    return fail("nll_loss: input must have rank >= 2");
  if (labels->dtype != GP_I64 && labels->dtype != GP_I32)
    return fail("nll_loss: labels must be i64 or i32, got " + describe(labels));
  int64_t n = input->dims[0], c = input->dims[1], inner = 1;
  for (int32_t d = 2; d < input->rank; ++d)
    inner *= input->dims[d];
  if (gp_numel(labels) != n * inner)
    return fail("nll_loss: labels " + describe(labels) + " do not match " + describe(input));
  if (weights && gp_numel(weights) != c)
    return fail("nll_loss: weights must hold " + std::to_string(c) + " values");
  int64_t count = n * inner;
  if (reduction == GP_LOSS_NONE ? gp_numel(out) != count : gp_numel(out) != 1)
    return fail("nll_loss: result " + describe(out) + " has the wrong size");
  return dispatchFloat(input->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(input->data);
    const T *w = weights ? static_cast<const T *>(weights->data) : nullptr;
    T *o = static_cast<T *>(out->data);
    double total = 0, weightSum = 0;
    for (int64_t i = 0; i < count; ++i) {
      int64_t b = i / inner, s = i % inner, label = indexAt(labels, i);
      double loss = 0, weight = 0;
      if (!(hasIgnore && label == ignoreIndex)) {
        if (label < 0 || label >= c)
          return fail("nll_loss: label " + std::to_string(label) + " is out of range [0, " +
                      std::to_string(c) + ")");
        weight = w ? double(w[label]) : 1.0;
        loss = -weight * double(in[(b * c + label) * inner + s]);
      }
      if (reduction == GP_LOSS_NONE)
        o[i] = T(loss);
      total += loss;
      weightSum += weight;
    }
    if (reduction == GP_LOSS_SUM)
      o[0] = T(total);
    else if (reduction == GP_LOSS_MEAN)
      o[0] = weightSum == 0 ? T(0) : T(total / weightSum);
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_softmax_cross_entropy(const gp_tensor *scores,
                                                  const gp_tensor *labels,
                                                  const gp_tensor *weights,
                                                  gp_loss_reduction reduction, bool hasIgnore,
                                                  int64_t ignoreIndex, gp_tensor *out) {
  if (!scores || scores->rank < 2)
    return fail("softmax_cross_entropy: scores must have rank >= 2");
  std::vector<char> buffer(gp_numel(scores) * gp_dtype_size(scores->dtype));
  gp_tensor logProb = *scores;
  logProb.data = buffer.data();
  if (gp_status s = gp_cpu_softmax(scores, 1, true, &logProb))
    return s;
  return gp_cpu_nll_loss(&logProb, labels, weights, reduction, hasIgnore, ignoreIndex, out);
}

extern "C" gp_status gp_cpu_nll_loss_grad(const gp_tensor *dloss, const gp_tensor *labels,
                                          const gp_tensor *weights, gp_loss_reduction reduction,
                                          bool hasIgnore, int64_t ignoreIndex, gp_tensor *dinput) {
  if (!dloss || !labels || !dinput || dinput->rank < 2)
    return fail("nll_loss_grad: the input gradient must have rank >= 2");
  if (labels->dtype != GP_I64 && labels->dtype != GP_I32)
    return fail("nll_loss_grad: labels must be i64 or i32, got " + describe(labels));
  int64_t n = dinput->dims[0], c = dinput->dims[1], inner = 1;
  for (int32_t d = 2; d < dinput->rank; ++d)
    inner *= dinput->dims[d];
  int64_t count = n * inner;
  if (gp_numel(labels) != count || (weights && gp_numel(weights) != c) ||
      gp_numel(dloss) != (reduction == GP_LOSS_NONE ? count : 1))
    return fail("nll_loss_grad: operands do not match " + describe(dinput));
  return dispatchFloat(dinput->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *w = weights ? static_cast<const T *>(weights->data) : nullptr;
    const T *g = static_cast<const T *>(dloss->data);
    T *o = static_cast<T *>(dinput->data);
    std::fill(o, o + gp_numel(dinput), T(0));
    double weightSum = 0;
    for (int64_t i = 0; i < count; ++i) {
      int64_t label = indexAt(labels, i);
      if (hasIgnore && label == ignoreIndex)
        continue;
      if (label < 0 || label >= c)
        return fail("nll_loss_grad: label " + std::to_string(label) + " is out of range [0, " +
                    std::to_string(c) + ")");
      weightSum += w ? double(w[label]) : 1.0;
    }
    for (int64_t i = 0; i < count; ++i) {
      int64_t label = indexAt(labels, i);
      if (hasIgnore && label == ignoreIndex)
        continue;
      double scale = reduction == GP_LOSS_NONE ? double(g[i])
                     : reduction == GP_LOSS_SUM ? double(g[0])
                     : weightSum == 0 ? 0.0 : double(g[0]) / weightSum;
      int64_t b = i / inner, s = i % inner;
      o[(b * c + label) * inner + s] = T(-(w ? double(w[label]) : 1.0) * scale);
    }
    return GP_OK;
  });
}
