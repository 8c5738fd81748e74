// RUN: gpipe-gradcheck %s | FileCheck %s

// Gradient rules of the matrix, convolution, pooling, normalization and loss
// ops against central differences (f64, step 1e-6, relative error <= 1e-6).

// CHECK-DAG: PASS @matmul_batched:
func.func @matmul_batched(%a: tensor<2x3x4xf64>, %b: tensor<4x5xf64>) -> tensor<2x3x5xf64> {
  %0 = gpipe.matmul %a, %b : (tensor<2x3x4xf64>, tensor<4x5xf64>) -> tensor<2x3x5xf64>
  return %0 : tensor<2x3x5xf64>
}
// A weight matrix shared by every row: the rule's flattened GEMMs.
// CHECK-DAG: PASS @matmul_rank4_by_matrix:
func.func @matmul_rank4_by_matrix(%a: tensor<2x2x3x4xf64>, %b: tensor<4x5xf64>) -> tensor<2x2x3x5xf64> {
  %0 = gpipe.matmul %a, %b : (tensor<2x2x3x4xf64>, tensor<4x5xf64>) -> tensor<2x2x3x5xf64>
  return %0 : tensor<2x2x3x5xf64>
}
// CHECK-DAG: PASS @matmul_matrices:
func.func @matmul_matrices(%a: tensor<3x4xf64>, %b: tensor<4x5xf64>) -> tensor<3x5xf64> {
  %0 = gpipe.matmul %a, %b : (tensor<3x4xf64>, tensor<4x5xf64>) -> tensor<3x5xf64>
  return %0 : tensor<3x5xf64>
}
// Both batched, one broadcast: the general rule.
// CHECK-DAG: PASS @matmul_both_batched:
func.func @matmul_both_batched(%a: tensor<2x3x4xf64>, %b: tensor<1x4x5xf64>) -> tensor<2x3x5xf64> {
  %0 = gpipe.matmul %a, %b : (tensor<2x3x4xf64>, tensor<1x4x5xf64>) -> tensor<2x3x5xf64>
  return %0 : tensor<2x3x5xf64>
}
// CHECK-DAG: PASS @matmul_vectors:
func.func @matmul_vectors(%a: tensor<4xf64>, %b: tensor<2x4x3xf64>, %v: tensor<3xf64>) -> tensor<2xf64> {
  %0 = gpipe.matmul %a, %b : (tensor<4xf64>, tensor<2x4x3xf64>) -> tensor<2x3xf64>
  %1 = gpipe.matmul %0, %v : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2xf64>
  return %1 : tensor<2xf64>
}
// CHECK-DAG: PASS @gemm_nt:
func.func @gemm_nt(%a: tensor<3x4xf64>, %b: tensor<5x4xf64>, %c: tensor<5xf64>) -> tensor<3x5xf64> {
  %0 = gpipe.gemm %a, %b, %c {alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = false, trans_b = true} : (tensor<3x4xf64>, tensor<5x4xf64>, tensor<5xf64>) -> tensor<3x5xf64>
  return %0 : tensor<3x5xf64>
}
// CHECK-DAG: PASS @gemm_tn:
func.func @gemm_tn(%a: tensor<4x3xf64>, %b: tensor<4x5xf64>) -> tensor<3x5xf64> {
  %0 = gpipe.gemm %a, %b {alpha = 1.5 : f32, beta = 1.0 : f32, trans_a = true, trans_b = false} : (tensor<4x3xf64>, tensor<4x5xf64>) -> tensor<3x5xf64>
  return %0 : tensor<3x5xf64>
}
// CHECK-DAG: PASS @conv_strided_padded:
func.func @conv_strided_padded(%x: tensor<2x3x6x5xf64>, %w: tensor<4x3x3x3xf64>, %b: tensor<4xf64>) -> tensor<2x4x3x3xf64> {
  %0 = gpipe.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x6x5xf64>, tensor<4x3x3x3xf64>, tensor<4xf64>) -> tensor<2x4x3x3xf64>
  return %0 : tensor<2x4x3x3xf64>
}
// CHECK-DAG: PASS @conv_depthwise_dilated:
func.func @conv_depthwise_dilated(%x: tensor<1x4x7x7xf64>, %w: tensor<4x1x3x3xf64>) -> tensor<1x4x3x3xf64> {
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 4 : i64} : (tensor<1x4x7x7xf64>, tensor<4x1x3x3xf64>) -> tensor<1x4x3x3xf64>
  return %0 : tensor<1x4x3x3xf64>
}
// CHECK-DAG: PASS @max_pool:
func.func @max_pool(%x: tensor<2x2x5x5xf64>) -> tensor<2x2x3x3xf64> {
  %0 = gpipe.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = true} : (tensor<2x2x5x5xf64>) -> tensor<2x2x3x3xf64>
  return %0 : tensor<2x2x3x3xf64>
}
// CHECK-DAG: PASS @avg_pool:
func.func @avg_pool(%x: tensor<2x2x5x5xf64>) -> tensor<2x2x5x5xf64> {
  %0 = gpipe.avg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, ceil_mode = false, count_include_pad = false} : (tensor<2x2x5x5xf64>) -> tensor<2x2x5x5xf64>
  return %0 : tensor<2x2x5x5xf64>
}
// CHECK-DAG: PASS @global_pools:
func.func @global_pools(%x: tensor<2x3x4x4xf64>) -> tensor<2x3x1x1xf64> {
  %0 = gpipe.global_avg_pool %x : (tensor<2x3x4x4xf64>) -> tensor<2x3x1x1xf64>
  %1 = gpipe.global_max_pool %x : (tensor<2x3x4x4xf64>) -> tensor<2x3x1x1xf64>
  %2 = gpipe.mul %0, %1 : (tensor<2x3x1x1xf64>, tensor<2x3x1x1xf64>) -> tensor<2x3x1x1xf64>
  return %2 : tensor<2x3x1x1xf64>
}
// CHECK-DAG: PASS @batch_norm_inference:
// The running statistics are constants (buffers, as in PyTorch).
func.func @batch_norm_inference(%x: tensor<2x3x2x2xf64>, %s: tensor<3xf64>, %b: tensor<3xf64>, %m: tensor<3xf64> {gradcheck.constant}, %v: tensor<3xf64> {gradcheck.positive, gradcheck.constant}) -> tensor<2x3x2x2xf64> {
  %0 = gpipe.batch_norm %x, %s, %b, %m, %v {epsilon = 1.0e-5 : f32} : (tensor<2x3x2x2xf64>, tensor<3xf64>, tensor<3xf64>, tensor<3xf64>, tensor<3xf64>) -> tensor<2x3x2x2xf64>
  return %0 : tensor<2x3x2x2xf64>
}
// Training mode: through the batch statistics.
// CHECK-DAG: PASS @batch_norm_train:
func.func @batch_norm_train(%x: tensor<3x2x2x2xf64>, %s: tensor<2xf64>, %b: tensor<2xf64>, %m: tensor<2xf64>, %v: tensor<2xf64> {gradcheck.positive}) -> tensor<3x2x2x2xf64> {
  %0:3 = gpipe.batch_norm_train %x, %s, %b, %m, %v {epsilon = 1.0e-5 : f32, momentum = 0.9 : f32} : (tensor<3x2x2x2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) -> (tensor<3x2x2x2xf64>, tensor<2xf64>, tensor<2xf64>)
  return %0#0 : tensor<3x2x2x2xf64>
}
// CHECK-DAG: PASS @layer_norm:
func.func @layer_norm(%x: tensor<2x3x4xf64>, %g: tensor<3x4xf64>, %b: tensor<3x4xf64>) -> tensor<2x3x4xf64> {
  %0 = gpipe.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x3x4xf64>, tensor<3x4xf64>, tensor<3x4xf64>) -> tensor<2x3x4xf64>
  return %0 : tensor<2x3x4xf64>
}
// CHECK-DAG: PASS @softmax_log_softmax:
func.func @softmax_log_softmax(%x: tensor<2x5xf64>) -> tensor<2x5xf64> {
  %0 = gpipe.softmax %x {axis = 1 : i64} : (tensor<2x5xf64>) -> tensor<2x5xf64>
  %1 = gpipe.log_softmax %x {axis = 0 : i64} : (tensor<2x5xf64>) -> tensor<2x5xf64>
  %2 = gpipe.mul %0, %1 : (tensor<2x5xf64>, tensor<2x5xf64>) -> tensor<2x5xf64>
  return %2 : tensor<2x5xf64>
}
// The mask of the forward pass is reused.
// CHECK-DAG: PASS @dropout:
func.func @dropout(%x: tensor<4x6xf64>) -> tensor<4x6xf64> {
  %0:2 = gpipe.dropout %x {ratio = 0.3 : f32, training = true, seed = 5 : i64} : (tensor<4x6xf64>) -> (tensor<4x6xf64>, tensor<4x6xi1>)
  return %0#0 : tensor<4x6xf64>
}
// CHECK-DAG: PASS @cross_entropy:
// Class weights are constants.
func.func @cross_entropy(%s: tensor<4x5xf64>, %t: tensor<4xi64> {gradcheck.int_max = 5}, %w: tensor<5xf64> {gradcheck.positive, gradcheck.constant}) -> tensor<f64> {
  %0 = gpipe.softmax_cross_entropy %s, %t, %w {reduction = #gpipe.reduction<mean>} : (tensor<4x5xf64>, tensor<4xi64>, tensor<5xf64>) -> tensor<f64>
  return %0 : tensor<f64>
}
// CHECK-DAG: PASS @cross_entropy_spatial_ignore:
func.func @cross_entropy_spatial_ignore(%s: tensor<2x3x4xf64>, %t: tensor<2x4xi64> {gradcheck.int_max = 3}) -> tensor<2x4xf64> {
  %0 = gpipe.softmax_cross_entropy %s, %t {reduction = #gpipe.reduction<none>, ignore_index = 1 : i64} : (tensor<2x3x4xf64>, tensor<2x4xi64>) -> tensor<2x4xf64>
  return %0 : tensor<2x4xf64>
}
// CHECK-DAG: PASS @nll_sum:
func.func @nll_sum(%x: tensor<3x4xf64>, %t: tensor<3xi32> {gradcheck.int_max = 4}) -> tensor<f64> {
  %0 = gpipe.nll_loss %x, %t {reduction = #gpipe.reduction<sum>} : (tensor<3x4xf64>, tensor<3xi32>) -> tensor<f64>
  return %0 : tensor<f64>
}
// CHECK: gradcheck: 20 passed, 0 failed
