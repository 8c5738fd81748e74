// RUN: gpipe-opt %s --split-input-file --gpipe-split-update --verify-diagnostics | FileCheck %s

// Stage 0 reads @a, stage 1 reads @b, both read the tied @t. Each stage's
// update takes its own parameter's gradient and updates it and its state;
// the tied weight is the shared update's; the step count (read by no stage)
// is updated in every one. The deferred-statistics pattern: stage 1 stores
// sums @s from which the update computes @r, which stage 0 reads (shared),
// and then clears @s: the clear goes with the read into the shared update,
// as no update may store what another reads.

gpipe.param @a : tensor<4xf32> {file = "/m.onnx", initializer = "a"}
gpipe.param @b : tensor<4xf32> {file = "/m.onnx", initializer = "b"}
gpipe.param @t : tensor<4xf32> {file = "/m.onnx", initializer = "t"}
gpipe.param @a.momentum : tensor<4xf32> {zero_init}
gpipe.param @s : tensor<4xf32> {zero_init}
gpipe.param @r : tensor<4xf32> {zero_init}
gpipe.param @__gpipe.step : tensor<f32> {zero_init}

func.func @f_stage0_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 0 : i64} {
  %a = gpipe.get_param @a : tensor<4xf32>
  %t = gpipe.get_param @t : tensor<4xf32>
  %r = gpipe.get_param @r : tensor<4xf32>
  %0 = gpipe.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = gpipe.mul %0, %t : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = gpipe.add %1, %r : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}
func.func @f_stage1_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 1 : i64} {
  %b = gpipe.get_param @b : tensor<4xf32>
  %t = gpipe.get_param @t : tensor<4xf32>
  %s = gpipe.get_param @s : tensor<4xf32>
  %0 = gpipe.mul %x, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = gpipe.add %s, %0 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @s, %1 : tensor<4xf32>
  %2 = gpipe.mul %0, %t : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}
func.func @train_step_update(%ga: tensor<4xf32> {gpipe.param = @a}, %gb: tensor<4xf32> {gpipe.param = @b},
                             %gt: tensor<4xf32> {gpipe.param = @t}) {
  %step = gpipe.get_param @__gpipe.step : tensor<f32>
  %one = gpipe.constant dense<1.0> : tensor<f32>
  %next = gpipe.add %step, %one : (tensor<f32>, tensor<f32>) -> tensor<f32>
  gpipe.set_param @__gpipe.step, %next : tensor<f32>
  %a = gpipe.get_param @a : tensor<4xf32>
  %m = gpipe.get_param @a.momentum : tensor<4xf32>
  %m1 = gpipe.add %m, %ga : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @a.momentum, %m1 : tensor<4xf32>
  %a1 = gpipe.sub %a, %m1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @a, %a1 : tensor<4xf32>
  %b = gpipe.get_param @b : tensor<4xf32>
  %b1 = gpipe.sub %b, %gb : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @b, %b1 : tensor<4xf32>
  %t = gpipe.get_param @t : tensor<4xf32>
  %t1 = gpipe.sub %t, %gt : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @t, %t1 : tensor<4xf32>
  %s = gpipe.get_param @s : tensor<4xf32>
  %r = gpipe.get_param @r : tensor<4xf32>
  %r1 = gpipe.add %r, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @r, %r1 : tensor<4xf32>
  %zero = gpipe.constant dense<0.0> : tensor<4xf32>
  gpipe.set_param @s, %zero : tensor<4xf32>
  return
}

// CHECK-LABEL: func.func @train_step_update(
// CHECK-LABEL: func.func @train_step_update_shared(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {gpipe.param = @t}) attributes {gpipe.update_shared}
// CHECK:         gpipe.set_param @__gpipe.step
// CHECK:         gpipe.set_param @t,
// CHECK:         gpipe.set_param @r,
// CHECK:         gpipe.set_param @s,
// CHECK-NOT:     gpipe.set_param
// CHECK:         return
// CHECK-LABEL: func.func @train_step_update_stage1(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {gpipe.param = @b}) attributes {gpipe.update_stage = 1 : i64}
// CHECK:         gpipe.set_param @__gpipe.step
// CHECK:         gpipe.set_param @b,
// CHECK-NOT:     gpipe.set_param
// CHECK:         return
// CHECK-LABEL: func.func @train_step_update_stage0(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {gpipe.param = @a}) attributes {gpipe.update_stage = 0 : i64}
// CHECK:         gpipe.get_param @__gpipe.step
// CHECK:         gpipe.set_param @__gpipe.step
// CHECK:         gpipe.get_param @a
// CHECK:         gpipe.set_param @a.momentum
// CHECK:         gpipe.set_param @a,
// CHECK-NOT:     gpipe.set_param
// CHECK:         return

// -----

// Global-norm clipping mixes every gradient: nothing is split.
gpipe.param @a : tensor<4xf32> {file = "/m.onnx", initializer = "a"}
gpipe.param @b : tensor<4xf32> {file = "/m.onnx", initializer = "b"}
func.func @f_stage0_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 0 : i64} {
  %a = gpipe.get_param @a : tensor<4xf32>
  %0 = gpipe.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @f_stage1_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 1 : i64} {
  %b = gpipe.get_param @b : tensor<4xf32>
  %0 = gpipe.mul %x, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @train_step_update(%ga: tensor<4xf32> {gpipe.param = @a}, %gb: tensor<4xf32> {gpipe.param = @b}) {
  %na = gpipe.reduce_sum %ga {axes = array<i64: 0>, keep_dims = false} : (tensor<4xf32>) -> tensor<f32>
  %nb = gpipe.reduce_sum %gb {axes = array<i64: 0>, keep_dims = false} : (tensor<4xf32>) -> tensor<f32>
  %n = gpipe.add %na, %nb : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %a = gpipe.get_param @a : tensor<4xf32>
  %sa = gpipe.mul %ga, %n : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %a1 = gpipe.sub %a, %sa : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @a, %a1 : tensor<4xf32>
  %b = gpipe.get_param @b : tensor<4xf32>
  %sb = gpipe.mul %gb, %n : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %b1 = gpipe.sub %b, %sb : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  gpipe.set_param @b, %b1 : tensor<4xf32>
  return
}
// CHECK-LABEL: func.func @train_step_update(
// CHECK-NOT:   func.func @train_step_update_

// -----

gpipe.param @a : tensor<4xf32> {file = "/m.onnx", initializer = "a"}
// expected-error @+1 {{gpipe-split-update: the module has no stage functions (run gpipe-pipeline first)}}
func.func @train_step_update(%ga: tensor<4xf32> {gpipe.param = @a}) {
  return
}

// -----

gpipe.param @a : tensor<4xf32> {file = "/m.onnx", initializer = "a"}
func.func @f_stage0_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 0 : i64} {
  %a = gpipe.get_param @a : tensor<4xf32>
  return %a : tensor<4xf32>
}
// expected-error @+1 {{gpipe-split-update: argument 0 of the update is not the gradient of a parameter (gpipe.param)}}
func.func @train_step_update(%g: tensor<4xf32>) {
  return
}

// -----

// expected-error @+1 {{gpipe-split-update: the module already has a symbol @train_step_update_stage0}}
module {
  gpipe.param @a : tensor<4xf32> {file = "/m.onnx", initializer = "a"}
  func.func @f_stage0_forward(%x: tensor<4xf32>) -> tensor<4xf32> attributes {gpipe.stage = 0 : i64} {
    %a = gpipe.get_param @a : tensor<4xf32>
    return %a : tensor<4xf32>
  }
  func.func @train_step_update(%g: tensor<4xf32> {gpipe.param = @a}) {
    %a = gpipe.get_param @a : tensor<4xf32>
    %n = gpipe.sub %a, %g : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    gpipe.set_param @a, %n : tensor<4xf32>
    return
  }
  func.func @train_step_update_stage0() {
    return
  }
}

// -----

// expected-error @+1 {{gpipe-split-update: the module has no update function @train_step_update}}
module {
}
