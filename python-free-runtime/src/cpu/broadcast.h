//===- broadcast.h - iterating broadcast operands ---------------*- C++ -*-===//

#ifndef GPIPE_RUNTIME_CPU_BROADCAST_H
#define GPIPE_RUNTIME_CPU_BROADCAST_H

#include "../internal.h"

#include <array>

namespace gp {

/// Visits every output element of a broadcast op with N inputs: calls
/// fn(outIndex, offsets) where offsets[k] indexes input k. Rows along the last
/// dimension are split across threads.
template <size_t N, typename Fn>
void forEachBroadcast(const std::vector<int64_t> &outDims,
                      const std::array<std::vector<int64_t>, N> &strides,
                      int64_t cost, Fn fn) {
  size_t rank = outDims.size();
  int64_t inner = rank ? outDims.back() : 1;
  int64_t total = 1;
  for (int64_t d : outDims)
    total *= d;
  if (total == 0)
    return;
  int64_t rows = total / inner;
  parallelFor(rows, inner * cost, [&](int64_t begin, int64_t end) {
    std::array<int64_t, N> base, step;
    for (size_t k = 0; k < N; ++k)
      step[k] = rank ? strides[k][rank - 1] : 0;
    for (int64_t r = begin; r < end; ++r) {
      base.fill(0);
      int64_t rem = r;
      for (int64_t d = (int64_t)rank - 2; d >= 0; --d) {
        int64_t c = rem % outDims[d];
        rem /= outDims[d];
        for (size_t k = 0; k < N; ++k)
          base[k] += c * strides[k][d];
      }
      std::array<int64_t, N> off = base;
      for (int64_t j = 0; j < inner; ++j) {
        fn(r * inner + j, off);
        for (size_t k = 0; k < N; ++k)
          off[k] += step[k];
      }
    }
  });
}

} // namespace gp

#endif // GPIPE_RUNTIME_CPU_BROADCAST_H
