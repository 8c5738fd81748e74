// A profile names ONNX nodes; a node imported as several ops gets its
// measured time once, on its first op (the trainer's --profile sums the
// node's ops), and its other ops count nothing. Ops the profile does not
// name keep their estimates.
// RUN: echo '{"ops": [{"name": "/act/Gelu", "forward_ms": 3.0, "backward_ms": 4.0}]}' > %t.json
// RUN: gpipe-opt %s --gpipe-cost-report="device=%S/../../devices/cpu-host.json profile=%t.json format=json" -o /dev/null | FileCheck %s

func.func @main(%x: tensor<16x64xf32> {gpipe.name = "x"}) -> (tensor<16x64xf32> {gpipe.name = "y"}) {
  %0 = gpipe.erf %x : tensor<16x64xf32> loc("/act/Gelu")
  %1 = gpipe.mul %0, %x : (tensor<16x64xf32>, tensor<16x64xf32>) -> tensor<16x64xf32> loc("/act/Gelu")
  %2 = gpipe.relu %1 : tensor<16x64xf32> loc("/Relu")
  return %2 : tensor<16x64xf32>
}

// CHECK:      "ops": [
// CHECK:      "backward_ms": 4,
// CHECK:      "forward_ms": 3,
// CHECK:      "measured": true,
// CHECK-NEXT: "name": "/act/Gelu",
// CHECK-NEXT: "op": "gpipe.erf",
// CHECK:      "backward_ms": 0,
// CHECK:      "forward_ms": 0,
// CHECK:      "measured": true,
// CHECK-NEXT: "name": "/act/Gelu",
// CHECK-NEXT: "op": "gpipe.mul",
// CHECK:      "measured": false,
// CHECK-NEXT: "name": "/Relu",
