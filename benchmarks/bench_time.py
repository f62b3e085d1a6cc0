"""Grading time against the work: a class with one hanging submission on 1, 2 and 4 grader processes,
and small work (``grade -q confusion``) against Otter's floor, each against its baseline in one run.

    python benchmarks/bench_time.py                          # every figure
    python benchmarks/bench_time.py --skip otter             # only the class figures
    python benchmarks/bench_time.py --baseline /tmp/main      # + the same runs on another checkout (e.g. main)
    python benchmarks/bench_time.py --workers 1 2 --questions confusion

Class figures: a class of eight (the reference, untouched stubs, five real or partial solutions,
and one whose ``precision`` loops forever, or in the class without a hang another complete one),
``grade-all -q confusion -q roc -q ex3_titanic`` through the CLI into empty output folders.
Printed per run: wall time, the speed-up against 1 process, how busy the grader processes were
(the submissions' summed question seconds over wall time x processes: below 100% is process
start, rendering and idle cores), and what the hanging submission cost against the mean
complete one (each submission's summed question seconds, batch.json).
``--baseline PATH`` runs the same commands with PATH's ``autograder`` package first on the
Python path (a ``git worktree`` of an older commit), in the same run, for the before/after.

Small work: ``grade -q confusion`` (three questions) cold (``CH3_WARM=0``: a new process that
imports everything) and on a warm grader (``warm start``), ``check -q confusion`` on the warm
grader, and ``notebook_check("confusion")`` in one Python process (as in a kernel: the first call
pays the imports, later ones do not), each against ``otter run`` on an assignment with one
trivial test (Otter's floor: kernel start and notebook execution) and on a native Otter
assignment whose three tests do the same checks in the notebook's kernel, without our grader
(best of ``--repeat``).
Timings are wall-clock under whatever else runs on the machine: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT / "benchmarks"))

from class_fixture import honest, reference  # noqa: E402

QUESTIONS = ("confusion", "roc", "ex3_titanic")
HANGING_PRECISION = '''

def precision(y_true, y_pred):  # a threshold search whose loop never ends
    while True:
        pass
'''


def class_of_eight(folder: Path, hanging: bool) -> dict[str, str]:
    """Eight submissions; returns key -> kind ("complete", "partial", "stub", "hanging")."""
    kinds = {}

    def add(key, files, kind):
        (folder / key).mkdir(parents=True)
        for name, source in files.items():
            (folder / key / name).write_text(source)
        kinds[key] = kind

    add("reference", honest("reference"), "complete")
    add("stubs", honest("stubs", stubbed=tuple(m for m in QUESTIONS)), "stub")
    for n in range(1, 4):
        add(f"complete_{n}", honest(f"complete_{n}"), "complete")
    add("partial_roc", honest("partial_roc", stubbed=("roc",)), "partial")
    add("partial_confusion", honest("partial_confusion", stubbed=("confusion",)), "partial")
    if hanging:
        add("hanging", honest("hanging", replaced={"confusion.py": reference("confusion") + HANGING_PRECISION}),
            "hanging")
    else:
        add("complete_4", honest("complete_4"), "complete")
    return kinds


def grade_all(classroom: Path, out: Path, workers: int, questions, pythonpath: str | None) -> tuple[float, dict]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "autograder", "grade-all", str(classroom), "--out", str(out),
               "--workers", str(workers), "--quiet"]
    for q in questions:
        command += ["-q", q]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=pythonpath or PROJECT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"grade-all failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, json.loads((out / "batch.json").read_text())


def class_figures(args, scratch: Path) -> None:
    trees = [("this tree", None)] + ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else [])
    for hanging in (True, False):
        classroom = scratch / f"class-{'hang' if hanging else 'nohang'}"
        kinds = class_of_eight(classroom, hanging)
        label = "with one hanging submission" if hanging else "without a hanging submission"
        for tree, path in trees:
            if not hanging and tree == "baseline":
                continue
            one = None
            for workers in args.workers:
                out = scratch / f"out-{tree.replace(' ', '')}-{hanging}-{workers}"
                seconds, manifest = grade_all(classroom, out, workers, args.questions, path)
                one = one or seconds
                scores = {e["id"]: e["score"] for e in manifest["entries"]}
                cost = {e["id"]: e["seconds"] or 0.0 for e in manifest["entries"]}
                complete = [cost[k] for k, kind in kinds.items() if kind == "complete"]
                busy = sum(cost.values()) / (seconds * workers)
                line = (f"{tree:<10} class of 8 {label:<29} {workers} process{'es' if workers > 1 else '  '} "
                        f"{seconds:7.1f} s   speed-up vs 1: {one / seconds:4.2f}x   processes busy {busy:4.0%}")
                if hanging:
                    mean = sum(complete) / len(complete)
                    line += f"   hanging/complete: {cost['hanging'] / mean:4.2f}x ({cost['hanging']:.1f} / {mean:.1f} s)"
                print(line, flush=True)
                if args.verbose:
                    print("           scores:", json.dumps(scores, sort_keys=True), flush=True)


# -------------------------------------------------------------------- small work

NATIVE_TESTS = {
    "public_example": '''def test_public_example(env):
    import numpy as np
    y_true, y_pred = np.array([0, 1, 1, 0, 1, 1]), np.array([0, 1, 1, 1, 0, 0])
    assert np.array_equal(env["binary_confusion_matrix"](y_true, y_pred), [[1, 1], [2, 2]])
    for name, expected in (("precision", 2 / 3), ("recall", 1 / 2), ("f1", 4 / 7)):
        assert abs(env[name](y_true, y_pred) - expected) < 1e-12''',
    "hidden_inputs": '''def test_hidden_inputs(env):
    import numpy as np
    from sklearn import metrics
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
        assert np.array_equal(env["binary_confusion_matrix"](y_true, y_pred),
                              metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]))
        for name, ref in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                          ("f1", metrics.f1_score)):
            assert abs(env[name](y_true, y_pred) - ref(y_true, y_pred, zero_division=0)) < 1e-12''',
    "validation": '''def test_validation(env):
    import pytest
    for function, y_true, y_pred in ((env["precision"], [0, 2, 1], [0, 1, 1]),
                                     (env["binary_confusion_matrix"], [0, 1, 1], [0, 1]),
                                     (env["recall"], [], []), (env["f1"], [[0, 1]], [[0, 1]])):
        with pytest.raises((ValueError, TypeError)):
            function(y_true, y_pred)''',
}


def native_otter_assignment(folder: Path) -> tuple[Path, Path]:
    """An Otter assignment with the three confusion checks as Otter tests, and its solved notebook."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell

    from autograder.build.notebooks import KERNEL

    solution = reference("confusion")
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_raw_cell("# ASSIGNMENT CONFIG\nname: chapter3\nrun_tests: false\ngenerate: true\n"
                             "tests:\n  ok_format: false\n  files: false\n")]
    for n, (name, test) in enumerate(NATIVE_TESTS.items()):
        nb.cells += [new_raw_cell(f"# BEGIN QUESTION\nname: {name}\npoints: 1"),
                     new_code_cell(f"# BEGIN SOLUTION\n{solution}\n# END SOLUTION" if n == 0 else "pass  # SOLUTION"),
                     new_raw_cell("# BEGIN TESTS"), new_code_cell(test), new_raw_cell("# END TESTS"),
                     new_raw_cell("# END QUESTION")]
    folder.mkdir(parents=True)
    master = folder / "master.ipynb"
    nbformat.write(nb, master)
    subprocess.run([sys.executable, "-m", "otter", "assign", str(master), str(folder / "dist")], check=True,
                   capture_output=True)
    autograder = folder / "dist" / "autograder"
    return next(autograder.glob("*.zip")), autograder / master.name


def best_of(command, repeat) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{command[:4]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        best = min(best, time.perf_counter() - started)
    return best


def otter_score(results_dir: Path) -> str:
    try:
        data = json.loads((results_dir / "results.json").read_text())
    except (OSError, ValueError):
        return "?"
    return f"{data.get('score', sum(t.get('score', 0) for t in data.get('tests', [])))}"


NOTEBOOK_CHECKS = """
import json, sys, time
from autograder.notebooks import notebook_check
cells = [open(sys.argv[1]).read()]
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    result = notebook_check("confusion", cells=cells, quiet=True)
    times.append(time.perf_counter() - started)
    assert result.score == result.max_score, result.score
print(json.dumps(times))
"""


def notebook_check_times(source: Path, calls: int) -> list[float]:
    """``notebook_check("confusion")`` called ``calls`` times in one Python process (as in one kernel)."""
    done = subprocess.run([sys.executable, "-c", NOTEBOOK_CHECKS, str(source), str(calls)], capture_output=True,
                          text=True, cwd=PROJECT)
    if done.returncode != 0:
        raise SystemExit(f"notebook_check failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def small_work_figures(args, scratch: Path) -> None:
    from bench_otter import empty_assignment
    from submissions import write_submission

    folder = write_submission(scratch / "py", honest=["confusion"])
    native_zip, native_nb = native_otter_assignment(scratch / "native")
    floor_zip = empty_assignment(scratch / "floor")
    grade_confusion = [sys.executable, "-m", "autograder", "grade", str(folder), "-q", "confusion",
                       "--out", str(scratch / "grade-out")]
    check_confusion = [sys.executable, "-m", "autograder", "check", str(folder), "-q", "confusion",
                       "--out", str(scratch / "check-out")]
    os.environ["CH3_WARM"] = "0"
    cold = best_of(grade_confusion, args.repeat)
    os.environ["CH3_WARM"], os.environ["CH3_WARM_DIR"] = "1", str(scratch / "warm-sockets")
    subprocess.run([sys.executable, "-m", "autograder", "warm", "start", "--idle", "5"], check=True,
                   capture_output=True)
    try:
        warm = best_of(grade_confusion, args.repeat)
        warm_check = best_of(check_confusion, args.repeat)
    finally:
        subprocess.run([sys.executable, "-m", "autograder", "warm", "stop"], capture_output=True)
    in_kernel = notebook_check_times(folder / "confusion.py", 1 + args.repeat)
    (scratch / "native-out").mkdir()
    native = best_of([sys.executable, "-m", "otter", "run", "-a", str(native_zip), "-o", str(scratch / "native-out"),
                      str(native_nb)], args.repeat)
    floor = best_of([sys.executable, "-m", "otter", "run", "-a", str(floor_zip), "-o", str(scratch),
                     str(native_nb)], args.repeat)
    rows = [("grade -q confusion, cold (sandboxed, 3 questions)", cold),
            ("grade -q confusion, on a warm grader", warm),
            ("check -q confusion, on a warm grader (1 public question)", warm_check),
            ("notebook_check('confusion'), first call in a kernel", in_kernel[0]),
            ("notebook_check('confusion'), later calls (best)", min(in_kernel[1:]))]
    for label, seconds in rows:
        print(f"{label:<58} {seconds:6.2f} s   Otter's floor / this = {floor / seconds:5.2f}x   "
              f"native Otter / this = {native / seconds:5.2f}x", flush=True)
    print(f"{'otter run, native Otter tests (same 3 checks, score ' + otter_score(scratch / 'native-out') + ')':<58} "
          f"{native:6.2f} s", flush=True)
    print(f"{'otter run, one trivial test (Otter floor)':<58} {floor:6.2f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--questions", nargs="+", default=list(QUESTIONS))
    parser.add_argument("--baseline", help="another checkout's root (its autograder/ goes first on the path)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=("class", "otter"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print(f"bench_time {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-time-"))
    try:
        if "class" not in args.skip:
            class_figures(args, scratch)
        if "otter" not in args.skip:
            small_work_figures(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
