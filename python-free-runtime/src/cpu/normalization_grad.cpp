//===- normalization_grad.cpp - backward of batch and layer norm ----------===//

#include "../internal.h"

#include <algorithm>
#include <cmath>

using namespace gp;

extern "C" gp_status gp_cpu_batch_norm_train_grad(const gp_tensor *dy, const gp_tensor *x,
                                                  const gp_tensor *scale, float epsilon,
                                                  gp_tensor *dx, gp_tensor *dscale,
                                                  gp_tensor *dbias) {
  if (!dy || !x || !scale || !dx || !dscale || !dbias || x->rank < 2 ||
      dimsOf(dy) != dimsOf(x) || dimsOf(dx) != dimsOf(x) || gp_numel(scale) != x->dims[1])
    return fail("batch_norm_train_grad: operands do not match the input " +
                (x ? describe(x) : std::string("(missing)")));
  int64_t n = x->dims[0], c = x->dims[1], sp = 1;
  for (int32_t d = 2; d < x->rank; ++d)
    sp *= x->dims[d];
  double count = double(n * sp);
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data), *d = static_cast<const T *>(dy->data);
    const T *g = static_cast<const T *>(scale->data);
    T *o = static_cast<T *>(dx->data), *ds = static_cast<T *>(dscale->data),
      *db = static_cast<T *>(dbias->data);
    parallelFor(c, n * sp * 4, [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        auto at = [&](int64_t b, int64_t i) { return (b * c + ch) * sp + i; };
        double mean = 0, var = 0;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < sp; ++i)
            mean += in[at(b, i)];
        mean /= count;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < sp; ++i)
            var += (in[at(b, i)] - mean) * (in[at(b, i)] - mean);
        var /= count;
        double inv = 1.0 / std::sqrt(var + epsilon), sumDy = 0, sumDyXhat = 0;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < sp; ++i) {
            double xhat = (in[at(b, i)] - mean) * inv;
            sumDy += d[at(b, i)];
            sumDyXhat += d[at(b, i)] * xhat;
          }
        ds[ch] = T(sumDyXhat);
        db[ch] = T(sumDy);
        double k = g[ch] * inv / count;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t i = 0; i < sp; ++i) {
            double xhat = (in[at(b, i)] - mean) * inv;
            o[at(b, i)] = T(k * (count * d[at(b, i)] - sumDy - xhat * sumDyXhat));
          }
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_layer_norm_grad(const gp_tensor *dy, const gp_tensor *x,
                                            const gp_tensor *scale, int64_t axis, float epsilon,
                                            gp_tensor *dx, gp_tensor *dscale, gp_tensor *dbias) {
  if (!dy || !x || !scale || !dx || !dscale || !dbias || axis < 0 || axis >= x->rank ||
      dimsOf(dy) != dimsOf(x))
    return fail("layer_norm_grad: bad operands or axis");
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < x->rank; ++d)
    (d < axis ? outer : inner) *= x->dims[d];
  if (gp_numel(scale) != inner || gp_numel(dscale) != inner || gp_numel(dbias) != inner)
    return fail("layer_norm_grad: scale must hold " + std::to_string(inner) + " elements");
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data), *d = static_cast<const T *>(dy->data);
    const T *g = static_cast<const T *>(scale->data);
    T *o = static_cast<T *>(dx->data);
    // Rows on the runtime's threads: each row's statistics and its dx.
    std::vector<double> means(outer), invs(outer);
    parallelFor(outer, inner * 8, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T *row = in + r * inner;
        const T *drow = d + r * inner;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner; ++i)
          mean += row[i];
        mean /= inner;
        for (int64_t i = 0; i < inner; ++i)
          var += (row[i] - mean) * (row[i] - mean);
        var /= inner;
        double inv = 1.0 / std::sqrt(var + epsilon), sumG = 0, sumGXhat = 0;
        for (int64_t i = 0; i < inner; ++i) {
          double xhat = (row[i] - mean) * inv, gi = drow[i] * g[i];
          sumG += gi;
          sumGXhat += gi * xhat;
        }
        for (int64_t i = 0; i < inner; ++i) {
          double xhat = (row[i] - mean) * inv, gi = drow[i] * g[i];
          o[r * inner + i] = T(inv / inner * (inner * gi - sumG - xhat * sumGXhat));
        }
        means[r] = mean;
        invs[r] = inv;
      }
    });
    // Then the scale's and bias's gradients, columns on the threads, each
    // summed over the rows in order (in double): the bits of one thread.
    T *dso = static_cast<T *>(dscale->data), *dbo = static_cast<T *>(dbias->data);
    parallelFor(inner, outer * 4, [&](int64_t i0, int64_t i1) {
      std::vector<double> ds(i1 - i0, 0.0), db(i1 - i0, 0.0);
      for (int64_t r = 0; r < outer; ++r) {
        const T *row = in + r * inner;
        const T *drow = d + r * inner;
        for (int64_t i = i0; i < i1; ++i) {
          double xhat = (row[i] - means[r]) * invs[r];
          ds[i - i0] += drow[i] * xhat;
          db[i - i0] += drow[i];
        }
      }
      for (int64_t i = i0; i < i1; ++i) {
        dso[i] = T(ds[i - i0]);
        dbo[i] = T(db[i - i0]);
      }
    });
    return GP_OK;
  });
}
