#!/bin/bash
# Pipelined training equals unpipelined training: for the committed MLP, CNN,
# transformer LM and dropout MLP, three training steps on mini-batches of 8 rows, for every
# K in 1..4, M in {1, 2, 4, 8}, both schedules and every recompute policy,
# leave every parameter (and batch norm's running statistics) within 1e-5
# relative error of the reference. The reference is the unpipelined run,
# except for the CNN at M > 1: its batch norm normalizes each micro-batch by
# its own statistics (as GPipe does), so there the reference is the same M on
# one stage with GPipe's schedule and full recompute (train-pipelined.test
# checks that one against PyTorch's micro-batched step). The MLP and the CNN
# train with AdamW; the LM with momentum SGD, because the gradient of its
# attention key biases is zero up to rounding (softmax ignores a constant
# added to every score of a row) and Adam scales that rounding noise up to
# full-size steps, which no two summation orders share. The dropout MLP
# (Inputs/dropout_mlp.onnxtxt from utils/make_dropout_model.py, on the
# MLP's data) trains with training-mode
# dropout: every micro-batch draws exactly its rows of the mini-batch's
# masks, and a recomputing backward replays its forward's.
# Prints one line per mismatch or error and the number of runs; exits
# non-zero on any.
# Usage: pipeline-equivalence.sh MODELS_DIR DEVICES_FILE OUT_DIR
set -u
models=$1 devices=$2 out=$3 status=0 runs=0 worst=0
rm -rf "$out" && mkdir -p "$out"
for model in mlp resnet_cnn transformer_lm dropout_mlp; do
  data="$models/$model/equivalence" file="$models/$model/model.onnx"
  if [ $model = dropout_mlp ]; then
    data="$models/mlp/equivalence" file="$(dirname "$0")/dropout_mlp.onnxtxt"
  fi
  flags=(--batch-size 8 --labels "$data/labels.npy" --train-steps 3)
  case $model in
    transformer_lm) flags+=(--dim seq=8 --input tokens="$data/input.npy" --class-axis -1
                            --optimizer momentum --lr 0.1) ;;
    *) flags+=(--input input="$data/input.npy" --optimizer adamw --lr 0.01 --weight-decay 0.01) ;;
  esac
  if ! msg=$(gpipe-run "$file" "${flags[@]}" --output-dir "$out/$model" 2>&1); then
    echo "$model reference: ERROR"; echo "$msg"; status=1; continue
  fi
  for m in 1 2 4 8; do
    ref="$out/$model/params"
    if [ $model = resnet_cnn ] && [ $m -gt 1 ]; then
      ref="$out/$model-m$m/params"
      if ! msg=$(gpipe-run "$file" "${flags[@]}" --stages 1 --micro-batches $m \
                   --devices "$devices" --output-dir "$out/$model-m$m" 2>&1); then
        echo "$model M=$m reference: ERROR"; echo "$msg"; status=1; continue
      fi
    fi
    for k in 1 2 3 4; do
      for schedule in gpipe 1f1b; do
        for policy in none full except-last auto; do
          name="$model K=$k M=$m $schedule $policy"
          runs=$((runs + 1))
          if ! msg=$(gpipe-run "$file" "${flags[@]}" --stages $k --micro-batches $m \
                       --schedule $schedule --recompute $policy --devices "$devices" \
                       --expect-params-dir "$ref" --max-rel-error 1e-5 2>&1); then
            echo "$name: ERROR"; echo "$msg"; status=1
          elif grep -q FAIL <<<"$msg"; then
            echo "$name: FAIL"; echo "$msg"; status=1
          fi
          worst=$(awk -v w="$worst" 'match($0, /relative error [0-9.e+-]+/) {
                                       e = substr($0, RSTART + 15, RLENGTH - 15) + 0
                                       if (e > w) w = e }
                                     END { print w }' <<<"$msg")
        done
      done
    done
  done
done
echo "equivalence runs: $runs, largest relative error $worst"
exit $status
