#!/usr/bin/env python3
"""Writes test/Execution/Inputs/masked_loss_mlp.onnxtxt: a 64-16-10 MLP whose
output is its loss, ONNX SoftmaxCrossEntropyLoss with ignore_index 9 and class
weights (a mean over the kept labels' weights, as PyTorch's cross_entropy with
weight= and ignore_index=). Its inputs are `input` [N, 64] and `labels` [N].
Plain Python, weights from a fixed generator (the dropout MLP's, see
make_dropout_model.py): python3 utils/make_masked_loss_model.py OUT.
"""
import argparse
import random


def values(rng, n, low, high):
    return ", ".join(f"{rng.uniform(low, high):.7g}" for _ in range(n))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    args = parser.parse_args()
    rng = random.Random(20261128)
    d, h, c = 64, 16, 10
    text = f"""<ir_version: 8, opset_import: ["" : 17]>
masked_loss_mlp (float[N, {d}] input, int64[N] labels,
                 float[{d}, {h}] fc1_weight = {{{values(rng, d * h, -0.25, 0.25)}}},
                 float[{h}] fc1_bias = {{{values(rng, h, -0.1, 0.1)}}},
                 float[{h}, {c}] fc2_weight = {{{values(rng, h * c, -0.4, 0.4)}}},
                 float[{c}] fc2_bias = {{{values(rng, c, -0.1, 0.1)}}},
                 float[{c}] class_weight = {{{values(rng, c, 0.5, 2.0)}}}) => (float loss)
{{
  m1 = MatMul (input, fc1_weight)
  a1 = Add (m1, fc1_bias)
  h1 = Relu (a1)
  m2 = MatMul (h1, fc2_weight)
  logits = Add (m2, fc2_bias)
  loss = SoftmaxCrossEntropyLoss <ignore_index = 9, reduction = "mean"> (logits, labels, class_weight)
}}
"""
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
