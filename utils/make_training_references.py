#!/usr/bin/env python3
"""Records PyTorch's first training step on the committed test models.

For the MLP, the ResNet-style CNN (training-mode BatchNorm) and the
transformer LM of test/models, rebuilds the exact PyTorch module the ONNX
file was exported from (utils/export_test_models.py, same seeds), checks that
its tensors equal the ONNX initializers, runs one training step on the saved
input batch with fixed random labels -- mean cross-entropy over the class
dimension (the last one for the LM) -- with SGD (lr 0.1) and with AdamW
(lr 1e-3, weight decay 0.01, eps 1e-6: the attention key biases have a zero
gradient up to rounding, which a smaller eps would amplify into noise), and
writes, under
test/models/<model>/train_<optimizer>/:
  labels.npy, loss.npy              the batch's labels and the step's loss
  params/<initializer>.npy          every initializer after the step
                                    (parameters and BatchNorm statistics)
Initializer names are kept; '/' and ':' become '_' in file names.

With --micro-batches M it records instead, for the BatchNorm CNN, GPipe's
micro-batched step under test/models/resnet_cnn/train_<optimizer>_mb<M>/:
the batch split into M micro-batches, each run forward (BatchNorm normalizes
with the micro-batch's statistics and updates its running statistics, M
times per step) and backward with its mean loss divided by M, the gradients
accumulated, then one optimizer step; loss.npy is the mean of the
micro-batch losses. Adding --deferred-batch-norm records, under
train_<optimizer>_mb<M>_deferred/, the same step with the running statistics
left alone during the micro-batches and updated once afterwards from the
statistics of the whole mini-batch of each BatchNorm's inputs (gpipe-run
--batch-norm deferred).

  /usr/bin/python3 utils/make_training_references.py [--micro-batches M [--deferred-batch-norm]]
"""
import importlib.util
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"mlp": None, "resnet_cnn": None, "transformer_lm": None}
OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, eps=1e-6),
}


def load_exporter():
    spec = importlib.util.spec_from_file_location(
        "export_test_models", os.path.join(ROOT, "utils", "export_test_models.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def file_name(name):
    return name.replace("/", "_").replace("\\", "_").replace(":", "_") + ".npy"


def rebuild(exporter, name):
    index = list(exporter.MODELS).index(name)
    exporter._seed(exporter.BASE_SEED + index)
    model = exporter.MODELS[name]["build"]()
    exporter.randomize_norm_params(model)
    return model


def match_initializers(model, initializers):
    """initializer name -> (tensor of the module, transposed?)."""
    tensors = dict(model.named_parameters())
    tensors.update(dict(model.named_buffers()))
    mapping = {}
    for name, value in initializers.items():
        if value.dtype != np.float32:
            continue
        # Same name: take the ONNX value (the export's trace may have moved
        # BatchNorm's running statistics).
        if name in tensors and tuple(tensors[name].shape) == value.shape:
            with torch.no_grad():
                tensors[name].copy_(torch.from_numpy(value))
            mapping[name] = (name, False)
            continue
        for tname, t in tensors.items():
            a = t.detach().numpy()
            if a.shape == value.shape and np.array_equal(a, value):
                mapping[name] = (tname, False)
                break
            if a.ndim == 2 and a.T.shape == value.shape and np.array_equal(a.T, value):
                mapping[name] = (tname, True)
                break
        else:
            raise RuntimeError(f"initializer {name} matches no tensor of the module")
    return mapping


def main():
    torch.set_num_threads(1)
    exporter = load_exporter()
    micro, deferred = 1, False
    args = sys.argv[1:]
    if len(args) in (2, 3) and args[0] == "--micro-batches":
        micro = int(args[1])
        deferred = args[2:] == ["--deferred-batch-norm"]
        if len(args) == 3 and not deferred:
            sys.exit("usage: make_training_references.py [--micro-batches M [--deferred-batch-norm]]")
    elif args:
        sys.exit("usage: make_training_references.py [--micro-batches M [--deferred-batch-norm]]")
    for name in (MODELS if micro == 1 else ["resnet_cnn"]):
        model_dir = os.path.join(ROOT, "test", "models", name)
        graph = onnx.load(os.path.join(model_dir, "model.onnx")).graph
        initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        input_name = graph.input[0].name
        x = torch.from_numpy(np.load(os.path.join(model_dir, f"input_{input_name}.npy")))
        for opt_name, make_opt in OPTIMIZERS.items():
            model = rebuild(exporter, name)
            mapping = match_initializers(model, initializers)
            model.train()
            rng = np.random.default_rng(7)
            if name == "transformer_lm":
                labels = rng.integers(0, 50, size=tuple(x.shape)).astype(np.int64)
            else:
                labels = rng.integers(0, 10, size=(x.shape[0],)).astype(np.int64)
            optimizer = make_opt(model.parameters())
            optimizer.zero_grad()
            # Deferred: the micro-batches leave the running statistics alone
            # (momentum 0) and each BatchNorm's inputs are kept.
            norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            seen = {bn: [] for bn in norms}
            hooks, momenta = [], {}
            if deferred:
                for bn in norms:
                    momenta[bn] = bn.momentum
                    bn.momentum = 0.0
                    hooks.append(bn.register_forward_pre_hook(
                        lambda mod, inp: seen[mod].append(inp[0].detach())))
            rows = x.shape[0] // micro
            losses = []
            for mb in range(micro):
                out = model(x[mb * rows:(mb + 1) * rows])
                if out.dim() == 3:
                    out = out.permute(0, 2, 1)  # classes on dimension 1
                mb_loss = torch.nn.functional.cross_entropy(
                    out, torch.from_numpy(labels[mb * rows:(mb + 1) * rows]))
                (mb_loss / micro).backward()
                losses.append(mb_loss.item())
            loss = torch.tensor(sum(losses) / micro)
            for h in hooks:
                h.remove()
            with torch.no_grad():
                for bn in momenta:
                    whole = torch.cat(seen[bn], dim=0)
                    dims = [0] + list(range(2, whole.dim()))
                    mom = momenta[bn]
                    bn.running_mean.mul_(1 - mom).add_(mom * whole.mean(dim=dims))
                    bn.running_var.mul_(1 - mom).add_(mom * whole.var(dim=dims, unbiased=True))
                    bn.momentum = mom
            optimizer.step()
            suffix = "" if micro == 1 else f"_mb{micro}" + ("_deferred" if deferred else "")
            out_dir = os.path.join(model_dir, f"train_{opt_name}{suffix}")
            params_dir = os.path.join(out_dir, "params")
            os.makedirs(params_dir, exist_ok=True)
            for f in os.listdir(params_dir):
                os.remove(os.path.join(params_dir, f))
            np.save(os.path.join(out_dir, "labels.npy"), labels)
            np.save(os.path.join(out_dir, "loss.npy"), np.array(loss.item(), dtype=np.float32))
            tensors = dict(model.named_parameters())
            tensors.update(dict(model.named_buffers()))
            for init, (tname, transposed) in mapping.items():
                a = tensors[tname].detach().numpy()
                np.save(os.path.join(params_dir, file_name(init)),
                        np.ascontiguousarray(a.T if transposed else a))
            print(f"{name} {opt_name}: loss {loss.item():.6f}, {len(mapping)} initializers")


if __name__ == "__main__":
    main()
