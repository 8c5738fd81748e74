// RUN: gpipe-opt %s --gpipe-build-training="optimizer=sgd lr=0.1" | FileCheck %s --check-prefix=SGD
// RUN: gpipe-opt %s --gpipe-build-training="optimizer=adamw eval-function=eval" | FileCheck %s --check-prefix=ADAMW

// Training-mode batch norm stores its running statistics.
gpipe.param @s : tensor<2xf32> {file = "/m.onnx", initializer = "s"}
gpipe.param @rm : tensor<2xf32> {file = "/m.onnx", initializer = "rm"}
gpipe.param @rv : tensor<2xf32> {file = "/m.onnx", initializer = "rv"}
func.func @main(%x: tensor<4x2xf32> {gpipe.name = "x"}) -> (tensor<4x2xf32> {gpipe.name = "y"}) {
  %s = gpipe.get_param @s : tensor<2xf32>
  %rm = gpipe.get_param @rm : tensor<2xf32>
  %rv = gpipe.get_param @rv : tensor<2xf32>
  %y:3 = gpipe.batch_norm_train %x, %s, %s, %rm, %rv {epsilon = 1.0e-5 : f32, momentum = 0.9 : f32} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>)
  return %y#0 : tensor<4x2xf32>
}
// SGD-LABEL: func.func @train_step(
// SGD: %[[BN:.*]], %[[M:.*]], %[[V:.*]] = gpipe.batch_norm_train
// SGD: gpipe.batch_norm_train_grad
// SGD-DAG: gpipe.set_param @rm, %[[M]]
// SGD-DAG: gpipe.set_param @rv, %[[V]]
// The running statistics get no gradient: they are not trained.
// SGD-NOT: gpipe.set_param @rm, %{{.*}} : tensor<2xf32> {{.*}}sub
// The evaluation copy uses the running statistics.
// ADAMW-LABEL: func.func @eval(
// ADAMW: gpipe.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon
