//===- internal.h - shared helpers of the CPU runtime -----------*- C++ -*-===//

#ifndef GPIPE_RUNTIME_INTERNAL_H
#define GPIPE_RUNTIME_INTERNAL_H

#include "common.h"

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <omp.h>
#include <string>
#include <vector>

namespace gp {

/// bfloat16: the upper half of an IEEE binary32, rounded to nearest even.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) { // NaN stays a (quiet) NaN
      bits = uint16_t((u >> 16) | 0x40);
      return;
    }
    bits = uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  template <typename U, std::enable_if_t<std::is_arithmetic_v<U>, int> = 0>
  bf16(U v) : bf16(float(v)) {}
  bf16(_Float16 h) : bf16(float(h)) {}
  operator float() const {
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

/// Runs body(begin, end) over [0, n) in chunks on the runtime's threads when
/// `n * costPerItem` is large enough to pay for them.
template <typename Body>
void parallelFor(int64_t n, int64_t costPerItem, Body body) {
  constexpr int64_t kMinWork = 1 << 15;
  if (n <= 1 || n * costPerItem < kMinWork) {
    body(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    int64_t chunk = (n + threads - 1) / threads;
    int64_t begin = me * chunk, end = begin + chunk < n ? begin + chunk : n;
    if (begin < end)
      body(begin, end);
  }
}

/// Calls fn(T{}) for the floating-point dtypes.
template <typename Fn> gp_status dispatchFloat(gp_dtype dtype, Fn fn) {
  switch (dtype) {
  case GP_F32: return fn(float{});
  case GP_F64: return fn(double{});
  default: return fail(std::string("unsupported element type ") + gp_dtype_name(dtype));
  }
}

/// Calls fn(T{}) for every numeric dtype (bool as uint8_t).
template <typename Fn> gp_status dispatchAll(gp_dtype dtype, Fn fn) {
  switch (dtype) {
  case GP_F32: return fn(float{});
  case GP_F64: return fn(double{});
  case GP_I64: return fn(int64_t{});
  case GP_I32: return fn(int32_t{});
  case GP_I16: return fn(int16_t{});
  case GP_I8: return fn(int8_t{});
  case GP_U8: return fn(uint8_t{});
  case GP_BOOL: return fn(uint8_t{});
  default: return fail("unknown element type");
  }
}

/// dispatchAll plus the 16-bit floats (only for kernels that just convert).
template <typename Fn> gp_status dispatchAllWithHalves(gp_dtype dtype, Fn fn) {
  switch (dtype) {
  case GP_F16: return fn(_Float16{});
  case GP_BF16: return fn(bf16{});
  default: return dispatchAll(dtype, fn);
  }
}


inline bool isHalf(gp_dtype d) { return d == GP_F16 || d == GP_BF16; }

/// An f32 copy of a tensor (for f16/bf16 operands computed in f32).
struct F32Copy {
  std::vector<float> data;
  gp_tensor view;
};
F32Copy toF32(const gp_tensor *t);
/// A zeroed f32 tensor shaped like `t`.
F32Copy f32Like(const gp_tensor *t);
/// Writes `src` (f32) into `dst` (f16 or bf16), rounding to nearest even.
void fromF32(const F32Copy &src, gp_tensor *dst);

/// Reads index i of an integer tensor (i64 or i32) as int64.
inline int64_t indexAt(const gp_tensor *t, int64_t i) {
  return t->dtype == GP_I64 ? static_cast<const int64_t *>(t->data)[i]
                            : static_cast<const int32_t *>(t->data)[i];
}

} // namespace gp

#endif // GPIPE_RUNTIME_INTERNAL_H
