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

} // namespace gp

#endif // GPIPE_RUNTIME_COMMON_H
