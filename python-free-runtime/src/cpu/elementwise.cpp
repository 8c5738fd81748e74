//===- elementwise.cpp - unary, binary, where and cast kernels ------------===//

#include "broadcast.h"

#include <cmath>
#include <type_traits>

using namespace gp;

namespace {
template <typename T> T applyUnary(gp_unary_op op, T x, double p0, double p1) {
  using std::abs;
  switch (op) {
  case GP_NEG: return -x;
  case GP_ABS: return x < T(0) ? -x : x;
  case GP_SQRT: return std::sqrt(x);
  case GP_EXP: return std::exp(x);
  case GP_LOG: return std::log(x);
  case GP_RECIPROCAL: return T(1) / x;
  case GP_ERF: return std::erf(x);
  case GP_TANH: return std::tanh(x);
  case GP_SIGMOID: return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
  case GP_RELU: return x > T(0) ? x : T(0);
  case GP_FLOOR: return std::floor(x);
  case GP_CEIL: return std::ceil(x);
  case GP_SIN: return std::sin(x);
  case GP_COS: return std::cos(x);
  case GP_LEAKY_RELU: return x >= T(0) ? x : T(p0) * x;
  case GP_GELU:
    if (p0 == 0)
      return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
    return T(0.5) * x *
           (T(1) + std::tanh(T(0.7978845608028654) * (x + T(0.044715) * x * x * x)));
  case GP_CLIP: {
    // Compare in double: an infinite bound must not wrap in an integer type.
    double v = double(x);
    return v < p0 ? T(p0) : (v > p1 ? T(p1) : x);
  }
  case GP_NOT: return x;
  }
  return x;
}

bool isFloatOnly(gp_unary_op op) {
  return op != GP_NEG && op != GP_ABS && op != GP_NOT && op != GP_CLIP;
}

/// Applies `fn` elementwise with broadcasting; the common layouts (same
/// shape, a scalar operand, a row broadcast over the last dimension) get tight
/// loops the compiler can vectorize.
template <typename T, typename R, typename Fn>
gp_status broadcastApply(const gp_tensor *a, const gp_tensor *b, gp_tensor *out, Fn fn) {
  std::vector<int64_t> dims = dimsOf(out);
  std::array<std::vector<int64_t>, 2> strides;
  if (!broadcastStrides(a, dims, strides[0]) || !broadcastStrides(b, dims, strides[1]))
    return fail("operands " + describe(a) + " and " + describe(b) +
                " do not broadcast to " + describe(out));
  const T *x = static_cast<const T *>(a->data), *y = static_cast<const T *>(b->data);
  R *o = static_cast<R *>(out->data);
  int64_t n = gp_numel(out), na = gp_numel(a), nb = gp_numel(b);
  if (na == n && nb == n) {
    parallelFor(n, 2, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        o[i] = fn(x[i], y[i]);
    });
    return GP_OK;
  }
  if (na == n && nb == 1) {
    T r = y[0];
    parallelFor(n, 2, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        o[i] = fn(x[i], r);
    });
    return GP_OK;
  }
  if (na == 1 && nb == n) {
    T l = x[0];
    parallelFor(n, 2, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        o[i] = fn(l, y[i]);
    });
    return GP_OK;
  }
  int64_t inner = dims.empty() ? 1 : dims.back();
  if (na == n && !dims.empty() && nb == inner && b->rank >= 1 && b->dims[b->rank - 1] == inner) {
    parallelFor(n / inner, inner * 2, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        for (int64_t j = 0; j < inner; ++j)
          o[r * inner + j] = fn(x[r * inner + j], y[j]);
    });
    return GP_OK;
  }
  forEachBroadcast<2>(dims, strides, 2, [&](int64_t i, const std::array<int64_t, 2> &k) {
    o[i] = fn(x[k[0]], y[k[1]]);
  });
  return GP_OK;
}

template <typename T>
gp_status binaryKernel(gp_binary_op op, const gp_tensor *a, const gp_tensor *b,
                       gp_tensor *out) {
  bool compare = op >= GP_EQUAL && op <= GP_GREATER_EQUAL;
  if (compare) {
    if (out->dtype != GP_BOOL)
      return fail("comparison result must be bool, got " + describe(out));
    switch (op) {
    case GP_EQUAL: return broadcastApply<T, uint8_t>(a, b, out, [](T l, T r) -> uint8_t { return l == r; });
    case GP_LESS: return broadcastApply<T, uint8_t>(a, b, out, [](T l, T r) -> uint8_t { return l < r; });
    case GP_LESS_EQUAL: return broadcastApply<T, uint8_t>(a, b, out, [](T l, T r) -> uint8_t { return l <= r; });
    case GP_GREATER: return broadcastApply<T, uint8_t>(a, b, out, [](T l, T r) -> uint8_t { return l > r; });
    default: return broadcastApply<T, uint8_t>(a, b, out, [](T l, T r) -> uint8_t { return l >= r; });
    }
  }
  if (out->dtype != a->dtype)
    return fail("result " + describe(out) + " differs in element type from " + describe(a));
  if ((op == GP_DIV || op == GP_FMOD || op == GP_MOD) && std::is_integral_v<T>) {
    const T *y = static_cast<const T *>(b->data);
    for (int64_t i = 0, n = gp_numel(b); i < n; ++i)
      if (y[i] == T(0))
        return fail(op == GP_DIV ? "integer division by zero" : "integer remainder by zero");
  }
  auto isNan = [](T v) {
    if constexpr (std::is_floating_point_v<T>)
      return std::isnan(v);
    return false;
  };
  switch (op) {
  case GP_ADD: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l + r); });
  case GP_SUB: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l - r); });
  case GP_MUL: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l * r); });
  case GP_DIV: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l / r); });
  case GP_POW:
    return broadcastApply<T, T>(a, b, out, [](T l, T r) {
      return static_cast<T>(std::pow(double(l), double(r)));
    });
  case GP_MAX:
    return broadcastApply<T, T>(a, b, out, [&](T l, T r) { return isNan(l) ? l : (l > r ? l : r); });
  case GP_MIN:
    return broadcastApply<T, T>(a, b, out, [&](T l, T r) { return isNan(l) ? l : (l < r ? l : r); });
  case GP_AND: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l && r); });
  case GP_FMOD:
    return broadcastApply<T, T>(a, b, out, [](T l, T r) {
      if constexpr (std::is_floating_point_v<T>)
        return T(std::fmod(l, r));
      else if constexpr (std::is_signed_v<T>)
        return r == T(-1) ? T(0) : T(l % r); // INT_MIN % -1 overflows in C++
      else
        return T(l % r);
    });
  case GP_MOD:
    if constexpr (std::is_floating_point_v<T>)
      return fail("mod with the divisor's sign needs integers (use fmod for floats)");
    else
      return broadcastApply<T, T>(a, b, out, [](T l, T r) {
        if constexpr (std::is_signed_v<T>)
          if (r == T(-1))
            return T(0);
        T m = T(l % r);
        return T(m != 0 && ((m < 0) != (r < 0)) ? m + r : m);
      });
  default: return broadcastApply<T, T>(a, b, out, [](T l, T r) { return T(l || r); });
  }
}
} // namespace

extern "C" gp_status gp_cpu_unary(gp_unary_op op, const gp_tensor *x,
                                  double p0, double p1, gp_tensor *out) {
  if (!x || !out)
    return fail("unary: missing operand");
  if (x->dtype != out->dtype || dimsOf(x) != dimsOf(out))
    return fail("unary: result " + describe(out) + " differs from operand " + describe(x));
  if (isHalf(x->dtype)) {
    F32Copy in = toF32(x), res = f32Like(out);
    if (gp_status s = gp_cpu_unary(op, &in.view, p0, p1, &res.view))
      return s;
    fromF32(res, out);
    return GP_OK;
  }
  int64_t n = gp_numel(x);
  if (op == GP_NOT) {
    if (x->dtype != GP_BOOL)
      return fail("not: operand must be bool, got " + describe(x));
    auto *i = static_cast<const uint8_t *>(x->data);
    auto *o = static_cast<uint8_t *>(out->data);
    for (int64_t k = 0; k < n; ++k)
      o[k] = !i[k];
    return GP_OK;
  }
  auto run = [&](auto tag) -> gp_status {
    using T = decltype(tag);
    if (isFloatOnly(op) && !std::is_floating_point_v<T>)
      return fail(std::string("unary op needs a floating-point operand, got ") + describe(x));
    const T *i = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    auto apply = [&](auto f) {
      parallelFor(n, 8, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k)
          o[k] = f(i[k]);
      });
      return GP_OK;
    };
    // The hot activations get loops of their own; the rest share one.
    switch (op) {
    case GP_RELU: return apply([](T v) { return v > T(0) ? v : T(0); });
    case GP_NEG: return apply([](T v) { return T(-v); });
    case GP_ERF:
      if constexpr (std::is_floating_point_v<T>)
        return apply([](T v) { return std::erf(v); });
      break;
    case GP_EXP:
      if constexpr (std::is_floating_point_v<T>)
        return apply([](T v) { return std::exp(v); });
      break;
    default:
      break;
    }
    return apply([&](T v) { return applyUnary<T>(op, v, p0, p1); });
  };
  return dispatchAll(x->dtype, run);
}

extern "C" gp_status gp_cpu_binary(gp_binary_op op, const gp_tensor *a,
                                   const gp_tensor *b, gp_tensor *out) {
  if (!a || !b || !out)
    return fail("binary: missing operand");
  if (a->dtype != b->dtype)
    return fail("binary: operands " + describe(a) + " and " + describe(b) +
                " differ in element type");
  if ((op == GP_AND || op == GP_OR) && a->dtype != GP_BOOL)
    return fail("and/or need bool operands");
  if (isHalf(a->dtype)) {
    F32Copy x = toF32(a), y = toF32(b);
    bool compare = op >= GP_EQUAL && op <= GP_GREATER_EQUAL;
    if (compare)
      return gp_cpu_binary(op, &x.view, &y.view, out);
    F32Copy res = f32Like(out);
    if (gp_status s = gp_cpu_binary(op, &x.view, &y.view, &res.view))
      return s;
    fromF32(res, out);
    return GP_OK;
  }
  return dispatchAll(a->dtype, [&](auto tag) { return binaryKernel<decltype(tag)>(op, a, b, out); });
}

extern "C" gp_status gp_cpu_where(const gp_tensor *cond, const gp_tensor *a,
                                  const gp_tensor *b, gp_tensor *out) {
  if (!cond || !a || !b || !out)
    return fail("where: missing operand");
  if (cond->dtype != GP_BOOL || a->dtype != b->dtype || out->dtype != a->dtype)
    return fail("where: bad element types");
  std::vector<int64_t> dims = dimsOf(out);
  std::array<std::vector<int64_t>, 3> strides;
  if (!broadcastStrides(cond, dims, strides[0]) || !broadcastStrides(a, dims, strides[1]) ||
      !broadcastStrides(b, dims, strides[2]))
    return fail("where: operands do not broadcast to " + describe(out));
  const auto *c = static_cast<const uint8_t *>(cond->data);
  // Elements are moved as unsigned words of their size: where selects, it
  // never converts.
  auto run = [&](auto tag) {
    using E = decltype(tag);
    const E *x = static_cast<const E *>(a->data), *y = static_cast<const E *>(b->data);
    E *o = static_cast<E *>(out->data);
    int64_t n = gp_numel(out);
    int64_t na = gp_numel(a), nb = gp_numel(b);
    // The common forms (a gradient's where(mask, dy, 0)): every operand
    // dense or a single element; one branch-free loop.
    if (gp_numel(cond) == n && (na == n || na == 1) && (nb == n || nb == 1)) {
      int64_t sa = na == n, sb = nb == n;
      parallelFor(n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          o[i] = c[i] ? x[i * sa] : y[i * sb];
      });
      return;
    }
    forEachBroadcast<3>(dims, strides, 1, [&](int64_t i, const std::array<int64_t, 3> &k) {
      o[i] = c[k[0]] ? x[k[1]] : y[k[2]];
    });
  };
  switch (gp_dtype_size(out->dtype)) {
  case 1: run(uint8_t{}); break;
  case 2: run(uint16_t{}); break;
  case 4: run(uint32_t{}); break;
  default: run(uint64_t{}); break;
  }
  return GP_OK;
}

extern "C" gp_status gp_cpu_cast(const gp_tensor *x, gp_tensor *out) {
  if (!x || !out)
    return fail("cast: missing operand");
  if (dimsOf(x) != dimsOf(out))
    return fail("cast: result " + describe(out) + " differs in shape from " + describe(x));
  int64_t n = gp_numel(x);
  return dispatchAllWithHalves(x->dtype, [&](auto inTag) {
    using In = decltype(inTag);
    const In *i = static_cast<const In *>(x->data);
    return dispatchAllWithHalves(out->dtype, [&](auto outTag) {
      using Out = decltype(outTag);
      Out *o = static_cast<Out *>(out->data);
      bool toBool = out->dtype == GP_BOOL;
      for (int64_t k = 0; k < n; ++k) {
        // Through float when either side is a 16-bit float.
        if constexpr (std::is_same_v<In, bf16> || std::is_same_v<In, _Float16> ||
                      std::is_same_v<Out, bf16> || std::is_same_v<Out, _Float16>) {
          double v;
          if constexpr (std::is_integral_v<In> || std::is_same_v<In, double>)
            v = double(i[k]);
          else
            v = double(float(i[k]));
          o[k] = toBool ? Out(v != 0.0) : Out(v);
        } else {
          o[k] = toBool ? Out(i[k] != In(0)) : static_cast<Out>(i[k]);
        }
      }
      return GP_OK;
    });
  });
}
