//===- gp_program.h - what a generated training program describes -*- C++ -*-===//
//
// The contract between the code `gpipe-translate --emit-cpp` generates and
// the trainer runtime: the generated source defines one C++ function per
// IR function (calling the gp_ kernels) and a `gp::Program` that describes
// the parameters, the functions with the wiring attributes gpipe-pipeline
// put on them, the model's inputs and labels, and the pipeline schedule.
// The trainer (`gp::trainerMain`) reads data, runs the schedule with a
// thread per stage and calls the update function once per mini-batch.
// Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_GP_PROGRAM_H
#define GPIPE_RUNTIME_GP_PROGRAM_H

#include "gpipe/runtime/gp_runtime.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gp {

/// An owning tensor; copies share the storage.
class Tensor {
public:
  Tensor() = default;
  /// Uninitialized storage for the given shape; empty (and gp_last_error
  /// set) when memory runs out.
  static Tensor allocate(gp_dtype dtype, int32_t rank, const int64_t *dims);
  /// A copy of `src`'s elements in new storage.
  static Tensor copyOf(const gp_tensor &src);
  /// Takes ownership of the malloc'ed data of `t` (as gp_npy_read returns).
  static Tensor adopt(const gp_tensor &t);
  /// A view of `view`'s elements kept alive by `storage`.
  Tensor(const gp_tensor &view, std::shared_ptr<void> storage)
      : tensor(view), storage(std::move(storage)) {}
  const std::shared_ptr<void> &owner() const { return storage; }

  bool empty() const { return !tensor.data; }
  gp_tensor *view() { return &tensor; }
  const gp_tensor *view() const { return &tensor; }
  size_t bytes() const { return gp_numel(&tensor) * gp_dtype_size(tensor.dtype); }

private:
  gp_tensor tensor{};
  std::shared_ptr<void> storage;
};

/// One parameter (or optimizer state) of the program.
struct ParamSpec {
  const char *name;        ///< the IR symbol
  const char *initializer; ///< the ONNX initializer; nullptr for zero_init
  gp_dtype dtype;
  int32_t rank;
  int64_t dims[GP_MAX_RANK];
  bool zeroInit;
  bool trainable;
};

/// The parameter values a function reads and writes.
class ParamTable {
public:
  virtual ~ParamTable() = default;
  /// The current value of parameter `index`; nullptr with `error` set when
  /// it cannot be loaded.
  virtual const gp_tensor *get(int index, std::string &error) = 0;
  /// Stores a copy of `value` as parameter `index`'s new value.
  virtual bool set(int index, const gp_tensor &value, std::string &error) = 0;
};

/// Where a generated function runs: the parameters of its stage and a
/// scratch arena (the function's `gpipe.arena_bytes`, grown on first use).
struct FunctionContext {
  ParamTable *params = nullptr;
  std::vector<unsigned char> arena;
  /// Set by a failing function: which op failed and why.
  std::string error;
};

/// A generated function: `args` are borrowed; `results` are filled with
/// tensors the function allocates. GP_ERROR leaves `ctx.error` set.
using Function = gp_status (*)(FunctionContext &ctx, const gp_tensor *const *args,
                               Tensor *results);

/// What an argument or result of a function is (the IR's wiring
/// attributes).
enum class Role : int32_t {
  Plain = 0,        ///< an argument of the model function (a: its index)
  Source = 1,       ///< stage input from stage a's output b (a = -1: model argument b)
  Kept = 2,         ///< the a-th kept activation (gpipe.kept)
  GradOfOutput = 3, ///< gradient of the stage's output a
  GradOf = 4,       ///< gradient of stage a's output b
  ParamGrad = 5,    ///< gradient of parameter a (gpipe.param)
  Output = 6,       ///< a stage output; `returns` lists the model results it is
};

struct ValueSpec {
  Role role;
  int64_t a, b;
  gp_dtype dtype;
  int32_t rank;
  int64_t dims[GP_MAX_RANK];
  /// For Output: the positions of the model's results this value is.
  const int64_t *returns;
  int32_t numReturns;
};

struct FunctionSpec {
  const char *name;
  Function fn;
  int32_t numArgs, numResults;
  const ValueSpec *args;
  const ValueSpec *results;
  int64_t arenaBytes;
};

enum class ActionKind : int32_t {
  Forward,
  Recompute,
  Backward,
  SendActivation,
  RecvActivation,
  SendGradient,
  RecvGradient,
  Update,
};

struct Action {
  ActionKind kind;
  int32_t microBatch, peer;
};

struct StageSpec {
  const Action *actions;
  int32_t numActions;
  /// Function indices: the recomputing pair and the keeping pair (-1: none).
  int32_t forward, backward, forwardKeep, backwardKeep;
};

/// A model input the trainer feeds from data (one row per example).
struct InputSpec {
  const char *name;
  gp_dtype dtype;
  int32_t rank;
  int64_t dims[GP_MAX_RANK]; ///< at the micro-batch size
  bool isLabels;
};

struct Program {
  const char *modelPath; ///< the ONNX file the initializers come from
  const ParamSpec *params;
  int32_t numParams;
  const FunctionSpec *functions;
  int32_t numFunctions;
  const InputSpec *inputs; ///< the loss function's arguments, in order
  int32_t numInputs;
  int32_t lossFunction;    ///< returns the loss first
  int32_t updateFunction;  ///< arguments: parameter gradients (Role::ParamGrad)
  int32_t stages, microBatches;
  const StageSpec *stageSpecs;
  const char *schedule, *recompute;
  /// The inference copy of the model (batch norm with running statistics),
  /// at the micro-batch size: its arguments are the model inputs, its first
  /// result the scores; -1 when the program has none.
  int32_t evalFunction = -1;
};

/// Runs the trainer's command line (`--data --labels --steps ...`) on
/// `program`; returns the process exit status.
int trainerMain(const Program &program, int argc, char **argv);

} // namespace gp

#endif // GPIPE_RUNTIME_GP_PROGRAM_H
