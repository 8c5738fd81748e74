//===- Interpreter.h - reference execution of gpipe functions --*- C++ -*-===//
//
// Runs a `gpipe` function on the CPU by calling the runtime's kernel for each
// op in order. It is the numerical oracle later passes are checked against.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_EXECUTION_INTERPRETER_H
#define GPIPE_EXECUTION_INTERPRETER_H

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/runtime/gp_program.h"
#include "gpipe/runtime/gp_runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <memory>
#include <vector>

namespace mlir::gpipe {

/// A tensor that owns its memory.
class HostTensor {
public:
  HostTensor() = default;
  /// Allocates uninitialized storage for `type`; fails for unsupported
  /// element types or shapes, or when memory runs out, saying which in
  /// `*error` when given.
  static FailureOr<HostTensor> allocate(RankedTensorType type, std::string *error = nullptr);
  /// Wraps the data of an array read by gp_npy_read (takes ownership).
  static HostTensor adopt(const gp_tensor &t);
  /// The same tensor as the runtime's type, and back (storage shared).
  gp::Tensor toRuntime() const { return gp::Tensor(tensor, storage); }
  static HostTensor fromRuntime(const gp::Tensor &t) {
    HostTensor h;
    h.tensor = *t.view();
    h.storage = t.owner();
    return h;
  }

  gp_tensor *view() { return &tensor; }
  const gp_tensor *view() const { return &tensor; }
  void *data() { return tensor.data; }
  size_t bytes() const;

private:
  gp_tensor tensor{};
  std::shared_ptr<void> storage;
};

/// The runtime dtype of an MLIR element type, if the runtime has one.
std::optional<gp_dtype> dtypeFor(Type elementType);
/// Whether a gp_tensor matches a tensor type exactly.
bool matches(const gp_tensor &t, RankedTensorType type);
/// "f32[2, 3]"-style text of a gp_tensor, for messages.
std::string describeTensor(const gp_tensor &t);

/// Fills the storage of a file-backed parameter; returns false with a reason.
using ParamLoader = std::function<bool(ParamOp, HostTensor &, std::string &)>;

/// The program's state: parameter and optimizer-state values by symbol.
/// Values are loaded on first use (`zero_init` ones start at zero) and
/// replaced by gpipe.set_param, so the state carries across runs.
class ParamStore {
public:
  explicit ParamStore(ParamLoader loader) : loader(std::move(loader)) {}
  /// The current value of `param`, loading it the first time.
  FailureOr<HostTensor> get(ParamOp param, std::string &error);
  void set(StringRef name, HostTensor value) { values[name] = std::move(value); }
  /// The value of `name` if it has been loaded or set.
  const HostTensor *lookup(StringRef name) const;
  const llvm::StringMap<HostTensor> &all() const { return values; }

private:
  ParamLoader loader;
  llvm::StringMap<HostTensor> values;
};

/// Time spent per op name, filled when passed to interpret().
using OpProfile = llvm::StringMap<std::pair<double, int64_t>>;

/// Runs `func` on `inputs` (one per argument, already checked against the
/// argument types). Errors are reported on the failing op.
FailureOr<std::vector<HostTensor>> interpret(func::FuncOp func,
                                             std::vector<HostTensor> inputs,
                                             ParamStore &params,
                                             OpProfile *profile = nullptr);

} // namespace mlir::gpipe

#endif // GPIPE_EXECUTION_INTERPRETER_H
