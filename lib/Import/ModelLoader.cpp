//===- ModelLoader.cpp - reading and validating ONNX files ----------------===//
//
// The only code that calls into ONNX's throwing APIs; every exception stops
// here and becomes a one-line error.
//
//===----------------------------------------------------------------------===//

#include "ModelLoader.h"

#include <onnx/checker.h>
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "ConstTensor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <exception>

using namespace mlir::gpipe::import;

/// The first line of an ONNX message, without its bracketed error class.
static std::string oneLine(const std::string &msg) {
  std::string s;
  for (char c : msg) {
    if (c == '\n') {
      if (!s.empty() && s.back() != ' ')
        s += "; ";
      continue;
    }
    s += c;
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == ';'))
    s.pop_back();
  return s;
}

static bool looksLikeText(llvm::StringRef contents) {
  llvm::StringRef head = contents.take_front(4096);
  for (unsigned char c : head)
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f)
      return false;
  return true;
}

/// Checks that every initializer's values are present: in the file, or in an
/// external data file beside the model. Runs before ONNX's checker so that
/// the user sees which initializer is wrong and why.
static bool validateInitializers(const onnx::ModelProto &model,
                                 llvm::StringRef path, std::string &error) {
  using TP = onnx::TensorProto;
  for (const auto &init : model.graph().initializer()) {
    std::string what = "initializer '" + init.name() + "'";
    int32_t dtype = init.data_type();
    if (!isSupportedDType(dtype)) {
      error = what + " has unsupported " + dtypeName(dtype);
      return false;
    }
    int64_t n = 1;
    for (int64_t d : init.dims()) {
      if (d < 0) {
        error = what + " has a negative dimension";
        return false;
      }
      n *= d;
    }
    int64_t bytes = n * dtypeBytes(dtype);
    if (init.data_location() == TP::EXTERNAL) {
      std::string location;
      int64_t offset = 0, length = bytes;
      for (const auto &kv : init.external_data()) {
        if (kv.key() == "location")
          location = kv.value();
        else if (kv.key() == "offset")
          offset = std::atoll(kv.value().c_str());
        else if (kv.key() == "length")
          length = std::atoll(kv.value().c_str());
      }
      llvm::SmallString<256> file(llvm::sys::path::parent_path(path));
      llvm::sys::path::append(file, location);
      uint64_t size = 0;
      if (location.empty() || llvm::sys::fs::file_size(file, size)) {
        error = what + ": external data file '" + file.str().str() + "' is missing";
        return false;
      }
      if (length != bytes || (int64_t)size < offset + length) {
        error = what + ": external data file '" + file.str().str() +
                "' holds " + std::to_string(size) + " bytes, needs " +
                std::to_string(offset + bytes);
        return false;
      }
      continue;
    }
    if (init.has_raw_data()) {
      if ((int64_t)init.raw_data().size() != bytes) {
        error = what + " holds " + std::to_string(init.raw_data().size()) +
                " bytes of data, expected " + std::to_string(bytes);
        return false;
      }
      continue;
    }
    int64_t count;
    switch (dtype) {
    case TP::FLOAT: count = init.float_data_size(); break;
    case TP::DOUBLE: count = init.double_data_size(); break;
    case TP::INT64: count = init.int64_data_size(); break;
    default: count = init.int32_data_size(); break;
    }
    if (count == 0 && n > 0) {
      error = what + " has no data";
      return false;
    }
    if (count != n) {
      error = what + " holds " + std::to_string(count) + " values, expected " +
              std::to_string(n);
      return false;
    }
  }
  return true;
}

bool mlir::gpipe::import::loadModel(llvm::StringRef contents,
                                    llvm::StringRef path,
                                    onnx::ModelProto &model,
                                    std::string &error) {
  if (contents.empty()) {
    error = "file is empty";
    return false;
  }
  bool text = path.ends_with(".onnxtxt") || path.ends_with(".txt");
  if (!text) {
    if (contents.size() > (size_t)INT32_MAX) {
      error = "models over 2 GB must keep their weights in external data files";
      return false;
    }
    if (!model.ParseFromArray(contents.data(), (int)contents.size())) {
      if (!looksLikeText(contents)) {
        error = "not a valid ONNX model: the protobuf does not parse (the file "
                "is truncated or not ONNX)";
        return false;
      }
      text = true;
    }
  }
  if (text) {
    model.Clear();
    std::string buffer = contents.str();
    try {
      auto status = onnx::OnnxParser::Parse(model, buffer.c_str());
      if (!status.IsOK()) {
        error = "cannot parse ONNX text: " + oneLine(status.ErrorMessage());
        return false;
      }
    } catch (const std::exception &e) {
      error = "cannot parse ONNX text: " + oneLine(e.what());
      return false;
    }
  }
  if (!model.has_graph() || model.opset_import_size() == 0) {
    error = "not an ONNX model: it has no graph or no opset import";
    return false;
  }
  if (!validateInitializers(model, path, error))
    return false;
  bool external = false;
  for (const auto &init : model.graph().initializer())
    external |= init.data_location() == onnx::TensorProto::EXTERNAL;
  try {
    // The in-memory checker resolves external data against the working
    // directory; the file-based one against the model's own directory.
    if (external)
      onnx::checker::check_model(path.str());
    else
      onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    error = "invalid ONNX model: " + oneLine(e.what());
    return false;
  }
  return true;
}

bool mlir::gpipe::import::inferShapes(onnx::ModelProto &model,
                                      std::string &error) {
  onnx::ShapeInferenceOptions options{/*check_type=*/true, /*error_mode=*/1,
                                      /*enable_data_propagation=*/true};
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       options);
  } catch (const std::exception &e) {
    error = "ONNX shape inference failed: " + oneLine(e.what());
    return false;
  }
  return true;
}
