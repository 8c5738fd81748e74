// RUN: gpipe-opt %s --gpipe-build-training="pipeline-functions=true eval-function=eval" | FileCheck %s

// Training-mode dropout draws from a stream the step's new last argument
// names (gpipe.rng: [step, micro-batch]); the dropout without a seed gets
// the smallest seed the others do not use (0 and 2 are taken: 1); the
// loss function for pipelining takes the same argument; inference-mode
// dropout and the evaluation copy take none.

gpipe.param @w : tensor<4x3xf32> {file = "/m.onnx", initializer = "w"}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = gpipe.get_param @w : tensor<4x3xf32>
  %a:2 = gpipe.dropout %x {ratio = 0.1 : f32, training = true, seed = 0 : i64} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xi1>)
  %0 = gpipe.matmul %a#0, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %1:2 = gpipe.dropout %0 {ratio = 0.5 : f32, training = true} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi1>)
  %2:2 = gpipe.dropout %1#0 {ratio = 0.2 : f32, training = true, seed = 2 : i64} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi1>)
  %3:2 = gpipe.dropout %2#0 {ratio = 0.2 : f32, training = false} : (tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi1>)
  return %3#0 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @main(%{{.*}}: tensor<2x4xf32>) -> tensor<2x3xf32>
// CHECK-LABEL: func.func @eval(%{{.*}}: tensor<2x4xf32>) -> tensor<2x3xf32>
// CHECK-NOT:     gpipe.dropout %{{[^ ]*}}, %
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<2xi64> {gpipe.name = "labels"}, %[[RNG:[^:]*]]: tensor<2xi64> {gpipe.name = "__gpipe.rng", gpipe.rng})
// CHECK:         gpipe.dropout %{{.*}}, %[[RNG]] {ratio = 1.000000e-01 : f32, seed = 0 : i64, training = true}
// CHECK:         gpipe.dropout %{{.*}}, %[[RNG]] {ratio = 5.000000e-01 : f32, seed = 1 : i64, training = true}
// CHECK:         gpipe.dropout %{{.*}}, %[[RNG]] {ratio = 2.000000e-01 : f32, seed = 2 : i64, training = true}
// CHECK:         gpipe.dropout %{{.*}} {ratio = 2.000000e-01 : f32, training = false}
// CHECK-LABEL: func.func @train_step_loss(
// CHECK-SAME:    %{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<2xi64> {gpipe.name = "labels"}, %[[LRNG:[^:]*]]: tensor<2xi64> {gpipe.name = "__gpipe.rng", gpipe.rng})
// CHECK:         gpipe.dropout %{{.*}}, %[[LRNG]] {ratio = 1.000000e-01 : f32, seed = 0 : i64, training = true}
// CHECK:         gpipe.dropout %{{.*}}, %[[LRNG]] {ratio = 5.000000e-01 : f32, seed = 1 : i64, training = true}
