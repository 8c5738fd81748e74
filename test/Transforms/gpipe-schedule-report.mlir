// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json micro-batches=4" --gpipe-schedule-report="svg=%t.svg schedule=1f1b recompute=full" -o /dev/null | FileCheck %s
// RUN: FileCheck %s --check-prefix=SVG < %t.svg
// The form of the issue: --gpipe-schedule-svg=out.svg.
// RUN: gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json micro-batches=4" --gpipe-schedule-svg=%t.2.svg -o /dev/null
// RUN: FileCheck %s --check-prefix=SVG2 < %t.2.svg
// SVG2: @main: 2 stages, 4 micro-batches, gpipe, recompute full
// RUN: not gpipe-opt %s --gpipe-schedule-report -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNPARTITIONED
// RUN: not gpipe-opt %s --gpipe-partition="stages=2 devices=%S/../../devices/h100-sxm.json" --gpipe-schedule-report="schedule=zigzag" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADSCHEDULE

// Two equal stages and four micro-batches: every schedule verifies, and the
// bubble is close to GPipe's (K - 1) / (M + K - 1) = 1/5.

gpipe.param @w1 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w1"}
gpipe.param @w2 : tensor<1024x1024xf32> {file = "/m.onnx", initializer = "w2"}
func.func @main(%x: tensor<512x1024xf32> {gpipe.name = "x"}) -> (tensor<512x1024xf32> {gpipe.name = "y"}) {
  %w1 = gpipe.get_param @w1 : tensor<1024x1024xf32>
  %0 = gpipe.matmul %x, %w1 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32>
  %w2 = gpipe.get_param @w2 : tensor<1024x1024xf32>
  %1 = gpipe.matmul %0, %w2 : (tensor<512x1024xf32>, tensor<1024x1024xf32>) -> tensor<512x1024xf32>
  return %1 : tensor<512x1024xf32>
}

// CHECK: schedules of @main: 2 stages, 4 micro-batches; GPipe's bubble (K-1)/(M+K-1) = 0.200
// CHECK: gpipe none yes {{[0-9.]+}} {{(19|2[0-9])\.[0-9]}}%
// CHECK: gpipe full yes
// CHECK: gpipe except-last yes
// CHECK: 1f1b none yes
// CHECK: 1f1b full yes
// CHECK: 1f1b except-last yes

// SVG: <svg xmlns="http://www.w3.org/2000/svg"
// SVG: @main: 2 stages, 4 micro-batches, 1f1b, recompute full
// SVG: stage 0 forward mb 0
// SVG: stage 1 recompute mb 0
// SVG: stage 1 backward mb 3
// SVG: bubble

// UNPARTITIONED: error: gpipe-schedule-report: @main has no gpipe.partition; run gpipe-partition first
// BADSCHEDULE: error: gpipe-schedule-report: schedule must be gpipe or 1f1b, got 'zigzag'
