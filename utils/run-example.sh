#!/usr/bin/env bash
# The main job on the bundled example: builds gpipe, imports the ResNet-style
# CNN exported from PyTorch (training-mode BatchNorm) for a batch of 8, and
# prints an op summary followed by the gpipe IR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh"
model="${1:-test/models/resnet_cnn/model.onnx}"
shift || true
build/bin/gpipe-translate --import-onnx "$model" --batch-size 8 "$@" |
  build/bin/gpipe-opt --gpipe-summarize=output=-
