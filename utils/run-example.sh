#!/usr/bin/env bash
# The main job on the bundled example: builds gpipe, imports the digits CNN
# (exported from PyTorch, untrained, training-mode BatchNorm), prints its op
# summary, then trains it with gpipe-run on the UCI digits (AdamW, 300 steps
# of 64 images), evaluates it on the 360 held-out images and saves the
# trained model as build/digits_cnn_trained.onnx; then trains it again as a
# GPipe pipeline: 4 stages (threads) and 4 micro-batches of 16 under 1F1B;
# then compiles it with gpipe-compile into a standalone trainer (2 stages x 4
# micro-batches, 1F1B) that trains it and prints its test accuracy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh"
data=examples/data
build/bin/gpipe-translate --import-onnx examples/digits_cnn.onnx --batch-size 64 |
  build/bin/gpipe-opt --gpipe-summarize=output=- -o /dev/null
build/bin/gpipe-run examples/digits_cnn.onnx --batch-size 64 \
  --input input=$data/digits_train_images.npy --labels $data/digits_train_labels.npy \
  --train-steps 300 --optimizer adamw --lr 0.003 --shuffle 1 --log-every 25 \
  --eval-input input=$data/digits_test_images.npy --eval-labels $data/digits_test_labels.npy \
  --save build/digits_cnn_trained.onnx
echo "== the same training, pipelined: 4 stages, 4 micro-batches, 1F1B"
build/bin/gpipe-run examples/digits_cnn.onnx --batch-size 64 \
  --input input=$data/digits_train_images.npy --labels $data/digits_train_labels.npy \
  --train-steps 300 --optimizer adamw --lr 0.003 --shuffle 1 --log-every 100 \
  --eval-input input=$data/digits_test_images.npy --eval-labels $data/digits_test_labels.npy \
  --stages 4 --micro-batches 4 --schedule 1f1b --devices devices/cpu-host.json
echo "== compiled: gpipe-compile -> build/digits_trainer (2 stages, 4 micro-batches, 1F1B)"
build/bin/gpipe-compile examples/digits_cnn.onnx -o build/digits_trainer --batch-size 64 \
  --stages 2 --micro-batches 4 --schedule 1f1b --optimizer adamw --lr 0.003
build/digits_trainer --data $data/digits_train_images.npy --labels $data/digits_train_labels.npy \
  --steps 300 --shuffle --seed 1 --log-every 100 \
  --eval-data $data/digits_test_images.npy --eval-labels $data/digits_test_labels.npy \
  --save build/digits_cnn_compiled.onnx
