//===- CostReport.cpp - the gpipe-cost-report pass ------------------------===//

#include "gpipe/Transforms/CostModel.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/ReportUtils.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_COSTREPORT
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

std::unique_ptr<llvm::raw_ostream> mlir::gpipe::openReport(StringRef path, Operation *anchor) {
  if (path == "-")
    return std::make_unique<llvm::raw_fd_ostream>(1, /*shouldClose=*/false);
  std::error_code ec;
  auto os = std::make_unique<llvm::raw_fd_ostream>(path, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    anchor->emitError("cannot open report file '") << path << "': " << ec.message();
    return nullptr;
  }
  return os;
}

func::FuncOp mlir::gpipe::lookupModelFunction(ModuleOp module, StringRef name, StringRef pass) {
  auto func = module.lookupSymbol<func::FuncOp>(name);
  if (!func)
    module.emitError() << pass << ": the module has no function @" << name;
  return func;
}

double mlir::gpipe::optimizerStateFactor(StringRef optimizer) {
  if (optimizer == "sgd")
    return 1;
  if (optimizer == "momentum")
    return 2;
  if (optimizer == "adam" || optimizer == "adamw")
    return 3;
  return -1;
}

namespace {
struct Totals {
  double fwdFlops = 0, bwdFlops = 0, read = 0, written = 0, act = 0, params = 0, opt = 0,
         fwdTime = 0, bwdTime = 0, updTime = 0;
  int64_t ops = 0;
  void add(const OpCost &c) {
    fwdFlops += c.forwardFlops;
    bwdFlops += c.backwardFlops;
    read += c.bytesRead;
    written += c.bytesWritten;
    act += c.activationBytes;
    params += c.paramBytes;
    opt += c.optimizerBytes;
    fwdTime += c.forwardTime;
    bwdTime += c.backwardTime;
    updTime += c.updateTime;
    ++ops;
  }
  llvm::json::Object json() const {
    return llvm::json::Object{{"forward_flops", fwdFlops},   {"backward_flops", bwdFlops},
                              {"bytes_read", read},          {"bytes_written", written},
                              {"activation_bytes", act},     {"param_bytes", params},
                              {"optimizer_bytes", opt},      {"forward_ms", fwdTime * 1e3},
                              {"backward_ms", bwdTime * 1e3}, {"update_ms", updTime * 1e3},
                              {"ops", ops}};
  }
};

void row(llvm::raw_ostream &os, StringRef name, StringRef kind, const Totals &t) {
  os << llvm::formatv("{0,-36} {1,-22} {2,10:f4} {3,10:f4} {4,9:f3} {5,9:f3} {6,9:f3} {7,9:f3} "
                      "{8,10:f4} {9,10:f4}\n",
                      name.size() > 36 ? name.take_back(36) : name, kind, t.fwdFlops / 1e9,
                      t.bwdFlops / 1e9, t.read / 1e6, t.written / 1e6, t.act / 1e6,
                      t.params / 1e6, t.fwdTime * 1e3, t.bwdTime * 1e3);
}

struct CostReportPass : public gpipe::impl::CostReportBase<CostReportPass> {
  using CostReportBase::CostReportBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp func = lookupModelFunction(module, function, "gpipe-cost-report");
    if (!func)
      return signalPassFailure();
    if (device.empty()) {
      module.emitError("gpipe-cost-report: name a device file with device=PATH");
      return signalPassFailure();
    }
    if (format != "table" && format != "json") {
      module.emitError("gpipe-cost-report: format must be table or json, got '") << format << "'";
      return signalPassFailure();
    }
    double factor = optimizerStateFactor(optimizer);
    if (factor < 0) {
      module.emitError("gpipe-cost-report: unknown optimizer '") << optimizer << "'";
      return signalPassFailure();
    }
    DeviceSpec spec;
    std::string error;
    if (!DeviceSpec::load(device, spec, error)) {
      module.emitError("gpipe-cost-report: ") << error;
      return signalPassFailure();
    }
    CostModel model(func);
    model.setOptimizerStateFactor(factor);
    model.setDevice(spec);
    if (!profile.empty() && !model.loadProfile(profile, error)) {
      module.emitError("gpipe-cost-report: ") << error;
      return signalPassFailure();
    }
    auto os = openReport(output, module);
    if (!os)
      return signalPassFailure();

    // Layers in order of first appearance.
    std::vector<std::pair<std::string, Totals>> layers;
    llvm::StringMap<size_t> layerIndex;
    Totals total;
    for (Operation *op : model.ops()) {
      std::string layer = CostModel::layerOf(op);
      auto [it, inserted] = layerIndex.try_emplace(layer, layers.size());
      if (inserted)
        layers.push_back({layer, Totals()});
      layers[it->second].second.add(model.get(op));
      total.add(model.get(op));
    }
    if (format == "json") {
      llvm::json::Array ops, layerList;
      for (Operation *op : model.ops()) {
        Totals t;
        t.add(model.get(op));
        llvm::json::Object o = t.json();
        o["name"] = CostModel::nodeName(op);
        o["op"] = op->getName().getStringRef().str();
        o["layer"] = CostModel::layerOf(op);
        o["measured"] = model.get(op).measured;
        o.erase("ops");
        ops.push_back(std::move(o));
      }
      for (auto &[name, t] : layers) {
        llvm::json::Object o = t.json();
        o["name"] = name;
        layerList.push_back(std::move(o));
      }
      llvm::json::Object root{{"device", spec.name}, {"function", function.getValue()},
                              {"ops", std::move(ops)}, {"layers", std::move(layerList)},
                              {"total", total.json()}};
      *os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
      return markAllAnalysesPreserved();
    }
    *os << "cost model of @" << function << " on " << spec.name << "\n";
    auto header = [&](StringRef first) {
      *os << llvm::formatv("{0,-36} {1,-22} {2,10} {3,10} {4,9} {5,9} {6,9} {7,9} {8,10} {9,10}\n",
                           first, "op", "fwd GFLOP", "bwd GFLOP", "read MB", "write MB", "act MB",
                           "param MB", "fwd ms", "bwd ms");
    };
    header("node");
    for (Operation *op : model.ops()) {
      Totals t;
      t.add(model.get(op));
      row(*os, CostModel::nodeName(op), op->getName().getStringRef(), t);
    }
    *os << "\n";
    header("layer");
    for (auto &[name, t] : layers)
      row(*os, name, llvm::formatv("{0} ops", t.ops).str(), t);
    row(*os, "total", llvm::formatv("{0} ops", total.ops).str(), total);
    markAllAnalysesPreserved();
  }
};
} // namespace
