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

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gp {

class Transport;

/// An owning tensor; copies share the storage. Its data is in host memory,
/// or on a device (device() >= 0: a CUDA device of the CUDA trainer).
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
  /// A view of `view`'s elements kept alive by `storage`, on `device` (-1:
  /// the host).
  Tensor(const gp_tensor &view, std::shared_ptr<void> storage, int device = -1)
      : tensor(view), storage(std::move(storage)), location(device) {}
  const std::shared_ptr<void> &owner() const { return storage; }
  /// -1: host memory; otherwise the device the data is on.
  int device() const { return location; }

  bool empty() const { return !tensor.data; }
  gp_tensor *view() { return &tensor; }
  const gp_tensor *view() const { return &tensor; }
  size_t bytes() const { return gp_numel(&tensor) * gp_dtype_size(tensor.dtype); }

private:
  gp_tensor tensor{};
  std::shared_ptr<void> storage;
  int location = -1;
};

/// Moves tensors between the host and devices; a backend with device memory
/// installs one (setDeviceMemory) before it creates device tensors. Every
/// call is complete when it returns.
class DeviceMemory {
public:
  virtual ~DeviceMemory() = default;
  /// A host copy of device tensor `t`.
  virtual Tensor toHost(const Tensor &t, std::string &error) = 0;
  /// `t` (host or device) on `device`: `t` itself when it is there.
  virtual Tensor toDevice(const Tensor &t, int device, std::string &error) = 0;
  /// a + b on a's device (b moved there first).
  virtual Tensor add(const Tensor &a, const Tensor &b, std::string &error) = 0;
  /// Whether the host can read and write device memory directly (a
  /// simulated device); then a table may copy a device value itself.
  virtual bool hostAddressable() const { return false; }
};
void setDeviceMemory(DeviceMemory *memory);
DeviceMemory *deviceMemory();
/// `t` in host memory: itself, or a copy from its device; empty with
/// `error` set on failure.
Tensor onHost(const Tensor &t, std::string &error);
/// `t` on `device` (-1: the host).
Tensor onDevice(const Tensor &t, int device, std::string &error);

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
  /// Stores `value` itself (no copy) as parameter `index`'s new value: a
  /// device program's copy of a value it computed.
  virtual bool store(int index, Tensor value, std::string &error) = 0;
};

/// Per-op times of a program built with op timing (`gpipe-compile`'s
/// default; `gpipe-translate --emit-cpp --time-ops`).
struct OpProfile {
  /// seconds[f][i]: the time op i of function f (`FunctionSpec::ops[i]`)
  /// took, summed over the calls. Whoever points a context here sizes it:
  /// one entry per function, `numOps` per entry.
  std::vector<std::vector<double>> seconds;
};

/// Where a generated function runs: the parameters of its stage and a
/// scratch arena (the function's `gpipe.arena_bytes`, grown on first use).
struct FunctionContext {
  ParamTable *params = nullptr;
  std::vector<unsigned char> arena;
  /// Set by a failing function: which op failed and why.
  std::string error;
  /// Where a program built with op timing adds its ops' times; nullptr (the
  /// default): nothing is timed.
  OpProfile *profile = nullptr;
  /// A device program's stage context (a gp_cuda_ctx for CUDA programs):
  /// its device, stream and library handles; nullptr on the CPU.
  void *device = nullptr;
};

/// Times the ops of one call of generated function `function` into
/// `ctx.profile`; without a profile, start and stop are a branch each.
class OpTimer {
public:
  OpTimer(FunctionContext &ctx, int32_t function)
      : times(ctx.profile && function >= 0 &&
                      static_cast<size_t>(function) < ctx.profile->seconds.size()
                  ? ctx.profile->seconds[function].data()
                  : nullptr) {}
  /// Whether this call is timed (a device program then waits for each op).
  bool active() const { return times != nullptr; }
  void start() {
    if (times)
      begin = std::chrono::steady_clock::now();
  }
  /// Adds the time since start() to ops first..first+count-1 in equal
  /// shares (a fused loop computes `count` ops).
  void stop(int32_t first, int32_t count = 1) {
    if (!times)
      return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    for (int32_t i = 0; i < count; ++i)
      times[first + i] += s / count;
  }

private:
  double *times;
  std::chrono::steady_clock::time_point begin;
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

/// Which work a timed op is: the forward, a gradient, or the forward
/// recomputed in a backward function.
enum class OpPhase : int32_t { Forward, Backward, Recompute };

/// An op a program built with op timing times (an op of a fused loop: each
/// gets an equal share of the loop's time).
struct OpSpec {
  const char *node; ///< the ONNX node (the op's location); nullptr: none
  const char *op;   ///< the IR op, e.g. "gpipe.gemm"
  OpPhase phase;
};

struct FunctionSpec {
  const char *name;
  Function fn;
  int32_t numArgs, numResults;
  const ValueSpec *args;
  const ValueSpec *results;
  int64_t arenaBytes;
  /// The ops the function times, in order (none without op timing).
  const OpSpec *ops = nullptr;
  int32_t numOps = 0;
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

/// A model input the trainer feeds from data (one row per example), or the
/// random stream of training-mode dropout.
struct InputSpec {
  const char *name;
  gp_dtype dtype;
  int32_t rank;
  int64_t dims[GP_MAX_RANK]; ///< at the micro-batch size
  bool isLabels;
  /// The dropout stream (`gpipe.rng`, i64[2]): no data; the trainer passes
  /// [step, micro-batch].
  bool isRandom = false;
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
  /// Where the functions run: "cpu", or "cuda" (tensors in device memory,
  /// run by gp::cudaTrainerMain).
  const char *target = "cpu";
  /// CUDA programs: how matrix products and convolutions compute (a
  /// gp_cuda_precision: 0 fp32, 1 tf32, 2 bf16).
  int32_t precision = 0;
  /// When the loss is a mean over kept (ignore_index) or weighted labels:
  /// the function of the loss function's arguments that returns a
  /// micro-batch's total label weight; micro-batch m's loss then counts with
  /// weight_m / sum(weights) instead of 1/M. -1: a plain mean.
  int32_t lossWeightFunction = -1;
  /// gpipe-split-update: per stage, the function that updates the
  /// parameters (and optimizer state) that stage alone reads, on its own
  /// device (-1: none); nullptr when the update is not split. Then
  /// `sharedUpdateFunction` (-1: none) updates the rest on the main
  /// parameters, and `paramOwner[i]` says where parameter i's current value
  /// is: s >= 0, stage s's table alone (only its update stores it); -1, the
  /// main table; -2 - s, stage s's table, of several that store their own
  /// copy (replicated state such as Adam's step count).
  const int32_t *stageUpdateFunctions = nullptr;
  int32_t sharedUpdateFunction = -1;
  const int32_t *paramOwner = nullptr;
  /// The loss is a sum over the batch's rows (a loss with reduction = sum),
  /// not a mean: the mini-batch's loss is the sum of the micro-batches'.
  bool lossIsSum = false;
};

/// How a trainer runs functions on devices: the CUDA trainer supplies one;
/// the CPU trainer runs without.
class Accelerator {
public:
  virtual ~Accelerator() = default;
  /// One line for the log: the devices and which stages run where.
  virtual std::string describe() const = 0;
  /// Prepares the context stage `stage` runs in (-1: the optimizer update
  /// and evaluation, on the device that holds the main parameters).
  virtual bool attach(int stage, FunctionContext &ctx, std::string &error) = 0;
  /// The device `ctx`'s functions run on (its arguments must be there).
  virtual int deviceOf(const FunctionContext &ctx) const = 0;
  /// Called on the thread that is about to run a function in `ctx`.
  virtual bool enter(FunctionContext &ctx, std::string &error) = 0;
  /// Releases the contexts (called before the trainer returns).
  virtual void detach() {}
  /// Under mpirun: this process is rank `rank`, `localRank` among the
  /// ranks of its node (called before attach).
  virtual bool setProcess(int /*rank*/, int /*localRank*/, std::string & /*error*/) {
    return true;
  }
  /// The stage-to-stage transport: `inner` (in-process queues, or MPI
  /// between processes) as it is, or wrapped to move device tensors between
  /// devices; `localStages` run in this process. nullptr with `error` set
  /// on failure.
  virtual std::unique_ptr<Transport> transport(std::unique_ptr<Transport> inner,
                                               const std::vector<int> &localStages,
                                               std::string &error);
  /// How long the pipeline may go without any stage starting or finishing
  /// an action before it ends the process (PipelinePlan::stallSeconds; 0:
  /// never): device calls can block where no timeout reaches them.
  virtual double stallSeconds() const { return 0; }
};

/// Runs the trainer's command line (`--data --labels --steps ...`) on
/// `program`; returns the process exit status. With `accelerator`, the
/// functions run on its devices.
int trainerMain(const Program &program, int argc, char **argv,
                Accelerator *accelerator = nullptr);
/// A CPU trainer's first call in main(): unless the environment sets
/// OMP_WAIT_POLICY or GOMP_SPINCOUNT, re-executes the program once with
/// OMP_WAIT_POLICY=passive (libgomp reads it only when it loads). Threads
/// that spin between parallel loops take cores (or a core's other hardware
/// thread) from the stages' working threads: the benchmark LM's step took
/// 342 ms spinning (OMP_WAIT_POLICY=active) and 183 ms passive on 2 vCPUs
/// (docs/runtime.md). If the exec fails the
/// program goes on as it is.
void preferPassiveOpenMP(char **argv);
/// The accelerator trainerMain uses when it is given none (nullptr: none);
/// a program's main cannot pass one, an embedding (or a test that
/// simulates devices) can install one.
void setDefaultAccelerator(Accelerator *accelerator);

/// trainerMain on CUDA devices (libgpipe_trainer_cuda): a stage per GPU
/// thread, stages sharing GPUs when there are fewer GPUs than stages.
int cudaTrainerMain(const Program &program, int argc, char **argv);

} // namespace gp

#endif // GPIPE_RUNTIME_GP_PROGRAM_H
