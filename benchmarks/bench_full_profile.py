"""Full profile: what grading adds to the student's own fit and predict (exercises 1 and 2).

    CH3_DATA_DIR=../shared/data python benchmarks/bench_full_profile.py
    CH3_DATA_DIR=../shared/data python benchmarks/bench_full_profile.py -q ex1_knn97.accuracy --repeat 2

For each question, measured in one run on this machine (best of ``--repeat``):

- raw: the reference's ``fit`` on the training set and ``predict`` of the 10,000 test images,
  in this process (the book's own measurement);
- asked: the model work the grader asks of a submission, in this process: the shuffled-label
  fit and its predict, the real fit, and one predict of the perturbed test images with the
  unperturbed and the shifted copies mixed in (what the integrity checks cost, before any
  grading machinery), exactly the grader's batch;
- cold: ``python -m autograder grade solutions -q QUESTION --data full`` in a fresh process
  (``CH3_WARM=0``: interpreter, imports, data, sandbox, worker, reports), wall-clock;
- warm: the same command served by a warm grader (``warm start``, its own socket folder).

It prints grade / asked (the grader's own overhead; target <= 1.10x) and grade / raw (the
overhead plus the integrity checks). Timings are wall-clock; compare ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder.data import load_mnist
from autograder.graders.common import perturb_images
from autograder.graders.hidden import test_exercises_hidden as graders
from solutions import ex1_knn97, ex2_augmentation

PROJECT = Path(__file__).resolve().parents[1]
QUESTIONS = ("ex1_knn97.accuracy", "ex2_augmentation.accuracy")


def best_of(repeat: int, func) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def training_set(question: str, X, y):
    """What the question fits on: the training set, or exercise 2's augmented one (built by the student's code)."""
    return ex2_augmentation.augment(X, y) if question.startswith("ex2") else (X, y)


def build(question: str):
    return (ex2_augmentation if question.startswith("ex2") else ex1_knn97).build_model()


def raw_work(question: str, mnist) -> None:
    build(question).fit(*training_set(question, mnist.X_train, mnist.y_train)).predict(mnist.X_test)


def asked_work(question: str, mnist) -> None:
    """The grader's calls for this question (``_grade_digit_model``), made directly."""
    X_train, y_train, X_test = mnist.X_train, mnist.y_train, mnist.X_test
    rng = np.random.default_rng(graders.SEED + 7)
    originals = np.sort(rng.choice(len(X_test), size=graders.ORIGINAL_ROWS["full"], replace=False))
    moved = originals[:graders.SHIFTED_ROWS["full"]]
    batch = np.concatenate([perturb_images(X_test, graders.PERTURB_SEED), X_test[originals],
                            graders.move_images(X_test[moved], graders.SHIFT_SEED)])
    n = graders.PERMUTED_ROWS["full"]
    shuffled = np.random.default_rng(graders.SEED).permutation(y_train[:n])
    build(question).fit(X_train[:n], shuffled).predict(batch)
    build(question).fit(*training_set(question, X_train, y_train)).predict(batch)


def graded(question: str, warm: bool) -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "grade", str(PROJECT / "solutions"), "-q", question,
                        "--data", "full", "--out", out], check=True, capture_output=True, cwd=PROJECT,
                       env={**os.environ, "CH3_WARM": "1" if warm else "0"})
        return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--question", action="append", choices=QUESTIONS)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not os.environ.get("CH3_DATA_DIR"):
        sys.exit("set CH3_DATA_DIR to the full data (see docs/guide/data.md)")
    mnist = load_mnist("full")
    sockets = tempfile.mkdtemp(prefix="bench-warm-")
    os.environ["CH3_WARM_DIR"] = sockets
    subprocess.run([sys.executable, "-m", "autograder", "warm", "start", "--idle", "10"], check=True,
                   capture_output=True, cwd=PROJECT)
    try:
        for question in args.question or QUESTIONS:
            raw = best_of(args.repeat, lambda: raw_work(question, mnist))
            asked = best_of(args.repeat, lambda: asked_work(question, mnist))
            for mode in ("cold", "warm"):
                grade = best_of(args.repeat, lambda: graded(question, warm=mode == "warm"))
                print(f"{question:<26} raw {raw:6.1f} s  asked {asked:6.1f} s  grade ({mode}) {grade:6.1f} s  "
                      f"grade/asked {grade / asked:5.2f}x  grade/raw {grade / raw:5.2f}x", flush=True)
    finally:
        subprocess.run([sys.executable, "-m", "autograder", "warm", "stop"], capture_output=True, cwd=PROJECT)


if __name__ == "__main__":
    main()
