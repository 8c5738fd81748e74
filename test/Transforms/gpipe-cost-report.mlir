// RUN: gpipe-opt %s --gpipe-cost-report="device=%S/../../devices/h100-sxm.json" -o /dev/null | FileCheck %s
// RUN: gpipe-opt %s --gpipe-cost-report="device=%S/../../devices/h100-sxm.json format=json optimizer=sgd" -o /dev/null | FileCheck %s --check-prefix=JSON
// RUN: echo '{"ops": [{"name": "fc/MatMul", "forward_ms": 2.0, "backward_ms": 5.0}]}' > %t.profile.json
// RUN: gpipe-opt %s --gpipe-cost-report="device=%S/../../devices/h100-sxm.json profile=%t.profile.json format=json" -o /dev/null | FileCheck %s --check-prefix=PROFILE
// RUN: echo '{"ops": [{"name": "nope", "forward_ms": 1.0}]}' > %t.bad.json
// RUN: not gpipe-opt %s --gpipe-cost-report="device=%S/../../devices/h100-sxm.json profile=%t.bad.json" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADPROFILE
// RUN: not gpipe-opt %s --gpipe-cost-report -o /dev/null 2>&1 | FileCheck %s --check-prefix=NODEVICE

// A [256 x 512] x [512 x 1024] matmul: 2 * 256 * 1024 * 512 = 0.268 GFLOP
// forward, twice that backward; 2 MB of weights.

gpipe.param @w : tensor<512x1024xf32> {file = "/m.onnx", initializer = "w"}
func.func @main(%x: tensor<256x512xf32> {gpipe.name = "x"}) -> (tensor<256x1024xf32> {gpipe.name = "y"}) {
  %w = gpipe.get_param @w : tensor<512x1024xf32> loc("fc/w")
  %0 = gpipe.matmul %x, %w : (tensor<256x512xf32>, tensor<512x1024xf32>) -> tensor<256x1024xf32> loc("fc/MatMul")
  %1 = gpipe.relu %0 : tensor<256x1024xf32> loc("fc/Relu")
  return %1 : tensor<256x1024xf32>
}

// CHECK: cost model of @main on NVIDIA H100 SXM5 80GB
// CHECK: fc/MatMul gpipe.matmul 0.2684 0.5369 2.621 1.049 1.049 2.097
// CHECK: fc/Relu gpipe.relu 0.0003
// CHECK: layer
// CHECK: fc 2 ops
// CHECK: total 2 ops

// JSON: "device": "NVIDIA H100 SXM5 80GB"
// JSON: "forward_flops": 268435456
// JSON: "name": "fc/MatMul"
// JSON: "optimizer_bytes": 2097152
// JSON: "param_bytes": 2097152

// PROFILE: "backward_ms": 5
// PROFILE: "forward_ms": 2
// PROFILE: "measured": true

// BADPROFILE: error: gpipe-cost-report: profile '{{.*}}' names no op of the model: 'nope'
// NODEVICE: error: gpipe-cost-report: name a device file with device=PATH
