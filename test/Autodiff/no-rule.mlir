// RUN: not gpipe-gradcheck %s 2>&1 | FileCheck %s

// An op on the path from the inputs to the loss without a gradient rule is
// an error at that op (for imported models: the ONNX node), not a crash.

// CHECK: gpipe-gradcheck: error: {{.*}}no-rule.mlir:8:8: cannot differentiate 'gpipe.avg_pool_grad': it has no gradient rule
func.func @second_order(%x: tensor<1x1x2x2xf64>) -> tensor<1x1x4x4xf64> {
  %0 = gpipe.avg_pool_grad %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false, input_shape = array<i64: 1, 1, 4, 4>} : (tensor<1x1x2x2xf64>) -> tensor<1x1x4x4xf64>
  return %0 : tensor<1x1x4x4xf64>
}
// CHECK: gradcheck: 0 passed, 1 failed
