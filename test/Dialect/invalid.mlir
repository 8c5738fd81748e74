// RUN: gpipe-opt %s -split-input-file -verify-diagnostics

// Every op verifier and shape-function diagnostic, one case each.

func.func @negative_0(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{operand shapes [2, 3] and [4] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @negative_1(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<2x4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_2(%c: tensor<2xi1>, %a: tensor<2xf32>, %b: tensor<2xi64>) {
  // expected-error @+2 {{lhs and rhs have different element types}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.where %c, %a, %b : (tensor<2xi1>, tensor<2xf32>, tensor<2xi64>) -> tensor<2xf32>
  return
}

// -----

func.func @negative_3(%a: tensor<2xf32>) {
  // expected-error @+2 {{target type 'index' is not an integer or float type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.cast %a {to = index} : (tensor<2xf32>) -> tensor<2xindex>
  return
}

// -----

func.func @negative_4(%a: tensor<2xf32>) {
  // expected-error @+1 {{'gpipe.clip' op min 2.000000e+00 is greater than max 1.000000e+00}}
  %0 = gpipe.clip %a {min = 2.0 : f32, max = 1.0 : f32} : tensor<2xf32>
  return
}

// -----

func.func @negative_5(%a: tensor<f32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{operands must have rank >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.matmul %a, %b : (tensor<f32>, tensor<3xf32>) -> tensor<f32>
  return
}

// -----

func.func @negative_6(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+2 {{contracting dimensions differ: [2, 3] x [4, 5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @negative_7(%a: tensor<2x2x3xf32>, %b: tensor<4x3x5xf32>) {
  // expected-error @+2 {{batch dimensions of [2, 2, 3] and [4, 3, 5] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.matmul %a, %b : (tensor<2x2x3xf32>, tensor<4x3x5xf32>) -> tensor<2x2x5xf32>
  return
}

// -----

func.func @negative_8(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+2 {{operands a and b must have rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @negative_9(%a: tensor<2x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+2 {{contracting dimensions differ: op(a) is [2, 4], op(b) is [5, 4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true} : (tensor<2x4xf32>, tensor<4x5xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_10(%a: tensor<2x4xf32>, %b: tensor<4x5xf32>, %c: tensor<3xf32>) {
  // expected-error @+2 {{c of shape [3] does not broadcast to [2, 5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (tensor<2x4xf32>, tensor<4x5xf32>, tensor<3xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @negative_11(%x: tensor<2x3x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{expects a rank-4 NCHW input, got [2, 3, 8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_12(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3xf32>) {
  // expected-error @+2 {{expects a rank-4 OIHW weight, got [4, 3, 3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_13(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{groups 2 must divide input channels 3 and filters 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_14(%x: tensor<2x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+2 {{weight has 2 input channels per group, expected 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_15(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<5xf32>) {
  // expected-error @+2 {{bias must have shape [4], got [5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<5xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_16(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{expects 2 kernel sizes, strides and dilations and 4 pads}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_17(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{kernel sizes, strides and dilations must be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_18(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{pads must be >= 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, -1, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @negative_19(%x: tensor<2x3x4x4xf32>) {
  // expected-error @+2 {{window of 5 does not fit the padded input of 4 in spatial dimension 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.max_pool %x {kernel = array<i64: 5, 5>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<2x3x4x4xf32>) -> tensor<2x3x1x1xf32>
  return
}

// -----

func.func @negative_20(%x: tensor<4xf32>, %c: tensor<4xf32>) {
  // expected-error @+2 {{expects an input of rank >= 2, got [4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.batch_norm %x, %c, %c, %c, %c {epsilon = 1.0e-5 : f32} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @negative_21(%x: tensor<2x4xf32>, %c: tensor<3xf32>) {
  // expected-error @+2 {{per-channel operands must have shape [4], got [3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.batch_norm %x, %c, %c, %c, %c {epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_22(%x: tensor<2x4xf32>, %c: tensor<4xf32>) {
  // expected-error @+2 {{momentum 1.500000e+00 is outside [0, 1]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:3 = gpipe.batch_norm_train %x, %c, %c, %c, %c {epsilon = 1.0e-5 : f32, momentum = 1.5 : f32} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @negative_23(%x: tensor<2x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+2 {{axis 2 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_24(%x: tensor<2x4xf32>, %g: tensor<3xf32>) {
  // expected-error @+2 {{scale and bias must have shape [4], got [3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_25(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{axis -1 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.softmax %x {axis = -1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_26(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{ratio 1.000000e+00 is outside [0, 1)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = gpipe.dropout %x {ratio = 1.0 : f32, training = true} : (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xi1>)
  return
}

// -----

func.func @dropout_stream(%x: tensor<2x4xf32>, %r: tensor<3xi64>) {
  // expected-error @+1 {{'gpipe.dropout' op rng must be tensor<2xi64> (stream, part), got 'tensor<3xi64>'}}
  %0:2 = gpipe.dropout %x, %r {ratio = 0.5 : f32, training = true} : (tensor<2x4xf32>, tensor<3xi64>) -> (tensor<2x4xf32>, tensor<2x4xi1>)
  return
}

// -----

func.func @negative_27(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{axes must be sorted, unique and in [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.reduce_sum %x {axes = array<i64: 1, 0>, keep_dims = true} : (tensor<2x4xf32>) -> tensor<1x1xf32>
  return
}

// -----

func.func @negative_28() {
  // expected-error @+1 {{value must be a ranked tensor}}
  %0 = gpipe.constant dense<1.0> : vector<2xf32>
  return
}

// -----

func.func @negative_29(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{shape [-1, 4] has a negative dimension}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.reshape %x {shape = array<i64: -1, 4>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_30(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{cannot reshape [2, 4] (8 elements) to [3, 4] (12 elements)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.reshape %x {shape = array<i64: 3, 4>} : (tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @negative_31(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{axis 3 is out of range [0, 2]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.flatten %x {axis = 3 : i64} : (tensor<2x4xf32>) -> tensor<8x1xf32>
  return
}

// -----

func.func @negative_32(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{perm has 1 entries for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.transpose %x {perm = array<i64: 0>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @negative_33(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{perm [1, 1] is not a permutation}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.transpose %x {perm = array<i64: 1, 1>} : (tensor<2x4xf32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @negative_34(%x: tensor<2x1xf32>) {
  // expected-error @+2 {{axes must be sorted, unique and in [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.squeeze %x {axes = array<i64: 2>} : (tensor<2x1xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @negative_35(%x: tensor<2x1xf32>) {
  // expected-error @+2 {{cannot squeeze dimension 0 of size 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.squeeze %x {axes = array<i64: 0>} : (tensor<2x1xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @negative_36(%x: tensor<2xf32>) {
  // expected-error @+2 {{axes must be sorted, unique and in [0, 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.unsqueeze %x {axes = array<i64: 3>} : (tensor<2xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @negative_37() {
  // expected-error @+1 {{expected 1 or more operands, but found 0}}
  %0 = gpipe.concat {axis = 0 : i64} : () -> tensor<2xf32>
  return
}

// -----

func.func @negative_38(%x: tensor<2xf32>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.concat %x, %x {axis = 1 : i64} : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @negative_39(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>) {
  // expected-error @+2 {{input shapes [2, 3] and [2, 4] differ off axis 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.concat %x, %y {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @negative_40(%x: tensor<2xf32>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = gpipe.split %x {axis = 1 : i64, sizes = array<i64: 1, 1>} : (tensor<2xf32>) -> (tensor<1xf32>, tensor<1xf32>)
  return
}

// -----

func.func @negative_41(%x: tensor<2xf32>) {
  // expected-error @+2 {{sizes must be >= 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = gpipe.split %x {axis = 0 : i64, sizes = array<i64: 3, -1>} : (tensor<2xf32>) -> (tensor<3xf32>, tensor<1xf32>)
  return
}

// -----

func.func @negative_42(%x: tensor<2xf32>) {
  // expected-error @+2 {{sizes [1, 2] do not add up to 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = gpipe.split %x {axis = 0 : i64, sizes = array<i64: 1, 2>} : (tensor<2xf32>) -> (tensor<1xf32>, tensor<2xf32>)
  return
}

// -----

func.func @negative_43(%x: tensor<2x2xf32>) {
  // expected-error @+2 {{starts, ends and steps need one entry per dimension (2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.slice %x {starts = array<i64: 0>, ends = array<i64: 1>, steps = array<i64: 1>} : (tensor<2x2xf32>) -> tensor<1x2xf32>
  return
}

// -----

func.func @negative_44(%x: tensor<2xf32>) {
  // expected-error @+2 {{step of dimension 0 is 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.slice %x {starts = array<i64: 0>, ends = array<i64: 1>, steps = array<i64: 0>} : (tensor<2xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @negative_45(%x: tensor<2xf32>) {
  // expected-error @+2 {{bounds [0, 5) of dimension 0 are not clamped to its size 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.slice %x {starts = array<i64: 0>, ends = array<i64: 5>, steps = array<i64: 1>} : (tensor<2xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @negative_46(%x: tensor<2xf32>) {
  // expected-error @+2 {{cannot expand [2] to [3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.expand %x {shape = array<i64: 3>} : (tensor<2xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @negative_47(%x: tensor<2xf32>, %i: tensor<3xi64>) {
  // expected-error @+2 {{axis 1 is out of range for rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.gather %x, %i {axis = 1 : i64} : (tensor<2xf32>, tensor<3xi64>) -> tensor<3xf32>
  return
}

// -----

func.func @negative_48(%s: tensor<4xf32>, %t: tensor<4xi64>) {
  // expected-error @+2 {{expects scores of rank >= 2, got [4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.softmax_cross_entropy %s, %t {reduction = #gpipe.reduction<mean>} : (tensor<4xf32>, tensor<4xi64>) -> tensor<f32>
  return
}

// -----

func.func @negative_49(%s: tensor<4x10xf32>, %t: tensor<5xi64>) {
  // expected-error @+2 {{labels must have shape [4], got [5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.softmax_cross_entropy %s, %t {reduction = #gpipe.reduction<mean>} : (tensor<4x10xf32>, tensor<5xi64>) -> tensor<f32>
  return
}

// -----

func.func @negative_50(%s: tensor<4x10xf32>, %t: tensor<4xi64>, %w: tensor<9xf32>) {
  // expected-error @+2 {{weights must have shape [10], got [9]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.nll_loss %s, %t, %w {reduction = #gpipe.reduction<sum>} : (tensor<4x10xf32>, tensor<4xi64>, tensor<9xf32>) -> tensor<f32>
  return
}

// -----

// expected-error @+1 {{'gpipe.param' op parameter type must be statically shaped, got 'tensor<?x4xf32>'}}
gpipe.param @p : tensor<?x4xf32> {file = "/m.onnx", initializer = "p"}

// -----

// expected-error @+1 {{'gpipe.param' op needs the file that holds the parameter's values}}
gpipe.param @p : tensor<4xf32> {file = "", initializer = "p"}

// -----

func.func @negative_missing_param() -> tensor<4xf32> {
  // expected-error @+1 {{'gpipe.get_param' op 'nope' does not name a gpipe.param}}
  %0 = gpipe.get_param @nope : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

gpipe.param @p : tensor<4xf32> {file = "/m.onnx", initializer = "p"}
func.func @negative_param_type() -> tensor<5xf32> {
  // expected-error @+1 {{'gpipe.get_param' op type 'tensor<5xf32>' differs from the parameter's type 'tensor<4xf32>'}}
  %0 = gpipe.get_param @p : tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// expected-error @+1 {{'gpipe.param' op needs either a file and an initializer, or zero_init}}
gpipe.param @p : tensor<4xf32> {file = "/m.onnx", initializer = "p", zero_init}

// -----

gpipe.param @p : tensor<4xf32> {zero_init}
func.func @negative_set_param_type(%v: tensor<3xf32>) {
  // expected-error @+1 {{'gpipe.set_param' op type 'tensor<3xf32>' differs from the parameter's type 'tensor<4xf32>'}}
  gpipe.set_param @p, %v : tensor<3xf32>
  return
}

// -----

func.func @negative_set_missing(%v: tensor<3xf32>) {
  // expected-error @+1 {{'gpipe.set_param' op 'q' does not name a gpipe.param}}
  gpipe.set_param @q, %v : tensor<3xf32>
  return
}

// -----

func.func @negative_arg_max_axis(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{'gpipe.arg_max' op axis 2 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.arg_max %x {axis = 2 : i64, keep_dims = false, select_last_index = false} : (tensor<2x4xf32>) -> tensor<2xi64>
  return
}

// -----

func.func @negative_arg_min_empty(%x: tensor<2x0xf32>) {
  // expected-error @+2 {{'gpipe.arg_min' op cannot take the index of an extreme over an empty axis}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gpipe.arg_min %x {axis = 1 : i64, keep_dims = false, select_last_index = false} : (tensor<2x0xf32>) -> tensor<2xi64>
  return
}

// -----

func.func @negative_float_mod(%a: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{'gpipe.mod' op float operands need fmod = true}}
  %0 = gpipe.mod %a, %b {fmod = false} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @f() {
  return
}
// Stage 1 waits for a gradient that stage 0 sends only after it receives
// one from stage 1: a deadlock.
// expected-error @+1 {{'gpipe.pipeline' op the schedule deadlocks: stage 0 waits at recv gradient of micro-batch 0 from stage 1; stage 1 waits at recv activation of micro-batch 0 from stage 0}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.recv_gradient 0 from 1
    gpipe.send_activation 0 to 1
    gpipe.backward 0
    gpipe.optimizer_update
  }
  gpipe.stage_program 1 {
    gpipe.recv_activation 0 from 0
    gpipe.forward 0
    gpipe.backward 0
    gpipe.send_gradient 0 to 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op stage 0 runs the forward of micro-batch 1 0 times and its backward 1 times; each must run once}}
gpipe.pipeline @f attributes {micro_batches = 2 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.backward 1
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op stage programs must be numbered 0, 1, ... in order; found stage 1 where 0 belongs}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 1 {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

// expected-error @+1 {{'gpipe.pipeline' op names no function @nope}}
gpipe.pipeline @nope attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 keeping [@nope_forward, @nope_backward] {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op schedule must be gpipe or 1f1b, got 'zigzag'}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "zigzag"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op recompute must be none, full, except-last or auto, got 'some'}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "some", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op stage 0 names micro-batch 2 of 1}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 2
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op stage 0 exchanges with stage 3 of 1}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.send_activation 0 to 3
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// expected-error @+1 {{'gpipe.pipeline' op stage 0 updates 2 times; once per mini-batch}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}
// Stage 1 receives micro-batch 1 where stage 0 sends micro-batch 0 first.
// expected-error @+1 {{'gpipe.pipeline' op stage 0 sends activations to stage 1 in another order than it receives them}}
gpipe.pipeline @f attributes {micro_batches = 2 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 {
    gpipe.forward 0
    gpipe.send_activation 0 to 1
    gpipe.forward 1
    gpipe.send_activation 1 to 1
    gpipe.recv_gradient 1 from 1
    gpipe.backward 1
    gpipe.recv_gradient 0 from 1
    gpipe.backward 0
    gpipe.optimizer_update
  }
  gpipe.stage_program 1 {
    gpipe.recv_activation 1 from 0
    gpipe.forward 1
    gpipe.recv_activation 0 from 0
    gpipe.forward 0
    gpipe.backward 1
    gpipe.send_gradient 1 to 0
    gpipe.backward 0
    gpipe.send_gradient 0 to 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}

// expected-error @+1 {{'gpipe.pipeline' op stage 0 recomputes the activations of micro-batch 0 but names no recomputing functions}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
  gpipe.stage_program 0 keeping [@f, @f] {
    gpipe.forward 0
    gpipe.recompute 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}

// expected-error @+1 {{'gpipe.pipeline' op stage 0 names 1 keeping functions; it takes [forward, backward]}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 keeping [@f] {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}

// -----

func.func @f() {
  return
}

// expected-error @+1 {{'gpipe.pipeline' op stage 0 names no function @f_backward_keep}}
gpipe.pipeline @f attributes {micro_batches = 1 : i64, recompute = "none", schedule = "gpipe"} {
  gpipe.stage_program 0 keeping [@f, @f_backward_keep] {
    gpipe.forward 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}
