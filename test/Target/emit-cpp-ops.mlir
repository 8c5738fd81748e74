// The op kinds of the CPU interpreter and how the emitter calls their
// kernels, on a hand-written one-stage pipeline (the stage functions'
// bodies need not be a real training step): convolution, batch norm with
// its running statistics stored, pooling, dropout with its seed, split,
// concat, reshape (a view of its operand), slice, clip without a max, gelu, layer norm
// without a bias, gather, reductions (over everything: no axes), arg_max,
// comparisons, casts, where; constants: a splat filled at startup, i64 with
// INT64_MIN, f16 bits, infinities; a zero_init parameter.
// RUN: gpipe-translate --emit-cpp %s -o %t.cpp
// RUN: FileCheck %s < %t.cpp
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I%S/../../python-free-runtime/include %t.cpp

gpipe.param @conv.w : tensor<4x3x3x3xf32> {file = "/m.onnx", initializer = "conv.w", trainable}
gpipe.param @bn.scale : tensor<4xf32> {file = "/m.onnx", initializer = "bn.scale", trainable}
gpipe.param @bn.bias : tensor<4xf32> {file = "/m.onnx", initializer = "bn.bias", trainable}
gpipe.param @bn.mean : tensor<4xf32> {file = "/m.onnx", initializer = "bn.mean"}
gpipe.param @bn.var : tensor<4xf32> {file = "/m.onnx", initializer = "bn.var"}
gpipe.param @ln.scale : tensor<32xf32> {file = "/m.onnx", initializer = "ln.scale"}
gpipe.param @table : tensor<10x32xf32> {file = "/m.onnx", initializer = "table"}
gpipe.param @velocity : tensor<4x3x3x3xf32> {zero_init}

func.func @f_loss(%x: tensor<2x3x8x8xf32> {gpipe.name = "image"}, %ids: tensor<2x5xi64> {gpipe.name = "labels"}) -> tensor<f32> {
  %m = gpipe.reduce_mean %x {axes = array<i64>, keep_dims = false} : (tensor<2x3x8x8xf32>) -> tensor<f32>
  return %m : tensor<f32>
}

func.func @f_loss_stage0_forward(%x: tensor<2x3x8x8xf32> {gpipe.source = array<i64: -1, 0>}, %ids: tensor<2x5xi64> {gpipe.source = array<i64: -1, 1>}) -> (tensor<f32> {gpipe.returns = array<i64: 0>}) {
  %w = gpipe.get_param @conv.w : tensor<4x3x3x3xf32>
  %c = gpipe.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x8x8xf32> loc("/conv/Conv")
  %s = gpipe.get_param @bn.scale : tensor<4xf32>
  %b = gpipe.get_param @bn.bias : tensor<4xf32>
  %rm = gpipe.get_param @bn.mean : tensor<4xf32>
  %rv = gpipe.get_param @bn.var : tensor<4xf32>
  %y:3 = gpipe.batch_norm_train %c, %s, %b, %rm, %rv {epsilon = 1.0e-5 : f32, momentum = 0.9 : f32, unbiased_var_update} : (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>) loc(fused["/bn/BatchNormalization", "other"])
  gpipe.set_param @bn.mean, %y#1 : tensor<4xf32>
  gpipe.set_param @bn.var, %y#2 : tensor<4xf32>
  %p = gpipe.max_pool %y#0 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32>
  %d:2 = gpipe.dropout %p {ratio = 0.5 : f32, training = true, seed = 7 : i64} : (tensor<2x4x4x4xf32>) -> (tensor<2x4x4x4xf32>, tensor<2x4x4x4xi1>)
  %a:2 = gpipe.split %d#0 {axis = 1 : i64, sizes = array<i64: 1, 3>} : (tensor<2x4x4x4xf32>) -> (tensor<2x1x4x4xf32>, tensor<2x3x4x4xf32>)
  %cat = gpipe.concat %a#1, %a#0 {axis = 1 : i64} : (tensor<2x3x4x4xf32>, tensor<2x1x4x4xf32>) -> tensor<2x4x4x4xf32>
  %r = gpipe.reshape %cat {shape = array<i64: 2, 64>} : (tensor<2x4x4x4xf32>) -> tensor<2x64xf32>
  %sl = gpipe.slice %r {starts = array<i64: 0, 0>, ends = array<i64: 2, 64>, steps = array<i64: 1, 2>} : (tensor<2x64xf32>) -> tensor<2x32xf32>
  %cl = gpipe.clip %sl {min = 0.0 : f32} : tensor<2x32xf32>
  %ge = gpipe.gelu %cl {approximation = #gpipe.gelu_approximation<tanh>} : tensor<2x32xf32>
  %g = gpipe.get_param @ln.scale : tensor<32xf32>
  %ln = gpipe.layer_norm %ge, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x32xf32>, tensor<32xf32>) -> tensor<2x32xf32>
  %t = gpipe.get_param @table : tensor<10x32xf32>
  %e = gpipe.gather %t, %ids {axis = 0 : i64} : (tensor<10x32xf32>, tensor<2x5xi64>) -> tensor<2x5x32xf32>
  %es = gpipe.reduce_sum %e {axes = array<i64: 1>, keep_dims = false} : (tensor<2x5x32xf32>) -> tensor<2x32xf32>
  %sum = gpipe.add %ln, %es : (tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x32xf32>
  %half = gpipe.constant dense<0.5> : tensor<2x32xf32>
  %mul = gpipe.mul %sum, %half : (tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x32xf32>
  %am = gpipe.arg_max %mul {axis = 1 : i64, keep_dims = false, select_last_index = false} : (tensor<2x32xf32>) -> tensor<2xi64>
  %i = gpipe.constant dense<[1, -9223372036854775808]> : tensor<2xi64>
  %eq = gpipe.equal %am, %i : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi1>
  %h = gpipe.constant dense<[1.5, -2.0]> : tensor<2xf16>
  %hf = gpipe.cast %h {to = f32} : (tensor<2xf16>) -> tensor<2xf32>
  %inf = gpipe.constant dense<[0x7F800000, 0xFF800000]> : tensor<2xf32>
  %sel = gpipe.where %eq, %hf, %inf : (tensor<2xi1>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %mean = gpipe.reduce_mean %sel {axes = array<i64>, keep_dims = false} : (tensor<2xf32>) -> tensor<f32>
  return %mean : tensor<f32>
}

func.func @f_loss_stage0_backward(%x: tensor<2x3x8x8xf32> {gpipe.source = array<i64: -1, 0>}, %ids: tensor<2x5xi64> {gpipe.source = array<i64: -1, 1>}, %dy: tensor<f32> {gpipe.grad_of_output = 0 : i64}) -> (tensor<4x3x3x3xf32> {gpipe.param = @conv.w}) {
  %g = gpipe.expand %dy {shape = array<i64: 2, 4, 8, 8>} : (tensor<f32>) -> tensor<2x4x8x8xf32>
  %dw = gpipe.conv_grad_weight %g, %x {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, weight_shape = array<i64: 4, 3, 3, 3>} : (tensor<2x4x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<4x3x3x3xf32>
  return %dw : tensor<4x3x3x3xf32>
}

func.func @f_update(%dw: tensor<4x3x3x3xf32> {gpipe.param = @conv.w}) {
  %w = gpipe.get_param @conv.w : tensor<4x3x3x3xf32>
  %v = gpipe.get_param @velocity : tensor<4x3x3x3xf32>
  %nv = gpipe.add %v, %dw : (tensor<4x3x3x3xf32>, tensor<4x3x3x3xf32>) -> tensor<4x3x3x3xf32>
  gpipe.set_param @velocity, %nv : tensor<4x3x3x3xf32>
  %nw = gpipe.sub %w, %nv : (tensor<4x3x3x3xf32>, tensor<4x3x3x3xf32>) -> tensor<4x3x3x3xf32>
  gpipe.set_param @conv.w, %nw : tensor<4x3x3x3xf32>
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

// CHECK-LABEL: // Constants.
// CHECK-NEXT: float k0_data[64];
// CHECK-NEXT: {{\[\[maybe_unused\]\]}} const bool k0_filled = fill(k0_data, 64, float(0.5f));
// CHECK-NEXT: const gp_tensor k0 = {GP_F32, 2, {2, 32}, (void *)k0_data};
// CHECK-NEXT: const int64_t k1_data[2] = {1, INT64_MIN};
// CHECK-NEXT: const gp_tensor k1 = {GP_I64, 1, {2}, (void *)k1_data};
// CHECK-NEXT: const uint16_t k2_data[2] = {0x3e00, 0xc000};
// CHECK-NEXT: const gp_tensor k2 = {GP_F16, 1, {2}, (void *)k2_data};
// CHECK-NEXT: const float k3_data[2] = {INFINITY, -INFINITY};
// CHECK-NEXT: const gp_tensor k3 = {GP_F32, 1, {2}, (void *)k3_data};

// CHECK-LABEL: // @f_loss
// CHECK: if (gp_cpu_reduce(GP_REDUCE_MEAN, args[0], nullptr, 0, &v0) != GP_OK)

// CHECK-LABEL: // @f_update
// CHECK: const gp_tensor *v1 = ctx.params->get(7, ctx.error);
// CHECK: if (!ctx.params->set(7, v2, ctx.error))
// CHECK-NEXT: return paramFail(ctx, "cannot store parameter 'velocity'");

// CHECK-LABEL: // @f_loss_stage0_forward
// CHECK:      static const int64_t [[S:a[0-9]+]][] = {1, 1};
// CHECK-NEXT: static const int64_t [[P:a[0-9]+]][] = {1, 1, 1, 1};
// CHECK-NEXT: static const int64_t [[D:a[0-9]+]][] = {1, 1};
// CHECK-NEXT: gp_tensor [[C:v[0-9]+]] = {GP_F32, 4, {2, 4, 8, 8}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_conv2d(args[0], v0, nullptr, [[S]], [[P]], [[D]], 1, &[[C]]) != GP_OK)
// CHECK-NEXT:   return fail(ctx, "/conv/Conv (gpipe.conv)");
// Three results, three tensors; the node name from a fused location. The
// running statistics, stored and not read after, are computed into tensors
// of their own that the table takes; a value read after its store (the
// velocity above) is copied (set).
// CHECK:      gp_tensor [[Y:v[0-9]+]] = {GP_F32, 4, {2, 4, 8, 8}, arena + {{[0-9]+}}};
// CHECK-NEXT: gp_tensor [[M:v[0-9]+]] = {GP_F32, 1, {4}, nullptr};
// CHECK-NEXT: gp::Tensor [[MT:s[0-9]+]] = gp::Tensor::allocate([[M]].dtype, [[M]].rank, [[M]].dims);
// CHECK:      gp_tensor [[V:v[0-9]+]] = {GP_F32, 1, {4}, nullptr};
// CHECK-NEXT: gp::Tensor [[VT:s[0-9]+]] = gp::Tensor::allocate([[V]].dtype, [[V]].rank, [[V]].dims);
// CHECK:      if (gp_cpu_batch_norm_train(&[[C]], v5, v6, v7, v8, 9.99999975e-06f, 0.899999976f, true, &[[Y]], &[[M]], &[[V]]) != GP_OK)
// CHECK-NEXT:   return fail(ctx, "/bn/BatchNormalization (gpipe.batch_norm_train)");
// CHECK-NEXT: if (!ctx.params->store(3, std::move([[MT]]), ctx.error))
// CHECK:      if (!ctx.params->store(4, std::move([[VT]]), ctx.error))
// CHECK:      if (gp_cpu_max_pool2d(&[[Y]], {{a[0-9]+, a[0-9]+, a[0-9]+, a[0-9]+}}, &[[PL:v[0-9]+]]) != GP_OK)
// CHECK:      gp_tensor [[DY:v[0-9]+]] = {GP_F32, 4, {2, 4, 4, 4}, arena + {{[0-9]+}}};
// CHECK-NEXT: gp_tensor [[MASK:v[0-9]+]] = {GP_BOOL, 4, {2, 4, 4, 4}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_dropout(&[[PL]], 0.5f, true, UINT64_C(7), nullptr, &[[DY]], &[[MASK]]) != GP_OK)
// A split is one slice per piece.
// CHECK:      static const int64_t [[STEPS:a[0-9]+]][] = {1, 1, 1, 1};
// CHECK-NEXT: gp_tensor [[A:v[0-9]+]] = {GP_F32, 4, {2, 1, 4, 4}, arena + {{[0-9]+}}};
// CHECK-NEXT: static const int64_t [[ST0:a[0-9]+]][] = {0, 0, 0, 0};
// CHECK-NEXT: if (gp_cpu_slice(&[[DY]], [[ST0]], [[STEPS]], &[[A]]) != GP_OK)
// CHECK-NEXT:   return fail(ctx, "gpipe.split");
// CHECK-NEXT: gp_tensor [[B:v[0-9]+]] = {GP_F32, 4, {2, 3, 4, 4}, arena + {{[0-9]+}}};
// CHECK-NEXT: static const int64_t [[ST1:a[0-9]+]][] = {0, 1, 0, 0};
// CHECK-NEXT: if (gp_cpu_slice(&[[DY]], [[ST1]], [[STEPS]], &[[B]]) != GP_OK)
// CHECK:      const gp_tensor *[[IN:c[0-9]+]][] = {&[[B]], &[[A]]};
// CHECK-NEXT: gp_tensor [[CAT:v[0-9]+]] = {GP_F32, 4, {2, 4, 4, 4}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_concat([[IN]], 2, 1, &[[CAT]]) != GP_OK)
// A reshape of an arena tensor is a view: the same bytes, no copy.
// CHECK-NEXT:   return fail(ctx, "gpipe.concat");
// CHECK-NEXT: gp_tensor {{v[0-9]+}} = {GP_F32, 2, {2, 64}, (&[[CAT]])->data};
// CHECK-NOT:  gpipe.reshape
// CHECK:      if (gp_cpu_slice(
// CHECK:      if (gp_cpu_unary(GP_CLIP, &{{v[0-9]+}}, 0.0, INFINITY, &{{v[0-9]+}}) != GP_OK)
// CHECK:      if (gp_cpu_unary(GP_GELU, &{{v[0-9]+}}, 1.0, 0.0, &{{v[0-9]+}}) != GP_OK)
// CHECK:      if (gp_cpu_layer_norm(&{{v[0-9]+}}, v{{[0-9]+}}, nullptr, 1, 9.99999975e-06f, &{{v[0-9]+}}) != GP_OK)
// CHECK:      if (gp_cpu_gather(v{{[0-9]+}}, args[1], 0, &{{v[0-9]+}}) != GP_OK)
// CHECK:      if (gp_cpu_reduce(GP_REDUCE_SUM, &{{v[0-9]+}}, a{{[0-9]+}}, 1, &{{v[0-9]+}}) != GP_OK)
// An add and a mul by a splat constant of the same shape: one loop.
// CHECK:      { // fused: gpipe.add, gpipe.mul
// CHECK:        const float *x2 = static_cast<const float *>((&k0)->data);
// CHECK:          const float t0 = x0[i] + x1[i];
// CHECK-NEXT:     const float t1 = t0 * x2[i];
// CHECK:      gp_tensor [[AM:v[0-9]+]] = {GP_I64, 1, {2}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_arg_reduce(&{{v[0-9]+}}, 1, true, false, &[[AM]]) != GP_OK)
// CHECK:      gp_tensor [[EQ:v[0-9]+]] = {GP_BOOL, 1, {2}, arena + {{[0-9]+}}};
// CHECK-NEXT: if (gp_cpu_binary(GP_EQUAL, &[[AM]], &k1, &[[EQ]]) != GP_OK)
// CHECK:      if (gp_cpu_cast(&k2, &[[HF:v[0-9]+]]) != GP_OK)
// CHECK:      if (gp_cpu_where(&[[EQ]], &[[HF]], &k3, &{{v[0-9]+}}) != GP_OK)
// The returned mean is computed into results[0]: no copy-out.
// CHECK:      gp_tensor [[MEAN:v[0-9]+]] = {GP_F32, 0, {}, nullptr};
// CHECK-NEXT: results[0] = gp::Tensor::allocate([[MEAN]].dtype, [[MEAN]].rank, [[MEAN]].dims);
// CHECK:      if (gp_cpu_reduce(GP_REDUCE_MEAN, &{{v[0-9]+}}, nullptr, 0, &[[MEAN]]) != GP_OK)
// CHECK-NEXT:   return fail(ctx, "gpipe.reduce_mean");
// CHECK-NEXT: return GP_OK;

// CHECK-LABEL: // @f_loss_stage0_backward
// CHECK:      if (gp_cpu_expand(args[2], &[[G:v[0-9]+]]) != GP_OK)
// CHECK:      if (gp_cpu_conv2d_grad_weight(&[[G]], args[0], {{a[0-9]+, a[0-9]+, a[0-9]+}}, 1, &{{v[0-9]+}}) != GP_OK)

// A zero_init parameter has no initializer.
// CHECK-LABEL: const gp::ParamSpec kParams[] = {
// CHECK-NEXT:     {"conv.w", "conv.w", GP_F32, 4, {4, 3, 3, 3}, false, true},
// CHECK:          {"velocity", nullptr, GP_F32, 4, {4, 3, 3, 3}, true, false},
// CHECK-NEXT: };
// CHECK:      const gp::StageSpec kStages[] = {
// CHECK-NEXT:     {kStage0Actions, 4, 2, 3, -1, -1},
// CHECK:      /*modelPath=*/"/m.onnx",
