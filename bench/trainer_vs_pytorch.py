#!/usr/bin/env python3
"""Training step time of a gpipe-compile'd trainer against PyTorch (CPU), as a ratio.

Builds the MLP, ResNet-style CNN (training-mode BatchNorm) and transformer LM
of utils/export_test_models.py at benchmark sizes, exports each to ONNX in
training mode, and in one run times one training step (forward, backward,
SGD-with-momentum update; mean cross-entropy) with the same batch and the
same number of threads:
  - the trainer gpipe-compile builds (--stages 1 --micro-batches 1
    --recompute none: the same unpipelined step as PyTorch's, which keeps
    its activations; and --stages 2 --micro-batches 4 with GPipe's default
    --recompute full, the pipelined one, whose stages share the same
    cores), from the per-step times of its --log after --warmup steps,
  - PyTorch eager: model.train(), loss.backward(), optimizer.step(), median
    of --steps after --warmup.
Ratio = gpipe / torch (below 1: gpipe faster). Needs Debian's python3-torch
and python3-onnx (export only); the trainer itself runs without Python.

  /usr/bin/python3 bench/trainer_vs_pytorch.py [--build build] [--threads 2]
"""
import argparse
import json
import os

# OpenMP threads that spin between parallel loops take a 2-vCPU machine's
# core from the thread doing the work (measured: the transformer LM's step
# 420-506 ms spinning, 192 ms passive). libgomp reads this when it loads, so
# it is set before torch is imported; the trainers inherit it. Both sides
# run under it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from bench_models import ROOT, load_models


def configs(m):
    # name, build, input, labels (classes), extra gpipe-compile flags
    return [
        ("mlp", lambda: m.MLP(1024, 2048, 2048, 1000),
         lambda: torch.randn(128, 1024), lambda: torch.randint(0, 1000, (128,)), []),
        ("resnet_cnn", lambda: m.ResNetCNN(10),
         lambda: torch.randn(32, 3, 32, 32), lambda: torch.randint(0, 10, (32,)), []),
        ("transformer_lm",
         lambda: m.TransformerLM(vocab=1000, d_model=256, n_heads=4, n_layers=4, max_len=64),
         lambda: torch.randint(0, 1000, (8, 64)), lambda: torch.randint(0, 1000, (8, 64)),
         ["--class-axis", "-1"]),
    ]


def torch_step_ms(model, x, y, warmup, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        opt.zero_grad()
        out, target = model(x), y
        if out.dim() == 3:
            # The LM's loss over (batch x sequence) rows of classes, as
            # PyTorch users write it, not over dim 1 of the permuted
            # [batch, classes, sequence] view this benchmark used until
            # 2026-11-28 (gpipe's training builder reshapes to rows too).
            out, target = out.reshape(-1, out.shape[-1]), y.reshape(-1)
        torch.nn.functional.cross_entropy(out, target).backward()
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def trainer_step_ms(build, onnx_path, x, y, flags, stages, micro, threads, warmup, steps, tmp):
    exe = os.path.join(tmp, f"trainer_{stages}_{micro}")
    # Unpipelined, nothing is worth recomputing: keep what PyTorch keeps.
    if stages == 1 and micro == 1:
        flags = flags + ["--recompute", "none"]
    subprocess.run([os.path.join(build, "bin", "gpipe-compile"), onnx_path, "-o", exe,
                    "--batch-size", str(x.shape[0]), "--stages", str(stages),
                    "--micro-batches", str(micro), "--optimizer", "momentum", "--lr", "0.01",
                    "--momentum", "0.9"] + flags, check=True)
    xs, ys, log = (os.path.join(tmp, f) for f in ("x.npy", "y.npy", "log.jsonl"))
    np.save(xs, x.numpy())
    np.save(ys, y.numpy())
    subprocess.run([exe, "--data", xs, "--labels", ys, "--steps", str(warmup + steps),
                    "--threads", str(max(1, threads // stages)), "--log", log,
                    "--log-every", str(warmup + steps), "--no-progress"],
                   check=True, capture_output=True)
    rows = [json.loads(line) for line in open(log)]
    # samples_per_s is cumulative: elapsed(k) = k * batch / samples_per_s(k).
    batch = x.shape[0]
    elapsed = [r["step"] * batch / r["samples_per_s"] for r in rows]
    # The median step after the warm-up, as PyTorch's: a mean over a few
    # steps counted a slow late warm-up step or a spike of the shared machine.
    durations = [b - a for a, b in zip(elapsed, elapsed[1:])][warmup - 1:]
    return statistics.median(durations) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--models", default="mlp,resnet_cnn,transformer_lm",
                    help="which of mlp, resnet_cnn and transformer_lm to run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    m = load_models()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, make_x, make_y, flags in configs(m):
            if name not in args.models.split(","):
                continue
            model = build()
            x, y = make_x(), make_y()
            path = os.path.join(tmp, name + ".onnx")
            input_name = "tokens" if name == "transformer_lm" else "input"
            dynamic = {input_name: {0: "batch"}}
            model.train()
            torch.onnx.export(model, (x,), path, opset_version=17, input_names=[input_name],
                              output_names=["output"], dynamic_axes=dynamic,
                              training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False)
            one = trainer_step_ms(args.build, path, x, y, flags, 1, 1, args.threads,
                                  args.warmup, args.steps, tmp)
            piped = trainer_step_ms(args.build, path, x, y, flags, 2, 4, args.threads,
                                    args.warmup, args.steps, tmp)
            ref = torch_step_ms(model, x, y, args.warmup, args.steps)
            results.append((name, tuple(x.shape), one, piped, ref))
    print(f"threads: {args.threads}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
          f"torch {torch.__version__}, "
          f"{args.steps} steps after {args.warmup} warm-up")
    print(f"{'model':<16}{'batch':<16}{'gpipe K=1':>11}{'K=2 M=4':>10}{'torch':>9}"
          f"{'ratio K=1':>11}{'ratio K=2':>11}")
    for name, shape, one, piped, ref in results:
        print(f"{name:<16}{str(shape):<16}{one:>9.1f}ms{piped:>8.1f}ms{ref:>7.1f}ms"
              f"{one / ref:>11.2f}{piped / ref:>11.2f}")


if __name__ == "__main__":
    sys.exit(main())
