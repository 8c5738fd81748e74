//===- tensor.cpp - tensors, errors and threads of the runtime ------------===//

#include "internal.h"

#include <algorithm>

#include <cblas.h>
#include <cstdlib>
#include <omp.h>

namespace {
thread_local std::string lastError;
}

gp_status gp::fail(const std::string &msg) {
  lastError = msg;
  return GP_ERROR;
}


extern "C" const char *gp_last_error(void) { return lastError.c_str(); }

extern "C" size_t gp_dtype_size(gp_dtype dtype) {
  switch (dtype) {
  case GP_F64: case GP_I64: return 8;
  case GP_F32: case GP_I32: return 4;
  case GP_I16: case GP_F16: case GP_BF16: return 2;
  case GP_I8: case GP_U8: case GP_BOOL: return 1;
  }
  return 0;
}

extern "C" const char *gp_dtype_name(gp_dtype dtype) {
  switch (dtype) {
  case GP_F32: return "f32";
  case GP_F64: return "f64";
  case GP_I64: return "i64";
  case GP_I32: return "i32";
  case GP_I16: return "i16";
  case GP_I8: return "i8";
  case GP_U8: return "u8";
  case GP_BOOL: return "bool";
  case GP_F16: return "f16";
  case GP_BF16: return "bf16";
  }
  return "unknown";
}

extern "C" int64_t gp_numel(const gp_tensor *t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->rank; ++i)
    n *= t->dims[i];
  return n;
}

extern "C" gp_status gp_tensor_init(gp_tensor *t, gp_dtype dtype, int32_t rank,
                                    const int64_t *dims) {
  if (rank < 0 || rank > GP_MAX_RANK)
    return gp::fail("rank " + std::to_string(rank) + " exceeds the maximum of " +
                    std::to_string(GP_MAX_RANK));
  if (gp_dtype_size(dtype) == 0)
    return gp::fail("unknown element type");
  t->dtype = dtype;
  t->rank = rank;
  for (int32_t i = 0; i < rank; ++i) {
    if (dims[i] < 0)
      return gp::fail("negative dimension");
    t->dims[i] = dims[i];
  }
  return GP_OK;
}

extern "C" void gp_cpu_set_num_threads(int n) {
  if (n <= 0)
    return;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

extern "C" int gp_cpu_get_num_threads(void) { return omp_get_max_threads(); }

extern "C" void gp_free(void *data) { std::free(data); }

std::string gp::describe(const gp_tensor *t) {
  std::string s = std::string(gp_dtype_name(t->dtype)) + "[";
  for (int32_t i = 0; i < t->rank; ++i)
    s += (i ? ", " : "") + std::to_string(t->dims[i]);
  return s + "]";
}

gp_status gp::expect(const gp_tensor *t, const char *what, gp_dtype dtype) {
  if (!t)
    return fail(std::string(what) + " is missing");
  if (t->dtype != dtype)
    return fail(std::string(what) + " is " + describe(t) + ", expected element type " +
                gp_dtype_name(dtype));
  if (!t->data && gp_numel(t) > 0)
    return fail(std::string(what) + " has no data");
  return GP_OK;
}

gp_status gp::expectDims(const gp_tensor *out, const char *what,
                         const std::vector<int64_t> &dims) {
  if (dimsOf(out) != dims) {
    std::string want = "[";
    for (size_t i = 0; i < dims.size(); ++i)
      want += (i ? ", " : "") + std::to_string(dims[i]);
    return fail(std::string(what) + " is " + describe(out) + ", expected shape " + want + "]");
  }
  return GP_OK;
}

gp_status gp::matmulShape(const gp_tensor *a, const gp_tensor *b, const gp_tensor *out,
                          const char *what, MatmulShape &shape) {
  std::string w(what);
  if (!a || !b || !out)
    return fail(w + ": missing operand");
  if (a->dtype != b->dtype || out->dtype != a->dtype)
    return fail(w + ": operands " + describe(a) + ", " + describe(b) + " and result " +
                describe(out) + " differ in element type");
  if (a->rank < 1 || b->rank < 1)
    return fail(w + ": operands must have rank >= 1");
  std::vector<int64_t> ad = dimsOf(a), bd = dimsOf(b);
  if (ad.size() == 1)
    ad.insert(ad.begin(), 1);
  if (bd.size() == 1)
    bd.push_back(1);
  shape.m = ad[ad.size() - 2];
  shape.k = ad.back();
  shape.n = bd.back();
  if (bd[bd.size() - 2] != shape.k)
    return fail(w + ": contracting dimensions of " + describe(a) + " and " + describe(b) +
                " differ");
  size_t batchRank = std::max(ad.size(), bd.size()) - 2;
  shape.batch.assign(batchRank, 1);
  shape.numBatch = 1;
  for (size_t i = 0; i < batchRank; ++i) {
    auto dimAt = [&](const std::vector<int64_t> &d) {
      size_t r = d.size() - 2;
      return i + r >= batchRank ? d[i + r - batchRank] : int64_t(1);
    };
    int64_t x = dimAt(ad), y = dimAt(bd);
    if (x != y && x != 1 && y != 1)
      return fail(w + ": batch dimensions of " + describe(a) + " and " + describe(b) +
                  " do not broadcast");
    shape.batch[i] = x == 1 ? y : x;
    shape.numBatch *= shape.batch[i];
  }
  if (shape.numBatch * shape.m * shape.n != gp_numel(out))
    return fail(w + ": result " + describe(out) + " has the wrong size");
  // Batch strides in elements of whole matrices (0 where broadcast).
  auto batchStrides = [&](const std::vector<int64_t> &d) {
    std::vector<int64_t> s(batchRank, 0);
    int64_t stride = d[d.size() - 2] * d.back();
    size_t r = d.size() - 2;
    for (int64_t i = int64_t(r) - 1; i >= 0; --i) {
      s[i + batchRank - r] = d[i] == 1 ? 0 : stride;
      stride *= d[i];
    }
    return s;
  };
  shape.strideA = batchStrides(ad);
  shape.strideB = batchStrides(bd);
  shape.rhsShared = shape.lhsDense = true;
  for (size_t d = 0; d < batchRank; ++d) {
    shape.rhsShared &= shape.strideB[d] == 0;
    shape.lhsDense &= shape.strideA[d] != 0 || shape.batch[d] == 1;
  }
  return GP_OK;
}

std::vector<int64_t> gp::dimsOf(const gp_tensor *t) {
  return std::vector<int64_t>(t->dims, t->dims + t->rank);
}

std::vector<int64_t> gp::stridesOf(const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (int64_t i = (int64_t)dims.size() - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * dims[i + 1];
  return strides;
}

bool gp::broadcastStrides(const gp_tensor *in, const std::vector<int64_t> &outDims,
                          std::vector<int64_t> &strides) {
  size_t rank = outDims.size();
  if ((size_t)in->rank > rank)
    return false;
  std::vector<int64_t> inStrides = stridesOf(dimsOf(in));
  strides.assign(rank, 0);
  size_t offset = rank - in->rank;
  for (size_t d = 0; d < (size_t)in->rank; ++d) {
    int64_t dim = in->dims[d];
    if (dim == outDims[d + offset])
      strides[d + offset] = dim == 1 ? 0 : inStrides[d];
    else if (dim != 1)
      return false;
  }
  return true;
}

gp::F32Copy gp::f32Like(const gp_tensor *t) {
  F32Copy c;
  c.view = *t;
  c.view.dtype = GP_F32;
  c.data.assign(gp_numel(t), 0.0f);
  c.view.data = c.data.data();
  return c;
}

gp::F32Copy gp::toF32(const gp_tensor *t) {
  F32Copy c = f32Like(t);
  int64_t n = gp_numel(t);
  if (t->dtype == GP_F16)
    for (int64_t i = 0; i < n; ++i)
      c.data[i] = float(static_cast<const _Float16 *>(t->data)[i]);
  else
    for (int64_t i = 0; i < n; ++i)
      c.data[i] = float(static_cast<const bf16 *>(t->data)[i]);
  return c;
}

void gp::fromF32(const F32Copy &src, gp_tensor *dst) {
  int64_t n = gp_numel(dst);
  if (dst->dtype == GP_F16)
    for (int64_t i = 0; i < n; ++i)
      static_cast<_Float16 *>(dst->data)[i] = _Float16(src.data[i]);
  else
    for (int64_t i = 0; i < n; ++i)
      static_cast<bf16 *>(dst->data)[i] = bf16(src.data[i]);
}
