#!/bin/bash
# The compiled trainer (gpipe-compile) against gpipe-run: for the MLP, the
# BatchNorm CNN, the transformer LM and the MLP with training-mode dropout
# (test/Execution/Inputs/dropout_mlp.onnxtxt, on the MLP's data: the CPU and
# the GPU draw the same masks), K in {1, 2, 4} stages and both
# schedules (M = 2, the recompute policies in turn), three steps leave every
# parameter and running statistic within 1e-6 of gpipe-run's pipelined
# training on the CPU; with TARGET cuda (on a GPU: the stages share it when
# there are fewer GPUs), five steps within a relative error of 1e-4 (the
# CNN with SGD there).
# Prints one line per mismatch or error and the number of runs.
# Usage: compile-matrix.sh MODELS_DIR DEVICES_FILE OUT_DIR [cpu|cuda [TRAINER_FLAG...]]
# (the trainer flags go to every trainer run, e.g. --sync events).
set -u
models=$1 devices=$2 out=$3 target=${4:-cpu} status=0 runs=0 i=0
shift $(( $# < 4 ? $# : 4 ))
trainer_flags=("$@")
steps=3 tolerance=1e-6
if [ "$target" = cuda ]; then steps=5 tolerance=1e-4; fi
policies=(full none except-last auto)
rm -rf "$out" && mkdir -p "$out"
for model in mlp resnet_cnn transformer_lm dropout_mlp; do
  file="$models/$model/model.onnx" labels="$models/$model/train_sgd/labels.npy"
  case $model in
    transformer_lm)
      shape=(--batch-size 2 --dim seq=8)
      train=(--class-axis -1 --optimizer momentum --lr 0.1)
      data=(tokens "$models/$model/input_tokens.npy") ;;
    dropout_mlp)
      file="$(dirname "$0")/../../Execution/Inputs/dropout_mlp.onnxtxt"
      labels="$models/mlp/train_sgd/labels.npy"
      shape=(--batch-size 4)
      train=(--optimizer adamw --lr 0.01 --weight-decay 0.01)
      data=(input "$models/mlp/input_input.npy") ;;
    resnet_cnn)
      shape=(--batch-size 4)
      train=(--optimizer adamw --lr 0.01 --weight-decay 0.01)
      # On a GPU, plain SGD: fp32 rounding decides which side of a ReLU kink
      # AdamW's five steps take on these four images (see utils/gpu-kit.sh).
      if [ "$target" = cuda ]; then train=(--optimizer sgd --lr 0.1); fi
      data=(input "$models/$model/input_input.npy") ;;
    *)
      shape=(--batch-size 4)
      train=(--optimizer adamw --lr 0.01 --weight-decay 0.01)
      data=(input "$models/$model/input_input.npy") ;;
  esac
  for k in 1 2 4; do
    for schedule in gpipe 1f1b; do
      p=${policies[$((i++ % 4))]}
      name="$model K=$k $schedule $p"
      pipe=(--stages $k --micro-batches 2 --schedule $schedule --recompute $p)
      exe="$out/$model-k$k-$schedule"
      runs=$((runs + 1))
      if ! msg=$(gpipe-compile "$file" -o "$exe" --target "$target" "${shape[@]}" \
                   "${train[@]}" "${pipe[@]}" --devices "$devices" 2>&1); then
        echo "$name: ERROR (compile)"; echo "$msg"; status=1; continue
      fi
      if ! msg=$("$exe" --data "${data[1]}" --labels "$labels" --steps $steps \
                   --save-params "$exe.params" ${trainer_flags[@]+"${trainer_flags[@]}"} 2>&1); then
        echo "$name: ERROR (train)"; echo "$msg"; status=1; continue
      fi
      if ! msg=$(gpipe-run "$file" "${shape[@]}" "${train[@]}" "${pipe[@]}" \
                   --devices "$devices" --input "${data[0]}=${data[1]}" --labels "$labels" \
                   --train-steps $steps --expect-params-dir "$exe.params" --max-rel-error $tolerance 2>&1); then
        echo "$name: ERROR (gpipe-run)"; echo "$msg"; status=1
      elif grep -q FAIL <<<"$msg"; then
        echo "$name: FAIL"; echo "$msg"; status=1
      fi
    done
  done
done
echo "compiled runs: $runs"
exit $status
