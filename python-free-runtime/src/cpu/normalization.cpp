//===- normalization.cpp - batch/layer norm, softmax, dropout -------------===//

#include "../internal.h"
#include "../random.h"

#include <cmath>
#include <limits>

using namespace gp;

namespace {
gp_status checkChannels(const gp_tensor *x, std::initializer_list<const gp_tensor *> params,
                        const char *what) {
  if (!x || x->rank < 2)
    return fail(std::string(what) + ": input must have rank >= 2");
  for (const gp_tensor *p : params)
    if (!p || p->rank != 1 || p->dims[0] != x->dims[1] || p->dtype != x->dtype)
      return fail(std::string(what) + ": per-channel operands must be [" +
                  std::to_string(x->dims[1]) + "] of the input's type");
  return GP_OK;
}
} // namespace

extern "C" gp_status gp_cpu_batch_norm(const gp_tensor *x, const gp_tensor *scale,
                                       const gp_tensor *bias, const gp_tensor *mean,
                                       const gp_tensor *var, float epsilon,
                                       gp_tensor *out) {
  if (gp_status s = checkChannels(x, {scale, bias, mean, var}, "batch_norm"))
    return s;
  int64_t n = x->dims[0], c = x->dims[1], sp = spatialSize(x);
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    const T *g = static_cast<const T *>(scale->data), *b = static_cast<const T *>(bias->data);
    const T *m = static_cast<const T *>(mean->data), *v = static_cast<const T *>(var->data);
    T *o = static_cast<T *>(out->data);
    parallelFor(n * c, sp, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        int64_t ch = p % c;
        T k = g[ch] / std::sqrt(v[ch] + T(epsilon)), off = b[ch] - m[ch] * k;
        for (int64_t i = 0; i < sp; ++i)
          o[p * sp + i] = in[p * sp + i] * k + off;
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_batch_norm_train(const gp_tensor *x, const gp_tensor *scale,
                                             const gp_tensor *bias,
                                             const gp_tensor *runningMean,
                                             const gp_tensor *runningVar, float epsilon,
                                             float momentum, bool unbiasedVarUpdate,
                                             gp_tensor *out, gp_tensor *newMean,
                                             gp_tensor *newVar) {
  if (gp_status s = checkChannels(x, {scale, bias, runningMean, runningVar, newMean, newVar},
                                  "batch_norm_train"))
    return s;
  int64_t n = x->dims[0], c = x->dims[1], sp = spatialSize(x), count = n * sp;
  if (count == 0)
    return fail("batch_norm_train: empty batch");
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    const T *g = static_cast<const T *>(scale->data), *b = static_cast<const T *>(bias->data);
    const T *rm = static_cast<const T *>(runningMean->data);
    const T *rv = static_cast<const T *>(runningVar->data);
    T *o = static_cast<T *>(out->data);
    T *nm = static_cast<T *>(newMean->data), *nv = static_cast<T *>(newVar->data);
    parallelFor(c, count * 3, [&](int64_t begin, int64_t end) {
      for (int64_t ch = begin; ch < end; ++ch) {
        double sum = 0, sq = 0;
        for (int64_t bi = 0; bi < n; ++bi)
          for (int64_t i = 0; i < sp; ++i)
            sum += in[(bi * c + ch) * sp + i];
        double mean = sum / count;
        for (int64_t bi = 0; bi < n; ++bi)
          for (int64_t i = 0; i < sp; ++i) {
            double d = in[(bi * c + ch) * sp + i] - mean;
            sq += d * d;
          }
        double var = sq / count;
        T k = T(g[ch] / std::sqrt(var + epsilon)), off = T(b[ch] - mean * k);
        for (int64_t bi = 0; bi < n; ++bi)
          for (int64_t i = 0; i < sp; ++i) {
            int64_t idx = (bi * c + ch) * sp + i;
            o[idx] = in[idx] * k + off;
          }
        nm[ch] = T(momentum * rm[ch] + (1 - momentum) * mean);
        double update = unbiasedVarUpdate && count > 1 ? var * count / (count - 1) : var;
        nv[ch] = T(momentum * rv[ch] + (1 - momentum) * update);
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_layer_norm(const gp_tensor *x, const gp_tensor *scale,
                                       const gp_tensor *bias, int64_t axis, float epsilon,
                                       gp_tensor *out) {
  if (!x || !scale || !out || axis < 0 || axis >= x->rank)
    return fail("layer_norm: bad operands or axis");
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < x->rank; ++d)
    (d < axis ? outer : inner) *= x->dims[d];
  if (gp_numel(scale) != inner || (bias && gp_numel(bias) != inner))
    return fail("layer_norm: scale and bias must hold " + std::to_string(inner) + " elements");
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data), *g = static_cast<const T *>(scale->data);
    const T *b = bias ? static_cast<const T *>(bias->data) : nullptr;
    T *o = static_cast<T *>(out->data);
    parallelFor(outer, inner * 4, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T *row = in + r * inner;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < inner; ++i)
          sum += row[i];
        double mean = sum / inner;
        for (int64_t i = 0; i < inner; ++i)
          sq += (row[i] - mean) * (row[i] - mean);
        T inv = T(1.0 / std::sqrt(sq / inner + epsilon));
        for (int64_t i = 0; i < inner; ++i)
          o[r * inner + i] = T((row[i] - mean) * inv) * g[i] + (b ? b[i] : T(0));
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_softmax(const gp_tensor *x, int64_t axis, bool log,
                                    gp_tensor *out) {
  if (!x || !out || axis < 0 || axis >= x->rank)
    return fail("softmax: bad operands or axis");
  auto [outer, dim, inner] = splitAtAxis(x, axis);
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    parallelFor(outer * inner, dim * 4, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        int64_t base = (p / inner) * dim * inner + p % inner;
        T mx = -std::numeric_limits<T>::infinity();
        for (int64_t i = 0; i < dim; ++i)
          mx = std::max(mx, in[base + i * inner]);
        // One exponential per element: softmax keeps exp(x - max) (each
        // element read before it is written, so `out` may be `x`) and
        // scales it by 1/sum; log-softmax subtracts log(sum).
        double sum = 0;
        for (int64_t i = 0; i < dim; ++i) {
          double e = std::exp(double(in[base + i * inner] - mx));
          sum += e;
          if (!log)
            o[base + i * inner] = T(e);
        }
        if (log) {
          T logSum = T(std::log(sum));
          for (int64_t i = 0; i < dim; ++i)
            o[base + i * inner] = in[base + i * inner] - mx - logSum;
        } else {
          double inv = 1.0 / sum;
          for (int64_t i = 0; i < dim; ++i)
            o[base + i * inner] = T(double(o[base + i * inner]) * inv);
        }
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_dropout(const gp_tensor *x, float ratio, bool training,
                                    uint64_t seed, const gp_tensor *rng, gp_tensor *out,
                                    gp_tensor *mask) {
  if (!x || !out)
    return fail("dropout: missing operand");
  if (!(ratio >= 0.0f && ratio < 1.0f))
    return fail("dropout: ratio must be in [0, 1)");
  int64_t n = gp_numel(x);
  if (out->dtype != x->dtype || gp_numel(out) != n)
    return fail("dropout: result " + describe(out) + " does not match " + describe(x));
  if (mask && (mask->dtype != GP_BOOL || gp_numel(mask) != n))
    return fail("dropout: mask " + describe(mask) + " must be bool with " + std::to_string(n) +
                " elements");
  uint64_t stream = 0, first = 0;
  if (rng) {
    if (rng->dtype != GP_I64 || gp_numel(rng) != 2)
      return fail("dropout: the random stream must be i64[2] (stream, part), got " +
                  describe(rng));
    const auto *r = static_cast<const int64_t *>(rng->data);
    stream = static_cast<uint64_t>(r[0]);
    first = static_cast<uint64_t>(r[1]) * static_cast<uint64_t>(n);
  }
  auto *m = mask ? static_cast<uint8_t *>(mask->data) : nullptr;
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    if (!training || ratio == 0.0f) {
      for (int64_t i = 0; i < n; ++i) {
        o[i] = in[i];
        if (m)
          m[i] = 1;
      }
      return GP_OK;
    }
    uint64_t key = streamKey(seed, stream);
    double threshold = ratio;
    T scale = T(1.0 / (1.0 - ratio));
    for (int64_t i = 0; i < n; ++i) {
      bool keep = uniformAt(key, first + static_cast<uint64_t>(i)) >= threshold;
      o[i] = keep ? in[i] * scale : T(0);
      if (m)
        m[i] = keep;
    }
    return GP_OK;
  });
}
