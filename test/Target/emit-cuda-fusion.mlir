// What fuses on the CUDA target and what does not.
//
// A fused chain's result may take the bytes of a single-element leaf that
// dies inside the chain. The C++ loop reads that leaf once, before it
// writes, so it fuses all three ops; in a CUDA kernel every thread reads it,
// some after others wrote the result, so the chain stops before the op
// whose result would overwrite it.
//
// A gemm and the relu of its result become one cuBLASLt call (relu
// epilogue) only when nothing but constants and parameter reads run in
// between: the call runs where the relu is and reads the gemm's operands
// there, whose bytes an op in between may reuse.
//
// The chain's result is not returned (a returned tensor is computed into the
// function's result, which overlaps nothing): it is read twice after.
// RUN: gpipe-translate --emit-cpp %s | FileCheck %s --check-prefix=CPP
// RUN: gpipe-translate --emit-cuda %s | FileCheck %s --check-prefix=CUDA

// CPP-LABEL: // @f_loss_stage0_forward
// CPP:       gp_tensor [[S:v[0-9]+]] = {GP_F32, 0, {}, arena + 0};
// CPP:       { // fused: gpipe.exp, gpipe.mul, gpipe.exp
// CPP:       return GP_OK;

// CUDA:       // fused: gpipe.add, gpipe.greater, gpipe.where, gpipe.exp, gpipe.mul
// CUDA-NEXT:  __device__ __forceinline__ float fused1_element(float x0, float x1, float x2, float x3, float x4) {
// CUDA-NEXT:    const float t0 = x0 + x1;
// CUDA-NEXT:    const bool t1 = x2 > x3;
// CUDA-NEXT:    const float t2 = t1 ? x4 : x3;
// CUDA-LABEL: // @f_loss_stage0_forward
// CUDA:       gp_tensor [[S:v[0-9]+]] = {GP_F32, 0, {}, arena + 0};
// CUDA:       { // fused: gpipe.exp, gpipe.mul
// CUDA-NOT:   fused: gpipe.exp, gpipe.mul, gpipe.exp
// CUDA:       gp_tensor [[B:v[0-9]+]] = {GP_F32, 2, {2, 4}, arena + 0};
// CUDA-NEXT:  if (gp_cuda_unary(cu, GP_EXP, &{{v[0-9]+}}, 0.0, 0.0, &[[B]]) != GP_OK)
// CUDA:       if (gp_cuda_gemm(cu, args[0], {{v[0-9]+}}, nullptr, 1.0f, 0.0f, false, true, &[[G:v[0-9]+]]) != GP_OK)
// CUDA:       gp_cuda_unary(cu, GP_EXP,
// CUDA:       if (gp_cuda_unary(cu, GP_RELU, &[[G]], 0.0, 0.0,
// CUDA-NOT:   gp_cuda_gemm_act
// CUDA:       return GP_OK;

// Comparisons and where fuse (a ReLU's gradient, where(x > 0, dy, 0), is
// one loop): the bool stays inside the loop. A comparison read by two
// wheres is a bool tensor the loop would have to read: the loop starts
// after the ops that read it (the generated kernel is checked above).
// CPP-LABEL: // @f_loss_stage0_backward
// CPP:       if (gp_cpu_binary(GP_LESS,
// CPP-NEXT:    return fail(ctx, "gpipe.less");
// CPP:       if (gp_cpu_where(
// CPP:       if (gp_cpu_where(
// CPP:       { // fused: gpipe.add, gpipe.greater, gpipe.where, gpipe.exp, gpipe.mul
// CPP:         const float t0 = x0[i] + x1[i];
// CPP-NEXT:    const bool t1 = x2[i] > x3;
// CPP-NEXT:    const float t2 = t1 ? x4[i] : x3;
// CUDA-LABEL: // @f_loss_stage0_backward
// CUDA:       gp_cuda_binary(cu, GP_LESS,
// CUDA:       gp_cuda_where(
// CUDA:       gp_cuda_where(
// CUDA:       { // fused: gpipe.add, gpipe.greater, gpipe.where, gpipe.exp, gpipe.mul

gpipe.param @w : tensor<4x4xf32> {file = "/m.onnx", initializer = "w", trainable}

func.func @f_loss(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> tensor<f32> {
  %m = gpipe.reduce_mean %x {axes = array<i64>, keep_dims = false} : (tensor<2x4xf32>) -> tensor<f32>
  return %m : tensor<f32>
}
func.func @f_loss_stage0_forward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
  %s = gpipe.reduce_sum %x {axes = array<i64>, keep_dims = false} : (tensor<2x4xf32>) -> tensor<f32>
  %y = gpipe.exp %x : tensor<2x4xf32>
  %a = gpipe.mul %y, %s : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %b = gpipe.exp %a : tensor<2x4xf32>
  %w = gpipe.get_param @w : tensor<4x4xf32>
  %l = gpipe.gemm %x, %w {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = false, trans_b = true} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %e = gpipe.exp %b : tensor<2x4xf32>
  %c = gpipe.neg %b : tensor<2x4xf32>
  %lr = gpipe.relu %l : tensor<2x4xf32>
  return %c, %e, %lr : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
}
func.func @f_loss_stage0_backward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}, %dy: tensor<2x4xf32> {gpipe.grad_of_output = 0 : i64}) -> (tensor<2x4xf32>) {
  %zero = gpipe.constant dense<0.0> : tensor<f32>
  %c = gpipe.less %dy, %zero : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xi1>
  %h = gpipe.where %c, %x, %dy : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %k = gpipe.where %c, %dy, %x : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %s = gpipe.add %h, %k : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %m = gpipe.greater %x, %zero : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xi1>
  %g = gpipe.where %m, %dy, %zero : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %e = gpipe.exp %g : tensor<2x4xf32>
  %r = gpipe.mul %e, %s : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}
func.func @f_update() {
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
