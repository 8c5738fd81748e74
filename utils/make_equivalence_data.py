#!/usr/bin/env python3
"""Writes the data of the pipelining equivalence test (test/Execution/
pipeline-equivalence.test): per committed model, 24 random rows (three
mini-batches of 8, so M = 8 micro-batches of one row fit) and labels, in
test/models/<model>/equivalence/. Seeded: rerunning gives the same files.

Usage: python3 utils/make_equivalence_data.py [MODELS_DIR]
"""
import os
import sys

import numpy as np

ROWS = 24


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "test", "models")
    rng = np.random.default_rng(20261126)
    data = {
        "mlp": (rng.standard_normal((ROWS, 64), dtype=np.float32),
                rng.integers(0, 10, ROWS, dtype=np.int64)),
        "resnet_cnn": (rng.standard_normal((ROWS, 3, 16, 16), dtype=np.float32),
                       rng.integers(0, 10, ROWS, dtype=np.int64)),
        "transformer_lm": (rng.integers(0, 50, (ROWS, 8), dtype=np.int64),
                           rng.integers(0, 50, (ROWS, 8), dtype=np.int64)),
    }
    for model, (inputs, labels) in data.items():
        out = os.path.join(models, model, "equivalence")
        os.makedirs(out, exist_ok=True)
        np.save(os.path.join(out, "input.npy"), inputs)
        np.save(os.path.join(out, "labels.npy"), labels)
        print(f"{out}: input {inputs.shape} {inputs.dtype}, labels {labels.shape}")


if __name__ == "__main__":
    main()
