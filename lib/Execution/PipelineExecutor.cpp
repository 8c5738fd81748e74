//===- PipelineExecutor.cpp - the stage functions on the pipeline engine --===//
//
// Reads the stage functions' wiring attributes into a gp::PipelinePlan and
// runs it on the runtime's pipeline engine (gpipe/runtime/gp_pipeline.h),
// each stage function through the interpreter with the stage's parameter
// store.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Execution/PipelineExecutor.h"
#include "gpipe/runtime/gp_pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace {

/// A stage's functions, by pair.
struct StageFuncs {
  func::FuncOp recomputing[2], keeping[2];
};

} // namespace

FailureOr<PipelineResult>
mlir::gpipe::runPipeline(ModuleOp module, StringRef function, const Schedule &schedule,
                         const std::vector<std::vector<HostTensor>> &inputs,
                         const std::vector<std::vector<HostTensor>> &outputGrads,
                         std::vector<ParamStore> &stores, std::string &error) {
  int k = schedule.stages, m = schedule.microBatches;
  if (static_cast<int>(stores.size()) != k || static_cast<int>(inputs.size()) != m ||
      static_cast<int>(outputGrads.size()) != m) {
    error = llvm::formatv("runPipeline: {0} stages and {1} micro-batches, but {2} parameter "
                          "stores, {3} input sets and {4} gradient sets",
                          k, m, stores.size(), inputs.size(), outputGrads.size())
                .str();
    return failure();
  }
  if (std::optional<std::string> bad = verifySchedule(schedule)) {
    error = "runPipeline: " + *bad;
    return failure();
  }
  gp::PipelinePlan plan;
  plan.stages = k;
  plan.microBatches = m;
  // The stage threads share the caller's cores.
  plan.threadsPerStage = std::max(1, gp_cpu_get_num_threads() / k);
  plan.stageInfo.resize(k);
  std::vector<StageFuncs> funcs(k);
  for (int s = 0; s < k; ++s) {
    std::vector<gp::Action> program;
    for (const Action &a : schedule.programs[s])
      program.push_back({a.kind, a.microBatch, a.peer});
    plan.programs.push_back(std::move(program));

    gp::PipelineStage &info = plan.stageInfo[s];
    std::string prefix = (function + "_stage" + llvm::Twine(s)).str();
    // The functions the IR names, else the default names (gpipe-outline-stages'
    // recomputing pair, gpipe-pipeline's keeping pair).
    StageFunctions names{prefix + "_forward", prefix + "_backward", prefix + "_forward_keep",
                         prefix + "_backward_keep"};
    if (!schedule.functions.empty())
      names = schedule.functions[s];
    auto lookup = [&](const std::string &name) {
      return name.empty() ? func::FuncOp() : module.lookupSymbol<func::FuncOp>(name);
    };
    funcs[s].recomputing[0] = lookup(names.forward);
    funcs[s].recomputing[1] = lookup(names.backward);
    funcs[s].keeping[0] = lookup(names.forwardKeep);
    funcs[s].keeping[1] = lookup(names.backwardKeep);
    for (int mb = 0; mb < m; ++mb) {
      bool recomputed = recomputes(schedule, s, mb);
      func::FuncOp *pair = recomputed ? funcs[s].recomputing : funcs[s].keeping;
      if (!pair[0] || !pair[1]) {
        const std::string &fwd = recomputed ? names.forward : names.forwardKeep;
        const std::string &bwd = recomputed ? names.backward : names.backwardKeep;
        error = llvm::formatv("runPipeline: stage {0} {1} micro-batch {2} but there is no "
                              "function @{3} and @{4}; run gpipe-outline-stages and "
                              "gpipe-pipeline with {5} stages",
                              s, recomputed ? "recomputes" : "keeps the activations of", mb,
                              fwd.empty() ? "?" : fwd, bwd.empty() ? "?" : bwd, k)
                    .str();
        return failure();
      }
    }
    bool first = true;
    for (bool keeping : {false, true}) {
      func::FuncOp *fns = keeping ? funcs[s].keeping : funcs[s].recomputing;
      gp::StagePair &pair = keeping ? info.keeping : info.recomputing;
      if (!fns[0] || !fns[1])
        continue;
      func::FuncOp fwd = fns[0], bwd = fns[1];
      pair.present = true;
      auto bad = [&](func::FuncOp fn, const std::string &what) {
        error = "runPipeline: @" + fn.getSymName().str() + ": " + what;
        return failure();
      };
      // The forward: arguments from their sources; results: the outputs,
      // then what it keeps (gpipe.kept 0, 1, ...).
      std::vector<std::pair<int64_t, int64_t>> sources;
      for (unsigned i = 0; i < fwd.getNumArguments(); ++i) {
        auto src = fwd.getArgAttrOfType<DenseI64ArrayAttr>(i, "gpipe.source");
        bool valid = src && src.size() == 2 && src[0] < s && src[0] >= -1 && src[1] >= 0;
        if (valid && src[0] >= 0)
          valid = src[1] < static_cast<int64_t>(plan.stageInfo[src[0]].returns.size());
        if (!valid)
          return bad(fwd, "argument " + std::to_string(i) + " has no valid gpipe.source");
        sources.emplace_back(src[0], src[1]);
      }
      size_t numOutputs = 0;
      while (numOutputs < fwd.getNumResults() && !fwd.getResultAttr(numOutputs, "gpipe.kept"))
        ++numOutputs;
      pair.numKept = fwd.getNumResults() - numOutputs;
      for (size_t j = 0; j < pair.numKept; ++j) {
        auto index = fwd.getResultAttrOfType<IntegerAttr>(numOutputs + j, "gpipe.kept");
        if (!index || index.getInt() != static_cast<int64_t>(j))
          return bad(fwd, "result " + std::to_string(numOutputs + j) +
                              " follows the kept activations but is not gpipe.kept " +
                              std::to_string(j));
      }
      if (first) {
        info.sources = sources;
        for (size_t i = 0; i < numOutputs; ++i) {
          auto pos = fwd.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.returns");
          info.returns.emplace_back(pos ? pos.asArrayRef().vec() : std::vector<int64_t>());
        }
      } else if (sources != info.sources || numOutputs != info.returns.size()) {
        return bad(fwd, "its arguments or outputs differ from @" +
                            funcs[s].recomputing[0].getSymName().str() + "'s");
      }
      first = false;
      // The backward: the forward's inputs, its kept activations, then
      // output gradients; results are input gradients (of earlier stages'
      // outputs) or parameter gradients.
      size_t numIn = sources.size() + pair.numKept;
      if (bwd.getNumArguments() < numIn)
        return bad(bwd, "fewer arguments than the forward's inputs and kept activations");
      for (size_t j = 0; j < pair.numKept; ++j) {
        auto index = bwd.getArgAttrOfType<IntegerAttr>(sources.size() + j, "gpipe.kept");
        if (!index || index.getInt() != static_cast<int64_t>(j) ||
            bwd.getArgumentTypes()[sources.size() + j] != fwd.getResultTypes()[numOutputs + j])
          return bad(bwd, "argument " + std::to_string(sources.size() + j) +
                              " is not the forward's kept activation " + std::to_string(j));
      }
      for (unsigned i = numIn; i < bwd.getNumArguments(); ++i) {
        auto out = bwd.getArgAttrOfType<IntegerAttr>(i, "gpipe.grad_of_output");
        if (!out || out.getInt() < 0 || out.getInt() >= static_cast<int64_t>(numOutputs))
          return bad(bwd, "argument " + std::to_string(i) + " has no valid gpipe.grad_of_output");
        pair.gradOfOutput.push_back(out.getInt());
      }
      for (unsigned i = 0; i < bwd.getNumResults(); ++i) {
        gp::StagePair::Result r;
        if (auto param = bwd.getResultAttrOfType<FlatSymbolRefAttr>(i, "gpipe.param")) {
          r.param = param.getValue().str();
        } else {
          auto of = bwd.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.grad_of");
          bool valid =
              of && of.size() == 2 && of[0] >= 0 && of[0] < s && of[1] >= 0 &&
              of[1] < static_cast<int64_t>(plan.stageInfo[of[0]].returns.size()) &&
              llvm::any_of(sources, [&](auto src) { return src.first == of[0]; });
          if (!valid)
            return bad(bwd, "result " + std::to_string(i) +
                                " is neither a valid gpipe.grad_of nor a gpipe.param gradient");
          r.stage = of[0];
          r.index = of[1];
        }
        pair.results.push_back(std::move(r));
      }
    }
  }

  // Each stage function runs in the interpreter with its stage's store.
  gp::StageRunner runner = [&](int s, bool keeping, bool backward, int mb,
                               const std::vector<gp::Tensor> &args,
                               std::vector<gp::Tensor> &results, std::string &why) {
    func::FuncOp fn = (keeping ? funcs[s].keeping : funcs[s].recomputing)[backward ? 1 : 0];
    std::vector<HostTensor> hostArgs;
    for (const gp::Tensor &t : args)
      hostArgs.push_back(HostTensor::fromRuntime(t));
    FailureOr<std::vector<HostTensor>> outs = interpret(fn, std::move(hostArgs), stores[s]);
    if (failed(outs)) {
      why = llvm::formatv("stage {0}: {1} failed on micro-batch {2}", s, fn.getSymName(), mb)
                .str();
      return false;
    }
    for (const HostTensor &t : *outs)
      results.push_back(t.toRuntime());
    return true;
  };
  std::vector<std::vector<gp::Tensor>> runtimeInputs(m), runtimeGrads(m);
  for (int mb = 0; mb < m; ++mb) {
    for (const HostTensor &t : inputs[mb])
      runtimeInputs[mb].push_back(t.toRuntime());
    for (const HostTensor &t : outputGrads[mb])
      runtimeGrads[mb].push_back(t.toRuntime());
  }
  gp::PipelineRun run;
  if (!gp::runPipeline(plan, runner, runtimeInputs, runtimeGrads, run, error))
    return failure();
  PipelineResult result;
  for (auto &row : run.outputs) {
    std::vector<HostTensor> hostRow;
    for (const gp::Tensor &t : row)
      hostRow.push_back(HostTensor::fromRuntime(t));
    result.outputs.push_back(std::move(hostRow));
  }
  for (auto &[name, grad] : run.paramGrads)
    result.paramGrads[name] = HostTensor::fromRuntime(grad);
  return result;
}
