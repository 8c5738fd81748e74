//===- TestUtil.h - helpers for the runtime's unit tests --------*- C++ -*-===//

#ifndef GPIPE_TEST_RUNTIME_TESTUTIL_H
#define GPIPE_TEST_RUNTIME_TESTUTIL_H

#include "gpipe/runtime/gp_runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace gptest {

/// A tensor owning its storage, with a gp_tensor view.
template <typename T> struct Tensor {
  std::vector<T> data;
  gp_tensor view{};

  Tensor(gp_dtype dtype, std::vector<int64_t> dims) {
    gp_tensor_init(&view, dtype, (int32_t)dims.size(), dims.data());
    data.assign(gp_numel(&view), T(0));
    view.data = data.data();
  }
  int64_t size() const { return (int64_t)data.size(); }
  T &operator[](int64_t i) { return data[i]; }
  const T &operator[](int64_t i) const { return data[i]; }
  gp_tensor *operator&() { return &view; }
};

inline Tensor<float> randomF32(std::vector<int64_t> dims, unsigned seed, float lo = -1.0f,
                               float hi = 1.0f) {
  Tensor<float> t(GP_F32, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &v : t.data)
    v = dist(rng);
  return t;
}

/// ||got - want|| / ||want||.
template <typename T>
double relError(const std::vector<T> &got, const std::vector<T> &want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - double(want[i])) * (double(got[i]) - double(want[i]));
    den += double(want[i]) * double(want[i]);
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

#define EXPECT_GP_OK(call) EXPECT_EQ((call), GP_OK) << gp_last_error()
#define ASSERT_GP_OK(call) ASSERT_EQ((call), GP_OK) << gp_last_error()

} // namespace gptest

#endif // GPIPE_TEST_RUNTIME_TESTUTIL_H
