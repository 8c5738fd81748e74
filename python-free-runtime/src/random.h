//===- random.h - the counter-based generator dropout draws from -*- C++ -*-===//
//
// Dropout's keep/drop decision for an element is a pure function of the op's
// seed, a stream number and the element's counter, computed the same way by
// the CPU and the CUDA kernels (nvcc compiles this header for both sides), so
// the two backends draw the same masks, a recomputed forward draws the mask
// its forward drew, and a micro-batch (counters offset by part * numel) draws
// exactly its rows of the whole mini-batch's mask.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_RANDOM_H
#define GPIPE_RUNTIME_RANDOM_H

#include <cstdint>

#if defined(__CUDACC__)
#define GP_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define GP_HOST_DEVICE inline
#endif

namespace gp {

/// The splitmix64 finalizer: a bijection that scrambles every input bit into
/// every output bit.
GP_HOST_DEVICE uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// The key of one random stream: an op's seed and the stream number (the
/// training step), each scrambled so nearby seeds and steps are unrelated.
GP_HOST_DEVICE uint64_t streamKey(uint64_t seed, uint64_t stream) {
  return mix64(mix64(seed) ^ (stream * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
}

/// A uniform double in [0, 1) for counter i of a stream: splitmix64's i-th
/// output from the key, so it depends on the key and i only.
GP_HOST_DEVICE double uniformAt(uint64_t key, uint64_t i) {
  uint64_t z = mix64(key + (i + 1) * 0x9e3779b97f4a7c15ull);
  return double(z >> 11) * 0x1.0p-53;
}

} // namespace gp

#undef GP_HOST_DEVICE

#endif // GPIPE_RUNTIME_RANDOM_H
