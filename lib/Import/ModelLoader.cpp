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
  try {
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
