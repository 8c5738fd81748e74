// RUN: gpipe-opt %s --gpipe-build-training="loss=mse pipeline-functions=true batch-norm=deferred" | FileCheck %s
// RUN: gpipe-opt %s --gpipe-build-training="loss=mse pipeline-functions=true" | FileCheck %s --check-prefix=MICRO
// RUN: not gpipe-opt %s --gpipe-build-training="loss=mse batch-norm=deferred" 2>&1 | FileCheck %s --check-prefix=NOPIPE
// RUN: not gpipe-opt %s --gpipe-build-training="loss=mse pipeline-functions=true batch-norm=later" 2>&1 | FileCheck %s --check-prefix=MODE

// batch-norm=deferred: each micro-batch adds its per-channel mean and mean
// square of the batch norm's input to zero-initialized sums and counts
// itself; the update function turns the sums into the mini-batch's
// statistics, updates the running ones once and clears the sums.
gpipe.param @s : tensor<2xf32> {file = "/m.onnx", initializer = "s"}
gpipe.param @rm : tensor<2xf32> {file = "/m.onnx", initializer = "rm"}
gpipe.param @rv : tensor<2xf32> {file = "/m.onnx", initializer = "rv"}
func.func @main(%x: tensor<4x2x3xf32> {gpipe.name = "x"}) -> (tensor<4x2x3xf32> {gpipe.name = "y"}) {
  %s = gpipe.get_param @s : tensor<2xf32>
  %rm = gpipe.get_param @rm : tensor<2xf32>
  %rv = gpipe.get_param @rv : tensor<2xf32>
  %y:3 = gpipe.batch_norm_train %x, %s, %s, %rm, %rv {epsilon = 1.0e-5 : f32, momentum = 0.9 : f32, unbiased_var_update} : (tensor<4x2x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<4x2x3xf32>, tensor<2xf32>, tensor<2xf32>)
  return %y#0 : tensor<4x2x3xf32>
}

// CHECK-DAG: gpipe.param @rm.minibatch_count : tensor<f32> {zero_init}
// CHECK-DAG: gpipe.param @rv.minibatch_squares : tensor<2xf32> {zero_init}
// CHECK-DAG: gpipe.param @rm.minibatch_sum : tensor<2xf32> {zero_init}

// CHECK-LABEL: func.func @train_step_loss(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x2x3xf32>
// CHECK-NOT: gpipe.set_param @rm,
// 12 values per channel in a micro-batch.
// CHECK-DAG: %[[N:.*]] = gpipe.constant dense<1.200000e+01>
// CHECK-DAG: %[[SUM:.*]] = gpipe.reduce_sum %[[X]] {axes = array<i64: 0, 2>
// CHECK: %[[MEAN:.*]] = gpipe.div %[[SUM]], %[[N]]
// CHECK: %[[SQ:.*]] = gpipe.mul %[[X]], %[[X]]
// CHECK: gpipe.reduce_sum %[[SQ]]
// CHECK: %[[OLD:.*]] = gpipe.get_param @rm.minibatch_sum
// CHECK: %[[NEW:.*]] = gpipe.add %[[OLD]], %[[MEAN]]
// CHECK: gpipe.set_param @rm.minibatch_sum, %[[NEW]]
// CHECK: gpipe.set_param @rv.minibatch_squares
// CHECK: gpipe.set_param @rm.minibatch_count
// CHECK-NOT: gpipe.set_param @rm,
// CHECK: return

// CHECK-LABEL: func.func @train_step_update(
// CHECK: %[[C:.*]] = gpipe.get_param @rm.minibatch_count : tensor<f32>
// CHECK: %[[S:.*]] = gpipe.get_param @rm.minibatch_sum
// CHECK: %[[M:.*]] = gpipe.div %[[S]], %[[C]]
// The unbiased variance over count * 12 values.
// CHECK: gpipe.constant dense<1.200000e+01>
// CHECK: gpipe.set_param @rm,
// CHECK: gpipe.set_param @rv,
// CHECK: gpipe.set_param @rm.minibatch_sum,
// CHECK: gpipe.set_param @rv.minibatch_squares,
// CHECK: gpipe.set_param @rm.minibatch_count,

// The default: the loss function stores the running statistics per
// micro-batch; there are no sums.
// MICRO-NOT: minibatch_sum
// MICRO-LABEL: func.func @train_step_loss(
// MICRO: %{{.*}}, %[[M:.*]], %[[V:.*]] = gpipe.batch_norm_train
// MICRO-NEXT: gpipe.set_param @rm, %[[M]]
// MICRO-NEXT: gpipe.set_param @rv, %[[V]]

// NOPIPE: error: gpipe-build-training: batch-norm=deferred applies to pipeline-functions only
// MODE: error: gpipe-build-training: batch-norm must be micro-batch or deferred, got 'later'
