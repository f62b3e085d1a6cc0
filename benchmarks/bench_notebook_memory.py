"""The grader's peak memory while converting the largest notebooks it accepts (target: under 500 MB).

    python benchmarks/bench_notebook_memory.py

Each notebook holds as much code as ``MAX_NOTEBOOK_CODE_CHARS`` allows, in cells as large as
``MAX_CELL_CODE_CHARS`` allows, in the shapes that cost
the parser most per character (one statement per short line, one long tuple, many small cells,
deep nesting at the parser's limit) and as the reference solutions (a module per cell), plus 40 MB of
outputs (which are read but never parsed).  Each conversion runs in a fresh child process;
the figure is that process's peak resident memory, interpreter and imports
included (Linux: ``VmHWM``), next to the same child's peak before converting.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from autograder.intake.notebooks import MAX_CELL_CODE_CHARS, MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_CODE_CHARS  # noqa: E402

TARGET_MB = 500
SOLUTIONS = PROJECT / "solutions"

CHILD = """
import re, resource, sys
from autograder.intake.notebooks import modules_from_notebook

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss keeps the parent's across fork and exec)
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

before = peak_mb()
converted = modules_from_notebook(sys.argv[1])
print(before, peak_mb(), len(converted.sources))
"""


def filled(unit: str, budget: int) -> str:
    return unit * (budget // len(unit))


def cells_of(unit: str, budget: int, head: str = "", tail: str = "") -> list[str]:
    """As many cells of the largest size allowed as the notebook's budget holds, each filled with ``unit``."""
    size = MAX_CELL_CODE_CHARS
    return [head + filled(unit, size - len(head) - len(tail)) + tail for _ in range(budget // size)]


def shapes(budget: int) -> dict[str, list[str]]:
    """name -> code cells of at most ``budget`` characters in all."""
    modules = [path.read_text() for path in sorted(SOLUTIONS.glob("[!_]*.py"))]  # valid code, all placed
    cells = budget // 400
    return {
        "one statement per line (x=1)": cells_of("x=1\n", budget),
        "one long tuple (a,a,a,...)": cells_of("a,", budget, "t = (", ")"),
        "calls, dropped (f(x))": cells_of("f(x)\n", budget),
        "small cells": [filled("def f(a=b): return c\n", 380) for _ in range(cells)],
        "nested at the parser's limit": cells_of("x = " + "(" * 190 + "1" + ")" * 190 + "\n", budget),
        "the reference solutions, a module a cell": [
            filled(source + "\n", MAX_CELL_CODE_CHARS) for source in modules][: budget // MAX_CELL_CODE_CHARS],
    }


def notebook(cells: list[str], outputs_bytes: int) -> dict:
    code = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c}
            for c in cells]
    code[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "o" * outputs_bytes}]
    return {"cells": code, "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> int:
    budget = MAX_NOTEBOOK_CODE_CHARS
    outputs = min(40 * 2**20, MAX_NOTEBOOK_BYTES - 3 * budget)
    print(f"code per notebook: {budget:,} characters (MAX_NOTEBOOK_CODE_CHARS); outputs: {outputs / 2**20:.0f} MB")
    worst = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, cells in shapes(budget).items():
            path = Path(folder) / "big.ipynb"
            path.write_text(json.dumps(notebook(cells, outputs)))
            run = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                                 cwd=PROJECT, check=True)
            before, peak, modules = map(int, run.stdout.split())
            worst = max(worst, peak)
            print(f"{name:40s} file {path.stat().st_size / 2**20:5.1f} MB  peak {peak:5d} MB "
                  f"(before converting: {before} MB)  modules: {modules}")
    print(f"worst peak: {worst} MB; target under {TARGET_MB} MB: {'met' if worst < TARGET_MB else 'NOT met'}")
    return 0 if worst < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
