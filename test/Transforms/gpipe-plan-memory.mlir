// RUN: gpipe-opt %s --gpipe-plan-memory | FileCheck %s
// RUN: gpipe-opt %s --gpipe-plan-memory="functions=chain report=-" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: gpipe-opt %s --gpipe-plan-memory="alignment=1024" | FileCheck %s --check-prefix=ALIGN
// RUN: not gpipe-opt %s --gpipe-plan-memory="alignment=48" 2>&1 | FileCheck %s --check-prefix=BAD-ALIGN
// RUN: not gpipe-opt %s --gpipe-plan-memory="functions=nope" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: gpipe-opt %s --gpipe-plan-memory="views=false" | FileCheck %s --check-prefix=COPIES
// RUN: gpipe-opt %s --gpipe-plan-memory="results=true" | FileCheck %s --check-prefix=RESULTS

gpipe.param @w : tensor<16x16xf32> {file = "/m.onnx", initializer = "w"}

// A chain: each 2 kB tensor dies at the next op, so two slots suffice
// (the most alive at once is two: an op's input and its result).
// CHECK-LABEL: func.func @chain
// CHECK-SAME: gpipe.all_live_bytes = 10240 : i64, gpipe.arena_bytes = 4096 : i64, gpipe.peak_live_bytes = 4096 : i64
// Parameter reads and constants take no arena space.
// CHECK: gpipe.get_param @w : tensor<16x16xf32>
// CHECK-NEXT: gpipe.matmul {{.*}} {gpipe.arena_offsets = array<i64: [[A:[0-9]+]]>}
// CHECK-NEXT: gpipe.tanh {{.*}} {gpipe.arena_offsets = array<i64: [[B:[0-9]+]]>}
// CHECK-NEXT: gpipe.exp {{.*}} {gpipe.arena_offsets = array<i64: [[A]]>}
// CHECK-NEXT: gpipe.matmul {{.*}} {gpipe.arena_offsets = array<i64: [[B]]>}
// CHECK-NEXT: gpipe.tanh {{.*}} {gpipe.arena_offsets = array<i64: [[A]]>}
func.func @chain(%x: tensor<32x16xf32>) -> tensor<32x16xf32> {
  %w = gpipe.get_param @w : tensor<16x16xf32>
  %0 = gpipe.matmul %x, %w : (tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<32x16xf32>
  %1 = gpipe.tanh %0 : tensor<32x16xf32>
  %2 = gpipe.exp %1 : tensor<32x16xf32>
  %3 = gpipe.matmul %2, %w : (tensor<32x16xf32>, tensor<16x16xf32>) -> tensor<32x16xf32>
  %4 = gpipe.tanh %3 : tensor<32x16xf32>
  return %4 : tensor<32x16xf32>
}

// A value read again later (a skip) and a returned value stay alive; a
// small tensor fills the gap beside a large one; each result of a
// multi-result op gets its own offset.
// CHECK-LABEL: func.func @skip
// CHECK-SAME: gpipe.all_live_bytes = 8320 : i64, gpipe.arena_bytes = 6272 : i64, gpipe.peak_live_bytes = 6272 : i64
// CHECK: %[[S:.*]] = gpipe.tanh %{{.*}} {gpipe.arena_offsets = array<i64: [[S0:[0-9]+]]>}
// CHECK: gpipe.exp %[[S]] {gpipe.arena_offsets = array<i64: [[E0:[0-9]+]]>}
// CHECK: gpipe.batch_norm_train {{.*}} {{{.*}}gpipe.arena_offsets = array<i64: {{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}>
// CHECK: gpipe.add %[[S]], %{{.*}} {gpipe.arena_offsets = array<i64: {{[0-9]+}}>}
func.func @skip(%x: tensor<8x16x4xf32>, %s: tensor<16xf32>) -> (tensor<8x16x4xf32>, tensor<16xf32>) {
  %0 = gpipe.tanh %x : tensor<8x16x4xf32>
  %1 = gpipe.exp %0 : tensor<8x16x4xf32>
  %2:3 = gpipe.batch_norm_train %1, %s, %s, %s, %s {epsilon = 1.0e-5 : f32, momentum = 0.9 : f32} : (tensor<8x16x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<8x16x4xf32>, tensor<16xf32>, tensor<16xf32>)
  %3 = gpipe.add %0, %2#0 : (tensor<8x16x4xf32>, tensor<8x16x4xf32>) -> tensor<8x16x4xf32>
  return %3, %2#1 : tensor<8x16x4xf32>, tensor<16xf32>
}

// Views: reshapes of an arena tensor (and a view of a view) take no bytes,
// and the tensor they view lives until their last use: %0 must not share
// bytes with %2, which is computed while a view of %0 is still to be read.
// A view of an argument is a view too; a reshape of a parameter read is a
// copy (a store may replace the parameter).
// CHECK-LABEL: func.func @views
// CHECK-SAME: gpipe.all_live_bytes = 7168 : i64, gpipe.arena_bytes = 7168 : i64
// CHECK: %[[X2:.*]] = gpipe.reshape %arg0 {gpipe.view, shape = array<i64: 16, 32>}
// CHECK: %[[W:.*]] = gpipe.get_param @w
// CHECK: %[[WR:.*]] = gpipe.reshape %[[W]] {gpipe.arena_offsets = array<i64: [[WO:[0-9]+]]>, shape = array<i64: 256>}
// CHECK: %[[T:.*]] = gpipe.tanh %arg0 {gpipe.arena_offsets = array<i64: 0>}
// CHECK: %[[V1:.*]] = gpipe.reshape %[[T]] {gpipe.view, shape = array<i64: 16, 32>}
// CHECK: %[[V2:.*]] = gpipe.flatten %[[V1]] {axis = 0 : i64, gpipe.view}
// CHECK: gpipe.exp %[[X2]] {gpipe.arena_offsets = array<i64: {{[1-9][0-9]*}}>}
// CHECK: gpipe.sigmoid %[[V2]] {gpipe.arena_offsets = array<i64: {{[1-9][0-9]*}}>}
// COPIES-LABEL: func.func @views
// COPIES-NOT: gpipe.view
// COPIES: gpipe.reshape %arg0 {gpipe.arena_offsets
func.func @views(%x: tensor<32x16xf32>) -> (tensor<1x512xf32>, tensor<16x32xf32>, tensor<256xf32>) {
  %x2 = gpipe.reshape %x {shape = array<i64: 16, 32>} : (tensor<32x16xf32>) -> tensor<16x32xf32>
  %w = gpipe.get_param @w : tensor<16x16xf32>
  %wr = gpipe.reshape %w {shape = array<i64: 256>} : (tensor<16x16xf32>) -> tensor<256xf32>
  %0 = gpipe.tanh %x : tensor<32x16xf32>
  %1 = gpipe.reshape %0 {shape = array<i64: 16, 32>} : (tensor<32x16xf32>) -> tensor<16x32xf32>
  %2 = gpipe.flatten %1 {axis = 0 : i64} : (tensor<16x32xf32>) -> tensor<1x512xf32>
  %3 = gpipe.exp %x2 : tensor<16x32xf32>
  %4 = gpipe.sigmoid %2 : tensor<1x512xf32>
  return %4, %3, %wr : tensor<1x512xf32>, tensor<16x32xf32>, tensor<256xf32>
}

// results=true: a returned tensor is computed into its function result, so
// it takes no arena bytes (the chain's last tanh; one result of a
// multi-result op; a parameter's reshape).
// RESULTS-LABEL: func.func @chain
// RESULTS-SAME: gpipe.all_live_bytes = 8192 : i64, gpipe.arena_bytes = 4096
// RESULTS: gpipe.tanh %{{.*}} {gpipe.returned = array<i64: 0>}
// RESULTS-LABEL: func.func @skip
// RESULTS: gpipe.batch_norm_train {{.*}}gpipe.arena_offsets = array<i64: {{[0-9]+}}, -1, {{[0-9]+}}>, gpipe.returned = array<i64: -1, 1, -1>
// RESULTS: gpipe.add {{.*}} {gpipe.returned = array<i64: 0>}
// RESULTS-LABEL: func.func @views
// RESULTS: gpipe.reshape %{{.*}} {gpipe.returned = array<i64: 2>, shape = array<i64: 256>}
// RESULTS: gpipe.exp %{{.*}} {gpipe.returned = array<i64: 1>}
// RESULTS: gpipe.sigmoid %{{.*}} {gpipe.returned = array<i64: 0>}
// RESULTS-NOT: gpipe.returned

// results=true also computes a value whose last use is the set_param that
// stores it into a tensor of its own (gpipe.stored): the optimizer's new
// weight. A value read after its store stays in the arena and is copied.
// RESULTS-LABEL: func.func @update
// RESULTS-SAME: gpipe.all_live_bytes = 2048 : i64, gpipe.arena_bytes = 1024 : i64
// RESULTS: gpipe.mul {{.*}}gpipe.arena_offsets = array<i64: 0>
// RESULTS: gpipe.sub {{.*}}gpipe.stored = array<i1: true>
// RESULTS: %[[F:.*]] = gpipe.tanh {{.*}}gpipe.arena_offsets = array<i64: 0>
// RESULTS: gpipe.set_param @v, %[[F]]
// RESULTS: gpipe.add %[[F]], %[[F]] {gpipe.returned = array<i64: 0>}
// CHECK-LABEL: func.func @update
// CHECK-NOT: gpipe.stored
gpipe.param @v : tensor<16x16xf32> {file = "/m.onnx", initializer = "v"}
func.func @update(%g: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %w = gpipe.get_param @w : tensor<16x16xf32>
  %lr = gpipe.constant dense<0.1> : tensor<f32>
  %d = gpipe.mul %g, %lr : (tensor<16x16xf32>, tensor<f32>) -> tensor<16x16xf32>
  %n = gpipe.sub %w, %d : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  gpipe.set_param @w, %n : tensor<16x16xf32>
  %f = gpipe.tanh %g : tensor<16x16xf32>
  gpipe.set_param @v, %f : tensor<16x16xf32>
  %h = gpipe.add %f, %f : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  return %h : tensor<16x16xf32>
}

// REPORT: function tensors arena bytes all alive ratio peak alive
// REPORT-NEXT: chain 5 4096 10240 0.400 4096
// REPORT-NOT: skip

// ALIGN-LABEL: func.func @chain
// ALIGN-SAME: gpipe.arena_bytes = 4096
// ALIGN-LABEL: func.func @skip
// The 64-byte statistics take a whole 1 kB slot each.
// ALIGN-SAME: gpipe.all_live_bytes = 10240 : i64, gpipe.arena_bytes = 8192

// BAD-ALIGN: error: gpipe-plan-memory: alignment must be a power of two, got 48
// MISSING: error: gpipe-plan-memory: no function @nope with a body
