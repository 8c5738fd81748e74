//===- NormalizationTest.cpp - batch/layer norm, softmax, dropout ---------===//

#include "TestUtil.h"

using namespace gptest;

TEST(BatchNorm, InferenceUsesRunningStatistics) {
  auto x = randomF32({2, 3, 4}, 1);
  auto g = randomF32({3}, 2), b = randomF32({3}, 3), m = randomF32({3}, 4);
  auto v = randomF32({3}, 5, 0.5f, 2.0f);
  Tensor<float> out(GP_F32, {2, 3, 4});
  ASSERT_GP_OK(gp_cpu_batch_norm(&x, &g, &b, &m, &v, 1e-5f, &out));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 4; ++i) {
        int64_t k = (n * 3 + c) * 4 + i;
        EXPECT_NEAR(out[k], g[c] * (x[k] - m[c]) / std::sqrt(v[c] + 1e-5f) + b[c], 1e-5);
      }
}

TEST(BatchNorm, TrainingUsesBatchStatistics) {
  auto x = randomF32({4, 2, 3}, 6);
  auto g = randomF32({2}, 7), b = randomF32({2}, 8), rm = randomF32({2}, 9);
  auto rv = randomF32({2}, 10, 0.5f, 2.0f);
  Tensor<float> out(GP_F32, {4, 2, 3}), nm(GP_F32, {2}), nv(GP_F32, {2});
  ASSERT_GP_OK(gp_cpu_batch_norm_train(&x, &g, &b, &rm, &rv, 1e-5f, 0.9f, false, &out, &nm, &nv));
  for (int64_t c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i)
        mean += x[(n * 2 + c) * 3 + i] / 12.0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i)
        var += std::pow(x[(n * 2 + c) * 3 + i] - mean, 2) / 12.0;
    EXPECT_NEAR(nm[c], 0.9 * rm[c] + 0.1 * mean, 1e-6);
    EXPECT_NEAR(nv[c], 0.9 * rv[c] + 0.1 * var, 1e-6);
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i) {
        int64_t k = (n * 2 + c) * 3 + i;
        EXPECT_NEAR(out[k], g[c] * (x[k] - mean) / std::sqrt(var + 1e-5) + b[c], 1e-5);
      }
  }
}

TEST(BatchNorm, UnbiasedRunningVarianceAsPyTorch) {
  auto x = randomF32({5, 2}, 16);
  auto g = randomF32({2}, 17), b = randomF32({2}, 18), rm = randomF32({2}, 19);
  auto rv = randomF32({2}, 20, 0.5f, 2.0f);
  Tensor<float> out(GP_F32, {5, 2}), nm(GP_F32, {2}), biased(GP_F32, {2}), unbiased(GP_F32, {2});
  ASSERT_GP_OK(gp_cpu_batch_norm_train(&x, &g, &b, &rm, &rv, 1e-5f, 0.9f, false, &out, &nm, &biased));
  ASSERT_GP_OK(gp_cpu_batch_norm_train(&x, &g, &b, &rm, &rv, 1e-5f, 0.9f, true, &out, &nm, &unbiased));
  for (int c = 0; c < 2; ++c) {
    double batchVar = (biased[c] - 0.9 * rv[c]) / 0.1;
    EXPECT_NEAR(unbiased[c], 0.9 * rv[c] + 0.1 * batchVar * 5.0 / 4.0, 1e-5);
  }
}

TEST(LayerNorm, NormalizesTrailingDimensions) {
  auto x = randomF32({3, 2, 5}, 11);
  auto g = randomF32({2, 5}, 12), b = randomF32({2, 5}, 13);
  Tensor<float> out(GP_F32, {3, 2, 5});
  ASSERT_GP_OK(gp_cpu_layer_norm(&x, &g, &b, 1, 1e-5f, &out));
  for (int64_t r = 0; r < 3; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 10; ++i)
      mean += x[r * 10 + i] / 10.0;
    for (int64_t i = 0; i < 10; ++i)
      var += std::pow(x[r * 10 + i] - mean, 2) / 10.0;
    for (int64_t i = 0; i < 10; ++i)
      EXPECT_NEAR(out[r * 10 + i], (x[r * 10 + i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i],
                  1e-5);
  }
}

TEST(Softmax, RowsSumToOneAndLogMatches) {
  auto x = randomF32({4, 6, 3}, 14, -20.0f, 20.0f);
  Tensor<float> sm(GP_F32, {4, 6, 3}), lsm(GP_F32, {4, 6, 3});
  ASSERT_GP_OK(gp_cpu_softmax(&x, 1, false, &sm));
  ASSERT_GP_OK(gp_cpu_softmax(&x, 1, true, &lsm));
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t c = 0; c < 3; ++c) {
      double s = 0;
      for (int64_t i = 0; i < 6; ++i) {
        int64_t k = (a * 6 + i) * 3 + c;
        s += sm[k];
        EXPECT_NEAR(std::log(sm[k]), lsm[k], 1e-4 + 1e-5 * std::fabs(lsm[k]));
      }
      EXPECT_NEAR(s, 1.0, 1e-5);
    }
}

TEST(Dropout, KeepsAboutOneMinusRatioAndScales) {
  auto x = randomF32({10000}, 15, 1.0f, 2.0f);
  Tensor<float> out(GP_F32, {10000});
  Tensor<uint8_t> mask(GP_BOOL, {10000});
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.25f, true, 42, nullptr, &out, &mask));
  int64_t kept = 0;
  for (int64_t i = 0; i < 10000; ++i) {
    if (mask[i]) {
      ++kept;
      EXPECT_FLOAT_EQ(out[i], x[i] / 0.75f);
    } else {
      EXPECT_EQ(out[i], 0.0f);
    }
  }
  EXPECT_NEAR(kept / 10000.0, 0.75, 0.02);
  // The seed fixes the stream; another seed drops other elements.
  Tensor<float> again(GP_F32, {10000});
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.25f, true, 42, nullptr, &again, nullptr));
  EXPECT_EQ(out.data, again.data);
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.25f, true, 43, nullptr, &again, nullptr));
  EXPECT_NE(out.data, again.data);
  // Outside training it is the identity.
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.25f, false, 42, nullptr, &out, &mask));
  EXPECT_EQ(out.data, x.data);
}

// The stream operand: stream 0 part 0 is the stream without one; each
// stream (training step) draws another mask; and a tensor split into equal
// outermost parts draws, part by part, exactly the whole tensor's mask, so
// micro-batches reproduce the mini-batch's dropout.
TEST(Dropout, StreamsAndPartsSplitTheWholeMask) {
  const int64_t rows = 12, cols = 37, parts = 4;
  auto x = randomF32({rows, cols}, 16, 0.5f, 1.5f);
  Tensor<int64_t> rng(GP_I64, {2});
  rng[0] = 0;
  rng[1] = 0;
  Tensor<float> whole(GP_F32, {rows, cols}), plain(GP_F32, {rows, cols});
  Tensor<uint8_t> wholeMask(GP_BOOL, {rows, cols});
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.3f, true, 9, &rng, &whole, &wholeMask));
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.3f, true, 9, nullptr, &plain, nullptr));
  EXPECT_EQ(whole.data, plain.data);

  rng[0] = 5; // Step 5.
  ASSERT_GP_OK(gp_cpu_dropout(&x, 0.3f, true, 9, &rng, &whole, &wholeMask));
  EXPECT_NE(whole.data, plain.data) << "streams 0 and 5 drew the same mask";
  int64_t per = rows / parts * cols;
  for (int64_t p = 0; p < parts; ++p) {
    Tensor<float> slice(GP_F32, {rows / parts, cols}), out(GP_F32, {rows / parts, cols});
    Tensor<uint8_t> mask(GP_BOOL, {rows / parts, cols});
    for (int64_t i = 0; i < per; ++i)
      slice[i] = x[p * per + i];
    rng[1] = p;
    ASSERT_GP_OK(gp_cpu_dropout(&slice, 0.3f, true, 9, &rng, &out, &mask));
    for (int64_t i = 0; i < per; ++i) {
      ASSERT_EQ(mask[i], wholeMask[p * per + i]) << "part " << p << ", element " << i;
      ASSERT_EQ(out[i], whole[p * per + i]) << "part " << p << ", element " << i;
    }
  }
  // A stream operand that is not i64[2] is an error.
  Tensor<int64_t> bad(GP_I64, {3});
  EXPECT_EQ(gp_cpu_dropout(&x, 0.3f, true, 9, &bad, &whole, nullptr), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("i64[2]"), std::string::npos) << gp_last_error();
}
