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
    micro-batches runs on this one GPU with --trace and --serialize-stages
    (one stage's forward or backward at a time: stages sharing the GPU
    would otherwise stretch each other's spans, and the simulation would
    count that contention K times); each stage's measured forward and
    backward times per micro-batch are replayed as the GPipe schedule on K
    GPUs (activation transfers at the device file's link bandwidth), and
    the throughput is normalized as GPipe's Table 2 is (K=2, M=1 as 1),
    beside the paper's Transformer-48 numbers.
  - --sync events against --sync host (functions return once their work is
    enqueued; streams wait on CUDA events): the tf32 K=1 step ("events"),
    and the K=4, M=4 trainer's real step with its stages sharing this GPU.
Ratio = gpipe / torch (below 1: gpipe faster). The trainer itself runs
without Python. Record the output in docs/benchmarks.md with the date and the
machine.

Three ways to run it:
  bench/cuda_vs_pytorch.py [--build build]   all at once, on a machine with a
      CUDA GPU, gpipe built with the CUDA backend, PyTorch with CUDA and onnx;
  bench/cuda_vs_pytorch.py --prepare DIR     on a machine without a GPU (PyTorch
      for the CPU will do): exports the models, counts their FLOPs and
      compiles every trainer into DIR, with a manifest.json;
  bench/cuda_vs_pytorch.py --prepared DIR    on the GPU machine, which needs
      neither the gpipe build nor onnx: runs DIR's trainers and PyTorch.
The weights of a prepared model are in DIR/NAME.weights, external data of
DIR/NAME.onnx; a DIR carried without them (utils/gpu-kit.sh leaves them out:
GPT-2-small's are 650 MB) gets random ones of the recorded size, which time
the same. The trainers read the weights through --model, so DIR may move.
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
            out, target = model(x), y
            if out.dim() == 3:
                # An LM's loss over (batch x sequence) rows of classes, as
                # PyTorch users write it, not over dim 1 of a permuted
                # [batch, classes, sequence] view (the ONNX loss's layout,
                # which this benchmark used until 2026-11-28): gpipe's
                # training builder reshapes to rows too.
                out, target = out.reshape(-1, out.shape[-1]), y.reshape(-1)
            loss = torch.nn.functional.cross_entropy(out.float(), target)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    # The trainer that runs next gets the GPU's memory back.
    del model, x, y, opt, out, target, loss
    torch.cuda.empty_cache()
    return statistics.median(times)


def compile_trainer(build, onnx_path, batch, flags, stages, micro, precision, exe, device):
    subprocess.run([os.path.join(build, "bin", "gpipe-compile"), onnx_path, "-o", exe,
                    "--target", "cuda", "--precision", precision, "--batch-size", str(batch),
                    "--stages", str(stages), "--micro-batches", str(micro),
                    "--optimizer", "momentum", "--lr", "0.01", "--momentum", "0.9",
                    "--devices", device] + flags,
                   check=True)


class TrainerFailed(Exception):
    """A compiled trainer exited with an error (its message)."""


def trainer_env():
    """The environment of a trainer: GPIPE_TRAINER_LIBRARY_PATH (the
    libraries a kit carries, utils/gpu-kit.sh) ahead of LD_LIBRARY_PATH,
    for the trainers only, not for this Python and PyTorch."""
    env = dict(os.environ)
    extra = env.get("GPIPE_TRAINER_LIBRARY_PATH")
    if extra:
        env["LD_LIBRARY_PATH"] = extra + (":" + env["LD_LIBRARY_PATH"]
                                          if env.get("LD_LIBRARY_PATH") else "")
    return env


def trainer_step_ms(exe, model, xs, ys, batch, warmup, steps, tmp, extra=(), timeout=None):
    log = os.path.join(tmp, "log.jsonl")
    try:
        run = subprocess.run([exe, "--model", model, "--data", xs, "--labels", ys,
                              "--steps", str(warmup + steps), "--log", log,
                              "--log-every", str(warmup + steps), "--no-progress", *extra],
                             capture_output=True, text=True, env=trainer_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TrainerFailed(f"{os.path.basename(exe)} {' '.join(extra)}: no result in {timeout} s")
    if run.returncode:
        raise TrainerFailed(f"{os.path.basename(exe)} failed: "
                            f"{(run.stderr or run.stdout).strip()}")
    rows = [json.loads(line) for line in open(log)]
    # samples_per_s is cumulative: elapsed(k) = k * batch / samples_per_s(k).
    elapsed = [r["step"] * batch / r["samples_per_s"] for r in rows]
    return (elapsed[-1] - elapsed[warmup - 1]) / steps * 1e3


def supports(exe, flag):
    """Whether trainer `exe` lists `flag` in its --help."""
    run = subprocess.run([exe, "--help"], capture_output=True, text=True, env=trainer_env())
    return flag in run.stdout


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


PIPELINES = [(2, 1), (2, 4), (4, 4), (4, 8), (8, 8)]


def externalize(path, weights):
    """Moves DIR/NAME.onnx's float initializers of 64 KiB or more into the
    external data file `weights` (beside it); returns its size in bytes."""
    import onnx
    from onnx import external_data_helper
    model = onnx.load(path)
    offset = 0
    with open(os.path.join(os.path.dirname(path), weights), "wb") as out:
        for t in model.graph.initializer:
            if t.data_type != onnx.TensorProto.FLOAT or not t.HasField("raw_data") or \
                    len(t.raw_data) < 1 << 16:
                continue
            data = t.raw_data
            out.write(data)
            external_data_helper.set_external_data(t, weights, offset, len(data))
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            offset += len(data)
    onnx.save(model, path)
    return offset


def prepare(args, out):
    """Exports, counts and compiles into `out`; writes out/manifest.json."""
    m = load_models()
    os.makedirs(out, exist_ok=True)
    device_file = os.path.abspath(args.device)
    manifest = {"device": json.load(open(device_file)), "models": []}
    for name, build, make_x, make_y, flags in configs(m):
        if name not in args.models.split(","):
            continue
        torch.manual_seed(0)
        model, x, y = build(), make_x(), make_y()
        path = os.path.join(out, name + ".onnx")
        input_name = "tokens" if x.dtype == torch.int64 else "input"
        model.train()
        torch.onnx.export(model, (x,), path, opset_version=17, input_names=[input_name],
                          output_names=["output"],
                          dynamic_axes={input_name: {0: "batch"}},
                          training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False)
        weights_bytes = externalize(path, name + ".weights")
        np.save(os.path.join(out, name + "_x.npy"), x.numpy())
        np.save(os.path.join(out, name + "_y.npy"), y.numpy())
        batch = x.shape[0]
        entry = {"name": name, "onnx": name + ".onnx", "weights": name + ".weights",
                 "weights_bytes": weights_bytes, "x": name + "_x.npy", "y": name + "_y.npy",
                 "shape": list(x.shape), "batch": batch,
                 "flops": training_flops(args.build, path, batch, device_file),
                 "trainers": {}, "pipelines": []}
        for precision in args.precisions.split(","):
            exe = f"{name}_{precision}"
            print(f"compiling {exe}", flush=True)
            compile_trainer(args.build, path, batch, flags, 1, 1, precision,
                            os.path.join(out, exe), device_file)
            entry["trainers"][precision] = exe
        for k, micro in PIPELINES:
            if batch % micro:
                continue
            exe = f"{name}_k{k}_m{micro}"
            print(f"compiling {exe}", flush=True)
            compile_trainer(args.build, path, batch, flags, k, micro, "tf32",
                            os.path.join(out, exe), device_file)
            entry["pipelines"].append({"k": k, "micro": micro, "exe": exe})
        manifest["models"].append(entry)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def ensure_weights(path, size):
    """Random weights (normal, std 0.02) where the external data file is
    missing: a step's time does not depend on the values."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        left = size // 4
        while left:
            n = min(left, 1 << 24)
            f.write((rng.standard_normal(n, dtype=np.float32) * 0.02).tobytes())
            left -= n


def measure(args, kit):
    """Runs the trainers of a prepared directory and PyTorch on this GPU."""
    manifest = json.load(open(os.path.join(kit, "manifest.json")))
    device = manifest["device"]
    m = load_models()
    builders = {name: (build, make_x, make_y) for name, build, make_x, make_y, _ in configs(m)}
    rows, pipeline_rows, shared_rows, failures = [], [], [], []
    precisions = args.precisions.split(",")
    # One trainer's failure costs its row, not the rest of the run (a GPU
    # machine's minutes are few): it is reported and the exit status is 1.
    def attempt(what, fn):
        try:
            return fn()
        except TrainerFailed as e:
            print(f"cuda_vs_pytorch: {what}: {e}", file=sys.stderr, flush=True)
            failures.append(what)
            return None
    with tempfile.TemporaryDirectory() as tmp:
        for entry in manifest["models"]:
            name, batch = entry["name"], entry["batch"]
            ensure_weights(os.path.join(kit, entry["weights"]), entry["weights_bytes"])
            model = os.path.join(kit, entry["onnx"])
            xs, ys = os.path.join(kit, entry["x"]), os.path.join(kit, entry["y"])
            x, y = torch.from_numpy(np.load(xs)), torch.from_numpy(np.load(ys))
            build = builders[name][0]
            for precision in precisions:
                if precision not in entry["trainers"]:
                    continue
                exe = os.path.join(kit, entry["trainers"][precision])
                ours = attempt(f"{name} {precision}", lambda: trainer_step_ms(
                    exe, model, xs, ys, batch, args.warmup, args.steps, tmp))
                if ours is None:
                    continue
                torch.manual_seed(0)
                ref = torch_step_ms(build(), x, y, precision, args.warmup, args.steps)
                peak = device["peak_flops"]["f32" if precision == "fp32" else precision]
                frac = entry["flops"] / (ours / 1e3) / peak
                # --sync events: the functions return once their work is
                # enqueued (the tf32 trainer only: minutes are few).
                events = None
                if precision == "tf32" and supports(exe, "--sync host|events"):
                    events = attempt(f"{name} {precision} --sync events",
                                     lambda: trainer_step_ms(exe, model, xs, ys, batch,
                                                             args.warmup, args.steps, tmp,
                                                             ["--sync", "events"], timeout=120))
                rows.append((name, tuple(entry["shape"]), precision, ours, ref, frac, events))
            # The pipeline, simulated from measured per-stage times (tf32).
            link = device["link"]
            base = None
            for p in entry["pipelines"]:
                k, micro = p["k"], p["micro"]
                trace = os.path.join(tmp, "trace.json")
                exe = os.path.join(kit, p["exe"])
                serial = supports(exe, "--serialize-stages")
                flags = ["--trace", trace] + (["--serialize-stages"] if serial else [])
                if attempt(f"{name} K={k} M={micro}", lambda: trainer_step_ms(
                        exe, model, xs, ys, batch, args.warmup, args.steps, tmp,
                        flags)) is None:
                    continue
                fwd, bwd = stage_times(trace, k)
                # The K stages as they run on this one GPU, side by side,
                # under --sync host and --sync events (K=4, M=4 only).
                if (k, micro) == (4, 4) and supports(exe, "--sync host|events"):
                    shared = [attempt(f"{name} K={k} M={micro} one GPU --sync {mode}",
                                      lambda: trainer_step_ms(exe, model, xs, ys, batch,
                                                              args.warmup, args.steps, tmp,
                                                              ["--sync", mode], timeout=120))
                              for mode in ("host", "events")]
                    if None not in shared:
                        shared_rows.append((name, k, micro, *shared))
                if not serial:
                    print(f"note: {os.path.basename(p['exe'])} has no --serialize-stages "
                          "(a kit packed before 2026-11-28): its stage times include the "
                          "other stages' contention", file=sys.stderr)
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
          f"{'of peak':>9}{'events':>10}")
    for name, shape, precision, ours, ref, frac, events in rows:
        print(f"{name:<16}{str(shape):<16}{precision:<6}{ours:>8.2f}ms{ref:>8.2f}ms"
              f"{ours / ref:>8.2f}{100 * frac:>8.1f}%"
              + (f"{events:>8.2f}ms" if events is not None else ""))
    if shared_rows:
        print("K stages sharing this GPU (real steps, tf32), --sync host against events:")
        for name, k, micro, host, events in shared_rows:
            print(f"{name:<16}K={k} M={micro}{host:>10.2f}ms{events:>10.2f}ms"
                  f"{events / host:>8.2f}")
    print("simulated K-GPU pipeline (GPipe schedule, measured stage times, tf32):")
    print(f"{'model':<16}{'K':>3}{'M':>4}{'step':>10}{'normalized':>12}{'GPipe T-48':>12}")
    for name, k, micro, step, norm, paper in pipeline_rows:
        print(f"{name:<16}{k:>3}{micro:>4}{step:>8.2f}ms{norm:>12.2f}"
              f"{paper if paper is not None else '':>12}")
    if failures:
        print(f"failed: {', '.join(failures)}")
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--device", default=os.path.join(ROOT, "devices", "h100-sxm.json"))
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    ap.add_argument("--models", default="gpt2_small_lm,resnet_cnn",
                    help="which of gpt2_small_lm and resnet_cnn to prepare")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--prepare", metavar="DIR",
                      help="export and compile into DIR (no GPU needed)")
    mode.add_argument("--prepared", metavar="DIR",
                      help="measure DIR's trainers (no gpipe build needed)")
    args = ap.parse_args()
    if args.prepare:
        prepare(args, args.prepare)
        return 0
    if not torch.cuda.is_available():
        print(f"cuda_vs_pytorch: PyTorch {torch.__version__} has no usable CUDA device; "
              "this benchmark needs a GPU and PyTorch built with CUDA", file=sys.stderr)
        return 2
    if args.prepared:
        return measure(args, args.prepared)
    with tempfile.TemporaryDirectory() as kit:
        prepare(args, kit)
        return measure(args, kit)


if __name__ == "__main__":
    sys.exit(main())
