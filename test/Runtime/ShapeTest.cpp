//===- ShapeTest.cpp - transpose, concat, slice, expand, gather -----------===//

#include "TestUtil.h"

using namespace gptest;

TEST(Shape, TransposePermutes) {
  auto x = randomF32({2, 3, 4}, 1);
  Tensor<float> out(GP_F32, {4, 2, 3});
  int64_t perm[] = {2, 0, 1};
  ASSERT_GP_OK(gp_cpu_transpose(&x, perm, &out));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k)
        EXPECT_EQ(out[(k * 2 + i) * 3 + j], x[(i * 3 + j) * 4 + k]);
}

TEST(Shape, ConcatAlongMiddleAxis) {
  auto a = randomF32({2, 1, 3}, 2), b = randomF32({2, 2, 3}, 3);
  Tensor<float> out(GP_F32, {2, 3, 3});
  const gp_tensor *inputs[] = {&a.view, &b.view};
  ASSERT_GP_OK(gp_cpu_concat(inputs, 2, 1, &out));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ(out[(i * 3 + 0) * 3 + k], a[i * 3 + k]);
      EXPECT_EQ(out[(i * 3 + 2) * 3 + k], b[(i * 2 + 1) * 3 + k]);
    }
}

TEST(Shape, SliceWithNegativeStep) {
  Tensor<int32_t> x(GP_I32, {2, 5});
  for (int i = 0; i < 10; ++i)
    x[i] = i;
  Tensor<int32_t> out(GP_I32, {2, 2});
  int64_t starts[] = {0, 4}, steps[] = {1, -2};
  ASSERT_GP_OK(gp_cpu_slice(&x, starts, steps, &out));
  EXPECT_EQ(out.data, (std::vector<int32_t>{4, 2, 9, 7}));
  int64_t bad[] = {0, 5};
  EXPECT_EQ(gp_cpu_slice(&x, bad, steps, &out), GP_ERROR);
}

TEST(Shape, ExpandBroadcasts) {
  auto x = randomF32({3, 1}, 4);
  Tensor<float> out(GP_F32, {2, 3, 4});
  ASSERT_GP_OK(gp_cpu_expand(&x, &out));
  for (int64_t i = 0; i < 24; ++i)
    EXPECT_EQ(out[i], x[(i / 4) % 3]);
}

TEST(Shape, GatherRowsWithNegativeIndices) {
  auto table = randomF32({5, 3}, 5);
  Tensor<int64_t> ids(GP_I64, {2, 2});
  ids.data = {0, 4, -1, 2};
  ids.view.data = ids.data.data();
  Tensor<float> out(GP_F32, {2, 2, 3});
  ASSERT_GP_OK(gp_cpu_gather(&table, &ids, 0, &out));
  int64_t rows[] = {0, 4, 4, 2};
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 3; ++c)
      EXPECT_EQ(out[r * 3 + c], table[rows[r] * 3 + c]);
  ids[0] = 5;
  EXPECT_EQ(gp_cpu_gather(&table, &ids, 0, &out), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("out of range"), std::string::npos);
}
