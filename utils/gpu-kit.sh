#!/usr/bin/env bash
# The GPU checks, packed on a machine without a GPU and run on one that has
# no gpipe build (no MLIR, ONNX, OpenBLAS or MPI packages: a lent GPU
# machine with only the CUDA toolkit and PyTorch).
#
#   utils/gpu-kit.sh pack [--no-bench] [KIT]   here, after utils/build.sh
#       (GPIPE_BUILD_DIR: another build folder) with
#       the CUDA backend: compiles the CUDA trainers of the GPU tests (every
#       model, schedule and K in {1, 2, 4}; the digits CNN in tf32 and bf16),
#       computes their CPU references with gpipe-run, prepares the benchmark
#       (bench/cuda_vs_pytorch.py --prepare; needs python3 with torch and
#       onnx, a CPU build will do) and copies the shared libraries they need
#       except glibc's and CUDA's, into KIT/kit.tar.xz (default .gpu-kit,
#       ignored by git).
#   utils/gpu-kit.sh run [--no-bench] [--sanitize] [KIT]   on the GPU
#       machine, from the repository root: gpipe-cuda-info, gpipe-cuda-tests,
#       each trainer against its reference (relative error below 1e-4 in
#       fp32 after five steps), each again with --sync events (equal to the
#       bit to its --sync host run), two of them run twice (equal to the bit),
#       the digits CNN's accuracy, then the benchmark and a per-op profile of
#       its models; with --sanitize, compute-sanitizer's memcheck and
#       racecheck last. cuBLASLt, cuDNN and NCCL come from that machine (the
#       CUDA toolkit, the system, or Python's nvidia-* packages). Ends with "gpu kit: N passed, M
#       failed"; with $OUT set, the logs go there (gpu-kit-logs.tar.gz, with
#       the benchmark's table, the profiles and the traces beside it; each
#       trace's step is summed by utils/trace_summary.py).
#
# GPU_KIT_TARGET=cpu packs CPU trainers instead (no GPU checks, no
# benchmark): a kit whose `run` goes through every other step on this
# machine, to test the script itself before a GPU machine's minutes are spent.
#
# Carrying the kit to a lent machine: its folder must be ignored by git and
# named in the device tool's carry, e.g. carry [".gpu-kit"] and the command
# "utils/gpu-kit.sh run".
set -uo pipefail
# Each program runs under `timeout`: a hang is one FAIL line (exit 124), and
# the checks after it still run inside the device call's limit.
root="$(cd "$(dirname "$0")/.." && pwd)"
usage() { echo "usage: utils/gpu-kit.sh pack|run [--no-bench] [--sanitize] [KIT]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mode=$1; shift
bench=1 sanitize=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-bench) bench=0 ;;
    --sanitize) sanitize=1 ;;
    -*) usage ;;
    *) break ;;
  esac
  shift
done
kit="${1:-$root/.gpu-kit}"
kit="$(mkdir -p "$kit" && cd "$kit" && pwd)"

# The matrix of compile-matrix.sh: model, K, schedule, recompute policy.
matrix() {
  local i=0 model k schedule policies=(full none except-last auto)
  for model in mlp resnet_cnn transformer_lm; do
    for k in 1 2 4; do
      for schedule in gpipe 1f1b; do
        echo "$model $k $schedule ${policies[$((i++ % 4))]}"
      done
    done
  done
  # Training-mode dropout: the GPU draws the CPU's masks.
  echo "dropout_mlp 2 1f1b full"
  echo "dropout_mlp 4 gpipe none"
}
# The model file and the directory of its data (the dropout MLP trains on
# the MLP's).
model_file() {
  if [ "$1" = dropout_mlp ]; then echo "$root/test/Execution/Inputs/dropout_mlp.onnxtxt"
  else echo "$root/test/models/$1/model.onnx"; fi
}
model_data() { [ "$1" = dropout_mlp ] && echo "$root/test/models/mlp" || echo "$root/test/models/$1"; }
# resnet_cnn trains with plain SGD: on its four 16x16 images, AdamW's
# trajectory crosses ReLU kinks that fp32 rounding decides. On the CPU alone,
# a 1e-5 relative nudge of the initial weights moves the parameters after
# five AdamW steps by 1.2e-2, and after five SGD steps by 1.1e-3 for one seed
# in six. On an H100 the GPU's first-step gradient
# equals the CPU's to 1.2e-7, five SGD steps to 1.4e-7 and five Adam steps
# to 1.0e-5, but five AdamW steps crossed a kink at step 3 (7e-3): a bound
# of 1e-4 after five AdamW steps tests luck, not the kernels. AdamW and
# momentum stay covered by the other models.
model_flags() {
  case $1 in
    resnet_cnn) echo "--batch-size 4 --optimizer sgd --lr 0.1" ;;
    transformer_lm) echo "--batch-size 2 --dim seq=8 --class-axis -1 --optimizer momentum --lr 0.1" ;;
    *) echo "--batch-size 4 --optimizer adamw --lr 0.01 --weight-decay 0.01" ;;
  esac
}
model_input() { [ "$1" = transformer_lm ] && echo tokens || echo input; }
target=${GPU_KIT_TARGET:-cuda}
case $target in cuda|cpu) ;; *) echo "gpu-kit: GPU_KIT_TARGET must be cuda or cpu" >&2; exit 2 ;; esac
digits_flags() {
  if [ "$target" = cpu ]; then echo "--stages 2 --micro-batches 4"; return; fi
  case $1 in
    tf32) echo "--precision tf32 --stages 2 --micro-batches 4 --schedule 1f1b" ;;
    bf16) echo "--precision bf16 --stages 4 --micro-batches 4 --schedule gpipe" ;;
  esac
}
steps=5

pack() {
  local bin="${GPIPE_BUILD_DIR:-$root/build}/bin" stage
  if [ ! -x "$bin/gpipe-compile" ] || { [ "$target" = cuda ] && [ ! -x "$bin/gpipe-cuda-tests" ]; }; then
    echo "gpu-kit: build gpipe first (utils/build.sh; the CUDA kit needs the CUDA backend)" >&2
    exit 1
  fi
  stage="$(mktemp -d)"
  packing=$stage
  trap 'rm -rf "$packing"' EXIT
  mkdir -p "$stage/bin" "$stage/lib" "$stage/matrix" "$stage/digits"
  if [ "$target" = cuda ]; then
    cp "$bin/gpipe-cuda-info" "$bin/gpipe-cuda-tests" "$stage/bin/"
  fi
  local devices="$root/devices/h100-sxm.json"
  local model k schedule policy exe
  while read -r model k schedule policy; do
    exe="$model-k$k-$schedule"
    echo "gpu-kit: compiling $exe"
    local pipe=(--stages "$k" --micro-batches 2 --schedule "$schedule" --recompute "$policy"
                --devices "$devices")
    # shellcheck disable=SC2046
    "$bin/gpipe-compile" "$(model_file "$model")" -o "$stage/matrix/$exe" --target "$target" \
      $(model_flags "$model") "${pipe[@]}" || exit 1
    # shellcheck disable=SC2046
    "$bin/gpipe-run" "$(model_file "$model")" $(model_flags "$model") "${pipe[@]}" \
      --input "$(model_input "$model")=$(model_data "$model")/input_$(model_input "$model").npy" \
      --labels "$(model_data "$model")/train_sgd/labels.npy" --train-steps $steps \
      --output-dir "$stage/matrix/$exe.ref" > /dev/null || exit 1
  done < <(matrix)
  for precision in tf32 bf16; do
    echo "gpu-kit: compiling digits-$precision"
    # shellcheck disable=SC2046
    "$bin/gpipe-compile" "$root/examples/digits_cnn.onnx" -o "$stage/digits/digits-$precision" \
      --target "$target" $(digits_flags $precision) --batch-size 64 --optimizer adamw --lr 0.003 || exit 1
  done
  echo "$target" > "$stage/target"
  if [ $bench = 1 ] && [ "$target" = cuda ]; then
    echo "gpu-kit: preparing the benchmark"
    /usr/bin/python3 "$root/bench/cuda_vs_pytorch.py" --build "$root/build" \
      --prepare "$stage/bench" > "$stage/bench-prepare.log" 2>&1 ||
      { cat "$stage/bench-prepare.log"; exit 1; }
  fi
  # Every shared library the programs need but glibc's, the driver's and
  # CUDA's (those the GPU machine has; cuBLASLt alone is 500 MB).
  find "$stage" -type f -perm -u+x | while read -r f; do
    ldd "$f" 2>/dev/null | awk '/=> \//{print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libcuda.so*|\
      libcudart.so*|libcublas*|libcudnn*|libnccl*|libnvrtc*|libnvJitLink*) ;;
      *) cp -L "$lib" "$stage/lib/" ;;
    esac
  done
  git -C "$root" rev-parse HEAD > "$stage/commit" 2>/dev/null || true
  echo "gpu-kit: compressing"
  rm -f "$kit/kit.tar.xz"
  # A dictionary as large as the whole (up to 768 MiB): the programs share
  # most of their bytes (the runtime), which then compress once (the CUDA
  # kit: 599 MB to 20 MB).
  local bytes dict=8
  bytes=$(du -sb --exclude='*.weights' "$stage" | cut -f1)
  while [ $((dict << 20)) -lt "$bytes" ] && [ $dict -lt 768 ]; do dict=$((dict * 2)); done
  [ $dict -gt 768 ] && dict=768
  tar -C "$stage" --exclude='*.weights' -cf - . |
    xz -T1 --lzma2=preset=6,dict=${dict}MiB > "$kit/kit.tar.xz" || exit 1
  echo "gpu-kit: $kit/kit.tar.xz: $(du -h "$kit/kit.tar.xz" | cut -f1)" \
       "($(du -sh --exclude='*.weights' "$stage" | cut -f1) unpacked)"
}

# The directory holding `name`, from the dynamic linker's cache, the CUDA
# toolkit or Python's nvidia-* packages.
find_lib() {
  local name=$1 dirs=() d
  d=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}')
  [ -n "$d" ] && { dirname "$d"; return 0; }
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -e "$d/$name" ] && { echo "$d"; return 0; }
  done
  mapfile -t dirs < <(python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null)
  for d in "${dirs[@]}"; do
    [ -d "$d/nvidia" ] || continue
    d=$(find "$d/nvidia" -name "$name" -print -quit 2>/dev/null)
    [ -n "$d" ] && { dirname "$d"; return 0; }
  done
  return 1
}

# Every parameter file of REF_DIR against OUT_DIR's: prints the worst
# relative error ||out - ref|| / ||ref||; fails above LIMIT (0: bitwise).
compare() {
  "$python" - "$@" 2>&1 <<'EOF'
import os, sys
import numpy as np
ref_dir, out_dir, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
worst, bad, n = 0.0, [], 0
for f in sorted(os.listdir(ref_dir)):
    want, got = np.load(os.path.join(ref_dir, f)), np.load(os.path.join(out_dir, f))
    if limit == 0:
        err = 0.0 if np.array_equal(want, got) else float("inf")
    else:
        want, got = want.astype(np.float64), got.astype(np.float64)
        den = np.linalg.norm(want)
        err = np.linalg.norm(got - want) / den if den else np.linalg.norm(got - want)
    worst, n = max(worst, err), n + 1
    if not err <= limit:
        bad.append(f"{f[:-4]} {err:.2e}")
print(f"{n} parameters, worst relative error {worst:.2e}" + ("; " + ", ".join(bad) if bad else ""))
sys.exit(1 if bad or n == 0 else 0)
EOF
}

run() {
  local work passed=0 failed=0 logs
  [ -f "$kit/kit.tar.xz" ] || { echo "gpu-kit: no $kit/kit.tar.xz (utils/gpu-kit.sh pack)" >&2; exit 1; }
  work="$(mktemp -d)"
  logs="$work/logs"
  mkdir -p "$logs"
  pass() { passed=$((passed + 1)); echo "PASS: $*"; }
  fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
  finish() {
    # The device tool brings back at most 8 files: the logs as one archive,
    # the benchmark's table and the profiles beside it.
    if [ -n "${OUT:-}" ]; then
      tar -C "$work" -czf "$OUT/gpu-kit-logs.tar.gz" logs 2>/dev/null
      cp "$logs"/bench.log "$logs"/*-profile.json "$logs"/*-trace.json "$OUT/" 2>/dev/null
    fi
    echo "gpu kit: $passed passed, $failed failed"
    rm -rf "$work"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
  }
  # A device call's time limit (timeout sends SIGTERM to the whole process
  # group) still brings back what was logged so far: the running check
  # ends, counts as failed, and finish runs.
  trap 'fail "stopped by a signal: the checks after this one did not run"; finish' TERM INT
  # A Python with NumPy for the comparisons (a GPU machine's python3 has
  # PyTorch's; Debian's python3-numpy elsewhere).
  python=""
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import numpy' 2>/dev/null; then python=$p; break; fi
  done
  [ -n "$python" ] || { echo "gpu-kit: run needs python3 with NumPy" >&2; rm -rf "$work"; exit 1; }
  tar -C "$work" -xJf "$kit/kit.tar.xz" || { rm -rf "$work"; exit 1; }
  echo "gpu-kit: packed at commit $(cat "$work/commit" 2>/dev/null), this tree at" \
       "$(git -C "$root" rev-parse HEAD 2>/dev/null)"
  target=$(cat "$work/target" 2>/dev/null || echo cuda)
  local path="$work/lib" name dir cudaLibs=(libcudart.so.13 libcublasLt.so.13 libcudnn.so.9 libnccl.so.2)
  [ "$target" = cpu ] && cudaLibs=()
  for name in "${cudaLibs[@]}"; do
    if ! dir=$(find_lib $name); then
      echo "gpu-kit: cannot find $name on this machine"; exit 1
    fi
    echo "gpu-kit: $name from $dir"
    case ":$path:" in *":$dir:"*) ;; *) path="$path:$dir" ;; esac
  done
  # The kit's libraries for its programs only: Python (PyTorch) must keep
  # the machine's own libstdc++ and friends. The benchmark hands the path
  # to the trainers it starts.
  kitenv=(env "LD_LIBRARY_PATH=$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  export GPIPE_TRAINER_LIBRARY_PATH="$path"
  nvidia-smi -L 2>/dev/null
  local t0=$SECONDS status n
  if [ "$target" = cpu ]; then
    echo "gpu-kit: a CPU kit (GPU_KIT_TARGET=cpu): no GPU checks"
  elif ! "${kitenv[@]}" "$work/bin/gpipe-cuda-info"; then
    fail "gpipe-cuda-info (no usable GPU)"; finish
  else
    timeout 240 "${kitenv[@]}" "$work/bin/gpipe-cuda-tests" > "$logs/cuda-tests.log" 2>&1
    status=$?
    grep -E '^\[  (FAILED|PASSED|SKIPPED) +\]' "$logs/cuda-tests.log"
    n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$logs/cuda-tests.log" | tail -1)
    passed=$((passed + ${n:-0}))
    n=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$logs/cuda-tests.log" | tail -1)
    failed=$((failed + ${n:-0}))
    if [ $status -ne 0 ] && [ "${n:-0}" -eq 0 ]; then
      fail "gpipe-cuda-tests exited with $status"; tail -5 "$logs/cuda-tests.log"
    fi
    echo "gpu-kit: cuda tests took $((SECONDS - t0)) s"
  fi

  t0=$SECONDS
  local model k schedule policy exe input msg
  while read -r model k schedule policy; do
    exe="$model-k$k-$schedule"
    input="$(model_data "$model")/input_$(model_input "$model").npy"
    if ! msg=$(timeout 60 "${kitenv[@]}" "$work/matrix/$exe" --model "$(model_file "$model")" --data "$input" \
                 --labels "$(model_data "$model")/train_sgd/labels.npy" --steps $steps --no-progress \
                 --save-params "$work/matrix/$exe.out" 2>&1); then
      fail "$exe $policy: the trainer failed"; echo "$msg" | tail -5; continue
    fi
    echo "$msg" > "$logs/$exe.log"
    if msg=$(compare "$work/matrix/$exe.ref/params" "$work/matrix/$exe.out" 1e-4); then
      pass "$exe $policy: $msg"
    else
      fail "$exe $policy: $msg"
    fi
  done < <(matrix)
  echo "gpu-kit: the trainer matrix took $((SECONDS - t0)) s"

  # --sync events (functions return once their work is enqueued; streams
  # wait on each other's events, freed memory on the streams that used it):
  # the same parameters to the bit as --sync host.
  # Not yet run on a GPU when written: after two failures (a hang costs the
  # whole timeout) the rest are skipped, so the checks after them still run.
  if [ "$target" = cuda ]; then
    t0=$SECONDS
    local broken=0
    while read -r model k schedule policy; do
      exe="$model-k$k-$schedule"
      [ -d "$work/matrix/$exe.out" ] || continue
      if [ $broken -ge 2 ]; then
        fail "$exe --sync events: skipped after two failures"; continue
      fi
      input="$(model_data "$model")/input_$(model_input "$model").npy"
      if ! msg=$(timeout 30 "${kitenv[@]}" "$work/matrix/$exe" --model "$(model_file "$model")" --data "$input" \
                   --labels "$(model_data "$model")/train_sgd/labels.npy" --steps $steps --no-progress \
                   --sync events --save-params "$work/matrix/$exe.events" 2>&1); then
        broken=$((broken + 1))
        fail "$exe --sync events: the trainer failed"; echo "$msg" | tail -5; continue
      fi
      echo "$msg" > "$logs/$exe-events.log"
      if msg=$(compare "$work/matrix/$exe.out" "$work/matrix/$exe.events" 0); then
        pass "$exe --sync events: the same to the bit as --sync host ($msg)"
      else
        broken=$((broken + 1))
        fail "$exe --sync events: $msg"
      fi
    done < <(matrix)
    echo "gpu-kit: the --sync events matrix took $((SECONDS - t0)) s"
  fi

  # Run to run, the GPU trains to the bit (no float atomics; deterministic
  # cuDNN backward algorithms): a second run of two trainers equals the first.
  for exe in transformer_lm-k2-1f1b resnet_cnn-k2-gpipe; do
    model=${exe%%-*}
    input="$(model_data "$model")/input_$(model_input "$model").npy"
    if ! msg=$(timeout 60 "${kitenv[@]}" "$work/matrix/$exe" --model "$(model_file "$model")" --data "$input" \
                 --labels "$(model_data "$model")/train_sgd/labels.npy" --steps $steps --no-progress \
                 --save-params "$work/matrix/$exe.again" 2>&1); then
      fail "$exe again: the trainer failed"; echo "$msg" | tail -5; continue
    fi
    if msg=$(compare "$work/matrix/$exe.out" "$work/matrix/$exe.again" 0); then
      pass "$exe twice: the same to the bit ($msg)"
    else
      fail "$exe twice: $msg"
    fi
  done

  local data="$root/examples/data" precision acc
  for precision in tf32 bf16; do
    t0=$SECONDS
    timeout 180 "${kitenv[@]}" "$work/digits/digits-$precision" --model "$root/examples/digits_cnn.onnx" \
      --data "$data/digits_train_images.npy" --labels "$data/digits_train_labels.npy" \
      --steps 300 --shuffle --seed 1 --log-every 100 --no-progress \
      --eval-data "$data/digits_test_images.npy" --eval-labels "$data/digits_test_labels.npy" \
      > "$logs/digits-$precision.log" 2>&1
    acc=$(sed -n 's/.*accuracy: \([0-9.]*\).*/\1/p' "$logs/digits-$precision.log" | tail -1)
    if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN {exit !(a >= 0.95)}'; then
      pass "digits $precision: accuracy $acc ($((SECONDS - t0)) s)"
    else
      fail "digits $precision: accuracy '${acc}' (want >= 0.95)"; tail -5 "$logs/digits-$precision.log"
    fi
  done

  if [ $bench = 1 ] && [ -d "$work/bench" ]; then
    t0=$SECONDS
    if PYTHONUNBUFFERED=1 timeout 420 "$python" "$root/bench/cuda_vs_pytorch.py" --prepared "$work/bench" \
         2>&1 | tee "$logs/bench.log"; then
      pass "benchmark ($((SECONDS - t0)) s)"
    else
      fail "benchmark"
    fi
    # Where the time goes: each benchmark model's per-op profile in tf32
    # (every op waits for the GPU), kept in the logs for gpipe-cost-report
    # profile= and gpipe-partition profile=; the slowest nodes printed.
    local b
    for b in gpt2_small_lm resnet_cnn; do
      [ -x "$work/bench/${b}_tf32" ] || continue
      if timeout 120 "${kitenv[@]}" "$work/bench/${b}_tf32" --model "$work/bench/$b.onnx" --data "$work/bench/${b}_x.npy" \
           --labels "$work/bench/${b}_y.npy" --steps 4 --no-progress \
           --profile "$logs/$b-tf32-profile.json" > "$logs/$b-profile.log" 2>&1; then
        "$python" - "$logs/$b-tf32-profile.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
ops = sorted(p["ops"], key=lambda o: -(o["forward_ms"] + o["backward_ms"] + o["recompute_ms"]))
total = sum(o["forward_ms"] + o["backward_ms"] + o["recompute_ms"] for o in p["ops"])
u = p.get("unattributed", {})
own = u.get("forward_ms", 0) + u.get("backward_ms", 0) + u.get("recompute_ms", 0)
print(f"{sys.argv[1]}: {total:.2f} ms per micro-batch in the model's ops, {own:.2f} ms in the "
      "compiler's own (the loss, its gradient); the slowest nodes:")
for o in ops[:10]:
    t = o["forward_ms"] + o["backward_ms"] + o["recompute_ms"]
    print(f"  {o['name']:<48} fwd {o['forward_ms']:8.3f}  bwd {o['backward_ms']:8.3f} ms ({100 * t / total:4.1f}%)")
EOF
      else
        fail "$b profile"; tail -3 "$logs/$b-profile.log"
      fi
    done
    # Where a step's wall time goes: the trace's forward, backward and
    # update spans against the step (from the start of one step's first
    # span to the next's), averaged over steps 2 to 5. Time outside every
    # span is the trainer's own work between the functions (it found the
    # 411 MB seed GPT-2 uploaded per step).
    for b in gpt2_small_lm resnet_cnn; do
      [ -x "$work/bench/${b}_tf32" ] || continue
      if timeout 120 "${kitenv[@]}" "$work/bench/${b}_tf32" --model "$work/bench/$b.onnx" --data "$work/bench/${b}_x.npy" \
           --labels "$work/bench/${b}_y.npy" --steps 6 --no-progress --trace "$logs/$b-tf32-trace.json" \
           > "$logs/$b-trace.log" 2>&1 &&
         "$python" "$root/utils/trace_summary.py" "$logs/$b-tf32-trace.json"; then
        :
      else
        fail "$b trace"; tail -3 "$logs/$b-trace.log"
      fi
    done
  fi
  if [ $sanitize = 1 ] && [ "$target" = cuda ]; then
    sanitizers
  fi
  finish
}

# With --sanitize, after everything else: compute-sanitizer's memcheck over
# the kernel tests and two trainers' steps, racecheck over the kernels that
# share memory within a block. A report of any error is a FAIL.
sanitizers() {
  local cs t0 name log
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ ! -x "$cs" ]; then fail "compute-sanitizer: not found"; return; fi
  sanitize() { # NAME TOOL SECONDS PROGRAM [ARGS...]
    name=$1 log="$logs/sanitize-$1.log" t0=$SECONDS
    timeout "$3" "${kitenv[@]}" "$cs" --tool "$2" --error-exitcode 99 --print-limit 20 \
      "${@:4}" > "$log" 2>&1
    local status=$?
    # memcheck ends with "ERROR SUMMARY: 0 errors", racecheck with
    # "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)".
    if [ $status -eq 0 ] && grep -qE "(ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards displayed \(0 errors)" "$log"; then
      pass "$name ($2, $((SECONDS - t0)) s)"
    else
      fail "$name ($2, exit $status)"; grep -m 5 -E "=+ (Invalid|Race|Error|ERROR)" "$log"
    fi
  }
  local exe model input
  sanitize kernels memcheck 300 "$work/bin/gpipe-cuda-tests"
  sanitize shared-memory racecheck 240 "$work/bin/gpipe-cuda-tests" \
    --gtest_filter='*Reduce*:*Norm*:*Softmax*:*Loss*:*Nll*:*Transpose*:*Arg*:*GlobalPool*'
  for exe in transformer_lm-k2-1f1b resnet_cnn-k2-gpipe; do
    model=${exe%%-*}
    input="$(model_data "$model")/input_$(model_input "$model").npy"
    sanitize "$exe" memcheck 180 "$work/matrix/$exe" --model "$(model_file "$model")" \
      --data "$input" --labels "$(model_data "$model")/train_sgd/labels.npy" --steps 1 --no-progress
  done
}

case $mode in
  pack) pack ;;
  run) run ;;
  *) usage ;;
esac
