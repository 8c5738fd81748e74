#!/bin/bash
# Pipelined training against PyTorch's one-step references: every K, M,
# schedule and recompute policy the references' batch sizes allow. The CNN's
# references for M > 1 are PyTorch's micro-batched step (train_<opt>_mb<M>:
# batch norm with per-micro-batch statistics, running statistics updated per
# micro-batch, gradients accumulated, one update). Prints
# one line per run; any mismatch prints FAIL (gpipe-run's own line) and any
# error makes the script exit non-zero.
# Usage: pipeline-matrix.sh MODELS_DIR DEVICES_FILE
set -u
models=$1 devices=$2 status=0 runs=0
policies=(none full except-last)
run() { # name, extra flags...
  local name=$1; shift
  if ! out=$(gpipe-run "$@" --devices "$devices" --max-rel-error 1e-4 2>&1); then
    echo "$name: ERROR"; echo "$out"; status=1
  fi
  if grep -q FAIL <<<"$out"; then echo "$name: FAIL"; echo "$out"; status=1; fi
  runs=$((runs + 1))
}
for opt in sgd adamw; do
  if [ $opt = sgd ]; then o=(--optimizer sgd --lr 0.1); else o=(--optimizer adamw --lr 0.001 --weight-decay 0.01 --eps 1e-6); fi
  for k in 1 2 3 4; do
    i=0
    for schedule in gpipe 1f1b; do
      for m in 1 2 4; do
        p=${policies[$((i++ % 3))]}
        run "mlp $opt K=$k M=$m $schedule $p" "$models/mlp/model.onnx" --batch-size 4 \
          --input input="$models/mlp/input_input.npy" --labels "$models/mlp/train_$opt/labels.npy" \
          --train-steps 1 "${o[@]}" --expect-loss "$models/mlp/train_$opt/loss.npy" \
          --expect-params-dir "$models/mlp/train_$opt/params" \
          --stages $k --micro-batches $m --schedule $schedule --recompute $p
      done
      for m in 1 2 4; do
        p=${policies[$((i++ % 3))]}
        ref=train_$opt; [ $m -gt 1 ] && ref=train_${opt}_mb$m
        run "cnn $opt K=$k M=$m $schedule $p" "$models/resnet_cnn/model.onnx" --batch-size 4 \
          --input input="$models/resnet_cnn/input_input.npy" --labels "$models/resnet_cnn/$ref/labels.npy" \
          --train-steps 1 "${o[@]}" --expect-loss "$models/resnet_cnn/$ref/loss.npy" \
          --expect-params-dir "$models/resnet_cnn/$ref/params" \
          --stages $k --micro-batches $m --schedule $schedule --recompute $p
      done
      for m in 1 2; do
        p=${policies[$((i++ % 3))]}
        run "transformer $opt K=$k M=$m $schedule $p" "$models/transformer_lm/model.onnx" \
          --batch-size 2 --dim seq=8 --input tokens="$models/transformer_lm/input_tokens.npy" \
          --labels "$models/transformer_lm/train_$opt/labels.npy" --class-axis -1 \
          --train-steps 1 "${o[@]}" --expect-loss "$models/transformer_lm/train_$opt/loss.npy" \
          --expect-params-dir "$models/transformer_lm/train_$opt/params" \
          --stages $k --micro-batches $m --schedule $schedule --recompute $p
      done
    done
  done
done
echo "pipelined runs: $runs"
exit $status
