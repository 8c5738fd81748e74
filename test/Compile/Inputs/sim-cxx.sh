#!/bin/bash
# gpipe-compile --cxx for the simulated-devices test: the generated
# program's main becomes gpipe_program_main, and sim-devices.cpp (compiled
# apart, keeping its own main) runs it.
set -e
dir=$(dirname "$0")
out=""
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out=$2; shift 2; continue; fi
  args+=("$1"); shift
done
include=""
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = -I ]; then include=${args[$((i + 1))]}; fi
done
c++ -std=c++17 -O1 -c -I "$include" "$dir/sim-devices.cpp" -o "$out.sim.o"
c++ -Dmain=gpipe_program_main "$out.sim.o" "${args[@]}" -o "$out"
