//===- elementwise.cu - unary, binary, where, cast and dropout kernels ----===//
//
// The CUDA counterparts of cpu/elementwise.cpp and the CPU dropout. Ops are
// template parameters so that each kernel's inner loop is branch-free;
// broadcast operands are read through gp::cuda::offsetOf after the host has
// merged the dimensions every operand walks contiguously.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"
#include "../random.h"

#include <cuda_fp16.h>

#include <array>
#include <cmath>
#include <type_traits>

using namespace gp;
using gp::cuda::blocksFor;
using gp::cuda::kThreads;
using gp::cuda::Shape;
using gp::cuda::isNan;

namespace {

//===----------------------------------------------------------------------===//
// Broadcast operands
//===----------------------------------------------------------------------===//

/// How a kernel finds an operand's element for output element i; the cheap
/// cases skip offsetOf's divisions.
enum class Access : int32_t { Linear, Scalar, Strided };

struct Operand {
  Access access = Access::Linear;
  Shape shape;
};

__device__ __forceinline__ int64_t offsetIn(const Operand &op, int64_t i) {
  switch (op.access) {
  case Access::Linear: return i;
  case Access::Scalar: return 0;
  default: return gp::cuda::offsetOf(op.shape, i);
  }
}

/// Drops size-1 dimensions and merges neighbours that every operand walks as
/// one, so that offsetOf divides as few times as possible.
template <size_t N>
void collapseDims(std::vector<int64_t> &dims,
                  std::array<std::vector<int64_t>, N> &strides) {
  std::vector<int64_t> newDims;
  std::array<std::vector<int64_t>, N> newStrides;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1)
      continue;
    bool merge = !newDims.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = newStrides[k].back() == strides[k][d] * dims[d];
    if (merge) {
      newDims.back() *= dims[d];
      for (size_t k = 0; k < N; ++k)
        newStrides[k].back() = strides[k][d];
      continue;
    }
    newDims.push_back(dims[d]);
    for (size_t k = 0; k < N; ++k)
      newStrides[k].push_back(strides[k][d]);
  }
  dims = std::move(newDims);
  strides = std::move(newStrides);
}

Operand makeOperand(const std::vector<int64_t> &dims,
                    const std::vector<int64_t> &strides) {
  Operand op;
  op.shape.rank = static_cast<int32_t>(dims.size());
  bool scalar = true;
  for (size_t d = 0; d < dims.size(); ++d) {
    op.shape.dims[d] = dims[d];
    op.shape.strides[d] = strides[d];
    scalar = scalar && strides[d] == 0;
  }
  op.access = scalar                       ? Access::Scalar
              : strides == stridesOf(dims) ? Access::Linear
                                           : Access::Strided;
  return op;
}

/// The operands of an N-input broadcast op, or GP_ERROR when one does not
/// broadcast to `out`.
template <size_t N>
gp_status broadcastOperands(const std::array<const gp_tensor *, N> &inputs,
                            const gp_tensor *out,
                            std::array<Operand, N> &operands) {
  std::vector<int64_t> dims = dimsOf(out);
  std::array<std::vector<int64_t>, N> strides;
  for (size_t k = 0; k < N; ++k)
    if (!broadcastStrides(inputs[k], dims, strides[k]))
      return GP_ERROR;
  collapseDims(dims, strides);
  for (size_t k = 0; k < N; ++k)
    operands[k] = makeOperand(dims, strides[k]);
  return GP_OK;
}


//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

/// applyUnary of cpu/elementwise.cpp, in the same arithmetic.
template <gp_unary_op Op, typename T>
__device__ __forceinline__ T unaryOp(T x, double p0, double p1) {
  if constexpr (Op == GP_NEG)
    return -x;
  else if constexpr (Op == GP_ABS)
    return x < T(0) ? -x : x;
  else if constexpr (Op == GP_SQRT)
    return sqrt(x);
  else if constexpr (Op == GP_EXP)
    return exp(x);
  else if constexpr (Op == GP_LOG)
    return log(x);
  else if constexpr (Op == GP_RECIPROCAL)
    return T(1) / x;
  else if constexpr (Op == GP_ERF)
    return erf(x);
  else if constexpr (Op == GP_TANH)
    return tanh(x);
  else if constexpr (Op == GP_SIGMOID)
    // Either form exponentiates a non-positive number, so neither overflows.
    return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
  else if constexpr (Op == GP_RELU)
    return x > T(0) ? x : T(0);
  else if constexpr (Op == GP_FLOOR)
    return floor(x);
  else if constexpr (Op == GP_CEIL)
    return ceil(x);
  else if constexpr (Op == GP_SIN)
    return sin(x);
  else if constexpr (Op == GP_COS)
    return cos(x);
  else if constexpr (Op == GP_NOT)
    return T(!x);
  else if constexpr (Op == GP_LEAKY_RELU)
    return x >= T(0) ? x : T(p0) * x;
  else if constexpr (Op == GP_GELU) {
    if (p0 == 0)
      return T(0.5) * x * (T(1) + erf(x * T(M_SQRT1_2)));
    return T(0.5) * x *
           (T(1) + tanh(T(0.7978845608028654) * (x + T(0.044715) * x * x * x)));
  } else {
    static_assert(Op == GP_CLIP, "unhandled unary op");
    // Compare in double, as the CPU does; NaN passes through.
    double v = double(x);
    return v < p0 ? T(p0) : (v > p1 ? T(p1) : x);
  }
}

template <gp_unary_op Op, typename T>
__global__ void unaryKernel(const T *x, T *out, int64_t n, double p0,
                            double p1) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = unaryOp<Op, T>(x[i], p0, p1);
}

template <gp_unary_op Op, typename T>
gp_status launchUnary(gp_cuda_ctx *ctx, const gp_tensor *x, double p0,
                      double p1, gp_tensor *out) {
  int64_t n = gp_numel(x);
  unaryKernel<Op, T><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
      static_cast<const T *>(x->data), static_cast<T *>(out->data), n, p0, p1);
  return gp_cuda_check_launch("gp_cuda_unary");
}

template <typename T>
gp_status runUnary(gp_cuda_ctx *ctx, gp_unary_op op, const gp_tensor *x,
                   double p0, double p1, gp_tensor *out) {
  switch (op) {
  case GP_NEG: return launchUnary<GP_NEG, T>(ctx, x, p0, p1, out);
  case GP_ABS: return launchUnary<GP_ABS, T>(ctx, x, p0, p1, out);
  case GP_SQRT: return launchUnary<GP_SQRT, T>(ctx, x, p0, p1, out);
  case GP_EXP: return launchUnary<GP_EXP, T>(ctx, x, p0, p1, out);
  case GP_LOG: return launchUnary<GP_LOG, T>(ctx, x, p0, p1, out);
  case GP_RECIPROCAL: return launchUnary<GP_RECIPROCAL, T>(ctx, x, p0, p1, out);
  case GP_ERF: return launchUnary<GP_ERF, T>(ctx, x, p0, p1, out);
  case GP_TANH: return launchUnary<GP_TANH, T>(ctx, x, p0, p1, out);
  case GP_SIGMOID: return launchUnary<GP_SIGMOID, T>(ctx, x, p0, p1, out);
  case GP_RELU: return launchUnary<GP_RELU, T>(ctx, x, p0, p1, out);
  case GP_FLOOR: return launchUnary<GP_FLOOR, T>(ctx, x, p0, p1, out);
  case GP_CEIL: return launchUnary<GP_CEIL, T>(ctx, x, p0, p1, out);
  case GP_SIN: return launchUnary<GP_SIN, T>(ctx, x, p0, p1, out);
  case GP_COS: return launchUnary<GP_COS, T>(ctx, x, p0, p1, out);
  case GP_LEAKY_RELU: return launchUnary<GP_LEAKY_RELU, T>(ctx, x, p0, p1, out);
  case GP_GELU: return launchUnary<GP_GELU, T>(ctx, x, p0, p1, out);
  case GP_CLIP: return launchUnary<GP_CLIP, T>(ctx, x, p0, p1, out);
  case GP_NOT: break; // Bool only; the caller routes it.
  }
  return fail("unary: unknown op " + std::to_string(int(op)));
}

//===----------------------------------------------------------------------===//
// Binary
//===----------------------------------------------------------------------===//

constexpr bool isComparison(gp_binary_op op) {
  return op >= GP_EQUAL && op <= GP_GREATER_EQUAL;
}

/// -l without signed overflow (INT_MIN / -1 wraps to INT_MIN).
template <typename T> __device__ __forceinline__ T wrappingNeg(T l) {
  using U = std::make_unsigned_t<T>;
  return T(U(0) - U(l));
}

/// The binary ops of cpu/elementwise.cpp. Integer division and remainders by
/// zero, which the CPU rejects after scanning b on the host, give 0 here.
template <gp_binary_op Op, typename T>
__device__ __forceinline__ auto binaryOp(T l, T r) {
  constexpr bool isInt = std::is_integral_v<T>;
  if constexpr (Op == GP_ADD)
    return T(l + r);
  else if constexpr (Op == GP_SUB)
    return T(l - r);
  else if constexpr (Op == GP_MUL)
    return T(l * r);
  else if constexpr (Op == GP_DIV) {
    if constexpr (isInt) {
      if (r == T(0))
        return T(0);
      if constexpr (std::is_signed_v<T>)
        if (r == T(-1))
          return wrappingNeg(l);
    }
    return T(l / r);
  } else if constexpr (Op == GP_POW)
    return static_cast<T>(pow(double(l), double(r)));
  else if constexpr (Op == GP_MAX)
    // NaN in either operand wins, as on the CPU.
    return isNan(l) ? l : (l > r ? l : r);
  else if constexpr (Op == GP_MIN)
    return isNan(l) ? l : (l < r ? l : r);
  else if constexpr (Op == GP_EQUAL)
    return uint8_t(l == r);
  else if constexpr (Op == GP_LESS)
    return uint8_t(l < r);
  else if constexpr (Op == GP_LESS_EQUAL)
    return uint8_t(l <= r);
  else if constexpr (Op == GP_GREATER)
    return uint8_t(l > r);
  else if constexpr (Op == GP_GREATER_EQUAL)
    return uint8_t(l >= r);
  else if constexpr (Op == GP_AND)
    return T(l && r);
  else if constexpr (Op == GP_OR)
    return T(l || r);
  else if constexpr (Op == GP_FMOD) {
    if constexpr (isInt) {
      // r == -1 also avoids INT_MIN % -1, which overflows.
      if (r == T(0) || (std::is_signed_v<T> && r == T(-1)))
        return T(0);
      return T(l % r);
    } else {
      return T(fmod(l, r));
    }
  } else {
    static_assert(Op == GP_MOD && isInt, "mod needs integers");
    if (r == T(0) || (std::is_signed_v<T> && r == T(-1)))
      return T(0);
    T m = T(l % r);
    return T(m != 0 && ((m < 0) != (r < 0)) ? m + r : m);
  }
}

/// Dense: both operands have the output's shape, so every offset is i.
template <gp_binary_op Op, typename T, typename R, bool Dense>
__global__ void binaryKernel(const T *a, Operand sa, const T *b, Operand sb,
                             R *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (Dense)
      out[i] = binaryOp<Op, T>(a[i], b[i]);
    else
      out[i] = binaryOp<Op, T>(a[offsetIn(sa, i)], b[offsetIn(sb, i)]);
  }
}

template <gp_binary_op Op, typename T>
gp_status launchBinary(gp_cuda_ctx *ctx, const gp_tensor *a, const gp_tensor *b,
                       const Operand &sa, const Operand &sb, bool dense,
                       gp_tensor *out) {
  using R = std::conditional_t<isComparison(Op), uint8_t, T>;
  int64_t n = gp_numel(out);
  const T *x = static_cast<const T *>(a->data);
  const T *y = static_cast<const T *>(b->data);
  R *o = static_cast<R *>(out->data);
  if (dense)
    binaryKernel<Op, T, R, true>
        <<<blocksFor(n), kThreads, 0, ctx->stream>>>(x, sa, y, sb, o, n);
  else
    binaryKernel<Op, T, R, false>
        <<<blocksFor(n), kThreads, 0, ctx->stream>>>(x, sa, y, sb, o, n);
  return gp_cuda_check_launch("gp_cuda_binary");
}

/// Comparisons, shared by every element type.
template <typename T>
gp_status runComparison(gp_cuda_ctx *ctx, gp_binary_op op, const gp_tensor *a,
                        const gp_tensor *b, const Operand &sa,
                        const Operand &sb, bool dense, gp_tensor *out) {
  switch (op) {
  case GP_EQUAL:
    return launchBinary<GP_EQUAL, T>(ctx, a, b, sa, sb, dense, out);
  case GP_LESS: return launchBinary<GP_LESS, T>(ctx, a, b, sa, sb, dense, out);
  case GP_LESS_EQUAL:
    return launchBinary<GP_LESS_EQUAL, T>(ctx, a, b, sa, sb, dense, out);
  case GP_GREATER:
    return launchBinary<GP_GREATER, T>(ctx, a, b, sa, sb, dense, out);
  default:
    return launchBinary<GP_GREATER_EQUAL, T>(ctx, a, b, sa, sb, dense, out);
  }
}

/// Arithmetic and comparisons of a numeric type (the caller has routed
/// GP_AND and GP_OR to bool and GP_MOD away from floats).
template <typename T>
gp_status runNumeric(gp_cuda_ctx *ctx, gp_binary_op op, const gp_tensor *a,
                     const gp_tensor *b, const Operand &sa, const Operand &sb,
                     bool dense, gp_tensor *out) {
  switch (op) {
  case GP_ADD: return launchBinary<GP_ADD, T>(ctx, a, b, sa, sb, dense, out);
  case GP_SUB: return launchBinary<GP_SUB, T>(ctx, a, b, sa, sb, dense, out);
  case GP_MUL: return launchBinary<GP_MUL, T>(ctx, a, b, sa, sb, dense, out);
  case GP_DIV: return launchBinary<GP_DIV, T>(ctx, a, b, sa, sb, dense, out);
  case GP_POW: return launchBinary<GP_POW, T>(ctx, a, b, sa, sb, dense, out);
  case GP_MAX: return launchBinary<GP_MAX, T>(ctx, a, b, sa, sb, dense, out);
  case GP_MIN: return launchBinary<GP_MIN, T>(ctx, a, b, sa, sb, dense, out);
  case GP_FMOD: return launchBinary<GP_FMOD, T>(ctx, a, b, sa, sb, dense, out);
  case GP_MOD:
    if constexpr (std::is_integral_v<T>)
      return launchBinary<GP_MOD, T>(ctx, a, b, sa, sb, dense, out);
    break;
  case GP_AND:
  case GP_OR: break;
  default: return runComparison<T>(ctx, op, a, b, sa, sb, dense, out);
  }
  return fail("binary: op " + std::to_string(int(op)) + " does not apply to " +
              describe(a));
}

/// Bool operands: GP_AND, GP_OR and comparisons.
gp_status runBool(gp_cuda_ctx *ctx, gp_binary_op op, const gp_tensor *a,
                  const gp_tensor *b, const Operand &sa, const Operand &sb,
                  bool dense, gp_tensor *out) {
  if (op == GP_AND)
    return launchBinary<GP_AND, uint8_t>(ctx, a, b, sa, sb, dense, out);
  if (op == GP_OR)
    return launchBinary<GP_OR, uint8_t>(ctx, a, b, sa, sb, dense, out);
  if (isComparison(op))
    return runComparison<uint8_t>(ctx, op, a, b, sa, sb, dense, out);
  return fail("binary: op " + std::to_string(int(op)) +
              " does not apply to bool operands");
}

//===----------------------------------------------------------------------===//
// Where
//===----------------------------------------------------------------------===//

template <typename E>
__global__ void whereKernel(const uint8_t *cond, Operand sc, const E *a,
                            Operand sa, const E *b, Operand sb, E *out,
                            int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = cond[offsetIn(sc, i)] ? a[offsetIn(sa, i)] : b[offsetIn(sb, i)];
}

template <typename E>
gp_status launchWhere(gp_cuda_ctx *ctx, const gp_tensor *cond,
                      const gp_tensor *a, const gp_tensor *b,
                      const std::array<Operand, 3> &ops, gp_tensor *out) {
  int64_t n = gp_numel(out);
  whereKernel<E><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
      static_cast<const uint8_t *>(cond->data), ops[0],
      static_cast<const E *>(a->data), ops[1], static_cast<const E *>(b->data),
      ops[2], static_cast<E *>(out->data), n);
  return gp_cuda_check_launch("gp_cuda_where");
}

//===----------------------------------------------------------------------===//
// Cast
//===----------------------------------------------------------------------===//

/// Storage of the 16-bit floats; the conversions below do the arithmetic.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

template <typename T>
constexpr bool isHalfType =
    std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

__device__ __forceinline__ float toFloat(Half h) {
  __half_raw raw;
  raw.x = h.bits;
  return __half2float(__half(raw));
}

__device__ __forceinline__ float toFloat(BFloat16 h) {
  return __uint_as_float(uint32_t(h.bits) << 16);
}

/// The CPU's bf16 rounding: nearest even, NaN kept a quiet NaN.
__device__ __forceinline__ BFloat16 toBFloat16(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return BFloat16{uint16_t((u >> 16) | 0x40)};
  return BFloat16{uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

/// The CPU's conversion when either side is a 16-bit float: through double
/// (f32 and the halves widen through float first).
template <typename In> __device__ __forceinline__ double widen(In v) {
  if constexpr (isHalfType<In>)
    return double(toFloat(v));
  else
    return double(v);
}

template <typename Out, bool ToBool>
__device__ __forceinline__ Out narrow(double v) {
  if constexpr (ToBool) {
    return Out(v != 0.0);
  } else if constexpr (std::is_same_v<Out, Half>) {
    // One rounding from double, as _Float16(double) does.
    __half_raw raw = __double2half(v);
    return Half{raw.x};
  } else if constexpr (std::is_same_v<Out, BFloat16>) {
    // bf16(double) on the CPU rounds to float first.
    return toBFloat16(float(v));
  } else {
    return static_cast<Out>(v);
  }
}

/// ToBool: the output is GP_BOOL (stored as uint8_t), so nonzero becomes 1
/// rather than wrapping.
template <typename In, typename Out, bool ToBool>
__global__ void castKernel(const In *x, Out *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (isHalfType<In> || isHalfType<Out>)
      out[i] = narrow<Out, ToBool>(widen(x[i]));
    else if constexpr (ToBool)
      out[i] = Out(x[i] != In(0));
    else
      out[i] = static_cast<Out>(x[i]);
  }
}

/// Calls fn(T{}) with the storage type of `dtype` (bool as uint8_t).
template <typename Fn> gp_status dispatchCast(gp_dtype dtype, Fn fn) {
  switch (dtype) {
  case GP_F32: return fn(float{});
  case GP_F64: return fn(double{});
  case GP_I64: return fn(int64_t{});
  case GP_I32: return fn(int32_t{});
  case GP_I16: return fn(int16_t{});
  case GP_I8: return fn(int8_t{});
  case GP_U8:
  case GP_BOOL: return fn(uint8_t{});
  case GP_F16: return fn(Half{});
  case GP_BF16: return fn(BFloat16{});
  }
  return fail("cast: unknown element type");
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

/// The keep decisions of gp_cpu_dropout (random.h): element i of part
/// rng[1] of stream rng[0] (stream 0, part 0 without rng) is kept when its
/// uniform is at least the ratio.
template <typename T>
__global__ void dropoutKernel(const T *x, T *out, uint8_t *mask, int64_t n,
                              uint64_t seed, const int64_t *rng, double ratio,
                              T scale) {
  uint64_t key = gp::streamKey(seed, rng ? uint64_t(rng[0]) : 0);
  uint64_t first = rng ? uint64_t(rng[1]) * uint64_t(n) : 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    bool keep = gp::uniformAt(key, first + uint64_t(i)) >= ratio;
    out[i] = keep ? x[i] * scale : T(0);
    if (mask)
      mask[i] = keep;
  }
}

template <typename T>
gp_status launchDropout(gp_cuda_ctx *ctx, const gp_tensor *x, float ratio,
                        uint64_t seed, const gp_tensor *rng, gp_tensor *out,
                        uint8_t *mask) {
  int64_t n = gp_numel(x);
  T scale = T(1.0 / (1.0 - ratio));
  dropoutKernel<T><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
      static_cast<const T *>(x->data), static_cast<T *>(out->data), mask, n,
      seed, rng ? static_cast<const int64_t *>(rng->data) : nullptr,
      double(ratio), scale);
  return gp_cuda_check_launch("gp_cuda_dropout");
}

} // namespace

extern "C" gp_status gp_cuda_unary(gp_cuda_ctx *ctx, gp_unary_op op,
                                   const gp_tensor *x, double param0,
                                   double param1, gp_tensor *out) {
  if (!ctx || !x || !out)
    return fail("unary: missing operand");
  if (x->dtype != out->dtype || dimsOf(x) != dimsOf(out))
    return fail("unary: result " + describe(out) + " differs from operand " +
                describe(x));
  if (op == GP_NOT && x->dtype != GP_BOOL)
    return fail("not: operand must be bool, got " + describe(x));
  if (op != GP_NOT && x->dtype != GP_F32 && x->dtype != GP_F64)
    return fail("unary: the CUDA kernel needs an f32 or f64 operand, got " +
                describe(x));
  if (gp_numel(x) == 0)
    return GP_OK;
  switch (x->dtype) {
  case GP_F32: return runUnary<float>(ctx, op, x, param0, param1, out);
  case GP_F64: return runUnary<double>(ctx, op, x, param0, param1, out);
  default: return launchUnary<GP_NOT, uint8_t>(ctx, x, param0, param1, out);
  }
}

extern "C" gp_status gp_cuda_binary(gp_cuda_ctx *ctx, gp_binary_op op,
                                    const gp_tensor *a, const gp_tensor *b,
                                    gp_tensor *out) {
  if (!ctx || !a || !b || !out)
    return fail("binary: missing operand");
  if (a->dtype != b->dtype)
    return fail("binary: operands " + describe(a) + " and " + describe(b) +
                " differ in element type");
  if ((op == GP_AND || op == GP_OR) && a->dtype != GP_BOOL)
    return fail("and/or need bool operands");
  if (isComparison(op) && out->dtype != GP_BOOL)
    return fail("comparison result must be bool, got " + describe(out));
  if (!isComparison(op) && out->dtype != a->dtype)
    return fail("result " + describe(out) + " differs in element type from " +
                describe(a));
  if (op == GP_MOD && (a->dtype == GP_F32 || a->dtype == GP_F64))
    return fail(
        "mod with the divisor's sign needs integers (use fmod for floats)");
  std::array<Operand, 2> ops;
  if (broadcastOperands<2>({a, b}, out, ops) != GP_OK)
    return fail("operands " + describe(a) + " and " + describe(b) +
                " do not broadcast to " + describe(out));
  int64_t n = gp_numel(out);
  if (n == 0)
    return GP_OK;
  bool dense = gp_numel(a) == n && gp_numel(b) == n;
  switch (a->dtype) {
  case GP_F32:
    return runNumeric<float>(ctx, op, a, b, ops[0], ops[1], dense, out);
  case GP_F64:
    return runNumeric<double>(ctx, op, a, b, ops[0], ops[1], dense, out);
  case GP_I64:
    return runNumeric<int64_t>(ctx, op, a, b, ops[0], ops[1], dense, out);
  case GP_I32:
    return runNumeric<int32_t>(ctx, op, a, b, ops[0], ops[1], dense, out);
  case GP_BOOL: return runBool(ctx, op, a, b, ops[0], ops[1], dense, out);
  default:
    return fail("binary: the CUDA kernel does not support " + describe(a));
  }
}

extern "C" gp_status gp_cuda_where(gp_cuda_ctx *ctx, const gp_tensor *cond,
                                   const gp_tensor *a, const gp_tensor *b,
                                   gp_tensor *out) {
  if (!ctx || !cond || !a || !b || !out)
    return fail("where: missing operand");
  if (cond->dtype != GP_BOOL || a->dtype != b->dtype || out->dtype != a->dtype)
    return fail("where: bad element types");
  std::array<Operand, 3> ops;
  if (broadcastOperands<3>({cond, a, b}, out, ops) != GP_OK)
    return fail("where: operands do not broadcast to " + describe(out));
  if (gp_numel(out) == 0)
    return GP_OK;
  switch (gp_dtype_size(out->dtype)) {
  case 1: return launchWhere<uint8_t>(ctx, cond, a, b, ops, out);
  case 2: return launchWhere<uint16_t>(ctx, cond, a, b, ops, out);
  case 4: return launchWhere<uint32_t>(ctx, cond, a, b, ops, out);
  case 8: return launchWhere<uint64_t>(ctx, cond, a, b, ops, out);
  default: return fail("where: unknown element type");
  }
}

extern "C" gp_status gp_cuda_cast(gp_cuda_ctx *ctx, const gp_tensor *x,
                                  gp_tensor *out) {
  if (!ctx || !x || !out)
    return fail("cast: missing operand");
  if (dimsOf(x) != dimsOf(out))
    return fail("cast: result " + describe(out) + " differs in shape from " +
                describe(x));
  int64_t n = gp_numel(x);
  bool toBool = out->dtype == GP_BOOL;
  return dispatchCast(x->dtype, [&](auto inTag) {
    using In = decltype(inTag);
    return dispatchCast(out->dtype, [&](auto outTag) {
      using Out = decltype(outTag);
      if (n == 0)
        return GP_OK;
      const In *i = static_cast<const In *>(x->data);
      Out *o = static_cast<Out *>(out->data);
      // Bool is stored as uint8_t; only that output type can be bool.
      if constexpr (std::is_same_v<Out, uint8_t>)
        if (toBool) {
          castKernel<In, Out, true>
              <<<blocksFor(n), kThreads, 0, ctx->stream>>>(i, o, n);
          return gp_cuda_check_launch("gp_cuda_cast");
        }
      castKernel<In, Out, false>
          <<<blocksFor(n), kThreads, 0, ctx->stream>>>(i, o, n);
      return gp_cuda_check_launch("gp_cuda_cast");
    });
  });
}

extern "C" gp_status gp_cuda_dropout(gp_cuda_ctx *ctx, const gp_tensor *x,
                                     float ratio, bool training, uint64_t seed,
                                     const gp_tensor *rng, gp_tensor *out,
                                     gp_tensor *mask) {
  if (!ctx || !x || !out)
    return fail("dropout: missing operand");
  if (!(ratio >= 0.0f && ratio < 1.0f))
    return fail("dropout: ratio must be in [0, 1)");
  if (x->dtype != GP_F32 && x->dtype != GP_F64)
    return fail("dropout: unsupported element type " + describe(x));
  int64_t n = gp_numel(x);
  if (out->dtype != x->dtype || gp_numel(out) != n)
    return fail("dropout: result " + describe(out) + " does not match " +
                describe(x));
  if (mask && (mask->dtype != GP_BOOL || gp_numel(mask) != n))
    return fail("dropout: mask " + describe(mask) + " must be bool with " +
                std::to_string(n) + " elements");
  if (rng && (rng->dtype != GP_I64 || gp_numel(rng) != 2 || !rng->data))
    return fail("dropout: the random stream must be i64[2] (stream, part), got " +
                describe(rng));
  if (n == 0)
    return GP_OK;
  auto *m = mask ? static_cast<uint8_t *>(mask->data) : nullptr;
  if (!training || ratio == 0.0f) {
    if (out->data != x->data &&
        gp::cuda::check(cudaMemcpyAsync(out->data, x->data,
                                        n * gp_dtype_size(x->dtype),
                                        cudaMemcpyDeviceToDevice, ctx->stream),
                        "cudaMemcpyAsync") != GP_OK)
      return GP_ERROR;
    if (m && gp::cuda::check(cudaMemsetAsync(m, 1, n, ctx->stream),
                             "cudaMemsetAsync") != GP_OK)
      return GP_ERROR;
    return GP_OK;
  }
  if (x->dtype == GP_F32)
    return launchDropout<float>(ctx, x, ratio, seed, rng, out, m);
  return launchDropout<double>(ctx, x, ratio, seed, rng, out, m);
}
