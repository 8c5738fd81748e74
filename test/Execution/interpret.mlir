// RUN: gpipe-run %s --print-outputs --output-dir %t | FileCheck %s

// The interpreter executes each op family on small constants; the expected
// values are worked out by hand.

// CHECK: sum: f32[2, 3] = {{\[\[}}11, 22, 33], [14, 25, 36]]
// CHECK-NEXT: mm: f32[2, 2] = {{\[\[}}14, 32], [32, 77]]
// CHECK-NEXT: soft: f32[2] = [0.5, 0.5]
// CHECK-NEXT: mask: bool[2, 3] = {{\[\[}}false, false, true], [true, true, true]]
// CHECK-NEXT: picked: i64[2, 2] = {{\[\[}}30, 10], [60, 40]]
// CHECK-NEXT: red: f32[3] = [2.5, 3.5, 4.5]
// CHECK-NEXT: t: f32[3, 2] = {{\[\[}}1, 4], [2, 5], [3, 6]]
// CHECK-NEXT: loss: f32[] = 0.6931472
func.func @main() -> (tensor<2x3xf32> {gpipe.name = "sum"}, tensor<2x2xf32> {gpipe.name = "mm"},
                      tensor<2xf32> {gpipe.name = "soft"}, tensor<2x3xi1> {gpipe.name = "mask"},
                      tensor<2x2xi64> {gpipe.name = "picked"}, tensor<3xf32> {gpipe.name = "red"},
                      tensor<3x2xf32> {gpipe.name = "t"}, tensor<f32> {gpipe.name = "loss"}) {
  %x = gpipe.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %row = gpipe.constant dense<[10.0, 20.0, 30.0]> : tensor<3xf32>
  %sum = gpipe.add %x, %row : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %xt = gpipe.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %mm = gpipe.matmul %x, %xt : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
  %z = gpipe.constant dense<[3.0, 3.0]> : tensor<2xf32>
  %soft = gpipe.softmax %z {axis = 0 : i64} : (tensor<2xf32>) -> tensor<2xf32>
  %three = gpipe.constant dense<3.0> : tensor<f32>
  %mask = gpipe.greater_equal %x, %three : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xi1>
  %ints = gpipe.constant dense<[[10, 20, 30], [40, 50, 60]]> : tensor<2x3xi64>
  %idx = gpipe.constant dense<[2, -3]> : tensor<2xi64>
  %picked = gpipe.gather %ints, %idx {axis = 1 : i64} : (tensor<2x3xi64>, tensor<2xi64>) -> tensor<2x2xi64>
  %red = gpipe.reduce_mean %x {axes = array<i64: 0>, keep_dims = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %logits = gpipe.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %label = gpipe.constant dense<[1]> : tensor<1xi64>
  %loss = gpipe.softmax_cross_entropy %logits, %label {reduction = #gpipe.reduction<mean>} : (tensor<1x2xf32>, tensor<1xi64>) -> tensor<f32>
  return %sum, %mm, %soft, %mask, %picked, %red, %xt, %loss : tensor<2x3xf32>, tensor<2x2xf32>, tensor<2xf32>, tensor<2x3xi1>, tensor<2x2xi64>, tensor<3xf32>, tensor<3x2xf32>, tensor<f32>
}
