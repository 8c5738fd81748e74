//===- shape.cpp - copy, transpose, concat, slice, expand, gather ---------===//

#include "broadcast.h"

#include <cstring>

using namespace gp;

namespace {
/// out[i] = in[offset(i)] for the strided view `strides` of `in`, with typed
/// copies for the common element sizes.
void copyStrided(const char *in, gp_tensor *out, const std::array<std::vector<int64_t>, 1> &strides,
                 size_t size) {
  auto run = [&](auto tag) {
    using E = decltype(tag);
    const E *src = reinterpret_cast<const E *>(in);
    E *dst = static_cast<E *>(out->data);
    forEachBroadcast<1>(dimsOf(out), strides, 1,
                        [&](int64_t i, const std::array<int64_t, 1> &k) { dst[i] = src[k[0]]; });
  };
  switch (size) {
  case 1: return run(uint8_t{});
  case 2: return run(uint16_t{});
  case 4: return run(uint32_t{});
  default: return run(uint64_t{});
  }
}
} // namespace

extern "C" gp_status gp_cpu_copy(const gp_tensor *x, gp_tensor *out) {
  if (!x || !out || x->dtype != out->dtype || gp_numel(x) != gp_numel(out))
    return fail("copy: operands must have one element type and count");
  if (x->data != out->data && gp_numel(x))
    std::memmove(out->data, x->data, gp_numel(x) * gp_dtype_size(x->dtype));
  return GP_OK;
}

extern "C" gp_status gp_cpu_transpose(const gp_tensor *x, const int64_t *perm,
                                      gp_tensor *out) {
  if (!x || !out || x->dtype != out->dtype || x->rank != out->rank)
    return fail("transpose: operands must have one element type and rank");
  int32_t rank = x->rank;
  std::vector<int64_t> inStrides = stridesOf(dimsOf(x));
  std::array<std::vector<int64_t>, 1> strides;
  strides[0].resize(rank);
  for (int32_t d = 0; d < rank; ++d) {
    if (perm[d] < 0 || perm[d] >= rank || out->dims[d] != x->dims[perm[d]])
      return fail("transpose: result " + describe(out) + " is not a permutation of " +
                  describe(x));
    strides[0][d] = inStrides[perm[d]];
  }
  copyStrided(static_cast<const char *>(x->data), out, strides, gp_dtype_size(x->dtype));
  return GP_OK;
}

extern "C" gp_status gp_cpu_concat(const gp_tensor *const *inputs, int32_t n,
                                   int64_t axis, gp_tensor *out) {
  if (!out || n < 1 || axis < 0 || axis >= out->rank)
    return fail("concat: bad operands or axis");
  size_t size = gp_dtype_size(out->dtype);
  AxisSplit split = splitAtAxis(out, axis);
  int64_t outer = split.outer, inner = split.inner * size;
  int64_t total = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (inputs[i]->dtype != out->dtype || inputs[i]->rank != out->rank)
      return fail("concat: input " + describe(inputs[i]) + " does not match " + describe(out));
    total += inputs[i]->dims[axis];
  }
  if (total != out->dims[axis])
    return fail("concat: inputs do not add up to " + describe(out));
  char *o = static_cast<char *>(out->data);
  int64_t outRow = out->dims[axis] * inner;
  for (int64_t r = 0; r < outer; ++r) {
    int64_t pos = 0;
    for (int32_t i = 0; i < n; ++i) {
      int64_t chunk = inputs[i]->dims[axis] * inner;
      if (chunk)
        std::memcpy(o + r * outRow + pos, static_cast<const char *>(inputs[i]->data) + r * chunk,
                    chunk);
      pos += chunk;
    }
  }
  return GP_OK;
}

extern "C" gp_status gp_cpu_slice(const gp_tensor *x, const int64_t *starts,
                                  const int64_t *steps, gp_tensor *out) {
  if (!x || !out || x->dtype != out->dtype || x->rank != out->rank)
    return fail("slice: operands must have one element type and rank");
  int32_t rank = x->rank;
  std::vector<int64_t> inStrides = stridesOf(dimsOf(x));
  std::array<std::vector<int64_t>, 1> strides;
  strides[0].resize(rank);
  int64_t base = 0;
  for (int32_t d = 0; d < rank; ++d) {
    if (out->dims[d] > 0) {
      int64_t last = starts[d] + (out->dims[d] - 1) * steps[d];
      if (starts[d] < 0 || starts[d] >= x->dims[d] || last < 0 || last >= x->dims[d])
        return fail("slice: dimension " + std::to_string(d) + " reads outside " + describe(x));
    }
    base += starts[d] * inStrides[d];
    strides[0][d] = steps[d] * inStrides[d];
  }
  size_t size = gp_dtype_size(x->dtype);
  copyStrided(static_cast<const char *>(x->data) + base * size, out, strides, size);
  return GP_OK;
}

extern "C" gp_status gp_cpu_expand(const gp_tensor *x, gp_tensor *out) {
  if (!x || !out || x->dtype != out->dtype)
    return fail("expand: operands must have one element type");
  std::array<std::vector<int64_t>, 1> strides;
  if (!broadcastStrides(x, dimsOf(out), strides[0]))
    return fail("expand: " + describe(x) + " does not broadcast to " + describe(out));
  copyStrided(static_cast<const char *>(x->data), out, strides, gp_dtype_size(x->dtype));
  return GP_OK;
}

extern "C" gp_status gp_cpu_gather(const gp_tensor *data, const gp_tensor *indices,
                                   int64_t axis, gp_tensor *out) {
  if (!data || !indices || !out || data->dtype != out->dtype)
    return fail("gather: missing operand or element type mismatch");
  if (indices->dtype != GP_I64 && indices->dtype != GP_I32)
    return fail("gather: indices must be i64 or i32, got " + describe(indices));
  if (axis < 0 || axis >= data->rank)
    return fail("gather: axis out of range");
  size_t size = gp_dtype_size(data->dtype);
  AxisSplit split = splitAtAxis(data, axis);
  int64_t outer = split.outer, inner = split.inner * size, dim = split.dim;
  int64_t count = gp_numel(indices);
  if (gp_numel(out) * (int64_t)size != outer * count * inner)
    return fail("gather: result " + describe(out) + " has the wrong size");
  for (int64_t k = 0; k < count; ++k) {
    int64_t idx = indexAt(indices, k);
    if (idx < -dim || idx >= dim)
      return fail("gather: index " + std::to_string(idx) + " is out of range for a dimension of " +
                  std::to_string(dim));
  }
  const char *in = static_cast<const char *>(data->data);
  char *o = static_cast<char *>(out->data);
  parallelFor(outer * count, inner, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      int64_t r = p / count, k = p % count;
      int64_t idx = indexAt(indices, k);
      if (idx < 0)
        idx += dim;
      std::memcpy(o + p * inner, in + (r * dim + idx) * inner, inner);
    }
  });
  return GP_OK;
}

extern "C" gp_status gp_cpu_gather_grad(const gp_tensor *dy, const gp_tensor *indices,
                                        int64_t axis, gp_tensor *ddata) {
  if (!dy || !indices || !ddata || dy->dtype != ddata->dtype || axis < 0 || axis >= ddata->rank)
    return fail("gather_grad: bad operands or axis");
  if (indices->dtype != GP_I64 && indices->dtype != GP_I32)
    return fail("gather_grad: indices must be i64 or i32, got " + describe(indices));
  auto [outer, dim, inner] = splitAtAxis(ddata, axis);
  int64_t count = gp_numel(indices);
  if (gp_numel(dy) != outer * count * inner)
    return fail("gather_grad: gradient " + describe(dy) + " has the wrong size");
  return dispatchFloat(dy->dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *g = static_cast<const T *>(dy->data);
    T *o = static_cast<T *>(ddata->data);
    std::fill(o, o + gp_numel(ddata), T(0));
    for (int64_t r = 0; r < outer; ++r)
      for (int64_t k = 0; k < count; ++k) {
        int64_t idx = indexAt(indices, k);
        if (idx < -dim || idx >= dim)
          return fail("gather_grad: index " + std::to_string(idx) + " is out of range");
        if (idx < 0)
          idx += dim;
        const T *src = g + (r * count + k) * inner;
        T *dst = o + (r * dim + idx) * inner;
        for (int64_t i = 0; i < inner; ++i)
          dst[i] += src[i];
      }
    return GP_OK;
  });
}

extern "C" gp_status gp_cpu_slice_grad(const gp_tensor *dy, const int64_t *starts,
                                       const int64_t *steps, gp_tensor *dx) {
  if (!dy || !dx || dy->dtype != dx->dtype || dy->rank != dx->rank)
    return fail("slice_grad: operands must have one element type and rank");
  std::memset(dx->data, 0, gp_numel(dx) * gp_dtype_size(dx->dtype));
  int32_t rank = dx->rank;
  std::vector<int64_t> strides = stridesOf(dimsOf(dx));
  int64_t base = 0;
  for (int32_t d = 0; d < rank; ++d) {
    if (dy->dims[d] > 0) {
      int64_t last = starts[d] + (dy->dims[d] - 1) * steps[d];
      if (starts[d] < 0 || starts[d] >= dx->dims[d] || last < 0 || last >= dx->dims[d])
        return fail("slice_grad: dimension " + std::to_string(d) + " writes outside " +
                    describe(dx));
    }
    base += starts[d] * strides[d];
  }
  size_t size = gp_dtype_size(dx->dtype);
  std::vector<int64_t> idx(rank, 0);
  const char *src = static_cast<const char *>(dy->data);
  char *dst = static_cast<char *>(dx->data);
  for (int64_t i = 0, n = gp_numel(dy); i < n; ++i) {
    int64_t off = base;
    for (int32_t d = 0; d < rank; ++d)
      off += idx[d] * steps[d] * strides[d];
    std::memcpy(dst + off * size, src + i * size, size);
    for (int32_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < dy->dims[d])
        break;
      idx[d] = 0;
    }
  }
  return GP_OK;
}
