#!/usr/bin/env python3
"""Import time and IR size against weight size: the importer never copies weights.

Builds the same 4-layer MLP graph twice with onnx.helper, once with
~500 MB of float32 weights and once with tiny ones (same ops, width scaled
down), imports both with gpipe-translate and prints times, IR sizes and
the ratio. Needs Debian's python3-onnx and python3-numpy.

  /usr/bin/python3 bench/import_scaling.py [--build build] [--mb 500]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_mlp(width, layers, path):
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    prev = "x"
    for i in range(layers):
        w = rng.standard_normal((width, width), dtype=np.float32)
        b = rng.standard_normal((width,), dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        prev = f"a{i}"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return os.path.getsize(path)


def time_import(tool, path, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([tool, "--import-onnx", path, "--batch-size", "8"],
                             check=True, capture_output=True).stdout
        best = min(best, time.perf_counter() - start)
    return best, len(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--mb", type=int, default=500, help="weight megabytes of the big model")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tool = os.path.join(args.build, "bin", "gpipe-translate")
    layers = 4
    big_width = int((args.mb * 1e6 / 4 / layers) ** 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small.onnx")
        big = os.path.join(tmp, "big.onnx")
        small_bytes = make_mlp(64, layers, small)
        big_bytes = make_mlp(big_width, layers, big)
        t_small, ir_small = time_import(tool, small, args.repeats)
        t_big, ir_big = time_import(tool, big, args.repeats)
    print(f"{'model':<8}{'file MB':>10}{'import s':>10}{'IR bytes':>10}")
    print(f"{'small':<8}{small_bytes / 1e6:>10.3f}{t_small:>10.3f}{ir_small:>10}")
    print(f"{'big':<8}{big_bytes / 1e6:>10.1f}{t_big:>10.3f}{ir_big:>10}")
    print(f"time ratio big/small: {t_big / t_small:.2f}, IR size ratio: {ir_big / ir_small:.2f}")


if __name__ == "__main__":
    sys.exit(main())
