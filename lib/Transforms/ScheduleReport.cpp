//===- ScheduleReport.cpp - the gpipe-schedule-report pass ----------------===//

#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/PipelineModel.h"
#include "gpipe/Transforms/ReportUtils.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_SCHEDULEREPORT
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {
/// Per-micro-batch costs of each stage of the recorded partition.
std::vector<StageCosts> stageCosts(ChainSetup &setup, const Partition &part, int64_t m) {
  const PartitionProblem &p = setup.problem;
  int k = p.numStages(), n = setup.units.size();
  std::vector<StageCosts> costs(k);
  for (int s = 0; s < k; ++s) {
    const DeviceSpec &device = setup.kinds[setup.stageDevice[s]];
    setup.model->setDevice(device);
    int first = part.first[s], last = s + 1 < k ? part.first[s + 1] - 1 : n - 1;
    StageCosts &c = costs[s];
    double acts = 0;
    for (int u = first; u <= last; ++u) {
      const OpCost &op = setup.model->get(setup.units[u]);
      c.forward += op.forwardTime / m;
      c.backward += op.backwardTime / m;
      c.update += op.updateTime;
      c.stateBytes += op.paramBytes + op.optimizerBytes;
      acts += op.activationBytes;
    }
    c.activationBytes = acts / m;
    c.inputBytes = (first > 0 ? p.cutBytes[first - 1] : p.inputBytes) / m;
    if (last + 1 < n)
      c.sendActivation = device.transferTime(p.cutBytes[last] / m);
    if (first > 0)
      c.sendGradient = device.transferTime(p.cutBytes[first - 1] / m);
  }
  return costs;
}

struct ScheduleReportPass : public gpipe::impl::ScheduleReportBase<ScheduleReportPass> {
  using ScheduleReportBase::ScheduleReportBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    auto error = [&]() { return module.emitError("gpipe-schedule-report: "); };
    func::FuncOp func = lookupModelFunction(module, function, "gpipe-schedule-report");
    if (!func)
      return failure();
    if (!parseScheduleKind(schedule))
      return error() << "schedule must be gpipe or 1f1b, got '" << schedule << "'";
    if (!parseRecomputePolicy(recompute))
      return error() << "recompute must be none, full or except-last, got '" << recompute << "'";
    SetupOptions options;
    ChainSetup setup;
    Partition part;
    if (auto message = readPartition(func, options, setup, part))
      return error() << *message;
    int64_t m = microBatches > 0 ? int64_t(microBatches) : options.microBatches;
    if (m < 1)
      return error() << "micro-batches must be positive";
    int k = options.stages;
    std::vector<StageCosts> costs = stageCosts(setup, part, m);

    auto os = openReport(output, module);
    if (!os)
      return failure();
    *os << llvm::formatv("schedules of @{0}: {1} stages, {2} micro-batches; GPipe's bubble "
                         "(K-1)/(M+K-1) = {3:f3}\n",
                         function, k, m, double(k - 1) / (m + k - 1));
    *os << llvm::formatv("{0,-6} {1,-12} {2,-9} {3,12} {4,8}  {5}\n", "sched", "recompute",
                         "verified", "makespan ms", "bubble", "peak memory per stage (GB)");
    std::optional<std::pair<Schedule, Timeline>> drawn;
    for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB})
      for (RecomputePolicy policy :
           {RecomputePolicy::None, RecomputePolicy::Full, RecomputePolicy::ExceptLast}) {
        const char *kindName = scheduleKindName(kind), *policyName = recomputePolicyName(policy);
        Schedule s = buildSchedule(k, m, kind, policy);
        if (auto problem = verifySchedule(s))
          return error() << kindName << " schedule: " << *problem;
        Timeline t = simulate(s, costs);
        std::string peaks;
        for (double b : t.peakMemory)
          peaks += llvm::formatv("{0:f3} ", b / 1e9).str();
        *os << llvm::formatv("{0,-6} {1,-12} {2,-9} {3,12:f4} {4,7:f1}%  {5}\n", kindName,
                             policyName, "yes", t.makespan * 1e3, t.bubbleFraction * 100, peaks);
        if (schedule == kindName && recompute == policyName)
          drawn = {s, t};
      }
    if (!svg.empty()) {
      std::error_code ec;
      llvm::raw_fd_ostream file(svg, ec, llvm::sys::fs::OF_Text);
      if (ec)
        return error() << "cannot write '" << svg << "': " << ec.message();
      std::string title = llvm::formatv("@{0}: {1} stages, {2} micro-batches, {3}, recompute {4}",
                                        function, k, m, schedule, recompute)
                              .str();
      file << renderSvg(drawn->first, drawn->second, title);
    }
    markAllAnalysesPreserved();
    return success();
  }
};
} // namespace

void mlir::gpipe::registerScheduleSvgPipeline() {
  // `--gpipe-schedule-svg=out.svg`: the whole option string is the path.
  registerPassPipeline(
      "gpipe-schedule-svg",
      "Draw the pipeline timeline of a partitioned model as SVG "
      "(gpipe-schedule-report with svg=PATH)",
      [](OpPassManager &pm, StringRef options,
         function_ref<LogicalResult(const Twine &)> errorHandler) -> LogicalResult {
        StringRef path = options.trim();
        if (path.empty() || path.contains('='))
          return errorHandler("gpipe-schedule-svg expects the output path: "
                              "--gpipe-schedule-svg=out.svg");
        ScheduleReportOptions report;
        report.svg = path.str();
        pm.addPass(createScheduleReport(report));
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)>) {});
}
