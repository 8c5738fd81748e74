// RUN: not gpipe-opt %s --gpipe-build-training="optimizer=rmsprop" 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not gpipe-opt %s --gpipe-build-training="loss=hinge" 2>&1 | FileCheck %s --check-prefix=LOSS
// RUN: not gpipe-opt %s --gpipe-build-training="lr=0" 2>&1 | FileCheck %s --check-prefix=LR
// RUN: not gpipe-opt %s --gpipe-build-training="frozen=nope" 2>&1 | FileCheck %s --check-prefix=FROZEN
// RUN: not gpipe-opt %s --gpipe-build-training="function=forward" 2>&1 | FileCheck %s --check-prefix=FUNC
// RUN: not gpipe-opt %s --gpipe-build-training="loss=output" 2>&1 | FileCheck %s --check-prefix=OUTPUT
// RUN: not gpipe-opt %s --gpipe-build-training="frozen=w" 2>&1 | FileCheck %s --check-prefix=NOTHING

// OPT: error: gpipe-build-training: unknown optimizer 'rmsprop' (sgd, momentum, adam, adamw)
// LOSS: error: gpipe-build-training: unknown loss 'hinge'
// LR: error: gpipe-build-training: lr must be positive
// FROZEN: error: gpipe-build-training: frozen parameter 'nope' is not a parameter of the model
// FUNC: error: gpipe-build-training: the module has no function @forward
// OUTPUT: error: gpipe-build-training: loss=output needs the model's first output to be a float scalar, got 'tensor<2x3xf32>'
// NOTHING: error: gpipe-build-training: the loss depends on no trainable parameter

gpipe.param @w : tensor<3x4xf32> {file = "/m.onnx", initializer = "w"}
func.func @main(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> (tensor<2x3xf32> {gpipe.name = "y"}) {
  %w = gpipe.get_param @w : tensor<3x4xf32>
  %y = gpipe.gemm %x, %w {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
