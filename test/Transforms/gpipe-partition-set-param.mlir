// RUN: gpipe-opt %s --gpipe-partition="stages=2 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages | FileCheck %s

// A stored value stays on the stage that computes it: the first stage's
// running statistic is stored by the first stage, and only its forward
// stores it (the backward recomputes without storing).

gpipe.param @w1 : tensor<4x4xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<4x4xf32> {file = "/m.onnx", initializer = "w2"}
gpipe.param @stat : tensor<2x4xf32> {file = "/m.onnx", initializer = "stat"}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w1 = gpipe.get_param @w1 : tensor<4x4xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %1 = gpipe.tanh %0 : tensor<2x4xf32>
  gpipe.set_param @stat, %1 : tensor<2x4xf32>
  %w2 = gpipe.get_param @w2 : tensor<4x4xf32>
  %2 = gpipe.matmul %1, %w2 : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %3 = gpipe.tanh %2 : tensor<2x4xf32>
  return %3 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @main(
// CHECK: gpipe.set_param @stat, %{{.*}} {gpipe.stage = 0 : i64}
// CHECK-LABEL: func.func @main_stage0_forward(
// CHECK: gpipe.set_param @stat
// CHECK-LABEL: func.func @main_stage0_backward(
// CHECK-NOT: gpipe.set_param
// CHECK-LABEL: func.func @main_stage1_forward(
// CHECK-NOT: gpipe.set_param
// CHECK: return
