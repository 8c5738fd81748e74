#!/usr/bin/env python3
"""Feeds mutated ONNX models to gpipe's tools and reports any that crash.

A crash is a signal (an abort, a segmentation fault), an LLVM assertion or
fatal error, or a run that outlives --timeout; every other outcome (success,
or a clean "error:" line with a non-zero exit) is what bad input should get.
Each mutant that crashes is kept as crash-N.onnx in --out with the command.

Three kinds of mutants, in turn, of the committed test models:
  bytes    - a few random bytes of the file overwritten (the protobuf parser
             and the checks after it);
  graph    - the decoded graph edited: attributes set to odd values (negative,
             zero, huge, NaN), inputs renamed or dropped, op types swapped,
             initializer dims changed, outputs duplicated;
  pipeline - an attribute edit that still imports, then the training passes
             (build-training, partition, pipeline) and both emitters.
bytes and graph run gpipe-translate --import-onnx only.

  utils/fuzz_onnx.py [--build build] [--count 300] [--seed 1] [--out DIR]

Needs Python with the onnx package (Debian's python3-onnx). Exit status 1
when any mutant crashed. 2026-11-28: seeds 5 and 7 (115 mutants of each
kind), no crash.
"""
import argparse
import copy
import os
import random
import subprocess
import sys

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["mlp", "resnet_cnn", "transformer_lm"]
CRASH_MARKS = ("Assertion", "LLVM ERROR", "UNREACHABLE", "PLEASE submit a bug report")


def crashed(run):
    return run.returncode < 0 or run.returncode >= 128 or any(m in run.stderr for m in CRASH_MARKS)


def mutate_bytes(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def mutate_graph(rng, model, mild):
    g = model.graph
    for _ in range(rng.randint(1, 2 if mild else 3)):
        node = rng.choice(g.node)
        kind = 0 if mild else rng.randrange(6)
        if kind == 0 and node.attribute:
            a = rng.choice(node.attribute)
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice(
                    [-1, 0, 1, 2, 3] if mild else [-5, -1, 0, 1, 2, 3, 100, 2**40])
            elif a.type == onnx.AttributeProto.INT:
                a.i = rng.choice([-1, 0, 1, 2] if mild else [-5, -1, 0, 1, 2, 7, 2**40])
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice([0.0, -1.0, 1e-3] if mild else [0.0, -1.0, float("nan"), 1e30])
        elif kind == 1 and node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(
                ["", "nosuch", g.node[0].output[0]] + [t.name for t in g.initializer[:3]])
        elif kind == 2:
            node.op_type = rng.choice(["Conv", "MatMul", "Gemm", "Reshape", "Transpose", "Softmax",
                                       "NoSuchOp", "Add", "Gather", "Slice", "Concat",
                                       "LayerNormalization", "BatchNormalization"])
        elif kind == 3 and g.initializer:
            t = rng.choice(g.initializer)
            if t.dims:
                t.dims[rng.randrange(len(t.dims))] = rng.choice([0, 1, 3, 7])
        elif kind == 4:
            del node.input[:]
        elif kind == 5 and node.output:
            node.output[0] = rng.choice(["dup", g.node[-1].output[0],
                                         node.input[0] if node.input else "x"])
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--count", type=int, default=300, help="mutants in all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120, help="seconds per command")
    ap.add_argument("--out", default="fuzz-out")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    tool = lambda name: os.path.join(args.build, "bin", name)
    paths = [os.path.join(ROOT, "test", "models", m, "model.onnx") for m in MODELS]
    models = [onnx.load(p) for p in paths]
    raw = [open(p, "rb").read() for p in paths]
    mutant = os.path.join(args.out, "mutant.onnx")
    mlir, piped = os.path.join(args.out, "mutant.mlir"), os.path.join(args.out, "piped.mlir")
    devices = os.path.join(ROOT, "devices", "h100-sxm.json")
    counts, crashes = {"bytes": 0, "graph": 0, "pipeline": 0}, 0

    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, -1, "", f"timeout after {args.timeout} s")

    def report(i, cmd, result):
        nonlocal crashes
        crashes += 1
        kept = os.path.join(args.out, f"crash-{i}.onnx")
        os.replace(mutant, kept)
        print(f"CRASH {kept}: {' '.join(cmd)}\n  {result.stderr.strip()[-400:]}", flush=True)

    for i in range(args.count):
        kind = ("bytes", "graph", "pipeline")[i % 3]
        which = rng.randrange(len(models))
        if kind == "bytes":
            open(mutant, "wb").write(mutate_bytes(rng, raw[which]))
        else:
            onnx.save(mutate_graph(rng, copy.deepcopy(models[which]), kind == "pipeline"), mutant)
        counts[kind] += 1
        cmd = [tool("gpipe-translate"), "--import-onnx", mutant, "--batch-size", "4",
               "--dim", "seq=8", "-o", mlir]
        result = run(cmd)
        if crashed(result):
            report(i, cmd, result)
            continue
        if kind != "pipeline" or result.returncode:
            continue
        extra = " class-axis=-1" if MODELS[which] == "transformer_lm" else ""
        cmd = [tool("gpipe-opt"), mlir,
               "--gpipe-build-training=loss=cross-entropy optimizer="
               f"{rng.choice(['sgd', 'momentum', 'adamw'])} pipeline-functions=true{extra}",
               f"--gpipe-partition=function=train_step_loss stages={rng.choice([1, 2, 3])} "
               f"devices={devices}",
               "--gpipe-pipeline=function=train_step_loss micro-batches=2 schedule="
               f"{rng.choice(['gpipe', '1f1b'])} recompute={rng.choice(['full', 'none', 'auto'])}",
               "-o", piped]
        result = run(cmd)
        if crashed(result):
            report(i, cmd, result)
            continue
        if result.returncode:
            continue
        for emit in ("--emit-cpp", "--emit-cuda"):
            cmd = [tool("gpipe-translate"), emit, piped, "-o", os.devnull]
            result = run(cmd)
            if crashed(result):
                report(i, cmd, result)
                break
    print(f"fuzz_onnx: {counts['bytes']} byte, {counts['graph']} graph and {counts['pipeline']} "
          f"pipeline mutants; {crashes} crashed")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
