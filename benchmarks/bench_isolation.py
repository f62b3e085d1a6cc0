"""What confining workers costs a kept sandbox: the seccomp filter per worker, the zygote's checks
per spawn and per reset, each against a baseline measured in the same run, on the same sandbox.

    python benchmarks/bench_isolation.py              # ~30 s
    python benchmarks/bench_isolation.py --repeat 40

Prints one line per measurement: with, without (the baseline), the ratio without/with (below 1:
what confining costs). Compare ratios, not seconds: wall-clock on whatever else the machine runs.

- worker start + first call, filter on against off (``Sandbox.confined``), alternating on one
  sandbox; and the filter alone (built for the worker's pid, then loaded), timed in a worker;
- the zygote's checks (its limits and scheduling compared with those it started with, System V
  IPC objects listed), timed here with the zygote's own functions, against a whole spawn and a
  whole reset of the kept sandbox (processes killed, scratch emptied, checks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from autograder.intake import prepare
from autograder.judge import client
from autograder.spec import load_spec
from autograder.worker import confine, sandbox, zygote

LIMITS = load_spec()["confusion.public_example"].limits
SMALL = """
import os, time
import numpy as np

def answer():
    return float(np.arange(10).sum())

def filter_cost():
    from autograder.worker import confine
    start = time.perf_counter()
    confine.install()
    return time.perf_counter() - start
"""


def report(name: str, ours: float, baseline: float) -> None:
    print(f"{name:<58} with {ours * 1000:8.2f} ms   without {baseline * 1000:8.2f} ms   "
          f"ratio {baseline / ours:5.2f}x", flush=True)


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def bench_spawn(student: client.Submission, repeat: int) -> float:
    """Worker start + first call, confined and not, alternating on the same sandbox; the median with."""
    student.module("small").answer()  # the sandbox and its preloads
    times = {True: [], False: []}
    for _ in range(repeat):
        for confined in (False, True):
            student._sandbox.confined = confined
            student.restart("small")
            times[confined].append(timed(lambda: student.module("small").answer()))
    student._sandbox.confined = True
    ours, baseline = statistics.median(times[True]), statistics.median(times[False])
    report("worker start + first call (seccomp filter vs none)", ours, baseline)
    # the filter alone, timed in a worker (a second one stacks on the first): end to end it is noise
    inside = statistics.median(student.module("small").filter_cost() for _ in range(repeat))
    report("the filter built and loaded in a worker vs its whole start", inside, baseline)
    return ours


def bench_checks(spawn: float, folder: Path, repeat: int) -> None:
    """The zygote's checks (run here: the same functions) against a spawn and a kept sandbox's reset."""
    checks = statistics.median(timed(lambda: (zygote.changes(zygote.process_state(), zygote.process_state()),
                                              zygote.ipc_objects())) for _ in range(repeat * 10))
    keeper = client.KeptSandbox()
    resets = []
    try:
        with client.keeping(keeper):
            for _ in range(repeat):
                student = client.Submission(folder)
                student.start_question(LIMITS)
                student.module("small").answer()
                for module in list(student._workers):
                    student.restart(module)
                resets.append(timed(lambda: keeper.sandbox.reset()))
                keeper.busy = False  # reset done by hand: release without a second one
                student._sandbox = None
                student.close()
    finally:
        keeper.close()
    reset = statistics.median(resets)
    report("spawn: the zygote's checks vs the whole worker start", checks, spawn)
    report("reset: the zygote's checks vs the whole reset", checks, reset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per figure (median)")
    args = parser.parse_args()
    if not sandbox.bwrap_works():
        sys.exit("needs bubblewrap (apt-get install bubblewrap)")
    if confine.why_unavailable():
        sys.exit(f"workers cannot be confined here: {confine.why_unavailable()}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures taken under this load)")
    root = Path(tempfile.mkdtemp(prefix="ch3-bench-"))
    root.chmod(0o755)
    source = root / "src"
    source.mkdir()
    (source / "small.py").write_text(SMALL)
    folder = prepare(source).materialize(root / "work")
    student = client.Submission(folder)
    student.start_question(LIMITS)
    try:
        spawn = bench_spawn(student, args.repeat)
    finally:
        student.close()
    try:
        bench_checks(spawn, folder, args.repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
