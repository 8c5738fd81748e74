// RUN: gpipe-opt %s --gpipe-build-training="optimizer=adam pipeline-functions=true" | FileCheck %s

// pipeline-functions adds the loss function (forward and loss, no backward)
// and the update function (the step's update, from gradients as arguments);
// the optimizer state is declared once and shared by both.

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

// CHECK-COUNT-1: gpipe.param @w1.adam_m
// CHECK-NOT: gpipe.param @w1.adam_m
// CHECK-LABEL: func.func @train_step(
// CHECK: gpipe.set_param @w1,

// CHECK-LABEL: func.func @train_step_loss(
// CHECK-SAME: %{{.*}}: tensor<8x16xf32> {gpipe.name = "x"}, %[[L:.*]]: tensor<8xi64> {gpipe.name = "labels"})
// CHECK-SAME: -> (tensor<f32> {gpipe.name = "loss"}, tensor<8x4xf32> {gpipe.name = "y"})
// CHECK-NOT: gpipe.transpose
// CHECK-NOT: gpipe.set_param
// CHECK: %[[LOSS:.*]] = gpipe.softmax_cross_entropy %{{.*}}, %[[L]]
// CHECK-NEXT: return %[[LOSS]], %{{.*}} : tensor<f32>, tensor<8x4xf32>

// CHECK-LABEL: func.func @train_step_update(
// CHECK-SAME: %[[G1:.*]]: tensor<16x16xf32> {gpipe.param = @w1}, %{{.*}}: tensor<16x4xf32> {gpipe.param = @w2})
// CHECK-NOT: gpipe.matmul
// CHECK: gpipe.get_param @w1
// CHECK: gpipe.set_param @__gpipe.step
// CHECK: gpipe.get_param @w1.adam_m
// CHECK: gpipe.set_param @w1.adam_m
// CHECK: gpipe.set_param @w1,
// CHECK: gpipe.set_param @w2,
// CHECK-NEXT: return

