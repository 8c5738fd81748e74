//===- Training.cpp - gpipe-run's training loop ---------------------------===//

#include "Training.h"

#include "gpipe/Execution/PipelineExecutor.h"
#include "gpipe/Import/WeightReader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>

using namespace mlir;
using namespace mlir::gpipe;

namespace gpiperun {
namespace {
int fail(const llvm::Twine &msg) {
  llvm::errs() << "gpipe-run: error: " << msg << "\n";
  return 1;
}

/// Storage for a batch, a seed or the loss: gpipe-run's allocations outside
/// the interpreter, which reports its own. When memory runs out, one error
/// line and exit status 1.
HostTensor allocateOrExit(RankedTensorType type) {
  std::string error;
  FailureOr<HostTensor> t = HostTensor::allocate(type, &error);
  if (failed(t)) {
    fail(error);
    std::exit(1);
  }
  return std::move(*t);
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// A whole data set: one array per function argument, rows on dimension 0
/// (but the dropout stream's argument, which takes no data).
struct DataSet {
  std::vector<HostTensor> arrays;
  std::vector<RankedTensorType> batchTypes;
  int64_t rows = 0;
  /// The argument (`gpipe.rng`) the executor fills with [step, micro-batch]
  /// for training-mode dropout; -1: none.
  int rngArgument = -1;
};

/// Binds every argument of `func` to an array of `files` (by `gpipe.name`)
/// whose rows have the argument's shape past dimension 0.
std::optional<std::string> loadDataSet(func::FuncOp func,
                                       const llvm::StringMap<std::string> &files,
                                       DataSet &data) {
  FunctionType type = func.getFunctionType();
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    if (func.getArgAttr(i, "gpipe.rng")) {
      data.rngArgument = static_cast<int>(i);
      continue;
    }
    auto name = func.getArgAttrOfType<StringAttr>(i, "gpipe.name");
    auto argType = cast<RankedTensorType>(type.getInput(i));
    std::string argName = name ? name.str() : "arg" + std::to_string(i);
    auto it = files.find(argName);
    if (it == files.end())
      return "missing data for '" + argName + "' (" + typeString(argType) + ", rows on dimension 0)";
    gp_tensor t;
    if (gp_npy_read(it->second.c_str(), &t) != GP_OK)
      return std::string(gp_last_error());
    // Integer labels or ids saved narrower than i64 are widened (the
    // compiled trainer's rule); floats must match.
    if (auto want = dtypeFor(argType.getElementType()))
      if (gp_npy_widen(&t, *want) != GP_OK) {
        gp_free(t.data);
        return std::string(gp_last_error());
      }
    HostTensor array = HostTensor::adopt(t);
    bool ok = argType.getRank() >= 1 && t.rank == argType.getRank() &&
              dtypeFor(argType.getElementType()) == t.dtype;
    for (int32_t d = 1; ok && d < t.rank; ++d)
      ok = t.dims[d] == argType.getDimSize(d);
    if (!ok || t.dims[0] < argType.getDimSize(0))
      return "'" + argName + "' needs rows shaped like " + typeString(argType) +
             " (at least one batch of " + std::to_string(argType.getDimSize(0)) + "), got " +
             describeTensor(t) + " from " + it->second;
    if (data.rows && data.rows != t.dims[0])
      return "'" + argName + "' has " + std::to_string(t.dims[0]) + " rows, the other data " +
             std::to_string(data.rows);
    data.rows = t.dims[0];
    data.arrays.push_back(std::move(array));
    data.batchTypes.push_back(argType);
  }
  return std::nullopt;
}

/// The rows `order[first..first+B)` of every array (repeating row order[0]
/// past the end), as one batch.
std::vector<HostTensor> gatherBatch(const DataSet &data, const std::vector<int64_t> &order,
                                    int64_t first) {
  std::vector<HostTensor> batch;
  for (auto [array, type] : llvm::zip(data.arrays, data.batchTypes)) {
    HostTensor t = allocateOrExit(type);
    size_t rowBytes = t.bytes() / type.getDimSize(0);
    for (int64_t r = 0; r < type.getDimSize(0); ++r) {
      int64_t pos = first + r < (int64_t)order.size() ? order[first + r] : order[0];
      std::memcpy(static_cast<char *>(t.data()) + r * rowBytes,
                  static_cast<const char *>(array.view()->data) + pos * rowBytes, rowBytes);
    }
    batch.push_back(std::move(t));
  }
  return batch;
}

/// gatherBatch with the dropout stream's argument, when the function has
/// one: [step, part] (the step number and the micro-batch).
std::vector<HostTensor> trainingBatch(const DataSet &data, const std::vector<int64_t> &order,
                                      int64_t first, int64_t step, int64_t part) {
  std::vector<HostTensor> batch = gatherBatch(data, order, first);
  if (data.rngArgument >= 0) {
    HostTensor rng = allocateOrExit(
        RankedTensorType::get({2}, IntegerType::get(data.batchTypes.front().getContext(), 64)));
    static_cast<int64_t *>(rng.data())[0] = step;
    static_cast<int64_t *>(rng.data())[1] = part;
    batch.insert(batch.begin() + data.rngArgument, std::move(rng));
  }
  return batch;
}

int evaluate(func::FuncOp eval, const TrainingOptions &options, ParamStore &params) {
  DataSet data;
  llvm::StringMap<std::string> files = options.evalInputs;
  if (auto error = loadDataSet(eval, files, data))
    return fail("eval: " + *error);
  gp_tensor labels;
  if (gp_npy_read(options.evalLabelsFile.c_str(), &labels) != GP_OK)
    return fail(gp_last_error());
  if (gp_npy_widen(&labels, GP_I64) != GP_OK) {
    gp_free(labels.data);
    return fail(gp_last_error());
  }
  HostTensor ownedLabels = HostTensor::adopt(labels);
  if ((labels.dtype != GP_I64 && labels.dtype != GP_I32) || labels.rank != 1 ||
      labels.dims[0] != data.rows)
    return fail("eval labels must be " + std::to_string(data.rows) +
                " integer class indices, got " + describeTensor(labels));
  int64_t batch = data.batchTypes.front().getDimSize(0), correct = 0;
  std::vector<int64_t> order(data.rows);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t first = 0; first < data.rows; first += batch) {
    auto results = interpret(eval, gatherBatch(data, order, first), params);
    if (failed(results))
      return 1;
    const gp_tensor &scores = *results->front().view();
    if (scores.rank != 2 || scores.dtype != GP_F32 || scores.dims[0] != batch)
      return fail("eval: accuracy needs [batch, classes] f32 scores, got " +
                  describeTensor(scores));
    const float *s = static_cast<const float *>(scores.data);
    for (int64_t r = 0; r < batch && first + r < data.rows; ++r) {
      int64_t best = std::max_element(s + r * scores.dims[1], s + (r + 1) * scores.dims[1]) -
                     (s + r * scores.dims[1]);
      int64_t want = labels.dtype == GP_I64 ? static_cast<const int64_t *>(labels.data)[first + r]
                                            : static_cast<const int32_t *>(labels.data)[first + r];
      correct += best == want;
    }
  }
  llvm::outs() << llvm::formatv("eval: accuracy {0:f2}% ({1}/{2})\n",
                                100.0 * correct / data.rows, correct, data.rows);
  return 0;
}

double relativeError(const gp_tensor &got, const gp_tensor &want) {
  double num = 0, den = 0;
  for (int64_t i = 0, n = gp_numel(&got); i < n; ++i) {
    double a = got.dtype == GP_F32 ? static_cast<const float *>(got.data)[i]
                                   : static_cast<const double *>(got.data)[i];
    double b = want.dtype == GP_F32 ? static_cast<const float *>(want.data)[i]
                                    : static_cast<const double *>(want.data)[i];
    num += (a - b) * (a - b);
    den += b * b;
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

/// Compares `got` with the .npy `file`; prints the relative error.
bool expectClose(StringRef what, const gp_tensor &got, const std::string &file, double limit,
                 bool &ok) {
  gp_tensor want;
  if (gp_npy_read(file.c_str(), &want) != GP_OK) {
    fail(gp_last_error());
    return false;
  }
  HostTensor owned = HostTensor::adopt(want);
  bool sameShape = gp_numel(&got) == gp_numel(&want) && want.dtype == got.dtype &&
                   (got.dtype == GP_F32 || got.dtype == GP_F64);
  if (!sameShape) {
    fail(what + " is " + describeTensor(got) + ", the reference " + file + " is " +
         describeTensor(want));
    return false;
  }
  double err = relativeError(got, want);
  bool pass = err <= limit;
  ok &= pass;
  llvm::outs() << llvm::formatv("{0}: relative error {1:e2} (limit {2:e0}){3}\n", what, err,
                                limit, pass ? "" : ": FAIL");
  return true;
}

int save(ModuleOp module, ParamStore &params, StringRef dest) {
  auto source = module->getAttrOfType<StringAttr>("gpipe.source");
  if (!source)
    return fail("--save needs a module imported from ONNX (no gpipe.source attribute)");
  llvm::StringMap<StringRef> values;
  for (auto param : module.getOps<ParamOp>()) {
    const HostTensor *value = params.lookup(param.getSymName());
    if (!value || !param.getInitializer())
      continue;
    if (param.getFile() != source.getValue())
      return fail("--save: parameter '" + param.getSymName().str() + "' comes from another file");
    values[*param.getInitializer()] =
        StringRef(static_cast<const char *>(value->view()->data), value->bytes());
  }
  std::string error;
  if (!writeModelWithInitializers(source.getValue(), dest, values, error))
    return fail(error);
  llvm::outs() << "saved " << values.size() << " trained initializers to " << dest << "\n";
  return 0;
}
} // namespace

/// What pipelined training needs: the loss function (whose stages run under
/// the schedule), the update function, a parameter store per stage, and the
/// trained parameters' names.
struct Pipelined {
  func::FuncOp lossFn, update;
  /// The label weight of a micro-batch (gpipe-build-training's
  /// `@<step>_loss_weight`) when the loss is a mean over kept or weighted
  /// labels; null for a plain mean.
  func::FuncOp lossWeight;
  Schedule schedule;
  std::vector<ParamStore> stores;
  /// What the update function stores (the trained parameters, optimizer
  /// state, deferred batch norm statistics), copied to every stage after
  /// the update.
  std::vector<std::string> updated;
  /// Per stage: the state its forward stores (batch norms' running
  /// statistics or their per-mini-batch sums), copied to the main store
  /// before the update.
  std::vector<std::vector<std::string>> stored;
  /// gpipe-split-update's per-stage updates (null for a stage without one)
  /// and the shared one; when any stage has one, they replace `update`.
  std::vector<func::FuncOp> stageUpdates;
  func::FuncOp sharedUpdate;
};

/// The gradients `update`'s arguments name (gpipe.param), from `grads`.
static FailureOr<std::vector<HostTensor>>
gradientsFor(func::FuncOp update, const std::map<std::string, HostTensor> &grads,
             std::string &error) {
  std::vector<HostTensor> args;
  for (unsigned a = 0; a < update.getNumArguments(); ++a) {
    std::string name =
        update.getArgAttrOfType<FlatSymbolRefAttr>(a, "gpipe.param").getValue().str();
    auto it = grads.find(name);
    if (it == grads.end()) {
      error = "no stage produced the gradient of '" + name + "'";
      return failure();
    }
    args.push_back(it->second);
  }
  return args;
}

/// The parameters (and state) `fn` stores.
static std::vector<std::string> storedBy(func::FuncOp fn) {
  std::vector<std::string> names;
  fn.walk([&](SetParamOp set) { names.push_back(set.getName().str()); });
  return names;
}

/// One pipelined training step over `micro` (M micro-batches): the loss
/// function's stages under the schedule, the loss of each micro-batch seeded
/// with its share of the mini-batch (1/M, or its share of the label weight),
/// then the update function once. Returns the mini-batch's loss.
FailureOr<HostTensor> pipelinedStep(ModuleOp module, Pipelined &p,
                                    const std::vector<std::vector<HostTensor>> &micro,
                                    ParamStore &params, std::string &error) {
  int m = p.schedule.microBatches;
  // A sum over the batch is the sum of the micro-batch sums.
  std::vector<double> share(m, p.lossFn->hasAttr("gpipe.loss_sum") ? 1.0 : 1.0 / m);
  if (p.lossWeight) {
    double total = 0;
    for (int mb = 0; mb < m; ++mb) {
      auto weight = interpret(p.lossWeight, micro[mb], params);
      if (failed(weight))
        return failure();
      const gp_tensor &w = *weight->front().view();
      share[mb] = w.dtype == GP_F32 ? *static_cast<const float *>(w.data)
                                    : *static_cast<const double *>(w.data);
      total += share[mb];
    }
    // Labels that are all ignored (or weigh 0): the loss and its gradient
    // are 0, as the kernels make them for the unpipelined step.
    for (double &s : share)
      s = total > 0 ? s / total : 0.0;
  }
  // The seeds of the outputs beside the loss are zeros: one tensor each,
  // shared (read only) by the micro-batches.
  std::vector<HostTensor> zeros;
  for (auto [i, t] : llvm::enumerate(p.lossFn.getFunctionType().getResults())) {
    auto type = cast<RankedTensorType>(t);
    zeros.emplace_back();
    if (i == 0 || !isa<FloatType>(type.getElementType()))
      continue;
    zeros.back() = allocateOrExit(type);
    std::memset(zeros.back().data(), 0, zeros.back().bytes());
  }
  std::vector<std::vector<HostTensor>> seeds(m);
  for (int mb = 0; mb < m; ++mb)
    for (auto [i, t] : llvm::enumerate(p.lossFn.getFunctionType().getResults())) {
      auto type = cast<RankedTensorType>(t);
      if (i > 0 || !isa<FloatType>(type.getElementType())) {
        seeds[mb].push_back(zeros[i]);
        continue;
      }
      // The mini-batch's loss is the micro-batch losses weighted by share.
      HostTensor seed = allocateOrExit(type);
      std::memset(seed.data(), 0, seed.bytes());
      if (type.getElementType().isF32())
        *static_cast<float *>(seed.data()) = static_cast<float>(share[mb]);
      else
        *static_cast<double *>(seed.data()) = share[mb];
      seeds[mb].push_back(std::move(seed));
    }
  FailureOr<PipelineResult> result =
      runPipeline(module, p.lossFn.getSymName(), p.schedule, micro, seeds, p.stores, error);
  if (failed(result))
    return failure();
  // The main store sees the state the stages stored.
  for (size_t s = 0; s < p.stores.size(); ++s)
    for (const std::string &name : p.stored[s])
      if (const HostTensor *value = p.stores[s].lookup(name))
        params.set(name, *value);
  bool split = llvm::any_of(p.stageUpdates, [](func::FuncOp fn) { return bool(fn); });
  if (split) {
    // Each stage updates its own parameters in its store (the main store
    // gets a copy, for evaluation and the output files, but for what the
    // shared update stores itself: replicated state such as Adam's step
    // count, which each update advances on its own copy), then the shared
    // update runs on the main store and every stage sees what it stored.
    llvm::StringSet<> sharedStores;
    if (p.sharedUpdate)
      for (const std::string &name : storedBy(p.sharedUpdate))
        sharedStores.insert(name);
    for (size_t s = 0; s < p.stageUpdates.size(); ++s) {
      func::FuncOp fn = p.stageUpdates[s];
      if (!fn)
        continue;
      auto grads = gradientsFor(fn, result->paramGrads, error);
      if (failed(grads) || failed(interpret(fn, std::move(*grads), p.stores[s])))
        return failure();
      for (const std::string &name : storedBy(fn))
        if (!sharedStores.contains(name))
          if (const HostTensor *value = p.stores[s].lookup(name))
            params.set(name, *value);
    }
    if (p.sharedUpdate) {
      auto grads = gradientsFor(p.sharedUpdate, result->paramGrads, error);
      if (failed(grads) || failed(interpret(p.sharedUpdate, std::move(*grads), params)))
        return failure();
      for (const std::string &name : storedBy(p.sharedUpdate))
        if (const HostTensor *value = params.lookup(name))
          for (ParamStore &store : p.stores)
            store.set(name, *value);
    }
  } else {
    // The update reads the main store, and every stage sees what it stored.
    auto grads = gradientsFor(p.update, result->paramGrads, error);
    if (failed(grads) || failed(interpret(p.update, std::move(*grads), params)))
      return failure();
    for (const std::string &name : p.updated)
      if (const HostTensor *value = params.lookup(name))
        for (ParamStore &store : p.stores)
          store.set(name, *value);
  }
  // The mean loss.
  HostTensor loss = allocateOrExit(
      cast<RankedTensorType>(p.lossFn.getFunctionType().getResult(0)));
  double sum = 0;
  for (int mb = 0; mb < m; ++mb) {
    const gp_tensor &l = *result->outputs[mb][0].view();
    sum += share[mb] * (l.dtype == GP_F32 ? *static_cast<const float *>(l.data)
                                          : *static_cast<const double *>(l.data));
  }
  if (loss.view()->dtype == GP_F32)
    *static_cast<float *>(loss.data()) = static_cast<float>(sum);
  else
    *static_cast<double *>(loss.data()) = sum;
  return loss;
}

int runTraining(ModuleOp module, const TrainingOptions &options, ParamStore &params) {
  auto step = module.lookupSymbol<func::FuncOp>(options.stepFunction);
  if (!step)
    return fail("the module has no training step @" + options.stepFunction);
  llvm::StringMap<std::string> files = options.inputs;
  if (!options.labelsFile.empty()) {
    files[options.labelName] = options.labelsFile;
  } else {
    // The labels argument (none with --loss output, unless the model takes
    // one, which --input may feed).
    for (unsigned i = 0; i < step.getNumArguments(); ++i)
      if (auto name = step.getArgAttrOfType<StringAttr>(i, "gpipe.name"))
        if (name.getValue() == options.labelName && !files.count(options.labelName))
          return fail("training needs --labels FILE.npy");
  }
  DataSet data;
  if (auto error = loadDataSet(step, files, data))
    return fail(*error);
  int64_t micro = data.batchTypes.front().getDimSize(0);
  int64_t microBatches = options.stages > 0 ? options.microBatches : 1;
  int64_t batch = micro * microBatches;
  if (data.rows < batch)
    return fail(llvm::formatv("the data has {0} rows, fewer than one batch of {1}", data.rows,
                              batch)
                    .str());
  Pipelined pipelined;
  if (options.stages > 0) {
    pipelined.lossFn = module.lookupSymbol<func::FuncOp>(options.stepFunction + "_loss");
    pipelined.update = module.lookupSymbol<func::FuncOp>(options.stepFunction + "_update");
    pipelined.lossWeight =
        module.lookupSymbol<func::FuncOp>(options.stepFunction + "_loss_weight");
    if (!pipelined.lossFn || !pipelined.update)
      return fail("pipelined training needs @" + options.stepFunction + "_loss and @" +
                  options.stepFunction + "_update (gpipe-build-training pipeline-functions)");
    // The schedule is the one the IR spells out (gpipe-pipeline).
    PipelineOp pipelineOp;
    for (auto op : module.getOps<PipelineOp>())
      if (op.getFunction() == pipelined.lossFn.getSymName())
        pipelineOp = op;
    if (!pipelineOp)
      return fail("pipelined training needs the gpipe.pipeline op of @" +
                  pipelined.lossFn.getSymName().str() + " (gpipe-pipeline)");
    std::string scheduleError;
    FailureOr<Schedule> schedule = scheduleFromIR(pipelineOp, scheduleError);
    if (failed(schedule))
      return fail("gpipe.pipeline: " + scheduleError);
    if (schedule->stages != options.stages || schedule->microBatches != options.microBatches)
      return fail(llvm::formatv("the gpipe.pipeline op has {0} stages and {1} micro-batches, "
                                "not {2} and {3}",
                                schedule->stages, schedule->microBatches, options.stages,
                                options.microBatches)
                      .str());
    pipelined.schedule = std::move(*schedule);
    for (int s = 0; s < options.stages; ++s) {
      pipelined.stores.push_back(options.makeStageStore());
      // Both forwards of a stage store the same state (batch norm's
      // running statistics); the verifier made sure the needed one is named.
      const StageFunctions &fns = pipelined.schedule.functions[s];
      auto forward = module.lookupSymbol<func::FuncOp>(
          fns.forward.empty() ? fns.forwardKeep : fns.forward);
      if (!forward)
        return fail("pipelined training needs the stage functions gpipe-pipeline names");
      std::vector<std::string> names;
      forward.walk([&](SetParamOp set) { names.push_back(set.getName().str()); });
      pipelined.stored.push_back(std::move(names));
      // What recompute=auto chose for the stage.
      auto backward = module.lookupSymbol<func::FuncOp>(fns.backward);
      auto kept = forward->getAttrOfType<IntegerAttr>("gpipe.kept_bytes");
      auto ops = backward ? backward->getAttrOfType<IntegerAttr>("gpipe.recomputed_ops")
                          : IntegerAttr();
      if (kept && ops)
        llvm::outs() << llvm::formatv("stage {0}: keeps {1} bytes of activations per "
                                      "micro-batch, recomputes {2} ops\n",
                                      s, kept.getInt(), ops.getInt());
    }
    pipelined.updated = storedBy(pipelined.update);
    for (int s = 0; s < options.stages; ++s)
      pipelined.stageUpdates.push_back(module.lookupSymbol<func::FuncOp>(
          (options.stepFunction + "_update_stage" + Twine(s)).str()));
    pipelined.sharedUpdate =
        module.lookupSymbol<func::FuncOp>(options.stepFunction + "_update_shared");
  }
  std::vector<int64_t> order(data.rows);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(options.shuffleSeed.value_or(0));
  auto shuffle = [&] {
    if (options.shuffleSeed)
      std::shuffle(order.begin(), order.end(), rng);
  };
  shuffle();
  // Whole batches only; a new epoch starts (reshuffled) when one does not fit.
  int64_t cursor = 0;
  HostTensor lastLoss;
  for (unsigned s = 1; s <= options.steps; ++s) {
    if (cursor + batch > data.rows) {
      cursor = 0;
      shuffle();
    }
    if (options.stages > 0) {
      std::vector<std::vector<HostTensor>> microInputs;
      for (int64_t mb = 0; mb < microBatches; ++mb)
        microInputs.push_back(trainingBatch(data, order, cursor + mb * micro, s, mb));
      cursor += batch;
      std::string error;
      FailureOr<HostTensor> loss = pipelinedStep(module, pipelined, microInputs, params, error);
      if (failed(loss))
        return error.empty() ? 1 : fail(error);
      lastLoss = *loss;
    } else {
      auto results = interpret(step, trainingBatch(data, order, cursor, s, 0), params);
      cursor += batch;
      if (failed(results))
        return 1;
      lastLoss = results->front();
    }
    const gp_tensor &loss = *lastLoss.view();
    double value = loss.dtype == GP_F32 ? *static_cast<const float *>(loss.data)
                                        : *static_cast<const double *>(loss.data);
    if (!std::isfinite(value))
      return fail(llvm::formatv("the loss is {0} at step {1}; lower the learning rate", value, s)
                      .str());
    if (s % options.logEvery == 0 || s == options.steps)
      llvm::outs() << llvm::formatv("step {0}/{1}: loss {2:f6}\n", s, options.steps, value);
  }
  if (!options.evalLabelsFile.empty() || !options.evalInputs.empty()) {
    auto eval = module.lookupSymbol<func::FuncOp>(options.evalFunction);
    if (!eval)
      return fail("the module has no evaluation function @" + options.evalFunction);
    if (options.evalLabelsFile.empty())
      return fail("evaluation needs --eval-labels FILE.npy");
    if (int rc = evaluate(eval, options, params))
      return rc;
  }
  // A parameter's file in a parameters directory: its initializer's name,
  // path separators replaced.
  auto paramPath = [](StringRef dir, ParamOp param) {
    std::string file = param.getInitializer()->str();
    for (char &c : file)
      if (c == '/' || c == '\\' || c == ':')
        c = '_';
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, file + ".npy");
    return path;
  };
  if (!options.outputDir.empty()) {
    llvm::SmallString<256> paramsDir(options.outputDir);
    llvm::sys::path::append(paramsDir, "params");
    if (std::error_code ec = llvm::sys::fs::create_directories(paramsDir))
      return fail("cannot create output directory '" + paramsDir.str().str() +
                  "': " + ec.message());
    llvm::SmallString<256> path(options.outputDir);
    llvm::sys::path::append(path, "loss.npy");
    if (gp_npy_write(path.c_str(), lastLoss.view()) != GP_OK)
      return fail(gp_last_error());
    for (auto param : module.getOps<ParamOp>()) {
      if (!param.getInitializer())
        continue;
      std::string error;
      auto value = params.get(param, error);
      if (failed(value))
        return fail(error);
      if (gp_npy_write(paramPath(paramsDir, param).c_str(), value->view()) != GP_OK)
        return fail(gp_last_error());
    }
  }
  bool ok = true;
  if (!options.expectLossFile.empty() &&
      !expectClose("loss", *lastLoss.view(), options.expectLossFile, options.maxRelError, ok))
    return 1;
  if (!options.expectParamsDir.empty()) {
    unsigned compared = 0;
    for (auto param : module.getOps<ParamOp>()) {
      if (!param.getInitializer())
        continue;
      llvm::SmallString<256> path = paramPath(options.expectParamsDir, param);
      if (!llvm::sys::fs::exists(path))
        continue;
      std::string error;
      auto value = params.get(param, error);
      if (failed(value))
        return fail(error);
      if (!expectClose("param '" + param.getSymName().str() + "'", *value->view(),
                       path.str().str(), options.maxRelError, ok))
        return 1;
      ++compared;
    }
    if (compared == 0)
      return fail("no reference parameter in " + options.expectParamsDir);
  }
  if (!ok)
    return 1;
  if (!options.saveFile.empty())
    return save(module, params, options.saveFile);
  return 0;
}

} // namespace gpiperun
