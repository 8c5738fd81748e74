// RUN: gpipe-opt %s --gpipe-build-training="loss=output pipeline-functions=true" | FileCheck %s

// A mean loss over kept (ignore_index) or weighted labels: the pipelined
// executors weigh micro-batch m's loss by its share of the mini-batch's label
// weight, which @train_step_loss_weight computes from the loss function's
// arguments: the kept labels' class weights, summed. None of the forward
// (the matmul, the dropout) is left in it.

gpipe.param @w : tensor<4x3xf32> {file = "/m.onnx", initializer = "w"}
gpipe.param @cw : tensor<3xf32> {file = "/m.onnx", initializer = "cw"}
func.func @main(%x: tensor<2x4xf32> {gpipe.name = "x"}, %t: tensor<2xi64> {gpipe.name = "labels"}) -> tensor<f32> {
  %w = gpipe.get_param @w : tensor<4x3xf32>
  %cw = gpipe.get_param @cw : tensor<3xf32>
  %0 = gpipe.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %1:2 = gpipe.dropout %0 {ratio = 0.5 : f32, training = true} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi1>)
  %2 = gpipe.softmax_cross_entropy %1#0, %t, %cw {reduction = #gpipe.reduction<mean>, ignore_index = -100 : i64} : (tensor<2x3xf32>, tensor<2xi64>, tensor<3xf32>) -> tensor<f32>
  return %2 : tensor<f32>
}

// CHECK-LABEL: func.func @train_step_loss(
// CHECK-LABEL: func.func @train_step_loss_weight(
// CHECK-SAME:      %{{.*}}: tensor<2x4xf32> {gpipe.name = "x"}, %[[T:[^:]*]]: tensor<2xi64> {gpipe.name = "labels"}, %{{[^:]*}}: tensor<2xi64> {gpipe.name = "__gpipe.rng", gpipe.rng})
// CHECK-SAME:      -> (tensor<f32> {gpipe.name = "loss_weight"})
// CHECK-NEXT:    %[[CW:.*]] = gpipe.get_param @cw : tensor<3xf32>
// CHECK-NEXT:    %[[IGNORE:.*]] = gpipe.constant dense<-100> : tensor<2xi64>
// CHECK-NEXT:    %[[EQ:.*]] = gpipe.equal %[[T]], %[[IGNORE]]
// CHECK-NEXT:    %[[KEPT:.*]] = gpipe.not %[[EQ]]
// CHECK-NEXT:    %[[ONE:.*]] = gpipe.cast %[[KEPT]] {to = f32}
// CHECK-NEXT:    %[[ZERO:.*]] = gpipe.constant dense<0> : tensor<2xi64>
// CHECK-NEXT:    %[[SAFE:.*]] = gpipe.where %[[KEPT]], %[[T]], %[[ZERO]]
// CHECK-NEXT:    %[[W:.*]] = gpipe.gather %[[CW]], %[[SAFE]] {axis = 0 : i64}
// CHECK-NEXT:    %[[KW:.*]] = gpipe.mul %[[ONE]], %[[W]]
// CHECK-NEXT:    %[[SUM:.*]] = gpipe.reduce_sum %[[KW]] {axes = array<i64: 0>, keep_dims = false}
// CHECK-NEXT:    return %[[SUM]] : tensor<f32>
// CHECK-NEXT:  }
