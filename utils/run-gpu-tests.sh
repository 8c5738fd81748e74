#!/usr/bin/env bash
# Builds gpipe and runs the tests that need a CUDA GPU: the CUDA kernels
# against the CPU kernels (gpipe-cuda-tests), and the CUDA trainers against
# the CPU (every model, schedule and K in {1, 2, 4}; tf32 and bf16 digits).
# Fails when no GPU can be used, instead of skipping. Ends with one summary
# line "gpu tests: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh" || { echo "gpu tests: 0 passed, 1 failed (build failed)"; exit 1; }
if [ ! -x build/bin/gpipe-cuda-info ]; then
  echo "gpu tests: 0 passed, 1 failed (gpipe was built without the CUDA backend)"
  exit 1
fi
if ! build/bin/gpipe-cuda-info; then
  echo "gpu tests: 0 passed, 1 failed (no usable GPU)"
  exit 1
fi

lit="$(command -v lit || echo /usr/lib/llvm-22/bin/lit)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
build/bin/gpipe-cuda-tests 2>&1 | tee "$log"
gtest_status=${PIPESTATUS[0]}
gtest_passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
gtest_failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
gtest_skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)

"$lit" -sv build/test --filter 'cuda' 2>&1 | tee "$log"
lit_status=${PIPESTATUS[0]}
lit_passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
lit_failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
lit_unsupported=$(sed -n 's/^ *Unsupported *: *\([0-9]*\).*/\1/p' "$log" | head -1)

passed=$(( ${gtest_passed:-0} + ${lit_passed:-0} ))
failed=$(( ${gtest_failed:-0} + ${lit_failed:-0} ))
skipped=$(( ${gtest_skipped:-0} + ${lit_unsupported:-0} ))
if [ "$gtest_status" -ne 0 ] && [ "${gtest_failed:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
if [ "$lit_status" -ne 0 ] && [ "${lit_failed:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
echo "gpu tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
