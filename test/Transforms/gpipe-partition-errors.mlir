// RUN: not gpipe-opt %s --gpipe-partition="stages=5 devices=%S/../../devices/h100-sxm.json" 2>&1 | FileCheck %s --check-prefix=TOO-MANY
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json memory-limit=5000000" 2>&1 | FileCheck %s --check-prefix=MEMORY
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json memory-limit=1000" 2>&1 | FileCheck %s --check-prefix=NEVER
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json split-points=nope" 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%t.missing.json" 2>&1 | FileCheck %s --check-prefix=DEVICE
// RUN: not gpipe-opt %s --gpipe-partition="stages=2" 2>&1 | FileCheck %s --check-prefix=NODEVICE
// RUN: not gpipe-opt %s --gpipe-partition="stages=3 devices=%S/../../devices/h100-sxm.json,%S/../../devices/h100-sxm.json" 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json balance=random" 2>&1 | FileCheck %s --check-prefix=BALANCE

// TOO-MANY: error: gpipe-partition: cannot split 4 ops into 5 stages
// Each 512x512 layer holds 1 MB of weights and 3 MB of gradient and Adam state.
// MEMORY: error: gpipe-partition: no partition into 2 stages meets the memory limits and split points; the smallest number of stages that fits is 3
// NEVER: error: gpipe-partition: no partition into 2 stages meets the memory limits and split points, and no number of stages up to 4 does
// SPLIT: error: gpipe-partition: split point 'nope' names no node of the model
// DEVICE: error: gpipe-partition: cannot open device file '{{.*}}missing.json'
// NODEVICE: error: gpipe-partition: name the devices
// COUNT: error: gpipe-partition: 2 device files for 3 stages: give one, or one per stage
// BALANCE: error: gpipe-partition: balance must be time, params, uniform or torchgpipe, got 'random'

gpipe.param @w1 : tensor<512x512xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<512x512xf32> {file = "/m.onnx", initializer = "w2"}
gpipe.param @w3 : tensor<512x512xf32> {file = "/m.onnx", initializer = "w3"}
func.func @main(%x: tensor<4x512xf32> {gpipe.name = "x"}) -> (tensor<4x512xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<512x512xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<4x512xf32>, tensor<512x512xf32>) -> tensor<4x512xf32>
  %w2 = gpipe.get_param @w2 : tensor<512x512xf32>
  %1 = gpipe.matmul %0, %w2 : (tensor<4x512xf32>, tensor<512x512xf32>) -> tensor<4x512xf32>
  %w3 = gpipe.get_param @w3 : tensor<512x512xf32>
  %2 = gpipe.matmul %1, %w3 : (tensor<4x512xf32>, tensor<512x512xf32>) -> tensor<4x512xf32>
  %3 = gpipe.relu %2 : tensor<4x512xf32>
  return %3 : tensor<4x512xf32>
}
