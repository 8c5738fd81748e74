//===- shape.cu - copy, transpose, concat, slice, expand and gather -------===//
//
// The CUDA counterparts of cpu/shape.cpp. Data movement ignores what the
// bytes mean: kernels move unsigned words of the element's size, or wider
// words where whole rows are moved and sizes and alignment allow it.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cstdint>

using namespace gp;
using gp::cuda::blocksFor;
using gp::cuda::kThreads;
using gp::cuda::Shape;
using gp::cuda::gatherStrided;

namespace {

/// Calls fn(W{}) with the unsigned word type of `bytes` (1, 2, 4 or 8).
template <typename Fn> gp_status dispatchWord(size_t bytes, Fn fn) {
  switch (bytes) {
  case 1: return fn(uint8_t{});
  case 2: return fn(uint16_t{});
  case 4: return fn(uint32_t{});
  case 8: return fn(uint64_t{});
  default: return fail("unknown element type");
  }
}

/// The widest word (8, 4, 2 or 1 bytes) that divides every value: byte
/// counts, offsets and addresses.
size_t wordFor(std::initializer_list<uint64_t> values) {
  uint64_t all = 0;
  for (uint64_t v : values)
    all |= v;
  for (size_t w = 8; w > 1; w /= 2)
    if (all % w == 0)
      return w;
  return 1;
}

uint64_t addressOf(const void *p) { return reinterpret_cast<uintptr_t>(p); }

/// A strided view of a dense tensor: element i of a row-major tensor with
/// `dims` sits at `strides` . index(i). Drops size-1 dimensions and merges
/// neighbours the view walks as one, so that offsetOf divides less.
Shape collapsedView(const std::vector<int64_t> &dims,
                    const std::vector<int64_t> &strides) {
  Shape s;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1)
      continue;
    if (s.rank > 0 && s.strides[s.rank - 1] == strides[d] * dims[d]) {
      s.dims[s.rank - 1] *= dims[d];
      s.strides[s.rank - 1] = strides[d];
      continue;
    }
    s.dims[s.rank] = dims[d];
    s.strides[s.rank] = strides[d];
    ++s.rank;
  }
  return s;
}


template <typename W>
__global__ void scatterStrided(const W *in, W *out, Shape view, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[gp::cuda::offsetOf(view, i)] = in[i];
}

/// out[i] = in[offset of i in `view`] for every element of out.
gp_status copyStrided(gp_cuda_ctx *ctx, const void *in, const Shape &view,
                      gp_tensor *out, const char *what) {
  int64_t n = gp_numel(out);
  if (n == 0)
    return GP_OK;
  return dispatchWord(gp_dtype_size(out->dtype), [&](auto tag) {
    using W = decltype(tag);
    gatherStrided<W><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
        static_cast<const W *>(in), view, static_cast<W *>(out->data), n);
    return gp_cuda_check_launch(what);
  });
}

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

constexpr int kTile = 32;
constexpr int kTileRows = 8;

/// A batch of 2-D transposes: within a batch entry, element (a, b) is read at
/// in[a + b * inStrideB] and written at out[a * outStrideA + b], so a tile
/// staged in shared memory is read and written along rows.
struct TileGeometry {
  int64_t a = 0, b = 0;
  int64_t inStrideB = 0, outStrideA = 0;
  int64_t tilesA = 0, tilesB = 0, tiles = 0;
  /// Where each batch entry starts in the input and in the output.
  Shape inBatch, outBatch;
};

template <typename W>
__global__ void __launch_bounds__(kTile *kTileRows)
    transposeTiled(const W *in, W *out, TileGeometry g) {
  __shared__ W tile[kTile][kTile + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < g.tiles; t += gridDim.x) {
    int64_t tb = t % g.tilesB, rest = t / g.tilesB;
    int64_t ta = rest % g.tilesA, batch = rest / g.tilesA;
    const W *src = in + gp::cuda::offsetOf(g.inBatch, batch);
    W *dst = out + gp::cuda::offsetOf(g.outBatch, batch);
    int64_t a0 = ta * kTile, b0 = tb * kTile;
    for (int k = ty; k < kTile; k += kTileRows) {
      int64_t a = a0 + tx, b = b0 + k;
      if (a < g.a && b < g.b)
        tile[k][tx] = src[a + b * g.inStrideB];
    }
    __syncthreads();
    for (int k = ty; k < kTile; k += kTileRows) {
      int64_t a = a0 + k, b = b0 + tx;
      if (a < g.a && b < g.b)
        dst[a * g.outStrideA + b] = tile[tx][k];
    }
    // The next tile overwrites the shared buffer.
    __syncthreads();
  }
}

/// Tiles the transpose when the output's innermost dimension is strided in
/// the input (a plain gather would then read with a stride); false when the
/// gather is already coalesced on both sides.
bool tileGeometry(const Shape &view, TileGeometry &g) {
  int32_t r = view.rank;
  if (r < 2 || view.strides[r - 1] == 1)
    return false;
  int32_t j = -1;
  for (int32_t d = 0; d < r - 1; ++d)
    if (view.strides[d] == 1)
      j = d;
  if (j < 0)
    return false;
  std::vector<int64_t> dims(view.dims, view.dims + r);
  std::vector<int64_t> outStrides = stridesOf(dims);
  g.a = dims[j];
  g.b = dims[r - 1];
  g.inStrideB = view.strides[r - 1];
  g.outStrideA = outStrides[j];
  int64_t batches = 1;
  for (int32_t d = 0; d < r - 1; ++d) {
    if (d == j)
      continue;
    int32_t k = g.inBatch.rank++;
    g.outBatch.rank++;
    g.inBatch.dims[k] = g.outBatch.dims[k] = dims[d];
    g.inBatch.strides[k] = view.strides[d];
    g.outBatch.strides[k] = outStrides[d];
    batches *= dims[d];
  }
  g.tilesA = (g.a + kTile - 1) / kTile;
  g.tilesB = (g.b + kTile - 1) / kTile;
  g.tiles = batches * g.tilesA * g.tilesB;
  return true;
}

//===----------------------------------------------------------------------===//
// Concat
//===----------------------------------------------------------------------===//

/// Copies `rows` rows of `rowWords` words into rows `pitch` words apart.
template <typename W>
__global__ void copyRows(const W *in, W *out, int64_t rows, int64_t rowWords,
                         int64_t pitch) {
  int64_t n = rows * rowWords;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i / rowWords;
    out[r * pitch + (i - r * rowWords)] = in[i];
  }
}

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

/// The in-range row an index picks (negative indices count from the end),
/// or -1 when it is out of range.
template <typename I>
__device__ __forceinline__ int64_t rowOf(const I *indices, int64_t k,
                                         int64_t dim) {
  int64_t idx = indices[k];
  if (idx < 0)
    idx += dim;
  return idx >= 0 && idx < dim ? idx : -1;
}

/// out[r, k, j] = data[r, indices[k], j] over words of a row; rows of
/// out-of-range indices are zero (the host cannot see the indices to reject
/// them without waiting for the stream).
template <typename W, typename I>
__global__ void gatherRows(const W *data, const I *indices, W *out,
                           int64_t outer, int64_t count, int64_t dim,
                           int64_t rowWords) {
  int64_t n = outer * count * rowWords;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t p = i / rowWords, j = i - p * rowWords;
    int64_t r = p / count, k = p - r * count;
    int64_t idx = rowOf(indices, k, dim);
    out[i] = idx < 0 ? W(0) : data[(r * dim + idx) * rowWords + j];
  }
}

/// gather_grad's sort keys: 1 + the row index k addresses (0: none), with
/// k itself as the value.
template <typename I>
__global__ void gatherGradKeys(const I *indices, int64_t count, int64_t dim,
                               uint64_t *keys, int64_t *order) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < count;
       k += int64_t(gridDim.x) * blockDim.x) {
    keys[k] = uint64_t(rowOf(indices, k, dim) + 1);
    order[k] = k;
  }
}

/// ddata[r, row, j] = the sum of dy[r, k, j] over the k addressing `row`.
/// After a stable sort of (row + 1, k) each row's k form one run in
/// increasing order: the thread at a run's first position adds them up in
/// that order, the CPU's, and writes the sum (no atomics: deterministic,
/// and equal to the CPU's to the bit).
template <typename T>
__global__ void gatherGradRuns(const T *dy, const uint64_t *keys, const int64_t *order,
                               T *ddata, int64_t outer, int64_t count, int64_t dim,
                               int64_t inner) {
  int64_t n = outer * count * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t p = i / inner, j = i - p * inner;
    int64_t r = p / count, q = p - r * count;
    uint64_t key = keys[q];
    if (key == 0 || (q > 0 && keys[q - 1] == key))
      continue;
    T sum = T(0);
    for (int64_t e = q; e < count && keys[e] == key; ++e)
      sum += dy[(r * count + order[e]) * inner + j];
    ddata[(r * dim + int64_t(key - 1)) * inner + j] = sum;
  }
}

/// Calls fn(I{}) with the index type of `indices` (i64 or i32).
template <typename Fn>
gp_status dispatchIndex(const gp_tensor *indices, Fn fn) {
  if (indices->dtype == GP_I64)
    return fn(int64_t{});
  return fn(int32_t{});
}

/// Checks that `starts` and `steps` keep every index of a slice `sliced` of
/// `full` inside it, and returns the slice as a strided view of `full`.
gp_status sliceView(const gp_tensor *full, const gp_tensor *sliced,
                    const int64_t *starts, const int64_t *steps,
                    const char *what, const char *verb, int64_t &base,
                    Shape &view) {
  int32_t rank = full->rank;
  std::vector<int64_t> fullStrides = stridesOf(dimsOf(full));
  std::vector<int64_t> strides(rank);
  base = 0;
  for (int32_t d = 0; d < rank; ++d) {
    if (steps[d] == 0 && sliced->dims[d] > 1)
      return fail(std::string(what) + ": dimension " + std::to_string(d) + " has step 0");
    if (sliced->dims[d] > 0) {
      int64_t last = starts[d] + (sliced->dims[d] - 1) * steps[d];
      if (starts[d] < 0 || starts[d] >= full->dims[d] || last < 0 ||
          last >= full->dims[d])
        return fail(std::string(what) + ": dimension " + std::to_string(d) +
                    " " + verb + " outside " + describe(full));
    }
    base += starts[d] * fullStrides[d];
    strides[d] = steps[d] * fullStrides[d];
  }
  view = collapsedView(dimsOf(sliced), strides);
  return GP_OK;
}

} // namespace

extern "C" gp_status gp_cuda_copy(gp_cuda_ctx *ctx, const gp_tensor *x,
                                  gp_tensor *out) {
  if (!ctx || !x || !out || x->dtype != out->dtype ||
      gp_numel(x) != gp_numel(out))
    return fail("copy: operands must have one element type and count");
  int64_t n = gp_numel(x);
  if (x->data == out->data || n == 0)
    return GP_OK;
  // cudaMemcpyAsync is undefined for overlapping ranges (the CPU's memmove
  // is not); the memory plan never makes them, so one is a bug to report.
  size_t bytes = n * gp_dtype_size(x->dtype);
  auto lo = reinterpret_cast<uintptr_t>(x->data), hi = reinterpret_cast<uintptr_t>(out->data);
  if ((lo < hi ? hi - lo : lo - hi) < bytes)
    return fail("copy: the source and the result overlap");
  return gp::cuda::check(cudaMemcpyAsync(out->data, x->data,
                                         n * gp_dtype_size(x->dtype),
                                         cudaMemcpyDeviceToDevice, ctx->stream),
                         "cudaMemcpyAsync");
}

extern "C" gp_status gp_cuda_transpose(gp_cuda_ctx *ctx, const gp_tensor *x,
                                       const int64_t *perm, gp_tensor *out) {
  if (!ctx || !x || !out || x->dtype != out->dtype || x->rank != out->rank)
    return fail("transpose: operands must have one element type and rank");
  int32_t rank = x->rank;
  std::vector<int64_t> inStrides = stridesOf(dimsOf(x));
  std::vector<int64_t> strides(rank);
  std::vector<bool> seen(rank, false);
  for (int32_t d = 0; d < rank; ++d) {
    if (perm[d] < 0 || perm[d] >= rank || seen[perm[d]] ||
        out->dims[d] != x->dims[perm[d]])
      return fail("transpose: result " + describe(out) +
                  " is not a permutation of " + describe(x));
    seen[perm[d]] = true;
    strides[d] = inStrides[perm[d]];
  }
  if (gp_numel(out) == 0)
    return GP_OK;
  Shape view = collapsedView(dimsOf(out), strides);
  TileGeometry g;
  if (!tileGeometry(view, g))
    return copyStrided(ctx, x->data, view, out, "gp_cuda_transpose");
  return dispatchWord(gp_dtype_size(x->dtype), [&](auto tag) {
    using W = decltype(tag);
    unsigned blocks =
        static_cast<unsigned>(std::min<int64_t>(g.tiles, 1 << 20));
    transposeTiled<W><<<blocks, dim3(kTile, kTileRows), 0, ctx->stream>>>(
        static_cast<const W *>(x->data), static_cast<W *>(out->data), g);
    return gp_cuda_check_launch("gp_cuda_transpose");
  });
}

extern "C" gp_status gp_cuda_concat(gp_cuda_ctx *ctx,
                                    const gp_tensor *const *inputs, int32_t n,
                                    int64_t axis, gp_tensor *out) {
  if (!ctx || !inputs || !out || n < 1 || axis < 0 || axis >= out->rank)
    return fail("concat: bad operands or axis");
  size_t size = gp_dtype_size(out->dtype);
  AxisSplit split = splitAtAxis(out, axis);
  int64_t outer = split.outer, innerBytes = split.inner * int64_t(size);
  int64_t total = 0;
  for (int32_t i = 0; i < n; ++i) {
    const gp_tensor *in = inputs[i];
    bool match = in && in->dtype == out->dtype && in->rank == out->rank;
    for (int32_t d = 0; match && d < out->rank; ++d)
      match = d == axis || in->dims[d] == out->dims[d];
    if (!match)
      return fail("concat: input " + (in ? describe(in) : std::string("null")) +
                  " does not match " + describe(out));
    total += in->dims[axis];
  }
  if (total != out->dims[axis])
    return fail("concat: inputs do not add up to " + describe(out));
  if (gp_numel(out) == 0)
    return GP_OK;
  auto *o = static_cast<unsigned char *>(out->data);
  int64_t outRowBytes = out->dims[axis] * innerBytes, pos = 0;
  for (int32_t i = 0; i < n; ++i) {
    int64_t chunkBytes = inputs[i]->dims[axis] * innerBytes;
    const void *src = inputs[i]->data;
    unsigned char *dst = o + pos;
    pos += chunkBytes;
    if (chunkBytes == 0)
      continue;
    size_t word = wordFor({uint64_t(chunkBytes), uint64_t(outRowBytes),
                           addressOf(src), addressOf(dst)});
    gp_status s = dispatchWord(word, [&](auto tag) {
      using W = decltype(tag);
      int64_t rowWords = chunkBytes / int64_t(word);
      copyRows<W><<<blocksFor(outer * rowWords), kThreads, 0, ctx->stream>>>(
          static_cast<const W *>(src), reinterpret_cast<W *>(dst), outer,
          rowWords, outRowBytes / int64_t(word));
      return gp_cuda_check_launch("gp_cuda_concat");
    });
    if (s != GP_OK)
      return s;
  }
  return GP_OK;
}

extern "C" gp_status gp_cuda_slice(gp_cuda_ctx *ctx, const gp_tensor *x,
                                   const int64_t *starts, const int64_t *steps,
                                   gp_tensor *out) {
  if (!ctx || !x || !out || x->dtype != out->dtype || x->rank != out->rank)
    return fail("slice: operands must have one element type and rank");
  int64_t base = 0;
  Shape view;
  if (gp_status s =
          sliceView(x, out, starts, steps, "slice", "reads", base, view))
    return s;
  if (gp_numel(out) == 0)
    return GP_OK;
  size_t size = gp_dtype_size(x->dtype);
  return copyStrided(
      ctx, static_cast<const unsigned char *>(x->data) + base * int64_t(size),
      view, out, "gp_cuda_slice");
}

extern "C" gp_status gp_cuda_slice_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                        const int64_t *starts,
                                        const int64_t *steps, gp_tensor *dx) {
  if (!ctx || !dy || !dx || dy->dtype != dx->dtype || dy->rank != dx->rank)
    return fail("slice_grad: operands must have one element type and rank");
  int64_t base = 0;
  Shape view;
  if (gp_status s =
          sliceView(dx, dy, starts, steps, "slice_grad", "writes", base, view))
    return s;
  size_t size = gp_dtype_size(dx->dtype);
  int64_t n = gp_numel(dy);
  if (gp_numel(dx) == 0)
    return GP_OK;
  if (gp::cuda::check(
          cudaMemsetAsync(dx->data, 0, gp_numel(dx) * size, ctx->stream),
          "cudaMemsetAsync") != GP_OK)
    return GP_ERROR;
  if (n == 0)
    return GP_OK;
  return dispatchWord(size, [&](auto tag) {
    using W = decltype(tag);
    scatterStrided<W><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
        static_cast<const W *>(dy->data), static_cast<W *>(dx->data) + base,
        view, n);
    return gp_cuda_check_launch("gp_cuda_slice_grad");
  });
}

extern "C" gp_status gp_cuda_expand(gp_cuda_ctx *ctx, const gp_tensor *x,
                                    gp_tensor *out) {
  if (!ctx || !x || !out || x->dtype != out->dtype)
    return fail("expand: operands must have one element type");
  std::vector<int64_t> strides;
  if (!broadcastStrides(x, dimsOf(out), strides))
    return fail("expand: " + describe(x) + " does not broadcast to " +
                describe(out));
  return copyStrided(ctx, x->data, collapsedView(dimsOf(out), strides), out,
                     "gp_cuda_expand");
}

extern "C" gp_status gp_cuda_gather(gp_cuda_ctx *ctx, const gp_tensor *data,
                                    const gp_tensor *indices, int64_t axis,
                                    gp_tensor *out) {
  if (!ctx || !data || !indices || !out || data->dtype != out->dtype)
    return fail("gather: missing operand or element type mismatch");
  if (indices->dtype != GP_I64 && indices->dtype != GP_I32)
    return fail("gather: indices must be i64 or i32, got " + describe(indices));
  if (axis < 0 || axis >= data->rank)
    return fail("gather: axis out of range");
  int64_t size = int64_t(gp_dtype_size(data->dtype));
  AxisSplit split = splitAtAxis(data, axis);
  int64_t rowBytes = split.inner * size, count = gp_numel(indices);
  if (gp_numel(out) * size != split.outer * count * rowBytes)
    return fail("gather: result " + describe(out) + " has the wrong size");
  int64_t n = gp_numel(out);
  if (n == 0)
    return GP_OK;
  size_t word = wordFor(
      {uint64_t(rowBytes), addressOf(data->data), addressOf(out->data)});
  int64_t rowWords = rowBytes / int64_t(word);
  return dispatchWord(word, [&](auto wordTag) {
    using W = decltype(wordTag);
    return dispatchIndex(indices, [&](auto indexTag) {
      using I = decltype(indexTag);
      gatherRows<W, I><<<blocksFor(split.outer * count * rowWords), kThreads, 0,
                         ctx->stream>>>(
          static_cast<const W *>(data->data),
          static_cast<const I *>(indices->data), static_cast<W *>(out->data),
          split.outer, count, split.dim, rowWords);
      return gp_cuda_check_launch("gp_cuda_gather");
    });
  });
}

extern "C" gp_status gp_cuda_gather_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                         const gp_tensor *indices, int64_t axis,
                                         gp_tensor *ddata) {
  if (!ctx || !dy || !indices || !ddata || dy->dtype != ddata->dtype ||
      axis < 0 || axis >= ddata->rank)
    return fail("gather_grad: bad operands or axis");
  if (indices->dtype != GP_I64 && indices->dtype != GP_I32)
    return fail("gather_grad: indices must be i64 or i32, got " +
                describe(indices));
  if (dy->dtype != GP_F32 && dy->dtype != GP_F64)
    return fail(std::string("unsupported element type ") +
                gp_dtype_name(dy->dtype));
  AxisSplit split = splitAtAxis(ddata, axis);
  int64_t count = gp_numel(indices);
  int64_t n = split.outer * count * split.inner;
  if (gp_numel(dy) != n)
    return fail("gather_grad: gradient " + describe(dy) +
                " has the wrong size");
  size_t size = gp_dtype_size(ddata->dtype);
  if (gp_numel(ddata) == 0)
    return GP_OK;
  if (gp::cuda::check(
          cudaMemsetAsync(ddata->data, 0, gp_numel(ddata) * size, ctx->stream),
          "cudaMemsetAsync") != GP_OK)
    return GP_ERROR;
  if (n == 0)
    return GP_OK;
  // The k of each row in increasing order: a stable radix sort of
  // (row + 1, k) over the bits row + 1 can have, in the workspace.
  int bits = 1;
  while (bits < 64 && (uint64_t(1) << bits) <= uint64_t(split.dim))
    ++bits;
  size_t sortBytes = 0;
  if (gp::cuda::check(cub::DeviceRadixSort::SortPairs(
                          nullptr, sortBytes, static_cast<const uint64_t *>(nullptr),
                          static_cast<uint64_t *>(nullptr), static_cast<const int64_t *>(nullptr),
                          static_cast<int64_t *>(nullptr), count, 0, bits, ctx->stream),
                      "cub::DeviceRadixSort::SortPairs") != GP_OK)
    return GP_ERROR;
  size_t region = gp::cuda::roundUp256(size_t(count) * sizeof(uint64_t));
  auto *ws = static_cast<unsigned char *>(
      gp::cuda::workspace(ctx, 4 * region + gp::cuda::roundUp256(sortBytes)));
  if (!ws)
    return GP_ERROR;
  auto *keysIn = reinterpret_cast<uint64_t *>(ws);
  auto *keys = reinterpret_cast<uint64_t *>(ws + region);
  auto *orderIn = reinterpret_cast<int64_t *>(ws + 2 * region);
  auto *order = reinterpret_cast<int64_t *>(ws + 3 * region);
  gp_status keyed = dispatchIndex(indices, [&](auto indexTag) {
    using I = decltype(indexTag);
    gatherGradKeys<I><<<blocksFor(count), kThreads, 0, ctx->stream>>>(
        static_cast<const I *>(indices->data), count, split.dim, keysIn, orderIn);
    return gp_cuda_check_launch("gp_cuda_gather_grad");
  });
  if (keyed != GP_OK ||
      gp::cuda::check(cub::DeviceRadixSort::SortPairs(ws + 4 * region, sortBytes, keysIn, keys,
                                                      orderIn, order, count, 0, bits,
                                                      ctx->stream),
                      "cub::DeviceRadixSort::SortPairs") != GP_OK)
    return GP_ERROR;
  auto launch = [&](auto valueTag) {
    using T = decltype(valueTag);
    gatherGradRuns<T><<<blocksFor(n), kThreads, 0, ctx->stream>>>(
        static_cast<const T *>(dy->data), keys, order, static_cast<T *>(ddata->data),
        split.outer, count, split.dim, split.inner);
    return gp_cuda_check_launch("gp_cuda_gather_grad");
  };
  return dy->dtype == GP_F32 ? launch(float{}) : launch(double{});
}
