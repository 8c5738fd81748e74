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

template <typename T>
gp_status binaryKernel(gp_binary_op op, const gp_tensor *a, const gp_tensor *b,
                       gp_tensor *out) {
  std::vector<int64_t> dims = dimsOf(out);
  std::array<std::vector<int64_t>, 2> strides;
  if (!broadcastStrides(a, dims, strides[0]) || !broadcastStrides(b, dims, strides[1]))
    return fail("operands " + describe(a) + " and " + describe(b) +
                " do not broadcast to " + describe(out));
  const T *x = static_cast<const T *>(a->data), *y = static_cast<const T *>(b->data);
  bool compare = op >= GP_EQUAL && op <= GP_GREATER_EQUAL;
  if (compare) {
    if (out->dtype != GP_BOOL)
      return fail("comparison result must be bool, got " + describe(out));
    auto *o = static_cast<uint8_t *>(out->data);
    forEachBroadcast<2>(dims, strides, 1, [&](int64_t i, const std::array<int64_t, 2> &k) {
      T l = x[k[0]], r = y[k[1]];
      bool v = op == GP_EQUAL ? l == r : op == GP_LESS ? l < r
             : op == GP_LESS_EQUAL ? l <= r : op == GP_GREATER ? l > r : l >= r;
      o[i] = v;
    });
    return GP_OK;
  }
  if (out->dtype != a->dtype)
    return fail("result " + describe(out) + " differs in element type from " + describe(a));
  T *o = static_cast<T *>(out->data);
  if (op == GP_DIV && std::is_integral_v<T>) {
    for (int64_t i = 0, n = gp_numel(b); i < n; ++i)
      if (y[i] == T(0))
        return fail("integer division by zero");
  }
  forEachBroadcast<2>(dims, strides, op == GP_POW ? 8 : 1,
                      [&](int64_t i, const std::array<int64_t, 2> &k) {
    T l = x[k[0]], r = y[k[1]];
    switch (op) {
    case GP_ADD: o[i] = l + r; break;
    case GP_SUB: o[i] = l - r; break;
    case GP_MUL: o[i] = l * r; break;
    case GP_DIV: o[i] = l / r; break;
    case GP_POW: o[i] = static_cast<T>(std::pow(double(l), double(r))); break;
    case GP_MAX: o[i] = (std::is_floating_point_v<T> && std::isnan((double)l)) ? l : (l > r ? l : r); break;
    case GP_MIN: o[i] = (std::is_floating_point_v<T> && std::isnan((double)l)) ? l : (l < r ? l : r); break;
    case GP_AND: o[i] = l && r; break;
    case GP_OR: o[i] = l || r; break;
    default: break;
    }
  });
  return GP_OK;
}
} // namespace

extern "C" gp_status gp_cpu_unary(gp_unary_op op, const gp_tensor *x,
                                  double p0, double p1, gp_tensor *out) {
  if (!x || !out)
    return fail("unary: missing operand");
  if (x->dtype != out->dtype || dimsOf(x) != dimsOf(out))
    return fail("unary: result " + describe(out) + " differs from operand " + describe(x));
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
    parallelFor(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k)
        o[k] = applyUnary<T>(op, i[k], p0, p1);
    });
    return GP_OK;
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
  size_t size = gp_dtype_size(out->dtype);
  const auto *c = static_cast<const uint8_t *>(cond->data);
  const auto *x = static_cast<const char *>(a->data), *y = static_cast<const char *>(b->data);
  auto *o = static_cast<char *>(out->data);
  forEachBroadcast<3>(dims, strides, 1, [&](int64_t i, const std::array<int64_t, 3> &k) {
    const char *src = c[k[0]] ? x + k[1] * size : y + k[2] * size;
    for (size_t s = 0; s < size; ++s)
      o[i * size + s] = src[s];
  });
  return GP_OK;
}

extern "C" gp_status gp_cpu_cast(const gp_tensor *x, gp_tensor *out) {
  if (!x || !out)
    return fail("cast: missing operand");
  if (dimsOf(x) != dimsOf(out))
    return fail("cast: result " + describe(out) + " differs in shape from " + describe(x));
  int64_t n = gp_numel(x);
  return dispatchAll(x->dtype, [&](auto inTag) {
    using In = decltype(inTag);
    const In *i = static_cast<const In *>(x->data);
    return dispatchAll(out->dtype, [&](auto outTag) {
      using Out = decltype(outTag);
      Out *o = static_cast<Out *>(out->data);
      bool toBool = out->dtype == GP_BOOL;
      for (int64_t k = 0; k < n; ++k)
        o[k] = toBool ? Out(i[k] != In(0)) : static_cast<Out>(i[k]);
      return GP_OK;
    });
  });
}
