#!/bin/bash
# Pipelined training against PyTorch's one-step references: every K, M,
# schedule and recompute policy the references' batch sizes allow. The CNN's
# references for M > 1 are PyTorch's micro-batched step (train_<opt>_mb<M>:
# batch norm with per-micro-batch statistics, running statistics updated per
# micro-batch, gradients accumulated, one update), and with --batch-norm
# deferred (train_<opt>_mb<M>_deferred) the running statistics updated once
# from the whole mini-batch. Prints
# one line per run; any mismatch prints FAIL (gpipe-run's own line) and any
# error makes the script exit non-zero.
# Usage: pipeline-matrix.sh MODELS_DIR DEVICES_FILE
set -u
models=$1 devices=$2 status=0 runs=0
policies=(none full except-last auto)
run() { # name, extra flags...
  local name=$1; shift
  if ! out=$(gpipe-run "$@" --devices "$devices" --max-rel-error 1e-4 2>&1); then
    echo "$name: ERROR"; echo "$out"; status=1
  fi
  if grep -q FAIL <<<"$out"; then echo "$name: FAIL"; echo "$out"; status=1; fi
  runs=$((runs + 1))
}
# One training step of a model against the reference directory `ref`:
# train MODEL REF K M SCHEDULE POLICY FLAGS...
train() {
  local model=$1 ref=$2 k=$3 m=$4 schedule=$5 p=$6; shift 6
  run "$model $opt K=$k M=$m $schedule $p" "$models/$model/model.onnx" "$@" \
    --labels "$models/$model/$ref/labels.npy" --train-steps 1 "${o[@]}" \
    --expect-loss "$models/$model/$ref/loss.npy" --expect-params-dir "$models/$model/$ref/params" \
    --stages $k --micro-batches $m --schedule $schedule --recompute $p
}
for opt in sgd adamw; do
  if [ $opt = sgd ]; then o=(--optimizer sgd --lr 0.1); else o=(--optimizer adamw --lr 0.001 --weight-decay 0.01 --eps 1e-6); fi
  for k in 1 2 3 4; do
    i=0
    for schedule in gpipe 1f1b; do
      for m in 1 2 4; do
        train mlp train_$opt $k $m $schedule ${policies[$((i++ % 4))]} \
          --batch-size 4 --input input="$models/mlp/input_input.npy"
      done
      for m in 1 2 4; do
        # M > 1: PyTorch's micro-batched step (batch norm per micro-batch).
        ref=train_$opt; [ $m -gt 1 ] && ref=train_${opt}_mb$m
        train resnet_cnn $ref $k $m $schedule ${policies[$((i++ % 4))]} \
          --batch-size 4 --input input="$models/resnet_cnn/input_input.npy"
      done
      for m in 2 4; do
        # --batch-norm deferred: running statistics from the whole mini-batch.
        train resnet_cnn train_${opt}_mb${m}_deferred $k $m $schedule ${policies[$((i++ % 4))]} \
          --batch-size 4 --input input="$models/resnet_cnn/input_input.npy" --batch-norm deferred
      done
      for m in 1 2; do
        train transformer_lm train_$opt $k $m $schedule ${policies[$((i++ % 4))]} \
          --batch-size 2 --dim seq=8 --input tokens="$models/transformer_lm/input_tokens.npy" --class-axis -1
      done
    done
  done
done
echo "pipelined runs: $runs"
exit $status
