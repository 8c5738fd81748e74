// What each recompute policy keeps between a micro-batch's forward and its
// backward, and the stage functions gpipe-pipeline makes for it.
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=none" | FileCheck %s --check-prefix=NONE
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=except-last schedule=1f1b" | FileCheck %s --check-prefix=LAST
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=auto" | FileCheck %s --check-prefix=ROOMY
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=auto memory-budget=20000" | FileCheck %s --check-prefix=TIGHT
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=auto memory-budget=14000" | FileCheck %s --check-prefix=TIGHTER
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=auto memory-budget=9000" 2>&1 | FileCheck %s --check-prefix=NOFIT
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="micro-batches=2 recompute=full memory-budget=9000" 2>&1 | FileCheck %s --check-prefix=NOTAUTO
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-pipeline="recompute=sometimes" 2>&1 | FileCheck %s --check-prefix=POLICY

gpipe.param @w1 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w2"}
func.func @main(%x: tensor<32x16xf32>) -> tensor<32x16xf32> {
  %w1 = gpipe.get_param @w1 : tensor<16x16xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<32x16xf32>
  %1 = gpipe.tanh %0 : tensor<32x16xf32>
  %2 = gpipe.exp %1 : tensor<32x16xf32>
  %w2 = gpipe.get_param @w2 : tensor<16x16xf32>
  %3 = gpipe.matmul %2, %w2 : (tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<32x16xf32>
  %4 = gpipe.tanh %3 : tensor<32x16xf32>
  return %4 : tensor<32x16xf32>
}

// Stage 1 (exp, matmul, tanh) keeps what its backward reads: exp's result
// (exp' and the matmul's weight gradient) and tanh's (tanh'); its backward
// recomputes nothing.
// NONE-LABEL: func.func @main_stage1_forward_keep
// NONE-SAME: -> (tensor<32x16xf32> {gpipe.returns = array<i64: 0>}, tensor<32x16xf32> {gpipe.kept = 0 : i64}, tensor<32x16xf32> {gpipe.kept = 1 : i64})
// NONE: %[[E:.*]] = gpipe.exp
// NONE: %[[T:.*]] = gpipe.tanh
// NONE: return %[[T]], %[[E]], %[[T]]
// NONE-LABEL: func.func @main_stage1_backward_keep
// NONE-SAME: %{{.*}}: tensor<32x16xf32> {gpipe.source = array<i64: 0, 0>}, %[[KE:.*]]: tensor<32x16xf32> {gpipe.kept = 0 : i64}, %[[KT:.*]]: tensor<32x16xf32> {gpipe.kept = 1 : i64}, %{{.*}}: tensor<32x16xf32> {gpipe.grad_of_output = 0 : i64}
// NONE-NOT: gpipe.exp
// NONE-NOT: gpipe.tanh
// NONE: gpipe.mul %[[KT]], %[[KT]]
// NONE: gpipe.gemm %[[KE]], %{{.*}} {alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, trans_a = true, trans_b = false}
// NONE: return
// NONE-NOT: func.func @main_stage{{.}}_forward(
// NONE: gpipe.stage_program 0 keeping [@main_stage0_forward_keep, @main_stage0_backward_keep] {
// NONE: gpipe.stage_program 1 keeping [@main_stage1_forward_keep, @main_stage1_backward_keep] {

// except-last needs both pairs: micro-batch 1 keeps, micro-batch 0 recomputes.
// LAST: gpipe.stage_program 1 recomputing [@main_stage1_forward, @main_stage1_backward] keeping [@main_stage1_forward_keep, @main_stage1_backward_keep] {

// With the device's 80 GB every activation fits: nothing is recomputed.
// ROOMY-LABEL: func.func @main_stage0_forward_auto
// ROOMY-SAME: gpipe.kept_bytes = 2048
// ROOMY-LABEL: func.func @main_stage0_backward_auto
// ROOMY-SAME: gpipe.recomputed_ops = 0
// ROOMY-LABEL: func.func @main_stage1_forward_auto
// ROOMY-SAME: gpipe.kept_bytes = 4096
// ROOMY: gpipe.stage_program 0 recomputing [@main_stage0_forward_auto, @main_stage0_backward_auto] {
// ROOMY-NEXT: gpipe.forward 0

// 20 kB per stage: stage 1 holds 4 kB of parameter state, 4 kB of inputs for
// the 2 micro-batches in flight and 4 kB of activations in its backward, so
// 3.8 kB per micro-batch are left: one of its two activations fits.
// TIGHT-LABEL: func.func @main_stage0_forward_auto
// TIGHT-SAME: gpipe.kept_bytes = 2048
// TIGHT-LABEL: func.func @main_stage1_forward_auto
// TIGHT-SAME: gpipe.kept_bytes = 2048
// TIGHT-LABEL: func.func @main_stage1_backward_auto
// TIGHT-SAME: {gpipe.kept = 0 : i64}
// TIGHT-NOT: gpipe.kept = 1
// TIGHT-SAME: gpipe.recomputed_ops = {{[1-9]}}

// 14 kB: nothing fits beside the inputs; both stages recompute everything.
// TIGHTER-LABEL: func.func @main_stage0_forward_auto
// TIGHTER-SAME: gpipe.kept_bytes = 0
// TIGHTER-LABEL: func.func @main_stage1_forward_auto
// TIGHTER-SAME: gpipe.kept_bytes = 0
// TIGHTER-LABEL: func.func @main_stage1_backward_auto
// TIGHTER-SAME: gpipe.recomputed_ops = 3

// NOFIT: error: gpipe-pipeline: recompute=auto: stage 0 needs 10.24 kB with every activation recomputed (parameters, gradients and optimizer state 4.10 kB, the inputs of 2 micro-batches in flight 4.10 kB, one micro-batch's activations 2.05 kB), over its budget of 9.00 kB
// NOTAUTO: error: gpipe-pipeline: memory-budget applies to recompute=auto only
// POLICY: error: gpipe-pipeline: recompute must be none, full, except-last or auto, got 'sometimes'
