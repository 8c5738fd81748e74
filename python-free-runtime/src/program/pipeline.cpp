//===- pipeline.cpp - stages as threads exchanging messages ---------------===//

#include "gpipe/runtime/gp_pipeline.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

using namespace gp;

namespace {

using Message = PipelineMessage;

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
  /// The next message; nullopt when the channel closed or, with a
  /// positive `timeout`, none came in that many seconds (`timedOut` set).
  std::optional<Message> recv(double timeout, bool &timedOut) {
    std::unique_lock<std::mutex> lock(mutex);
    auto arrived = [&] { return closed || !queue.empty(); };
    timedOut = false;
    if (timeout > 0) {
      timedOut = !ready.wait_for(lock, std::chrono::duration<double>(timeout), arrived);
      if (timedOut)
        return std::nullopt;
    } else {
      ready.wait(lock, arrived);
    }
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

/// "0.25", "600": a number of seconds for messages.
std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

/// Stages in one process: a FIFO per pair of stages and direction.
class QueueTransport : public Transport {
public:
  explicit QueueTransport(int stages)
      : stages(stages), activations(stages * stages), gradients(stages * stages) {
    for (auto &c : activations)
      c = std::make_unique<Channel>();
    for (auto &c : gradients)
      c = std::make_unique<Channel>();
  }
  bool send(int from, int to, bool gradient, const Message &msg, std::string &) override {
    channel(from, to, gradient).send(msg);
    return true;
  }
  bool recv(int from, int to, bool gradient, Message &msg, std::string &error) override {
    bool timedOut = false;
    std::optional<Message> got = channel(from, to, gradient).recv(timeout, timedOut);
    if (timedOut)
      error = "stage " + std::to_string(to) + " received no " +
              (gradient ? "gradient" : "activation") + " from stage " + std::to_string(from) +
              " in " + seconds(timeout) + " s; stopping every stage";
    if (!got)
      return false;
    msg = std::move(*got);
    return true;
  }
  void stop() override {
    for (auto &c : activations)
      c->close();
    for (auto &c : gradients)
      c->close();
  }
  void setRecvTimeout(double seconds) override { timeout = seconds; }

private:
  Channel &channel(int from, int to, bool gradient) {
    return *(gradient ? gradients : activations)[from * stages + to];
  }
  int stages;
  std::vector<std::unique_ptr<Channel>> activations, gradients;
  double timeout = 0;
};

std::string str(int64_t v) { return std::to_string(v); }

bool recomputes(const std::vector<Action> &program, int mb) {
  for (const Action &a : program)
    if (a.kind == ActionKind::Recompute && a.microBatch == mb)
      return true;
  return false;
}

class Pipeline {
public:
  Pipeline(const PipelinePlan &plan, const StageRunner &runner,
           const std::vector<std::vector<Tensor>> &inputs,
           const std::vector<std::vector<Tensor>> &outputGrads, Transport &transport)
      : plan(plan), runner(runner), inputs(inputs), outputGrads(outputGrads),
        transport(transport), current(new std::atomic<int>[plan.stages]) {
    int k = plan.stages;
    for (int s = 0; s < k; ++s)
      current[s].store(-1);
    producers.resize(k);
    consumers.resize(k);
    for (int s = 0; s < k; ++s)
      for (auto [from, index] : plan.stageInfo[s].sources)
        if (from >= 0) {
          producers[s].insert(from);
          consumers[from].insert(s);
        }
    result.outputs.assign(plan.microBatches, {});
    paramGrads.resize(k);
  }

  bool run(const std::vector<int> &local, PipelineRun &out, std::string &error) {
    for (int s : local)
      postToStageThread(s, [this, s] {
        // The stage thread outlives this run: take this plan's thread
        // count (another plan may have set another).
        if (plan.threadsPerStage > 0)
          gp_cpu_set_num_threads(plan.threadsPerStage);
        if (!runStage(s))
          stopAll();
        std::lock_guard<std::mutex> lock(doneMutex);
        ++done;
        doneChanged.notify_all();
      });
    {
      // Once a stage failed, the others get plan.stopGraceSeconds to notice
      // the stop. One stuck in a call that cannot be interrupted (a device
      // synchronization behind a peer that is gone) would hang the run
      // forever without its error: say it and end the process.
      std::unique_lock<std::mutex> lock(doneMutex);
      // With plan.stallSeconds, a run in which no stage starts or ends an
      // action for that long is stuck in calls that cannot time out (a
      // blocked device call): say where each stage is and end the process.
      int64_t seen = -1;
      auto since = std::chrono::steady_clock::now();
      while (!(done == local.size() || stopping)) {
        if (plan.stallSeconds <= 0) {
          doneChanged.wait(lock, [&] { return done == local.size() || stopping; });
          break;
        }
        doneChanged.wait_for(lock, std::chrono::milliseconds(200));
        auto now = std::chrono::steady_clock::now();
        int64_t p = progress.load();
        if (p != seen) {
          seen = p;
          since = now;
        } else if (std::chrono::duration<double>(now - since).count() > plan.stallSeconds) {
          std::string where;
          for (int s : local)
            where += (where.empty() ? "" : "; ") + describeAction(s);
          std::fprintf(stderr, "%s: error: no stage made progress in %g s (%s); exiting\n",
                       program_invocation_short_name, plan.stallSeconds, where.c_str());
          std::fflush(stdout);
          std::fflush(stderr);
          std::_Exit(1);
        }
      }
      if (!doneChanged.wait_for(lock, std::chrono::duration<double>(plan.stopGraceSeconds),
                                [&] { return done == local.size(); })) {
        std::lock_guard<std::mutex> errorLock(errorMutex);
        std::fprintf(stderr,
                     "%s: error: %s (a stage did not stop within %g s of the failure; "
                     "exiting)\n",
                     program_invocation_short_name,
                     firstError.empty() ? "a stage failed" : firstError.c_str(),
                     plan.stopGraceSeconds);
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
    // Each task ends after it counted itself done (it still unlocks
    // doneMutex): wait for the tasks, as a join would, before this object
    // can go.
    waitForStageThreads(local);
    std::string finishError;
    if (firstError.empty() && !transport.finish(finishError))
      fail(finishError);
    if (!firstError.empty()) {
      error = firstError;
      return false;
    }
    // Gradients of a parameter read on several stages are summed.
    for (int s = 0; s < plan.stages; ++s)
      for (auto &[name, grad] : paramGrads[s])
        if (!accumulate(result.paramGrads[name], grad, error))
          return false;
    out = std::move(result);
    return true;
  }

private:
  bool fail(const std::string &message) {
    std::lock_guard<std::mutex> lock(errorMutex);
    if (firstError.empty())
      firstError = message;
    return false;
  }
  void stopAll() {
    transport.stop();
    std::lock_guard<std::mutex> lock(doneMutex);
    stopping = true;
    doneChanged.notify_all();
  }

  bool add(Tensor &acc, const Tensor &value) {
    std::string error;
    return accumulate(acc, value, error) || fail(error);
  }

  /// Receives micro-batch `mb`'s activations (or gradients) from each of
  /// `peers` into `into`, by peer.
  bool receiveFromAll(const std::set<int64_t> &peers, int s, int mb, bool gradient,
                      std::map<int64_t, Message> &into) {
    for (int64_t p : peers) {
      Message msg;
      std::string error;
      if (!transport.recv(p, s, gradient, msg, error))
        return error.empty() ? false : fail(error); // empty: another stage failed
      if (msg.microBatch != mb)
        return fail("stage " + str(s) + " expected the " + (gradient ? "gradient" : "activation") +
                    " of micro-batch " + str(mb) + " from stage " + str(p) +
                    ", got micro-batch " + str(msg.microBatch));
      into[p] = std::move(msg);
    }
    return true;
  }

  bool call(int s, bool keeping, bool backward, int mb, const std::vector<Tensor> &args,
            std::vector<Tensor> &results) {
    std::string error;
    if (runner(s, keeping, backward, mb, args, results, error))
      return true;
    return fail(error);
  }

  bool runStage(int s) {
    const PipelineStage &info = plan.stageInfo[s];
    int m = plan.microBatches;
    std::vector<std::map<int64_t, Message>> receivedActs(m), receivedGrads(m), pendingGrads(m);
    std::vector<std::vector<Tensor>> savedInputs(m), kept(m), outputs(m);
    std::vector<bool> forwarded(m, false);
    for (const Action &action : plan.programs[s]) {
      current[s].store(static_cast<int>(&action - plan.programs[s].data()));
      progress.fetch_add(1);
      int mb = action.microBatch;
      bool keeping = !recomputes(plan.programs[s], mb);
      const StagePair &pair = keeping ? info.keeping : info.recomputing;
      switch (action.kind) {
      case ActionKind::RecvActivation:
        if (!receiveFromAll(producers[s], s, mb, /*gradient=*/false, receivedActs[mb]))
          return false;
        break;
      case ActionKind::Forward: {
        std::vector<Tensor> args;
        for (auto [stage, index] : info.sources) {
          if (stage < 0) {
            args.push_back(inputs[mb][index]);
            continue;
          }
          auto it = receivedActs[mb].find(stage);
          if (it == receivedActs[mb].end())
            return fail("stage " + str(s) + " runs the forward of micro-batch " + str(mb) +
                        " before receiving stage " + str(stage) + "'s activation");
          args.push_back(it->second.values[index]);
        }
        receivedActs[mb].clear();
        std::vector<Tensor> outs;
        if (!call(s, keeping, /*backward=*/false, mb, args, outs))
          return false;
        if (outs.size() != info.returns.size() + pair.numKept)
          return fail("stage " + str(s) + "'s forward returned " + str(outs.size()) +
                      " values, not " + str(info.returns.size() + pair.numKept));
        savedInputs[mb] = std::move(args);
        forwarded[mb] = true;
        // What the forward keeps for the backward follows the outputs.
        kept[mb].assign(outs.end() - pair.numKept, outs.end());
        outs.resize(outs.size() - pair.numKept);
        for (size_t i = 0; i < outs.size(); ++i)
          for (int64_t pos : info.returns[i]) {
            std::lock_guard<std::mutex> lock(resultMutex);
            auto &row = result.outputs[mb];
            if (row.size() <= static_cast<size_t>(pos))
              row.resize(pos + 1);
            row[pos] = outs[i];
          }
        outputs[mb] = std::move(outs);
        break;
      }
      case ActionKind::SendActivation:
        for (int64_t c : consumers[s]) {
          std::string error;
          if (!transport.send(s, c, /*gradient=*/false, Message{mb, {}, outputs[mb]}, error))
            return fail(error);
        }
        outputs[mb].clear();
        break;
      case ActionKind::Recompute:
        // The recomputing backward recomputes what its forward did not keep.
        break;
      case ActionKind::RecvGradient:
        if (!receiveFromAll(consumers[s], s, mb, /*gradient=*/true, receivedGrads[mb]))
          return false;
        break;
      case ActionKind::Backward: {
        if (!forwarded[mb])
          return fail("stage " + str(s) + " runs the backward of micro-batch " + str(mb) +
                      " before its forward");
        std::vector<Tensor> args = savedInputs[mb];
        // Each output's gradient: the seeds of the results it is, plus what
        // every consumer sent back for it.
        std::map<int64_t, Tensor> outGrads;
        for (size_t i = 0; i < info.returns.size(); ++i)
          for (int64_t pos : info.returns[i])
            if (outputGrads[mb].size() > static_cast<size_t>(pos) &&
                !outputGrads[mb][pos].empty() && !add(outGrads[i], outputGrads[mb][pos]))
              return false;
        for (auto &[c, msg] : receivedGrads[mb])
          for (size_t j = 0; j < msg.indices.size(); ++j)
            if (!add(outGrads[msg.indices[j]], msg.values[j]))
              return false;
        receivedGrads[mb].clear();
        args.insert(args.end(), kept[mb].begin(), kept[mb].end());
        for (int64_t out : pair.gradOfOutput) {
          auto it = outGrads.find(out);
          if (it == outGrads.end())
            return fail("stage " + str(s) + ": output " + str(out) + " of micro-batch " +
                        str(mb) + " received no gradient");
          args.push_back(it->second);
        }
        std::vector<Tensor> outs;
        if (!call(s, keeping, /*backward=*/true, mb, args, outs))
          return false;
        if (outs.size() != pair.results.size())
          return fail("stage " + str(s) + "'s backward returned " + str(outs.size()) +
                      " values, not " + str(pair.results.size()));
        savedInputs[mb].clear();
        kept[mb].clear();
        for (size_t i = 0; i < outs.size(); ++i) {
          const StagePair::Result &r = pair.results[i];
          if (r.param.empty()) {
            Message &msg = pendingGrads[mb][r.stage];
            msg.microBatch = mb;
            msg.indices.push_back(r.index);
            msg.values.push_back(outs[i]);
          } else if (!add(paramGrads[s][r.param], outs[i])) {
            return false;
          }
        }
        break;
      }
      case ActionKind::SendGradient:
        for (int64_t p : producers[s]) {
          Message msg = std::move(pendingGrads[mb][p]);
          msg.microBatch = mb;
          std::string error;
          if (!transport.send(s, p, /*gradient=*/true, msg, error))
            return fail(error);
        }
        pendingGrads[mb].clear();
        break;
      case ActionKind::Update:
        // The caller applies the optimizer to the summed gradients.
        break;
      }
    }
    current[s].store(-1);
    progress.fetch_add(1);
    return true;
  }

  /// What stage `s` is doing now, for the stall message.
  std::string describeAction(int s) const {
    int a = current[s].load();
    if (a < 0 || a >= static_cast<int>(plan.programs[s].size()))
      return "stage " + str(s) + " is done";
    static const char *kNames[] = {"forward",         "recompute",         "backward",
                                   "activation send", "activation receive", "gradient send",
                                   "gradient receive", "update"};
    const Action &action = plan.programs[s][a];
    int kind = static_cast<int>(action.kind);
    return "stage " + str(s) + " in its " + (kind >= 0 && kind < 8 ? kNames[kind] : "action") +
           " of micro-batch " + str(action.microBatch);
  }

  const PipelinePlan &plan;
  const StageRunner &runner;
  const std::vector<std::vector<Tensor>> &inputs;
  const std::vector<std::vector<Tensor>> &outputGrads;
  Transport &transport;
  std::vector<std::set<int64_t>> producers, consumers;
  std::vector<std::map<std::string, Tensor>> paramGrads;
  PipelineRun result;
  std::mutex resultMutex, errorMutex;
  std::string firstError;
  std::mutex doneMutex;
  std::condition_variable doneChanged;
  /// Per stage, the index of the action it runs (-1: done); bumped
  /// `progress` at every action for the stall watchdog.
  std::unique_ptr<std::atomic<int>[]> current;
  std::atomic<int64_t> progress{0};
  size_t done = 0;
  bool stopping = false;
};

} // namespace

std::unique_ptr<Transport> gp::makeQueueTransport(int stages) {
  return std::make_unique<QueueTransport>(stages);
}

namespace {
/// The stage threads of postToStageThread.
class StageThreads {
public:
  void post(int stage, std::function<void()> task) {
    Slot &slot = this->slot(stage);
    {
      std::lock_guard<std::mutex> lock(slot.mutex);
      slot.tasks.push_back(std::move(task));
      ++slot.posted;
      if (!slot.started) {
        slot.started = true;
        // Never joined: the pool lives as long as the process (a thread
        // blocked in a device call must not hold up its exit).
        std::thread([&slot] { slot.loop(); }).detach();
      }
    }
    slot.changed.notify_all();
  }
  void wait(int stage) {
    Slot &slot = this->slot(stage);
    std::unique_lock<std::mutex> lock(slot.mutex);
    slot.changed.wait(lock, [&] { return slot.finished == slot.posted; });
  }

private:
  struct Slot {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::function<void()>> tasks;
    long long posted = 0, finished = 0;
    bool started = false;
    void loop() {
      std::unique_lock<std::mutex> lock(mutex);
      for (;;) {
        changed.wait(lock, [&] { return !tasks.empty(); });
        std::function<void()> task = std::move(tasks.front());
        tasks.pop_front();
        lock.unlock();
        task();
        task = nullptr; // Its captures go before it counts as finished.
        lock.lock();
        ++finished;
        changed.notify_all();
      }
    }
  };
  Slot &slot(int stage) {
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<Slot> &s = slots[stage];
    if (!s)
      s = std::make_unique<Slot>();
    return *s;
  }
  std::mutex mutex;
  std::map<int, std::unique_ptr<Slot>> slots;
};

StageThreads &stageThreads() {
  static StageThreads *pool = new StageThreads(); // Never destroyed (see post).
  return *pool;
}
} // namespace

void gp::postToStageThread(int stage, std::function<void()> task) {
  stageThreads().post(stage, std::move(task));
}

void gp::waitForStageThreads(const std::vector<int> &stages) {
  for (int s : stages)
    stageThreads().wait(s);
}

bool gp::accumulate(Tensor &acc, const Tensor &value, std::string &error) {
  if (acc.empty()) {
    acc = value;
    return true;
  }
  if (acc.device() >= 0 || value.device() >= 0) {
    // On the device of whichever is on one (a host seed plus a device
    // gradient is summed on the device).
    DeviceMemory *memory = deviceMemory();
    if (!memory) {
      error = "cannot sum gradients: a tensor on a device without device memory";
      return false;
    }
    Tensor base = acc.device() >= 0 ? acc : onDevice(acc, value.device(), error);
    Tensor sum = base.empty() ? Tensor() : memory->add(base, value, error);
    if (sum.empty())
      return false;
    acc = std::move(sum);
    return true;
  }
  Tensor sum = Tensor::allocate(acc.view()->dtype, acc.view()->rank, acc.view()->dims);
  if (sum.empty() || gp_cpu_binary(GP_ADD, acc.view(), value.view(), sum.view()) != GP_OK) {
    error = std::string("cannot sum gradients: ") + gp_last_error();
    return false;
  }
  acc = std::move(sum);
  return true;
}

std::string gp::checkPipelinePlan(const PipelinePlan &plan) {
  int k = plan.stages, m = plan.microBatches;
  if (k < 1 || m < 1 || static_cast<int>(plan.programs.size()) != k ||
      static_cast<int>(plan.stageInfo.size()) != k)
    return "the plan has " + str(plan.programs.size()) + " programs and " +
           str(plan.stageInfo.size()) + " stage descriptions for " + str(k) + " stages";
  for (int s = 0; s < k; ++s) {
    const PipelineStage &info = plan.stageInfo[s];
    for (auto [from, index] : info.sources)
      if (from >= s || from < -1 || index < 0 ||
          (from >= 0 && index >= static_cast<int64_t>(plan.stageInfo[from].returns.size())))
        return "stage " + str(s) + " reads output " + str(index) + " of stage " + str(from);
    for (const StagePair *pair : {&info.recomputing, &info.keeping}) {
      if (!pair->present)
        continue;
      for (int64_t out : pair->gradOfOutput)
        if (out < 0 || out >= static_cast<int64_t>(info.returns.size()))
          return "stage " + str(s) + "'s backward takes the gradient of output " + str(out) +
                 " of " + str(info.returns.size());
      for (const StagePair::Result &r : pair->results)
        if (r.param.empty()) {
          bool producer = false;
          for (auto [from, index] : info.sources)
            producer |= from == r.stage;
          if (!producer || r.index < 0 ||
              r.index >= static_cast<int64_t>(plan.stageInfo[r.stage].returns.size()))
            return "stage " + str(s) + "'s backward returns the gradient of output " +
                   str(r.index) + " of stage " + str(r.stage) + ", which it does not read";
        }
    }
    for (int mb = 0; mb < m; ++mb) {
      bool keeping = !recomputes(plan.programs[s], mb);
      if (!(keeping ? info.keeping : info.recomputing).present)
        return "stage " + str(s) + (keeping ? " keeps the activations of" : " recomputes") +
               " micro-batch " + str(mb) + " but has no " + (keeping ? "keeping" : "recomputing") +
               " functions";
    }
    for (const Action &a : plan.programs[s])
      if (a.microBatch >= m || (a.kind != ActionKind::Update && a.microBatch < 0) ||
          a.peer >= k)
        return "stage " + str(s) + " has an action on micro-batch " + str(a.microBatch) +
               " or stage " + str(a.peer) + " out of range";
  }
  return "";
}

bool gp::runPipeline(const PipelinePlan &plan, const StageRunner &runner,
                     const std::vector<std::vector<Tensor>> &inputs,
                     const std::vector<std::vector<Tensor>> &outputGrads, PipelineRun &out,
                     std::string &error, Transport *transport,
                     const std::vector<int> &localStages) {
  error = checkPipelinePlan(plan);
  if (!error.empty())
    return false;
  if (static_cast<int>(inputs.size()) != plan.microBatches ||
      static_cast<int>(outputGrads.size()) != plan.microBatches) {
    error = "runPipeline: " + str(plan.microBatches) + " micro-batches, but " +
            str(inputs.size()) + " input sets and " + str(outputGrads.size()) + " gradient sets";
    return false;
  }
  std::vector<int> local = localStages;
  if (local.empty())
    for (int s = 0; s < plan.stages; ++s)
      local.push_back(s);
  QueueTransport queues(plan.stages);
  Pipeline pipeline(plan, runner, inputs, outputGrads, transport ? *transport : queues);
  return pipeline.run(local, out, error);
}
