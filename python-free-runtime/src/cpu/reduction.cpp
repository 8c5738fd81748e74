//===- reduction.cpp - sum, mean, max and min over axes -------------------===//

#include "../internal.h"

#include <limits>

using namespace gp;

extern "C" gp_status gp_cpu_reduce(gp_reduce_op op, const gp_tensor *x,
                                   const int64_t *axes, int32_t naxes,
                                   gp_tensor *out) {
  if (!x || !out || x->dtype != out->dtype)
    return fail("reduce: operands missing or of different element types");
  int32_t rank = x->rank;
  std::vector<bool> reduced(rank, naxes == 0);
  for (int32_t i = 0; i < naxes; ++i) {
    if (axes[i] < 0 || axes[i] >= rank)
      return fail("reduce: axis " + std::to_string(axes[i]) + " is out of range");
    reduced[axes[i]] = true;
  }
  // Output strides over the input's dimensions; 0 along reduced ones.
  std::vector<int64_t> keptDims;
  for (int32_t d = 0; d < rank; ++d)
    keptDims.push_back(reduced[d] ? 1 : x->dims[d]);
  std::vector<int64_t> outStrides = stridesOf(keptDims);
  int64_t outN = 1, count = 1;
  for (int32_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      outStrides[d] = 0;
      count *= x->dims[d];
    } else {
      outN *= x->dims[d];
    }
  }
  if (gp_numel(out) != outN)
    return fail("reduce: result " + describe(out) + " has the wrong size");
  if (count == 0 && (op == GP_REDUCE_MAX || op == GP_REDUCE_MIN))
    return fail("reduce: max/min over an empty set");
  // The reduced axes as one block [lo, hi) of the dimensions: out[a][b] is
  // the reduction over r of x[a][r][b] (a bias gradient: a = 1; a row's sum:
  // b = 1).
  int32_t lo = 0, hi = rank;
  while (lo < rank && !reduced[lo])
    ++lo;
  while (hi > lo && !reduced[hi - 1])
    --hi;
  bool block = naxes > 0 && lo < hi;
  for (int32_t d = lo; d < hi && block; ++d)
    block = reduced[d];
  const double init = op == GP_REDUCE_MAX   ? -std::numeric_limits<double>::infinity()
                      : op == GP_REDUCE_MIN ? std::numeric_limits<double>::infinity()
                                            : 0.0;
  return dispatchAll(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    auto fold = [op](double a, double v) {
      if (op == GP_REDUCE_MAX)
        return v > a ? v : a;
      if (op == GP_REDUCE_MIN)
        return v < a ? v : a;
      return a + v;
    };
    auto finish = [&](double a) {
      return static_cast<T>(op == GP_REDUCE_MEAN ? a / double(count) : a);
    };
    if (block) {
      int64_t A = 1, R = 1, B = 1;
      for (int32_t d = 0; d < rank; ++d)
        (d < lo ? A : d < hi ? R : B) *= x->dims[d];
      // Each output element folds its inputs in the order the general loop
      // below does (r ascending, in double): the same bits, on the
      // runtime's threads (over a, or over chunks of b when a is 1).
      auto columns = [&](int64_t a, int64_t b0, int64_t b1) {
        std::vector<double> acc(b1 - b0, init);
        const T *base = in + a * R * B;
        for (int64_t r = 0; r < R; ++r) {
          const T *row = base + r * B;
          for (int64_t b = b0; b < b1; ++b)
            acc[b - b0] = fold(acc[b - b0], double(row[b]));
        }
        for (int64_t b = b0; b < b1; ++b)
          o[a * B + b] = finish(acc[b - b0]);
      };
      if (A > 1)
        parallelFor(A, R * B, [&](int64_t a0, int64_t a1) {
          for (int64_t a = a0; a < a1; ++a)
            columns(a, 0, B);
        });
      else
        parallelFor(B, R, [&](int64_t b0, int64_t b1) { columns(0, b0, b1); });
      return GP_OK;
    }
    std::vector<double> acc(outN, init);
    int64_t n = gp_numel(x);
    std::vector<int64_t> idx(rank, 0);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = in[i];
      double &a = acc[off];
      if (op == GP_REDUCE_MAX)
        a = v > a ? v : a;
      else if (op == GP_REDUCE_MIN)
        a = v < a ? v : a;
      else
        a += v;
      for (int32_t d = rank - 1; d >= 0; --d) {
        off += outStrides[d];
        if (++idx[d] < x->dims[d])
          break;
        off -= outStrides[d] * idx[d];
        idx[d] = 0;
      }
    }
    for (int64_t i = 0; i < outN; ++i)
      o[i] = static_cast<T>(op == GP_REDUCE_MEAN ? acc[i] / double(count) : acc[i]);
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_arg_reduce(const gp_tensor *x, int64_t axis, bool isMax,
                                       bool selectLast, gp_tensor *out) {
  if (!x || !out || out->dtype != GP_I64 || axis < 0 || axis >= x->rank)
    return fail("arg_reduce: bad operands or axis");
  auto [outer, dim, inner] = splitAtAxis(x, axis);
  if (dim == 0 || gp_numel(out) != outer * inner)
    return fail("arg_reduce: result " + describe(out) + " does not match " + describe(x));
  return dispatchAll(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    int64_t *o = static_cast<int64_t *>(out->data);
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b) {
        const T *p = in + a * dim * inner + b;
        int64_t best = 0;
        for (int64_t i = 1; i < dim; ++i) {
          T v = p[i * inner], cur = p[best * inner];
          bool better = isMax ? (v > cur || (selectLast && v == cur))
                              : (v < cur || (selectLast && v == cur));
          if (better)
            best = i;
        }
        o[a * inner + b] = best;
      }
    return GP_OK;
  });
}
