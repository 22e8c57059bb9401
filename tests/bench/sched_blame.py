#!/usr/bin/env python3
"""sched_blame.py TIMEHIST [MIN_MS [TASK_REGEX]]: who held the CPU while a thread waited for it.

A diagnostic for docs/performance.md ("What the remaining check stalls are"), not a test.
Record the scheduler during a benchmark and turn it into a timeline:

    perf sched record -o sched.data -- sleep 15
    perf sched timehist -i sched.data > timehist.txt
    tests/bench/sched_blame.py timehist.txt 4

For every time a thread matching TASK_REGEX (default: strop-node's threads other than its
writer, and node_bench_client's) was switched in after waiting over MIN_MS (default 2) in a
run queue ("sch delay"), prints which tasks ran on that CPU during the wait, longest first,
and at the end how many waits each task was the main occupant of.
"""
import collections
import re
import sys

LINE = re.compile(r"\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)")
# How far back (switches) to look for the tasks that ran during a wait.
LOOKBACK = 400


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    min_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    waiter = re.compile(sys.argv[3] if len(sys.argv) > 3 else r"strop-node\[|node_bench_clie\[")
    rows = []  # (switch-out time s, cpu, task, sch delay ms, run time ms)
    with open(sys.argv[1]) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                t, cpu, task, _wait, delay, run = m.groups()
                rows.append((float(t), int(cpu), task.strip(), float(delay), float(run)))
    occupants = collections.Counter()
    waits = 0
    for i, (t, cpu, task, delay, run) in enumerate(rows):
        if delay < min_ms or not waiter.search(task) or "strop-writer" in task:
            continue
        waits += 1
        # The row is written when `task` is switched out; it was switched in at t - run and
        # had been runnable since (t - run) - delay. Approximated by t - delay: the
        # occupants are what ran on this CPU in the `delay` before this row's slice.
        start, end = t - run / 1000 - delay / 1000, t - run / 1000
        ran = collections.Counter()
        for t2, cpu2, task2, _d2, run2 in rows[max(0, i - LOOKBACK):i]:
            if cpu2 != cpu:
                continue
            overlap = min(t2, end) - max(t2 - run2 / 1000, start)
            if overlap > 0:
                ran[re.sub(r"\[.*", "", task2)] += overlap * 1000
        top = ran.most_common(3)
        occupants[top[0][0] if top else "?"] += 1
        print(f"{t:.6f} cpu{cpu} {task} waited {delay:.2f} ms behind: " +
              ", ".join(f"{name} {ms:.2f} ms" for name, ms in top))
    print(f"waits over {min_ms} ms: {waits}; main occupant: {dict(occupants.most_common())}")


if __name__ == "__main__":
    main()
