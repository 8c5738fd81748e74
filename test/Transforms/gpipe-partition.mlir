// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json report=%t.report" | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.report
// The report pass reads the partition back from the IR.
// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json" --mlir-print-debuginfo | gpipe-opt --gpipe-partition-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: not gpipe-opt %s --gpipe-partition-report -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNPARTITIONED
// UNPARTITIONED: error: gpipe-partition-report: @main has no gpipe.partition; run gpipe-partition first
// RUN: gpipe-opt %s --gpipe-partition="stages=3 devices=%S/../../devices/h100-sxm.json,%S/../../devices/a100-80gb.json,%S/../../devices/h100-sxm.json schedule=1f1b micro-batches=4" | FileCheck %s --check-prefix=HETERO
// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json split-points=relu1" | FileCheck %s --check-prefix=SPLIT
// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json balance=uniform" | FileCheck %s --check-prefix=UNIFORM

// Four equal 1024x1024 layers and a small head: the time balance puts two
// layers on each stage; the stage assignment is IR.

gpipe.param @w1 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w2"}
gpipe.param @w3 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w3"}
gpipe.param @w4 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w4"}
gpipe.param @w5 : tensor<1024x10xf32> {file = "/m.onnx", initializer = "w5"}
func.func @main(%x: tensor<512x1024xf32> {gpipe.name = "x"}) -> (tensor<512x10xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<1024x1024xf32> loc("w1")
  %0 = gpipe.matmul %x, %w1 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32> loc("fc1")
  %1 = gpipe.relu %0 : tensor<512x1024xf32> loc("relu1")
  %w2 = gpipe.get_param @w2 : tensor<1024x1024xf32> loc("w2")
  %2 = gpipe.matmul %1, %w2 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32> loc("fc2")
  %3 = gpipe.relu %2 : tensor<512x1024xf32> loc("relu2")
  %w3 = gpipe.get_param @w3 : tensor<1024x1024xf32> loc("w3")
  %4 = gpipe.matmul %3, %w3 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32> loc("fc3")
  %5 = gpipe.relu %4 : tensor<512x1024xf32> loc("relu3")
  %w4 = gpipe.get_param @w4 : tensor<1024x1024xf32> loc("w4")
  %6 = gpipe.matmul %5, %w4 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32> loc("fc4")
  %7 = gpipe.relu %6 : tensor<512x1024xf32> loc("relu4")
  %w5 = gpipe.get_param @w5 : tensor<1024x10xf32> loc("w5")
  %8 = gpipe.matmul %7, %w5 : (tensor<512x1024xf32>, tensor<1024x10xf32>) -> tensor<512x10xf32> loc("head")
  return %8 : tensor<512x10xf32>
}

// CHECK: func.func @main
// CHECK-SAME: gpipe.partition = {balance = "time", bottleneck_ms = {{.*}}, device_files = ["{{.*}}h100-sxm.json"], devices = ["NVIDIA H100 SXM5 80GB", "NVIDIA H100 SXM5 80GB"], micro_batches = 1 : i64, optimizer = "adam", recompute = true, schedule = "gpipe", stage_memory_bytes = [{{.*}}], stage_ms = [{{.*}}], stages = 2 : i64}
// CHECK: gpipe.get_param @w1 {{.*}}gpipe.stage = 0
// CHECK: gpipe.matmul {{.*}}gpipe.stage = 0
// CHECK: gpipe.matmul {{.*}}gpipe.stage = 0
// CHECK: gpipe.relu {{.*}}gpipe.stage = 0
// CHECK: gpipe.matmul {{.*}}gpipe.stage = 1
// CHECK: gpipe.matmul {{.*}}gpipe.stage = 1
// CHECK: return {{.*}}gpipe.stage = 1

// REPORT: partition of @main: 2 stages, balance=time, schedule=gpipe, micro-batches=1, recompute=on
// REPORT: stage    ops first node
// REPORT-NEXT: 0 4 fc1 relu2
// REPORT-NEXT: 1 5 fc3 head
// REPORT: bottleneck {{.*}} ms; lower bound max(total/K, largest op) {{.*}} ms; imbalance 1.{{[0-9]+}}

// The slower A100 in the middle gets less work.
// HETERO: devices = ["NVIDIA H100 SXM5 80GB", "NVIDIA A100 SXM4 80GB", "NVIDIA H100 SXM5 80GB"]
// HETERO-SAME: schedule = "1f1b"

// A split point begins a stage, whatever the balance would prefer.
// SPLIT: gpipe.matmul {{.*}}gpipe.stage = 0
// SPLIT-NEXT: gpipe.relu {{.*}}gpipe.stage = 1

// UNIFORM: balance = "uniform"
