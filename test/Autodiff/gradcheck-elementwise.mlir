// RUN: gpipe-gradcheck %s | FileCheck %s

// Every elementwise gradient rule against central differences (f64, step
// 1e-6, relative error at most 1e-6).

// CHECK-DAG: PASS @neg:
func.func @neg(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.neg %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @abs:
func.func @abs(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.abs %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @sqrt:
func.func @sqrt(%x: tensor<2x3xf64> {gradcheck.positive}) -> tensor<2x3xf64> {
  %y = gpipe.sqrt %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @exp:
func.func @exp(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.exp %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @log:
func.func @log(%x: tensor<2x3xf64> {gradcheck.positive}) -> tensor<2x3xf64> {
  %y = gpipe.log %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @reciprocal:
func.func @reciprocal(%x: tensor<2x3xf64> {gradcheck.positive}) -> tensor<2x3xf64> {
  %y = gpipe.reciprocal %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @erf:
func.func @erf(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.erf %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @tanh:
func.func @tanh(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.tanh %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @sigmoid:
func.func @sigmoid(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.sigmoid %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @relu:
func.func @relu(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.relu %x : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// Floor and ceil are piecewise constant: no gradient flows through them.
// CHECK-DAG: PASS @floor_ceil:
func.func @floor_ceil(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %f = gpipe.floor %x : tensor<2x3xf64>
  %c = gpipe.ceil %x : tensor<2x3xf64>
  %s = gpipe.add %f, %c : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  %y = gpipe.mul %s, %x : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @sin_cos:
func.func @sin_cos(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %s = gpipe.sin %x : tensor<2x3xf64>
  %y = gpipe.cos %s : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @leaky_relu:
func.func @leaky_relu(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.leaky_relu %x {alpha = 0.1 : f32} : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @gelu_erf:
func.func @gelu_erf(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.gelu %x {approximation = #gpipe.gelu_approximation<none>} : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @gelu_tanh:
func.func @gelu_tanh(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.gelu %x {approximation = #gpipe.gelu_approximation<tanh>} : tensor<2x3xf64>
  return %y : tensor<2x3xf64>
}
// CHECK-DAG: PASS @clip:
func.func @clip(%x: tensor<4x3xf64>) -> tensor<4x3xf64> {
  %y = gpipe.clip %x {min = -0.5 : f32, max = 0.5 : f32} : tensor<4x3xf64>
  return %y : tensor<4x3xf64>
}
// CHECK-DAG: PASS @cast:
// (A cast through f32 would make the differences themselves inexact.)
func.func @cast(%x: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %y = gpipe.cast %x {to = f64} : (tensor<2x3xf64>) -> tensor<2x3xf64>
  %z = gpipe.mul %y, %x : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %z : tensor<2x3xf64>
}
// Broadcasting operands get gradients summed back to their shapes.
// CHECK-DAG: PASS @add_sub_broadcast:
func.func @add_sub_broadcast(%a: tensor<2x3xf64>, %b: tensor<3xf64>, %c: tensor<2x1xf64>) -> tensor<2x3xf64> {
  %0 = gpipe.add %a, %b : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
  %1 = gpipe.sub %0, %c : (tensor<2x3xf64>, tensor<2x1xf64>) -> tensor<2x3xf64>
  return %1 : tensor<2x3xf64>
}
// CHECK-DAG: PASS @mul_div:
func.func @mul_div(%a: tensor<2x3xf64>, %b: tensor<3xf64> {gradcheck.positive}) -> tensor<2x3xf64> {
  %0 = gpipe.mul %a, %b : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
  %1 = gpipe.div %0, %b : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
  %2 = gpipe.div %a, %b : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
  %3 = gpipe.mul %1, %2 : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %3 : tensor<2x3xf64>
}
// CHECK-DAG: PASS @pow:
func.func @pow(%a: tensor<2x3xf64> {gradcheck.positive}, %b: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %0 = gpipe.pow %a, %b : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}
// CHECK-DAG: PASS @max_min:
func.func @max_min(%a: tensor<2x3xf64>, %b: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %0 = gpipe.max %a, %b : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  %1 = gpipe.min %a, %b : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  %2 = gpipe.mul %0, %1 : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %2 : tensor<2x3xf64>
}
// Comparisons pass no gradient; where routes it to the chosen side.
// CHECK-DAG: PASS @where_compare:
func.func @where_compare(%a: tensor<2x3xf64>, %b: tensor<3xf64>) -> tensor<2x3xf64> {
  %c = gpipe.greater %a, %b : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xi1>
  %0 = gpipe.where %c, %a, %b : (tensor<2x3xi1>, tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
  %1 = gpipe.mul %0, %a : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
  return %1 : tensor<2x3xf64>
}
// A value with several uses sums its gradients.
// CHECK-DAG: PASS @fan_out:
func.func @fan_out(%a: tensor<3xf64>) -> tensor<3xf64> {
  %0 = gpipe.mul %a, %a : (tensor<3xf64>, tensor<3xf64>) -> tensor<3xf64>
  %1 = gpipe.exp %a : tensor<3xf64>
  %2 = gpipe.add %0, %1 : (tensor<3xf64>, tensor<3xf64>) -> tensor<3xf64>
  %3 = gpipe.mul %2, %a : (tensor<3xf64>, tensor<3xf64>) -> tensor<3xf64>
  return %3 : tensor<3xf64>
}
// CHECK: gradcheck: 23 passed, 0 failed
