//===- gp_pipeline.h - stages as threads exchanging messages ----*- C++ -*-===//
//
// The pipeline engine both gpipe-run (through the interpreter) and the
// generated trainers use: one thread per stage, each running its program of
// a schedule (GPipe or 1F1B) over M micro-batches, activations and
// gradients passed as messages through FIFO channels between every pair of
// stages that exchange values (a skip connection has its own channel). A
// message that arrives out of the order a program expects is an error
// naming both stages, as a mismatched send/recv on devices would be; a
// failing stage closes every channel, so the others stop instead of
// hanging. How a stage's functions run is the caller's (StageRunner).
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_GP_PIPELINE_H
#define GPIPE_RUNTIME_GP_PIPELINE_H

#include "gpipe/runtime/gp_program.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace gp {

/// A stage's forward/backward pair: the forward returns the stage outputs
/// then `numKept` kept activations; the backward takes the forward's
/// inputs, the kept activations, then the gradients of the outputs
/// `gradOfOutput` lists, and returns gradients of earlier stages' outputs
/// or of parameters.
struct StagePair {
  bool present = false;
  size_t numKept = 0;
  std::vector<int64_t> gradOfOutput;
  struct Result {
    /// Empty: the gradient of stage `stage`'s output `index`.
    std::string param;
    int64_t stage = -1, index = -1;
  };
  std::vector<Result> results;
};

struct PipelineStage {
  /// (stage, index) of each forward argument; stage -1: model argument.
  std::vector<std::pair<int64_t, int64_t>> sources;
  /// Per stage output: the model result positions it is.
  std::vector<std::vector<int64_t>> returns;
  /// For micro-batches the stage recomputes, and for the others.
  StagePair recomputing, keeping;
};

struct PipelinePlan {
  int stages = 1, microBatches = 1;
  /// programs[s]: stage s's actions in order.
  std::vector<std::vector<Action>> programs;
  std::vector<PipelineStage> stageInfo;
  /// CPU threads each stage's kernels use (0: the runtime's default). The
  /// stage threads run at once, so K stages of all cores would fight for
  /// them.
  int threadsPerStage = 0;
  /// After a stage fails, how long the others may take to stop; a stage
  /// still running then is stuck in a call the stop cannot interrupt (a
  /// device synchronization behind a lost peer), and the process ends with
  /// the first error (exit code 1) rather than hang.
  double stopGraceSeconds = 30;
  /// When positive: a run in which no stage starts or finishes an action
  /// for this long is stuck in calls that cannot time out (device calls
  /// blocked behind each other), and the process ends naming where each
  /// stage is (exit code 1). 0: no watch (the CPU's calls all return).
  double stallSeconds = 0;
};

/// Runs stage `stage`'s forward (or backward) of its keeping (or
/// recomputing) pair on micro-batch `microBatch`; false with `error` set on
/// failure.
using StageRunner =
    std::function<bool(int stage, bool keeping, bool backward, int microBatch,
                       const std::vector<Tensor> &args, std::vector<Tensor> &results,
                       std::string &error)>;

/// One micro-batch's activations (all outputs of the sending stage) or
/// gradients (of the receiving stage's outputs, by output index).
struct PipelineMessage {
  int microBatch = -1;
  std::vector<int64_t> indices;
  std::vector<Tensor> values;
};

/// How messages travel between stages: in-process queues by default; a
/// process per stage (MPI) supplies its own.
class Transport {
public:
  virtual ~Transport() = default;
  /// Sends `msg` from stage `from` to stage `to`; false with `error` set
  /// on failure.
  virtual bool send(int from, int to, bool gradient, const PipelineMessage &msg,
                    std::string &error) = 0;
  /// Receives the next message from `from` to `to`, in order; false when
  /// the run was stopped (error empty) or on failure (error set).
  virtual bool recv(int from, int to, bool gradient, PipelineMessage &msg,
                    std::string &error) = 0;
  /// Wakes every waiting receiver: a stage failed.
  virtual void stop() = 0;
  /// Called once the local stages are done: completes sends still in
  /// flight.
  virtual bool finish(std::string &error) { return true; }
  /// From now on a receive that waits longer than `seconds` fails, naming
  /// both stages (0: wait for ever, the default).
  virtual void setRecvTimeout(double /*seconds*/) {}
};

/// The in-process transport: a FIFO per pair of stages and direction.
std::unique_ptr<Transport> makeQueueTransport(int stages);

struct PipelineRun {
  /// outputs[mb][i]: model result i of micro-batch mb.
  std::vector<std::vector<Tensor>> outputs;
  /// Parameter gradients summed over micro-batches and stages.
  std::map<std::string, Tensor> paramGrads;
};

/// Checks `plan` (stage and output indices in range, the pairs each
/// micro-batch needs present); nullopt-like empty string when sound.
std::string checkPipelinePlan(const PipelinePlan &plan);

/// Runs one mini-batch: `inputs[mb]` the model arguments of micro-batch mb,
/// `outputGrads[mb]` the gradients of its results (empty tensors for
/// non-float ones).
/// With `transport`, only the stages in `localStages` run here and the
/// others are elsewhere (outputs and gradients then cover the local
/// stages only). The stages run on the process's stage threads
/// (postToStageThread): one runPipeline at a time per process, and never
/// from inside a stage's call (the calls would wait on each other).
bool runPipeline(const PipelinePlan &plan, const StageRunner &runner,
                 const std::vector<std::vector<Tensor>> &inputs,
                 const std::vector<std::vector<Tensor>> &outputGrads, PipelineRun &out,
                 std::string &error, Transport *transport = nullptr,
                 const std::vector<int> &localStages = {});

/// acc += value (acc empty: acc = value); false with `error` on failure.
bool accumulate(Tensor &acc, const Tensor &value, std::string &error);

/// Runs `task` on pipeline stage `stage`'s thread: one long-lived thread per
/// stage index, started on first use and kept for the process, on which
/// runPipeline runs that stage's calls (and the trainer its update). A
/// thread made per step would start a new OpenMP team at its first parallel
/// loop each time. Tasks posted to one stage run in order.
void postToStageThread(int stage, std::function<void()> task);
/// Waits until every task posted so far to the threads of `stages` has run.
void waitForStageThreads(const std::vector<int> &stages);

} // namespace gp

#endif // GPIPE_RUNTIME_GP_PIPELINE_H
