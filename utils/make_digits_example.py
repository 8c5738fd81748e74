#!/usr/bin/env python3
"""Builds the bundled training example: the UCI digits data and a digits CNN.

Writes, under examples/:
  data/digits_{train,test}_{images,labels}.npy  the 1,797 8x8 UCI handwritten
      digits (scikit-learn's bundled copy), scaled to [0, 1] as [N, 1, 8, 8]
      float32 images and int64 labels, split 1,437 / 360 with a fixed shuffle;
  digits_cnn.onnx  an untrained CNN (conv-BN-ReLU x2, max pool, linear)
      exported from PyTorch in training mode, batch dimension symbolic.

Run once with Debian's python3-sklearn, python3-torch and python3-onnx:
  /usr/bin/python3 utils/make_digits_example.py
The outputs are committed; nothing at build or test time needs Python.
"""
import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples")


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    train, test = order[:1437], order[1437:]
    data = os.path.join(OUT, "data")
    os.makedirs(data, exist_ok=True)
    for split, idx in (("train", train), ("test", test)):
        np.save(os.path.join(data, f"digits_{split}_images.npy"), images[idx])
        np.save(os.path.join(data, f"digits_{split}_labels.npy"), labels[idx])

    torch.manual_seed(0)
    model = DigitsCNN().train()
    torch.onnx.export(model, (torch.from_numpy(images[:8]),), os.path.join(OUT, "digits_cnn.onnx"),
                      opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    print(f"train {len(train)}, test {len(test)} images; model "
          f"{os.path.getsize(os.path.join(OUT, 'digits_cnn.onnx'))} bytes")


if __name__ == "__main__":
    main()
