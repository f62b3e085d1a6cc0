"""How fast workers start: the old way (a fresh interpreter per module) against the zygote, in one run.

    python benchmarks/bench_workers.py                     # worker start-up figures only (~1 min)
    python benchmarks/bench_workers.py --grade             # + check / grade wall times of the reference
    python benchmarks/bench_workers.py --grade --baseline /path/to/old/checkout/.venv/bin/python

Prints one line per measurement: ours, the baseline's (same run, same machine), the ratio.
Compare ratios, not seconds: the figures are wall-clock on whatever else the machine runs.

- worker start + first call: today's way (``python -I -m autograder.worker.entry`` in a fresh
  sandbox, importing scikit-learn) against a child forked from the submission's zygote;
- the sandbox's own start cost: bubblewrap with the allowlist view against the old
  whole-root-read-only view (``true``, and ``python -I -c 'import sklearn'``);
- with ``--grade``: ``check solutions``, a quick ``grade solutions`` and ``grade -q confusion``,
  each as a fresh ``python -m autograder`` process, against ``--baseline``'s interpreter if given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.intake import prepare
from autograder.paths import SOLUTIONS_DIR
from autograder.judge.client import Submission
from autograder.spec import load_spec
from autograder.worker import sandbox

LIMITS = load_spec()["confusion.public_example"].limits
IMPORT_HEAVY = "import sklearn.neighbors, sklearn.linear_model, sklearn.model_selection, pandas, matplotlib.pyplot"


def median_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name: str, ours: float, baseline: float) -> None:
    print(f"{name:<58} ours {ours:8.3f} s   baseline {baseline:8.3f} s   ratio {baseline / ours:6.2f}x", flush=True)


def old_view(submission: Path, inner: list[str], uid) -> list[str]:
    """The view before the allowlist: the whole root read-only, with a few known paths masked."""
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
           "--perms", "1777", "--tmpfs", "/dev/shm", "--ro-bind", str(submission), "/tmp/submission",
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if uid is not None:
        for blocked in ("/root",):
            cmd += ["--tmpfs", blocked, "--ro-bind", f"{blocked}/.pyenv", f"{blocked}/.pyenv"] if Path(
                f"{blocked}/.pyenv").is_dir() else []
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + inner


def bench_sandbox_start(submission: Path, uid, repeat: int) -> None:
    env = sandbox.worker_environment(LIMITS.threads, "/tmp")
    python = [sys.executable, "-I", "-c"]
    for label, inner in (("sandbox start: `true`", ["true"]),
                         ("sandbox start: python importing sklearn", python + [IMPORT_HEAVY])):
        new = median_time(lambda: subprocess.run(sandbox.sandbox_command(submission, inner, uid), env=env,
                                                 check=True, cwd="/"), repeat)
        old = median_time(lambda: subprocess.run(old_view(submission, inner, uid), env=env, check=True, cwd="/"),
                          repeat)
        report(f"{label} (allowlist vs old view)", new, old)


def bench_worker_start(submission: Path, uid, repeat: int) -> None:
    """Worker start + the first call into a module that imports scikit-learn."""
    def old_way():
        cmd = old_view(submission, [sys.executable, "-I", "-c",
                                    "import sys; sys.path.insert(0, '/tmp/submission'); import heavy; "
                                    "print(heavy.answer())"], uid)
        subprocess.run(cmd, env=sandbox.worker_environment(LIMITS.threads, "/tmp"), check=True, cwd="/",
                       stdout=subprocess.DEVNULL)

    student = Submission(submission, isolation="bwrap")
    student.start_question(LIMITS)
    zygote_start = median_time(lambda: student.module("heavy").answer(), 1)  # starts the sandbox

    def new_way():
        student.restart("heavy")
        student.module("heavy").answer()

    new = median_time(new_way, repeat)
    old = median_time(old_way, repeat)
    student.close()
    report("worker start + first call (zygote child vs fresh python)", new, old)
    print(f"{'  (first call: sandbox + zygote + child, once per submission)':<58} {zygote_start:8.3f} s", flush=True)


def bench_commands(python: str, baseline: str | None, out: Path, repeat: int) -> None:
    runs = [("check solutions", ["check", str(SOLUTIONS_DIR)]),
            ("grade solutions (quick profile)", ["grade", str(SOLUTIONS_DIR), "--out", str(out / "g")]),
            ("grade -q confusion (cold process)", ["grade", str(SOLUTIONS_DIR), "-q", "confusion",
                                                   "--out", str(out / "c")])]
    for label, args in runs:
        def run(exe):
            return lambda: subprocess.run([exe, "-m", "autograder", *args], cwd=out, check=False,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = median_time(run(python), repeat)
        if baseline:
            report(label, ours, median_time(run(baseline), repeat))
        else:
            print(f"{label:<58} ours {ours:8.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per start-up figure (median)")
    parser.add_argument("--grade", action="store_true", help="also time check/grade of the reference")
    parser.add_argument("--baseline", help="python of an older checkout to time the same commands with")
    args = parser.parse_args()
    if not sandbox.bwrap_works():
        sys.exit("needs bubblewrap (apt-get install bubblewrap)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures taken under this load)")
    root = Path(tempfile.mkdtemp(prefix="ch3-bench-"))
    root.chmod(0o755)
    source = root / "src"
    source.mkdir()
    (source / "heavy.py").write_text("from sklearn.neighbors import KNeighborsClassifier\n\n"
                                     "def answer():\n    return KNeighborsClassifier().n_neighbors\n")
    submission = prepare(source).materialize(root / "work")
    slot = sandbox.UidSlot() if os.geteuid() == 0 else None
    uid = slot.uid if slot else None
    try:
        bench_sandbox_start(submission, uid, args.repeat)
        bench_worker_start(submission, uid, args.repeat)
        if args.grade:
            bench_commands(sys.executable, args.baseline, root, args.repeat)
    finally:
        if slot:
            slot.release()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
