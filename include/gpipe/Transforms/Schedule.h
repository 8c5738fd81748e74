//===- Schedule.h - pipeline schedules, their checks and timelines -*- C++ -*-===//
//
// The per-stage programs of a pipeline schedule (GPipe's fill-drain or
// PipeDream-flush 1F1B) over M micro-batches, a verifier that proves every
// send meets its receive in order and that no stage waits forever, and a
// simulation that lays the programs out in time from per-stage costs: the
// timeline, the bubble fraction and each stage's peak memory. Independent of
// MLIR, like the partitioner.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TRANSFORMS_SCHEDULE_H
#define GPIPE_TRANSFORMS_SCHEDULE_H

#include "gpipe/runtime/gp_program.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::gpipe {

enum class ScheduleKind { GPipe, OneFOneB };
/// Which activations a stage keeps per micro-batch between its forward and
/// its backward: all (None: nothing is recomputed), only its inputs (Full),
/// all for the last micro-batch and only inputs for the others
/// (ExceptLast), or the cheapest-to-keep subset that fits a memory budget,
/// recomputing the rest (Auto).
enum class RecomputePolicy { None, Full, ExceptLast, Auto };

/// The actions are the runtime's (gpipe/runtime/gp_program.h), so a
/// schedule reaches the pipeline engine and generated programs as it is.
using ActionKind = gp::ActionKind;
const char *actionName(ActionKind kind);

/// The names the options and the IR use: "gpipe", "1f1b"; "none", "full",
/// "except-last", "auto".
const char *scheduleKindName(ScheduleKind kind);
const char *recomputePolicyName(RecomputePolicy policy);
/// The kind or policy a name denotes; nullopt for any other string.
std::optional<ScheduleKind> parseScheduleKind(const std::string &name);
std::optional<RecomputePolicy> parseRecomputePolicy(const std::string &name);

struct Action {
  ActionKind kind;
  int microBatch = -1;
  /// The other stage of a send or receive.
  int peer = -1;
};

/// The functions a stage runs: for a micro-batch it recomputes (its program
/// has a recompute action), `forward` keeps the inputs and `backward`
/// recomputes what it needs; for the others `forwardKeep` also returns the
/// activations `backwardKeep` reads. Empty names: not available.
struct StageFunctions {
  std::string forward, backward, forwardKeep, backwardKeep;
};

struct Schedule {
  int stages = 1, microBatches = 1;
  ScheduleKind kind = ScheduleKind::GPipe;
  RecomputePolicy recompute = RecomputePolicy::None;
  /// programs[s]: what stage s does, in order.
  std::vector<std::vector<Action>> programs;
  /// functions[s]: the functions stage s runs (the IR's gpipe.stage_program
  /// names them); empty when the schedule is not bound to functions.
  std::vector<StageFunctions> functions;
};

/// Whether stage `s` recomputes micro-batch `mb` (its program holds a
/// recompute action for it).
bool recomputes(const Schedule &schedule, int s, int mb);

/// The programs of `kind` for K stages and M micro-batches: each stage
/// receives its input, runs the forward and sends the result on; backward
/// passes receive the output gradient, recompute as `policy` says, run the
/// backward and send the input gradient back; one optimizer update ends.
Schedule buildSchedule(int stages, int microBatches, ScheduleKind kind,
                       RecomputePolicy policy);

/// Checks that the activations stage s sends to s + 1 are the ones s + 1
/// receives, in the same order (and the gradients going back), and that the
/// programs complete when sends are buffered and receives wait: a deadlock
/// is an error naming the stuck stages. nullopt when sound.
std::optional<std::string> verifySchedule(const Schedule &schedule);

/// What one stage costs per micro-batch, in seconds and bytes.
struct StageCosts {
  double forward = 0, backward = 0, update = 0;
  /// Transfer of one micro-batch's boundary tensor to the next stage (the
  /// activation) and to the previous one (its gradient).
  double sendActivation = 0, sendGradient = 0;
  /// Parameters, gradients and optimizer state; one micro-batch's
  /// activations; one micro-batch's stage input.
  double stateBytes = 0, activationBytes = 0, inputBytes = 0;
  /// Under recompute=auto: the activations kept per micro-batch beside its
  /// inputs (the backward recomputes the rest of activationBytes).
  double keptBytes = 0;
};

struct TimedAction {
  int stage;
  Action action;
  double start, end;
};

struct Timeline {
  std::vector<TimedAction> actions;
  /// When the last backward ends (the optimizer updates follow).
  double makespan = 0;
  /// 1 - (compute time of all stages) / (K * makespan).
  double bubbleFraction = 0;
  /// Peak bytes per stage: state plus the activations alive at the worst
  /// point of its program.
  std::vector<double> peakMemory;
};

/// Lays the programs out in time (sends are asynchronous: a receive waits
/// for the message to arrive) and tracks each stage's memory.
Timeline simulate(const Schedule &schedule, const std::vector<StageCosts> &costs);

/// The timeline as an SVG picture: a row per stage, forward, recompute,
/// backward and update told apart by color, transfers in a lane below.
std::string renderSvg(const Schedule &schedule, const Timeline &timeline,
                      const std::string &title);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_SCHEDULE_H
