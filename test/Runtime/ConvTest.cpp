//===- ConvTest.cpp - convolution and pooling against direct loops --------===//

#include "TestUtil.h"

#include <limits>

using namespace gptest;

namespace {
struct ConvCase {
  int64_t n, c, h, w, f, k, stride, pad, dilation, groups;
};

std::vector<float> directConv(const Tensor<float> &x, const Tensor<float> &wt,
                              const Tensor<float> &b, const ConvCase &p, int64_t oh,
                              int64_t ow) {
  int64_t cg = p.c / p.groups, fg = p.f / p.groups;
  std::vector<float> out(p.n * p.f * oh * ow);
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t f = 0; f < p.f; ++f)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          double s = b[f];
          int64_t g = f / fg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < p.k; ++i)
              for (int64_t j = 0; j < p.k; ++j) {
                int64_t iy = y * p.stride - p.pad + i * p.dilation;
                int64_t ix = xo * p.stride - p.pad + j * p.dilation;
                if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w)
                  continue;
                s += double(x[((n * p.c + g * cg + c) * p.h + iy) * p.w + ix]) *
                     double(wt[((f * cg + c) * p.k + i) * p.k + j]);
              }
          out[((n * p.f + f) * oh + y) * ow + xo] = (float)s;
        }
  return out;
}
} // namespace

TEST(Conv2d, MatchesDirectConvolution) {
  ConvCase cases[] = {
      {2, 3, 9, 8, 4, 3, 1, 1, 1, 1},  // same padding
      {1, 4, 10, 10, 6, 3, 2, 0, 1, 2}, // strided, grouped
      {2, 4, 7, 7, 4, 3, 1, 2, 2, 4},  // depthwise, dilated
      {1, 5, 6, 6, 3, 1, 1, 0, 1, 1},  // pointwise
  };
  unsigned seed = 1;
  for (const ConvCase &p : cases) {
    int64_t span = p.dilation * (p.k - 1) + 1;
    int64_t oh = (p.h + 2 * p.pad - span) / p.stride + 1;
    int64_t ow = (p.w + 2 * p.pad - span) / p.stride + 1;
    auto x = randomF32({p.n, p.c, p.h, p.w}, seed++);
    auto w = randomF32({p.f, p.c / p.groups, p.k, p.k}, seed++);
    auto b = randomF32({p.f}, seed++);
    Tensor<float> out(GP_F32, {p.n, p.f, oh, ow});
    int64_t strides[2] = {p.stride, p.stride}, pads[4] = {p.pad, p.pad, p.pad, p.pad},
            dil[2] = {p.dilation, p.dilation};
    ASSERT_GP_OK(gp_cpu_conv2d(&x, &w, &b, strides, pads, dil, p.groups, &out));
    EXPECT_LT(relError(out.data, directConv(x, w, b, p, oh, ow)), 1e-5)
        << "groups " << p.groups << " stride " << p.stride;
  }
}

TEST(Conv2d, RejectsChannelMismatch) {
  auto x = randomF32({1, 3, 5, 5}, 1);
  auto w = randomF32({2, 2, 3, 3}, 2);
  Tensor<float> out(GP_F32, {1, 2, 3, 3});
  int64_t s[2] = {1, 1}, p[4] = {0, 0, 0, 0}, d[2] = {1, 1};
  EXPECT_EQ(gp_cpu_conv2d(&x, &w, nullptr, s, p, d, 1, &out), GP_ERROR);
}

TEST(Pool, MaxIgnoresPadding) {
  Tensor<float> x(GP_F32, {1, 1, 2, 2});
  x.data = {-1, -2, -3, -4};
  x.view.data = x.data.data();
  Tensor<float> out(GP_F32, {1, 1, 2, 2});
  int64_t k[2] = {2, 2}, s[2] = {1, 1}, p[4] = {1, 1, 0, 0}, d[2] = {1, 1};
  ASSERT_GP_OK(gp_cpu_max_pool2d(&x, k, s, p, d, &out));
  EXPECT_EQ(out.data, (std::vector<float>{-1, -1, -1, -1}));
}

TEST(Pool, AverageCountsPaddingOnlyWhenAsked) {
  Tensor<float> x(GP_F32, {1, 1, 2, 2});
  x.data = {1, 2, 3, 4};
  x.view.data = x.data.data();
  Tensor<float> out(GP_F32, {1, 1, 2, 2});
  int64_t k[2] = {2, 2}, s[2] = {1, 1}, p[4] = {1, 1, 0, 0};
  ASSERT_GP_OK(gp_cpu_avg_pool2d(&x, k, s, p, false, &out));
  EXPECT_EQ(out.data, (std::vector<float>{1, 1.5f, 2, 2.5f}));
  ASSERT_GP_OK(gp_cpu_avg_pool2d(&x, k, s, p, true, &out));
  EXPECT_EQ(out.data, (std::vector<float>{0.25f, 0.75f, 1, 2.5f}));
}

// The gradients at a size that splits the planes over threads (the CNN's
// 3x3 stride-2 max pool, whose windows overlap), against direct loops.
TEST(Pool, GradientsOfManyPlanesMatchDirectLoops) {
  const int64_t n = 8, c = 16, h = 32, w = 32, oh = 16, ow = 16;
  auto x = randomF32({n, c, h, w}, 21);
  auto dy = randomF32({n, c, oh, ow}, 22);
  Tensor<float> dx(GP_F32, {n, c, h, w});
  int64_t k[2] = {3, 3}, s[2] = {2, 2}, p[4] = {1, 1, 1, 1}, d[2] = {1, 1};
  ASSERT_GP_OK(gp_cpu_max_pool2d_grad(&dy, &x, k, s, p, d, &dx));
  std::vector<float> want(n * c * h * w, 0.0f);
  for (int64_t q = 0; q < n * c; ++q)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t best = -1;
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 3; ++j) {
            int64_t iy = oy * 2 - 1 + i, ix = ox * 2 - 1 + j;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
              continue;
            int64_t at = q * h * w + iy * w + ix;
            if (best < 0 || x[at] > x[best])
              best = at;
          }
        want[best] += dy[(q * oh + oy) * ow + ox];
      }
  EXPECT_EQ(dx.data, want);

  int64_t k2[2] = {2, 2}, p0[4] = {0, 0, 0, 0};
  ASSERT_GP_OK(gp_cpu_avg_pool2d_grad(&dy, k2, s, p0, false, &dx));
  for (int64_t q = 0; q < n * c; ++q)
    for (int64_t iy = 0; iy < h; ++iy)
      for (int64_t ix = 0; ix < w; ++ix)
        ASSERT_EQ(dx[q * h * w + iy * w + ix], dy[(q * oh + iy / 2) * ow + ix / 2] / 4.0f)
            << q << " " << iy << " " << ix;
}

TEST(Pool, GlobalAverageAndMax) {
  auto x = randomF32({2, 3, 4, 5}, 3);
  Tensor<float> avg(GP_F32, {2, 3, 1, 1}), mx(GP_F32, {2, 3, 1, 1});
  ASSERT_GP_OK(gp_cpu_global_pool(&x, false, &avg));
  ASSERT_GP_OK(gp_cpu_global_pool(&x, true, &mx));
  for (int64_t p = 0; p < 6; ++p) {
    double s = 0;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < 20; ++i) {
      s += x[p * 20 + i];
      m = std::max(m, x[p * 20 + i]);
    }
    EXPECT_NEAR(avg[p], s / 20, 1e-6);
    EXPECT_EQ(mx[p], m);
  }
}
