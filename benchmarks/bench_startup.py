"""Start-up: a cold ``grade -q confusion`` of the reference solutions against Otter's floor, in one run,
and what each command imports.

    python benchmarks/bench_startup.py                    # best of 3, the 15 slowest imports
    python benchmarks/bench_startup.py --repeat 5 --top 25

Printed: the best wall-clock time of a cold ``grade -q confusion solutions`` (``CH3_WARM=0``: a new
process that imports everything, grades the three questions in the sandbox and writes the reports)
and of a cold ``check -q confusion solutions``, against ``otter run`` on an assignment with one
trivial test (Otter's floor: kernel start and notebook execution; the assignment of
``bench_otter.empty_assignment``), with the ratio floor / command. Then, from
``python -X importtime`` (pytest's output capture off, which would swallow what the graders'
modules import), each command's total import time and its slowest imports: the top-level ones
(what the command's own modules pulled in, cumulative) and the slowest modules by their own time.
For a before/after, run it on a checkout of the older commit installed for the interpreter: the
sandbox imports the grader installed for it, never ``PYTHONPATH``'s.

The commands run with bytecode caches, as an installation has them (``PYTHONDONTWRITEBYTECODE`` is
dropped, and one unmeasured run of each command writes them). Timings are wall-clock under whatever
else runs on the machine: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "benchmarks"))

from bench_otter import empty_assignment  # noqa: E402

SOLUTIONS = PROJECT / "solutions"


def environment() -> dict[str, str]:
    """A cold command's environment: no warm grader, bytecode caches written and read."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CH3_WARM"] = "0"
    return env


def best_of(command: list[str], repeat: int, env: dict[str, str], cwd: Path) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:5])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        best = min(best, time.perf_counter() - started)
    return best


IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


def import_times(command: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, int, int, int]]:
    """``-X importtime`` of ``command``: (module, self us, cumulative us, depth), in import order.
    pytest's output capture is off for this run: it would swallow what the graders' modules import."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True,
                          env={**env, "PYTEST_ADDOPTS": "--capture=no"}, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:5])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    rows = []
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            own, cumulative, indent, module = match.groups()
            rows.append((module, int(own), int(cumulative), (len(indent) - 1) // 2))
    return rows


def print_imports(label: str, rows: list[tuple[str, int, int, int]], top: int) -> None:
    total = sum(own for _, own, _, _ in rows)
    print(f"\n{label}: {len(rows)} modules imported, {total / 1e6:.2f} s of import time")
    outer = sorted((r for r in rows if r[3] == 0), key=lambda r: -r[2])[:top]
    print("  slowest top-level imports (cumulative):")
    for module, _, cumulative, _ in outer:
        print(f"    {cumulative / 1e6:6.3f} s  {module}")
    print("  slowest modules (own time):")
    for module, own, _, _ in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"    {own / 1e6:6.3f} s  {module}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest imports to print")
    args = parser.parse_args()
    print(f"bench_startup {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        scratch = Path(scratch)
        floor_zip = empty_assignment(scratch / "floor")
        notebook = next(floor_zip.parent.glob("*.ipynb"))
        floor_command = [sys.executable, "-m", "otter", "run", "-a", str(floor_zip), "-o", str(scratch), str(notebook)]
        commands = {name: [sys.executable, "-m", "autograder", name, str(SOLUTIONS), "-q", "confusion",
                           "--out", str(scratch / f"{name}-out")] for name in ("grade", "check")}
        for command in commands.values():
            best_of(command, 1, env, scratch)  # writes the bytecode caches
        times = {name: best_of(command, args.repeat, env, scratch) for name, command in commands.items()}
        floor = best_of(floor_command, args.repeat, env, scratch)
        print()
        for name, seconds in times.items():
            print(f"{name + ' -q confusion solutions, cold':<44} {seconds:6.2f} s   "
                  f"Otter's floor / this = {floor / seconds:5.2f}x", flush=True)
        print(f"{'otter run, one trivial test (Otter floor)':<44} {floor:6.2f} s", flush=True)
        for name, command in commands.items():
            print_imports(name, import_times(command, env, scratch), args.top)

if __name__ == "__main__":
    main()
