// RUN: gpipe-opt %s --gpipe-plan-memory | FileCheck %s
// RUN: gpipe-opt %s --gpipe-plan-memory="functions=chain report=-" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: gpipe-opt %s --gpipe-plan-memory="alignment=1024" | FileCheck %s --check-prefix=ALIGN
// RUN: not gpipe-opt %s --gpipe-plan-memory="alignment=48" 2>&1 | FileCheck %s --check-prefix=BAD-ALIGN
// RUN: not gpipe-opt %s --gpipe-plan-memory="functions=nope" 2>&1 | FileCheck %s --check-prefix=MISSING

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
