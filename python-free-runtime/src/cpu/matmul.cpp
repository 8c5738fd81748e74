//===- matmul.cpp - matmul and gemm through BLAS --------------------------===//

#include "broadcast.h"
#include "kernels.h"

#include <cblas.h>
#include <cstring>

using namespace gp;

namespace {
void gemmBlas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb,
              double beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, m, n, k, (float)alpha, a, lda, b,
              ldb, (float)beta, c, ldc);
}
void gemmBlas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
              const double *a, int64_t lda, const double *b, int64_t ldb,
              double beta, double *c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
}
} // namespace


namespace gp {
/// C[m, n] = alpha * op(A) op(B) + beta * C for row-major f32/f64 matrices.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
          const T *a, const T *b, double beta, T *c) {
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    for (int64_t i = 0; i < m * n; ++i)
      c[i] = beta == 0 ? T(0) : T(beta) * c[i];
    return;
  }
  gemmBlas(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n);
}
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, double, const float *,
                          const float *, double, float *);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double *,
                           const double *, double, double *);
} // namespace gp

extern "C" gp_status gp_cpu_matmul(const gp_tensor *a, const gp_tensor *b,
                                   gp_tensor *out) {
  MatmulShape shape;
  if (matmulShape(a, b, out, "matmul", shape))
    return GP_ERROR;
  int64_t m = shape.m, k = shape.k, n = shape.n, numBatch = shape.numBatch;
  const std::vector<int64_t> &batch = shape.batch, &as = shape.strideA, &bs = shape.strideB;
  size_t batchRank = batch.size();
  bool rhsShared = shape.rhsShared, lhsDense = shape.lhsDense;
  return dispatchFloat(a->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *x = static_cast<const T *>(a->data), *y = static_cast<const T *>(b->data);
    T *o = static_cast<T *>(out->data);
    // One weight matrix for every batch entry: a single [batch*m, k] x [k, n]
    // product keeps BLAS busy instead of many small ones.
    if (rhsShared && lhsDense) {
      gemm<T>(false, false, numBatch * m, n, k, 1.0, x, y, 0.0, o);
      return GP_OK;
    }
    for (int64_t bi = 0; bi < numBatch; ++bi) {
      int64_t rem = bi, ao = 0, bo = 0;
      for (int64_t d = (int64_t)batchRank - 1; d >= 0; --d) {
        int64_t c = rem % batch[d];
        rem /= batch[d];
        ao += c * as[d];
        bo += c * bs[d];
      }
      gemm<T>(false, false, m, n, k, 1.0, x + ao, y + bo, 0.0, o + bi * m * n);
    }
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_gemm(const gp_tensor *a, const gp_tensor *b,
                                 const gp_tensor *c, float alpha, float beta,
                                 bool ta, bool tb, gp_tensor *out) {
  if (!a || !b || !out)
    return fail("gemm: missing operand");
  if (a->rank != 2 || b->rank != 2 || out->rank != 2)
    return fail("gemm: operands must have rank 2");
  if (a->dtype != b->dtype || out->dtype != a->dtype || (c && c->dtype != a->dtype))
    return fail("gemm: operands differ in element type");
  int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
  int64_t kb = b->dims[tb ? 1 : 0], n = b->dims[tb ? 0 : 1];
  if (k != kb || out->dims[0] != m || out->dims[1] != n)
    return fail("gemm: shapes " + describe(a) + " x " + describe(b) + " -> " +
                describe(out) + " do not agree");
  return dispatchFloat(a->dtype, [&](auto tag) {
    using T = decltype(tag);
    T *o = static_cast<T *>(out->data);
    double cBeta = 0.0;
    if (c && beta != 0.0f) {
      std::vector<int64_t> dims = dimsOf(out);
      std::array<std::vector<int64_t>, 1> strides;
      if (!broadcastStrides(c, dims, strides[0]))
        return fail("gemm: c " + describe(c) + " does not broadcast to " + describe(out));
      const T *ci = static_cast<const T *>(c->data);
      forEachBroadcast<1>(dims, strides, 1, [&](int64_t i, const std::array<int64_t, 1> &kk) {
        o[i] = ci[kk[0]];
      });
      cBeta = beta;
    }
    gemm<T>(ta, tb, m, n, k, alpha, static_cast<const T *>(a->data),
            static_cast<const T *>(b->data), cBeta, o);
    return GP_OK;
  });
}
