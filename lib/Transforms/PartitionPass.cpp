//===- PartitionPass.cpp - the gpipe-partition pass -----------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/CostModel.h"
#include "gpipe/Transforms/Partition.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/PipelineModel.h"
#include "gpipe/Transforms/ReportUtils.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_PARTITION
#define GEN_PASS_DEF_PARTITIONREPORT
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {
double bytesOf(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return double(t.getNumElements()) * std::max(1u, t.getElementTypeBitWidth() / 8);
}

} // namespace

std::optional<std::string> mlir::gpipe::buildChain(func::FuncOp func, const SetupOptions &o,
                                                   ChainSetup &setup) {
  double factor = optimizerStateFactor(o.optimizer);
  if (factor < 0)
    return "unknown optimizer '" + o.optimizer + "'";
  if (o.devices.empty())
    return std::string("name the devices: devices=FILE (all stages) or one file per stage");
  if (o.devices.size() != 1 && (int64_t)o.devices.size() != o.stages)
    return std::to_string(o.devices.size()) + " device files for " + std::to_string(o.stages) +
           " stages: give one, or one per stage";
  llvm::StringMap<int> kindOf;
  for (int64_t s = 0; s < o.stages; ++s) {
    const std::string &path = o.devices[o.devices.size() == 1 ? 0 : s];
    auto [it, inserted] = kindOf.try_emplace(path, (int)setup.kinds.size());
    if (inserted) {
      DeviceSpec spec;
      std::string message;
      if (!DeviceSpec::load(path, spec, message))
        return message;
      setup.kinds.push_back(spec);
    }
    setup.stageDevice.push_back(it->second);
  }
  setup.model = std::make_unique<CostModel>(func);
  CostModel &model = *setup.model;
  model.setOptimizerStateFactor(factor);
  setup.units.assign(model.ops().begin(), model.ops().end());
  int n = setup.units.size();
  if (n < o.stages)
    return "cannot split " + std::to_string(n) + " ops into " + std::to_string(o.stages) +
           " stages";
  PartitionProblem &problem = setup.problem;
  problem.microBatches = o.microBatches;
  problem.oneForwardOneBackward = o.schedule == "1f1b";
  problem.recompute = o.recompute;
  for (const DeviceSpec &kind : setup.kinds) {
    model.setDevice(kind);
    if (!o.profile.empty()) {
      std::string message;
      if (!model.loadProfile(o.profile, message))
        return message;
    }
    std::vector<double> times;
    for (Operation *op : setup.units) {
      const OpCost &c = model.get(op);
      times.push_back(c.forwardTime * (o.recompute ? 2 : 1) + c.backwardTime + c.updateTime);
    }
    problem.time.push_back(std::move(times));
  }
  for (auto [i, op] : llvm::enumerate(setup.units)) {
    setup.index[op] = i;
    problem.stateBytes.push_back(model.get(op).paramBytes + model.get(op).optimizerBytes);
    problem.activationBytes.push_back(model.get(op).activationBytes);
  }
  // Bytes crossing each cut: every value produced before it (or a function
  // argument) and used after it. Parameters and constants are not sent: they
  // live on the stages that use them.
  std::vector<double> delta(n + 1, 0);
  auto lastUse = [&](Value v) {
    int last = -1;
    for (Operation *user : v.getUsers()) {
      auto it = setup.index.find(user);
      last = std::max(last, it != setup.index.end() ? it->second : n - 1);
    }
    return last;
  };
  for (BlockArgument arg : func.getArguments()) {
    int last = lastUse(arg);
    if (last > 0) {
      delta[0] += bytesOf(arg);
      delta[last] -= bytesOf(arg);
    }
    if (last >= 0)
      problem.inputBytes += bytesOf(arg);
  }
  for (auto [i, op] : llvm::enumerate(setup.units))
    for (Value r : op->getResults()) {
      int last = lastUse(r);
      if (last > (int)i) {
        delta[i] += bytesOf(r);
        delta[last] -= bytesOf(r);
      }
    }
  double running = 0;
  for (int c = 0; c + 1 < n; ++c) {
    running += delta[c];
    problem.cutBytes.push_back(running);
  }
  for (int64_t s = 0; s < o.stages; ++s) {
    const DeviceSpec &d = setup.kinds[setup.stageDevice[s]];
    problem.device.push_back(setup.stageDevice[s]);
    problem.memoryLimit.push_back(o.memoryLimit > 0 ? o.memoryLimit : d.memoryCapacity);
    problem.linkBandwidth.push_back(d.linkBandwidth);
    problem.linkLatency.push_back(d.linkLatency);
  }
  return std::nullopt;
}

namespace {
/// Prints the per-stage table and the imbalance against the lower bound.
void printReport(llvm::raw_ostream &os, StringRef function, const ChainSetup &setup,
                 const Partition &part, StringRef balance, StringRef schedule, bool recompute) {
  const PartitionProblem &problem = setup.problem;
  int n = setup.units.size(), stages = problem.numStages();
  double total = 0, largest = 0;
  for (int u = 0; u < n; ++u) {
    total += problem.time[problem.device[0]][u];
    largest = std::max(largest, problem.time[problem.device[0]][u]);
  }
  double bound = std::max(total / stages, largest);
  os << llvm::formatv("partition of @{0}: {1} stages, balance={2}, schedule={3}, "
                      "micro-batches={4}, recompute={5}\n",
                      function, stages, balance, schedule, problem.microBatches,
                      recompute ? "on" : "off");
  os << llvm::formatv("{0,5} {1,6} {2,-28} {3,-28} {4,10} {5,10} {6,10} {7,10}\n", "stage", "ops",
                      "first node", "last node", "params MB", "GFLOP", "time ms", "memory GB");
  auto shorten = [](std::string name) {
    return name.size() > 28 ? name.substr(name.size() - 28) : name;
  };
  for (int s = 0; s < stages; ++s) {
    int first = part.first[s], last = s + 1 < stages ? part.first[s + 1] - 1 : n - 1;
    double params = 0, flops = 0;
    for (int u = first; u <= last; ++u) {
      params += setup.model->get(setup.units[u]).paramBytes;
      flops += setup.model->get(setup.units[u]).forwardFlops +
               setup.model->get(setup.units[u]).backwardFlops;
    }
    os << llvm::formatv("{0,5} {1,6} {2,-28} {3,-28} {4,10:f3} {5,10:f3} {6,10:f4} {7,10:f3}\n", s,
                        last - first + 1, shorten(CostModel::nodeName(setup.units[first])),
                        shorten(CostModel::nodeName(setup.units[last])), params / 1e6,
                        flops / 1e9, part.stageTime[s] * 1e3, part.stageMemory[s] / 1e9);
  }
  os << llvm::formatv("bottleneck {0:f4} ms; lower bound max(total/K, largest op) {1:f4} ms; "
                      "imbalance {2:f3}\n",
                      part.bottleneck * 1e3, bound * 1e3, part.bottleneck / bound);
}

struct PartitionPass : public gpipe::impl::PartitionBase<PartitionPass> {
  using PartitionBase::PartitionBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run();
  InFlightDiagnostic error() { return getOperation().emitError("gpipe-partition: "); }
};

LogicalResult PartitionPass::run() {
  ModuleOp module = getOperation();
  func::FuncOp func = lookupModelFunction(module, function, "gpipe-partition");
  if (!func)
    return failure();
  static const llvm::StringSet<> balances = {"time", "params", "uniform", "torchgpipe"};
  if (!balances.contains(balance))
    return error() << "balance must be time, params, uniform or torchgpipe, got '" << balance
                   << "'";
  if (schedule != "gpipe" && schedule != "1f1b")
    return error() << "schedule must be gpipe or 1f1b, got '" << schedule << "'";
  if (stages < 1 || microBatches < 1 || memoryLimit < 0)
    return error() << "stages and micro-batches must be positive, memory-limit non-negative";
  SetupOptions setupOptions;
  setupOptions.stages = stages;
  setupOptions.microBatches = microBatches;
  setupOptions.devices.assign(devices.begin(), devices.end());
  setupOptions.schedule = schedule;
  setupOptions.optimizer = optimizer;
  setupOptions.profile = profile;
  setupOptions.recompute = recompute;
  setupOptions.memoryLimit = memoryLimit;
  ChainSetup setup;
  if (auto message = buildChain(func, setupOptions, setup))
    return error() << *message;
  PartitionProblem &problem = setup.problem;
  ArrayRef<Operation *> units = setup.units;
  DenseMap<Operation *, int> &index = setup.index;
  std::vector<DeviceSpec> &kinds = setup.kinds;
  std::vector<int> &stageDevice = setup.stageDevice;
  int n = units.size();
  for (const std::string &name : splitPoints) {
    auto it = llvm::find_if(units, [&](Operation *op) { return CostModel::nodeName(op) == name; });
    if (it == units.end())
      return error() << "split point '" << name
                     << "' names no node of the model (ONNX node names come from "
                        "gpipe-translate --mlir-print-debuginfo)";
    if (it != units.begin())
      problem.forcedCuts.push_back(int(it - units.begin()) - 1);
  }

  Partition part;
  if (balance == "time") {
    std::string message;
    auto best = partitionOptimal(problem, message);
    if (!best) {
      // Say how many stages would fit, with the last device repeated.
      PartitionProblem more = problem;
      for (int64_t k = stages + 1; k <= n; ++k) {
        more.device.push_back(more.device.back());
        more.memoryLimit.push_back(more.memoryLimit.back());
        more.linkBandwidth.push_back(more.linkBandwidth.back());
        more.linkLatency.push_back(more.linkLatency.back());
        std::string ignored;
        if (partitionOptimal(more, ignored))
          return error() << message << "; the smallest number of stages that fits is " << k;
      }
      return error() << message << ", and no number of stages up to " << n << " does";
    }
    part = *best;
  } else if (balance == "params") {
    part = partitionByParameters(problem);
  } else if (balance == "uniform") {
    part = partitionUniform(problem);
  } else {
    part = partitionTorchgpipe(problem);
  }

  // Record the assignment in the IR.
  OpBuilder b(&getContext());
  auto stageOfUnit = [&](int u) {
    int s = 0;
    while (s + 1 < stages && part.first[s + 1] <= u)
      ++s;
    return s;
  };
  for (auto [i, op] : llvm::enumerate(units))
    op->setAttr("gpipe.stage", b.getI64IntegerAttr(stageOfUnit(i)));
  for (Operation &op : func.getBody().front()) {
    if (index.count(&op))
      continue;
    // Parameters and constants live with their first user; the return with
    // the last stage; a store of state (a batch norm's running statistics)
    // with the value it stores, so the state stays where it is computed.
    int64_t s = stages - 1;
    if (isa<SetParamOp>(op)) {
      s = 0;
      for (Value v : op.getOperands())
        if (Operation *def = v.getDefiningOp())
          if (auto it = index.find(def); it != index.end())
            s = std::max<int64_t>(s, stageOfUnit(it->second));
    }
    for (Operation *user : op.getUsers())
      if (auto it = index.find(user); it != index.end())
        s = std::min<int64_t>(s, stageOfUnit(it->second));
    op.setAttr("gpipe.stage", b.getI64IntegerAttr(s));
  }
  SmallVector<StringRef> deviceFiles(setupOptions.devices.begin(), setupOptions.devices.end());
  SmallVector<Attribute> deviceNames, times, memory;
  for (int64_t s = 0; s < stages; ++s) {
    deviceNames.push_back(b.getStringAttr(kinds[stageDevice[s]].name));
    times.push_back(b.getF64FloatAttr(part.stageTime[s] * 1e3));
    memory.push_back(b.getF64FloatAttr(part.stageMemory[s]));
  }
  func->setAttr("gpipe.partition",
                b.getDictionaryAttr({
                    b.getNamedAttr("stages", b.getI64IntegerAttr(stages)),
                    b.getNamedAttr("balance", b.getStringAttr(balance)),
                    b.getNamedAttr("schedule", b.getStringAttr(schedule)),
                    b.getNamedAttr("micro_batches", b.getI64IntegerAttr(microBatches)),
                    b.getNamedAttr("recompute", b.getBoolAttr(recompute)),
                    b.getNamedAttr("devices", b.getArrayAttr(deviceNames)),
                    b.getNamedAttr("device_files", b.getStrArrayAttr(deviceFiles)),
                    b.getNamedAttr("optimizer", b.getStringAttr(optimizer)),
                    b.getNamedAttr("stage_ms", b.getArrayAttr(times)),
                    b.getNamedAttr("stage_memory_bytes", b.getArrayAttr(memory)),
                    b.getNamedAttr("bottleneck_ms", b.getF64FloatAttr(part.bottleneck * 1e3)),
                }));

  if (report.empty())
    return success();
  auto os = openReport(report, module);
  if (!os)
    return failure();
  printReport(*os, function, setup, part, balance, schedule, recompute);
  return success();
}

struct PartitionReportPass : public gpipe::impl::PartitionReportBase<PartitionReportPass> {
  using PartitionReportBase::PartitionReportBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    func::FuncOp func = lookupModelFunction(module, function, "gpipe-partition-report");
    if (!func)
      return failure();
    SetupOptions o;
    ChainSetup setup;
    Partition part;
    if (auto message = readPartition(func, o, setup, part))
      return module.emitError("gpipe-partition-report: ") << *message;
    auto dict = func->getAttrOfType<DictionaryAttr>("gpipe.partition");
    auto os = openReport(output, module);
    if (!os)
      return failure();
    StringRef balance = dict.getAs<StringAttr>("balance") ? dict.getAs<StringAttr>("balance").getValue()
                                                          : StringRef("time");
    printReport(*os, function, setup, part, balance, o.schedule, o.recompute);
    markAllAnalysesPreserved();
    return success();
  }
};
} // namespace

std::optional<std::string> mlir::gpipe::readPartition(func::FuncOp func, SetupOptions &o,
                                                      ChainSetup &setup, Partition &part) {
  auto dict = func->getAttrOfType<DictionaryAttr>("gpipe.partition");
  if (!dict)
    return "@" + func.getSymName().str() + " has no gpipe.partition; run gpipe-partition first";
  auto stagesAttr = dict.getAs<IntegerAttr>("stages");
  auto files = dict.getAs<ArrayAttr>("device_files");
  if (!stagesAttr || !files)
    return std::string("gpipe.partition lacks stages or device_files");
  o.stages = stagesAttr.getInt();
  for (Attribute f : files)
    o.devices.push_back(cast<StringAttr>(f).str());
  if (auto m = dict.getAs<IntegerAttr>("micro_batches"))
    o.microBatches = m.getInt();
  if (auto sch = dict.getAs<StringAttr>("schedule"))
    o.schedule = sch.str();
  if (auto opt = dict.getAs<StringAttr>("optimizer"))
    o.optimizer = opt.str();
  if (auto r = dict.getAs<BoolAttr>("recompute"))
    o.recompute = r.getValue();
  if (auto message = buildChain(func, o, setup))
    return message;
  part.first.assign(o.stages, -1);
  int64_t previous = 0;
  for (auto [i, op] : llvm::enumerate(setup.units)) {
    auto stage = op->getAttrOfType<IntegerAttr>("gpipe.stage");
    if (!stage || stage.getInt() < previous || stage.getInt() >= o.stages ||
        stage.getInt() > previous + 1 || (i == 0 && stage.getInt() != 0))
      return "the gpipe.stage attributes do not form " + std::to_string(o.stages) +
             " contiguous stages (at " + CostModel::nodeName(op) + ")";
    if (part.first[stage.getInt()] < 0)
      part.first[stage.getInt()] = i;
    previous = stage.getInt();
  }
  if (previous != o.stages - 1)
    return "the ops cover " + std::to_string(previous + 1) + " of " + std::to_string(o.stages) +
           " stages";
  evaluate(setup.problem, part);
  return std::nullopt;
}
