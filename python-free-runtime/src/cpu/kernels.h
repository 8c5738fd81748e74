//===- kernels.h - C++ building blocks shared by CPU kernels ----*- C++ -*-===//

#ifndef GPIPE_RUNTIME_CPU_KERNELS_H
#define GPIPE_RUNTIME_CPU_KERNELS_H

#include <cstdint>

namespace gp {
/// C[m, n] = alpha * op(A) op(B) + beta * C, row-major, through BLAS.
template <typename T>
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
          double alpha, const T *a, const T *b, double beta, T *c);
} // namespace gp

#endif // GPIPE_RUNTIME_CPU_KERNELS_H
