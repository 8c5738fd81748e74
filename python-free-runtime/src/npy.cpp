//===- npy.cpp - reading and writing NumPy .npy files ---------------------===//
//
// The format: magic "\x93NUMPY", version, a little-endian header length, a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded so the data starts on a 64-byte boundary, then the raw data.
//
//===----------------------------------------------------------------------===//

#include "internal.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

using namespace gp;

namespace {
struct FileCloser {
  void operator()(FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

bool parseDescr(const std::string &d, gp_dtype &dtype) {
  if (d.size() < 3)
    return false;
  char order = d[0];
  if (order != '<' && order != '|' && order != '=')
    return false;
  std::string kind = d.substr(1);
  if (kind == "f4") dtype = GP_F32;
  else if (kind == "f2") dtype = GP_F16;
  else if (kind == "f8") dtype = GP_F64;
  else if (kind == "i8") dtype = GP_I64;
  else if (kind == "i4") dtype = GP_I32;
  else if (kind == "i2") dtype = GP_I16;
  else if (kind == "i1") dtype = GP_I8;
  else if (kind == "u1") dtype = GP_U8;
  else if (kind == "b1") dtype = GP_BOOL;
  else return false;
  return true;
}

const char *descrOf(gp_dtype dtype) {
  switch (dtype) {
  case GP_F32: return "<f4";
  case GP_F64: return "<f8";
  case GP_I64: return "<i8";
  case GP_I32: return "<i4";
  case GP_I16: return "<i2";
  case GP_I8: return "|i1";
  case GP_U8: return "|u1";
  case GP_BOOL: return "|b1";
  case GP_F16: return "<f2";
  case GP_BF16: return nullptr; // NumPy has no bfloat16
  }
  return nullptr;
}

/// The value text after 'key': in the header dict.
bool findValue(const std::string &header, const std::string &key, std::string &value) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos)
    return false;
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos)
    return false;
  char open = header[start];
  size_t end;
  if (open == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string::npos)
      return false;
    value = header.substr(start + 1, end - start - 1);
  } else if (open == '(') {
    end = header.find(')', start);
    if (end == std::string::npos)
      return false;
    value = header.substr(start + 1, end - start - 1);
  } else {
    end = header.find_first_of(",}", start);
    value = header.substr(start, end - start);
  }
  return true;
}
} // namespace

extern "C" gp_status gp_npy_read(const char *path, gp_tensor *out) {
  std::string where = std::string(path) + ": ";
  File f(std::fopen(path, "rb"));
  if (!f)
    return fail(where + "cannot open: " + std::strerror(errno));
  unsigned char magic[8];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return fail(where + "not a .npy file");
  uint32_t headerLen = 0;
  unsigned char len[4] = {0, 0, 0, 0};
  size_t lenBytes = magic[6] == 1 ? 2 : 4;
  if (magic[6] < 1 || magic[6] > 3 || std::fread(len, 1, lenBytes, f.get()) != lenBytes)
    return fail(where + "unsupported .npy version");
  headerLen = len[0] | (len[1] << 8) | (len[2] << 16) | ((uint32_t)len[3] << 24);
  if (headerLen > (1u << 20))
    return fail(where + "header is too large");
  std::string header(headerLen, '\0');
  if (std::fread(header.data(), 1, headerLen, f.get()) != headerLen)
    return fail(where + "truncated header");
  std::string descr, fortran, shape;
  if (!findValue(header, "descr", descr) || !findValue(header, "fortran_order", fortran) ||
      !findValue(header, "shape", shape))
    return fail(where + "malformed header");
  gp_dtype dtype;
  if (!parseDescr(descr, dtype))
    return fail(where + "unsupported element type '" + descr +
                "' (supported: little-endian f2, f4, f8, i8, i4, i2, i1, u1, b1)");
  if (fortran.rfind("False", 0) != 0)
    return fail(where + "Fortran-order arrays are not supported; save with np.ascontiguousarray");
  int64_t dims[GP_MAX_RANK];
  int32_t rank = 0;
  const char *p = shape.c_str();
  while (*p) {
    while (*p == ' ' || *p == ',')
      ++p;
    if (!*p)
      break;
    char *end;
    long long v = std::strtoll(p, &end, 10);
    if (end == p || v < 0)
      return fail(where + "malformed shape (" + shape + ")");
    if (rank == GP_MAX_RANK)
      return fail(where + "rank exceeds " + std::to_string(GP_MAX_RANK));
    dims[rank++] = v;
    p = end;
  }
  if (gp_status s = gp_tensor_init(out, dtype, rank, dims))
    return s;
  size_t bytes = gp_numel(out) * gp_dtype_size(dtype);
  void *data = std::malloc(bytes ? bytes : 1);
  if (!data)
    return fail(where + "out of memory");
  if (std::fread(data, 1, bytes, f.get()) != bytes) {
    std::free(data);
    return fail(where + "truncated data: expected " + std::to_string(bytes) + " bytes");
  }
  out->data = data;
  return GP_OK;
}

extern "C" gp_status gp_npy_write(const char *path, const gp_tensor *t) {
  std::string where = std::string(path) + ": ";
  const char *descr = descrOf(t->dtype);
  if (!descr)
    return fail(where + "NumPy has no " + gp_dtype_name(t->dtype) + " arrays");
  std::string shape = "(";
  for (int32_t i = 0; i < t->rank; ++i)
    shape += std::to_string(t->dims[i]) + (t->rank == 1 ? "," : (i + 1 < t->rank ? ", " : ""));
  shape += ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  File f(std::fopen(path, "wb"));
  if (!f)
    return fail(where + "cannot create: " + std::strerror(errno));
  unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              (unsigned char)(header.size() & 0xff),
                              (unsigned char)(header.size() >> 8)};
  size_t bytes = gp_numel(t) * gp_dtype_size(t->dtype);
  if (std::fwrite(prefix, 1, 10, f.get()) != 10 ||
      std::fwrite(header.data(), 1, header.size(), f.get()) != header.size() ||
      (bytes && std::fwrite(t->data, 1, bytes, f.get()) != bytes))
    return fail(where + "write failed: " + std::strerror(errno));
  return GP_OK;
}

namespace {
template <typename T> void widen(const void *from, int64_t n, int64_t *to) {
  const T *src = static_cast<const T *>(from);
  for (int64_t i = 0; i < n; ++i)
    to[i] = static_cast<int64_t>(src[i]);
}
} // namespace

extern "C" gp_status gp_npy_widen(gp_tensor *t, gp_dtype want) {
  if (!t || want != GP_I64 ||
      (t->dtype != GP_I32 && t->dtype != GP_I16 && t->dtype != GP_I8 && t->dtype != GP_U8))
    return GP_OK;
  int64_t n = gp_numel(t);
  auto *wide = static_cast<int64_t *>(std::malloc(n > 0 ? n * sizeof(int64_t) : 1));
  if (!wide)
    return fail("out of memory widening " + describe(t) + " to i64");
  switch (t->dtype) {
  case GP_I32: widen<int32_t>(t->data, n, wide); break;
  case GP_I16: widen<int16_t>(t->data, n, wide); break;
  case GP_I8: widen<int8_t>(t->data, n, wide); break;
  default: widen<uint8_t>(t->data, n, wide); break;
  }
  gp_free(t->data);
  t->data = wide;
  t->dtype = GP_I64;
  return GP_OK;
}
