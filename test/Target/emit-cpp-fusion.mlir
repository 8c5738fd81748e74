// Elementwise fusion in gpipe-translate --emit-cpp: which ops share a loop.
// RUN: gpipe-translate --emit-cpp %s -o %t.cpp
// RUN: FileCheck %s < %t.cpp
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I%S/../../python-free-runtime/include %t.cpp

gpipe.param @w : tensor<4x4xf32> {file = "/m.onnx", initializer = "w", trainable}
gpipe.param @s : tensor<f32> {file = "/m.onnx", initializer = "s"}

func.func @f_loss(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> tensor<f32> {
  %m = gpipe.reduce_mean %x {axes = array<i64>, keep_dims = false} : (tensor<2x4xf32>) -> tensor<f32>
  return %m : tensor<f32>
}

// CHECK-LABEL: // @f_loss_stage0_forward
func.func @f_loss_stage0_forward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}, %d: tensor<2x4xf64> {gpipe.source = array<i64: -1, 1>}) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf64>) {
  // A chain with a scalar parameter and a constant between its ops: one loop
  // at the last op.
  // CHECK:      const gp_tensor *[[S:v[0-9]+]] = ctx.params->get(1, ctx.error);
  // CHECK:      { // fused: gpipe.exp, gpipe.mul, gpipe.relu, gpipe.add
  // CHECK-NEXT:   const float *x0 = static_cast<const float *>((args[0])->data);
  // CHECK-NEXT:   const float x1 = *static_cast<const float *>(([[S]])->data);
  // CHECK-NEXT:   const float x2 = *static_cast<const float *>((&k0)->data);
  // CHECK:          const float t0 = std::exp(x0[i]);
  // CHECK-NEXT:     const float t1 = t0 * x1;
  // CHECK-NEXT:     const float t2 = t1 > 0.0f ? t1 : 0.0f;
  // CHECK-NEXT:     const float t3 = t2 + x2;
  // CHECK-NEXT:     y[i] = t3;
  %e = gpipe.exp %x : tensor<2x4xf32>
  %s = gpipe.get_param @s : tensor<f32>
  %m = gpipe.mul %e, %s : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %r = gpipe.relu %m : tensor<2x4xf32>
  %c = gpipe.constant dense<1.0> : tensor<f32>
  %a = gpipe.add %r, %c : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  // A value used twice is computed on its own and read by the loop.
  // CHECK:      if (gp_cpu_unary(GP_TANH, &[[A:v[0-9]+]], 0.0, 0.0, &[[T:v[0-9]+]]) != GP_OK)
  // CHECK:      { // fused: gpipe.mul, gpipe.sub
  // CHECK-NEXT:   const float *x0 = static_cast<const float *>((&[[T]])->data);
  // CHECK:          const float t0 = x0[i] * x0[i];
  // CHECK-NEXT:     const float t1 = x0[i] - t0;
  %t = gpipe.tanh %a : tensor<2x4xf32>
  %t2 = gpipe.mul %t, %t : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %u = gpipe.sub %t, %t2 : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  // Broadcasting other than from a single element: a kernel call.
  // CHECK:      if (gp_cpu_unary(GP_NEG, args[0], 0.0, 0.0, &[[NEG:v[0-9]+]]) != GP_OK)
  // CHECK:      if (gp_cpu_reduce(
  // CHECK:      if (gp_cpu_binary(GP_ADD, &[[NEG]], &{{v[0-9]+}}, &{{v[0-9]+}}) != GP_OK)
  %n = gpipe.neg %x : tensor<2x4xf32>
  %row = gpipe.reduce_sum %x {axes = array<i64: 1>, keep_dims = true} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  %b = gpipe.add %n, %row : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  // An op of another kind between two elementwise ops: no loop across it.
  // CHECK:      if (gp_cpu_unary(GP_SIGMOID, &{{v[0-9]+}}, 0.0, 0.0, &[[SIG:v[0-9]+]]) != GP_OK)
  // CHECK:      if (gp_cpu_matmul(
  // CHECK:      if (gp_cpu_binary(GP_MUL, &[[SIG]], &{{v[0-9]+}}, &{{v[0-9]+}}) != GP_OK)
  %sig = gpipe.sigmoid %b : tensor<2x4xf32>
  %w = gpipe.get_param @w : tensor<4x4xf32>
  %mm = gpipe.matmul %u, %w : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %g = gpipe.mul %sig, %mm : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  // f64: kernel calls.
  // CHECK:      if (gp_cpu_unary(GP_EXP, args[1], 0.0, 0.0, &[[D:v[0-9]+]]) != GP_OK)
  // CHECK-NEXT:   return fail(ctx, "gpipe.exp");
  // CHECK:      if (gp_cpu_binary(GP_ADD, &[[D]], args[1], &{{v[0-9]+}}) != GP_OK)
  %de = gpipe.exp %d : tensor<2x4xf64>
  %dd = gpipe.add %de, %d : (tensor<2x4xf64>, tensor<2x4xf64>) -> tensor<2x4xf64>
  return %g, %a, %dd : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf64>
}

func.func @f_loss_stage0_backward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}, %dy: tensor<2x4xf32> {gpipe.grad_of_output = 0 : i64}) -> (tensor<4x4xf32> {gpipe.param = @w}) {
  %g = gpipe.gemm %x, %dy {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = true, trans_b = false} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  return %g : tensor<4x4xf32>
}

func.func @f_update(%g: tensor<4x4xf32> {gpipe.param = @w}) {
  gpipe.set_param @w, %g : tensor<4x4xf32>
  return
}

gpipe.pipeline @f_loss attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
  gpipe.stage_program 0 recomputing [@f_loss_stage0_forward, @f_loss_stage0_backward] {
    gpipe.forward 0
    gpipe.recompute 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}
