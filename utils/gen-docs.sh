#!/usr/bin/env bash
# Regenerates the op and pass reference in docs/reference/ from the ODS and
# Passes.td (mlir-tblgen). The CTest docs-reference-up-to-date fails when they
# differ from what the sources generate.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/utils/build.sh" mlir-doc
cp build/docs/Dialects/GPipeOps.md docs/reference/ops.md
cp build/docs/Passes/GPipePasses.md docs/reference/passes.md
cp build/docs/Passes/GPipeTargetPasses.md docs/reference/target-passes.md
echo "updated docs/reference/ops.md, passes.md and target-passes.md"
