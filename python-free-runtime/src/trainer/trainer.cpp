//===- trainer.cpp - the command line of a generated training program -----===//
//
// gp::trainerMain: reads the data and labels, loads the parameters from the
// ONNX model, and trains: per step, M micro-batches through the stage
// threads under the program's schedule (the pipeline engine), the loss of
// each micro-batch seeded with 1/M, then the update function once.
//
//===----------------------------------------------------------------------===//

#include "gpipe/runtime/gp_pipeline.h"
#include "gpipe/runtime/gp_program.h"
#include "checkpoint.h"
#include "mpi.h"
#include "onnx_weights.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

using namespace gp;

namespace {

const char *kUsage =
    "usage: %s --data [NAME=]FILE.npy --labels FILE.npy (--steps N | --epochs E)\n"
    "          [--shuffle] [--seed S] [--threads N (per stage)] [--log-every N]\n"
    "          [--save FILE.onnx] [--save-params DIR] [--log FILE.jsonl]\n"
    "          [--eval-data [NAME=]FILE.npy --eval-labels FILE.npy]\n"
    "          [--checkpoint DIR [--checkpoint-every N]] [--resume DIR]\n"
    "          [--trace FILE.json] [--profile FILE.json] [--serialize-stages] [--no-progress]\n"
    "          [--model FILE.onnx (initial parameters; default: the model it was compiled from)]\n"
    "A pipelined training program compiled by gpipe-compile: %d stages, %d micro-batches,\n"
    "schedule %s, recompute %s; each step takes %lld rows.\n"
    "--serialize-stages runs one stage's forward or backward at a time in this process,\n"
    "so that each --trace span and --profile time is that stage's own, not shared with\n"
    "the stages beside it (to simulate K devices from one; same results, slower steps).\n";

int fail(const std::string &message) {
  std::fprintf(stderr, "trainer: error: %s\n", message.c_str());
  return 1;
}

std::string shapeText(gp_dtype dtype, int32_t rank, const int64_t *dims) {
  std::string s = std::string(gp_dtype_name(dtype)) + "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

/// Parameter values shared by everything that reads them: the starting
/// values come from the ONNX model (or zero), loaded on first use. A device
/// program's table keeps them on its device.
class Params : public ParamTable {
public:
  Params(const Program &program, const OnnxWeights &weights, Params *fallback = nullptr)
      : program(program), weights(weights), fallback(fallback), values(program.numParams) {}

  /// Keeps the values on `device` (-1: the host) from now on.
  void placeOn(int d) { device = d; }
  /// Parameter `index` is this stage table's own (a split update stores it
  /// here only): it is loaded from the model itself, not through the main
  /// table, unless the main table holds a value (a resumed checkpoint's),
  /// which it then hands over. So the main table's device never holds it.
  void own(int index) { owned.insert(index); }

  const gp_tensor *get(int index, std::string &error) override {
    if (index < 0 || index >= program.numParams) {
      error = "no parameter " + std::to_string(index);
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (values[index].empty() && !load(index, error))
      return nullptr;
    return values[index].view();
  }
  bool set(int index, const gp_tensor &value, std::string &error) override {
    DeviceMemory *memory = deviceMemory();
    if (device >= 0 && !(memory && memory->hostAddressable())) {
      // The view is device memory only its program's stream may copy.
      error = "a device program stores parameter values with ParamTable::store";
      return false;
    }
    Tensor copy = Tensor::copyOf(value);
    if (copy.empty()) {
      error = "out of memory storing parameter " + std::string(program.params[index].name);
      return false;
    }
    // A simulated device's memory is host memory: the copy is its value.
    if (device >= 0)
      copy = Tensor(*copy.view(), copy.owner(), device);
    std::lock_guard<std::mutex> lock(mutex);
    values[index] = std::move(copy);
    written.insert(index);
    return true;
  }
  bool store(int index, Tensor value, std::string &error) override {
    if (index < 0 || index >= program.numParams) {
      error = "no parameter " + std::to_string(index);
      return false;
    }
    Tensor placed = onDevice(value, device, error);
    if (placed.empty() && !value.empty())
      return false;
    std::lock_guard<std::mutex> lock(mutex);
    values[index] = std::move(placed);
    written.insert(index);
    return true;
  }
  /// Shares `value` as parameter `index` (no copy when it is on this
  /// table's device). A stage's table takes only the values it has loaded:
  /// the others it would load from the main table when first read, and
  /// keeping every value would put the whole model (and optimizer state) on
  /// every stage's device.
  bool share(int index, const Tensor &value, std::string &error) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (fallback && values[index].empty())
        return true;
    }
    return put(index, value, error);
  }
  /// Parameter `index`'s value in host memory (loaded first if need be).
  Tensor hostValue(int index, std::string &error) {
    if (!get(index, error))
      return Tensor();
    return onHost(values[index], error);
  }
  const Tensor &value(int index) const { return values[index]; }
  /// The indices of the values this table holds, as an i64 tensor.
  Tensor loadedIndices() {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<int64_t> loaded;
    for (int i = 0; i < program.numParams; ++i)
      if (!values[i].empty())
        loaded.push_back(i);
    int64_t n = static_cast<int64_t>(loaded.size());
    Tensor t = Tensor::allocate(GP_I64, 1, &n);
    if (!t.empty() && n > 0)
      std::memcpy(t.view()->data, loaded.data(), n * sizeof(int64_t));
    return t;
  }
  /// Holds `value` as parameter `index` from now on (on this table's device).
  bool put(int index, const Tensor &value, std::string &error) {
    Tensor placed = onDevice(value, device, error);
    if (placed.empty() && !value.empty())
      return false;
    std::lock_guard<std::mutex> lock(mutex);
    values[index] = std::move(placed);
    return true;
  }
  /// Gives up parameter `index`'s value (empty when it holds none).
  Tensor release(int index) {
    std::lock_guard<std::mutex> lock(mutex);
    Tensor out;
    std::swap(out, values[index]);
    return out;
  }
  /// The parameters set since the last call.
  std::set<int> takeWritten() {
    std::lock_guard<std::mutex> lock(mutex);
    std::set<int> out;
    out.swap(written);
    return out;
  }

private:
  bool load(int index, std::string &error) {
    if (fallback && owned.count(index)) {
      Tensor held = fallback->release(index);
      if (!held.empty()) {
        values[index] = onDevice(held, device, error);
        return !values[index].empty();
      }
    } else if (fallback) {
      const gp_tensor *v = fallback->get(index, error);
      if (!v)
        return false;
      values[index] = onDevice(fallback->value(index), device, error);
      return !values[index].empty();
    }
    const ParamSpec &p = program.params[index];
    Tensor t = Tensor::allocate(p.dtype, p.rank, p.dims);
    if (t.empty()) {
      error = std::string("out of memory loading parameter ") + p.name;
      return false;
    }
    if (p.zeroInit || !p.initializer)
      std::memset(t.view()->data, 0, t.bytes());
    else if (!weights.read(p.initializer, *t.view(), error))
      return false;
    values[index] = onDevice(t, device, error);
    return !values[index].empty();
  }

  const Program &program;
  const OnnxWeights &weights;
  Params *fallback;
  std::vector<Tensor> values;
  std::set<int> written, owned;
  std::mutex mutex;
  int device = -1;
};

struct Options {
  std::map<std::string, std::string> data, evalData;
  std::string labels, evalLabels, save, saveParams, log, checkpoint, resume, trace, profile,
      model;
  long long steps = 0, epochs = 0, logEvery = 1, checkpointEvery = 0;
  bool shuffle = false, progress = true, serializeStages = false;
  unsigned seed = 0;
  int threads = 0;
};

bool parse(int argc, char **argv, const Program &program, Options &o, std::string &error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    auto number = [&](long long &out, long long min) {
      std::string text;
      if (!value(text))
        return false;
      char *end = nullptr;
      out = std::strtoll(text.c_str(), &end, 10);
      if (*end || out < min) {
        error = arg + " needs an integer of at least " + std::to_string(min) + ", got '" + text +
                "'";
        return false;
      }
      return true;
    };
    std::string text;
    long long n = 0;
    if (arg == "--data" || arg == "--eval-data") {
      if (!value(text))
        return false;
      auto &into = arg == "--data" ? o.data : o.evalData;
      size_t eq = text.find('=');
      if (eq != std::string::npos && text.find(".npy") > eq)
        into[text.substr(0, eq)] = text.substr(eq + 1);
      else
        into[""] = text;
    } else if (arg == "--labels") {
      if (!value(o.labels))
        return false;
    } else if (arg == "--eval-labels") {
      if (!value(o.evalLabels))
        return false;
    } else if (arg == "--steps") {
      if (!number(o.steps, 1))
        return false;
    } else if (arg == "--epochs") {
      if (!number(o.epochs, 1))
        return false;
    } else if (arg == "--log-every") {
      if (!number(o.logEvery, 1))
        return false;
    } else if (arg == "--seed") {
      if (!number(n, 0))
        return false;
      o.seed = static_cast<unsigned>(n);
    } else if (arg == "--threads") {
      if (!number(n, 1))
        return false;
      o.threads = static_cast<int>(n);
    } else if (arg == "--shuffle") {
      o.shuffle = true;
    } else if (arg == "--save") {
      if (!value(o.save))
        return false;
    } else if (arg == "--save-params") {
      if (!value(o.saveParams))
        return false;
    } else if (arg == "--log") {
      if (!value(o.log))
        return false;
    } else if (arg == "--checkpoint") {
      if (!value(o.checkpoint))
        return false;
    } else if (arg == "--checkpoint-every") {
      if (!number(o.checkpointEvery, 1))
        return false;
    } else if (arg == "--resume") {
      if (!value(o.resume))
        return false;
    } else if (arg == "--trace") {
      if (!value(o.trace))
        return false;
    } else if (arg == "--profile") {
      if (!value(o.profile))
        return false;
    } else if (arg == "--model") {
      if (!value(o.model))
        return false;
    } else if (arg == "--serialize-stages") {
      o.serializeStages = true;
    } else if (arg == "--no-progress") {
      o.progress = false;
    } else {
      error = "unknown option '" + arg + "' (--help lists them)";
      return false;
    }
  }
  if ((o.steps > 0) == (o.epochs > 0)) {
    error = "give one of --steps N and --epochs E";
    return false;
  }
  if (o.checkpointEvery > 0 && o.checkpoint.empty()) {
    error = "--checkpoint-every needs --checkpoint DIR";
    return false;
  }
  if (o.evalData.empty() != o.evalLabels.empty()) {
    error = "evaluation needs both --eval-data and --eval-labels";
    return false;
  }
  if (!o.evalData.empty() && program.evalFunction < 0) {
    error = "this program has no evaluation function";
    return false;
  }
  if (!o.profile.empty() &&
      std::none_of(program.functions, program.functions + program.numFunctions,
                   [](const FunctionSpec &f) { return f.numOps > 0; })) {
    error = "--profile needs a program built with op timing (gpipe-compile without "
            "--time-ops=false)";
    return false;
  }
  return true;
}

/// The data rows: one array per loss-function input.
struct Data {
  std::vector<Tensor> arrays;
  int64_t rows = -1;
};

bool loadData(const Program &program, const std::map<std::string, std::string> &files,
              const std::string &labels, Data &data, std::string &error) {
  int plainInputs = 0;
  for (int i = 0; i < program.numInputs; ++i)
    plainInputs += !program.inputs[i].isLabels && !program.inputs[i].isRandom;
  for (auto &[name, file] : files)
    if (name.empty() ? plainInputs != 1 : false) {
      error = "the model has " + std::to_string(plainInputs) +
              " inputs: name each with --data NAME=FILE.npy";
      return false;
    }
  for (int i = 0; i < program.numInputs; ++i) {
    const InputSpec &in = program.inputs[i];
    if (in.isRandom) {
      data.arrays.emplace_back(); // Made per micro-batch: no data.
      continue;
    }
    std::string file;
    if (in.isLabels) {
      file = labels;
      if (file.empty()) {
        error = "missing --labels FILE.npy";
        return false;
      }
    } else {
      auto it = files.find(in.name);
      if (it == files.end())
        it = files.find("");
      if (it == files.end()) {
        error = std::string("missing --data for input '") + in.name + "'";
        return false;
      }
      file = it->second;
    }
    gp_tensor t{};
    if (gp_npy_read(file.c_str(), &t) != GP_OK) {
      error = gp_last_error();
      return false;
    }
    // Integer labels or ids saved narrower than the model's i64 (MNIST's
    // uint8 labels) are widened; floats must match.
    if (gp_npy_widen(&t, in.dtype) != GP_OK) {
      gp_free(t.data);
      error = gp_last_error();
      return false;
    }
    Tensor array = Tensor::adopt(t);
    bool shaped = t.dtype == in.dtype && t.rank == in.rank;
    for (int32_t d = 1; shaped && d < in.rank; ++d)
      shaped = t.dims[d] == in.dims[d];
    if (!shaped) {
      error = "'" + file + "' holds " + shapeText(t.dtype, t.rank, t.dims) + "; '" + in.name +
              "' needs rows shaped like " + shapeText(in.dtype, in.rank, in.dims) +
              " (rows on dimension 0)";
      return false;
    }
    if (data.rows >= 0 && data.rows != t.dims[0]) {
      error = "'" + file + "' has " + std::to_string(t.dims[0]) + " rows, the other data " +
              std::to_string(data.rows);
      return false;
    }
    data.rows = t.dims[0];
    data.arrays.push_back(std::move(array));
  }
  return true;
}

/// Rows `order[first..first+count)` of every array, as micro-batch `part`
/// of step `step` (the dropout stream's input, if any, is [step, part]).
std::vector<Tensor> gather(const Program &program, const Data &data,
                           const std::vector<int64_t> &order, int64_t first,
                           long long step = 0, int part = 0) {
  std::vector<Tensor> out;
  for (int i = 0; i < program.numInputs; ++i) {
    const InputSpec &in = program.inputs[i];
    Tensor t = Tensor::allocate(in.dtype, in.rank, in.dims);
    if (in.isRandom) {
      auto *stream = static_cast<int64_t *>(t.view()->data);
      stream[0] = step;
      stream[1] = part;
      out.push_back(std::move(t));
      continue;
    }
    size_t rowBytes = t.bytes() / in.dims[0];
    for (int64_t r = 0; r < in.dims[0]; ++r)
      std::memcpy(static_cast<char *>(t.view()->data) + r * rowBytes,
                  static_cast<const char *>(data.arrays[i].view()->data) +
                      order[first + r] * rowBytes,
                  rowBytes);
    out.push_back(std::move(t));
  }
  return out;
}

double scalarOf(const Tensor &t) {
  return t.view()->dtype == GP_F32 ? *static_cast<const float *>(t.view()->data)
                                   : *static_cast<const double *>(t.view()->data);
}

/// The engine's view of the program's stages.
PipelinePlan planOf(const Program &program) {
  PipelinePlan plan;
  plan.stages = program.stages;
  plan.microBatches = program.microBatches;
  for (int s = 0; s < program.stages; ++s) {
    const StageSpec &spec = program.stageSpecs[s];
    plan.programs.emplace_back(spec.actions, spec.actions + spec.numActions);
    PipelineStage info;
    bool first = true;
    for (bool keeping : {false, true}) {
      int32_t fwdIndex = keeping ? spec.forwardKeep : spec.forward;
      int32_t bwdIndex = keeping ? spec.backwardKeep : spec.backward;
      if (fwdIndex < 0 || bwdIndex < 0)
        continue;
      const FunctionSpec &fwd = program.functions[fwdIndex], &bwd = program.functions[bwdIndex];
      StagePair &pair = keeping ? info.keeping : info.recomputing;
      pair.present = true;
      for (int32_t r = 0; r < fwd.numResults; ++r) {
        const ValueSpec &v = fwd.results[r];
        if (v.role == Role::Kept)
          ++pair.numKept;
        else if (first)
          info.returns.emplace_back(v.returns, v.returns + v.numReturns);
      }
      if (first)
        for (int32_t a = 0; a < fwd.numArgs; ++a)
          info.sources.emplace_back(fwd.args[a].a, fwd.args[a].b);
      first = false;
      for (int32_t a = 0; a < bwd.numArgs; ++a)
        if (bwd.args[a].role == Role::GradOfOutput)
          pair.gradOfOutput.push_back(bwd.args[a].a);
      for (int32_t r = 0; r < bwd.numResults; ++r) {
        const ValueSpec &v = bwd.results[r];
        StagePair::Result result;
        if (v.role == Role::ParamGrad)
          result.param = program.params[v.a].name;
        else {
          result.stage = v.a;
          result.index = v.b;
        }
        pair.results.push_back(result);
      }
    }
    plan.stageInfo.push_back(std::move(info));
  }
  return plan;
}

/// Calls `fn` in `ctx`; with an accelerator, on the context's device (the
/// arguments are moved there first).
bool callFunction(const FunctionSpec &fn, FunctionContext &ctx,
                  const std::vector<Tensor> &args, std::vector<Tensor> &results,
                  std::string &error, Accelerator *accelerator) {
  if (static_cast<int32_t>(args.size()) != fn.numArgs) {
    error = std::string(fn.name) + " takes " + std::to_string(fn.numArgs) + " arguments, got " +
            std::to_string(args.size());
    return false;
  }
  std::vector<Tensor> placed;
  if (accelerator) {
    if (!accelerator->enter(ctx, error))
      return false;
    int device = accelerator->deviceOf(ctx);
    for (const Tensor &t : args) {
      placed.push_back(onDevice(t, device, error));
      if (placed.back().empty() && !t.empty())
        return false;
    }
  }
  std::vector<const gp_tensor *> views;
  for (const Tensor &t : accelerator ? placed : args)
    views.push_back(t.view());
  results.assign(fn.numResults, Tensor());
  gp_status status = GP_ERROR;
  try {
    status = fn.fn(ctx, views.data(), results.data());
  } catch (const std::bad_alloc &) {
    // The function's arena (a std::vector on the CPU) or a kernel's scratch
    // buffer; tensors that cannot be allocated are reported by the function.
    ctx.error = "out of memory (its arena is " + std::to_string(fn.arenaBytes) +
                " bytes; its kernels take scratch memory besides)";
  }
  if (status != GP_OK) {
    error = std::string(fn.name) + ": " + ctx.error;
    return false;
  }
  return true;
}

bool ensureDir(const std::string &dir, std::string &error) {
  std::string partial;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      if (!partial.empty() && mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST) {
        error = "cannot create directory '" + partial + "'";
        return false;
      }
    }
    if (i < dir.size())
      partial += dir[i];
  }
  return true;
}

/// Runs the evaluation function over `data` in chunks of its batch size
/// (the last one padded with the first row) and counts the rows whose
/// highest score is their label.
bool evaluate(const Program &program, const Data &data, FunctionContext &ctx,
              Accelerator *accelerator, int64_t &correct, std::string &error) {
  const FunctionSpec &eval = program.functions[program.evalFunction];
  const ValueSpec &scores = eval.results[0];
  if (scores.rank != 2) {
    error = "accuracy needs [rows, classes] scores; the model's first output is " +
            shapeText(scores.dtype, scores.rank, scores.dims);
    return false;
  }
  int64_t rows = scores.dims[0], classes = scores.dims[1];
  size_t labelsIndex = 0;
  for (int i = 0; i < program.numInputs; ++i)
    if (program.inputs[i].isLabels)
      labelsIndex = i;
  const Tensor &labels = data.arrays[labelsIndex];
  for (int64_t first = 0; first < data.rows; first += rows) {
    std::vector<int64_t> order(rows);
    for (int64_t r = 0; r < rows; ++r)
      order[r] = first + r < data.rows ? first + r : 0;
    std::vector<Tensor> batch = gather(program, data, order, 0), args, results;
    for (int i = 0; i < program.numInputs; ++i)
      if (!program.inputs[i].isLabels && !program.inputs[i].isRandom)
        args.push_back(batch[i]);
    if (!callFunction(eval, ctx, args, results, error, accelerator))
      return false;
    Tensor hostScores = onHost(results[0], error);
    if (hostScores.empty())
      return false;
    const gp_tensor &s = *hostScores.view();
    for (int64_t r = 0; r < rows && first + r < data.rows; ++r) {
      int64_t best = 0;
      auto at = [&](int64_t c) {
        return s.dtype == GP_F32 ? static_cast<const float *>(s.data)[r * classes + c]
                                 : static_cast<const double *>(s.data)[r * classes + c];
      };
      for (int64_t c = 1; c < classes; ++c)
        if (at(c) > at(best))
          best = c;
      const gp_tensor &l = *labels.view();
      int64_t label = l.dtype == GP_I64 ? static_cast<const int64_t *>(l.data)[first + r]
                                        : static_cast<const int32_t *>(l.data)[first + r];
      correct += best == label;
    }
  }
  return true;
}

/// What ran when, per stage, for a Chrome trace (chrome://tracing,
/// Perfetto): one row per stage, one box per forward/backward and update.
class Trace {
public:
  explicit Trace(bool enabled) : enabled(enabled), origin(std::chrono::steady_clock::now()) {}
  double now() const {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - origin)
        .count();
  }
  void record(int row, std::string name, double start, double end, long long step) {
    if (!enabled)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back({row, std::move(name), start, end, step});
  }
  bool write(const std::string &path, int stages, std::string &error) const {
    std::FILE *f = std::fopen(path.c_str(), "w");
    if (!f) {
      error = "cannot write '" + path + "'";
      return false;
    }
    std::fprintf(f, "{\"traceEvents\": [\n");
    for (int s = 0; s <= stages; ++s)
      std::fprintf(f,
                   "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 0, \"tid\": %d, "
                   "\"args\": {\"name\": \"%s\"}},\n",
                   s, s < stages ? ("stage " + std::to_string(s)).c_str() : "optimizer update");
    for (size_t i = 0; i < events.size(); ++i) {
      const Event &e = events[i];
      std::fprintf(f,
                   "{\"name\": \"%s\", \"ph\": \"X\", \"pid\": 0, \"tid\": %d, \"ts\": "
                   "%.3f, \"dur\": %.3f, \"args\": {\"step\": %lld}}%s\n",
                   e.name.c_str(), e.row, e.start, e.end - e.start, e.step,
                   i + 1 < events.size() ? "," : "");
    }
    std::fprintf(f, "]}\n");
    if (std::fclose(f) != 0) {
      error = "cannot write '" + path + "'";
      return false;
    }
    return true;
  }

private:
  struct Event {
    int row;
    std::string name;
    double start, end;
    long long step;
  };
  bool enabled;
  std::chrono::steady_clock::time_point origin;
  std::vector<Event> events;
  std::mutex mutex;
};

/// An OpProfile sized for `program`: an entry per function, one per op.
OpProfile emptyProfile(const Program &program) {
  OpProfile p;
  p.seconds.resize(program.numFunctions);
  for (int32_t f = 0; f < program.numFunctions; ++f)
    p.seconds[f].assign(program.functions[f].numOps, 0.0);
  return p;
}

/// The profile's times in one f64 tensor (to send to rank 0), and back.
Tensor flatten(const OpProfile &p) {
  std::vector<double> all;
  for (const std::vector<double> &f : p.seconds)
    all.insert(all.end(), f.begin(), f.end());
  int64_t n = static_cast<int64_t>(all.size());
  Tensor t = Tensor::allocate(GP_F64, 1, &n);
  if (!t.empty() && n > 0)
    std::memcpy(t.view()->data, all.data(), n * sizeof(double));
  return t;
}
bool addFlat(OpProfile &p, const Tensor &t) {
  size_t total = 0;
  for (const std::vector<double> &f : p.seconds)
    total += f.size();
  if (t.empty() || t.view()->dtype != GP_F64 ||
      gp_numel(t.view()) != static_cast<int64_t>(total))
    return false;
  const double *v = static_cast<const double *>(t.view()->data);
  for (std::vector<double> &f : p.seconds)
    for (double &x : f)
      x += *v++;
  return true;
}

std::string jsonString(const char *s) {
  std::string out = "\"";
  for (; *s; ++s) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

/// Writes the profile in the format the cost model reads
/// (`gpipe-partition profile=`): per ONNX node, in the order the program
/// lists its ops, the milliseconds its forward ops, gradient ops and
/// recomputed forward ops took per micro-batch (the compiled functions'
/// batch), averaged over the `steps` steps profiled, of
/// `program.microBatches` micro-batches each. Ops without a node (the loss)
/// are left out.
bool writeProfile(std::FILE *f, const Program &program, const std::vector<OpProfile> &profiles,
                  long long steps, std::string &error) {
  struct Node {
    double forward = 0, backward = 0, recompute = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Node> nodes;
  // The ops no ONNX node names (the compiler's own: the loss and its
  // gradient, sums of gradients): reported apart, as the cost model reads
  // "ops" by node.
  Node unattributed;
  for (int32_t fn = 0; fn < program.numFunctions; ++fn) {
    const FunctionSpec &spec = program.functions[fn];
    for (int32_t i = 0; i < spec.numOps; ++i) {
      const OpSpec &op = spec.ops[i];
      Node *node = &unattributed;
      if (op.node) {
        auto [it, inserted] = nodes.try_emplace(op.node);
        if (inserted)
          order.push_back(op.node);
        node = &it->second;
      }
      double seconds = 0;
      for (const OpProfile &p : profiles)
        seconds += p.seconds[fn][i];
      (op.phase == OpPhase::Forward    ? node->forward
       : op.phase == OpPhase::Backward ? node->backward
                                       : node->recompute) += seconds;
    }
  }
  int64_t micro = program.numInputs ? program.inputs[0].dims[0] : 1;
  double calls = static_cast<double>(std::max(1LL, steps)) * program.microBatches;
  std::fprintf(f,
               "{\"steps\": %lld, \"micro_batches\": %d, \"micro_batch_size\": %lld,\n"
               " \"ops\": [\n",
               steps, program.microBatches, static_cast<long long>(micro));
  for (size_t i = 0; i < order.size(); ++i) {
    const Node &n = nodes[order[i]];
    std::fprintf(f,
                 "  {\"name\": %s, \"forward_ms\": %.6g, \"backward_ms\": %.6g, "
                 "\"recompute_ms\": %.6g}%s\n",
                 jsonString(order[i].c_str()).c_str(), n.forward * 1e3 / calls,
                 n.backward * 1e3 / calls, n.recompute * 1e3 / calls,
                 i + 1 < order.size() ? "," : "");
  }
  std::fprintf(f,
               "],\n \"unattributed\": {\"forward_ms\": %.6g, \"backward_ms\": %.6g, "
               "\"recompute_ms\": %.6g}}\n",
               unattributed.forward * 1e3 / calls, unattributed.backward * 1e3 / calls,
               unattributed.recompute * 1e3 / calls);
  if (std::ferror(f)) {
    error = "cannot write the profile";
    return false;
  }
  return true;
}

/// A one-line progress bar on a terminal (stderr), redrawn in place.
void drawProgress(long long step, long long steps, double loss, double samplesPerSecond) {
  constexpr int kWidth = 30;
  int filled = static_cast<int>(kWidth * step / steps);
  std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld loss %.4f %.0f samples/s", filled,
               "==============================", kWidth - filled, "", step, steps, loss,
               samplesPerSecond);
  if (step == steps)
    std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

} // namespace

namespace {
Accelerator *defaultAccelerator = nullptr;
}

void gp::setDefaultAccelerator(Accelerator *accelerator) { defaultAccelerator = accelerator; }

std::unique_ptr<Transport> gp::Accelerator::transport(std::unique_ptr<Transport> inner,
                                                       const std::vector<int> &,
                                                       std::string &) {
  return inner;
}

void gp::preferPassiveOpenMP(char **argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // Still here: the exec failed. Run as is, and say so in the environment.
  unsetenv("OMP_WAIT_POLICY");
}

namespace {
/// Whether the environment tunes glibc's malloc itself.
bool mallocTunedByEnvironment() {
  return std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
         std::getenv("GLIBC_TUNABLES");
}

/// glibc unmaps a freed block above its mmap threshold and trims the heap's
/// top above its trim threshold, so a step that allocates the same results
/// as the step before faults their pages in again (the CPU benchmark's LM:
/// 109-114 ms a step against 97-100 ms with the memory kept). Unless the
/// environment tunes malloc, blocks up to glibc's largest threshold (32 MB
/// on 64-bit) come from the heap and the heap is never trimmed: the
/// process keeps its peak, as a GPU caching allocator does.
void keepHostMemory() {
#ifdef __GLIBC__
  if (mallocTunedByEnvironment())
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}
} // namespace

int gp::trainerMain(const Program &program, int argc, char **argv, Accelerator *accelerator) {
  keepHostMemory();
  const FunctionSpec &lossFn = program.functions[program.lossFunction];
  int64_t micro = program.numInputs ? program.inputs[0].dims[0] : 1;
  int64_t batch = micro * program.microBatches;
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf(kUsage, argv[0], program.stages, program.microBatches, program.schedule,
                  program.recompute, static_cast<long long>(batch));
      if (const char *policy = std::getenv("OMP_WAIT_POLICY"))
        std::printf("OMP_WAIT_POLICY=%s (a CPU trainer sets passive unless OMP_WAIT_POLICY or "
                    "GOMP_SPINCOUNT is set)\n",
                    policy);
      else
        std::printf("OMP_WAIT_POLICY unset: libgomp's default waiting\n");
#ifdef __GLIBC__
      std::printf(mallocTunedByEnvironment()
                      ? "malloc: as the environment tunes it (MALLOC_MMAP_THRESHOLD_, "
                        "MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES)\n"
                      : "malloc: freed blocks up to 32 MB stay in the heap and the heap is never "
                        "trimmed (set MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or "
                        "GLIBC_TUNABLES to choose)\n");
#endif
      return 0;
    }
  Options o;
  std::string error;
  if (!parse(argc, argv, program, o, error))
    return fail(error);
  if (!accelerator)
    accelerator = defaultAccelerator;
  if (std::strcmp(program.target, "cpu") != 0 && !accelerator)
    return fail(std::string("this program was compiled for ") + program.target +
                " but runs without a device (link it with its target's trainer)");
  // Under mpirun: stage r on rank r; rank 0 leads (update, output, files).
  Mpi mpi;
  bool distributed = Mpi::launched();
  if (distributed) {
    if (!mpi.init(argc, argv, error))
      return ::fail(error);
    if (mpi.size() != program.stages) {
      if (mpi.rank() == 0)
        ::fail("mpirun started " + std::to_string(mpi.size()) + " ranks for a program of " +
               std::to_string(program.stages) + " stages; run mpirun -np " +
               std::to_string(program.stages));
      mpi.abort();
    }
  }
  bool leader = !distributed || mpi.rank() == 0;
  if (distributed && accelerator && !accelerator->setProcess(mpi.rank(), mpi.localRank(), error))
    return ::fail(error);
  auto fail = [&](const std::string &message) {
    int rc = ::fail(distributed ? "rank " + std::to_string(mpi.rank()) + ": " + message : message);
    if (distributed)
      mpi.abort();
    return rc;
  };
  // Each stage thread gets an equal share of the cores (--threads: per stage).
  int hardware = static_cast<int>(std::thread::hardware_concurrency());
  int perStage = o.threads > 0 ? o.threads : std::max(1, hardware / program.stages);
  Data data, evalData;
  if (!loadData(program, o.data, o.labels, data, error))
    return fail(error);
  if (!o.evalData.empty() && !loadData(program, o.evalData, o.evalLabels, evalData, error))
    return fail(error);
  if (data.rows < batch)
    return fail("the data has " + std::to_string(data.rows) + " rows, fewer than one batch of " +
                std::to_string(batch));
  // The initial parameters: the model the program was compiled from, or
  // --model's, which must hold every initializer the program reads with the
  // type and shape it was compiled for (checked now, not at first use).
  OnnxWeights weights;
  std::string modelPath = !o.model.empty() ? o.model : program.modelPath ? program.modelPath : "";
  if (!modelPath.empty() && !weights.load(modelPath, error))
    return fail(o.model.empty() ? error + " (the model this program was compiled from; --model "
                                          "names another)"
                                : error);
  if (!o.model.empty())
    for (int i = 0; i < program.numParams; ++i) {
      const ParamSpec &p = program.params[i];
      if (p.initializer &&
          !weights.check(p.initializer, p.dtype, p.rank, p.dims, error))
        return fail("--model " + o.model + ": " + error);
    }
  if (leader && !o.saveParams.empty() && !ensureDir(o.saveParams, error))
    return fail(error);
  std::FILE *log = nullptr;
  if (leader && !o.log.empty() && !(log = std::fopen(o.log.c_str(), "w")))
    return fail("cannot write '" + o.log + "'");
  std::FILE *profileFile = nullptr;
  if (leader && !o.profile.empty() && !(profileFile = std::fopen(o.profile.c_str(), "w")))
    return fail("cannot write '" + o.profile + "'");
  // Every output path is tried before training, so a bad one costs no
  // training time: the trace file is created now and written at the end,
  // the checkpoint directory is created and a file tried in it.
  if (!o.save.empty() && o.save.size() > 8 &&
      o.save.compare(o.save.size() - 8, 8, ".onnxtxt") == 0)
    return fail("--save writes a binary ONNX model; name it FILE.onnx, not '" + o.save + "'");
  if (leader && !o.save.empty()) {
    // The model is written to FILE.tmp and renamed; try that name now.
    std::string probe = o.save + ".tmp";
    std::FILE *f = std::fopen(probe.c_str(), "w");
    if (!f)
      return fail("cannot write '" + o.save + "'");
    std::fclose(f);
    std::remove(probe.c_str());
  }
  if (leader && !o.trace.empty()) {
    std::FILE *f = std::fopen(o.trace.c_str(), "w");
    if (!f)
      return fail("cannot write '" + o.trace + "'");
    std::fclose(f);
  }
  if (leader && !o.checkpoint.empty()) {
    std::string probe = o.checkpoint + "/checkpoint.bin.tmp";
    std::FILE *f = nullptr;
    if (!ensureDir(o.checkpoint, error) || !(f = std::fopen(probe.c_str(), "w")))
      return fail(error.empty() ? "cannot write checkpoints to '" + o.checkpoint + "'" : error);
    std::fclose(f);
    std::remove(probe.c_str());
  }

  Params main(program, weights);
  std::vector<std::unique_ptr<Params>> stageParams;
  std::vector<FunctionContext> contexts(program.stages);
  // The optimizer update and the evaluation run with the main parameters.
  FunctionContext updateCtx;
  updateCtx.params = &main;
  // --profile: each stage times its ops into its own profile (from the
  // first step it times on; see the loop).
  std::vector<OpProfile> profiles;
  if (!o.profile.empty())
    profiles.assign(program.stages, emptyProfile(program));
  for (int s = 0; s < program.stages; ++s) {
    stageParams.push_back(std::make_unique<Params>(program, weights, &main));
    contexts[s].params = stageParams.back().get();
  }
  // A split update (gpipe-split-update): each stage updates the parameters
  // only it reads, with their optimizer state, in its own table on its own
  // device (under mpirun: its rank), which alone holds them; the shared
  // update runs on the main table (rank 0's).
  bool splitUpdate = program.stageUpdateFunctions != nullptr;
  // Under mpirun, the values other ranks' stages hold, gathered (to the
  // host) for a checkpoint or the files.
  std::map<int, Tensor> gathered;
  // The stage whose table holds parameter i's current value (-1: main's).
  auto holder = [&](int i) {
    if (!splitUpdate)
      return -1;
    int32_t owner = program.paramOwner[i];
    return owner >= 0 ? owner : owner <= -2 ? -2 - owner : -1;
  };
  if (splitUpdate)
    for (int i = 0; i < program.numParams; ++i)
      if (program.paramOwner[i] >= 0)
        stageParams[program.paramOwner[i]]->own(i);
  // With a split update, the parameters whose gradients the shared update
  // takes (under mpirun, the only ones rank 0 needs from the others).
  std::set<int64_t> sharedArgs;
  if (splitUpdate && program.sharedUpdateFunction >= 0) {
    const FunctionSpec &shared = program.functions[program.sharedUpdateFunction];
    for (int32_t a = 0; a < shared.numArgs; ++a)
      sharedArgs.insert(shared.args[a].a);
  }
  auto current = [&](int i) -> const Tensor & {
    int s = holder(i);
    if (s >= 0 && distributed && s != mpi.rank()) {
      auto it = gathered.find(i);
      return it != gathered.end() ? it->second : main.value(i);
    }
    return s >= 0 && !stageParams[s]->value(i).empty() ? stageParams[s]->value(i)
                                                       : main.value(i);
  };
  // A device program: each local stage's context on its device, the main
  // parameters on the update's device; released whenever training ends.
  struct Detach {
    Accelerator *accelerator;
    ~Detach() {
      if (accelerator)
        accelerator->detach();
    }
  } detach{accelerator};
  if (accelerator) {
    for (int s = 0; s < program.stages; ++s) {
      if (distributed && s != mpi.rank())
        continue;
      if (!accelerator->attach(s, contexts[s], error))
        return fail(error);
      stageParams[s]->placeOn(accelerator->deviceOf(contexts[s]));
    }
    if (leader) {
      if (!accelerator->attach(-1, updateCtx, error))
        return fail(error);
      main.placeOn(accelerator->deviceOf(updateCtx));
    }
    if (leader)
      std::printf("%s\n", accelerator->describe().c_str());
  }
  PipelinePlan plan = planOf(program);
  plan.threadsPerStage = perStage;
  if (accelerator)
    plan.stallSeconds = accelerator->stallSeconds();
  gp_cpu_set_num_threads(o.threads > 0 ? o.threads : hardware);
  std::string planError = checkPipelinePlan(plan);
  if (!planError.empty())
    return fail("the compiled program is inconsistent: " + planError);
  // The seeds of the loss function's other float results (the outputs
  // beside the loss) are zeros at every step: made once, on the device of
  // the stage that returns them, not allocated, cleared and uploaded per
  // step (a language model's logits are hundreds of MB).
  std::vector<Tensor> zeroSeeds(lossFn.numResults);
  for (int32_t r = 1; r < lossFn.numResults; ++r) {
    const ValueSpec &v = lossFn.results[r];
    if (v.dtype != GP_F32 && v.dtype != GP_F64)
      continue;
    Tensor seed = Tensor::allocate(v.dtype, v.rank, v.dims);
    if (seed.empty())
      return fail("out of memory for the gradient seed of result " + std::to_string(r));
    std::memset(seed.view()->data, 0, seed.bytes());
    int holder = -1;
    for (int s = 0; s < program.stages && holder < 0; ++s)
      for (const std::vector<int64_t> &positions : plan.stageInfo[s].returns)
        if (std::find(positions.begin(), positions.end(), r) != positions.end())
          holder = s;
    bool local = holder >= 0 && (!distributed || holder == mpi.rank());
    if (accelerator && local) {
      seed = onDevice(seed, accelerator->deviceOf(contexts[holder]), error);
      if (seed.empty())
        return fail(error);
    }
    zeroSeeds[r] = std::move(seed);
  }
  Trace trace(!o.trace.empty());
  long long currentStep = 0;
  // --serialize-stages: one stage function at a time. The lock covers the
  // call alone (its arguments have arrived; sends and receives happen
  // outside), so no stage waits for a message while holding it; a CUDA
  // function waits for its stream before it returns, so the span is its
  // work alone.
  std::mutex serialCalls;
  StageRunner runner = [&](int s, bool keeping, bool backward, int mb,
                           const std::vector<Tensor> &args, std::vector<Tensor> &results,
                           std::string &why) {
    const StageSpec &spec = program.stageSpecs[s];
    int32_t index = keeping ? (backward ? spec.backwardKeep : spec.forwardKeep)
                            : (backward ? spec.backward : spec.forward);
    std::unique_lock<std::mutex> serial(serialCalls, std::defer_lock);
    if (o.serializeStages)
      serial.lock();
    double begin = trace.now();
    bool ok = callFunction(program.functions[index], contexts[s], args, results, why, accelerator);
    double end = trace.now();
    if (serial.owns_lock())
      serial.unlock();
    trace.record(s,
                 std::string(backward ? (keeping ? "backward" : "recompute+backward")
                                      : "forward") +
                     " " + std::to_string(mb),
                 begin, end, currentStep);
    if (ok)
      return true;
    why = "stage " + std::to_string(s) + ", micro-batch " + std::to_string(mb) + ": " + why;
    return false;
  };

  long long steps = o.steps > 0 ? o.steps : o.epochs * (data.rows / batch);
  std::vector<int64_t> order(data.rows);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(o.seed);
  auto shuffle = [&] {
    if (o.shuffle)
      std::shuffle(order.begin(), order.end(), rng);
  };
  int64_t cursor = 0;
  long long firstStep = 1;
  if (!o.resume.empty()) {
    // Continue exactly where the checkpoint left off.
    Checkpoint ckpt;
    if (!readCheckpoint(o.resume, program, ckpt, error))
      return fail(error);
    if (static_cast<int64_t>(ckpt.order.size()) != data.rows)
      return fail("the checkpoint in '" + o.resume + "' was written for data of " +
                  std::to_string(ckpt.order.size()) + " rows, not " + std::to_string(data.rows));
    for (int i = 0; i < program.numParams; ++i) {
      if (ckpt.values[i].empty())
        continue;
      // A stage's own value goes straight to its table (its device), on the
      // rank that runs the stage.
      int owner = splitUpdate ? program.paramOwner[i] : -1;
      if (owner >= 0 && distributed && owner != mpi.rank())
        continue;
      if (!(owner >= 0 ? stageParams[owner]->put(i, ckpt.values[i], error)
                       : main.share(i, ckpt.values[i], error)))
        return fail(error);
    }
    order = ckpt.order;
    cursor = ckpt.cursor;
    std::istringstream(ckpt.rngState) >> rng;
    firstStep = ckpt.step + 1;
    if (leader)
      std::printf("resumed from '%s' at step %lld\n", o.resume.c_str(), ckpt.step);
  } else {
    shuffle();
  }
  auto saveCheckpoint = [&](long long step) {
    Checkpoint ckpt;
    ckpt.step = step;
    ckpt.cursor = cursor;
    ckpt.order = order;
    std::ostringstream state;
    state << rng;
    ckpt.rngState = state.str();
    for (int i = 0; i < program.numParams; ++i) {
      ckpt.values.push_back(onHost(current(i), error));
      if (ckpt.values.back().empty() && !current(i).empty())
        return false;
    }
    return writeCheckpoint(o.checkpoint, program, ckpt, error);
  };
  bool progress = leader && o.progress && isatty(fileno(stderr));
  std::unique_ptr<Transport> transport = distributed ? mpi.transport() : nullptr;
  std::vector<int> localStages;
  if (distributed)
    localStages.push_back(mpi.rank());
  else
    for (int s = 0; s < program.stages; ++s)
      localStages.push_back(s);
  if (accelerator) {
    if (!transport)
      transport = makeQueueTransport(program.stages);
    transport = accelerator->transport(std::move(transport), localStages, error);
    if (!transport)
      return fail(error);
  }
  std::map<std::string, int> paramIndex;
  for (int i = 0; i < program.numParams; ++i)
    paramIndex[program.params[i].name] = i;
  enum Tag {
    kStored = 10,
    kGrads = 11,
    kLosses = 12,
    kUpdated = 13,
    kProfile = 14,
    kLoaded = 15,
    kHeld = 16
  };
  // Under mpirun with a split update: every rank sends rank 0 the values its
  // stage holds (for a checkpoint or the files), which rank 0 keeps on the
  // host apart from its tables.
  // `modelOnly`: the model's parameters (for the files), not the optimizer
  // state a checkpoint needs too.
  auto gatherHeld = [&](bool modelOnly) {
    if (!distributed || !splitUpdate)
      return true;
    if (!leader) {
      TaggedTensors held;
      for (int i = 0; i < program.numParams; ++i)
        if (holder(i) == mpi.rank() && !stageParams[mpi.rank()]->value(i).empty() &&
            (!modelOnly || program.params[i].initializer))
          held.emplace_back(i, stageParams[mpi.rank()]->value(i));
      return mpi.sendTensors(0, kHeld, held, error);
    }
    gathered.clear();
    for (int r = 1; r < program.stages; ++r) {
      TaggedTensors theirs;
      if (!mpi.recvTensors(r, kHeld, theirs, error))
        return false;
      for (auto &[index, value] : theirs)
        if (index >= 0 && index < program.numParams && holder(static_cast<int>(index)) == r)
          gathered[static_cast<int>(index)] = value;
    }
    return true;
  };
  // Per rank, the parameters its stage holds: rank 0 sends it only those
  // after an update.
  std::vector<std::set<int64_t>> loadedBy(program.stages);
  const FunctionSpec &update = program.functions[program.updateFunction];
  auto start = std::chrono::steady_clock::now();
  // The first step run warms up (arenas, caches, thread pools) and is not
  // profiled, unless it is the only one.
  long long profiledFrom = steps > firstStep ? firstStep + 1 : firstStep;
  for (long long step = firstStep; step <= steps; ++step) {
    currentStep = step;
    bool checkpointNow = !o.checkpoint.empty() &&
                         ((o.checkpointEvery > 0 && step % o.checkpointEvery == 0) || step == steps);
    if (step == profiledFrom && !profiles.empty())
      for (int s = 0; s < program.stages; ++s)
        contexts[s].profile = &profiles[s];
    // Whole batches only; a new epoch starts (reshuffled) when one does not fit.
    if (cursor + batch > data.rows) {
      cursor = 0;
      shuffle();
    }
    std::vector<std::vector<Tensor>> inputs, seeds(program.microBatches);
    for (int mb = 0; mb < program.microBatches; ++mb)
      inputs.push_back(gather(program, data, order, cursor + mb * micro, step, mb));
    cursor += batch;
    // Each micro-batch's share of the mini-batch's loss: 1/M, or (a mean
    // over kept or weighted labels) its share of the label weight, which
    // every rank computes (the leader reports the loss, the loss's stage
    // seeds it).
    std::vector<double> share(program.microBatches,
                              program.lossIsSum ? 1.0 : 1.0 / program.microBatches);
    if (program.lossWeightFunction >= 0) {
      FunctionContext &weightCtx = distributed ? contexts[mpi.rank()] : updateCtx;
      double total = 0;
      for (int mb = 0; mb < program.microBatches; ++mb) {
        std::vector<Tensor> results;
        OpProfile *profile = std::exchange(weightCtx.profile, nullptr); // Not a stage's op.
        bool ok = callFunction(program.functions[program.lossWeightFunction], weightCtx,
                               inputs[mb], results, error, accelerator);
        weightCtx.profile = profile;
        if (!ok)
          return fail("step " + std::to_string(step) + ": " + error);
        Tensor weight = onHost(results[0], error);
        if (weight.empty())
          return fail("step " + std::to_string(step) + ": " + error);
        share[mb] = scalarOf(weight);
        total += share[mb];
      }
      // Labels that are all ignored (or weigh 0): the loss and its gradient
      // are 0, as the kernels make them for the unpipelined step.
      for (double &s : share)
        s = total > 0 ? s / total : 0.0;
    }
    for (int mb = 0; mb < program.microBatches; ++mb)
      for (int32_t r = 0; r < lossFn.numResults; ++r) {
        const ValueSpec &v = lossFn.results[r];
        if (r > 0 || (v.dtype != GP_F32 && v.dtype != GP_F64)) {
          seeds[mb].push_back(zeroSeeds[r]); // Read only: shared by every micro-batch.
          continue;
        }
        // The mini-batch's loss is the micro-batch losses weighted by share.
        Tensor seed = Tensor::allocate(v.dtype, v.rank, v.dims);
        std::memset(seed.view()->data, 0, seed.bytes());
        if (v.dtype == GP_F32)
          *static_cast<float *>(seed.view()->data) = static_cast<float>(share[mb]);
        else
          *static_cast<double *>(seed.view()->data) = share[mb];
        seeds[mb].push_back(std::move(seed));
      }
    PipelineRun run;
    bool ran = runPipeline(plan, runner, inputs, seeds, run, error, transport.get(), localStages);
    if (!ran)
      return fail("step " + std::to_string(step) + ": " + error);
    // The main store sees what the stages stored, the update reads it, and
    // every stage sees what the update stored.
    std::vector<Tensor> losses(program.microBatches);
    for (int mb = 0; mb < program.microBatches; ++mb)
      if (!run.outputs[mb].empty())
        losses[mb] = run.outputs[mb][0];
    // The gradients `fn`'s arguments name.
    auto gradsFor = [&](const FunctionSpec &fn, std::vector<Tensor> &grads) {
      for (int32_t a = 0; a < fn.numArgs; ++a) {
        const char *name = program.params[fn.args[a].a].name;
        auto it = run.paramGrads.find(name);
        if (it == run.paramGrads.end()) {
          error = std::string("no stage produced the gradient of '") + name + "'";
          return false;
        }
        grads.push_back(it->second);
      }
      return true;
    };
    // With a split update, the local stages update their own parameters,
    // at once, each on its stage's thread (its device; the thread its
    // forward and backward ran on, kept from step to step).
    auto updateStages = [&]() {
      std::vector<int> updating;
      std::vector<std::string> errors(program.stages);
      // Every gradient first: a missing one fails before any thread starts.
      std::vector<std::vector<Tensor>> stageGrads(program.stages);
      for (int s : localStages)
        if (program.stageUpdateFunctions[s] >= 0 &&
            !gradsFor(program.functions[program.stageUpdateFunctions[s]], stageGrads[s]))
          return false;
      for (int s : localStages) {
        int32_t index = program.stageUpdateFunctions[s];
        if (index < 0)
          continue;
        updating.push_back(s);
        postToStageThread(s, [&, s, index, grads = std::move(stageGrads[s])] {
          // The update's ops are not the stage's: they stay out of its profile.
          OpProfile *profile = std::exchange(contexts[s].profile, nullptr);
          std::vector<Tensor> nothing;
          gp_cpu_set_num_threads(perStage);
          if (!callFunction(program.functions[index], contexts[s], grads, nothing, errors[s],
                            accelerator) &&
              errors[s].empty())
            errors[s] = "the update failed";
          contexts[s].profile = profile;
        });
      }
      waitForStageThreads(updating);
      for (int s : localStages) {
        if (!errors[s].empty()) {
          error = "stage " + std::to_string(s) + ": " + errors[s];
          return false;
        }
        stageParams[s]->takeWritten(); // Its own values stay in its table.
      }
      return true;
    };
    if (distributed && !leader) {
      // Rank r sends rank 0 what its stage stored, its gradients and (the
      // last stage) the losses, then takes what the update stored. With a
      // split update it keeps (and updates) what its stage holds.
      Params &mine = *stageParams[mpi.rank()];
      TaggedTensors stored, grads, lossValues, updated;
      for (int index : mine.takeWritten())
        if (holder(index) != mpi.rank())
          stored.emplace_back(index, mine.value(index));
      for (auto &[name, grad] : run.paramGrads) {
        int index = paramIndex.at(name);
        if (!splitUpdate || sharedArgs.count(index))
          grads.emplace_back(index, grad);
      }
      if (splitUpdate && !updateStages())
        return fail("step " + std::to_string(step) + ": " + error);
      for (int mb = 0; mb < program.microBatches; ++mb)
        if (!losses[mb].empty())
          lossValues.emplace_back(mb, losses[mb]);
      if (!mpi.sendTensors(0, kStored, stored, error) ||
          !mpi.sendTensors(0, kGrads, grads, error) ||
          (mpi.rank() == program.stages - 1 && !mpi.sendTensors(0, kLosses, lossValues, error)) ||
          !mpi.sendTensors(0, kLoaded, {{0, mine.loadedIndices()}}, error) ||
          !mpi.recvTensors(0, kUpdated, updated, error))
        return fail("step " + std::to_string(step) + ": " + error);
      for (auto &[index, value] : updated)
        if (!mine.share(static_cast<int>(index), value, error))
          return fail(error);
      if (checkpointNow && !gatherHeld(false))
        return fail("step " + std::to_string(step) + ": " + error);
      continue;
    }
    if (distributed) {
      for (int r = 1; r < program.stages; ++r) {
        TaggedTensors stored, grads, lossValues, loaded;
        if (!mpi.recvTensors(r, kStored, stored, error) ||
            !mpi.recvTensors(r, kGrads, grads, error) ||
            (r == program.stages - 1 && !mpi.recvTensors(r, kLosses, lossValues, error)) ||
            !mpi.recvTensors(r, kLoaded, loaded, error))
          return fail("step " + std::to_string(step) + ": " + error);
        if (loaded.size() != 1 || loaded[0].second.view()->dtype != GP_I64)
          return fail("step " + std::to_string(step) + ": a malformed message from rank " +
                      std::to_string(r));
        const int64_t *held = static_cast<const int64_t *>(loaded[0].second.view()->data);
        loadedBy[r] = std::set<int64_t>(held, held + gp_numel(loaded[0].second.view()));
        for (auto &[index, value] : stored)
          if (!main.share(static_cast<int>(index), value, error))
            return fail(error);
        for (auto &[index, grad] : grads)
          if (!accumulate(run.paramGrads[program.params[index].name], grad, error))
            return fail(error);
        for (auto &[mb, value] : lossValues)
          losses[mb] = value;
      }
    }
    // What the stages stored (batch norm's statistics) reaches the main
    // table, but for a value a stage's own update takes from there.
    for (auto &sp : stageParams)
      for (int index : sp->takeWritten())
        if (holder(index) < 0 && !main.share(index, sp->value(index), error))
          return fail(error);
    std::vector<Tensor> none;
    double updateStart = trace.now();
    if (splitUpdate) {
      if (!updateStages())
        return fail("step " + std::to_string(step) + ": " + error);
      if (program.sharedUpdateFunction >= 0) {
        std::vector<Tensor> grads;
        const FunctionSpec &shared = program.functions[program.sharedUpdateFunction];
        if (!gradsFor(shared, grads) ||
            !callFunction(shared, updateCtx, grads, none, error, accelerator))
          return fail("step " + std::to_string(step) + ": " + error);
      }
    } else {
      std::vector<Tensor> grads;
      if (!gradsFor(update, grads) ||
          !callFunction(update, updateCtx, grads, none, error, accelerator))
        return fail("step " + std::to_string(step) + ": " + error);
    }
    trace.record(program.stages, "update", updateStart, trace.now(), step);
    TaggedTensors updated;
    for (int index : main.takeWritten()) {
      // Only the stages that run here read their tables (a remote stage's
      // would cost a device-to-host copy for nothing).
      for (int s : localStages)
        if (!stageParams[s]->share(index, main.value(index), error))
          return fail(error);
      updated.emplace_back(index, main.value(index));
    }
    if (distributed)
      for (int r = 1; r < program.stages; ++r) {
        TaggedTensors theirs;
        for (auto &[index, value] : updated)
          if (loadedBy[r].count(index))
            theirs.emplace_back(index, value);
        if (!mpi.sendTensors(r, kUpdated, theirs, error))
          return fail("step " + std::to_string(step) + ": " + error);
      }
    double loss = 0;
    for (int mb = 0; mb < program.microBatches; ++mb) {
      Tensor value = onHost(losses[mb], error);
      if (value.empty())
        return fail("step " + std::to_string(step) + ": " + error);
      loss += share[mb] * scalarOf(value);
    }
    if (!std::isfinite(loss))
      return fail("the loss is " + std::to_string(loss) + " at step " + std::to_string(step) +
                  "; lower the learning rate");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double samplesPerSecond = seconds > 0 ? (step - firstStep + 1) * batch / seconds : 0;
    if (step % o.logEvery == 0 || step == steps)
      std::printf("step %lld/%lld: loss %.6f\n", step, steps, loss);
    if (progress)
      drawProgress(step, steps, loss, samplesPerSecond);
    if (checkpointNow && (!gatherHeld(false) || !saveCheckpoint(step)))
      return fail(error);
    if (log)
      std::fprintf(log, "{\"step\": %lld, \"loss\": %.9g, \"samples_per_s\": %.3f}\n", step, loss,
                   samplesPerSecond);
  }
  std::fflush(stdout);
  // The op times of every stage reach rank 0.
  if (distributed && !profiles.empty()) {
    if (!leader) {
      TaggedTensors mine{{mpi.rank(), flatten(profiles[mpi.rank()])}};
      if (!mpi.sendTensors(0, kProfile, mine, error))
        return fail(error);
    } else {
      for (int r = 1; r < program.stages; ++r) {
        TaggedTensors theirs;
        if (!mpi.recvTensors(r, kProfile, theirs, error))
          return fail(error);
        if (theirs.size() != 1 || !addFlat(profiles[r], theirs[0].second))
          return fail("a malformed op profile from rank " + std::to_string(r));
      }
    }
  }
  // The files and the evaluation are the leader's (with the values the
  // other ranks' stages hold).
  if ((!o.save.empty() || !o.saveParams.empty() || !o.evalData.empty()) && !gatherHeld(true))
    return fail(error);
  if (!leader)
    return 0;
  if (log && std::fclose(log) != 0)
    return fail("cannot write '" + o.log + "'");
  if (!o.trace.empty() && !trace.write(o.trace, program.stages, error))
    return fail(error);
  if (profileFile) {
    bool written = writeProfile(profileFile, program, profiles,
                                steps >= profiledFrom ? steps - profiledFrom + 1 : 0, error);
    if (std::fclose(profileFile) != 0 || !written)
      return fail("cannot write '" + o.profile + "'");
  }
  // Every parameter with an initializer: the trained values.
  std::map<std::string, const gp_tensor *> trained;
  std::vector<Tensor> hostValues;
  hostValues.reserve(program.numParams);
  for (int i = 0; i < program.numParams; ++i) {
    const ParamSpec &p = program.params[i];
    if (!p.initializer)
      continue;
    hostValues.push_back(current(i).empty() ? main.hostValue(i, error)
                                            : onHost(current(i), error));
    if (hostValues.back().empty())
      return fail(error);
    const gp_tensor *value = hostValues.back().view();
    trained[p.initializer] = value;
    if (!o.saveParams.empty()) {
      std::string file = p.initializer;
      for (char &c : file)
        if (c == '/' || c == '\\' || c == ':')
          c = '_';
      std::string path = o.saveParams + "/" + file + ".npy";
      if (gp_npy_write(path.c_str(), value) != GP_OK)
        return fail(gp_last_error());
    }
  }
  if (!o.save.empty()) {
    if (!weights.save(o.save, trained, error))
      return fail(error);
    std::printf("saved %zu trained initializers to %s\n", trained.size(), o.save.c_str());
  }
  if (!o.evalData.empty()) {
    // The evaluation reads the main table: the stages' own model parameters
    // join it (not their optimizer state, which it does not read).
    if (splitUpdate)
      for (int i = 0; i < program.numParams; ++i)
        if (program.params[i].initializer && holder(i) >= 0 && &current(i) != &main.value(i) &&
            !main.share(i, current(i), error))
          return fail(error);
    int64_t correct = 0;
    if (!evaluate(program, evalData, updateCtx, accelerator, correct, error))
      return fail(error);
    std::printf("accuracy: %.4f (%lld of %lld)\n", double(correct) / evalData.rows,
                static_cast<long long>(correct), static_cast<long long>(evalData.rows));
  }
  return 0;
}
