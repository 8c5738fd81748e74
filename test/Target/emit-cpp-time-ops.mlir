// gpipe-translate --emit-cpp --time-ops (what gpipe-compile builds): every
// kernel call and fused loop of the functions the program runs, but the
// optimizer update, sits between timer.start() and timer.stop(its entries
// in the function's gp::OpSpec table), and the tables name each op's ONNX
// node and phase: forward, backward, or the forward recomputed in a
// recomputing backward. Two stages, 1F1B, recompute=except-last: both the
// recomputing and the keeping pair of each stage.
// RUN: gpipe-opt %s --gpipe-build-training="loss=cross-entropy optimizer=sgd pipeline-functions=true" \
// RUN:   --gpipe-partition="function=train_step_loss stages=2 devices=%S/../../devices/cpu-host.json" \
// RUN:   --gpipe-pipeline="function=train_step_loss micro-batches=2 schedule=1f1b recompute=except-last" \
// RUN:   -mlir-print-debuginfo -o %t.mlir
// RUN: gpipe-translate --emit-cpp --time-ops %t.mlir -o %t.cpp
// RUN: FileCheck %s < %t.cpp
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I%S/../../python-free-runtime/include %t.cpp
// Without --time-ops nothing is timed and the function specs have no ops.
// RUN: gpipe-translate --emit-cpp %t.mlir | FileCheck %s --check-prefix=PLAIN --implicit-check-not=timer --implicit-check-not=gp::OpSpec

gpipe.param @w1 : tensor<4x8xf32> {file = "/models/tiny.onnx", initializer = "w1"}
gpipe.param @b1 : tensor<8xf32> {file = "/models/tiny.onnx", initializer = "b1"}
gpipe.param @w2 : tensor<8x3xf32> {file = "/models/tiny.onnx", initializer = "w2"}

func.func @main(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> (tensor<2x3xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<4x8xf32> loc("w1")
  %b1 = gpipe.get_param @b1 : tensor<8xf32> loc("b1")
  %h = gpipe.gemm %x, %w1, %b1 {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<2x4xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<2x8xf32> loc("/fc1/Gemm")
  %t = gpipe.tanh %h : tensor<2x8xf32> loc("/Tanh")
  %a = gpipe.sigmoid %t : tensor<2x8xf32> loc("/Sigmoid")
  %w2 = gpipe.get_param @w2 : tensor<8x3xf32> loc("w2")
  %y = gpipe.matmul %a, %w2 : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32> loc("/fc2/MatMul")
  return %y : tensor<2x3xf32>
}

// The loss function (function 0): the timer is the function's; parameter
// reads are not timed; a fused loop of two ops (two nodes) is one timing
// shared by its two entries.
// CHECK-LABEL: // @train_step_loss
// CHECK-NEXT: gp_status fn_train_step_loss(
// CHECK:      unsigned char *arena = ctx.arena.data();
// CHECK-NEXT: gp::OpTimer timer(ctx, 0);
// CHECK-NEXT: const gp_tensor *v0 = ctx.params->get(0, ctx.error);
// CHECK:      timer.start();
// CHECK-NEXT: gp_tensor v2 = {GP_F32, 2, {2, 8}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_gemm(args[0], v0, v1,
// CHECK-NEXT:   return fail(ctx, "/fc1/Gemm (gpipe.gemm)");
// CHECK-NEXT: timer.stop(0);
// CHECK-NEXT: timer.start();
// CHECK-NEXT: gp_tensor v3 =
// CHECK-NEXT: { // fused: gpipe.tanh, gpipe.sigmoid
// CHECK:      timer.stop(1, 2);
// CHECK:      timer.stop(3);
// CHECK:      gp_cpu_softmax_cross_entropy(
// CHECK-NEXT:   return fail(ctx, "gpipe.softmax_cross_entropy");
// CHECK-NEXT: timer.stop(4);
// CHECK-NEXT: return GP_OK;

// The optimizer update is not timed.
// CHECK-LABEL: // @train_step_update
// CHECK-NOT:  timer
// CHECK-LABEL: // @train_step_loss_stage0_forward
// CHECK:      gp::OpTimer timer(ctx, 2);
// CHECK:      timer.stop(1);
// CHECK-NEXT: return GP_OK;

// The recomputing backward: the recomputed gemm and tanh, then the
// gradient ops (tanh's a fused loop of three).
// CHECK-LABEL: // @train_step_loss_stage0_backward
// CHECK:      gp::OpTimer timer(ctx, 3);
// CHECK:      timer.stop(1);
// CHECK-NEXT: timer.start();
// CHECK-NEXT: gp_tensor {{v[0-9]+}} =
// CHECK-NEXT: { // fused: gpipe.mul, gpipe.sub, gpipe.mul
// CHECK:      timer.stop(2, 3);
// CHECK:      timer.stop(7);
// CHECK-NEXT: if (!copyOut(ctx,

// The tables: per function its timed ops, with node and phase.
// CHECK-LABEL: const gp::OpSpec f0_ops[] = {
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.gemm", gp::OpPhase::Forward},
// CHECK-NEXT:   {"/Tanh", "gpipe.tanh", gp::OpPhase::Forward},
// CHECK-NEXT:   {"/Sigmoid", "gpipe.sigmoid", gp::OpPhase::Forward},
// CHECK-NEXT:   {"/fc2/MatMul", "gpipe.matmul", gp::OpPhase::Forward},
// CHECK-NEXT:   {nullptr, "gpipe.softmax_cross_entropy", gp::OpPhase::Forward},
// CHECK-NEXT: };
// CHECK-NOT:  f1_ops
// CHECK:      const gp::OpSpec f3_ops[] = {
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.gemm", gp::OpPhase::Recompute},
// CHECK-NEXT:   {"/Tanh", "gpipe.tanh", gp::OpPhase::Recompute},
// CHECK-NEXT:   {"/Tanh", "gpipe.mul", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/Tanh", "gpipe.sub", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/Tanh", "gpipe.mul", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.gemm", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.reduce_sum", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.reshape", gp::OpPhase::Backward},
// CHECK-NEXT: };
// The keeping backward reads the kept activations: no recomputation.
// CHECK:      const gp::OpSpec f5_ops[] = {
// CHECK-NEXT:   {"/Tanh", "gpipe.mul", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/Tanh", "gpipe.sub", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/Tanh", "gpipe.mul", gp::OpPhase::Backward},
// CHECK-NEXT:   {"/fc1/Gemm", "gpipe.gemm", gp::OpPhase::Backward},
// The last stage's recomputing backward: the sigmoid and the product are
// recomputed; the loss's gradient ops have no node; sigmoid's gradient
// reuses the recomputed value and is backward work.
// CHECK:      const gp::OpSpec f7_ops[] = {
// CHECK-NEXT:   {"/Sigmoid", "gpipe.sigmoid", gp::OpPhase::Recompute},
// CHECK-NEXT:   {"/fc2/MatMul", "gpipe.matmul", gp::OpPhase::Recompute},
// CHECK-NEXT:   {nullptr, "gpipe.log_softmax", gp::OpPhase::Backward},
// CHECK:        {"/Sigmoid", "gpipe.sub", gp::OpPhase::Backward},
// CHECK:      const gp::OpSpec f9_ops[] = {
// CHECK-NOT:  Recompute
// CHECK:      const gp::FunctionSpec kFunctions[] = {
// CHECK-NEXT:   {"train_step_loss", fn_train_step_loss, 2, 2, f0_args, f0_results, {{[0-9]+}}, f0_ops, 5},
// CHECK-NEXT:   {"train_step_update", fn_train_step_update, 3, 0, f1_args, nullptr, {{[0-9]+}}},
// CHECK-NEXT:   {"train_step_loss_stage0_forward", fn_train_step_loss_stage0_forward, 1, 1, f2_args, f2_results, {{[0-9]+}}, f2_ops, 2},
// CHECK-NEXT:   {"train_step_loss_stage0_backward", fn_train_step_loss_stage0_backward, 2, 2, f3_args, f3_results, {{[0-9]+}}, f3_ops, 8},

// PLAIN:      const gp::FunctionSpec kFunctions[] = {
// PLAIN-NEXT:   {"train_step_loss", fn_train_step_loss, 2, 2, f0_args, f0_results, {{[0-9]+}}},
