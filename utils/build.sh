#!/usr/bin/env bash
# Configures (once) and builds gpipe in build/ with Ninja. Extra arguments are
# passed to the build (e.g. a target name).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build -- "$@"
