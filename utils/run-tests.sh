#!/usr/bin/env bash
# Builds gpipe and runs every test: the lit suite (dialect, passes, importer,
# models). Ends with one summary line "tests: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh" || { echo "tests: 0 passed, 1 failed (build failed)"; exit 1; }

lit="$(command -v lit || echo /usr/lib/llvm-22/bin/lit)"
log="$(mktemp)"
"$lit" -sv build/test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$log" | head -1)
rm -f "$log"
passed=${passed:-0}
failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: ${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$passed" -gt 0 ]
