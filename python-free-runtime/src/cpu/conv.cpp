//===- conv.cpp - 2-D convolution (im2col + GEMM) and pooling -------------===//

#include "../internal.h"
#include "kernels.h"

#include <algorithm>
#include <limits>

using namespace gp;

namespace {
gp_status checkNCHW(const gp_tensor *x, const gp_tensor *out, const char *what) {
  if (!x || !out)
    return fail(std::string(what) + ": missing operand");
  if (x->rank != 4 || out->rank != 4)
    return fail(std::string(what) + ": expects NCHW tensors, got " + describe(x) +
                " -> " + describe(out));
  if (x->dtype != out->dtype)
    return fail(std::string(what) + ": element types differ");
  return GP_OK;
}

Window geometry(const gp_tensor *x, const gp_tensor *out, const int64_t *kernel,
                  const int64_t *strides, const int64_t *pads, const int64_t *dilations) {
  Window g{};
  g.n = x->dims[0]; g.c = x->dims[1]; g.h = x->dims[2]; g.w = x->dims[3];
  g.oh = out->dims[2]; g.ow = out->dims[3];
  g.kh = kernel[0]; g.kw = kernel[1];
  g.sh = strides[0]; g.sw = strides[1];
  g.pt = pads[0]; g.pl = pads[1];
  g.dh = dilations ? dilations[0] : 1; g.dw = dilations ? dilations[1] : 1;
  return g;
}

} // namespace

extern "C" gp_status gp_cpu_conv2d(const gp_tensor *x, const gp_tensor *w,
                                   const gp_tensor *bias, const int64_t *strides,
                                   const int64_t *pads, const int64_t *dilations,
                                   int64_t groups, gp_tensor *out) {
  if (gp_status s = checkNCHW(x, out, "conv2d"))
    return s;
  if (!w || w->rank != 4 || w->dtype != x->dtype)
    return fail("conv2d: weight must be a rank-4 tensor of the input's type");
  int64_t f = w->dims[0], cg = w->dims[1];
  if (groups < 1 || x->dims[1] != cg * groups || f % groups || out->dims[1] != f ||
      out->dims[0] != x->dims[0])
    return fail("conv2d: channels of " + describe(x) + ", " + describe(w) + " and " +
                describe(out) + " do not agree for " + std::to_string(groups) + " groups");
  if (bias && (bias->rank != 1 || bias->dims[0] != f || bias->dtype != x->dtype))
    return fail("conv2d: bias " + describe(bias) + " must have shape [" + std::to_string(f) + "]");
  Window g = geometry(x, out, w->dims + 2, strides, pads, dilations);
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data), *wt = static_cast<const T *>(w->data);
    T *o = static_cast<T *>(out->data);
    const T *bi = bias ? static_cast<const T *>(bias->data) : nullptr;
    int64_t fg = f / groups, colRows = cg * g.kh * g.kw, outSize = g.oh * g.ow;
    bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 &&
                     g.pl == 0 && g.oh == g.h && g.ow == g.w;
    if (pointwise) {
      for (int64_t b = 0; b < g.n; ++b)
        for (int64_t gi = 0; gi < groups; ++gi)
          gemm<T>(false, false, fg, outSize, colRows, 1.0, wt + gi * fg * colRows,
                  in + (b * g.c + gi * cg) * g.h * g.w, 0.0, o + (b * f + gi * fg) * outSize);
      if (bi)
        parallelFor(g.n * f, outSize, [&](int64_t lo, int64_t hi) {
          for (int64_t p = lo; p < hi; ++p) {
            T *plane = o + p * outSize, add = bi[p % f];
            for (int64_t i = 0; i < outSize; ++i)
              plane[i] += add;
          }
        });
    } else {
      // Several images share one GEMM: [fg, colRows] x [colRows, nb * outSize].
      int64_t nb = imagesPerGemm(g.n, colRows * outSize);
      std::vector<T> cols(colRows * nb * outSize), prod(fg * nb * outSize);
      for (int64_t b0 = 0; b0 < g.n; b0 += nb) {
        int64_t cnt = std::min(nb, g.n - b0), ld = cnt * outSize;
        for (int64_t gi = 0; gi < groups; ++gi) {
          parallelFor(cnt, colRows * outSize, [&](int64_t lo, int64_t hi) {
            for (int64_t b = lo; b < hi; ++b)
              im2col(in + ((b0 + b) * g.c + gi * cg) * g.h * g.w, cg, g, cols.data() + b * outSize, ld);
          });
          gemm<T>(false, false, fg, ld, colRows, 1.0, wt + gi * fg * colRows, cols.data(), 0.0,
                  prod.data());
          // Each image's planes out of the product, with the bias added on
          // the way.
          parallelFor(cnt * fg, outSize, [&](int64_t lo, int64_t hi) {
            for (int64_t p = lo; p < hi; ++p) {
              int64_t b = p / fg, k = p % fg;
              const T *src = prod.data() + k * ld + b * outSize;
              T *dst = o + ((b0 + b) * f + gi * fg + k) * outSize;
              if (!bi) {
                std::copy_n(src, outSize, dst);
                continue;
              }
              T add = bi[gi * fg + k];
              for (int64_t i = 0; i < outSize; ++i)
                dst[i] = src[i] + add;
            }
          });
        }
      }
    }
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_max_pool2d(const gp_tensor *x, const int64_t *kernel,
                                       const int64_t *strides, const int64_t *pads,
                                       const int64_t *dilations, gp_tensor *out) {
  if (gp_status s = checkNCHW(x, out, "max_pool2d"))
    return s;
  Window g = geometry(x, out, kernel, strides, pads, dilations);
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    parallelFor(g.n * g.c, g.oh * g.ow * g.kh * g.kw, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const T *plane = in + p * g.h * g.w;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            T best = -std::numeric_limits<T>::infinity();
            forEachInWindow(g, oy, ox, [&](int64_t at) { best = std::max(best, plane[at]); });
            o[(p * g.oh + oy) * g.ow + ox] = best;
          }
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_avg_pool2d(const gp_tensor *x, const int64_t *kernel,
                                       const int64_t *strides, const int64_t *pads,
                                       bool countIncludePad, gp_tensor *out) {
  if (gp_status s = checkNCHW(x, out, "avg_pool2d"))
    return s;
  Window g = geometry(x, out, kernel, strides, pads, nullptr);
  int64_t pb = pads[2], pr = pads[3];
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    parallelFor(g.n * g.c, g.oh * g.ow * g.kh * g.kw, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const T *plane = in + p * g.h * g.w;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            int64_t y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl;
            // With count_include_pad the divisor counts padding, but not the
            // part of a ceil-mode window beyond the padded input.
            int64_t y1 = std::min(y0 + g.kh, g.h + pb), x1 = std::min(x0 + g.kw, g.w + pr);
            int64_t padded = (y1 - y0) * (x1 - x0);
            int64_t ya = std::max<int64_t>(y0, 0), yb = std::min(y0 + g.kh, g.h);
            int64_t xa = std::max<int64_t>(x0, 0), xb = std::min(x0 + g.kw, g.w);
            T sum = 0;
            for (int64_t iy = ya; iy < yb; ++iy)
              for (int64_t ix = xa; ix < xb; ++ix)
                sum += plane[iy * g.w + ix];
            int64_t count = countIncludePad ? padded : (yb - ya) * (xb - xa);
            o[(p * g.oh + oy) * g.ow + ox] = count > 0 ? sum / T(count) : T(0);
          }
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_global_pool(const gp_tensor *x, bool isMax, gp_tensor *out) {
  if (gp_status s = checkNCHW(x, out, "global_pool"))
    return s;
  int64_t planes = x->dims[0] * x->dims[1], size = x->dims[2] * x->dims[3];
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    for (int64_t p = 0; p < planes; ++p) {
      const T *plane = in + p * size;
      T acc = isMax ? -std::numeric_limits<T>::infinity() : T(0);
      for (int64_t i = 0; i < size; ++i)
        acc = isMax ? std::max(acc, plane[i]) : acc + plane[i];
      o[p] = isMax ? acc : acc / T(size);
    }
    return GP_OK;
  });
}
