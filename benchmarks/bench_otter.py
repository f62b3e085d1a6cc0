"""`grade -q confusion` against `otter run` on the equivalent Otter assignment, same submission, same run.

    python benchmarks/bench_otter.py [--repeat 3]

The Otter assignment is the one ``python -m autograder build otter -q confusion`` generates
(its tests call the sandboxed grader, so ``otter run`` = Otter's own cost + ours). The
submission is the reference confusion module, as a folder of .py files for ``grade`` and
as the Otter notebook for ``otter run``. Prints the best wall-clock time of each command,
Otter's floor (``otter run`` on an assignment with no question, i.e. kernel start and
notebook execution only) and the ratios. Timings depend on the machine and its load:
compare ratios from one run.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))

from autograder.build.notebooks import KERNEL  # noqa: E402
from autograder.build.otter import build_otter  # noqa: E402
from submissions import write_submission  # noqa: E402


def best_of(command, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def empty_assignment(folder: Path) -> Path:
    """An Otter assignment with one trivial test: Otter's own cost (kernel, execution, results)."""
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_raw_cell("# ASSIGNMENT CONFIG\nname: chapter3\nrun_tests: false\ngenerate: true\n"
                             "tests:\n  ok_format: false\n  files: false\n"),
                new_raw_cell("# BEGIN QUESTION\nname: nothing"), new_code_cell("x = 1  # SOLUTION"),
                new_raw_cell("# BEGIN TESTS"), new_code_cell("def test_x(env):\n    assert True"),
                new_raw_cell("# END TESTS"), new_raw_cell("# END QUESTION")]
    folder.mkdir(parents=True)
    master = folder / "master.ipynb"
    nbformat.write(nb, master)
    subprocess.run([sys.executable, "-m", "otter", "assign", str(master), str(folder / "dist")], check=True,
                   capture_output=True)
    return next((folder / "dist" / "autograder").glob("*.zip"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        assignment = build_otter(tmp / "otter", modules=["confusion"])
        reference_nb = assignment.master.parent.parent / "dist" / "autograder" / "chapter3.ipynb"
        folder = write_submission(tmp / "py", honest=["confusion"])
        floor_zip = empty_assignment(tmp / "empty")
        ours = best_of([sys.executable, "-m", "autograder", "grade", str(folder), "-q", "confusion",
                        "--out", str(tmp / "out")], repeat)
        otter = best_of([sys.executable, "-m", "otter", "run", "-a", str(assignment.autograder_zip), "-o",
                         str(tmp), str(reference_nb)], repeat)
        floor = best_of([sys.executable, "-m", "otter", "run", "-a", str(floor_zip), "-o", str(tmp),
                         str(reference_nb)], repeat)
    print(f"grade -q confusion (sandboxed, 3 questions)      {ours:7.2f} s")
    print(f"otter run, generated assignment (same questions) {otter:7.2f} s   otter / grade = {otter / ours:5.2f}x")
    print(f"otter run, one trivial test (Otter's floor)      {floor:7.2f} s   floor / grade = {floor / ours:5.2f}x")


if __name__ == "__main__":
    main()
