#!/bin/bash
# The CUDA trainer (gpipe-compile --target cuda, fp32) against the CPU:
# for the MLP, the BatchNorm CNN and the transformer LM, K in {1, 2, 4}
# stages on the machine's GPUs (sharing one when there are fewer) and both
# schedules (M = 2, the recompute policies in turn), five steps leave every
# parameter and running statistic within a relative error of 1e-4 of
# gpipe-run's pipelined training on the CPU. Prints one line per mismatch
# or error and the number of runs.
# Usage: cuda-matrix.sh MODELS_DIR OUT_DIR
set -u
models=$1 out=$2 status=0 runs=0 i=0
policies=(full none except-last auto)
rm -rf "$out" && mkdir -p "$out"
for model in mlp resnet_cnn transformer_lm; do
  case $model in
    transformer_lm)
      shape=(--batch-size 2 --dim seq=8)
      train=(--class-axis -1 --optimizer momentum --lr 0.1)
      data=(tokens "$models/$model/input_tokens.npy") ;;
    *)
      shape=(--batch-size 4)
      train=(--optimizer adamw --lr 0.01 --weight-decay 0.01)
      data=(input "$models/$model/input_input.npy") ;;
  esac
  labels="$models/$model/train_sgd/labels.npy"
  for k in 1 2 4; do
    for schedule in gpipe 1f1b; do
      p=${policies[$((i++ % 4))]}
      name="$model K=$k $schedule $p"
      pipe=(--stages $k --micro-batches 2 --schedule $schedule --recompute $p)
      exe="$out/$model-k$k-$schedule"
      runs=$((runs + 1))
      if ! msg=$(gpipe-compile "$models/$model/model.onnx" -o "$exe" --target cuda "${shape[@]}" \
                   "${train[@]}" "${pipe[@]}" 2>&1); then
        echo "$name: ERROR (compile)"; echo "$msg"; status=1; continue
      fi
      if ! msg=$("$exe" --data "${data[1]}" --labels "$labels" --steps 5 \
                   --save-params "$exe.params" 2>&1); then
        echo "$name: ERROR (train)"; echo "$msg"; status=1; continue
      fi
      if ! msg=$(gpipe-run "$models/$model/model.onnx" "${shape[@]}" "${train[@]}" "${pipe[@]}" \
                   --devices "$models/../../devices/h100-sxm.json" --input "${data[0]}=${data[1]}" \
                   --labels "$labels" --train-steps 5 --expect-params-dir "$exe.params" \
                   --max-rel-error 1e-4 2>&1); then
        echo "$name: ERROR (gpipe-run)"; echo "$msg"; status=1
      elif grep -q FAIL <<<"$msg"; then
        echo "$name: FAIL"; echo "$msg"; status=1
      fi
    done
  done
done
echo "cuda runs: $runs"
exit $status
