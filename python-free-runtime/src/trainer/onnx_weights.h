//===- onnx_weights.h - initializers of an ONNX model -----------*- C++ -*-===//
//
// The trainer reads a parameter's starting value from the ONNX model the
// program was compiled from (inline or external data) and writes a copy of
// that model with the trained values (`--save`).
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_TRAINER_ONNX_WEIGHTS_H
#define GPIPE_RUNTIME_TRAINER_ONNX_WEIGHTS_H

#include "gpipe/runtime/gp_program.h"

#include <map>
#include <memory>
#include <string>

namespace gp {

class OnnxWeights {
public:
  OnnxWeights();
  ~OnnxWeights();
  /// Parses `path`; false with `error` when it cannot be read.
  bool load(const std::string &path, std::string &error);
  /// Copies initializer `name` into `dst` (shape and dtype already set,
  /// storage allocated); false with `error` on a missing name or a
  /// mismatch.
  bool read(const std::string &name, gp_tensor &dst, std::string &error) const;
  /// Whether initializer `name` exists with `dtype` and the shape `dims`
  /// (the same element count in that order: ONNX may spell a scalar [1]);
  /// false with `error` naming what differs.
  bool check(const std::string &name, gp_dtype dtype, int32_t rank, const int64_t *dims,
             std::string &error) const;
  /// Writes the model with the initializers in `values` replaced, through
  /// a temporary file renamed into place.
  bool save(const std::string &path, const std::map<std::string, const gp_tensor *> &values,
            std::string &error) const;

private:
  struct Model;
  std::unique_ptr<Model> model;
};

} // namespace gp

#endif
