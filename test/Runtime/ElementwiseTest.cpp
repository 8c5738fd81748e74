//===- ElementwiseTest.cpp - unary, binary, where and cast kernels --------===//

#include "TestUtil.h"

#include <cmath>
#include <cstdint>

using namespace gptest;

TEST(Elementwise, UnaryMatchesLibm) {
  auto x = randomF32({3, 17}, 1, -3.0f, 3.0f);
  struct Case {
    gp_unary_op op;
    double (*ref)(double);
  } cases[] = {
      {GP_NEG, [](double v) { return -v; }},
      {GP_ABS, [](double v) { return std::fabs(v); }},
      {GP_EXP, [](double v) { return std::exp(v); }},
      {GP_ERF, [](double v) { return std::erf(v); }},
      {GP_TANH, [](double v) { return std::tanh(v); }},
      {GP_SIGMOID, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {GP_RELU, [](double v) { return v > 0 ? v : 0; }},
      {GP_FLOOR, [](double v) { return std::floor(v); }},
      {GP_SIN, [](double v) { return std::sin(v); }},
  };
  for (const Case &c : cases) {
    Tensor<float> out(GP_F32, {3, 17});
    ASSERT_GP_OK(gp_cpu_unary(c.op, &x, 0, 0, &out));
    std::vector<float> want(x.size());
    for (int64_t i = 0; i < x.size(); ++i)
      want[i] = (float)c.ref(x[i]);
    EXPECT_LT(relError(out.data, want), 1e-6) << "op " << c.op;
  }
}

TEST(Elementwise, ParameterizedUnary) {
  auto x = randomF32({64}, 2, -8.0f, 8.0f);
  Tensor<float> out(GP_F32, {64});
  ASSERT_GP_OK(gp_cpu_unary(GP_CLIP, &x, 0.0, 6.0, &out));
  for (int64_t i = 0; i < x.size(); ++i)
    EXPECT_FLOAT_EQ(out[i], std::min(6.0f, std::max(0.0f, x[i])));
  ASSERT_GP_OK(gp_cpu_unary(GP_LEAKY_RELU, &x, 0.1, 0, &out));
  for (int64_t i = 0; i < x.size(); ++i)
    EXPECT_FLOAT_EQ(out[i], x[i] >= 0 ? x[i] : 0.1f * x[i]);
  ASSERT_GP_OK(gp_cpu_unary(GP_GELU, &x, 0, 0, &out));
  for (int64_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(out[i], 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0))), 1e-5);
}

TEST(Elementwise, BinaryBroadcasts) {
  auto a = randomF32({2, 3, 4}, 3);
  auto b = randomF32({3, 1}, 4);
  Tensor<float> out(GP_F32, {2, 3, 4});
  ASSERT_GP_OK(gp_cpu_binary(GP_SUB, &a, &b, &out));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k)
        EXPECT_FLOAT_EQ(out[(i * 3 + j) * 4 + k], a[(i * 3 + j) * 4 + k] - b[j]);
}

TEST(Elementwise, ComparisonWritesBool) {
  auto a = randomF32({5}, 5);
  auto b = randomF32({1}, 6);
  Tensor<uint8_t> out(GP_BOOL, {5});
  ASSERT_GP_OK(gp_cpu_binary(GP_LESS, &a, &b, &out));
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_EQ(out[i], a[i] < b[0]);
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor<int64_t> a(GP_I64, {4}), b(GP_I64, {4}), out(GP_I64, {4});
  for (int i = 0; i < 4; ++i) {
    a[i] = 10 * (i + 1);
    b[i] = i + 1;
  }
  ASSERT_GP_OK(gp_cpu_binary(GP_DIV, &a, &b, &out));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(out[i], 10);
  b[2] = 0;
  EXPECT_EQ(gp_cpu_binary(GP_DIV, &a, &b, &out), GP_ERROR);
  EXPECT_STREQ(gp_last_error(), "integer division by zero");
}

TEST(Elementwise, ModTakesTheDivisorsSignFmodTheDividends) {
  Tensor<int64_t> a(GP_I64, {4}), b(GP_I64, {4}), out(GP_I64, {4});
  const int64_t lhs[4] = {7, -7, 7, INT64_MIN}, rhs[4] = {3, 3, -3, -1};
  for (int i = 0; i < 4; ++i) {
    a[i] = lhs[i];
    b[i] = rhs[i];
  }
  ASSERT_GP_OK(gp_cpu_binary(GP_MOD, &a, &b, &out));
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(out[2], -2);
  EXPECT_EQ(out[3], 0);
  ASSERT_GP_OK(gp_cpu_binary(GP_FMOD, &a, &b, &out));
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], -1);
  EXPECT_EQ(out[2], 1);
  EXPECT_EQ(out[3], 0);
  b[1] = 0;
  EXPECT_EQ(gp_cpu_binary(GP_MOD, &a, &b, &out), GP_ERROR);
  EXPECT_STREQ(gp_last_error(), "integer remainder by zero");

  auto x = randomF32({6}, 11);
  Tensor<float> y(GP_F32, {}), r(GP_F32, {6});
  y[0] = -0.3f;
  ASSERT_GP_OK(gp_cpu_binary(GP_FMOD, &x, &y, &r));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(r[i], std::fmod(x[i], -0.3f));
  EXPECT_EQ(gp_cpu_binary(GP_MOD, &x, &y, &r), GP_ERROR);
}

TEST(Elementwise, RejectsShapesThatDoNotBroadcast) {
  auto a = randomF32({2, 3}, 7);
  auto b = randomF32({4}, 8);
  Tensor<float> out(GP_F32, {2, 3});
  EXPECT_EQ(gp_cpu_binary(GP_ADD, &a, &b, &out), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("do not broadcast"), std::string::npos);
}

TEST(Elementwise, WhereSelectsWithBroadcast) {
  Tensor<uint8_t> c(GP_BOOL, {2, 1});
  c[0] = 1;
  auto a = randomF32({2, 3}, 9);
  Tensor<float> b(GP_F32, {});
  b[0] = -5.0f;
  Tensor<float> out(GP_F32, {2, 3});
  ASSERT_GP_OK(gp_cpu_where(&c, &a, &b, &out));
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(out[j], a[j]);
    EXPECT_EQ(out[3 + j], -5.0f);
  }
}

// The dense path (a gradient's where(mask, dy, 0)), large enough to run on
// several threads, and 8-byte and 1-byte elements.
TEST(Elementwise, WhereDenseWithScalarAndOtherSizes) {
  const int64_t n = 1 << 16;
  Tensor<uint8_t> c(GP_BOOL, {n});
  auto a = randomF32({n}, 11);
  Tensor<float> zero(GP_F32, {});
  zero[0] = 0.5f;
  for (int64_t i = 0; i < n; ++i)
    c[i] = a[i] > 0.0f;
  Tensor<float> out(GP_F32, {n});
  ASSERT_GP_OK(gp_cpu_where(&c, &a, &zero, &out));
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], a[i] > 0.0f ? a[i] : 0.5f) << i;

  Tensor<int64_t> x(GP_I64, {n}), y(GP_I64, {n}), o(GP_I64, {n});
  for (int64_t i = 0; i < n; ++i) {
    x[i] = (int64_t(1) << 40) + i;
    y[i] = -i;
  }
  ASSERT_GP_OK(gp_cpu_where(&c, &x, &y, &o));
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(o[i], c[i] ? x[i] : y[i]) << i;

  Tensor<uint8_t> t(GP_BOOL, {}), f(GP_BOOL, {4}), r(GP_BOOL, {4});
  t[0] = 1;
  Tensor<uint8_t> m(GP_BOOL, {4});
  m[1] = m[3] = 1;
  ASSERT_GP_OK(gp_cpu_where(&m, &t, &f, &r));
  EXPECT_EQ(r.data, (std::vector<uint8_t>{0, 1, 0, 1}));
}

TEST(Elementwise, CastTruncatesAndMakesBooleans) {
  Tensor<float> x(GP_F32, {4});
  x.data = {-1.7f, 0.0f, 2.9f, 0.2f};
  x.view.data = x.data.data();
  Tensor<int32_t> i(GP_I32, {4});
  ASSERT_GP_OK(gp_cpu_cast(&x, &i));
  EXPECT_EQ(i.data, (std::vector<int32_t>{-1, 0, 2, 0}));
  Tensor<uint8_t> b(GP_BOOL, {4});
  ASSERT_GP_OK(gp_cpu_cast(&x, &b));
  EXPECT_EQ(b.data, (std::vector<uint8_t>{1, 0, 1, 1}));
}

TEST(Elementwise, HalfPrecisionCastsRoundToNearestEven) {
  Tensor<float> x(GP_F32, {4});
  // 1 + 2^-11 lies halfway between two f16 values: ties go to even (1.0).
  x.data = {1.0f + 1.0f / 2048, 0.1f, -65504.0f, 3.14159f};
  x.view.data = x.data.data();
  Tensor<uint16_t> h(GP_F16, {4}), b(GP_BF16, {4});
  ASSERT_GP_OK(gp_cpu_cast(&x, &h));
  ASSERT_GP_OK(gp_cpu_cast(&x, &b));
  EXPECT_EQ(h[0], 0x3c00); // 1.0
  EXPECT_EQ(h[2], 0xfbff); // -65504, the largest f16
  EXPECT_EQ(b[3], 0x4049); // 3.140625 (3.14159 rounds up from 0x4048_fd0)
  Tensor<float> back(GP_F32, {4});
  ASSERT_GP_OK(gp_cpu_cast(&h, &back));
  EXPECT_NEAR(back[1], 0.1f, 1e-4);
  ASSERT_GP_OK(gp_cpu_cast(&b, &back));
  EXPECT_FLOAT_EQ(back[3], 3.140625f);
}

TEST(Elementwise, HalfPrecisionArithmeticInF32) {
  Tensor<float> a32(GP_F32, {3}), b32(GP_F32, {3});
  a32.data = {1.5f, -2.0f, 0.25f};
  b32.data = {0.5f, 3.0f, -1.0f};
  a32.view.data = a32.data.data();
  b32.view.data = b32.data.data();
  Tensor<uint16_t> a(GP_F16, {3}), b(GP_F16, {3}), out(GP_F16, {3});
  ASSERT_GP_OK(gp_cpu_cast(&a32, &a));
  ASSERT_GP_OK(gp_cpu_cast(&b32, &b));
  ASSERT_GP_OK(gp_cpu_binary(GP_MAX, &a, &b, &out));
  Tensor<float> back(GP_F32, {3});
  ASSERT_GP_OK(gp_cpu_cast(&out, &back));
  EXPECT_EQ(back.data, (std::vector<float>{1.5f, 3.0f, 0.25f}));
  Tensor<uint8_t> less(GP_BOOL, {3});
  ASSERT_GP_OK(gp_cpu_binary(GP_LESS, &a, &b, &less));
  EXPECT_EQ(less.data, (std::vector<uint8_t>{0, 1, 0}));
}
