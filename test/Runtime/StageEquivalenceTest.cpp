//===- StageEquivalenceTest.cpp - outlined stages compose to the model ----===//
//
// gpipe-outline-stages splits a partitioned model into per-stage forward and
// backward functions. Chained stage by stage (forward in order, backward in
// reverse, gradients of a value read by several stages summed, gradients of
// a parameter read on several stages summed), they must give the model's
// output and the same parameter gradients as the unsplit model (K = 1), for
// every K. The model has a skip connection over a stage and a weight tied
// between the first and the last stage.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Execution/Interpreter.h"
#include "gpipe/Execution/PipelineExecutor.h"
#include "gpipe/Transforms/OutlineStages.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>
#include <map>
#include <random>

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr const char *kModel = R"mlir(
gpipe.param @w1 : tensor<16x16xf64> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<16x16xf64> {file = "/m.onnx", initializer = "w2"}
gpipe.param @w3 : tensor<16x16xf64> {file = "/m.onnx", initializer = "w3"}
gpipe.param @b3 : tensor<16xf64> {file = "/m.onnx", initializer = "b3"}
func.func @main(%x: tensor<8x16xf64> {gpipe.name = "x"}) -> (tensor<8x16xf64> {gpipe.name = "y"}, tensor<8x16xf64> {gpipe.name = "h"}) {
  %w1 = gpipe.get_param @w1 : tensor<16x16xf64>
  %0 = gpipe.matmul %x, %w1 : (tensor<8x16xf64>, tensor<16x16xf64>) -> tensor<8x16xf64>
  %1 = gpipe.tanh %0 : tensor<8x16xf64>
  %w2 = gpipe.get_param @w2 : tensor<16x16xf64>
  %2 = gpipe.matmul %1, %w2 : (tensor<8x16xf64>, tensor<16x16xf64>) -> tensor<8x16xf64>
  %3 = gpipe.sigmoid %2 : tensor<8x16xf64>
  %w3 = gpipe.get_param @w3 : tensor<16x16xf64>
  %4 = gpipe.matmul %3, %w3 : (tensor<8x16xf64>, tensor<16x16xf64>) -> tensor<8x16xf64>
  %b3 = gpipe.get_param @b3 : tensor<16xf64>
  %5 = gpipe.add %4, %b3 : (tensor<8x16xf64>, tensor<16xf64>) -> tensor<8x16xf64>
  %6 = gpipe.mul %5, %1 : (tensor<8x16xf64>, tensor<8x16xf64>) -> tensor<8x16xf64>
  %7 = gpipe.tanh %6 : tensor<8x16xf64>
  %w1b = gpipe.get_param @w1 : tensor<16x16xf64>
  %8 = gpipe.matmul %7, %w1b : (tensor<8x16xf64>, tensor<16x16xf64>) -> tensor<8x16xf64>
  return %8, %3 : tensor<8x16xf64>, tensor<8x16xf64>
}
)mlir";

void fillRandom(HostTensor &t, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-0.5, 0.5);
  auto *p = static_cast<double *>(t.data());
  for (int64_t i = 0, n = gp_numel(t.view()); i < n; ++i)
    p[i] = dist(rng);
}

HostTensor randomTensor(RankedTensorType type, unsigned seed) {
  HostTensor t = *HostTensor::allocate(type);
  fillRandom(t, seed);
  return t;
}

HostTensor add(const HostTensor &a, const HostTensor &b, RankedTensorType type) {
  HostTensor out = *HostTensor::allocate(type);
  EXPECT_EQ(gp_cpu_binary(GP_ADD, a.view(), b.view(), out.view()), GP_OK) << gp_last_error();
  return out;
}

double relativeError(const HostTensor &out, const HostTensor &ref) {
  const auto *o = static_cast<const double *>(out.view()->data);
  const auto *r = static_cast<const double *>(ref.view()->data);
  double num = 0, den = 0;
  for (int64_t i = 0, n = gp_numel(ref.view()); i < n; ++i) {
    num += (o[i] - r[i]) * (o[i] - r[i]);
    den += r[i] * r[i];
  }
  return std::sqrt(num) / std::sqrt(den);
}

struct Result {
  std::vector<HostTensor> outputs;
  std::map<std::string, HostTensor> paramGrads;
};

bool randomParam(ParamOp p, HostTensor &dst, std::string &) {
  fillRandom(dst, static_cast<unsigned>(std::hash<std::string>()(p.getSymName().str())));
  return true;
}

/// The model at batch size `batch`, partitioned into `stages` and outlined
/// (`prefix` passes run first; `function` is the one partitioned): every
/// stage has its recomputing pair (`_forward`, `_backward`) and its keeping
/// pair (`_forward_keep`, `_backward_keep`, made by gpipe-pipeline for
/// except-last over 2 micro-batches, which uses both).
OwningOpRef<ModuleOp> outlinedModel(MLIRContext &ctx, int64_t stages, int64_t batch,
                                    std::string prefix = "", std::string function = "main") {
  std::string source = kModel;
  std::string from = "tensor<8x16", to = "tensor<" + std::to_string(batch) + "x16";
  for (size_t pos = 0; (pos = source.find(from, pos)) != std::string::npos; pos += to.size())
    source.replace(pos, from.size(), to);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &ctx);
  EXPECT_TRUE(module);
  PassManager pm(&ctx);
  std::string pipeline = prefix + "gpipe-partition{stages=" + std::to_string(stages) +
                         " function=" + function +
                         " balance=uniform devices=" GPIPE_SOURCE_DIR
                         "/devices/h100-sxm.json},gpipe-outline-stages{function=" +
                         function + "},gpipe-pipeline{function=" + function +
                         " micro-batches=2 recompute=except-last}";
  EXPECT_TRUE(succeeded(parsePassPipeline(pipeline, pm)));
  EXPECT_TRUE(succeeded(pm.run(*module)));
  return module;
}

/// Partitions the model into `stages`, outlines them, and runs the stages
/// as a pipeline of one micro-batch would: forward in stage order, backward
/// in reverse, seeded with `seeds` (one per model output).
Result runStages(MLIRContext &ctx, int64_t stages, const HostTensor &x,
                 const std::vector<HostTensor> &seeds) {
  OwningOpRef<ModuleOp> module = outlinedModel(ctx, stages, 8);
  // Every parameter gets the same random values in every run.
  ParamStore params(randomParam);
  auto lookup = [&](std::string name) {
    auto fn = module->lookupSymbol<func::FuncOp>(name);
    EXPECT_TRUE(fn) << name;
    return fn;
  };

  Result result;
  result.outputs.resize(seeds.size());
  // Forward: stage outputs by (stage, index), and what each stage read.
  std::map<std::pair<int64_t, int64_t>, HostTensor> values;
  std::vector<std::vector<HostTensor>> stageInputs(stages);
  for (int64_t s = 0; s < stages; ++s) {
    func::FuncOp fn = lookup("main_stage" + std::to_string(s) + "_forward");
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto src = fn.getArgAttrOfType<DenseI64ArrayAttr>(i, "gpipe.source");
      stageInputs[s].push_back(src[0] < 0 ? x : values.at({src[0], src[1]}));
    }
    auto outs = interpret(fn, stageInputs[s], params);
    EXPECT_TRUE(succeeded(outs));
    for (unsigned i = 0; i < outs->size(); ++i) {
      values[{s, i}] = (*outs)[i];
      if (auto pos = fn.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.returns"))
        for (int64_t p : pos.asArrayRef())
          result.outputs[p] = (*outs)[i];
    }
  }
  // Backward: gradients arriving for each stage output are summed.
  std::map<std::pair<int64_t, int64_t>, HostTensor> grads;
  auto accumulate = [&](HostTensor &acc, const HostTensor &g, Type type) {
    acc = acc.view()->data ? add(acc, g, cast<RankedTensorType>(type)) : g;
  };
  for (int64_t s = stages - 1; s >= 0; --s) {
    func::FuncOp fwd = lookup("main_stage" + std::to_string(s) + "_forward");
    func::FuncOp bwd = lookup("main_stage" + std::to_string(s) + "_backward");
    std::vector<HostTensor> args = stageInputs[s];
    for (unsigned i = fwd.getNumArguments(); i < bwd.getNumArguments(); ++i) {
      int64_t out = bwd.getArgAttrOfType<IntegerAttr>(i, "gpipe.grad_of_output").getInt();
      HostTensor g;
      if (auto pos = fwd.getResultAttrOfType<DenseI64ArrayAttr>(out, "gpipe.returns"))
        for (int64_t p : pos.asArrayRef())
          accumulate(g, seeds[p], bwd.getArgument(i).getType());
      if (grads.count({s, out}))
        accumulate(g, grads[{s, out}], bwd.getArgument(i).getType());
      EXPECT_TRUE(g.view()->data) << "stage " << s << " output " << out << " gets no gradient";
      args.push_back(g);
    }
    auto outs = interpret(bwd, args, params);
    EXPECT_TRUE(succeeded(outs));
    for (unsigned i = 0; i < outs->size(); ++i) {
      Type type = bwd.getFunctionType().getResult(i);
      if (auto of = bwd.getResultAttrOfType<DenseI64ArrayAttr>(i, "gpipe.grad_of"))
        accumulate(grads[{of[0], of[1]}], (*outs)[i], type);
      else
        accumulate(
            result.paramGrads
                [bwd.getResultAttrOfType<FlatSymbolRefAttr>(i, "gpipe.param").getValue().str()],
            (*outs)[i], type);
    }
  }
  return result;
}

class StageEquivalence : public ::testing::Test {
protected:
  StageEquivalence() : ctx(makeRegistry()) {
    ctx.loadAllAvailableDialects();
    registerGPipePasses();
  }
  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    registry.insert<GPipeDialect, func::FuncDialect>();
    return registry;
  }
  MLIRContext ctx;
};

/// Rows [mb * rows, (mb + 1) * rows) of a row-major f64 tensor.
HostTensor sliceRows(MLIRContext &ctx, const HostTensor &t, int64_t mb, int64_t rows) {
  const gp_tensor *v = t.view();
  SmallVector<int64_t> dims(v->dims, v->dims + v->rank);
  int64_t rowElems = gp_numel(v) / dims[0];
  dims[0] = rows;
  HostTensor out = *HostTensor::allocate(RankedTensorType::get(dims, Float64Type::get(&ctx)));
  std::memcpy(out.data(), static_cast<const double *>(v->data) + mb * rows * rowElems,
              rows * rowElems * sizeof(double));
  return out;
}

TEST_F(StageEquivalence, StagesComposeToTheModelForEveryK) {
  auto type = RankedTensorType::get({8, 16}, Float64Type::get(&ctx));
  HostTensor x = randomTensor(type, 1);
  std::vector<HostTensor> seeds{randomTensor(type, 2), randomTensor(type, 3)};

  Result ref = runStages(ctx, 1, x, seeds);
  ASSERT_EQ(ref.paramGrads.size(), 4u);
  for (int64_t k = 2; k <= 5; ++k) {
    SCOPED_TRACE("stages = " + std::to_string(k));
    Result got = runStages(ctx, k, x, seeds);
    ASSERT_EQ(got.outputs.size(), ref.outputs.size());
    for (size_t i = 0; i < ref.outputs.size(); ++i)
      EXPECT_LT(relativeError(got.outputs[i], ref.outputs[i]), 1e-12) << "output " << i;
    ASSERT_EQ(got.paramGrads.size(), ref.paramGrads.size());
    for (auto &[name, g] : ref.paramGrads) {
      ASSERT_TRUE(got.paramGrads.count(name)) << name;
      EXPECT_LT(relativeError(got.paramGrads[name], g), 1e-12) << name;
    }
  }
}

// Stage threads exchanging messages under every schedule and recompute
// policy: the micro-batches' outputs are the slices of the full batch's, and
// the gradients summed over micro-batches are the full batch's.
TEST_F(StageEquivalence, ThreadedPipelineMatchesTheFullBatch) {
  auto type = RankedTensorType::get({8, 16}, Float64Type::get(&ctx));
  HostTensor x = randomTensor(type, 1);
  std::vector<HostTensor> seeds{randomTensor(type, 2), randomTensor(type, 3)};
  Result ref = runStages(ctx, 1, x, seeds);

  int runs = 0;
  for (int k = 1; k <= 4; ++k)
    for (int m : {1, 2, 4, 8}) {
      OwningOpRef<ModuleOp> module = outlinedModel(ctx, k, 8 / m);
      // A third pair keeps every other activation the backward reads and
      // recomputes the rest, as recompute=auto may choose.
      auto outliner =
          StageOutliner::analyze(*module, module->lookupSymbol<func::FuncOp>("main"), k, "test");
      ASSERT_TRUE(succeeded(outliner));
      std::vector<StageFunctions> partial;
      size_t keptValues = 0;
      for (int s = 0; s < k; ++s) {
        FailureOr<SmallVector<Value>> needed = (*outliner)->activationsNeeded(s);
        ASSERT_TRUE(succeeded(needed));
        SmallVector<Value> keep;
        for (size_t i = 0; i < needed->size(); i += 2)
          keep.push_back((*needed)[i]);
        keptValues += keep.size();
        std::string prefix = "main_stage" + std::to_string(s);
        partial.push_back({prefix + "_forward_part", prefix + "_backward_part", "", ""});
        ASSERT_TRUE(succeeded(
            (*outliner)->build(s, keep, partial.back().forward, partial.back().backward)));
      }
      EXPECT_GT(keptValues, 0u);
      std::vector<std::vector<HostTensor>> inputs(m), grads(m);
      for (int mb = 0; mb < m; ++mb) {
        inputs[mb] = {sliceRows(ctx, x, mb, 8 / m)};
        grads[mb] = {sliceRows(ctx, seeds[0], mb, 8 / m), sliceRows(ctx, seeds[1], mb, 8 / m)};
      }
      for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB})
        for (RecomputePolicy policy : {RecomputePolicy::None, RecomputePolicy::Full,
                                       RecomputePolicy::ExceptLast, RecomputePolicy::Auto}) {
          SCOPED_TRACE(llvm::formatv("K = {0}, M = {1}, {2}, recompute {3}", k, m,
                                     scheduleKindName(kind), recomputePolicyName(policy))
                           .str());
          std::vector<ParamStore> stores(k, ParamStore(randomParam));
          std::string error;
          Schedule schedule = buildSchedule(k, m, kind, policy);
          if (policy == RecomputePolicy::Auto)
            schedule.functions = partial;
          FailureOr<PipelineResult> got =
              runPipeline(*module, "main", schedule, inputs, grads, stores, error);
          ASSERT_TRUE(succeeded(got)) << error;
          ++runs;
          for (int mb = 0; mb < m; ++mb)
            for (size_t i = 0; i < ref.outputs.size(); ++i)
              EXPECT_LT(
                  relativeError(got->outputs[mb][i], sliceRows(ctx, ref.outputs[i], mb, 8 / m)),
                  1e-12);
          ASSERT_EQ(got->paramGrads.size(), ref.paramGrads.size());
          for (auto &[name, g] : ref.paramGrads)
            EXPECT_LT(relativeError(got->paramGrads[name], g), 1e-12) << name;
        }
    }
  EXPECT_EQ(runs, 4 * 4 * 2 * 4);
}

TEST_F(StageEquivalence, PipelineErrorsAreReportedNotHung) {
  OwningOpRef<ModuleOp> module = outlinedModel(ctx, 2, 4);
  auto type = RankedTensorType::get({4, 16}, Float64Type::get(&ctx));
  std::vector<std::vector<HostTensor>> inputs{{randomTensor(type, 1)}, {randomTensor(type, 2)}};
  std::vector<std::vector<HostTensor>> grads{{randomTensor(type, 3), randomTensor(type, 4)},
                                             {randomTensor(type, 5), randomTensor(type, 6)}};
  std::string error;
  // Stage functions for 2 stages, a schedule for 3.
  std::vector<ParamStore> three(3, ParamStore(randomParam));
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(3, 2, ScheduleKind::GPipe, RecomputePolicy::Full),
                                 inputs, grads, three, error)));
  EXPECT_NE(error.find("stage 2 recomputes micro-batch 0 but there is no function "
                       "@main_stage2_forward"),
            std::string::npos)
      << error;

  // Stage functions whose wiring attributes are damaged are refused up front.
  auto fwd1 = module->lookupSymbol<func::FuncOp>("main_stage1_forward");
  auto savedSource = fwd1.getArgAttr(0, "gpipe.source");
  fwd1.setArgAttr(0, "gpipe.source", DenseI64ArrayAttr::get(&ctx, {0, 99}));
  std::vector<ParamStore> two(2, ParamStore(randomParam));
  error.clear();
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(2, 2, ScheduleKind::GPipe, RecomputePolicy::Full),
                                 inputs, grads, two, error)));
  EXPECT_NE(error.find("@main_stage1_forward: argument 0 has no valid gpipe.source"),
            std::string::npos)
      << error;
  fwd1.setArgAttr(0, "gpipe.source", savedSource);
  auto bwd1 = module->lookupSymbol<func::FuncOp>("main_stage1_backward");
  bwd1.removeResultAttr(0, StringAttr::get(&ctx, "gpipe.grad_of"));
  error.clear();
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(2, 2, ScheduleKind::GPipe, RecomputePolicy::Full),
                                 inputs, grads, two, error)));
  EXPECT_NE(error.find("main_stage1_backward: result 0 is neither"), std::string::npos) << error;
  module = outlinedModel(ctx, 2, 4);

  // A keeping backward that does not take what its forward keeps.
  auto keep1 = module->lookupSymbol<func::FuncOp>("main_stage1_backward_keep");
  unsigned firstKept = 0;
  while (firstKept < keep1.getNumArguments() && !keep1.getArgAttr(firstKept, "gpipe.kept"))
    ++firstKept;
  ASSERT_LT(firstKept, keep1.getNumArguments()) << "stage 1 keeps nothing";
  keep1.removeArgAttr(firstKept, StringAttr::get(&ctx, "gpipe.kept"));
  error.clear();
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(2, 2, ScheduleKind::GPipe, RecomputePolicy::None),
                                 inputs, grads, two, error)));
  EXPECT_NE(error.find("@main_stage1_backward_keep: argument " + std::to_string(firstKept) +
                       " is not the forward's kept activation 0"),
            std::string::npos)
      << error;
  // A schedule that keeps activations, with no keeping functions.
  module = outlinedModel(ctx, 2, 4);
  module->lookupSymbol<func::FuncOp>("main_stage0_forward_keep").erase();
  error.clear();
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(2, 2, ScheduleKind::GPipe, RecomputePolicy::None),
                                 inputs, grads, two, error)));
  EXPECT_NE(error.find("stage 0 keeps the activations of micro-batch 0 but there is no function "
                       "@main_stage0_forward_keep"),
            std::string::npos)
      << error;
  module = outlinedModel(ctx, 2, 4);

  // A stage whose parameters cannot be loaded fails; the other stage, waiting
  // for its messages, is stopped rather than left hanging.
  std::vector<ParamStore> stores;
  stores.emplace_back([](ParamOp, HostTensor &, std::string &why) {
    why = "disk on fire";
    return false;
  });
  stores.emplace_back(randomParam);
  error.clear();
  EXPECT_TRUE(failed(runPipeline(*module, "main",
                                 buildSchedule(2, 2, ScheduleKind::OneFOneB, RecomputePolicy::Full),
                                 inputs, grads, stores, error)));
  EXPECT_NE(error.find("stage 0: main_stage0_forward failed on micro-batch 0"), std::string::npos)
      << error;
}

} // namespace

// Pipelined training: the loss function's stages run under the schedule,
// the loss of each micro-batch seeded with 1/M, the summed gradients fed to
// the update function once per mini-batch. After three AdamW steps with
// gradient clipping every parameter equals the unpipelined train_step's.
TEST_F(StageEquivalence, PipelinedTrainingMatchesTheTrainingStep) {
  const std::string training = "gpipe-build-training{loss=mse optimizer=adamw lr=0.05 "
                               "weight-decay=0.01 grad-clip=0.5 pipeline-functions=true},";
  auto type = RankedTensorType::get({8, 16}, Float64Type::get(&ctx));
  const int steps = 3;
  std::vector<HostTensor> xs, labels;
  for (int i = 0; i < steps; ++i) {
    xs.push_back(randomTensor(type, 10 + i));
    labels.push_back(randomTensor(type, 20 + i));
  }

  // The reference: train_step on the whole batch.
  OwningOpRef<ModuleOp> ref = outlinedModel(ctx, 1, 8, training, "train_step_loss");
  ASSERT_TRUE(ref);
  ParamStore refStore(randomParam);
  auto trainStep = ref->lookupSymbol<func::FuncOp>("train_step");
  ASSERT_TRUE(trainStep);
  for (int i = 0; i < steps; ++i)
    ASSERT_TRUE(succeeded(interpret(trainStep, {xs[i], labels[i]}, refStore)));
  std::vector<std::string> trained;
  ref->walk([&](ParamOp p) {
    if (p.getTrainable())
      trained.push_back(p.getSymName().str());
  });
  ASSERT_EQ(trained.size(), 4u);

  for (int k : {1, 2, 3})
    for (int m : {1, 2, 4})
      for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB}) {
        SCOPED_TRACE(llvm::formatv("K = {0}, M = {1}, {2}", k, m,
                                   kind == ScheduleKind::GPipe ? "gpipe" : "1f1b")
                         .str());
        int rows = 8 / m;
        OwningOpRef<ModuleOp> module = outlinedModel(ctx, k, rows, training, "train_step_loss");
        ASSERT_TRUE(module);
        auto update = module->lookupSymbol<func::FuncOp>("train_step_update");
        ASSERT_TRUE(update);
        auto lossFn = module->lookupSymbol<func::FuncOp>("train_step_loss");
        for (RecomputePolicy policy :
             {RecomputePolicy::None, RecomputePolicy::Full, RecomputePolicy::ExceptLast}) {
          SCOPED_TRACE(recomputePolicyName(policy));
          ParamStore updateStore(randomParam);
          std::vector<ParamStore> stores(k, ParamStore(randomParam));
          Schedule schedule = buildSchedule(k, m, kind, policy);
          for (int i = 0; i < steps; ++i) {
            std::vector<std::vector<HostTensor>> inputs(m), seeds(m);
            for (int mb = 0; mb < m; ++mb) {
              inputs[mb] = {sliceRows(ctx, xs[i], mb, rows), sliceRows(ctx, labels[i], mb, rows)};
              for (Type t : lossFn.getFunctionType().getResults()) {
                HostTensor seed = *HostTensor::allocate(cast<RankedTensorType>(t));
                std::memset(seed.data(), 0, seed.bytes());
                seeds[mb].push_back(seed);
              }
              // The mini-batch loss is the mean of the micro-batch means.
              *static_cast<double *>(seeds[mb][0].data()) = 1.0 / m;
            }
            std::string error;
            FailureOr<PipelineResult> got =
                runPipeline(*module, "train_step_loss", schedule, inputs, seeds, stores, error);
            ASSERT_TRUE(succeeded(got)) << error;
            std::vector<HostTensor> grads;
            for (unsigned a = 0; a < update.getNumArguments(); ++a) {
              auto name = update.getArgAttrOfType<FlatSymbolRefAttr>(a, "gpipe.param").getValue();
              ASSERT_TRUE(got->paramGrads.count(name.str())) << name.str();
              grads.push_back(got->paramGrads[name.str()]);
            }
            // Make the update store current (it loads parameters lazily),
            // update, and give every stage the new parameters.
            ASSERT_TRUE(succeeded(interpret(update, grads, updateStore)));
            for (const std::string &name : trained)
              for (ParamStore &store : stores)
                store.set(name, *updateStore.lookup(name));
          }
          for (const std::string &name : trained) {
            const HostTensor *want = refStore.lookup(name), *have = updateStore.lookup(name);
            ASSERT_TRUE(want && have) << name;
            EXPECT_LT(relativeError(*have, *want), 1e-10) << name;
          }
        }
      }
}
