func.func @main() -> tensor<1xf32> {
  %t = gpipe.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %i = gpipe.constant dense<[7]> : tensor<1xi64>
  %r = gpipe.gather %t, %i {axis = 0 : i64} : (tensor<3xf32>, tensor<1xi64>) -> tensor<1xf32>
  return %r : tensor<1xf32>
}
