//===- kernels.h - C++ building blocks shared by CPU kernels ----*- C++ -*-===//

#ifndef GPIPE_RUNTIME_CPU_KERNELS_H
#define GPIPE_RUNTIME_CPU_KERNELS_H

#include <cstdint>

namespace gp {
/// C[m, n] = alpha * op(A) op(B) + beta * C, row-major, through BLAS.
template <typename T>
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
          double alpha, const T *a, const T *b, double beta, T *c);
/// The geometry of a 2-D window sliding over an NCHW input.
struct Window {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw;
};

/// Calls fn(iy * w + ix) for each input pixel in output (oy, ox)'s window,
/// row by row, skipping the padding: the order the max pool and its
/// gradient both scan a window in.
template <typename Fn>
void forEachInWindow(const Window &g, int64_t oy, int64_t ox, Fn fn) {
  for (int64_t i = 0; i < g.kh; ++i) {
    int64_t iy = oy * g.sh - g.pt + i * g.dh;
    if (iy < 0 || iy >= g.h)
      continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      int64_t ix = ox * g.sw - g.pl + j * g.dw;
      if (ix >= 0 && ix < g.w)
        fn(iy * g.w + ix);
    }
  }
}

/// How many images one im2col GEMM takes: as many as keep its column
/// buffer (`colsPerImage` elements each) under 2^23 elements, at least one.
inline int64_t imagesPerGemm(int64_t images, int64_t colsPerImage) {
  constexpr int64_t kColsBudget = int64_t(1) << 23;
  int64_t fit = kColsBudget / (colsPerImage > 0 ? colsPerImage : 1);
  return fit < 1 ? 1 : fit < images ? fit : images;
}

/// cols[(c * kh + i) * kw + j][oy * ow + ox] = x[c][oy*sh - pt + i*dh][ox*sw - pl + j*dw]
/// (zero in the padding), with rows `ld` elements apart.
template <typename T>
void im2col(const T *x, int64_t channels, const Window &g, T *cols, int64_t ld) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T *row = cols + ((c * g.kh + i) * g.kw + j) * ld;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          int64_t iy = oy * g.sh - g.pt + i * g.dh;
          T *dst = row + oy * g.ow;
          if (iy < 0 || iy >= g.h) {
            for (int64_t ox = 0; ox < g.ow; ++ox)
              dst[ox] = T(0);
            continue;
          }
          const T *src = x + (c * g.h + iy) * g.w;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            int64_t ix = ox * g.sw - g.pl + j * g.dw;
            dst[ox] = ix >= 0 && ix < g.w ? src[ix] : T(0);
          }
        }
      }
}
} // namespace gp

#endif // GPIPE_RUNTIME_CPU_KERNELS_H
