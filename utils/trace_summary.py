#!/usr/bin/env python3
"""Where a compiled trainer's step goes, from its --trace file.

Usage: utils/trace_summary.py TRACE.json [--skip N]

Prints, averaged over the steps after the first N (default 1, the warm-up)
and before the last (whose end the trace does not mark), the wall time of a
step (from the start of its first span to the start of the next step's),
each row's span time per kind (stage s: forward, recompute+backward; the
optimizer update), and the time outside every span: the trainer's own work
between the functions (gathering the batch, moving tensors, the loss). Spans
of different stages overlap in time; "outside" counts the time no span
covers. Last, how many of those steps' stage spans began while another
stage's span was still running: 0 for a trainer run with
--serialize-stages, whose spans are then each stage's own time (what a
simulation of K devices from one needs). Standard library only.
"""
import argparse
import collections
import json
import sys


def union_length(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--skip", type=int, default=1, help="warm-up steps left out (default 1)")
    args = ap.parse_args()
    try:
        trace = json.load(open(args.trace))
    except (OSError, ValueError) as e:
        sys.exit(f"trace_summary: cannot read '{args.trace}': {e}")
    rows = {e["tid"]: e["args"]["name"] for e in trace.get("traceEvents", [])
            if e.get("ph") == "M" and e.get("name") == "thread_name"}
    spans = collections.defaultdict(list)
    for e in trace.get("traceEvents", []):
        if e.get("ph") == "X":
            spans[e["args"]["step"]].append(e)
    steps = sorted(spans)
    first = {k: min(e["ts"] for e in spans[k]) for k in steps}
    measured = [k for k in steps[:-1] if k > steps[0] - 1 + args.skip and k + 1 in first]
    if not measured:
        sys.exit(f"trace_summary: '{args.trace}' has too few steps (needs {args.skip + 2})")
    wall = busy = 0.0
    per = collections.Counter()
    for k in measured:
        end = first[k + 1]
        wall += end - first[k]
        busy += union_length([(e["ts"], min(e["ts"] + e["dur"], end)) for e in spans[k]])
        for e in spans[k]:
            per[(e["tid"], e["name"].split(" ")[0])] += e["dur"]
    # Stage spans that began before another stage's span ended.
    stage_rows = {tid for tid, name in rows.items() if name.startswith("stage ")}
    overlapping, running_end = 0, None
    for start, stop in sorted((e["ts"], e["ts"] + e["dur"]) for k in measured
                              for e in spans[k] if e["tid"] in stage_rows):
        if running_end is not None and start < running_end:
            overlapping += 1
        running_end = stop if running_end is None else max(running_end, stop)
    n = len(measured) * 1e3  # microseconds to milliseconds, per step
    def label(tid, name):
        row = rows.get(tid, f"row {tid}")
        return name if row == "optimizer update" else f"{row} {name}"
    parts = [f"{label(tid, name)} {t / n:.2f}" for (tid, name), t in sorted(per.items())]
    print(f"{args.trace}: a step {wall / n:.2f} ms (steps {measured[0]}-{measured[-1]}): "
          f"{', '.join(parts)} ms; outside every span {(wall - busy) / n:.2f} ms; "
          f"stage spans begun while another ran: {overlapping}")


if __name__ == "__main__":
    main()
