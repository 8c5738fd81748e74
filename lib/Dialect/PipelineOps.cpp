//===- PipelineOps.cpp - pipeline schedules in the IR ---------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::gpipe;

FailureOr<Schedule> mlir::gpipe::scheduleFromIR(PipelineOp op, std::string &error) {
  Schedule schedule;
  schedule.microBatches = static_cast<int>(op.getMicroBatches());
  std::optional<ScheduleKind> kind = parseScheduleKind(op.getSchedule().str());
  if (!kind) {
    error = "schedule must be gpipe or 1f1b, got '" + op.getSchedule().str() + "'";
    return failure();
  }
  std::optional<RecomputePolicy> policy = parseRecomputePolicy(op.getRecompute().str());
  if (!policy) {
    error = "recompute must be none, full, except-last or auto, got '" +
            op.getRecompute().str() + "'";
    return failure();
  }
  schedule.kind = *kind;
  schedule.recompute = *policy;
  if (schedule.microBatches < 1) {
    error = "micro_batches must be positive";
    return failure();
  }
  int64_t expected = 0;
  for (Operation &child : op.getBody().front()) {
    auto program = dyn_cast<StageProgramOp>(child);
    if (!program) {
      error = "holds only gpipe.stage_program ops";
      return failure();
    }
    if (static_cast<int64_t>(program.getStage()) != expected) {
      error = "stage programs must be numbered 0, 1, ... in order; found stage " +
              std::to_string(program.getStage()) + " where " + std::to_string(expected) +
              " belongs";
      return failure();
    }
    ++expected;
    std::vector<Action> actions;
    for (Operation &a : program.getBody().front()) {
      Action action{ActionKind::Update};
      if (auto f = dyn_cast<ForwardActionOp>(a))
        action = {ActionKind::Forward, static_cast<int>(f.getMicroBatch())};
      else if (auto r = dyn_cast<RecomputeActionOp>(a))
        action = {ActionKind::Recompute, static_cast<int>(r.getMicroBatch())};
      else if (auto b = dyn_cast<BackwardActionOp>(a))
        action = {ActionKind::Backward, static_cast<int>(b.getMicroBatch())};
      else if (auto s = dyn_cast<SendActivationOp>(a))
        action = {ActionKind::SendActivation, static_cast<int>(s.getMicroBatch()),
                  static_cast<int>(s.getPeer())};
      else if (auto s = dyn_cast<RecvActivationOp>(a))
        action = {ActionKind::RecvActivation, static_cast<int>(s.getMicroBatch()),
                  static_cast<int>(s.getPeer())};
      else if (auto s = dyn_cast<SendGradientOp>(a))
        action = {ActionKind::SendGradient, static_cast<int>(s.getMicroBatch()),
                  static_cast<int>(s.getPeer())};
      else if (auto s = dyn_cast<RecvGradientOp>(a))
        action = {ActionKind::RecvGradient, static_cast<int>(s.getMicroBatch()),
                  static_cast<int>(s.getPeer())};
      else if (!isa<OptimizerUpdateOp>(a)) {
        error = "stage " + std::to_string(program.getStage()) + " holds '" +
                a.getName().getStringRef().str() + "', which is not a pipeline action";
        return failure();
      }
      if (action.microBatch >= schedule.microBatches ||
          (action.kind != ActionKind::Update && action.microBatch < 0)) {
        error = "stage " + std::to_string(program.getStage()) + " names micro-batch " +
                std::to_string(action.microBatch) + " of " +
                std::to_string(schedule.microBatches);
        return failure();
      }
      actions.push_back(action);
    }
    schedule.programs.push_back(std::move(actions));
    StageFunctions functions;
    auto pair = [&](std::optional<ArrayAttr> names, const char *what, std::string &forward,
                    std::string &backward) {
      if (!names)
        return true;
      if (names->size() != 2) {
        error = "stage " + std::to_string(program.getStage()) + " names " +
                std::to_string(names->size()) + " " + what +
                " functions; it takes [forward, backward]";
        return false;
      }
      forward = cast<FlatSymbolRefAttr>((*names)[0]).getValue().str();
      backward = cast<FlatSymbolRefAttr>((*names)[1]).getValue().str();
      return true;
    };
    if (!pair(program.getRecomputing(), "recomputing", functions.forward, functions.backward) ||
        !pair(program.getKeeping(), "keeping", functions.forwardKeep, functions.backwardKeep))
      return failure();
    schedule.functions.push_back(std::move(functions));
  }
  schedule.stages = static_cast<int>(expected);
  if (schedule.stages < 1) {
    error = "has no stage program";
    return failure();
  }
  // Every stage runs the forward and the backward of every micro-batch once,
  // and updates once.
  for (int s = 0; s < schedule.stages; ++s) {
    std::vector<int> forwards(schedule.microBatches), backwards(schedule.microBatches);
    int updates = 0;
    for (const Action &a : schedule.programs[s]) {
      if (a.kind == ActionKind::Forward)
        ++forwards[a.microBatch];
      if (a.kind == ActionKind::Backward)
        ++backwards[a.microBatch];
      if (a.kind == ActionKind::Update)
        ++updates;
      if (a.peer >= schedule.stages || (a.peer < 0 && a.kind != ActionKind::Forward &&
                                        a.kind != ActionKind::Backward &&
                                        a.kind != ActionKind::Recompute &&
                                        a.kind != ActionKind::Update)) {
        error = "stage " + std::to_string(s) + " exchanges with stage " +
                std::to_string(a.peer) + " of " + std::to_string(schedule.stages);
        return failure();
      }
    }
    for (int mb = 0; mb < schedule.microBatches; ++mb)
      if (forwards[mb] != 1 || backwards[mb] != 1) {
        error = "stage " + std::to_string(s) + " runs the forward of micro-batch " +
                std::to_string(mb) + " " + std::to_string(forwards[mb]) +
                " times and its backward " + std::to_string(backwards[mb]) +
                " times; each must run once";
        return failure();
      }
    if (updates != 1) {
      error = "stage " + std::to_string(s) + " updates " + std::to_string(updates) +
              " times; once per mini-batch";
      return failure();
    }
  }
  if (std::optional<std::string> bad = verifySchedule(schedule)) {
    error = *bad;
    return failure();
  }
  // A micro-batch the stage recomputes runs the recomputing pair, any other
  // the keeping pair.
  for (int s = 0; s < schedule.stages; ++s) {
    const StageFunctions &f = schedule.functions[s];
    for (int mb = 0; mb < schedule.microBatches; ++mb) {
      bool recomputed = recomputes(schedule, s, mb);
      if (recomputed ? f.forward.empty() : f.forwardKeep.empty()) {
        error = "stage " + std::to_string(s) + (recomputed ? " recomputes" : " keeps") +
                " the activations of micro-batch " + std::to_string(mb) + " but names no " +
                (recomputed ? "recomputing" : "keeping") + " functions";
        return failure();
      }
    }
  }
  return schedule;
}

void mlir::gpipe::buildPipelineOp(OpBuilder &builder, Location loc, StringRef function,
                                  const Schedule &schedule) {
  const char *kind = scheduleKindName(schedule.kind);
  const char *policy = recomputePolicyName(schedule.recompute);
  auto pipeline = PipelineOp::create(
      builder, loc, FlatSymbolRefAttr::get(builder.getContext(), function),
      builder.getI64IntegerAttr(schedule.microBatches), builder.getStringAttr(kind),
      builder.getStringAttr(policy));
  OpBuilder::InsertionGuard guard(builder);
  builder.createBlock(&pipeline.getBody());
  for (int s = 0; s < schedule.stages; ++s) {
    ArrayAttr recomputing, keeping;
    auto names = [&](const std::string &forward, const std::string &backward) {
      return forward.empty() ? ArrayAttr()
                             : builder.getArrayAttr({FlatSymbolRefAttr::get(builder.getContext(),
                                                                            forward),
                                                     FlatSymbolRefAttr::get(builder.getContext(),
                                                                            backward)});
    };
    if (static_cast<size_t>(s) < schedule.functions.size()) {
      const StageFunctions &f = schedule.functions[s];
      recomputing = names(f.forward, f.backward);
      keeping = names(f.forwardKeep, f.backwardKeep);
    }
    auto program = StageProgramOp::create(builder, loc, s, recomputing, keeping);
    OpBuilder::InsertionGuard inner(builder);
    builder.createBlock(&program.getBody());
    for (const Action &a : schedule.programs[s]) {
      switch (a.kind) {
      case ActionKind::Forward: ForwardActionOp::create(builder, loc, a.microBatch); break;
      case ActionKind::Recompute: RecomputeActionOp::create(builder, loc, a.microBatch); break;
      case ActionKind::Backward: BackwardActionOp::create(builder, loc, a.microBatch); break;
      case ActionKind::SendActivation:
        SendActivationOp::create(builder, loc, a.microBatch, a.peer);
        break;
      case ActionKind::RecvActivation:
        RecvActivationOp::create(builder, loc, a.microBatch, a.peer);
        break;
      case ActionKind::SendGradient: SendGradientOp::create(builder, loc, a.microBatch, a.peer); break;
      case ActionKind::RecvGradient: RecvGradientOp::create(builder, loc, a.microBatch, a.peer); break;
      case ActionKind::Update: OptimizerUpdateOp::create(builder, loc); break;
      }
    }
  }
}

LogicalResult PipelineOp::verifyRegions() {
  std::string error;
  if (failed(scheduleFromIR(*this, error)))
    return emitOpError(error);
  return success();
}

LogicalResult PipelineOp::verifySymbolUses(SymbolTableCollection &symbols) {
  if (!symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, getFunctionAttr()))
    return emitOpError("names no function @") << getFunction();
  for (auto program : getBody().front().getOps<StageProgramOp>())
    for (std::optional<ArrayAttr> names : {program.getRecomputing(), program.getKeeping()})
      if (names)
        for (Attribute name : *names)
          if (!symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, cast<FlatSymbolRefAttr>(name)))
            return emitOpError("stage ")
                   << program.getStage() << " names no function " << name;
  return success();
}
