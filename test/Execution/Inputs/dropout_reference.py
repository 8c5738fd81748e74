#!/usr/bin/env python3
"""An independent reference for training with dropout: plain-Python SGD steps
of the dropout MLP (test/Execution/Inputs/dropout_mlp.onnxtxt), drawing each
dropout's mask with the generator gpipe documents (python-free-runtime/src/random.h: element i of
the step-s mini-batch is kept when uniform(seed, stream s, counter i) >= ratio),
compared with the parameters gpipe wrote. No NumPy: CI need not have it.

Usage: dropout_reference.py MODEL.onnxtxt INPUT.npy LABELS.npy PARAMS_DIR
           --batch B --steps S --lr LR --tol T [--reuse-first-masks]
Prints one line per parameter ("param NAME: relative error E") and exits 1
if any error exceeds T.
"""
import argparse
import ast
import math
import os
import re
import struct
import sys

MASK = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed, stream):
    return mix64(mix64(seed & MASK) ^ ((stream * 0xD1B54A32D192ED03 + 0x8CB92BA72F3D8DD7) & MASK))


def uniform(key, i):
    z = mix64((key + (i + 1) * 0x9E3779B97F4A7C15) & MASK)
    return (z >> 11) * 2.0 ** -53


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def read_npy(path):
    data = open(path, "rb").read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    header_len = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + header_len].decode())
    shape, descr = header["shape"], header["descr"]
    count = 1
    for d in shape:
        count *= d
    fmt = {"<f4": "f", "<i8": "q"}[descr]
    body = data[10 + header_len:]
    return list(shape), list(struct.unpack(f"<{count}{fmt}", body[:count * struct.calcsize(fmt)]))


def read_model(path):
    text = open(path).read()
    weights = {}
    for shape, name, vals in re.findall(r"float\[([0-9, ]+)\] ([\w.]+) = \{([^}]*)\}", text):
        weights[name] = ([int(s) for s in shape.split(",")], [float(v) for v in vals.split(",")])
    ratios = {name: float(v) for name, v in re.findall(r"(r[01]) = Constant <value = float \{([0-9.e-]+)\}>", text)}
    return weights, ratios


def dropout(x, ratio, seed, step):
    """gpipe's training-mode dropout of the flat row-major tensor x."""
    ratio = f32(ratio)
    if ratio == 0.0:
        return list(x), [1] * len(x)
    key = stream_key(seed, step)
    scale = f32(1.0 / (1.0 - ratio))
    mask = [1 if uniform(key, i) >= ratio else 0 for i in range(len(x))]
    return [v * scale if m else 0.0 for v, m in zip(x, mask)], mask


def matmul(a, b, n, k, m):
    return [sum(a[i * k + t] * b[t * m + j] for t in range(k)) for i in range(n) for j in range(m)]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("labels")
    p.add_argument("params")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--tol", type=float, required=True)
    p.add_argument("--reuse-first-masks", action="store_true",
                   help="draw every step's masks from stream 1 (a wrong reference)")
    a = p.parse_args()
    weights, ratios = read_model(a.model)
    (rows, d), xs = read_npy(a.input)
    _, labels = read_npy(a.labels)
    w1 = weights["fc1_weight"][1]
    b1 = weights["fc1_bias"][1]
    w2 = weights["fc2_weight"][1]
    b2 = weights["fc2_bias"][1]
    h = len(b1)
    c = len(b2)
    n = a.batch
    # The model's dropouts: the input's has seed 5, the hidden one none, so
    # gpipe-build-training gives it the smallest unused seed, 0.
    for step in range(1, a.steps + 1):
        first = (step - 1) * n
        x = xs[first * d:(first + n) * d]
        y = labels[first:first + n]
        stream = 1 if a.reuse_first_masks else step
        x0, _ = dropout(x, ratios["r0"], 5, stream)
        a1 = [v + b1[i % h] for i, v in enumerate(matmul(x0, w1, n, d, h))]
        hid = [max(v, 0.0) for v in a1]
        x1, mask1 = dropout(hid, ratios["r1"], 0, stream)
        out = [v + b2[i % c] for i, v in enumerate(matmul(x1, w2, n, h, c))]
        dout = []
        for r in range(n):
            row = out[r * c:(r + 1) * c]
            top = max(row)
            e = [math.exp(v - top) for v in row]
            s = sum(e)
            dout += [(e[j] / s - (1.0 if j == y[r] else 0.0)) / n for j in range(c)]
        dw2 = [sum(x1[r * h + i] * dout[r * c + j] for r in range(n)) for i in range(h) for j in range(c)]
        db2 = [sum(dout[r * c + j] for r in range(n)) for j in range(c)]
        dx1 = [sum(dout[r * c + j] * w2[i * c + j] for j in range(c)) for r in range(n) for i in range(h)]
        scale1 = f32(1.0 / (1.0 - f32(ratios["r1"]))) if f32(ratios["r1"]) else 1.0
        da1 = [dx1[i] * mask1[i] * scale1 * (1.0 if a1[i] > 0 else 0.0) for i in range(n * h)]
        dw1 = [sum(x0[r * d + i] * da1[r * h + j] for r in range(n)) for i in range(d) for j in range(h)]
        db1 = [sum(da1[r * h + j] for r in range(n)) for j in range(h)]
        w1 = [p - a.lr * g for p, g in zip(w1, dw1)]
        b1 = [p - a.lr * g for p, g in zip(b1, db1)]
        w2 = [p - a.lr * g for p, g in zip(w2, dw2)]
        b2 = [p - a.lr * g for p, g in zip(b2, db2)]
    bad = False
    for name, ref in (("fc1_weight", w1), ("fc1_bias", b1), ("fc2_weight", w2), ("fc2_bias", b2)):
        _, got = read_npy(os.path.join(a.params, name + ".npy"))
        diff = math.sqrt(sum((g - r) ** 2 for g, r in zip(got, ref)))
        norm = math.sqrt(sum(r * r for r in ref))
        err = diff / norm
        ok = err <= a.tol and len(got) == len(ref)
        bad |= not ok
        print(f"param '{name}': relative error {err:.3g}{'' if ok else ' FAIL'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
