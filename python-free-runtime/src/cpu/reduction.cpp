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
  return dispatchAll(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = static_cast<const T *>(x->data);
    T *o = static_cast<T *>(out->data);
    std::vector<double> acc(outN, op == GP_REDUCE_MAX   ? -std::numeric_limits<double>::infinity()
                                  : op == GP_REDUCE_MIN ? std::numeric_limits<double>::infinity()
                                                        : 0.0);
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
