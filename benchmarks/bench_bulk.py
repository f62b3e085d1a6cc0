"""Throughput of ``grade-all`` on a class of mixed submissions, against baselines in the same run.

    python benchmarks/bench_bulk.py                     # 22 submissions, a question selection, quick profile
    python benchmarks/bench_bulk.py --all-questions     # every question (slow: about a minute a submission)
    python benchmarks/bench_bulk.py --all-questions --no-full --reference-class 12   # + 12 complete submissions

Prints:
- 1 grader process vs 2 (the same class, empty output folders): wall time and the ratio;
- a regrade of the unchanged class (everything from the cache): seconds per submission;
- the projected time for a class of 300 on this machine's cores, from the measured per-submission
  time with all cores busy and, unless --no-full, one full-question grade of the reference.
Timings are wall-clock on this machine, under whatever else runs on it; compare the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))

from autograder.bulk.batch import grade_all  # noqa: E402
from autograder.bulk.runner import available_cores  # noqa: E402
from class_fixture import build_class  # noqa: E402

DEFAULT_QUESTIONS = ("confusion", "binary_classifier", "tradeoff", "roc.points")
CLASS_OF = 300


def timed_batch(classroom: Path, out: Path, **options):
    started = time.perf_counter()
    outcome = grade_all(classroom, out, **options)
    return time.perf_counter() - started, outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=22)
    parser.add_argument("--all-questions", action="store_true", help="grade every question, not the selection")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-question cap (the hostile loop waits this long)")
    parser.add_argument("--no-full", action="store_true", help="skip the full-question grade used for the projection")
    parser.add_argument("--reference-class", type=int, default=0, metavar="N",
                        help="also grade N distinct copies of the reference (every question, all cores): a "
                             "class where everyone hands in a complete solution, measured rather than projected")
    args = parser.parse_args()
    questions = () if args.all_questions else DEFAULT_QUESTIONS
    cores = available_cores()
    scratch = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    try:
        classroom = scratch / "class"
        people = build_class(classroom, "folder", args.students)
        gradable = sum(p.expect != "cannot_grade" for p in people)  # "either" (the notebook) is graded now
        print(f"class: {len(people)} submissions ({gradable} gradable), quick profile, "
              f"questions: {', '.join(questions) or 'all'}, --timeout {args.timeout:g}, {cores} cores")
        options = dict(questions=questions, timeout=args.timeout)

        one_s, one = timed_batch(classroom, scratch / "one", workers=1, **options)
        two_s, two = timed_batch(classroom, scratch / "two", workers=max(2, cores), **options)
        same = {e["id"]: e["score"] for e in one.entries} == {e["id"]: e["score"] for e in two.entries}
        print(f"{'1 grader process':<40} {one_s:8.1f} s  ({one_s / gradable:.2f} s a submission)")
        print(f"{f'{max(2, cores)} grader processes':<40} {two_s:8.1f} s  ({two_s / gradable:.2f} s a submission)"
              f"   speed-up {one_s / two_s:.2f}x   identical scores: {same}")

        again_s, again = timed_batch(classroom, scratch / "two", workers=max(2, cores), **options)
        cached = sum(e["cached"] for e in again.entries)
        print(f"{'regrade, unchanged class':<40} {again_s:8.2f} s  ({again_s / len(people):.3f} s a submission, "
              f"{cached}/{len(people)} from the cache)")

        per_submission = two_s / gradable
        print(f"{f'projected: class of {CLASS_OF}, this selection':<40} {per_submission * CLASS_OF / 60:8.1f} min")
        if not args.no_full and questions:
            full_class = scratch / "full"
            full_class.mkdir()
            shutil.copytree(classroom / "correct_1", full_class / "correct_1")
            # The questions' own time limits: a cap would cut the reference's slower questions short.
            full_s, full = timed_batch(full_class, scratch / "full-out", workers=1)
            speedup = one_s / two_s
            projected = CLASS_OF * full_s / speedup
            print(f"{'one reference, every question':<40} {full_s:8.1f} s  (score {full.entries[0]['score']:g})")
            print(f"{f'projected: class of {CLASS_OF}, every question':<40} {projected / 60:8.1f} min "
                  f"(= {CLASS_OF} x {full_s:.1f} s / {speedup:.2f} measured speed-up; target <= 30 min)")
        if args.reference_class:
            strong = scratch / "reference-class"
            for n in range(args.reference_class):  # distinct files, so that none comes from the cache
                shutil.copytree(PROJECT / "solutions", strong / f"complete_{n}",
                                ignore=shutil.ignore_patterns("__pycache__"))
                with open(strong / f"complete_{n}" / "mnist.py", "a") as fh:
                    fh.write(f"# student {n}\n")
            strong_s, strong_out = timed_batch(strong, scratch / "reference-class-out", workers=max(2, cores))
            scores = {e["score"] for e in strong_out.entries}
            per = strong_s / args.reference_class
            print(f"{f'{args.reference_class} complete submissions, every question':<40} {strong_s:8.1f} s  "
                  f"({per:.2f} s a submission, {max(2, cores)} processes, scores {sorted(scores)})")
            print(f"{f'projected: class of {CLASS_OF} complete ones':<40} {per * CLASS_OF / 60:8.1f} min (target <= 30 min)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
