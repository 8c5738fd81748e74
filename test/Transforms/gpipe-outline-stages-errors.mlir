// RUN: not gpipe-opt %s --gpipe-outline-stages 2>&1 | FileCheck %s --check-prefix=UNPARTITIONED
// RUN: not gpipe-opt %s --gpipe-outline-stages="function=nope" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json" -o %t.mlir
// RUN: not gpipe-opt %t.mlir --gpipe-outline-stages --gpipe-outline-stages 2>&1 | FileCheck %s --check-prefix=TWICE

// UNPARTITIONED: error: gpipe-outline-stages: function 'main' is not partitioned; run gpipe-partition first
// MISSING: error: gpipe-outline-stages: {{.*}}nope
// TWICE: error: gpipe-outline-stages: symbol 'main_stage0_forward' already exists

gpipe.param @w1 : tensor<4x4xf32> {file = "/m.onnx", initializer = "w1"}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w1 = gpipe.get_param @w1 : tensor<4x4xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %1 = gpipe.tanh %0 : tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}
