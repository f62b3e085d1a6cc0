"""Peak memory of `grade-all` with 1, 2 and 4 grader processes on the full data.

    CH3_DATA_DIR=/path/to/data python benchmarks/bench_memory.py [--workers 1 2 4] [-q ex1_knn97 ...]

For each worker count N, a class of N copies of the reference is graded with ``--workers N``
(so N submissions run at once), and the memory of the whole process tree (this process, the
grader processes, their sandboxes, zygotes and students' workers) is sampled every 0.25 s.
Prints, per N: the peak of the summed PSS (shared pages such as the memory-mapped datasets
counted once, split between the processes that map them), the peak of the summed RSS (shared
pages counted in every process: an upper bound) and the wall time. The default questions are
the two that hold the most memory: the KNN on all 60,000 training images (ex1) and the
augmented 300,000-image training set (ex2). Figures depend on the machine; PSS is what a
machine with that much free memory can run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parents[1]

from autograder.bulk.batch import grade_all  # noqa: E402
from autograder.data import DATA_DIR_ENV  # noqa: E402

SAMPLE_EVERY_S = 0.25


class TreeMemory:
    """Sample the summed PSS and RSS of this process and all its descendants until stopped."""

    def __init__(self):
        self.peak_pss = self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        me = psutil.Process()
        while not self._stop.wait(SAMPLE_EVERY_S):
            pss = rss = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue  # a worker that ended between the listing and the read
                pss += info.pss
                rss += info.rss
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)


def reference_class(folder: Path, students: int) -> Path:
    for i in range(students):
        target = folder / f"student_{i + 1}"
        target.mkdir(parents=True)
        for module in (PROJECT / "solutions").glob("*.py"):
            if not module.name.startswith("_"):
                shutil.copy(module, target / module.name)
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("-q", "--question", action="append", dest="questions",
                        help="questions to grade (default: ex1_knn97 and ex2_augmentation)")
    args = parser.parse_args()
    if not os.environ.get(DATA_DIR_ENV):
        sys.exit(f"set {DATA_DIR_ENV} to the full data (MNIST, Titanic, SpamAssassin)")
    questions = tuple(args.questions or ("ex1_knn97", "ex2_augmentation"))
    print(f"full profile, questions: {', '.join(questions)}; {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB")
    for workers in args.workers:
        scratch = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        try:
            classroom = reference_class(scratch / "class", workers)
            started = time.perf_counter()
            with TreeMemory() as memory:
                outcome = grade_all(classroom, scratch / "out", workers=workers, profile="full", questions=questions)
            seconds = time.perf_counter() - started
            scores = sorted({e["score"] for e in outcome.entries})
            print(f"{workers} grader process(es), {workers} submission(s) at once:  peak PSS "
                  f"{memory.peak_pss / 2**30:5.2f} GiB   peak RSS sum {memory.peak_rss / 2**30:5.2f} GiB   "
                  f"{seconds:6.1f} s   scores {scores}", flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
