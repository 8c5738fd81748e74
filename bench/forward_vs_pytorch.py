#!/usr/bin/env python3
"""Forward-pass time of gpipe-run against PyTorch on the CPU, as a ratio.

Builds the MLP, ResNet-style CNN and transformer LM of
utils/export_test_models.py at benchmark sizes, exports each to ONNX, and in
one run times (median of --repeat forwards, after a warm-up):
  - gpipe-run --repeat (the interpreter over the CPU runtime; parameters
    loaded once, import not counted),
  - PyTorch eval() forward under torch.inference_mode(),
both with the same number of threads. Needs Debian's python3-torch and
python3-onnx (for export only).

  /usr/bin/python3 bench/forward_vs_pytorch.py [--build build] [--threads 2]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from bench_models import ROOT, load_models


def configs(m):
    return [
        ("mlp", lambda: m.MLP(1024, 4096, 4096, 1000), lambda: [torch.randn(256, 1024)], {}),
        ("resnet_cnn", lambda: m.ResNetCNN(10), lambda: [torch.randn(32, 3, 64, 64)], {}),
        ("transformer_lm",
         lambda: m.TransformerLM(vocab=1000, d_model=256, n_heads=4, n_layers=4, max_len=128),
         lambda: [torch.randint(0, 1000, (8, 128))], {"seq": 128}),
    ]


def time_torch(model, inputs, repeat):
    with torch.inference_mode():
        model(*inputs)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model(*inputs)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    m = load_models()
    tool = os.path.join(args.build, "bin", "gpipe-run")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, make_inputs, dims in configs(m):
            model = build().eval()
            inputs = make_inputs()
            input_names = ["tokens" if name == "transformer_lm" else "input"]
            path = os.path.join(tmp, name + ".onnx")
            dynamic = {input_names[0]: {0: "batch"} | ({1: "seq"} if dims else {})}
            torch.onnx.export(model, tuple(inputs), path, opset_version=17,
                              input_names=input_names, output_names=["output"],
                              dynamic_axes=dynamic)
            npy = os.path.join(tmp, name + ".npy")
            np.save(npy, inputs[0].numpy())
            cmd = [tool, path, "--batch-size", str(inputs[0].shape[0]),
                   "--input", f"{input_names[0]}={npy}", "--output-dir", tmp,
                   "--repeat", str(args.repeat), "--num-threads", str(args.threads)]
            for k, v in dims.items():
                cmd += ["--dim", f"{k}={v}"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            gpipe_ms = float(re.search(r"forward: ([0-9.]+) ms", out).group(1))
            torch_ms = time_torch(model, inputs, args.repeat)
            got = np.load(os.path.join(tmp, "output.npy"))
            with torch.inference_mode():
                ref = model(*inputs).numpy()
            err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
            rows.append((name, tuple(inputs[0].shape), gpipe_ms, torch_ms, err))
    print(f"threads: {args.threads}, torch {torch.__version__}, median of {args.repeat}")
    print(f"{'model':<16}{'input':<18}{'gpipe ms':>10}{'torch ms':>10}{'ratio':>8}{'rel err':>10}")
    for name, shape, g, t, e in rows:
        print(f"{name:<16}{str(shape):<18}{g:>10.2f}{t:>10.2f}{g / t:>8.2f}{e:>10.1e}")


if __name__ == "__main__":
    sys.exit(main())
