// RUN: gpipe-opt %s --gpipe-partition="stages=3 balance=uniform devices=%S/../../devices/h100-sxm.json" --gpipe-outline-stages | FileCheck %s

// Three stages of four ops; %1 skips stage 1 to stage 2, and @w1 is read on
// stages 0 and 2 (a tied weight).

gpipe.param @w1 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w2"}
gpipe.param @w3 : tensor<16x16xf32> {file = "/m.onnx", initializer = "w3"}
func.func @main(%x: tensor<8x16xf32> {gpipe.name = "x"}) -> (tensor<8x16xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<16x16xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %1 = gpipe.relu %0 : tensor<8x16xf32>
  %w2 = gpipe.get_param @w2 : tensor<16x16xf32>
  %2 = gpipe.matmul %1, %w2 : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %3 = gpipe.tanh %2 : tensor<8x16xf32>
  %w3 = gpipe.get_param @w3 : tensor<16x16xf32>
  %4 = gpipe.matmul %3, %w3 : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %5 = gpipe.add %4, %1 : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
  %w1b = gpipe.get_param @w1 : tensor<16x16xf32>
  %6 = gpipe.matmul %5, %w1b : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  return %6 : tensor<8x16xf32>
}

// The model function stays.
// CHECK-LABEL: func.func @main(
// CHECK: return {gpipe.stage = 2 : i64}

// CHECK-LABEL: func.func @main_stage0_forward(
// CHECK-SAME: %[[X:.*]]: tensor<8x16xf32> {gpipe.name = "x", gpipe.source = array<i64: -1, 0>}) -> tensor<8x16xf32>
// CHECK-SAME: attributes {gpipe.stage = 0 : i64}
// CHECK-NEXT: %[[W:.*]] = gpipe.get_param @w1
// CHECK-NOT: gpipe.stage
// CHECK-NEXT: %[[MM:.*]] = gpipe.matmul %[[X]], %[[W]]
// CHECK-NEXT: %[[R:.*]] = gpipe.relu %[[MM]]
// CHECK-NEXT: return %[[R]]

// Stage 0's backward recomputes the forward and returns only @w1's gradient:
// the model input gets none.
// CHECK-LABEL: func.func @main_stage0_backward(
// CHECK-SAME: %{{.*}}: tensor<8x16xf32> {gpipe.name = "x", gpipe.source = array<i64: -1, 0>}, %[[G0:.*]]: tensor<8x16xf32> {gpipe.grad_of_output = 0 : i64})
// CHECK-SAME: -> (tensor<16x16xf32> {gpipe.param = @w1})
// CHECK: gpipe.greater
// CHECK: gpipe.where %{{.*}}, %[[G0]]
// CHECK: return

// CHECK-LABEL: func.func @main_stage1_forward(
// CHECK-SAME: {gpipe.source = array<i64: 0, 0>}
// CHECK: gpipe.get_param @w2
// CHECK: gpipe.tanh

// CHECK-LABEL: func.func @main_stage1_backward(
// CHECK-SAME: -> (tensor<8x16xf32> {gpipe.grad_of = array<i64: 0, 0>}, tensor<16x16xf32> {gpipe.param = @w2})

// Stage 2 reads stage 1's output and, straight from stage 0, the skip.
// CHECK-LABEL: func.func @main_stage2_forward(
// CHECK-SAME: {gpipe.source = array<i64: 1, 0>}, %{{.*}}: tensor<8x16xf32> {gpipe.source = array<i64: 0, 0>})
// CHECK-SAME: -> (tensor<8x16xf32> {gpipe.returns = array<i64: 0>})

// CHECK-LABEL: func.func @main_stage2_backward(
// CHECK-SAME: -> (tensor<8x16xf32> {gpipe.grad_of = array<i64: 1, 0>}, tensor<8x16xf32> {gpipe.grad_of = array<i64: 0, 0>},
// CHECK-SAME: tensor<16x16xf32> {gpipe.param = @w3}, tensor<16x16xf32> {gpipe.param = @w1})
