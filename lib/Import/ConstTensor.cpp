//===- ConstTensor.cpp - reading and converting known tensors -------------===//

#include "ConstTensor.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/Support/Endian.h"

#include <onnx/onnx_pb.h>

using namespace mlir;
using namespace mlir::gpipe::import;
using TP = onnx::TensorProto;

bool mlir::gpipe::import::isSupportedDType(int32_t dtype) {
  switch (dtype) {
  case TP::FLOAT: case TP::DOUBLE: case TP::FLOAT16: case TP::BFLOAT16:
  case TP::INT8: case TP::UINT8: case TP::INT16: case TP::INT32:
  case TP::INT64: case TP::BOOL:
    return true;
  default:
    return false;
  }
}

Type mlir::gpipe::import::elementTypeFor(int32_t dtype, MLIRContext *ctx) {
  switch (dtype) {
  case TP::FLOAT: return Float32Type::get(ctx);
  case TP::DOUBLE: return Float64Type::get(ctx);
  case TP::FLOAT16: return Float16Type::get(ctx);
  case TP::BFLOAT16: return BFloat16Type::get(ctx);
  case TP::INT8: return IntegerType::get(ctx, 8);
  case TP::UINT8: return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case TP::INT16: return IntegerType::get(ctx, 16);
  case TP::INT32: return IntegerType::get(ctx, 32);
  case TP::INT64: return IntegerType::get(ctx, 64);
  case TP::BOOL: return IntegerType::get(ctx, 1);
  default: return nullptr;
  }
}

std::string mlir::gpipe::import::dtypeName(int32_t dtype) {
  if (TP::DataType_IsValid(dtype))
    return TP::DataType_Name(static_cast<TP::DataType>(dtype));
  return "data type " + std::to_string(dtype);
}

int64_t mlir::gpipe::import::dtypeBytes(int32_t dtype) {
  switch (dtype) {
  case TP::DOUBLE: case TP::INT64: return 8;
  case TP::FLOAT: case TP::INT32: return 4;
  case TP::FLOAT16: case TP::BFLOAT16: case TP::INT16: return 2;
  case TP::INT8: case TP::UINT8: case TP::BOOL: return 1;
  default: return 0;
  }
}

bool ConstTensor::isFloat() const {
  return dtype == TP::FLOAT || dtype == TP::DOUBLE || dtype == TP::FLOAT16 ||
         dtype == TP::BFLOAT16;
}

int64_t ConstTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void ConstTensor::set(int64_t i, double f, int64_t n) {
  if (isFloat())
    floats[i] = f;
  else if (dtype == TP::BOOL)
    ints[i] = n != 0;
  else
    ints[i] = n;
}

ConstTensor ConstTensor::make(int32_t dtype, ArrayRef<int64_t> shape) {
  ConstTensor t;
  t.dtype = dtype;
  t.shape.assign(shape.begin(), shape.end());
  if (t.isFloat())
    t.floats.assign(t.numElements(), 0.0);
  else
    t.ints.assign(t.numElements(), 0);
  return t;
}

ConstTensor ConstTensor::ints1D(ArrayRef<int64_t> values) {
  ConstTensor t = make(TP::INT64, {(int64_t)values.size()});
  t.ints.assign(values.begin(), values.end());
  return t;
}

static const llvm::fltSemantics &semanticsFor(int32_t dtype) {
  return dtype == TP::FLOAT16 ? llvm::APFloat::IEEEhalf()
                              : llvm::APFloat::BFloat();
}

static double halfToDouble(int32_t dtype, uint16_t bits) {
  llvm::APFloat f(semanticsFor(dtype), llvm::APInt(16, bits));
  bool lost;
  f.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return f.convertToDouble();
}

DenseElementsAttr ConstTensor::toAttr(MLIRContext *ctx) const {
  Type elt = elementTypeFor(dtype, ctx);
  auto type = RankedTensorType::get(shape, elt);
  int64_t n = numElements();
  if (isFloat()) {
    SmallVector<APFloat> values;
    values.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      APFloat f(floats[i]);
      bool lost;
      f.convert(cast<FloatType>(elt).getFloatSemantics(),
                APFloat::rmNearestTiesToEven, &lost);
      values.push_back(f);
    }
    return DenseElementsAttr::get(type, values);
  }
  unsigned width = elt.getIntOrFloatBitWidth();
  SmallVector<APInt> values;
  values.reserve(n);
  for (int64_t i = 0; i < n; ++i)
    values.push_back(APInt(width, (uint64_t)ints[i], /*isSigned=*/true,
                           /*implicitTrunc=*/true));
  return DenseElementsAttr::get(type, values);
}

bool mlir::gpipe::import::readTensorProto(const TP &proto, ConstTensor &out,
                                          std::string &error) {
  int32_t dtype = proto.data_type();
  if (!isSupportedDType(dtype)) {
    error = "has unsupported " + dtypeName(dtype);
    return false;
  }
  if (proto.data_location() == TP::EXTERNAL) {
    error = "stores its data in an external file";
    return false;
  }
  SmallVector<int64_t> shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape)
    if (d < 0) {
      error = "has a negative dimension";
      return false;
    }
  out = ConstTensor::make(dtype, shape);
  int64_t n = out.numElements();
  if (proto.has_raw_data()) {
    const std::string &raw = proto.raw_data();
    int64_t bytes = dtypeBytes(dtype);
    if ((int64_t)raw.size() != n * bytes) {
      error = "holds " + std::to_string(raw.size()) + " bytes of data, expected " +
              std::to_string(n * bytes);
      return false;
    }
    const char *p = raw.data();
    using namespace llvm::support;
    for (int64_t i = 0; i < n; ++i, p += bytes) {
      switch (dtype) {
      case TP::FLOAT: {
        uint32_t bits = endian::read32le(p);
        float f;
        memcpy(&f, &bits, 4);
        out.floats[i] = f;
        break;
      }
      case TP::DOUBLE: {
        uint64_t bits = endian::read64le(p);
        double d;
        memcpy(&d, &bits, 8);
        out.floats[i] = d;
        break;
      }
      case TP::FLOAT16: case TP::BFLOAT16:
        out.floats[i] = halfToDouble(dtype, endian::read16le(p));
        break;
      case TP::INT8: out.ints[i] = (int8_t)*p; break;
      case TP::UINT8: out.ints[i] = (uint8_t)*p; break;
      case TP::BOOL: out.ints[i] = *p != 0; break;
      case TP::INT16: out.ints[i] = (int16_t)endian::read16le(p); break;
      case TP::INT32: out.ints[i] = (int32_t)endian::read32le(p); break;
      case TP::INT64: out.ints[i] = (int64_t)endian::read64le(p); break;
      }
    }
    return true;
  }
  auto mismatch = [&](int64_t have) {
    error = "holds " + std::to_string(have) + " values, expected " +
            std::to_string(n);
    return false;
  };
  switch (dtype) {
  case TP::FLOAT:
    if (proto.float_data_size() != n)
      return mismatch(proto.float_data_size());
    for (int64_t i = 0; i < n; ++i)
      out.floats[i] = proto.float_data(i);
    return true;
  case TP::DOUBLE:
    if (proto.double_data_size() != n)
      return mismatch(proto.double_data_size());
    for (int64_t i = 0; i < n; ++i)
      out.floats[i] = proto.double_data(i);
    return true;
  case TP::INT64:
    if (proto.int64_data_size() != n)
      return mismatch(proto.int64_data_size());
    for (int64_t i = 0; i < n; ++i)
      out.ints[i] = proto.int64_data(i);
    return true;
  default:
    if (proto.int32_data_size() != n)
      return mismatch(proto.int32_data_size());
    for (int64_t i = 0; i < n; ++i) {
      int32_t v = proto.int32_data(i);
      if (dtype == TP::FLOAT16 || dtype == TP::BFLOAT16)
        out.floats[i] = halfToDouble(dtype, (uint16_t)v);
      else
        out.set(i, v, v);
    }
    return true;
  }
}
