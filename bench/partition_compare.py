#!/usr/bin/env python3
"""Bottleneck stage time of gpipe's partition against other systems' rules.

For the committed test models and a 48-block transformer LM (exported here
from utils/export_test_models.py's TransformerLM with 48 layers), runs
gpipe-partition with balance=time (gpipe's exact partition), params and
uniform (DeepSpeed's rules) and torchgpipe (its block partition), on the
same cost vectors (gpipe's cost model, H100 SXM, 8 micro-batches, GPipe
schedule with recompute), and prints the bottleneck stage times and their
ratio to gpipe's. Needs Debian's python3-torch for the 48-block export.

  /usr/bin/python3 bench/partition_compare.py [--build build]
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def export_deep_lm(path, layers=48):
    spec = importlib.util.spec_from_file_location(
        "export_test_models", os.path.join(ROOT, "utils", "export_test_models.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    torch.manual_seed(0)
    model = m.TransformerLM(vocab=1000, d_model=256, n_heads=4, n_layers=layers, max_len=128).eval()
    tokens = torch.randint(0, 1000, (2, 128))
    torch.onnx.export(model, (tokens,), path, opset_version=17, input_names=["tokens"],
                      output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch", 1: "seq"}})


def bottleneck(build, onnx, shape_flags, stages, balance):
    imported = subprocess.run([os.path.join(build, "bin", "gpipe-translate"), "--import-onnx", onnx,
                               "--mlir-print-debuginfo"] + shape_flags,
                              check=True, capture_output=True, text=True).stdout
    options = (f"stages={stages} devices={os.path.join(ROOT, 'devices', 'h100-sxm.json')} "
               f"micro-batches=8 balance={balance} report=-")
    out = subprocess.run([os.path.join(build, "bin", "gpipe-opt"), f"--gpipe-partition={options}",
                          "-o", os.devnull], input=imported, check=True, capture_output=True,
                         text=True).stdout
    return float(re.search(r"bottleneck ([0-9.]+) ms", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    models = ROOT + "/test/models"
    with tempfile.TemporaryDirectory() as tmp:
        deep = os.path.join(tmp, "lm48.onnx")
        export_deep_lm(deep)
        cases = [
            ("mlp (batch 256)", f"{models}/mlp/model.onnx", ["--batch-size", "256"], [2]),
            ("resnet_cnn (batch 64)", f"{models}/resnet_cnn/model.onnx", ["--batch-size", "64"], [2, 4]),
            ("transformer_lm 2 blocks", f"{models}/transformer_lm/model.onnx",
             ["--batch-size", "16", "--dim", "seq=16"], [2, 4]),
            ("transformer_lm 48 blocks", deep, ["--batch-size", "16", "--dim", "seq=128"], [4, 8, 16]),
        ]
        print(f"{'model':<26}{'K':>3}{'gpipe ms':>11}{'ds-params':>11}{'ds-uniform':>11}"
              f"{'torchgpipe':>11}   ratios to gpipe")
        for name, path, flags, ks in cases:
            for k in ks:
                ours = bottleneck(args.build, path, flags, k, "time")
                others = [bottleneck(args.build, path, flags, k, b)
                          for b in ("params", "uniform", "torchgpipe")]
                ratios = " ".join(f"{o / ours:.2f}" for o in others)
                print(f"{name:<26}{k:>3}{ours:>11.4f}" + "".join(f"{o:>11.4f}" for o in others)
                      + f"   {ratios}")


if __name__ == "__main__":
    sys.exit(main())
