//===- conv_grad.cpp - backward of convolution and pooling ----------------===//

#include "../internal.h"
#include "kernels.h"

#include <algorithm>
#include <cstring>

using namespace gp;

namespace {
gp_status window(const gp_tensor *in, const gp_tensor *out, const int64_t *kernel,
                 const int64_t *strides, const int64_t *pads, const int64_t *dilations,
                 const char *what, Window &g) {
  if (!in || !out || in->rank != 4 || out->rank != 4 || in->dtype != out->dtype ||
      in->dims[0] != out->dims[0])
    return fail(std::string(what) + ": expects NCHW tensors of one element type and batch");
  g = {in->dims[0], in->dims[1], in->dims[2], in->dims[3], out->dims[2], out->dims[3],
       kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1],
       dilations ? dilations[0] : 1, dilations ? dilations[1] : 1};
  return GP_OK;
}

/// The adjoint of im2col: adds each column entry back to its input pixel.
template <typename T>
void col2im(const T *cols, int64_t channels, const Window &g, int64_t ld, T *x) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T *row = cols + ((c * g.kh + i) * g.kw + j) * ld;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          int64_t iy = oy * g.sh - g.pt + i * g.dh;
          if (iy < 0 || iy >= g.h)
            continue;
          T *dst = x + (c * g.h + iy) * g.w;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            int64_t ix = ox * g.sw - g.pl + j * g.dw;
            if (ix >= 0 && ix < g.w)
              dst[ix] += row[oy * g.ow + ox];
          }
        }
      }
}

} // namespace

extern "C" gp_status gp_cpu_conv2d_grad_input(const gp_tensor *dy, const gp_tensor *w,
                                              const int64_t *strides, const int64_t *pads,
                                              const int64_t *dilations, int64_t groups,
                                              gp_tensor *dx) {
  Window g{};
  if (!w || w->rank != 4)
    return fail("conv2d_grad_input: weight must have rank 4");
  if (gp_status s = window(dx, dy, w->dims + 2, strides, pads, dilations, "conv2d_grad_input", g))
    return s;
  int64_t f = w->dims[0], cg = w->dims[1];
  if (groups < 1 || cg * groups != g.c || dy->dims[1] != f || f % groups)
    return fail("conv2d_grad_input: channels do not agree");
  return dispatchFloat(dy->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T *>(dy->data), *wt = static_cast<const T *>(w->data);
    T *o = static_cast<T *>(dx->data);
    std::fill(o, o + gp_numel(dx), T(0));
    int64_t fg = f / groups, colRows = cg * g.kh * g.kw, outSize = g.oh * g.ow;
    std::vector<T> cols(colRows * outSize);
    for (int64_t b = 0; b < g.n; ++b)
      for (int64_t gi = 0; gi < groups; ++gi) {
        gemm<T>(true, false, colRows, outSize, fg, 1.0, wt + gi * fg * colRows,
                d + (b * f + gi * fg) * outSize, 0.0, cols.data());
        col2im(cols.data(), cg, g, outSize, o + (b * g.c + gi * cg) * g.h * g.w);
      }
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_conv2d_grad_weight(const gp_tensor *dy, const gp_tensor *x,
                                               const int64_t *strides, const int64_t *pads,
                                               const int64_t *dilations, int64_t groups,
                                               gp_tensor *dw) {
  Window g{};
  if (!dw || dw->rank != 4)
    return fail("conv2d_grad_weight: weight gradient must have rank 4");
  if (gp_status s = window(x, dy, dw->dims + 2, strides, pads, dilations, "conv2d_grad_weight", g))
    return s;
  int64_t f = dw->dims[0], cg = dw->dims[1];
  if (groups < 1 || cg * groups != g.c || dy->dims[1] != f || f % groups)
    return fail("conv2d_grad_weight: channels do not agree");
  return dispatchFloat(dy->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T *>(dy->data), *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(dw->data);
    int64_t fg = f / groups, colRows = cg * g.kh * g.kw, outSize = g.oh * g.ow;
    std::vector<T> cols(colRows * outSize);
    std::fill(o, o + gp_numel(dw), T(0));
    for (int64_t b = 0; b < g.n; ++b)
      for (int64_t gi = 0; gi < groups; ++gi) {
        im2col(in + (b * g.c + gi * cg) * g.h * g.w, cg, g, cols.data(), outSize);
        gemm<T>(false, true, fg, colRows, outSize, 1.0, d + (b * f + gi * fg) * outSize,
                cols.data(), 1.0, o + gi * fg * colRows);
      }
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_max_pool2d_grad(const gp_tensor *dy, const gp_tensor *x,
                                            const int64_t *kernel, const int64_t *strides,
                                            const int64_t *pads, const int64_t *dilations,
                                            gp_tensor *dx) {
  Window g{};
  if (gp_status s = window(x, dy, kernel, strides, pads, dilations, "max_pool2d_grad", g))
    return s;
  return dispatchFloat(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data), *d = static_cast<const T *>(dy->data);
    T *o = static_cast<T *>(dx->data);
    // Each (image, channel) plane of dx is written by its own windows only:
    // the planes go to the threads as the forward's do.
    parallelFor(g.n * g.c, g.h * g.w + g.oh * g.ow * g.kh * g.kw, [&](int64_t begin,
                                                                      int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const T *plane = in + p * g.h * g.w;
        T *out = o + p * g.h * g.w;
        std::fill(out, out + g.h * g.w, T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            int64_t best = -1;
            forEachInWindow(g, oy, ox, [&](int64_t at) {
              if (best < 0 || plane[at] > plane[best])
                best = at;
            });
            if (best >= 0)
              out[best] += d[(p * g.oh + oy) * g.ow + ox];
          }
      }
    });
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_avg_pool2d_grad(const gp_tensor *dy, const int64_t *kernel,
                                            const int64_t *strides, const int64_t *pads,
                                            bool countIncludePad, gp_tensor *dx) {
  Window g{};
  if (gp_status s = window(dx, dy, kernel, strides, pads, nullptr, "avg_pool2d_grad", g))
    return s;
  int64_t pb = pads[2], pr = pads[3];
  return dispatchFloat(dy->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T *>(dy->data);
    T *o = static_cast<T *>(dx->data);
    // Planes are independent, as in the max pool's gradient.
    parallelFor(g.n * g.c, g.h * g.w + g.oh * g.ow * g.kh * g.kw, [&](int64_t begin,
                                                                      int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        T *plane = o + p * g.h * g.w;
        std::fill(plane, plane + g.h * g.w, T(0));
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            // The same windows and divisors as gp_cpu_avg_pool2d.
            int64_t y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl;
            int64_t y1 = std::min(y0 + g.kh, g.h + pb), x1 = std::min(x0 + g.kw, g.w + pr);
            int64_t ya = std::max<int64_t>(y0, 0), yb = std::min(y0 + g.kh, g.h);
            int64_t xa = std::max<int64_t>(x0, 0), xb = std::min(x0 + g.kw, g.w);
            int64_t count = countIncludePad ? (y1 - y0) * (x1 - x0) : (yb - ya) * (xb - xa);
            if (count <= 0)
              continue;
            T share = d[(p * g.oh + oy) * g.ow + ox] / T(count);
            for (int64_t iy = ya; iy < yb; ++iy)
              for (int64_t ix = xa; ix < xb; ++ix)
                plane[iy * g.w + ix] += share;
          }
      }
    });
    return GP_OK;
  });
}
