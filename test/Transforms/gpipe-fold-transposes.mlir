// RUN: gpipe-opt %s --gpipe-fold-transposes | FileCheck %s

// nn.Linear on [batch, seq, features] as PyTorch exports it: the weight's
// transpose folds into one GEMM over the rows of every batch entry.
// CHECK-LABEL: func.func @linear3d
// CHECK-NOT: gpipe.transpose
// CHECK: %[[W:.*]] = gpipe.get_param @w
// CHECK: %[[X:.*]] = gpipe.reshape %arg0 {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK: %[[G:.*]] = gpipe.gemm %[[X]], %[[W]] {alpha = 1.000000e+00 : f32, beta = 0.000000e+00 : f32, trans_a = false, trans_b = true} : (tensor<6x4xf32>, tensor<5x4xf32>) -> tensor<6x5xf32>
// CHECK: %[[Y:.*]] = gpipe.reshape %[[G]] {shape = array<i64: 2, 3, 5>} : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
// CHECK: return %[[Y]]
gpipe.param @w : tensor<5x4xf32> {file = "/m.onnx", initializer = "w"}
func.func @linear3d(%x: tensor<2x3x4xf32>) -> tensor<2x3x5xf32> {
  %w = gpipe.get_param @w : tensor<5x4xf32>
  %t = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %y = gpipe.matmul %x, %t : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// Matrices need no reshape; a transpose read elsewhere too stays.
// CHECK-LABEL: func.func @matrix_and_shared
// CHECK: %[[T:.*]] = gpipe.transpose %arg1
// CHECK-NEXT: %[[G:.*]] = gpipe.gemm %arg0, %arg1 {{.*}}trans_b = true} : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>
// CHECK-NEXT: return %[[G]], %[[T]]
func.func @matrix_and_shared(%x: tensor<3x4xf32>, %w: tensor<5x4xf32>) -> (tensor<3x5xf32>, tensor<4x5xf32>) {
  %t = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %y = gpipe.matmul %x, %t : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return %y, %t : tensor<3x5xf32>, tensor<4x5xf32>
}

// Left alone: a batched transpose (attention's keys), a right operand that
// is no transpose, a vector left operand, f64.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: gpipe.gemm
// CHECK-COUNT-5: gpipe.matmul
func.func @untouched(%q: tensor<2x3x4xf32>, %k: tensor<2x3x4xf32>, %w: tensor<4x5xf32>, %v: tensor<4xf32>, %d: tensor<3x4xf64>, %e: tensor<5x4xf64>) -> (tensor<2x3x3xf32>, tensor<2x3x5xf32>, tensor<4xf32>, tensor<3x5xf64>) {
  %kt = gpipe.transpose %k {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %s = gpipe.matmul %q, %kt : (tensor<2x3x4xf32>, tensor<2x4x3xf32>) -> tensor<2x3x3xf32>
  %y = gpipe.matmul %q, %w : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  %wt = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<4x5xf32>) -> tensor<5x4xf32>
  %z = gpipe.matmul %v, %w : (tensor<4xf32>, tensor<4x5xf32>) -> tensor<5xf32>
  %u = gpipe.matmul %z, %wt : (tensor<5xf32>, tensor<5x4xf32>) -> tensor<4xf32>
  %et = gpipe.transpose %e {perm = array<i64: 1, 0>} : (tensor<5x4xf64>) -> tensor<4x5xf64>
  %f = gpipe.matmul %d, %et : (tensor<3x4xf64>, tensor<4x5xf64>) -> tensor<3x5xf64>
  return %s, %y, %u, %f : tensor<2x3x3xf32>, tensor<2x3x5xf32>, tensor<4xf32>, tensor<3x5xf64>
}
