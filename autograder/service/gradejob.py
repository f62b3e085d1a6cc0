"""One grading, in a child process of the dispatcher: ``autograder.grading.grade`` with the options
``python -m autograder grade`` uses (hidden grading) or the public tests only (``--check``).

    python -m autograder.service.gradejob UPLOAD OUT --kind grade|check [--name FILE] [--profile quick]
                                          [-q Q ...] [--timeout S] [--allow-weak-sandbox]

Writes OUT/results.json, report.md, feedback.html and grading.json; exits 0 when graded, 2 when
the submission cannot be graded (the reason in OUT/error.txt), 3 when the grader itself failed.
The process dies with its parent (a dispatcher killed with -9 leaves no grader running).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

CANNOT_GRADE, GRADER_FAILED = 2, 3


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="autograder.service.gradejob")
    parser.add_argument("upload", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--kind", choices=("grade", "check"), default="grade")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("-q", "--question", action="append", default=[])
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--allow-weak-sandbox", action="store_true")
    parser.add_argument("--name", help="the upload's file name (a notebook's name can name its module)")
    parser.add_argument("--parent", type=int)
    args = parser.parse_args(argv)
    if args.parent:
        _die_with_parent(args.parent)
    os.environ.setdefault("MPLBACKEND", "Agg")

    from autograder.grading import CannotGrade, grade
    from autograder.worker.sandbox import SandboxUnavailable, choose_isolation

    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ch3-job-"))
    try:
        # the upload under its own name: prepare_submission reads notebooks by suffix, and a notebook
        # named after a module is that module
        name = Path(args.name or "").name
        source = workdir / (name if name.endswith(args.upload.suffix) else "submission" + args.upload.suffix)
        shutil.copyfile(args.upload, source)
        try:
            isolation = choose_isolation(allow_weak=args.allow_weak_sandbox)
            visibilities = ("public",) if args.kind == "check" else ("public", "hidden")
            profile = "quick" if args.kind == "check" else args.profile
            result = grade(source, args.out, profile=profile, data_dir=None, questions=args.question,
                           visibilities=visibilities, isolation=isolation,
                           limits={"timeout": args.timeout} if args.timeout else None)
        except SandboxUnavailable as exc:
            (args.out / "error.txt").write_text(f"no sandbox on the grading machine: {exc}")
            return GRADER_FAILED
        except (CannotGrade, ValueError) as exc:
            (args.out / "error.txt").write_text(str(exc).replace(str(source), "the submission"))
            return CANNOT_GRADE
        return GRADER_FAILED if result.needs_regrade else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
