// RUN: gpipe-opt %s --gpipe-fold-linear | FileCheck %s

gpipe.param @w : tensor<5x4xf32> {file = "/m.onnx", initializer = "w"}
gpipe.param @b : tensor<5xf32> {file = "/m.onnx", initializer = "b"}

// nn.Linear on [batch, seq, features] as PyTorch exports it: the weight's
// transpose and the bias fold into one GEMM over the rows of every batch
// entry; the bias read after the product is still read before the GEMM.
// CHECK-LABEL: func.func @linear3d
// CHECK-NOT: gpipe.transpose
// CHECK: %[[W:.*]] = gpipe.get_param @w
// CHECK: %[[B:.*]] = gpipe.get_param @b
// CHECK: %[[X:.*]] = gpipe.reshape %arg0 {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK: %[[G:.*]] = gpipe.gemm %[[X]], %[[W]], %[[B]] {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = false, trans_b = true} : (tensor<6x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<6x5xf32>
// CHECK: %[[Y:.*]] = gpipe.reshape %[[G]] {shape = array<i64: 2, 3, 5>} : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
// CHECK-NOT: gpipe.add
// CHECK: return %[[Y]]
func.func @linear3d(%x: tensor<2x3x4xf32>) -> tensor<2x3x5xf32> {
  %w = gpipe.get_param @w : tensor<5x4xf32>
  %t = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %y = gpipe.matmul %x, %t : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  %b = gpipe.get_param @b : tensor<5xf32>
  %z = gpipe.add %b, %y : (tensor<5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  return %z : tensor<2x3x5xf32>
}

// A weight stored as [K, N] (no transpose) with a [1, N] bias: the bias is
// seen as [N]. Matrices need no reshape of the input.
// CHECK-LABEL: func.func @plain_weight
// CHECK: %[[B:.*]] = gpipe.reshape %arg2 {shape = array<i64: 5>} : (tensor<1x5xf32>) -> tensor<5xf32>
// CHECK: gpipe.gemm %arg0, %arg1, %[[B]] {{.*}}beta = 1.000000e+00 : f32, trans_a = false, trans_b = false} : (tensor<3x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
// CHECK-NOT: gpipe.reshape
// CHECK: return
func.func @plain_weight(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<1x5xf32>) -> tensor<3x5xf32> {
  %y = gpipe.matmul %x, %w : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %z = gpipe.add %y, %b : (tensor<3x5xf32>, tensor<1x5xf32>) -> tensor<3x5xf32>
  return %z : tensor<3x5xf32>
}

// A transpose read elsewhere too stays; a product read twice keeps its add
// (the bias is not folded); a column bias [3, 1] is no bias row.
// CHECK-LABEL: func.func @shared
// CHECK: %[[T:.*]] = gpipe.transpose %arg1
// CHECK-NEXT: %[[G:.*]] = gpipe.gemm %arg0, %arg1 {{.*}}beta = 0.000000e+00 : f32, trans_a = false, trans_b = true} : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>
// CHECK-NEXT: %[[A:.*]] = gpipe.add %[[G]], %arg2
// CHECK-NEXT: %[[G2:.*]] = gpipe.gemm %arg0, %arg1 {{.*}}beta = 0.000000e+00 : f32, trans_a = false, trans_b = true}
// CHECK-NEXT: %[[C:.*]] = gpipe.add %[[G2]], %arg3
// CHECK-NEXT: return %[[A]], %[[G]], %[[T]], %[[C]]
func.func @shared(%x: tensor<3x4xf32>, %w: tensor<5x4xf32>, %b: tensor<5xf32>, %col: tensor<3x1xf32>) -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<4x5xf32>, tensor<3x5xf32>) {
  %t = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %y = gpipe.matmul %x, %t : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %z = gpipe.add %y, %b : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  %y2 = gpipe.matmul %x, %t : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %c = gpipe.add %y2, %col : (tensor<3x5xf32>, tensor<3x1xf32>) -> tensor<3x5xf32>
  return %z, %y, %t, %c : tensor<3x5xf32>, tensor<3x5xf32>, tensor<4x5xf32>, tensor<3x5xf32>
}

// Left alone: a batched transpose (attention's keys), a product of matrices
// without transpose or bias, a vector left operand, f64.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: gpipe.gemm
// CHECK-COUNT-5: gpipe.matmul
func.func @untouched(%q: tensor<2x3x4xf32>, %k: tensor<2x3x4xf32>, %w: tensor<4x5xf32>, %v: tensor<4xf32>, %d: tensor<3x4xf64>, %e: tensor<5x4xf64>, %m: tensor<3x4xf32>) -> (tensor<2x3x3xf32>, tensor<3x5xf32>, tensor<4xf32>, tensor<3x5xf64>, tensor<5xf32>) {
  %kt = gpipe.transpose %k {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %s = gpipe.matmul %q, %kt : (tensor<2x3x4xf32>, tensor<2x4x3xf32>) -> tensor<2x3x3xf32>
  %y = gpipe.matmul %m, %w : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %wt = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<4x5xf32>) -> tensor<5x4xf32>
  %z = gpipe.matmul %v, %w : (tensor<4xf32>, tensor<4x5xf32>) -> tensor<5xf32>
  %u = gpipe.matmul %z, %wt : (tensor<5xf32>, tensor<5x4xf32>) -> tensor<4xf32>
  %et = gpipe.transpose %e {perm = array<i64: 1, 0>} : (tensor<5x4xf64>) -> tensor<4x5xf64>
  %f = gpipe.matmul %d, %et : (tensor<3x4xf64>, tensor<4x5xf64>) -> tensor<3x5xf64>
  return %s, %y, %u, %f, %z : tensor<2x3x3xf32>, tensor<3x5xf32>, tensor<4xf32>, tensor<3x5xf64>, tensor<5xf32>
}
