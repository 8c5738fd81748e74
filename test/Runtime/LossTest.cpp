//===- LossTest.cpp - nll and softmax cross-entropy -----------------------===//

#include "TestUtil.h"

using namespace gptest;

namespace {
double logSoftmaxAt(const Tensor<float> &s, int64_t row, int64_t cls, int64_t c) {
  double mx = -1e30, sum = 0;
  for (int64_t j = 0; j < c; ++j)
    mx = std::max(mx, (double)s[row * c + j]);
  for (int64_t j = 0; j < c; ++j)
    sum += std::exp(s[row * c + j] - mx);
  return s[row * c + cls] - mx - std::log(sum);
}
} // namespace

TEST(Loss, SoftmaxCrossEntropyMeanWithWeightsAndIgnore) {
  auto scores = randomF32({4, 5}, 1, -3, 3);
  auto weights = randomF32({5}, 2, 0.5f, 2.0f);
  Tensor<int64_t> labels(GP_I64, {4});
  labels.data = {1, 4, -100, 0};
  labels.view.data = labels.data.data();
  Tensor<float> out(GP_F32, {});
  ASSERT_GP_OK(gp_cpu_softmax_cross_entropy(&scores, &labels, &weights, GP_LOSS_MEAN, true,
                                            -100, &out));
  double num = 0, den = 0;
  for (int64_t i = 0; i < 4; ++i) {
    if (labels[i] == -100)
      continue;
    num -= weights[labels[i]] * logSoftmaxAt(scores, i, labels[i], 5);
    den += weights[labels[i]];
  }
  EXPECT_NEAR(out[0], num / den, 1e-5);
}

TEST(Loss, NllNoneKeepsPerElementLosses) {
  auto input = randomF32({3, 4}, 3);
  Tensor<int32_t> labels(GP_I32, {3});
  labels.data = {3, 0, 2};
  labels.view.data = labels.data.data();
  Tensor<float> out(GP_F32, {3});
  ASSERT_GP_OK(gp_cpu_nll_loss(&input, &labels, nullptr, GP_LOSS_NONE, false, 0, &out));
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(out[i], -input[i * 4 + labels[i]]);
  labels[1] = 7;
  EXPECT_EQ(gp_cpu_nll_loss(&input, &labels, nullptr, GP_LOSS_NONE, false, 0, &out), GP_ERROR);
}
