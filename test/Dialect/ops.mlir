// RUN: gpipe-opt %s | gpipe-opt | FileCheck %s
// RUN: gpipe-opt %s --mlir-print-op-generic | gpipe-opt | FileCheck %s

// CHECK: gpipe.param @fc.weight : tensor<4x8xf32> {file = "/models/m.onnx", initializer = "fc.weight"}
gpipe.param @fc.weight : tensor<4x8xf32> {file = "/models/m.onnx", initializer = "fc.weight"}
// CHECK: gpipe.param @fc.weight.m : tensor<4x8xf32> {zero_init}
gpipe.param @fc.weight.m : tensor<4x8xf32> {zero_init}

// CHECK-LABEL: func.func @state
func.func @state(%v: tensor<4x8xf32>) {
  // CHECK: gpipe.set_param @fc.weight.m, %{{.*}} : tensor<4x8xf32>
  gpipe.set_param @fc.weight.m, %v : tensor<4x8xf32>
  return
}

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<2x3xf32>, %b: tensor<2x3xi1>, %i: tensor<2x3xi64>) -> tensor<2x3xf32> {
  // CHECK: gpipe.neg %{{.*}} : tensor<2x3xf32>
  %0 = gpipe.neg %x : tensor<2x3xf32>
  // CHECK: gpipe.abs %{{.*}} : tensor<2x3xi64>
  %1 = gpipe.abs %i : tensor<2x3xi64>
  // CHECK: gpipe.sqrt
  %2 = gpipe.sqrt %0 : tensor<2x3xf32>
  // CHECK: gpipe.exp
  %3 = gpipe.exp %2 : tensor<2x3xf32>
  // CHECK: gpipe.log
  %4 = gpipe.log %3 : tensor<2x3xf32>
  // CHECK: gpipe.reciprocal
  %5 = gpipe.reciprocal %4 : tensor<2x3xf32>
  // CHECK: gpipe.erf
  %6 = gpipe.erf %5 : tensor<2x3xf32>
  // CHECK: gpipe.tanh
  %7 = gpipe.tanh %6 : tensor<2x3xf32>
  // CHECK: gpipe.sigmoid
  %8 = gpipe.sigmoid %7 : tensor<2x3xf32>
  // CHECK: gpipe.relu
  %9 = gpipe.relu %8 : tensor<2x3xf32>
  // CHECK: gpipe.floor
  %10 = gpipe.floor %9 : tensor<2x3xf32>
  // CHECK: gpipe.ceil
  %11 = gpipe.ceil %10 : tensor<2x3xf32>
  // CHECK: gpipe.sin
  %12 = gpipe.sin %11 : tensor<2x3xf32>
  // CHECK: gpipe.cos
  %13 = gpipe.cos %12 : tensor<2x3xf32>
  // CHECK: gpipe.not %{{.*}} : tensor<2x3xi1>
  %14 = gpipe.not %b : tensor<2x3xi1>
  // CHECK: gpipe.leaky_relu %{{.*}} {alpha = 0.00999999977 : f32} : tensor<2x3xf32>
  %15 = gpipe.leaky_relu %13 {alpha = 0.01 : f32} : tensor<2x3xf32>
  // CHECK: gpipe.gelu %{{.*}} {approximation = #gpipe.gelu_approximation<tanh>} : tensor<2x3xf32>
  %16 = gpipe.gelu %15 {approximation = #gpipe.gelu_approximation<tanh>} : tensor<2x3xf32>
  // CHECK: gpipe.clip %{{.*}} {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32} : tensor<2x3xf32>
  %17 = gpipe.clip %16 {min = 0.0 : f32, max = 6.0 : f32} : tensor<2x3xf32>
  // CHECK: gpipe.clip %{{.*}} {min = 0.000000e+00 : f32} : tensor<2x3xf32>
  %18 = gpipe.clip %17 {min = 0.0 : f32} : tensor<2x3xf32>
  // CHECK: gpipe.cast %{{.*}} {to = i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  %19 = gpipe.cast %18 {to = i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  return %18 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @binary
func.func @binary(%x: tensor<2x3xf32>, %y: tensor<3xf32>, %c: tensor<2x1xi1>, %b: tensor<2x3xi1>) -> tensor<2x3xf32> {
  // CHECK: gpipe.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = gpipe.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.sub
  %1 = gpipe.sub %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.mul
  %2 = gpipe.mul %1, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.div
  %3 = gpipe.div %2, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.pow
  %4 = gpipe.pow %3, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.max
  %5 = gpipe.max %4, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.min
  %6 = gpipe.min %5, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.equal %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %7 = gpipe.equal %6, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: gpipe.less
  %8 = gpipe.less %6, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: gpipe.less_equal
  %9 = gpipe.less_equal %6, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: gpipe.greater
  %10 = gpipe.greater %6, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: gpipe.greater_equal
  %11 = gpipe.greater_equal %6, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  // CHECK: gpipe.and
  %12 = gpipe.and %7, %b : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK: gpipe.or
  %13 = gpipe.or %12, %8 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK: gpipe.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x1xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %14 = gpipe.where %c, %6, %y : (tensor<2x1xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: gpipe.mod %{{.*}}, %{{.*}} {fmod = true} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %15 = gpipe.mod %14, %y {fmod = true} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %15 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @integer_mod
func.func @integer_mod(%a: tensor<4xi64>, %b: tensor<i64>) -> tensor<4xi64> {
  // CHECK: gpipe.mod %{{.*}}, %{{.*}} {fmod = false} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  %0 = gpipe.mod %a, %b {fmod = false} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  return %0 : tensor<4xi64>
}

// CHECK-LABEL: func.func @matmul
func.func @matmul(%a: tensor<5x2x3xf32>, %b: tensor<3x4xf32>, %v: tensor<3xf32>, %bias: tensor<4xf32>) -> tensor<5x2x4xf32> {
  // CHECK: gpipe.matmul %{{.*}}, %{{.*}} : (tensor<5x2x3xf32>, tensor<3x4xf32>) -> tensor<5x2x4xf32>
  %0 = gpipe.matmul %a, %b : (tensor<5x2x3xf32>, tensor<3x4xf32>) -> tensor<5x2x4xf32>
  // CHECK: gpipe.matmul %{{.*}}, %{{.*}} : (tensor<5x2x3xf32>, tensor<3xf32>) -> tensor<5x2xf32>
  %1 = gpipe.matmul %a, %v : (tensor<5x2x3xf32>, tensor<3xf32>) -> tensor<5x2xf32>
  %w = gpipe.get_param @fc.weight : tensor<4x8xf32>
  %x = gpipe.constant dense<1.0> : tensor<2x8xf32>
  // CHECK: gpipe.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f32, beta = 5.000000e-01 : f32, trans_a = false, trans_b = true} : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %2 = gpipe.gemm %x, %w, %bias {alpha = 1.0 : f32, beta = 0.5 : f32, trans_a = false, trans_b = true} : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // CHECK: gpipe.gemm %{{.*}}, %{{.*}} {{{.*}}trans_a = true, trans_b = false} : (tensor<8x2xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %xt = gpipe.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x8xf32>) -> tensor<8x2xf32>
  %wt = gpipe.transpose %w {perm = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<8x4xf32>
  %3 = gpipe.gemm %xt, %wt {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = false} : (tensor<8x2xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<5x2x4xf32>
}

// CHECK-LABEL: func.func @conv_pool
func.func @conv_pool(%x: tensor<2x4x9x9xf32>, %w: tensor<8x4x3x3xf32>, %dw: tensor<4x1x3x3xf32>, %b: tensor<8xf32>) -> tensor<2x8x1x1xf32> {
  // CHECK: gpipe.conv %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, groups = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<2x4x9x9xf32>, tensor<8x4x3x3xf32>, tensor<8xf32>) -> tensor<2x8x5x5xf32>
  %0 = gpipe.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x4x9x9xf32>, tensor<8x4x3x3xf32>, tensor<8xf32>) -> tensor<2x8x5x5xf32>
  // Depthwise, dilated, no bias.
  // CHECK: gpipe.conv %{{.*}}, %{{.*}} {dilations = array<i64: 2, 2>, groups = 4 : i64, {{.*}}} : (tensor<2x4x9x9xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x5x5xf32>
  %1 = gpipe.conv %x, %dw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 4 : i64} : (tensor<2x4x9x9xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x5x5xf32>
  // CHECK: gpipe.max_pool %{{.*}} {ceil_mode = true, {{.*}}} : (tensor<2x8x5x5xf32>) -> tensor<2x8x3x3xf32>
  %2 = gpipe.max_pool %0 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = true} : (tensor<2x8x5x5xf32>) -> tensor<2x8x3x3xf32>
  // CHECK: gpipe.avg_pool %{{.*}} {{{.*}}count_include_pad = false{{.*}}} : (tensor<2x8x3x3xf32>) -> tensor<2x8x3x3xf32>
  %3 = gpipe.avg_pool %2 {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, ceil_mode = false, count_include_pad = false} : (tensor<2x8x3x3xf32>) -> tensor<2x8x3x3xf32>
  // CHECK: gpipe.global_avg_pool %{{.*}} : (tensor<2x8x3x3xf32>) -> tensor<2x8x1x1xf32>
  %4 = gpipe.global_avg_pool %3 : (tensor<2x8x3x3xf32>) -> tensor<2x8x1x1xf32>
  // CHECK: gpipe.global_max_pool
  %5 = gpipe.global_max_pool %3 : (tensor<2x8x3x3xf32>) -> tensor<2x8x1x1xf32>
  return %4 : tensor<2x8x1x1xf32>
}

// CHECK-LABEL: func.func @normalization
func.func @normalization(%x: tensor<2x4x3x3xf32>, %c: tensor<4xf32>, %s: tensor<3x16xf32>, %g: tensor<16xf32>, %rng: tensor<2xi64>) -> tensor<2x4x3x3xf32> {
  // CHECK: gpipe.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32}
  %0 = gpipe.batch_norm %x, %c, %c, %c, %c {epsilon = 1.0e-05 : f32} : (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x3x3xf32>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = gpipe.batch_norm_train {{.*}} -> (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  %1:3 = gpipe.batch_norm_train %x, %c, %c, %c, %c {epsilon = 1.0e-05 : f32, momentum = 0.9 : f32} : (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  // CHECK: gpipe.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  %2 = gpipe.layer_norm %s, %g, %g {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  // CHECK: gpipe.layer_norm %{{.*}}, %{{.*}} {axis = 1 : i64, {{.*}}} : (tensor<3x16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  %3 = gpipe.layer_norm %s, %g {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<3x16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  // CHECK: gpipe.softmax %{{.*}} {axis = 1 : i64}
  %4 = gpipe.softmax %3 {axis = 1 : i64} : (tensor<3x16xf32>) -> tensor<3x16xf32>
  // CHECK: gpipe.log_softmax %{{.*}} {axis = 0 : i64}
  %5 = gpipe.log_softmax %4 {axis = 0 : i64} : (tensor<3x16xf32>) -> tensor<3x16xf32>
  // CHECK: %{{.*}}, %{{.*}} = gpipe.dropout %{{.*}} {ratio = 1.000000e-01 : f32, seed = 7 : i64, training = true} : (tensor<3x16xf32>) -> (tensor<3x16xf32>, tensor<3x16xi1>)
  %6:2 = gpipe.dropout %5 {ratio = 0.1 : f32, training = true, seed = 7 : i64} : (tensor<3x16xf32>) -> (tensor<3x16xf32>, tensor<3x16xi1>)
  // CHECK: gpipe.dropout %{{.*}}, %{{.*}} {ratio = 2.000000e-01 : f32, seed = 3 : i64, training = true} : (tensor<3x16xf32>, tensor<2xi64>) -> (tensor<3x16xf32>, tensor<3x16xi1>)
  %7:2 = gpipe.dropout %6#0, %rng {ratio = 0.2 : f32, training = true, seed = 3 : i64} : (tensor<3x16xf32>, tensor<2xi64>) -> (tensor<3x16xf32>, tensor<3x16xi1>)
  return %0 : tensor<2x4x3x3xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x3x4xf32>) -> tensor<f32> {
  // CHECK: gpipe.reduce_sum %{{.*}} {axes = array<i64: 1>, keep_dims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %0 = gpipe.reduce_sum %x {axes = array<i64: 1>, keep_dims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  // CHECK: gpipe.reduce_mean %{{.*}} {axes = array<i64: 0, 2>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  %1 = gpipe.reduce_mean %x {axes = array<i64: 0, 2>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  // CHECK: gpipe.reduce_max %{{.*}} {axes = array<i64>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
  %2 = gpipe.reduce_max %x {axes = array<i64>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
  // CHECK: gpipe.reduce_min
  %3 = gpipe.reduce_min %x {axes = array<i64>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
  // CHECK: gpipe.arg_max %{{.*}} {axis = 1 : i64, keep_dims = false, select_last_index = false} : (tensor<2x3x4xf32>) -> tensor<2x4xi64>
  %4 = gpipe.arg_max %x {axis = 1 : i64, keep_dims = false, select_last_index = false} : (tensor<2x3x4xf32>) -> tensor<2x4xi64>
  // CHECK: gpipe.arg_min %{{.*}} {axis = 2 : i64, keep_dims = true, select_last_index = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xi64>
  %5 = gpipe.arg_min %x {axis = 2 : i64, keep_dims = true, select_last_index = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xi64>
  return %2 : tensor<f32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<2x3x4xf32>, %ids: tensor<5xi64>) -> tensor<2x12xf32> {
  // CHECK: gpipe.constant dense<[1, 2]> : tensor<2xi64>
  %c = gpipe.constant dense<[1, 2]> : tensor<2xi64>
  // CHECK: gpipe.reshape %{{.*}} {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %0 = gpipe.reshape %x {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  // CHECK: gpipe.flatten %{{.*}} {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  %1 = gpipe.flatten %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  // CHECK: gpipe.transpose %{{.*}} {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %2 = gpipe.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  // CHECK: gpipe.unsqueeze %{{.*}} {axes = array<i64: 0, 3>} : (tensor<2x3x4xf32>) -> tensor<1x2x3x1x4xf32>
  %3 = gpipe.unsqueeze %x {axes = array<i64: 0, 3>} : (tensor<2x3x4xf32>) -> tensor<1x2x3x1x4xf32>
  // CHECK: gpipe.squeeze %{{.*}} {axes = array<i64: 0, 3>} : (tensor<1x2x3x1x4xf32>) -> tensor<2x3x4xf32>
  %4 = gpipe.squeeze %3 {axes = array<i64: 0, 3>} : (tensor<1x2x3x1x4xf32>) -> tensor<2x3x4xf32>
  // CHECK: gpipe.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  %5 = gpipe.concat %x, %4 {axis = 2 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x8xf32>
  // CHECK: %{{.*}}:2 = gpipe.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 3, 5>} : (tensor<2x3x8xf32>) -> (tensor<2x3x3xf32>, tensor<2x3x5xf32>)
  %6:2 = gpipe.split %5 {axis = 2 : i64, sizes = array<i64: 3, 5>} : (tensor<2x3x8xf32>) -> (tensor<2x3x3xf32>, tensor<2x3x5xf32>)
  // CHECK: gpipe.slice %{{.*}} {ends = array<i64: 2, -1, 4>, starts = array<i64: 0, 2, 1>, steps = array<i64: 1, -1, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x2xf32>
  %7 = gpipe.slice %x {starts = array<i64: 0, 2, 1>, ends = array<i64: 2, -1, 4>, steps = array<i64: 1, -1, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x2xf32>
  // CHECK: gpipe.expand %{{.*}} {shape = array<i64: 5, 1, 1, 1>} : (tensor<2x3x4xf32>) -> tensor<5x2x3x4xf32>
  %8 = gpipe.expand %x {shape = array<i64: 5, 1, 1, 1>} : (tensor<2x3x4xf32>) -> tensor<5x2x3x4xf32>
  // CHECK: gpipe.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<5xi64>) -> tensor<2x5x4xf32>
  %9 = gpipe.gather %x, %ids {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<5xi64>) -> tensor<2x5x4xf32>
  return %1 : tensor<2x12xf32>
}

// CHECK-LABEL: func.func @losses
func.func @losses(%s: tensor<4x10xf32>, %t: tensor<4xi64>, %w: tensor<10xf32>, %s3: tensor<4x10x6xf32>, %t3: tensor<4x6xi32>) -> tensor<f32> {
  // CHECK: gpipe.softmax_cross_entropy %{{.*}}, %{{.*}} {reduction = #gpipe.reduction<mean>} : (tensor<4x10xf32>, tensor<4xi64>) -> tensor<f32>
  %0 = gpipe.softmax_cross_entropy %s, %t {reduction = #gpipe.reduction<mean>} : (tensor<4x10xf32>, tensor<4xi64>) -> tensor<f32>
  // CHECK: gpipe.softmax_cross_entropy %{{.*}}, %{{.*}}, %{{.*}} {ignore_index = -100 : i64, reduction = #gpipe.reduction<none>} : (tensor<4x10x6xf32>, tensor<4x6xi32>, tensor<10xf32>) -> tensor<4x6xf32>
  %1 = gpipe.softmax_cross_entropy %s3, %t3, %w {reduction = #gpipe.reduction<none>, ignore_index = -100 : i64} : (tensor<4x10x6xf32>, tensor<4x6xi32>, tensor<10xf32>) -> tensor<4x6xf32>
  // CHECK: gpipe.nll_loss %{{.*}}, %{{.*}}, %{{.*}} {reduction = #gpipe.reduction<sum>} : (tensor<4x10xf32>, tensor<4xi64>, tensor<10xf32>) -> tensor<f32>
  %2 = gpipe.nll_loss %s, %t, %w {reduction = #gpipe.reduction<sum>} : (tensor<4x10xf32>, tensor<4xi64>, tensor<10xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: gpipe.pipeline @binary attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
// CHECK-NEXT: gpipe.stage_program 0 recomputing [@binary, @binary] {
// CHECK-NEXT: gpipe.forward 0
// CHECK-NEXT: gpipe.send_activation 0 to 1
// CHECK-NEXT: gpipe.recv_gradient 0 from 1
// CHECK-NEXT: gpipe.recompute 0
// CHECK-NEXT: gpipe.backward 0
// CHECK-NEXT: gpipe.optimizer_update
// CHECK: gpipe.stage_program 1 recomputing [@binary, @binary] keeping [@binary, @binary] {
// CHECK-NEXT: gpipe.recv_activation 0 from 0
// CHECK: gpipe.send_gradient 0 to 0
gpipe.pipeline @binary attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
  gpipe.stage_program 0 recomputing [@binary, @binary] {
    gpipe.forward 0
    gpipe.send_activation 0 to 1
    gpipe.recv_gradient 0 from 1
    gpipe.recompute 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
  gpipe.stage_program 1 recomputing [@binary, @binary] keeping [@binary, @binary] {
    gpipe.recv_activation 0 from 0
    gpipe.forward 0
    gpipe.recompute 0
    gpipe.backward 0
    gpipe.send_gradient 0 to 0
    gpipe.optimizer_update
  }
}
