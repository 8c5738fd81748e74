#!/usr/bin/env bash
# Builds gpipe and runs every test: the lit suite (dialect, passes, importer,
# executor, models) and the CTest suite (runtime unit tests, ONNX
# conformance). Ends with one summary line "tests: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh" || { echo "tests: 0 passed, 1 failed (build failed)"; exit 1; }

lit="$(command -v lit || echo /usr/lib/llvm-22/bin/lit)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

"$lit" -sv build/test 2>&1 | tee "$log"
lit_status=${PIPESTATUS[0]}
lit_passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
lit_failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
lit_unsupported=$(sed -n 's/^ *Unsupported *: *\([0-9]*\).*/\1/p' "$log" | head -1)

(cd build && ctest --output-on-failure) 2>&1 | tee "$log"
ctest_status=${PIPESTATUS[0]}
ctest_line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
ctest_failed=$(echo "$ctest_line" | sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p')
ctest_total=$(echo "$ctest_line" | sed -n 's/.*failed out of \([0-9]*\).*/\1/p')

# Tests that need a GPU are skipped where there is none (lit: UNSUPPORTED,
# GoogleTest: SKIPPED, each with its reason above).
ctest_skipped=$(grep -c '(Skipped)' "$log")

lit_passed=${lit_passed:-0}; lit_failed=${lit_failed:-0}; lit_unsupported=${lit_unsupported:-0}
ctest_failed=${ctest_failed:-0}; ctest_total=${ctest_total:-0}
if [ "$lit_status" -ne 0 ] && [ "$lit_failed" -eq 0 ]; then lit_failed=1; fi
if [ "$ctest_status" -ne 0 ] && [ "$ctest_failed" -eq 0 ]; then ctest_failed=1; fi
passed=$((lit_passed + ctest_total - ctest_failed - ctest_skipped))
failed=$((lit_failed + ctest_failed))
skipped=$((lit_unsupported + ctest_skipped))
if [ "$ctest_skipped" -gt 0 ] && [ -x build/bin/gpipe-cuda-info ]; then
  echo "GPU tests skipped: $(build/bin/gpipe-cuda-info | head -1)"
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped (they need a GPU)"
[ "$lit_status" -eq 0 ] && [ "$ctest_status" -eq 0 ] && [ "$passed" -gt 0 ]
