#!/usr/bin/env python3
"""Training step time of a gpipe-compile --target cuda trainer against PyTorch eager on one GPU.

For the transformer LM at GPT-2-small width (12 layers, d_model 768, 12
heads, vocabulary 50257, 256 tokens) and the ResNet-style CNN of
utils/export_test_models.py, in one run on the same GPU, model and batch:
  - the CUDA trainer (--stages 1 --micro-batches 1: the same step as
    PyTorch's), per precision (fp32, tf32, bf16), from the per-step times of
    its --log after --warmup steps;
  - PyTorch eager: model.train(), loss.backward(), optimizer.step()
    (SGD with momentum, as the trainer), with torch.backends TF32 matching
    the precision (bf16: torch.autocast), median of --steps after --warmup;
  - the achieved fraction of the GPU's peak: the model's training FLOPs per
    step (the forward and backward FLOPs gpipe-cost-report counts) over the
    step time and the device file's peak for the precision;
  - a simulated K-GPU pipeline: the trainer compiled for K stages and M
    micro-batches runs on this one GPU with --trace; each stage's measured
    forward and backward times per micro-batch are replayed as the GPipe
    schedule on K GPUs (activation transfers at the device file's link
    bandwidth), and the throughput is normalized as GPipe's Table 2 is
    (K=2, M=1 as 1), beside the paper's Transformer-48 numbers.
Ratio = gpipe / torch (below 1: gpipe faster). Needs a CUDA GPU, PyTorch
with CUDA (for the reference) and python3-onnx (export only); the trainer
itself runs without Python. Record the output in docs/benchmarks.md with the
date and the machine.

  /usr/bin/python3 bench/cuda_vs_pytorch.py [--build build] [--device devices/h100-sxm.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from bench_models import ROOT, load_models

# GPipe (Huang et al., 2019), Table 2: normalized training throughput of
# Transformer-48 on TPUs (K=2, M=1 is 1).
GPIPE_TRANSFORMER = {(2, 1): 1.0, (2, 4): 1.7, (2, 32): 1.8, (4, 1): 1.07, (4, 4): 3.2,
                     (4, 32): 3.4, (8, 1): 1.3, (8, 4): 4.8, (8, 32): 6.3}


def configs(m):
    # name, build, input, labels, extra gpipe-compile flags
    return [
        ("gpt2_small_lm",
         lambda: m.TransformerLM(vocab=50257, d_model=768, n_heads=12, n_layers=12, max_len=256),
         lambda: torch.randint(0, 50257, (8, 256)), lambda: torch.randint(0, 50257, (8, 256)),
         ["--class-axis", "-1"]),
        ("resnet_cnn", lambda: m.ResNetCNN(10),
         lambda: torch.randn(256, 3, 32, 32), lambda: torch.randint(0, 10, (256,)), []),
    ]


def torch_step_ms(model, x, y, precision, warmup, steps):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    model = model.cuda().train()
    x, y = x.cuda(), y.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(warmup + steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x)
            if out.dim() == 3:
                out = out.permute(0, 2, 1)
            loss = torch.nn.functional.cross_entropy(out.float(), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def compile_trainer(build, onnx_path, batch, flags, stages, micro, precision, exe):
    subprocess.run([os.path.join(build, "bin", "gpipe-compile"), onnx_path, "-o", exe,
                    "--target", "cuda", "--precision", precision, "--batch-size", str(batch),
                    "--stages", str(stages), "--micro-batches", str(micro),
                    "--optimizer", "momentum", "--lr", "0.01", "--momentum", "0.9"] + flags,
                   check=True)


def trainer_step_ms(exe, xs, ys, batch, warmup, steps, tmp, extra=()):
    log = os.path.join(tmp, "log.jsonl")
    subprocess.run([exe, "--data", xs, "--labels", ys, "--steps", str(warmup + steps),
                    "--log", log, "--log-every", str(warmup + steps), "--no-progress",
                    *extra], check=True, capture_output=True)
    rows = [json.loads(line) for line in open(log)]
    # samples_per_s is cumulative: elapsed(k) = k * batch / samples_per_s(k).
    elapsed = [r["step"] * batch / r["samples_per_s"] for r in rows]
    return (elapsed[-1] - elapsed[warmup - 1]) / steps * 1e3


def training_flops(build, onnx_path, batch, device):
    """The forward and backward FLOPs gpipe-cost-report counts for one step."""
    imported = subprocess.run(
        [os.path.join(build, "bin", "gpipe-translate"), "--import-onnx", onnx_path,
         "--batch-size", str(batch)], check=True, capture_output=True, text=True).stdout
    report = subprocess.run(
        [os.path.join(build, "bin", "gpipe-opt"),
         f"--gpipe-cost-report=device={device} format=json output=-", "-o", "/dev/null"],
        input=imported, check=True, capture_output=True, text=True).stdout
    total = json.loads(report)["total"]
    return total["forward_flops"] + total["backward_flops"]


def stage_times(trace_path, stages):
    """Per stage: the median forward and backward milliseconds per micro-batch."""
    events = json.load(open(trace_path))["traceEvents"]
    fwd = {s: [] for s in range(stages)}
    bwd = {s: [] for s in range(stages)}
    for e in events:
        if e.get("ph") != "X" or e["tid"] >= stages:
            continue
        (fwd if e["name"].startswith("forward") else bwd)[e["tid"]].append(e["dur"] / 1e3)
    return [statistics.median(fwd[s]) for s in range(stages)], \
        [statistics.median(bwd[s]) for s in range(stages)]


def simulate_gpipe(fwd, bwd, micro, transfer_ms):
    """Fill-drain on K GPUs: every micro-batch's forwards, then the backwards
    in reverse; a stage starts a micro-batch once its input arrived."""
    k = len(fwd)
    f_end = [[0.0] * micro for _ in range(k)]
    for m in range(micro):
        for s in range(k):
            ready = f_end[s - 1][m] + transfer_ms if s else 0.0
            start = max(ready, f_end[s][m - 1] if m else 0.0)
            f_end[s][m] = start + fwd[s]
    b_end = [[0.0] * micro for _ in range(k)]
    for m in range(micro):
        for s in reversed(range(k)):
            ready = b_end[s + 1][m] + transfer_ms if s + 1 < k else f_end[k - 1][micro - 1]
            start = max(ready, b_end[s][m - 1] if m else f_end[s][micro - 1])
            b_end[s][m] = start + bwd[s]
    return max(b_end[s][micro - 1] for s in range(k))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--device", default=os.path.join(ROOT, "devices", "h100-sxm.json"))
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(f"cuda_vs_pytorch: PyTorch {torch.__version__} has no usable CUDA device; "
              "this benchmark needs a GPU and PyTorch built with CUDA", file=sys.stderr)
        return 2
    device = json.load(open(args.device))
    torch.manual_seed(0)
    m = load_models()
    precisions = args.precisions.split(",")
    rows, pipeline_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, make_x, make_y, flags in configs(m):
            model, x, y = build(), make_x(), make_y()
            path = os.path.join(tmp, name + ".onnx")
            input_name = "tokens" if x.dtype == torch.int64 else "input"
            model.train()
            torch.onnx.export(model, (x,), path, opset_version=17, input_names=[input_name],
                              output_names=["output"],
                              dynamic_axes={input_name: {0: "batch"}},
                              training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False)
            xs, ys = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
            np.save(xs, x.numpy())
            np.save(ys, y.numpy())
            batch = x.shape[0]
            flops = training_flops(args.build, path, batch, args.device)
            for precision in precisions:
                exe = os.path.join(tmp, f"{name}_{precision}")
                compile_trainer(args.build, path, batch, flags, 1, 1, precision, exe)
                ours = trainer_step_ms(exe, xs, ys, batch, args.warmup, args.steps, tmp)
                ref = torch_step_ms(build(), x, y, precision, args.warmup, args.steps)
                peak = device["peak_flops"]["f32" if precision == "fp32" else precision]
                frac = flops / (ours / 1e3) / peak
                rows.append((name, tuple(x.shape), precision, ours, ref, frac))
            # The pipeline, simulated from measured per-stage times (tf32).
            link = device["link"]
            base = None
            for k, micro in [(2, 1), (2, 4), (4, 4), (4, 8), (8, 8)]:
                if batch % micro:
                    continue
                exe = os.path.join(tmp, f"{name}_k{k}_m{micro}")
                compile_trainer(args.build, path, batch, flags, k, micro, "tf32", exe)
                trace = os.path.join(tmp, "trace.json")
                trainer_step_ms(exe, xs, ys, batch, args.warmup, args.steps, tmp,
                                ["--trace", trace])
                fwd, bwd = stage_times(trace, k)
                act_bytes = 4 * batch // micro * (768 * 256 if "lm" in name else 64 * 32 * 32)
                transfer = (link["latency"] + act_bytes / link["bandwidth"]) * 1e3
                step = simulate_gpipe(fwd, bwd, micro, transfer)
                throughput = batch / step
                base = base or (throughput if (k, micro) == (2, 1) else None)
                pipeline_rows.append((name, k, micro, step, throughput / base if base else
                                      float("nan"), GPIPE_TRANSFORMER.get((k, micro))))
    gpu = torch.cuda.get_device_name(0)
    print(f"GPU: {gpu}; torch {torch.__version__}; {args.steps} steps after {args.warmup} warm-up")
    print(f"{'model':<16}{'batch':<16}{'prec':<6}{'gpipe':>10}{'torch':>10}{'ratio':>8}"
          f"{'of peak':>9}")
    for name, shape, precision, ours, ref, frac in rows:
        print(f"{name:<16}{str(shape):<16}{precision:<6}{ours:>8.2f}ms{ref:>8.2f}ms"
              f"{ours / ref:>8.2f}{100 * frac:>8.1f}%")
    print("simulated K-GPU pipeline (GPipe schedule, measured stage times, tf32):")
    print(f"{'model':<16}{'K':>3}{'M':>4}{'step':>10}{'normalized':>12}{'GPipe T-48':>12}")
    for name, k, micro, step, norm, paper in pipeline_rows:
        print(f"{name:<16}{k:>3}{micro:>4}{step:>8.2f}ms{norm:>12.2f}"
              f"{paper if paper is not None else '':>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
