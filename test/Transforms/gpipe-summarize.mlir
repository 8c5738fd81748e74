// RUN: gpipe-opt %s --gpipe-summarize -o /dev/null 2>&1 | FileCheck %s
// RUN: gpipe-opt %s --gpipe-summarize=output=- -o /dev/null | FileCheck %s
// RUN: gpipe-opt %s --gpipe-summarize | FileCheck %s --check-prefix=IR
// RUN: not gpipe-opt %s --gpipe-summarize=output=/nonexistent/dir/s.txt 2>&1 | FileCheck %s --check-prefix=BADFILE

// CHECK: parameters: 2 tensors, 36 elements, 144 bytes
// CHECK-NEXT: function @main
// CHECK-NEXT:   input  x: tensor<2x8xf32>
// CHECK-NEXT:   output y: tensor<2x4xf32>
// CHECK-NEXT:   ops: 6
// CHECK-NEXT:     gpipe.get_param 2
// CHECK-NEXT:     func.return 1
// CHECK-NEXT:     gpipe.add 1
// CHECK-NEXT:     gpipe.matmul 1
// CHECK-NEXT:     gpipe.relu 1

// The IR passes through unchanged.
// IR: gpipe.param @w
// IR: gpipe.matmul

// BADFILE: cannot open summary file '/nonexistent/dir/s.txt'

gpipe.param @w : tensor<8x4xf32> {file = "/m.onnx", initializer = "w"}
gpipe.param @b : tensor<4xf32> {file = "/m.onnx", initializer = "b"}
func.func @main(%x: tensor<2x8xf32> {gpipe.name = "x"}) -> (tensor<2x4xf32> {gpipe.name = "y"}) {
  %w = gpipe.get_param @w : tensor<8x4xf32>
  %b = gpipe.get_param @b : tensor<4xf32>
  %0 = gpipe.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %1 = gpipe.add %0, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %2 = gpipe.relu %1 : tensor<2x4xf32>
  return %2 : tensor<2x4xf32>
}
