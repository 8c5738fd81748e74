// RUN: gpipe-opt %s --gpipe-build-training="optimizer=sgd lr=0.1 class-axis=-1" | FileCheck %s --check-prefix=LAST
// RUN: gpipe-opt %s --gpipe-build-training="optimizer=sgd lr=0.1 loss=nll class-axis=-1" | FileCheck %s --check-prefix=NLL
// RUN: gpipe-opt %s --gpipe-build-training="optimizer=sgd lr=0.1 class-axis=1" | FileCheck %s --check-prefix=SECOND

// Scores [batch 2, positions 3, classes 5], as a language model's logits.
gpipe.param @w : tensor<5x4xf32> {file = "/m.onnx", initializer = "w"}
func.func @main(%x: tensor<2x3x4xf32> {gpipe.name = "x"}) -> (tensor<2x3x5xf32> {gpipe.name = "y"}) {
  %w = gpipe.get_param @w : tensor<5x4xf32>
  %wt = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %y = gpipe.matmul %x, %wt : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// Classes last: the scores become rows [6, 5] (no transpose, no copy), the
// labels keep their [2, 3] shape as the step's argument and become [6].
// LAST-LABEL: func.func @train_step
// LAST-SAME: %[[T:[a-z0-9]+]]: tensor<2x3xi64> {gpipe.name = "labels"}
// LAST: %[[Y:.*]] = gpipe.matmul
// LAST-NOT: gpipe.transpose %[[Y]]
// LAST: %[[ROWS:.*]] = gpipe.reshape %[[Y]] {shape = array<i64: 6, 5>} : (tensor<2x3x5xf32>) -> tensor<6x5xf32>
// LAST: %[[FLAT:.*]] = gpipe.reshape %[[T]] {shape = array<i64: 6>} : (tensor<2x3xi64>) -> tensor<6xi64>
// LAST: gpipe.softmax_cross_entropy %[[ROWS]], %[[FLAT]] {reduction = #gpipe.reduction<mean>} : (tensor<6x5xf32>, tensor<6xi64>)

// NLL: %[[ROWS:.*]] = gpipe.reshape %{{.*}} {shape = array<i64: 6, 5>}
// NLL: %[[FLAT:.*]] = gpipe.reshape %{{.*}} {shape = array<i64: 6>}
// NLL: gpipe.nll_loss %[[ROWS]], %[[FLAT]]

// Classes at dimension 1 need neither: scores [2, 3, 5] with 3 classes and
// labels [2, 5].
// SECOND-LABEL: func.func @train_step
// SECOND-SAME: tensor<2x5xi64> {gpipe.name = "labels"}
// SECOND-NOT: gpipe.reshape
// SECOND: gpipe.softmax_cross_entropy %{{.*}}, %{{.*}} {reduction = #gpipe.reduction<mean>} : (tensor<2x3x5xf32>, tensor<2x5xi64>)
