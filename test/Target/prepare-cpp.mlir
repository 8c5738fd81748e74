// RUN: gpipe-opt %s --gpipe-build-training="loss=mse optimizer=sgd pipeline-functions=true" \
// RUN:   --gpipe-partition="function=train_step_loss stages=2 balance=uniform devices=%S/../../devices/cpu-host.json" \
// RUN:   --gpipe-pipeline="function=train_step_loss micro-batches=2 schedule=1f1b" --gpipe-prepare-cpp | FileCheck %s
// RUN: not gpipe-opt %s --gpipe-prepare-cpp 2>&1 | FileCheck %s --check-prefix=NOPIPE

// gpipe-prepare-cpp plans the memory of exactly the functions the program
// runs: the stage functions, the update and the loss function; the model
// function and the unpipelined step are left alone.
gpipe.param @w1 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<16x4xf32> {file = "/m.onnx", initializer = "w2"}
func.func @main(%x: tensor<8x16xf32> {gpipe.name = "x"}) -> (tensor<8x4xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<16x16xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %1 = gpipe.tanh %0 : tensor<8x16xf32>
  %w2 = gpipe.get_param @w2 : tensor<16x4xf32>
  %2 = gpipe.matmul %1, %w2 : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  return %2 : tensor<8x4xf32>
}

// CHECK-LABEL: func.func @main(
// CHECK-NOT: gpipe.arena_bytes
// CHECK-LABEL: func.func @train_step(
// CHECK-NOT: gpipe.arena_bytes
// CHECK-LABEL: func.func @train_step_loss(
// CHECK-SAME: gpipe.arena_bytes
// CHECK-LABEL: func.func @train_step_update(
// CHECK-SAME: gpipe.arena_bytes
// CHECK-LABEL: func.func @train_step_loss_stage0_forward(
// CHECK-SAME: gpipe.arena_bytes
// CHECK: gpipe.matmul {{.*}}gpipe.arena_offsets = array<i64: {{[0-9]+}}>
// CHECK-LABEL: func.func @train_step_loss_stage1_backward(
// CHECK-SAME: gpipe.arena_bytes

// NOPIPE: error: {{.*}}gpipe.pipeline
