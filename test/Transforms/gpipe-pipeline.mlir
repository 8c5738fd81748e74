// RUN: gpipe-opt %s --gpipe-partition="stages=3 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages --gpipe-pipeline="micro-batches=4 schedule=1f1b recompute=except-last" | FileCheck %s
// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages --gpipe-pipeline="micro-batches=2" | FileCheck %s --check-prefix=GPIPE
// RUN: not gpipe-opt %s --gpipe-pipeline 2>&1 | FileCheck %s --check-prefix=NOSTAGES
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages --gpipe-pipeline="micro-batches=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages --gpipe-pipeline="schedule=zigzag" 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages --gpipe-pipeline --gpipe-pipeline 2>&1 | FileCheck %s --check-prefix=TWICE

gpipe.param @w1 : tensor<8x8xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<8x8xf32> {file = "/m.onnx", initializer = "w2"}
gpipe.param @w3 : tensor<8x8xf32> {file = "/m.onnx", initializer = "w3"}
func.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w1 = gpipe.get_param @w1 : tensor<8x8xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %w2 = gpipe.get_param @w2 : tensor<8x8xf32>
  %1 = gpipe.matmul %0, %w2 : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %w3 = gpipe.get_param @w3 : tensor<8x8xf32>
  %2 = gpipe.matmul %1, %w3 : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// 1F1B on the middle stage: K - s - 1 = 1 warm-up forward, then one forward
// and one backward in turn; except-last recomputes all but micro-batch 3.
// CHECK: gpipe.pipeline @main attributes {micro_batches = 4 : i64, recompute = "except-last", schedule = "1f1b"}
// CHECK: gpipe.stage_program 1 recomputing [@main_stage1_forward, @main_stage1_backward] keeping [@main_stage1_forward_keep, @main_stage1_backward_keep] {
// CHECK-NEXT: gpipe.recv_activation 0 from 0
// CHECK-NEXT: gpipe.forward 0
// CHECK-NEXT: gpipe.send_activation 0 to 2
// CHECK-NEXT: gpipe.recv_activation 1 from 0
// CHECK-NEXT: gpipe.forward 1
// CHECK-NEXT: gpipe.send_activation 1 to 2
// CHECK-NEXT: gpipe.recv_gradient 0 from 2
// CHECK-NEXT: gpipe.recompute 0
// CHECK-NEXT: gpipe.backward 0
// CHECK-NEXT: gpipe.send_gradient 0 to 0
// CHECK: gpipe.recv_gradient 3 from 2
// CHECK-NEXT: gpipe.backward 3
// CHECK-NEXT: gpipe.send_gradient 3 to 0
// CHECK-NEXT: gpipe.optimizer_update
// CHECK: gpipe.stage_program 2 recomputing [@main_stage2_forward, @main_stage2_backward] keeping [@main_stage2_forward_keep, @main_stage2_backward_keep] {

// GPipe: all forwards, then the backwards, the latest micro-batch first.
// GPIPE: gpipe.stage_program 0 recomputing [@main_stage0_forward, @main_stage0_backward] {
// GPIPE-NEXT: gpipe.forward 0
// GPIPE-NEXT: gpipe.send_activation 0 to 1
// GPIPE-NEXT: gpipe.forward 1
// GPIPE-NEXT: gpipe.send_activation 1 to 1
// GPIPE-NEXT: gpipe.recv_gradient 1 from 1
// GPIPE-NEXT: gpipe.recompute 1
// GPIPE-NEXT: gpipe.backward 1
// GPIPE-NEXT: gpipe.recv_gradient 0 from 1

// NOSTAGES: error: gpipe-pipeline: @main is not partitioned; run gpipe-partition first
// ZERO: error: gpipe-pipeline: micro-batches must be positive
// SCHEDULE: error: gpipe-pipeline: schedule must be gpipe or 1f1b, got 'zigzag'
// TWICE: error: gpipe-pipeline: @main already has a gpipe.pipeline
