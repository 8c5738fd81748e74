// RUN: gpipe-gradcheck %s | FileCheck %s

// Gradient rules of the reductions and data-movement ops against central
// differences (f64, step 1e-6, relative error <= 1e-6).

// CHECK-DAG: PASS @reduce_sum_mean:
func.func @reduce_sum_mean(%x: tensor<2x3x4xf64>) -> tensor<3xf64> {
  %0 = gpipe.reduce_sum %x {axes = array<i64: 0, 2>, keep_dims = false} : (tensor<2x3x4xf64>) -> tensor<3xf64>
  %1 = gpipe.reduce_mean %x {axes = array<i64: 0, 2>, keep_dims = false} : (tensor<2x3x4xf64>) -> tensor<3xf64>
  %2 = gpipe.mul %0, %1 : (tensor<3xf64>, tensor<3xf64>) -> tensor<3xf64>
  return %2 : tensor<3xf64>
}
// CHECK-DAG: PASS @reduce_max_min:
func.func @reduce_max_min(%x: tensor<2x3x4xf64>) -> tensor<2x1x4xf64> {
  %0 = gpipe.reduce_max %x {axes = array<i64: 1>, keep_dims = true} : (tensor<2x3x4xf64>) -> tensor<2x1x4xf64>
  %1 = gpipe.reduce_min %x {axes = array<i64: 1>, keep_dims = true} : (tensor<2x3x4xf64>) -> tensor<2x1x4xf64>
  %2 = gpipe.add %0, %1 : (tensor<2x1x4xf64>, tensor<2x1x4xf64>) -> tensor<2x1x4xf64>
  return %2 : tensor<2x1x4xf64>
}
// CHECK-DAG: PASS @reshapes:
func.func @reshapes(%x: tensor<2x3x4xf64>) -> tensor<4x1x6xf64> {
  %0 = gpipe.flatten %x {axis = 2 : i64} : (tensor<2x3x4xf64>) -> tensor<6x4xf64>
  %1 = gpipe.reshape %0 {shape = array<i64: 4, 6>} : (tensor<6x4xf64>) -> tensor<4x6xf64>
  %2 = gpipe.unsqueeze %1 {axes = array<i64: 1, 3>} : (tensor<4x6xf64>) -> tensor<4x1x6x1xf64>
  %3 = gpipe.squeeze %2 {axes = array<i64: 3>} : (tensor<4x1x6x1xf64>) -> tensor<4x1x6xf64>
  %4 = gpipe.mul %3, %3 : (tensor<4x1x6xf64>, tensor<4x1x6xf64>) -> tensor<4x1x6xf64>
  return %4 : tensor<4x1x6xf64>
}
// CHECK-DAG: PASS @transpose:
func.func @transpose(%x: tensor<2x3x4xf64>) -> tensor<4x2x3xf64> {
  %0 = gpipe.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf64>) -> tensor<4x2x3xf64>
  %1 = gpipe.exp %0 : tensor<4x2x3xf64>
  return %1 : tensor<4x2x3xf64>
}
// CHECK-DAG: PASS @concat_split:
func.func @concat_split(%a: tensor<2x3xf64>, %b: tensor<2x2xf64>) -> tensor<2x4xf64> {
  %0 = gpipe.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf64>, tensor<2x2xf64>) -> tensor<2x5xf64>
  %1:2 = gpipe.split %0 {axis = 1 : i64, sizes = array<i64: 1, 4>} : (tensor<2x5xf64>) -> (tensor<2x1xf64>, tensor<2x4xf64>)
  %2 = gpipe.mul %1#1, %1#1 : (tensor<2x4xf64>, tensor<2x4xf64>) -> tensor<2x4xf64>
  return %2 : tensor<2x4xf64>
}
// CHECK-DAG: PASS @slice_strided:
func.func @slice_strided(%x: tensor<4x7xf64>) -> tensor<2x3xf64> {
  %0 = gpipe.slice %x {starts = array<i64: 3, 1>, ends = array<i64: 0, 7>, steps = array<i64: -2, 2>} : (tensor<4x7xf64>) -> tensor<2x3xf64>
  %1 = gpipe.mul %0, %0 : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %1 : tensor<2x3xf64>
}
// CHECK-DAG: PASS @expand:
func.func @expand(%x: tensor<3x1xf64>) -> tensor<2x3x4xf64> {
  %0 = gpipe.expand %x {shape = array<i64: 2, 1, 4>} : (tensor<3x1xf64>) -> tensor<2x3x4xf64>
  %1 = gpipe.sin %0 : tensor<2x3x4xf64>
  return %1 : tensor<2x3x4xf64>
}
// Repeated indices accumulate into the embedding table's gradient.
// CHECK-DAG: PASS @gather_embedding:
func.func @gather_embedding(%table: tensor<5x3xf64>, %ids: tensor<2x4xi64> {gradcheck.int_max = 5}) -> tensor<2x4x3xf64> {
  %0 = gpipe.gather %table, %ids {axis = 0 : i64} : (tensor<5x3xf64>, tensor<2x4xi64>) -> tensor<2x4x3xf64>
  %1 = gpipe.mul %0, %0 : (tensor<2x4x3xf64>, tensor<2x4x3xf64>) -> tensor<2x4x3xf64>
  return %1 : tensor<2x4x3xf64>
}
// CHECK-DAG: PASS @gather_axis1:
func.func @gather_axis1(%x: tensor<2x5x3xf64>, %ids: tensor<4xi32> {gradcheck.int_max = 5}) -> tensor<2x4x3xf64> {
  %0 = gpipe.gather %x, %ids {axis = 1 : i64} : (tensor<2x5x3xf64>, tensor<4xi32>) -> tensor<2x4x3xf64>
  return %0 : tensor<2x4x3xf64>
}
// CHECK: gradcheck: 9 passed, 0 failed
