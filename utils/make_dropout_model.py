#!/usr/bin/env python3
"""Writes test/Execution/Inputs/dropout_mlp.onnxtxt: a 64-16-10 MLP with
training-mode Dropout (ratio 0.5 after the hidden ReLU, 0.2 before it; the
second without a seed, the first with seed 5), weights drawn from a fixed
generator. Plain Python (no NumPy, no PyTorch), so the test data can be
remade anywhere: python3 utils/make_dropout_model.py [--ratio R] OUT.
With --ratio 0 both dropouts keep everything (the test's dropout-free twin).
"""
import argparse
import random


def values(rng, n, scale):
    return ", ".join(f"{rng.uniform(-scale, scale):.7g}" for _ in range(n))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--ratio", type=float, default=None,
                        help="one ratio for both dropouts (default 0.2 and 0.5)")
    args = parser.parse_args()
    r0, r1 = (0.2, 0.5) if args.ratio is None else (args.ratio, args.ratio)
    rng = random.Random(20261127)
    d, h, c = 64, 16, 10
    w1 = values(rng, d * h, 0.25)
    b1 = values(rng, h, 0.1)
    w2 = values(rng, h * c, 0.4)
    b2 = values(rng, c, 0.1)
    text = f"""<ir_version: 8, opset_import: ["" : 17]>
dropout_mlp (float[N, {d}] input,
             float[{d}, {h}] fc1_weight = {{{w1}}},
             float[{h}] fc1_bias = {{{b1}}},
             float[{h}, {c}] fc2_weight = {{{w2}}},
             float[{c}] fc2_bias = {{{b2}}}) => (float[N, {c}] output)
{{
  r0 = Constant <value = float {{{r0}}}> ()
  r1 = Constant <value = float {{{r1}}}> ()
  train = Constant <value = bool {{1}}> ()
  x0 = Dropout <seed = 5> (input, r0, train)
  m1 = MatMul (x0, fc1_weight)
  a1 = Add (m1, fc1_bias)
  h1 = Relu (a1)
  x1 = Dropout (h1, r1, train)
  m2 = MatMul (x1, fc2_weight)
  output = Add (m2, fc2_bias)
}}
"""
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
