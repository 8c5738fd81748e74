//===- ReductionTest.cpp - sum, mean, max and min over axes ---------------===//

#include "TestUtil.h"

using namespace gptest;

TEST(Reduce, OverMiddleAndOuterAxes) {
  auto x = randomF32({2, 3, 4}, 1);
  int64_t axes[] = {0, 2};
  Tensor<float> sum(GP_F32, {1, 3, 1}), mean(GP_F32, {3}), mx(GP_F32, {3}), mn(GP_F32, {3});
  ASSERT_GP_OK(gp_cpu_reduce(GP_REDUCE_SUM, &x, axes, 2, &sum));
  ASSERT_GP_OK(gp_cpu_reduce(GP_REDUCE_MEAN, &x, axes, 2, &mean));
  ASSERT_GP_OK(gp_cpu_reduce(GP_REDUCE_MAX, &x, axes, 2, &mx));
  ASSERT_GP_OK(gp_cpu_reduce(GP_REDUCE_MIN, &x, axes, 2, &mn));
  for (int64_t j = 0; j < 3; ++j) {
    double s = 0;
    float hi = -1e30f, lo = 1e30f;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 4; ++k) {
        float v = x[(i * 3 + j) * 4 + k];
        s += v;
        hi = std::max(hi, v);
        lo = std::min(lo, v);
      }
    EXPECT_NEAR(sum[j], s, 1e-5);
    EXPECT_NEAR(mean[j], s / 8, 1e-6);
    EXPECT_EQ(mx[j], hi);
    EXPECT_EQ(mn[j], lo);
  }
}

// Reduced axes that form one block run on the runtime's threads (over the
// kept outer index, or over chunks of the kept inner one): each result folds
// its inputs in order, in double, so it equals a direct loop to the bit.
TEST(Reduce, ContiguousAxesOnThreadsEqualDirectLoops) {
  struct Case {
    std::vector<int64_t> dims, axes;
  };
  for (const Case &c : {Case{{512, 1024}, {0}}, Case{{1024, 96}, {1}}, Case{{8, 64, 256}, {1}},
                        Case{{4, 16, 8, 128}, {1, 2}}}) {
    auto x = randomF32(c.dims, 31);
    int64_t A = 1, R = 1, B = 1;
    for (size_t d = 0; d < c.dims.size(); ++d)
      (d < size_t(c.axes.front()) ? A : d <= size_t(c.axes.back()) ? R : B) *= c.dims[d];
    for (gp_reduce_op op : {GP_REDUCE_SUM, GP_REDUCE_MEAN, GP_REDUCE_MAX}) {
      Tensor<float> out(GP_F32, {A * B});
      ASSERT_GP_OK(gp_cpu_reduce(op, &x, c.axes.data(), int32_t(c.axes.size()), &out));
      for (int64_t a = 0; a < A; ++a)
        for (int64_t b = 0; b < B; ++b) {
          double acc = op == GP_REDUCE_MAX ? -INFINITY : 0.0;
          for (int64_t r = 0; r < R; ++r) {
            double v = x[(a * R + r) * B + b];
            acc = op == GP_REDUCE_MAX ? (v > acc ? v : acc) : acc + v;
          }
          float want = float(op == GP_REDUCE_MEAN ? acc / double(R) : acc);
          ASSERT_EQ(out[a * B + b], want) << "op " << op << " at " << a << "," << b;
        }
    }
  }
}

TEST(Reduce, NoAxesReducesEverything) {
  Tensor<int64_t> x(GP_I64, {2, 2});
  x.data = {1, 2, 3, 4};
  x.view.data = x.data.data();
  Tensor<int64_t> out(GP_I64, {});
  ASSERT_GP_OK(gp_cpu_reduce(GP_REDUCE_SUM, &x, nullptr, 0, &out));
  EXPECT_EQ(out[0], 10);
}

TEST(Reduce, RejectsWrongResultSize) {
  auto x = randomF32({2, 3}, 2);
  int64_t axes[] = {1};
  Tensor<float> out(GP_F32, {3});
  EXPECT_EQ(gp_cpu_reduce(GP_REDUCE_SUM, &x, axes, 1, &out), GP_ERROR);
}

TEST(Reduce, ArgMaxAndMinWithTies) {
  Tensor<float> x(GP_F32, {2, 4});
  x.data = {1, 5, 5, 0, -1, -3, 2, -3};
  x.view.data = x.data.data();
  Tensor<int64_t> out(GP_I64, {2});
  ASSERT_GP_OK(gp_cpu_arg_reduce(&x, 1, true, false, &out));
  EXPECT_EQ(out.data, (std::vector<int64_t>{1, 2}));
  ASSERT_GP_OK(gp_cpu_arg_reduce(&x, 1, true, true, &out));
  EXPECT_EQ(out.data, (std::vector<int64_t>{2, 2}));
  ASSERT_GP_OK(gp_cpu_arg_reduce(&x, 1, false, false, &out));
  EXPECT_EQ(out.data, (std::vector<int64_t>{3, 1}));
  ASSERT_GP_OK(gp_cpu_arg_reduce(&x, 1, false, true, &out));
  EXPECT_EQ(out.data, (std::vector<int64_t>{3, 3}));
}
