#!/usr/bin/env python3
"""Prints an ONNX text model with a tied weight: `w` [64, 64] is used by the
first and the third MatMul of x -> MatMul(w) -> Relu -> MatMul(v) -> Relu ->
MatMul(w) -> Add(b10 projection) on 64 features and 10 classes, so on three
stages both stage 0 and stage 2 read it (gpipe-split-update's shared update).
Weights from a fixed generator; plain Python."""
import random

rng = random.Random(7)


def vals(n, s):
    return ", ".join(f"{rng.uniform(-s, s):.7g}" for _ in range(n))


print(f"""<ir_version: 8, opset_import: ["" : 17]>
tied (float[N, 64] input, float[64, 64] w = {{{vals(64 * 64, 0.2)}}},
      float[64, 64] v = {{{vals(64 * 64, 0.2)}}}, float[64, 10] p = {{{vals(640, 0.3)}}})
      => (float[N, 10] output)
{{
  a = MatMul (input, w)
  b = Relu (a)
  c = MatMul (b, v)
  d = Relu (c)
  e = MatMul (d, w)
  output = MatMul (e, p)
}}""")
