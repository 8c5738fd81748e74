#!/usr/bin/env python3
"""Export small reference PyTorch models to ONNX for gpipe's end-to-end tests.

Usage:
    /usr/bin/python3 utils/export_test_models.py [--out test/models]

For every model this writes, under ``<out>/<name>/``:

  * ``model.onnx``            -- the model exported with ``torch.onnx.export``
                                 at opset 17;
  * ``input_<name>.npy``      -- one file per ONNX graph input, holding the
                                 fixed random input used for the reference run;
  * ``output_<name>.npy``     -- one file per ONNX graph output, holding the
                                 PyTorch result for that input.

File names use the ONNX graph's input/output names verbatim. The script is
deterministic (fixed torch/numpy seeds; each model is built and fed from its
own seed) and re-runnable: existing files are overwritten.

Models:

BatchNorm/LayerNorm parameters (and BN running statistics) are randomised so
that normalisation layers are not identities.

  mlp              Linear-ReLU-Linear-ReLU-Linear (64->128->64->10), eval mode.
  resnet_cnn       Conv stem + BN + ReLU, max pool, two residual basic blocks
                   (the second with stride 2 and a 1x1 conv+BN projection),
                   global average pool, linear classifier. Exported in
                   TRAINING mode, so BatchNormalization carries
                   training_mode=1 and normalises with batch statistics.
  mobilenet_block  MobileNetV2 inverted residual block (1x1 expand, 3x3
                   depthwise, 1x1 project, residual add) + GAP + linear head,
                   eval mode; ReLU6 exports as ONNX Clip.
  transformer_lm   Tiny pre-LayerNorm decoder-only transformer LM with
                   hand-written causal multi-head self-attention and dynamic
                   batch/sequence axes, eval mode.

After exporting, each model is validated with ``onnx.checker.check_model``
and a summary (opset, op types, inputs/outputs with symbolic dims,
initializer count, file size) is printed.
"""

import argparse
import copy
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import onnx

OPSET = 17
MAX_MODEL_BYTES = 1 << 20  # every model.onnx must stay under 1 MB
BASE_SEED = 1234


# --------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------

class MLP(nn.Module):
    """3-layer perceptron: 64 -> 128 -> 64 -> 10."""

    def __init__(self, d_in=64, d_hidden1=128, d_hidden2=64, d_out=10):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden1)
        self.fc2 = nn.Linear(d_hidden1, d_hidden2)
        self.fc3 = nn.Linear(d_hidden2, d_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """ResNet basic block: conv-bn-relu-conv-bn + shortcut, then ReLU.

    If the stride or channel count changes, the shortcut is a 1x1 conv + BN
    projection; otherwise it is the identity.
    """

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetCNN(nn.Module):
    """Small ResNet: [B,3,16,16] -> stem -> maxpool -> 2 blocks -> GAP -> FC."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem_conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)   # 16x16 -> 8x8
        self.block1 = BasicBlock(16, 16, stride=1)          # identity skip
        self.block2 = BasicBlock(16, 32, stride=2)          # 8x8 -> 4x4, proj
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        x = self.pool(x)
        x = self.block1(x)
        x = self.block2(x)
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual block (stride 1, c_in == c_out)."""

    def __init__(self, channels=8, expand_ratio=4):
        super().__init__()
        hidden = channels * expand_ratio
        self.expand = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.project = nn.Sequential(
            nn.Conv2d(hidden, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return x + self.project(self.depthwise(self.expand(x)))


class MobileNetBlock(nn.Module):
    """Inverted residual block followed by global average pool + linear."""

    def __init__(self, channels=8, num_classes=10):
        super().__init__()
        self.block = InvertedResidual(channels)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.block(x)
        return self.fc(torch.flatten(self.gap(x), 1))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, written out explicitly."""

    def __init__(self, d_model, n_heads, max_len):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        # True where attention is NOT allowed (future positions).
        mask = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool),
                          diagonal=1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x):
        b, t, d = x.shape
        # [B, T, D] -> [B, H, T, Dh]
        q = self.q(x).view(b, t, self.n_heads, self.d_head).transpose(1, 2)
        k = self.k(x).view(b, t, self.n_heads, self.d_head).transpose(1, 2)
        v = self.v(x).view(b, t, self.n_heads, self.d_head).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_head)
        scores = scores.masked_fill(self.causal_mask[:t, :t], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        y = torch.matmul(attn, v)                        # [B, H, T, Dh]
        y = y.transpose(1, 2).reshape(b, t, d)           # [B, T, D]
        return self.out(y)


class TransformerBlock(nn.Module):
    """Pre-LN block: x + attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, d_model, n_heads, max_len, mlp_ratio=4):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, max_len)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),  # exact (erf) form
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class TransformerLM(nn.Module):
    """Tiny decoder-only LM: tokens [B, T] (int64) -> logits [B, T, vocab]."""

    def __init__(self, vocab=50, d_model=32, n_heads=2, n_layers=2,
                 max_len=16):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(
            [TransformerBlock(d_model, n_heads, max_len)
             for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        t = tokens.shape[1]
        pos = torch.arange(t, device=tokens.device)       # [T]
        x = self.tok_emb(tokens) + self.pos_emb(pos)      # [B, T, D]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


# --------------------------------------------------------------------------
# Model specifications
# --------------------------------------------------------------------------

def _randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# Each entry: name -> dict describing how to build, feed and export it.
#   build:       () -> nn.Module
#   inputs:      () -> tuple of example tensors (reference input)
#   input_names / output_names / dynamic_axes: passed to torch.onnx.export
#   training:    export in TRAINING mode (model.train(), no constant folding)
#   expect_ops:  op types that must appear in the exported graph
MODELS = {
    "mlp": dict(
        build=MLP,
        inputs=lambda: (_randn(4, 64),),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        training=False,
        expect_ops={"Gemm", "Relu"},
    ),
    "resnet_cnn": dict(
        build=ResNetCNN,
        inputs=lambda: (_randn(4, 3, 16, 16),),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        training=True,
        expect_ops={"Conv", "BatchNormalization", "MaxPool", "Add",
                    "GlobalAveragePool"},
    ),
    "mobilenet_block": dict(
        build=MobileNetBlock,
        inputs=lambda: (_randn(2, 8, 12, 12),),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        training=False,
        expect_ops={"Conv", "Clip", "Add", "GlobalAveragePool"},
    ),
    "transformer_lm": dict(
        build=TransformerLM,
        inputs=lambda: (torch.randint(0, 50, (2, 8), dtype=torch.int64),),
        input_names=["tokens"],
        output_names=["logits"],
        dynamic_axes={"tokens": {0: "batch", 1: "seq"},
                      "logits": {0: "batch", 1: "seq"}},
        training=False,
        expect_ops={"Gather", "MatMul", "Softmax", "Erf", "Shape"},
    ),
}


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def _seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def randomize_norm_params(model):
    """Give BatchNorm/LayerNorm non-trivial parameters and statistics.

    Freshly constructed norm layers have weight=1, bias=0, running_mean=0 and
    running_var=1, which would make them (near) identities and the reference
    data a weak test. Perturb them deterministically (under the current seed).
    """
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.1)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0.0, 0.1)
            m.running_var.uniform_(0.5, 1.5)


def export_model(name, spec, out_dir, seed):
    """Build, run and export one model; returns the path of model.onnx."""
    model_dir = os.path.join(out_dir, name)
    os.makedirs(model_dir, exist_ok=True)
    # Remove stale .npy/.onnx files from earlier runs so the directory only
    # contains what this run produced.
    for f in os.listdir(model_dir):
        if f.endswith(".npy") or f.endswith(".onnx"):
            os.remove(os.path.join(model_dir, f))

    _seed(seed)
    model = spec["build"]()
    randomize_norm_params(model)
    inputs = spec["inputs"]()
    for t in inputs:
        if t.is_floating_point():
            assert t.abs().sum() > 0, "reference input must not be all zeros"

    if spec["training"]:
        model.train()
        training_mode = torch.onnx.TrainingMode.TRAINING
        constant_folding = False
    else:
        model.eval()
        training_mode = torch.onnx.TrainingMode.EVAL
        constant_folding = True

    # Reference outputs come from a pristine copy: export traces (runs) the
    # model, which in training mode would update BatchNorm running stats.
    ref_model = copy.deepcopy(model)
    with torch.no_grad():
        ref_out = ref_model(*inputs)
    if isinstance(ref_out, torch.Tensor):
        ref_out = (ref_out,)

    onnx_path = os.path.join(model_dir, "model.onnx")
    torch.onnx.export(
        model,
        inputs,
        onnx_path,
        export_params=True,
        opset_version=OPSET,
        training=training_mode,
        do_constant_folding=constant_folding,
        input_names=spec["input_names"],
        output_names=spec["output_names"],
        dynamic_axes=spec["dynamic_axes"],
    )

    # Name the .npy files after the graph's actual input/output names.
    graph = onnx.load(onnx_path).graph
    graph_inputs = [i.name for i in graph.input]
    graph_outputs = [o.name for o in graph.output]
    if len(graph_inputs) != len(inputs) or len(graph_outputs) != len(ref_out):
        raise RuntimeError(
            f"{name}: graph has inputs {graph_inputs} / outputs "
            f"{graph_outputs}, expected {len(inputs)} / {len(ref_out)}")
    for n, t in zip(graph_inputs, inputs):
        np.save(os.path.join(model_dir, f"input_{n}.npy"), t.numpy())
    for n, t in zip(graph_outputs, ref_out):
        np.save(os.path.join(model_dir, f"output_{n}.npy"),
                t.detach().numpy())
    return onnx_path


# --------------------------------------------------------------------------
# Validation / summary
# --------------------------------------------------------------------------

def _shape_str(value_info):
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_param"):
            dims.append(d.dim_param)
        elif d.HasField("dim_value"):
            dims.append(str(d.dim_value))
        else:
            dims.append("?")
    elem = onnx.TensorProto.DataType.Name(value_info.type.tensor_type.elem_type)
    return f"{value_info.name}: {elem.lower()}[{', '.join(dims)}]"


def summarize(name, spec, onnx_path):
    """Check the model and print a summary; returns False on a problem."""
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model)
    graph = model.graph
    ops = sorted({n.op_type for n in graph.node})
    opsets = ", ".join(f"{o.domain or 'ai.onnx'}:{o.version}"
                       for o in model.opset_import)
    size = os.path.getsize(onnx_path)

    print(f"== {name} ({onnx_path})")
    print(f"   opset:        {opsets}")
    print(f"   op types:     {', '.join(ops)}")
    for vi in graph.input:
        print(f"   input:        {_shape_str(vi)}")
    for vi in graph.output:
        print(f"   output:       {_shape_str(vi)}")
    print(f"   initializers: {len(graph.initializer)}")
    print(f"   file size:    {size} bytes")
    model_dir = os.path.dirname(onnx_path)
    for f in sorted(os.listdir(model_dir)):
        if f.endswith(".npy"):
            a = np.load(os.path.join(model_dir, f))
            print(f"   {f}: {a.dtype}{list(a.shape)}")

    ok = True
    missing = spec["expect_ops"] - set(ops)
    if missing:
        print(f"   ERROR: expected op types missing: {sorted(missing)}")
        ok = False
    if size >= MAX_MODEL_BYTES:
        print(f"   ERROR: model.onnx is {size} bytes (limit {MAX_MODEL_BYTES})")
        ok = False
    if spec["training"]:
        for n in graph.node:
            if n.op_type != "BatchNormalization":
                continue
            tm = [a.i for a in n.attribute if a.name == "training_mode"]
            if tm != [1]:
                print(f"   ERROR: BatchNormalization {n.name} lacks "
                      f"training_mode=1")
                ok = False
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(repo_root, "test",
                                                      "models"),
                        help="output directory (default: test/models)")
    args = parser.parse_args(argv)

    print(f"torch {torch.__version__}, onnx {onnx.__version__}, "
          f"numpy {np.__version__}, opset {OPSET}")
    ok = True
    for i, (name, spec) in enumerate(MODELS.items()):
        path = export_model(name, spec, args.out, BASE_SEED + i)
        ok = summarize(name, spec, path) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
