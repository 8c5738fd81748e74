//===- MatMulTest.cpp - matmul and gemm against naive loops ---------------===//

#include "TestUtil.h"

using namespace gptest;

namespace {
std::vector<float> naive(const std::vector<float> &a, const std::vector<float> &b, int64_t m,
                         int64_t k, int64_t n, bool ta, bool tb) {
  std::vector<float> c(m * n, 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += double(ta ? a[p * m + i] : a[i * k + p]) * double(tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = (float)s;
    }
  return c;
}
} // namespace

TEST(MatMul, BatchedWithBroadcast) {
  auto a = randomF32({3, 5, 7}, 1);
  auto b = randomF32({7, 4}, 2);
  Tensor<float> out(GP_F32, {3, 5, 4});
  ASSERT_GP_OK(gp_cpu_matmul(&a, &b, &out));
  for (int64_t batch = 0; batch < 3; ++batch) {
    std::vector<float> ab(a.data.begin() + batch * 35, a.data.begin() + (batch + 1) * 35);
    std::vector<float> want = naive(ab, b.data, 5, 7, 4, false, false);
    std::vector<float> got(out.data.begin() + batch * 20, out.data.begin() + (batch + 1) * 20);
    EXPECT_LT(relError(got, want), 1e-6);
  }
}

TEST(MatMul, VectorOperands) {
  auto a = randomF32({6}, 3);
  auto b = randomF32({6, 2}, 4);
  Tensor<float> out(GP_F32, {2});
  ASSERT_GP_OK(gp_cpu_matmul(&a, &b, &out));
  EXPECT_LT(relError(out.data, naive(a.data, b.data, 1, 6, 2, false, false)), 1e-6);
}

TEST(MatMul, RejectsMismatchedContraction) {
  auto a = randomF32({2, 3}, 5);
  auto b = randomF32({4, 2}, 6);
  Tensor<float> out(GP_F32, {2, 2});
  EXPECT_EQ(gp_cpu_matmul(&a, &b, &out), GP_ERROR);
}

TEST(MatMul, RejectsMixedElementTypesAndMissingOperands) {
  auto a = randomF32({2, 3}, 5);
  Tensor<double> b(GP_F64, {3, 2});
  Tensor<float> out(GP_F32, {2, 2});
  EXPECT_EQ(gp_cpu_matmul(&a, &b, &out), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("differ in element type"), std::string::npos)
      << gp_last_error();
  EXPECT_EQ(gp_cpu_matmul(&a, nullptr, &out), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("missing operand"), std::string::npos)
      << gp_last_error();
}

TEST(Gemm, TransposesAlphaBetaBias) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      int64_t m = 4, k = 9, n = 3;
      auto a = randomF32(ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}, 7);
      auto b = randomF32(tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, 8);
      auto c = randomF32({n}, 9);
      Tensor<float> out(GP_F32, {m, n});
      ASSERT_GP_OK(gp_cpu_gemm(&a, &b, &c, 0.5f, 2.0f, ta, tb, &out));
      std::vector<float> want = naive(a.data, b.data, m, k, n, ta, tb);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          want[i * n + j] = 0.5f * want[i * n + j] + 2.0f * c[j];
      EXPECT_LT(relError(out.data, want), 1e-6) << "ta=" << ta << " tb=" << tb;
    }
}
