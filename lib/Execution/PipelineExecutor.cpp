//===- PipelineExecutor.cpp - stages as threads exchanging messages -------===//

#include "gpipe/Execution/PipelineExecutor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

using namespace mlir;
using namespace mlir::gpipe;

namespace {

/// One micro-batch's activations (all outputs of the sending stage) or
/// gradients (of the receiving stage's outputs, by output index).
struct Message {
  int microBatch;
  std::vector<int64_t> indices;
  std::vector<HostTensor> values;
};

/// A FIFO between two stages in one direction; closing it wakes every
/// receiver (a stage failed and the run stops).
class Channel {
public:
  void send(Message msg) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(std::move(msg));
    }
    ready.notify_all();
  }
  std::optional<Message> recv() {
    std::unique_lock<std::mutex> lock(mutex);
    ready.wait(lock, [&] { return closed || !queue.empty(); });
    if (closed)
      return std::nullopt;
    Message msg = std::move(queue.front());
    queue.pop_front();
    return msg;
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      closed = true;
    }
    ready.notify_all();
  }

private:
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Message> queue;
  bool closed = false;
};

/// A forward and the backward that goes with it; the forward returns the
/// stage outputs, then the activations it keeps for the backward.
struct StagePair {
  func::FuncOp forward, backward;
  size_t numKept = 0;
};

struct StageInfo {
  /// For micro-batches the stage recomputes, and for the others.
  StagePair recomputing, keeping;
  /// Per micro-batch: whether the program recomputes it.
  std::vector<bool> recomputed;
  /// (stage, index) of each forward argument; stage -1: a function argument.
  std::vector<std::pair<int64_t, int64_t>> sources;
  /// Return positions and type of each stage output.
  std::vector<std::vector<int64_t>> returns;
  std::vector<RankedTensorType> outputTypes;
  std::set<int64_t> producers, consumers;
};

class Pipeline {
public:
  Pipeline(const Schedule &schedule, std::vector<StageInfo> stages,
           const std::vector<std::vector<HostTensor>> &inputs,
           const std::vector<std::vector<HostTensor>> &outputGrads,
           std::vector<ParamStore> &stores)
      : schedule(schedule), stages(std::move(stages)), inputs(inputs), outputGrads(outputGrads),
        stores(stores) {
    int k = schedule.stages;
    activations.resize(k * k);
    gradients.resize(k * k);
    for (auto &c : activations)
      c = std::make_unique<Channel>();
    for (auto &c : gradients)
      c = std::make_unique<Channel>();
    result.outputs.assign(schedule.microBatches, {});
    paramGrads.resize(k);
  }

  LogicalResult run(PipelineResult &out, std::string &error) {
    std::vector<std::thread> threads;
    for (int s = 0; s < schedule.stages; ++s)
      threads.emplace_back([this, s] {
        if (failed(runStage(s)))
          stopAll();
      });
    for (std::thread &t : threads)
      t.join();
    if (!firstError.empty()) {
      error = firstError;
      return failure();
    }
    // Gradients of a parameter read on several stages are summed.
    for (int s = 0; s < schedule.stages; ++s)
      for (auto &[name, grad] : paramGrads[s])
        if (failed(accumulate(result.paramGrads[name], grad.second, grad.first)))
          return failure();
    out = std::move(result);
    return success();
  }

private:
  Channel &activationChannel(int64_t from, int64_t to) {
    return *activations[from * schedule.stages + to];
  }
  Channel &gradientChannel(int64_t from, int64_t to) {
    return *gradients[from * schedule.stages + to];
  }

  void fail(const std::string &message) {
    std::lock_guard<std::mutex> lock(errorMutex);
    if (firstError.empty())
      firstError = message;
  }
  void stopAll() {
    for (auto &c : activations)
      c->close();
    for (auto &c : gradients)
      c->close();
  }

  LogicalResult accumulate(HostTensor &acc, const HostTensor &value, RankedTensorType type) {
    if (!acc.view()->data) {
      acc = value;
      return success();
    }
    FailureOr<HostTensor> sum = HostTensor::allocate(type);
    if (failed(sum) || gp_cpu_binary(GP_ADD, acc.view(), value.view(), sum->view()) != GP_OK) {
      fail(std::string("cannot sum gradients: ") + gp_last_error());
      return failure();
    }
    acc = std::move(*sum);
    return success();
  }

  /// Receives the next message on `channel`, which must be for `mb`.
  std::optional<Message> receive(Channel &channel, int mb, int64_t from, int64_t to,
                                 const char *what) {
    std::optional<Message> msg = channel.recv();
    if (!msg)
      return std::nullopt; // another stage failed
    if (msg->microBatch != mb) {
      fail(llvm::formatv("stage {0} expected the {1} of micro-batch {2} from stage {3}, got "
                         "micro-batch {4}",
                         to, what, mb, from, msg->microBatch)
               .str());
      return std::nullopt;
    }
    return msg;
  }

  /// Receives micro-batch `mb`'s activations (or gradients) from each of
  /// `peers` into `into`, by peer.
  LogicalResult receiveFromAll(const std::set<int64_t> &peers, int s, int mb, bool gradient,
                               std::map<int64_t, Message> &into) {
    for (int64_t p : peers) {
      Channel &channel = gradient ? gradientChannel(p, s) : activationChannel(p, s);
      std::optional<Message> msg =
          receive(channel, mb, p, s, gradient ? "gradient" : "activation");
      if (!msg)
        return failure();
      into[p] = std::move(*msg);
    }
    return success();
  }

  LogicalResult runStage(int s) {
    StageInfo &info = stages[s];
    int m = schedule.microBatches;
    std::vector<std::map<int64_t, Message>> receivedActs(m), receivedGrads(m);
    std::vector<std::vector<HostTensor>> savedInputs(m), kept(m), outputs(m);
    std::vector<std::map<int64_t, Message>> pendingGrads(m);
    auto fnError = [&](func::FuncOp fn, int mb) {
      fail(llvm::formatv("stage {0}: {1} failed on micro-batch {2}", s, fn.getSymName(), mb).str());
      return failure();
    };

    for (const Action &action : schedule.programs[s]) {
      int mb = action.microBatch;
      switch (action.kind) {
      case ActionKind::RecvActivation:
        if (failed(receiveFromAll(info.producers, s, mb, /*gradient=*/false, receivedActs[mb])))
          return failure();
        break;
      case ActionKind::Forward: {
        std::vector<HostTensor> args;
        for (auto [stage, index] : info.sources) {
          if (stage < 0) {
            args.push_back(inputs[mb][index]);
            continue;
          }
          auto it = receivedActs[mb].find(stage);
          if (it == receivedActs[mb].end()) {
            fail(llvm::formatv("stage {0} runs the forward of micro-batch {1} before receiving "
                               "stage {2}'s activation",
                               s, mb, stage)
                     .str());
            return failure();
          }
          args.push_back(it->second.values[index]);
        }
        receivedActs[mb].clear();
        const StagePair &pair = info.recomputed[mb] ? info.recomputing : info.keeping;
        FailureOr<std::vector<HostTensor>> outs = interpret(pair.forward, args, stores[s]);
        if (failed(outs))
          return fnError(pair.forward, mb);
        savedInputs[mb] = std::move(args);
        // What the forward keeps for the backward follows the outputs.
        kept[mb].assign(outs->end() - pair.numKept, outs->end());
        outs->resize(outs->size() - pair.numKept);
        for (size_t i = 0; i < outs->size(); ++i)
          for (int64_t pos : info.returns[i]) {
            std::lock_guard<std::mutex> lock(resultMutex);
            auto &row = result.outputs[mb];
            if (row.size() <= static_cast<size_t>(pos))
              row.resize(pos + 1);
            row[pos] = (*outs)[i];
          }
        outputs[mb] = std::move(*outs);
        break;
      }
      case ActionKind::SendActivation:
        for (int64_t c : info.consumers)
          activationChannel(s, c).send(Message{mb, {}, outputs[mb]});
        outputs[mb].clear();
        break;
      case ActionKind::Recompute:
        // The recomputing backward recomputes what its forward did not keep.
        break;
      case ActionKind::RecvGradient:
        if (failed(receiveFromAll(info.consumers, s, mb, /*gradient=*/true, receivedGrads[mb])))
          return failure();
        break;
      case ActionKind::Backward: {
        func::FuncOp bwd =
            info.recomputed[mb] ? info.recomputing.backward : info.keeping.backward;
        std::vector<HostTensor> args = savedInputs[mb];
        if (args.size() != info.sources.size()) {
          fail(llvm::formatv("stage {0} runs the backward of micro-batch {1} before its forward",
                             s, mb)
                   .str());
          return failure();
        }
        // Each float output's gradient: the seeds of the results it is,
        // plus what every consumer sent back for it.
        std::map<int64_t, HostTensor> outGrads;
        for (size_t i = 0; i < info.returns.size(); ++i)
          for (int64_t pos : info.returns[i])
            if (outputGrads[mb].size() > static_cast<size_t>(pos) &&
                outputGrads[mb][pos].view()->data)
              if (failed(accumulate(outGrads[i], outputGrads[mb][pos], info.outputTypes[i])))
                return failure();
        for (auto &[c, msg] : receivedGrads[mb])
          for (size_t k = 0; k < msg.indices.size(); ++k)
            if (failed(accumulate(outGrads[msg.indices[k]], msg.values[k],
                                  info.outputTypes[msg.indices[k]])))
              return failure();
        receivedGrads[mb].clear();
        llvm::append_range(args, kept[mb]);
        for (unsigned i = args.size(); i < bwd.getNumArguments(); ++i) {
          int64_t out = bwd.getArgAttrOfType<IntegerAttr>(i, "gpipe.grad_of_output").getInt();
          auto it = outGrads.find(out);
          if (it == outGrads.end()) {
            fail(llvm::formatv("stage {0}: output {1} of micro-batch {2} received no gradient", s,
                               out, mb)
                     .str());
            return failure();
          }
          args.push_back(it->second);
        }
        FailureOr<std::vector<HostTensor>> outs = interpret(bwd, args, stores[s]);
        if (failed(outs))
          return fnError(bwd, mb);
        savedInputs[mb].clear();
        kept[mb].clear();
        for (size_t i = 0; i < outs->size(); ++i) {
          auto type = cast<RankedTensorType>(bwd.getFunctionType().getResult(i));
          if (auto of = bwd.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.grad_of")) {
            Message &msg = pendingGrads[mb][of[0]];
            msg.microBatch = mb;
            msg.indices.push_back(of[1]);
            msg.values.push_back((*outs)[i]);
          } else if (auto param = bwd.getResultAttrOfType<FlatSymbolRefAttr>(i, "gpipe.param")) {
            auto &slot = paramGrads[s][param.getValue().str()];
            slot.first = type;
            if (failed(accumulate(slot.second, (*outs)[i], type)))
              return failure();
          }
        }
        break;
      }
      case ActionKind::SendGradient:
        for (int64_t p : info.producers) {
          Message msg = std::move(pendingGrads[mb][p]);
          msg.microBatch = mb;
          gradientChannel(s, p).send(std::move(msg));
        }
        pendingGrads[mb].clear();
        break;
      case ActionKind::Update:
        // The caller applies the optimizer to the summed gradients.
        break;
      }
    }
    return success();
  }

  const Schedule &schedule;
  std::vector<StageInfo> stages;
  const std::vector<std::vector<HostTensor>> &inputs;
  const std::vector<std::vector<HostTensor>> &outputGrads;
  std::vector<ParamStore> &stores;
  std::vector<std::unique_ptr<Channel>> activations, gradients;
  std::vector<std::map<std::string, std::pair<RankedTensorType, HostTensor>>> paramGrads;
  PipelineResult result;
  std::mutex resultMutex, errorMutex;
  std::string firstError;
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
  std::vector<StageInfo> stages(k);
  for (int s = 0; s < k; ++s) {
    StageInfo &info = stages[s];
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
    info.recomputing = {lookup(names.forward), lookup(names.backward)};
    info.keeping = {lookup(names.forwardKeep), lookup(names.backwardKeep)};
    for (int mb = 0; mb < m; ++mb) {
      bool recomputed = recomputes(schedule, s, mb);
      info.recomputed.push_back(recomputed);
      const StagePair &pair = recomputed ? info.recomputing : info.keeping;
      if (!pair.forward || !pair.backward) {
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
    for (StagePair *pair : {&info.recomputing, &info.keeping}) {
      if (!pair->forward || !pair->backward)
        continue;
      func::FuncOp fwd = pair->forward, bwd = pair->backward;
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
          valid = src[1] < static_cast<int64_t>(stages[src[0]].outputTypes.size());
        if (!valid)
          return bad(fwd, "argument " + std::to_string(i) + " has no valid gpipe.source");
        sources.emplace_back(src[0], src[1]);
      }
      size_t numOutputs = 0;
      while (numOutputs < fwd.getNumResults() &&
             !fwd.getResultAttr(numOutputs, "gpipe.kept"))
        ++numOutputs;
      pair->numKept = fwd.getNumResults() - numOutputs;
      for (size_t j = 0; j < pair->numKept; ++j) {
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
          info.outputTypes.push_back(cast<RankedTensorType>(fwd.getFunctionType().getResult(i)));
        }
        for (auto [stage, index] : sources)
          if (stage >= 0) {
            info.producers.insert(stage);
            stages[stage].consumers.insert(s);
          }
      } else if (sources != info.sources || numOutputs != info.outputTypes.size()) {
        return bad(fwd, "its arguments or outputs differ from @" +
                            info.recomputing.forward.getSymName().str() + "'s");
      }
      first = false;
      // The backward: the forward's inputs, its kept activations, then
      // output gradients; results are input gradients (of earlier stages'
      // outputs) or parameter gradients.
      size_t numIn = sources.size() + pair->numKept;
      if (bwd.getNumArguments() < numIn)
        return bad(bwd, "fewer arguments than the forward's inputs and kept activations");
      for (size_t j = 0; j < pair->numKept; ++j) {
        auto index = bwd.getArgAttrOfType<IntegerAttr>(sources.size() + j, "gpipe.kept");
        if (!index || index.getInt() != static_cast<int64_t>(j) ||
            bwd.getArgumentTypes()[sources.size() + j] !=
                fwd.getResultTypes()[numOutputs + j])
          return bad(bwd, "argument " + std::to_string(sources.size() + j) +
                              " is not the forward's kept activation " + std::to_string(j));
      }
      for (unsigned i = numIn; i < bwd.getNumArguments(); ++i) {
        auto out = bwd.getArgAttrOfType<IntegerAttr>(i, "gpipe.grad_of_output");
        if (!out || out.getInt() < 0 || out.getInt() >= static_cast<int64_t>(numOutputs))
          return bad(bwd, "argument " + std::to_string(i) + " has no valid gpipe.grad_of_output");
      }
      for (unsigned i = 0; i < bwd.getNumResults(); ++i) {
        auto of = bwd.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.grad_of");
        bool valid = of && of.size() == 2 && of[0] >= 0 && of[0] < s && of[1] >= 0 &&
                     of[1] < static_cast<int64_t>(stages[of[0]].outputTypes.size()) &&
                     info.producers.count(of[0]);
        if (!valid && !bwd.getResultAttrOfType<FlatSymbolRefAttr>(i, "gpipe.param"))
          return bad(bwd, "result " + std::to_string(i) +
                              " is neither a valid gpipe.grad_of nor a gpipe.param gradient");
      }
    }
  }
  PipelineResult result;
  Pipeline pipeline(schedule, std::move(stages), inputs, outputGrads, stores);
  if (failed(pipeline.run(result, error)))
    return failure();
  return result;
}
