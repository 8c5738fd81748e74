//===- common.h - helpers every backend of the runtime shares ---*- C++ -*-===//
//
// Errors, shape descriptions and checks the CPU and the CUDA kernels both
// use (defined in tensor.cpp). Plain C++17: nvcc compiles it too.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_COMMON_H
#define GPIPE_RUNTIME_COMMON_H

#include "gpipe/runtime/gp_runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

/// Records `msg` as this thread's last error and returns GP_ERROR.
gp_status fail(const std::string &msg);

/// "f32[2, 3]" for messages.
std::string describe(const gp_tensor *t);

/// Fails unless `t` is non-null, has data (when it has elements) and `dtype`.
gp_status expect(const gp_tensor *t, const char *what, gp_dtype dtype);
/// Fails unless `out` has the dims `dims`.
gp_status expectDims(const gp_tensor *out, const char *what,
                     const std::vector<int64_t> &dims);

std::vector<int64_t> dimsOf(const gp_tensor *t);
std::vector<int64_t> stridesOf(const std::vector<int64_t> &dims);

/// Strides of `in` viewed as broadcast to `outDims` (0 where broadcast), or
/// an empty vector when it does not broadcast.
bool broadcastStrides(const gp_tensor *in, const std::vector<int64_t> &outDims,
                      std::vector<int64_t> &strides);

/// A numpy matmul of a and b into out, as batches of [m, k] x [k, n]: a 1-D
/// a is a row, a 1-D b a column; the batch dimensions broadcast.
struct MatmulShape {
  int64_t m = 0, k = 0, n = 0, numBatch = 1;
  /// The broadcast batch dimensions, and each operand's stride along them
  /// in elements (0 where it is broadcast).
  std::vector<int64_t> batch, strideA, strideB;
  /// b is one matrix for every batch entry, and a's matrices are dense:
  /// the product is one [numBatch * m, k] x [k, n].
  bool rhsShared = true, lhsDense = true;
};
/// The shape of matmul(a, b) -> out; fails (naming `what`) when an operand
/// is missing, the element types differ, the contracting or batch
/// dimensions disagree or out has the wrong size.
gp_status matmulShape(const gp_tensor *a, const gp_tensor *b, const gp_tensor *out,
                      const char *what, MatmulShape &shape);

/// `t` viewed as [outer, dim, inner] around `axis` (0 <= axis < rank).
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
};
inline AxisSplit splitAtAxis(const gp_tensor *t, int64_t axis) {
  AxisSplit s;
  s.dim = t->dims[axis];
  for (int64_t d = 0; d < t->rank; ++d)
    if (d < axis)
      s.outer *= t->dims[d];
    else if (d > axis)
      s.inner *= t->dims[d];
  return s;
}

/// The product of an [N, C, ...] tensor's dimensions after the channel.
inline int64_t spatialSize(const gp_tensor *x) {
  int64_t s = 1;
  for (int32_t d = 2; d < x->rank; ++d)
    s *= x->dims[d];
  return s;
}

} // namespace gp

#endif // GPIPE_RUNTIME_COMMON_H
