//===- PipelinePass.cpp - the gpipe-pipeline pass -------------------------===//
//
// Writes the micro-batch schedule of a partitioned function into the IR as
// a gpipe.pipeline op: per stage, the ordered forward, recompute, backward,
// send, receive and update actions, and the stage functions they call. The
// recompute policy decides which activations each stage keeps between a
// micro-batch's forward and its backward: with `auto`, per stage the set
// that saves the most recompute time and fits the memory budget. The op's
// verifier checks the result.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/OutlineStages.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/PipelineModel.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace mlir::gpipe {
#define GEN_PASS_DEF_PIPELINE
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr StringLiteral kPass = "gpipe-pipeline";

double bytesOf(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || !t.hasStaticShape())
    return 0;
  return static_cast<double>(t.getNumElements()) *
         std::max<unsigned>(8, t.getElementTypeBitWidth()) / 8;
}

std::string formatBytes(double bytes) {
  if (bytes >= 1e9)
    return llvm::formatv("{0:f2} GB", bytes / 1e9).str();
  if (bytes >= 1e6)
    return llvm::formatv("{0:f2} MB", bytes / 1e6).str();
  if (bytes >= 1e3)
    return llvm::formatv("{0:f2} kB", bytes / 1e3).str();
  return llvm::formatv("{0} bytes", static_cast<int64_t>(bytes)).str();
}

/// The most micro-batches stage `s` holds between their forward and their
/// backward at any point of its program.
int inFlight(const Schedule &schedule, int s) {
  int live = 0, most = 0;
  for (const Action &a : schedule.programs[s]) {
    if (a.kind == ActionKind::Forward)
      most = std::max(most, ++live);
    else if (a.kind == ActionKind::Backward)
      --live;
  }
  return most;
}

/// The subset of `candidates` (bytes, seconds to recompute) with the most
/// seconds whose bytes fit `capacity`: a 0/1 knapsack over the capacity in
/// 1024 steps, each item's bytes rounded up (so the choice always fits).
std::vector<bool> knapsack(ArrayRef<std::pair<double, double>> candidates, double capacity) {
  size_t n = candidates.size();
  std::vector<bool> chosen(n, false);
  double total = 0;
  for (auto [bytes, seconds] : candidates)
    total += bytes;
  if (total <= capacity) {
    chosen.assign(n, true);
    return chosen;
  }
  constexpr int kSteps = 1024;
  if (capacity <= 0)
    return chosen;
  double unit = capacity / kSteps;
  std::vector<int> weight(n);
  for (size_t i = 0; i < n; ++i)
    weight[i] = static_cast<int>(std::ceil(candidates[i].first / unit - 1e-9));
  // best[i][c]: the most seconds from the first i items within c steps.
  std::vector<std::vector<double>> best(n + 1, std::vector<double>(kSteps + 1, 0.0));
  for (size_t i = 1; i <= n; ++i)
    for (int c = 0; c <= kSteps; ++c) {
      best[i][c] = best[i - 1][c];
      if (weight[i - 1] <= c)
        best[i][c] =
            std::max(best[i][c], best[i - 1][c - weight[i - 1]] + candidates[i - 1].second);
    }
  for (size_t i = n, c = kSteps; i > 0; --i)
    if (best[i][c] != best[i - 1][c]) {
      chosen[i - 1] = true;
      c -= weight[i - 1];
    }
  return chosen;
}

class PipelinePass : public gpipe::impl::PipelineBase<PipelinePass> {
public:
  using PipelineBase::PipelineBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run() {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &msg) { return module.emitError(kPass) << ": " << msg; };
    if (microBatches < 1)
      return fail("micro-batches must be positive");
    if (memoryBudget < 0)
      return fail("memory-budget must not be negative");
    std::optional<ScheduleKind> kind = parseScheduleKind(schedule);
    if (!kind)
      return fail("schedule must be gpipe or 1f1b, got '" + schedule.getValue() + "'");
    std::optional<RecomputePolicy> policy = parseRecomputePolicy(recompute);
    if (!policy)
      return fail("recompute must be none, full, except-last or auto, got '" +
                  recompute.getValue() + "'");
    if (memoryBudget > 0 && *policy != RecomputePolicy::Auto)
      return fail("memory-budget applies to recompute=auto only");
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func)
      return fail("the module has no function @" + function.getValue());
    auto partition = func->getAttrOfType<DictionaryAttr>("gpipe.partition");
    auto stagesAttr = partition ? partition.getAs<IntegerAttr>("stages") : IntegerAttr();
    if (!stagesAttr)
      return fail("@" + function.getValue() + " is not partitioned; run gpipe-partition first");
    for (auto existing : module.getOps<PipelineOp>())
      if (existing.getFunction() == function)
        return fail("@" + function.getValue() + " already has a gpipe.pipeline");
    int stages = static_cast<int>(stagesAttr.getInt());
    auto outliner = StageOutliner::analyze(module, func, stages, kPass);
    if (failed(outliner))
      return failure();

    Schedule plan = buildSchedule(stages, static_cast<int>(microBatches), *kind, *policy);
    std::optional<ChainSetup> costs;
    if (*policy == RecomputePolicy::Auto) {
      SetupOptions options;
      Partition part;
      costs.emplace();
      if (auto message = readPartition(func, options, *costs, part))
        return fail(*message);
    }
    for (int s = 0; s < stages; ++s) {
      std::string prefix = (function + "_stage" + Twine(s)).str();
      StageFunctions names;
      bool anyRecomputed = false, anyKept = false;
      for (int mb = 0; mb < plan.microBatches; ++mb)
        (recomputes(plan, s, mb) ? anyRecomputed : anyKept) = true;
      // A pair gpipe-outline-stages or an earlier run made is reused.
      auto ensure = [&](ArrayRef<Value> keep, StringRef forward, StringRef backward,
                        SmallVectorImpl<Operation *> *recomputed = nullptr) {
        if (module.lookupSymbol<func::FuncOp>(forward) &&
            module.lookupSymbol<func::FuncOp>(backward))
          return success();
        return (*outliner)->build(s, keep, forward, backward, recomputed);
      };
      if (anyKept) {
        FailureOr<SmallVector<Value>> needed = (*outliner)->activationsNeeded(s);
        if (failed(needed))
          return failure();
        names.forwardKeep = prefix + "_forward_keep";
        names.backwardKeep = prefix + "_backward_keep";
        if (failed(ensure(*needed, names.forwardKeep, names.backwardKeep)))
          return failure();
      }
      if (anyRecomputed && *policy != RecomputePolicy::Auto) {
        names.forward = prefix + "_forward";
        names.backward = prefix + "_backward";
        if (failed(ensure({}, names.forward, names.backward)))
          return failure();
      }
      if (anyRecomputed && *policy == RecomputePolicy::Auto) {
        names.forward = prefix + "_forward_auto";
        names.backward = prefix + "_backward_auto";
        if (failed(buildAuto(module, **outliner, *costs, plan, s, names)))
          return failure();
      }
      plan.functions.push_back(names);
    }
    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPointToEnd(module.getBody());
    buildPipelineOp(builder, func.getLoc(), function, plan);
    return success();
  }

  /// Stage s's pair under recompute=auto: its forward keeps the activations
  /// whose recomputation costs the most time per byte kept, as many as fit
  /// the stage's memory budget with the micro-batches in flight.
  LogicalResult buildAuto(ModuleOp module, StageOutliner &outliner, ChainSetup &costs,
                          const Schedule &plan, int s, const StageFunctions &names) {
    auto fail = [&]() { return module.emitError(kPass) << ": recompute=auto: stage " << s << " "; };
    FailureOr<SmallVector<Value>> needed = outliner.activationsNeeded(s);
    if (failed(needed))
      return failure();
    CostModel &model = *costs.model;
    model.setDevice(costs.kinds[costs.stageDevice[s]]);
    llvm::DenseSet<Operation *> costed(model.ops().begin(), model.ops().end());
    // Memory that does not depend on the choice: the parameters with their
    // gradients and optimizer state, the inputs of every micro-batch in
    // flight, and one micro-batch's activations while its backward runs.
    double state = 0, inputs = 0, activations = 0;
    llvm::DenseSet<Value> stageInputs;
    llvm::DenseSet<Operation *> stageOps(outliner.stageOps(s).begin(), outliner.stageOps(s).end());
    for (Operation *op : outliner.stageOps(s)) {
      if (costed.contains(op))
        state += model.get(op).paramBytes + model.get(op).optimizerBytes;
      for (Value operand : op->getOperands())
        if (!stageOps.contains(operand.getDefiningOp()) && stageInputs.insert(operand).second)
          inputs += bytesOf(operand.getType());
    }
    std::vector<std::pair<double, double>> candidates;
    for (Value v : *needed) {
      Operation *op = v.getDefiningOp();
      double seconds = costed.contains(op) ? model.get(op).forwardTime : 0.0;
      candidates.emplace_back(bytesOf(v.getType()), seconds);
      activations += candidates.back().first;
    }
    int n = std::max(1, inFlight(plan, s));
    double budget = memoryBudget > 0 ? double(memoryBudget) : costs.problem.memoryLimit[s];
    double floor = state + n * inputs + activations;
    if (floor > budget)
      return fail() << "needs " << formatBytes(floor)
                    << " with every activation recomputed (parameters, gradients and optimizer "
                       "state "
                    << formatBytes(state) << ", the inputs of " << n << " micro-batches in flight "
                    << formatBytes(n * inputs) << ", one micro-batch's activations "
                    << formatBytes(activations) << "), over its budget of " << formatBytes(budget);
    std::vector<bool> chosen = knapsack(candidates, (budget - floor) / n);
    SmallVector<Value> keep;
    double keptBytes = 0;
    for (size_t i = 0; i < chosen.size(); ++i)
      if (chosen[i]) {
        keep.push_back((*needed)[i]);
        keptBytes += candidates[i].first;
      }
    SmallVector<Operation *> recomputed;
    if (failed(outliner.build(s, keep, names.forward, names.backward, &recomputed)))
      return failure();
    double recomputeSeconds = 0;
    for (Operation *op : recomputed)
      if (costed.contains(op))
        recomputeSeconds += model.get(op).forwardTime;
    Builder b(module.getContext());
    auto forward = module.lookupSymbol<func::FuncOp>(names.forward);
    auto backward = module.lookupSymbol<func::FuncOp>(names.backward);
    forward->setAttr("gpipe.kept_bytes", b.getI64IntegerAttr(static_cast<int64_t>(keptBytes)));
    backward->setAttr("gpipe.recomputed_ops",
                      b.getI64IntegerAttr(static_cast<int64_t>(recomputed.size())));
    backward->setAttr("gpipe.recompute_seconds", b.getF64FloatAttr(recomputeSeconds));
    return success();
  }
};
} // namespace
