// RUN: gpipe-opt %s --gpipe-build-training="optimizer=sgd lr=0.1 weight-decay=0.5" | FileCheck %s --check-prefix=SGD
// RUN: gpipe-opt %s --gpipe-build-training="optimizer=adamw lr=0.001 grad-clip=1.0 eval-function=eval" | FileCheck %s --check-prefix=ADAMW
// RUN: gpipe-opt %s --gpipe-build-training="loss=mse optimizer=momentum frozen=b" | FileCheck %s --check-prefix=MSE

gpipe.param @w : tensor<3x4xf32> {file = "/m.onnx", initializer = "w"}
gpipe.param @b : tensor<3xf32> {file = "/m.onnx", initializer = "b"}
func.func @main(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> (tensor<2x3xf32> {gpipe.name = "y"}) {
  %w = gpipe.get_param @w : tensor<3x4xf32>
  %b = gpipe.get_param @b : tensor<3xf32>
  %y = gpipe.gemm %x, %w, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true} : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// The forward function stays; the step takes the labels and returns the loss
// first, then the model's outputs.
// SGD: gpipe.param @w : tensor<3x4xf32> {file = "/m.onnx", initializer = "w", trainable}
// SGD: func.func @main(
// SGD-LABEL: func.func @train_step(
// SGD-SAME: %[[X:.*]]: tensor<2x4xf32> {gpipe.name = "x"}, %[[T:.*]]: tensor<2xi64> {gpipe.name = "labels"})
// SGD-SAME: -> (tensor<f32> {gpipe.name = "loss"}, tensor<2x3xf32> {gpipe.name = "y"})
// SGD: %[[W:.*]] = gpipe.get_param @w
// SGD: %[[Y:.*]] = gpipe.gemm
// SGD: %[[L:.*]] = gpipe.softmax_cross_entropy %[[Y]], %[[T]] {reduction = #gpipe.reduction<mean>}
// SGD: gpipe.nll_loss_grad
// The weight gradient: dy^T x.
// SGD: %[[GW:.*]] = gpipe.gemm %{{.*}}, %[[X]] {alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, trans_a = true, trans_b = false}
// PyTorch's SGD weight decay: p - lr * (g + wd * p).
// SGD: %[[WD:.*]] = gpipe.mul %[[W]], %{{.*}} : (tensor<3x4xf32>, tensor<f32>)
// SGD: %[[G:.*]] = gpipe.add %[[GW]], %[[WD]]
// SGD: %[[STEP:.*]] = gpipe.mul %[[G]], %{{.*}}
// SGD: %[[NEW:.*]] = gpipe.sub %[[W]], %[[STEP]]
// SGD: gpipe.set_param @w, %[[NEW]] : tensor<3x4xf32>
// SGD: gpipe.set_param @b,
// SGD: return %[[L]], %[[Y]]

// AdamW: moment buffers and a step count are zero-initialized state.
// ADAMW-DAG: gpipe.param @__gpipe.step : tensor<f32> {zero_init}
// ADAMW-DAG: gpipe.param @w.adam_m : tensor<3x4xf32> {zero_init}
// ADAMW-DAG: gpipe.param @w.adam_v : tensor<3x4xf32> {zero_init}
// ADAMW-LABEL: func.func @eval(
// ADAMW-LABEL: func.func @train_step(
// Global-norm clipping: min(1, clip / (norm + 1e-6)).
// ADAMW: %[[NORM:.*]] = gpipe.sqrt
// ADAMW: gpipe.min
// ADAMW: gpipe.set_param @__gpipe.step
// ADAMW: gpipe.set_param @w.adam_m
// ADAMW: gpipe.set_param @w.adam_v
// ADAMW: gpipe.pow
// ADAMW: gpipe.set_param @w,

// MSE: func.func @train_step(%{{.*}}: tensor<2x4xf32> {gpipe.name = "x"}, %{{.*}}: tensor<2x3xf32> {gpipe.name = "labels"})
// MSE: gpipe.reduce_mean %{{.*}} {axes = array<i64: 0, 1>, keep_dims = false}
// MSE: gpipe.set_param @w.momentum
// MSE: gpipe.set_param @w,
// A frozen parameter is read, not updated.
// MSE-NOT: gpipe.set_param @b

