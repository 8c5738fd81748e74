// gpipe-translate --emit-cuda: the same program as --emit-cpp on the CUDA
// runtime. Kernel calls go to gp_cuda_* on the stage's context, constants
// are uploaded once per context, a fused chain is a generated kernel
// (float4 when the count is a multiple of 4), stored parameters and
// results are device copies. A function first makes its stream wait for its
// arguments and each parameter it reads (gp_cuda_await: nothing under
// --sync host), and ends its work with gp_cuda_finish (a wait for the
// stream, or under --sync events an event) before it publishes its results
// and stored values with it.
// RUN: gpipe-translate --emit-cuda --precision tf32 %s -o %t.cu
// RUN: FileCheck %s < %t.cu

gpipe.param @w : tensor<4x4xf32> {file = "/m.onnx", initializer = "w", trainable}
gpipe.param @s : tensor<f32> {file = "/m.onnx", initializer = "s"}

// CHECK: #include "gpipe/runtime/gp_cuda_program.h"
// A failing function waits for its stream before its locals go.
// CHECK: gp_status drain(gp::FunctionContext &ctx) {
// CHECK: gp_status fail(gp::FunctionContext &ctx, const char *where) {
// CHECK-NEXT: ctx.error = std::string(where) + ": " + gp_last_error();
// CHECK-NEXT: return drain(ctx);

// The chain's element function and its kernel: the single-element leaves
// read once, the others as float4 or one at a time.
// CHECK-LABEL: // fused: gpipe.exp, gpipe.mul, gpipe.relu, gpipe.add
// CHECK-NEXT:  __device__ __forceinline__ float fused0_element(float x0, float x1, float x2) {
// CHECK-NEXT:    const float t0 = std::exp(x0);
// CHECK-NEXT:    const float t1 = t0 * x1;
// CHECK-NEXT:    const float t2 = t1 > 0.0f ? t1 : 0.0f;
// CHECK-NEXT:    const float t3 = t2 + x2;
// CHECK-NEXT:    return t3;
// CHECK-NEXT:  }
// CHECK-NEXT:  __global__ void fused0(const float *p0, const float *p1, const float *p2, float *y, int64_t n, bool vectorized) {
// CHECK-NEXT:    const float x1 = *p1;
// CHECK-NEXT:    const float x2 = *p2;
// CHECK:           const float4 vx0 = reinterpret_cast<const float4 *>(p0)[i];
// CHECK:           r.w = fused0_element(vx0.w, x1, x2);
// CHECK:         for (; i < n; i += stride)
// CHECK-NEXT:      y[i] = fused0_element(p0[i], x1, x2);

func.func @f_loss(%x: tensor<2x4xf32> {gpipe.name = "x"}) -> tensor<f32> {
  %m = gpipe.reduce_mean %x {axes = array<i64>, keep_dims = false} : (tensor<2x4xf32>) -> tensor<f32>
  return %m : tensor<f32>
}

// The update stores a device tensor the parameter table keeps, once the
// stream is done (the value it replaces may still be read): a copy of an
// argument, or the tensor a value was computed into; a read of a stored
// parameter waits for that.
// CHECK-LABEL: // @f_update
// CHECK:       gp::Tensor [[P:p[0-9]+]];
// CHECK-NEXT:  if (!gp::cudaCopyOut(ctx, cu, *args[0], [[P]]))
// CHECK-NEXT:    return paramFail(ctx, "cannot store parameter 'w'");
// CHECK-NEXT:  if (gp_cuda_finish(cu) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "gpipe.get_param");
// CHECK-NEXT:  if (gp_cuda_publish(cu, [[P]].view()) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "cannot store parameter 'w'");
// CHECK-NEXT:  if (!ctx.params->store(0, [[P]], ctx.error))
// CHECK-NEXT:    return paramFail(ctx, "cannot store parameter 'w'");
// CHECK-NEXT:  const gp_tensor *[[W:v[0-9]+]] = ctx.params->get(0, ctx.error);
// CHECK-NEXT:  if (![[W]])
// CHECK-NEXT:    return paramFail(ctx, "cannot load parameter 'w'");
// CHECK-NEXT:  if (gp_cuda_await(cu, [[W]]) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "waiting for parameter 'w'");
// CHECK:       gp::Tensor [[Q:s[0-9]+]] = gp::allocateOnStream(cu,
// CHECK-NOT:   cudaCopyOut
// CHECK:       if (gp_cuda_finish(cu) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "@f_update");
// CHECK-NEXT:  if (gp_cuda_publish(cu, [[Q]].view()) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "cannot store parameter 's'");
// CHECK-NEXT:  if (!ctx.params->store(1, [[Q]], ctx.error))
// CHECK-NEXT:    return paramFail(ctx, "cannot store parameter 's'");
// CHECK-NEXT:  return GP_OK;

// CHECK-LABEL: // @f_loss_stage0_forward
// CHECK:       gp_cuda_ctx *cu = gp::cudaContext(ctx);
// CHECK-NEXT:  if (!cu)
// CHECK-NEXT:    return GP_ERROR;
// CHECK-NEXT:  if (gp_cuda_await_all(cu, args, 2) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "@f_loss_stage0_forward (waiting for its arguments)");
// CHECK:       if (gp_cuda_arena(cu, {{[0-9]+}}, &arena) != GP_OK)
// CHECK:       const gp_tensor *[[S:v[0-9]+]] = ctx.params->get(1, ctx.error);
// CHECK:       const gp_tensor *[[K:v[0-9]+]] = nullptr;
// CHECK-NEXT:  if (gp_cuda_constant(cu, &k0, &[[K]]) != GP_OK)
// CHECK:       { // fused: gpipe.exp, gpipe.mul, gpipe.relu, gpipe.add
// CHECK-NEXT:    const bool vectorized = aligned16(static_cast<const float *>((args[0])->data)) && aligned16(static_cast<float *>((&[[A:v[0-9]+]])->data));
// CHECK-NEXT:    fused0<<<gridFor(vectorized ? 2 : 8), kBlock, 0, stream(cu)>>>(static_cast<const float *>((args[0])->data), static_cast<const float *>(([[S]])->data), static_cast<const float *>(([[K]])->data), static_cast<float *>((&[[A]])->data), 8, vectorized);
// CHECK-NEXT:  }
// CHECK-NEXT:  if (gp_cuda_check_launch("fused0") != GP_OK)
// CHECK:       if (gp_cuda_matmul(cu, &[[A]], {{v[0-9]+}}, &{{v[0-9]+}}) != GP_OK)
// CHECK:       if (gp_cuda_unary(cu, GP_EXP, args[1], 0.0, 0.0, &{{v[0-9]+}}) != GP_OK)
// A gemm whose only use is a relu: one cuBLASLt call with a relu epilogue.
// CHECK:       // gpipe.gemm + gpipe.relu: the relu in cuBLASLt's epilogue
// CHECK-NEXT:  if (gp_cuda_gemm_act(cu, &[[A]], {{v[0-9]+}}, nullptr, 1.0f, 0.0f, false, true, GP_ACT_RELU, &{{v[0-9]+}}) != GP_OK)
// One whose result is also used elsewhere: two calls.
// CHECK:       if (gp_cuda_gemm(cu, &[[A]], {{v[0-9]+}}, nullptr, 1.0f, 0.0f, false, false, &[[G:v[0-9]+]]) != GP_OK)
// A returned tensor is computed into its result (device memory from the
// caching allocator), never copied out of the arena.
// CHECK:       results[4] = gp::allocateOnStream(cu, [[R:v[0-9]+]].dtype, [[R]].rank, [[R]].dims);
// CHECK:       if (gp_cuda_unary(cu, GP_RELU, &[[G]], 0.0, 0.0, &[[R]]) != GP_OK)
// CHECK-NOT:   cudaCopyOut
// CHECK:       if (gp_cuda_finish(cu) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "@f_loss_stage0_forward");
// CHECK-NEXT:  if (gp_cuda_publish(cu, results[0].view()) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "@f_loss_stage0_forward");
// CHECK:       if (gp_cuda_publish(cu, results[4].view()) != GP_OK)
// CHECK-NEXT:    return fail(ctx, "@f_loss_stage0_forward");
// CHECK-NEXT:  return GP_OK;
func.func @f_loss_stage0_forward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}, %d: tensor<2x4xf64> {gpipe.source = array<i64: -1, 1>}) -> (tensor<2x4xf32>, tensor<2x4xf64>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
  %e = gpipe.exp %x : tensor<2x4xf32>
  %s = gpipe.get_param @s : tensor<f32>
  %m = gpipe.mul %e, %s : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %r = gpipe.relu %m : tensor<2x4xf32>
  %c = gpipe.constant dense<1.0> : tensor<f32>
  %a = gpipe.add %r, %c : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %w = gpipe.get_param @w : tensor<4x4xf32>
  %mm = gpipe.matmul %a, %w : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %de = gpipe.exp %d : tensor<2x4xf64>
  %l = gpipe.gemm %a, %w {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = false, trans_b = true} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %lr = gpipe.relu %l : tensor<2x4xf32>
  %l2 = gpipe.gemm %a, %w {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = false, trans_b = false} : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %l2r = gpipe.relu %l2 : tensor<2x4xf32>
  return %mm, %de, %lr, %l2, %l2r : tensor<2x4xf32>, tensor<2x4xf64>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
}

// Only the arguments a function reads are waited for.
// CHECK-LABEL: // @f_loss_stage0_backward
// CHECK:         const gp_tensor *const used[] = {args[0], args[2]};
// CHECK-NEXT:    if (gp_cuda_await_all(cu, used, 2) != GP_OK)
// CHECK-NEXT:      return fail(ctx, "@f_loss_stage0_backward (waiting for its arguments)");
// CHECK:       if (gp_cuda_gemm(cu, args[0], args[2], nullptr, 1.0f, 0.0f, true, false, &{{v[0-9]+}}) != GP_OK)
func.func @f_loss_stage0_backward(%x: tensor<2x4xf32> {gpipe.source = array<i64: -1, 0>}, %d: tensor<2x4xf64> {gpipe.source = array<i64: -1, 1>}, %dy: tensor<2x4xf32> {gpipe.grad_of_output = 0 : i64}) -> (tensor<4x4xf32> {gpipe.param = @w}) {
  %g = gpipe.gemm %x, %dy {alpha = 1.0 : f32, beta = 0.0 : f32, trans_a = true, trans_b = false} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  return %g : tensor<4x4xf32>
}

func.func @f_update(%g: tensor<4x4xf32> {gpipe.param = @w}) {
  gpipe.set_param @w, %g : tensor<4x4xf32>
  %w = gpipe.get_param @w : tensor<4x4xf32>
  %r = gpipe.reduce_sum %w {axes = array<i64>, keep_dims = false} : (tensor<4x4xf32>) -> tensor<f32>
  gpipe.set_param @s, %r : tensor<f32>
  return
}

// CHECK:      /*target=*/"cuda", /*precision=*/1,
// CHECK:      int main(int argc, char **argv) { return gp::cudaTrainerMain(kProgram, argc, argv); }
gpipe.pipeline @f_loss attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
  gpipe.stage_program 0 recomputing [@f_loss_stage0_forward, @f_loss_stage0_backward] {
    gpipe.forward 0
    gpipe.recompute 0
    gpipe.backward 0
    gpipe.optimizer_update
  }
}
