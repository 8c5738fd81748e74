// gpipe-translate --emit-cpp on a small model pipelined by the passes: two
// stages, 1F1B over two micro-batches, recompute=except-last (both the
// recomputing and the keeping pair of each stage), an evaluation function.
// RUN: gpipe-opt %s --gpipe-build-training="loss=cross-entropy optimizer=sgd pipeline-functions=true eval-function=eval" \
// RUN:   --gpipe-partition="function=train_step_loss stages=2 devices=%S/../../devices/cpu-host.json" \
// RUN:   --gpipe-pipeline="function=train_step_loss micro-batches=2 schedule=1f1b recompute=except-last" \
// RUN:   -mlir-print-debuginfo -o %t.mlir
// RUN: gpipe-translate --emit-cpp %t.mlir -o %t.cpp
// RUN: FileCheck %s < %t.cpp
// The source compiles against the runtime's headers.
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I%S/../../python-free-runtime/include %t.cpp
// recompute=full, GPipe's schedule, one micro-batch: no keeping pair.
// RUN: gpipe-opt %s --gpipe-build-training="loss=cross-entropy optimizer=sgd pipeline-functions=true" \
// RUN:   --gpipe-partition="function=train_step_loss stages=2 devices=%S/../../devices/cpu-host.json" \
// RUN:   --gpipe-pipeline="function=train_step_loss micro-batches=1 schedule=gpipe recompute=full" \
// RUN:   | gpipe-translate --emit-cpp | FileCheck %s --check-prefix=FULL
// Without fusion, a kernel call per elementwise op.
// RUN: gpipe-translate --emit-cpp --fuse-elementwise=false %t.mlir | FileCheck %s --check-prefix=NOFUSE

gpipe.param @w1 : tensor<4x8xf32> {file = "/models/tiny.onnx", initializer = "w1"}
gpipe.param @b1 : tensor<8xf32> {file = "/models/tiny.onnx", initializer = "b1"}
gpipe.param @w2 : tensor<8x3xf32> {file = "/models/tiny.onnx", initializer = "w2"}

func.func @main(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> (tensor<2x3xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<4x8xf32> loc("w1")
  %b1 = gpipe.get_param @b1 : tensor<8xf32> loc("b1")
  %h = gpipe.gemm %x, %w1, %b1 {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<2x4xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<2x8xf32> loc("/fc1/Gemm")
  %a = gpipe.tanh %h : tensor<2x8xf32> loc("/Tanh")
  %w2 = gpipe.get_param @w2 : tensor<8x3xf32> loc("w2")
  %y = gpipe.matmul %a, %w2 : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32> loc("/fc2/MatMul")
  return %y : tensor<2x3xf32>
}

// CHECK: #include "gpipe/runtime/gp_program.h"
// Constants are static data, shared by every function that uses them.
// CHECK: const float [[LR:k[0-9]+]]_data[1] = {0.00999999978f};
// CHECK-NEXT: const gp_tensor [[LR]] = {GP_F32, 0, {}, (void *)[[LR]]_data};

// The loss function: the whole model and the loss, at the micro-batch size.
// CHECK-LABEL: // @train_step_loss
// CHECK-NEXT: gp_status fn_train_step_loss(gp::FunctionContext &ctx, const gp_tensor *const *args, gp::Tensor *results) {

// The update function reads the parameter gradients and stores each
// parameter's new value: SGD's w - lr * g is one fused loop, the learning
// rate (a single element) read before it, writing into a tensor of its own
// that the table takes (no arena, no copy).
// CHECK-LABEL: // @train_step_update
// CHECK-NOT:  arena
// CHECK:      gp_tensor [[NEW:v[0-9]+]] = {GP_F32, 2, {4, 8}, nullptr};
// CHECK-NEXT: gp::Tensor [[T:s[0-9]+]] = gp::Tensor::allocate([[NEW]].dtype, [[NEW]].rank, [[NEW]].dims);
// CHECK-NEXT: if ([[T]].empty() && gp_numel(&[[NEW]]) != 0)
// CHECK-NEXT:   return fail(ctx, "gpipe.sub: cannot allocate the parameter value");
// CHECK-NEXT: [[NEW]].data = [[T]].view()->data;
// CHECK-NEXT: { // fused: gpipe.mul, gpipe.sub
// CHECK-NEXT:   const float *x0 = static_cast<const float *>((args[0])->data);
// CHECK-NEXT:   const float x1 = *static_cast<const float *>((&[[LR]])->data);
// CHECK-NEXT:   const float *x2 = static_cast<const float *>((v0)->data);
// CHECK-NEXT:   float *y = static_cast<float *>((&[[NEW]])->data);
// CHECK-NEXT:   for (int64_t i = 0; i < 32; ++i) {
// CHECK-NEXT:     const float t0 = x0[i] * x1;
// CHECK-NEXT:     const float t1 = x2[i] - t0;
// CHECK-NEXT:     y[i] = t1;
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NEXT: if (!ctx.params->store(0, std::move([[T]]), ctx.error))
// CHECK-NEXT:   return paramFail(ctx, "cannot store parameter 'w1'");

// NOFUSE-LABEL: // @train_step_update
// NOFUSE:      if (gp_cpu_binary(GP_MUL, args[0], &[[LR:k[0-9]+]], &[[G:v[0-9]+]]) != GP_OK)
// NOFUSE-NEXT:   return fail(ctx, "gpipe.mul");
// NOFUSE-NEXT: gp_tensor [[NEW:v[0-9]+]] = {GP_F32, 2, {4, 8}, nullptr};
// NOFUSE:      if (gp_cpu_binary(GP_SUB, v0, &[[G]], &[[NEW]]) != GP_OK)
// NOFUSE-NEXT:   return fail(ctx, "gpipe.sub");
// NOFUSE-NEXT: if (!ctx.params->store(0, std::move({{s[0-9]+}}), ctx.error))
// NOFUSE-NOT: fused

// A stage's forward: the arena grown to the planned size at entry, every
// computed tensor at its planned offset, parameters from ctx.params, the
// ONNX node in the error, the returned tensor computed straight into the
// function's result (no arena bytes, no copy).
// CHECK-LABEL: // @train_step_loss_stage0_forward
// CHECK-NEXT: gp_status fn_train_step_loss_stage0_forward(
// CHECK-NEXT:   if (ctx.arena.size() < 64)
// CHECK-NEXT:     ctx.arena.resize(64);
// CHECK-NEXT:   unsigned char *arena = ctx.arena.data();
// CHECK-NEXT:   const gp_tensor *v0 = ctx.params->get(0, ctx.error);
// CHECK-NEXT:   if (!v0)
// CHECK-NEXT:     return paramFail(ctx, "cannot load parameter 'w1'");
// CHECK-NEXT:   const gp_tensor *v1 = ctx.params->get(1, ctx.error);
// CHECK:        gp_tensor v2 = {GP_F32, 2, {2, 8}, arena + 0};
// CHECK-NEXT:   if (gp_cpu_gemm(args[0], v0, v1, 1.0f, 1.0f, false, false, &v2) != GP_OK)
// CHECK-NEXT:     return fail(ctx, "/fc1/Gemm (gpipe.gemm)");
// CHECK-NEXT:   gp_tensor v3 = {GP_F32, 2, {2, 8}, nullptr};
// CHECK-NEXT:   results[0] = gp::Tensor::allocate(v3.dtype, v3.rank, v3.dims);
// CHECK-NEXT:   if (results[0].empty() && gp_numel(&v3) != 0)
// CHECK-NEXT:     return fail(ctx, "/Tanh (gpipe.tanh): cannot allocate result #0");
// CHECK-NEXT:   v3.data = results[0].view()->data;
// CHECK-NEXT:   if (gp_cpu_unary(GP_TANH, &v2, 0.0, 0.0, &v3) != GP_OK)
// CHECK-NEXT:     return fail(ctx, "/Tanh (gpipe.tanh)");
// CHECK-NEXT:   return GP_OK;
// CHECK-NEXT: }

// CHECK-LABEL: // @train_step_loss_stage0_backward
// CHECK-LABEL: // @train_step_loss_stage0_forward_keep
// The keeping forward returns its output and the kept tanh: the same
// value, computed into the first slot and copied into the second.
// CHECK:        results[0] = gp::Tensor::allocate(v3.dtype, v3.rank, v3.dims);
// CHECK-NOT:    copyOut(ctx, v3, results[0])
// CHECK:        if (!copyOut(ctx, v3, results[1]))
// CHECK-LABEL: // @train_step_loss_stage0_backward_keep
// The keeping backward reads the kept tanh (args[1]) instead of recomputing;
// tanh's gradient dy * (1 - t * t) is one loop.
// CHECK-NOT:    gp_cpu_gemm(args[0], v0
// CHECK:        { // fused: gpipe.mul, gpipe.sub, gpipe.mul
// CHECK-NEXT:     const float *x0 = static_cast<const float *>((args[1])->data);
// CHECK-NEXT:     const float x1 = *static_cast<const float *>((&{{k[0-9]+}})->data);
// CHECK-NEXT:     const float *x2 = static_cast<const float *>((args[2])->data);
// CHECK-NEXT:     float *y = static_cast<float *>((&v0)->data);
// CHECK-NEXT:     for (int64_t i = 0; i < 16; ++i) {
// CHECK-NEXT:       const float t0 = x0[i] * x0[i];
// CHECK-NEXT:       const float t1 = x1 - t0;
// CHECK-NEXT:       const float t2 = x2[i] * t1;
// CHECK-NEXT:       y[i] = t2;
// CHECK-LABEL: // @train_step_loss_stage1_forward
// CHECK:        if (gp_cpu_matmul(args[0], v0, &v1) != GP_OK)
// CHECK-NEXT:     return fail(ctx, "/fc2/MatMul (gpipe.matmul)");
// CHECK-LABEL: // @train_step_loss_stage1_backward
// CHECK-LABEL: // @train_step_loss_stage1_forward_keep
// CHECK-LABEL: // @train_step_loss_stage1_backward_keep

// The tables: parameters, then each function's arguments and results with
// their roles.
// CHECK-LABEL: const gp::ParamSpec kParams[] = {
// CHECK-NEXT:     {"w1", "w1", GP_F32, 2, {4, 8}, false, true},
// CHECK-NEXT:     {"b1", "b1", GP_F32, 1, {8}, false, true},
// CHECK-NEXT:     {"w2", "w2", GP_F32, 2, {8, 3}, false, true},
// CHECK-NEXT: };
// The loss function: its arguments are the model's, its results the model's
// results (the loss first).
// CHECK:      const gp::ValueSpec f0_args[] = {
// CHECK-NEXT:     {gp::Role::Plain, 0, 0, GP_F32, 2, {2, 4}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::Plain, 1, 0, GP_I64, 1, {2}, nullptr, 0},
// CHECK:      const gp::ValueSpec f0_results[] = {
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 0, {}, f0_result0_returns, 1},
// CHECK-NEXT:     {gp::Role::Output, 1, 0, GP_F32, 2, {2, 3}, f0_result1_returns, 1},
// The update function takes the parameter gradients.
// CHECK:      const gp::ValueSpec f1_args[] = {
// CHECK-NEXT:     {gp::Role::ParamGrad, 0, 0, GP_F32, 2, {4, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::ParamGrad, 1, 0, GP_F32, 1, {8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::ParamGrad, 2, 0, GP_F32, 2, {8, 3}, nullptr, 0},
// Stage 0: its input is the model's argument 0; it sends its output on.
// CHECK:      const gp::ValueSpec f2_args[] = {
// CHECK-NEXT:     {gp::Role::Source, -1, 0, GP_F32, 2, {2, 4}, nullptr, 0},
// CHECK:      const gp::ValueSpec f2_results[] = {
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK:      const gp::ValueSpec f3_args[] = {
// CHECK-NEXT:     {gp::Role::Source, -1, 0, GP_F32, 2, {2, 4}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::GradOfOutput, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK:      const gp::ValueSpec f3_results[] = {
// CHECK-NEXT:     {gp::Role::ParamGrad, 0, 0, GP_F32, 2, {4, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::ParamGrad, 1, 0, GP_F32, 1, {8}, nullptr, 0},
// The keeping pair: the kept activation after the outputs and the inputs.
// CHECK:      const gp::ValueSpec f4_results[] = {
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::Kept, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK:      const gp::ValueSpec f5_args[] = {
// CHECK-NEXT:     {gp::Role::Source, -1, 0, GP_F32, 2, {2, 4}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::Kept, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::GradOfOutput, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// Stage 1: stage 0's output and the labels in; the logits and the loss
// (model results 1 and 0) out; the gradient of stage 0's output back.
// CHECK:      const gp::ValueSpec f6_args[] = {
// CHECK-NEXT:     {gp::Role::Source, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::Source, -1, 1, GP_I64, 1, {2}, nullptr, 0},
// CHECK:      const int64_t f6_result0_returns[] = {1};
// CHECK-NEXT: const int64_t f6_result1_returns[] = {0};
// CHECK-NEXT: const gp::ValueSpec f6_results[] = {
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 2, {2, 3}, f6_result0_returns, 1},
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 0, {}, f6_result1_returns, 1},
// CHECK:      const gp::ValueSpec f7_results[] = {
// CHECK-NEXT:     {gp::Role::GradOf, 0, 0, GP_F32, 2, {2, 8}, nullptr, 0},
// CHECK-NEXT:     {gp::Role::ParamGrad, 2, 0, GP_F32, 2, {8, 3}, nullptr, 0},
// The evaluation function: the model in inference mode, its results the
// model's.
// CHECK:      const gp::ValueSpec f10_args[] = {
// CHECK-NEXT:     {gp::Role::Plain, 0, 0, GP_F32, 2, {2, 4}, nullptr, 0},
// CHECK:      const gp::ValueSpec f10_results[] = {
// CHECK-NEXT:     {gp::Role::Output, 0, 0, GP_F32, 2, {2, 3}, f10_result0_returns, 1},

// CHECK-LABEL: const gp::FunctionSpec kFunctions[] = {
// CHECK-NEXT:     {"train_step_loss", fn_train_step_loss, 2, 2, f0_args, f0_results, 128},
// CHECK-NEXT:     {"train_step_update", fn_train_step_update, 3, 0, f1_args, nullptr, 128},
// CHECK-NEXT:     {"train_step_loss_stage0_forward", fn_train_step_loss_stage0_forward, 1, 1, f2_args, f2_results, 64},
// CHECK-NEXT:     {"train_step_loss_stage0_backward", fn_train_step_loss_stage0_backward, 2, 2, f3_args, f3_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage0_forward_keep", fn_train_step_loss_stage0_forward_keep, 1, 2, f4_args, f4_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage0_backward_keep", fn_train_step_loss_stage0_backward_keep, 3, 2, f5_args, f5_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage1_forward", fn_train_step_loss_stage1_forward, 2, 2, f6_args, f6_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage1_backward", fn_train_step_loss_stage1_backward, 4, 2, f7_args, f7_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage1_forward_keep", fn_train_step_loss_stage1_forward_keep, 2, 3, f8_args, f8_results, {{[0-9]+}}},
// CHECK-NEXT:     {"train_step_loss_stage1_backward_keep", fn_train_step_loss_stage1_backward_keep, 5, 2, f9_args, f9_results, {{[0-9]+}}},
// CHECK-NEXT:     {"eval", fn_eval, 1, 1, f10_args, f10_results, {{[0-9]+}}},
// CHECK-NEXT: };

// The model's inputs: the labels are marked.
// CHECK-LABEL: const gp::InputSpec kInputs[] = {
// CHECK-NEXT:     {"x", GP_F32, 2, {2, 4}, false, false},
// CHECK-NEXT:     {"labels", GP_I64, 1, {2}, true, false},

// Each stage's actions; under except-last the last micro-batch is not
// recomputed.
// CHECK-LABEL: const gp::Action kStage0Actions[] = {
// CHECK-NEXT:     {gp::ActionKind::Forward, 0, -1},
// CHECK-NEXT:     {gp::ActionKind::SendActivation, 0, 1},
// CHECK-NEXT:     {gp::ActionKind::Forward, 1, -1},
// CHECK-NEXT:     {gp::ActionKind::SendActivation, 1, 1},
// CHECK-NEXT:     {gp::ActionKind::RecvGradient, 0, 1},
// CHECK-NEXT:     {gp::ActionKind::Recompute, 0, -1},
// CHECK-NEXT:     {gp::ActionKind::Backward, 0, -1},
// CHECK-NEXT:     {gp::ActionKind::RecvGradient, 1, 1},
// CHECK-NEXT:     {gp::ActionKind::Backward, 1, -1},
// CHECK-NEXT:     {gp::ActionKind::Update, -1, -1},
// CHECK-NEXT: };
// CHECK:      const gp::Action kStage1Actions[] = {
// CHECK-NEXT:     {gp::ActionKind::RecvActivation, 0, 0},
// CHECK:      const gp::StageSpec kStages[] = {
// CHECK-NEXT:     {kStage0Actions, 10, 2, 3, 4, 5},
// CHECK-NEXT:     {kStage1Actions, 10, 6, 7, 8, 9},
// CHECK-NEXT: };

// CHECK-LABEL: const gp::Program kProgram = {
// CHECK-NEXT:     /*modelPath=*/"/models/tiny.onnx",
// CHECK-NEXT:     /*params=*/kParams, /*numParams=*/3,
// CHECK-NEXT:     /*functions=*/kFunctions, /*numFunctions=*/11,
// CHECK-NEXT:     /*inputs=*/kInputs, /*numInputs=*/2,
// CHECK-NEXT:     /*lossFunction=*/0, /*updateFunction=*/1,
// CHECK-NEXT:     /*stages=*/2, /*microBatches=*/2, /*stageSpecs=*/kStages,
// CHECK-NEXT:     /*schedule=*/"1f1b", /*recompute=*/"except-last",
// CHECK-NEXT:     /*evalFunction=*/10,
// CHECK-NEXT: };
// CHECK:      int main(int argc, char **argv) {
// CHECK-NEXT:   gp::preferPassiveOpenMP(argv);
// CHECK-NEXT:   return gp::trainerMain(kProgram, argc, argv);
// CHECK-NEXT: }

// FULL:      const gp::StageSpec kStages[] = {
// FULL-NEXT:     {kStage0Actions, 6, 2, 3, -1, -1},
// FULL-NEXT:     {kStage1Actions, 6, 4, 5, -1, -1},
// FULL:      /*stages=*/2, /*microBatches=*/1, /*stageSpecs=*/kStages,
// FULL-NEXT: /*schedule=*/"gpipe", /*recompute=*/"full",
// FULL-NEXT: /*evalFunction=*/-1,
