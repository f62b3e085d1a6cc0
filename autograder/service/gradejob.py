"""One grading, in a child process of the dispatcher: the pipeline (``autograder.grading.grade``)
under the :class:`~autograder.options.GradingOptions` the dispatcher built for the submission
(hidden grading, or the public tests only for a check).

    python -m autograder.service.gradejob UPLOAD OUT --options JSON [--name FILE] [--spec questions.toml]
    python -m autograder.service.gradejob --serve --parent PID      (a warm grading process)

Writes OUT/results.json, report.md, feedback.html and grading.json; exits 0 when graded, 2 when
the submission cannot be graded (the reason in OUT/error.txt), 3 when the grader itself failed.
While it grades, every question's result, as the student may see it (``questions.toml``'s
disclosure), is appended to OUT/progress.jsonl as soon as it is known. ``--spec`` grades with
that copy of ``questions.toml`` (the data folder's). The process dies with its parent (a
dispatcher killed with -9 leaves no grader running).

``--serve`` is the warm form, a grader process as ``grade-all`` has: it imports the grader and
starts its sandbox once, then reads one job a line on its standard input (``{"argv": [...],
"log": PATH}``) and grades it exactly as the cold command would (its output to ``log``),
answering ``{"pid": ...}`` when it starts and ``{"exit": ...}`` when it ends. Student code runs
only in the sandbox, which is kept from submission to submission and reset between them as in
``grade-all`` (:func:`autograder.judge.client.keep_sandboxes`: every process of the last
submission killed, its files gone, new workers from a zygote checked unchanged), so nothing a
submission changes outlives it. A grading the dispatcher must stop ends the warm process, and
its sandbox with it.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

CANNOT_GRADE, GRADER_FAILED = 2, 3
PROGRESS_FILE = "progress.jsonl"


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def student_question(question) -> dict:
    """One question's result as its owner may read it (the disclosure of the current questions.toml)."""
    from autograder.disclosure import for_students
    from autograder.results import GradingResult

    view = for_students(GradingResult(submission="", profile="", isolation="", questions=[question]))
    return dataclasses.asdict(view.questions[0])


def grade_upload(upload: Path, out: Path, options: dict, *, name: str | None = None, spec: str | None = None) -> int:
    """Grade ``upload`` into ``out`` (the reports, progress.jsonl, error.txt) under ``options``
    (:class:`~autograder.options.GradingOptions` as a dict); returns the exit code."""
    from autograder.spec import SPEC_ENV

    if spec:
        os.environ[SPEC_ENV] = str(spec)
    os.environ.setdefault("MPLBACKEND", "Agg")
    from autograder.grading import CannotGrade, grade, render, write_reports
    from autograder.intake import prepare
    from autograder.options import GradingOptions, isolation_mode
    from autograder.worker.sandbox import SandboxUnavailable

    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ch3-job-"))
    try:
        # the upload under its own name: intake reads notebooks by suffix, and a notebook
        # named after a module is that module
        name = Path(name or "").name
        source = workdir / (name if name.endswith(upload.suffix) else "submission" + upload.suffix)
        shutil.copyfile(upload, source)
        progress = open(out / PROGRESS_FILE, "a", encoding="utf-8")

        def on_result(question) -> None:
            progress.write(json.dumps(student_question(question)) + "\n")
            progress.flush()

        try:
            chosen = GradingOptions.from_dict(options)
            isolation_mode(chosen.isolation)  # no sandbox is the grading machine's failure, not the upload's
            result = grade(prepare(source), chosen, source=str(source), on_result=on_result)
            write_reports(result, out, render(result))
        except SandboxUnavailable as exc:
            (out / "error.txt").write_text(f"no sandbox on the grading machine: {exc}")
            return GRADER_FAILED
        except (CannotGrade, ValueError) as exc:
            (out / "error.txt").write_text(str(exc).replace(str(source), "the submission"))
            return CANNOT_GRADE
        finally:
            progress.close()
        return GRADER_FAILED if result.needs_regrade else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder.service.gradejob")
    parser.add_argument("upload", type=Path, nargs="?")
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--options", default="{}", help="the GradingOptions, as JSON")
    parser.add_argument("--name", help="the upload's file name (a notebook's name can name its module)")
    parser.add_argument("--spec", help="the copy of questions.toml to grade with")
    parser.add_argument("--parent", type=int)
    parser.add_argument("--serve", action="store_true", help="a warm grading process (jobs on standard input)")
    return parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.parent:
        _die_with_parent(args.parent)
    if args.serve:
        return serve()
    if args.upload is None or args.out is None:
        parser().error("UPLOAD and OUT are needed")
    return grade_upload(args.upload, args.out, json.loads(args.options), name=args.name, spec=args.spec)


# ------------------------------------------------------------------ the warm form

def warm_up() -> None:
    """Import what every grading imports (pytest, scikit-learn, the grader, the report renderer)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    import autograder.grading  # noqa: F401
    import autograder.intake.notebooks  # noqa: F401
    import autograder.plugin  # noqa: F401
    import autograder.reporters.html  # noqa: F401
    from autograder.disclosure import for_students  # noqa: F401


def serve() -> int:
    """Read jobs from standard input until it closes; grade each in this process (see the module's doc)."""
    from autograder.bulk.grader_process import keep_sandboxes

    warm_up()
    keep_sandboxes()
    jobs, answers = os.fdopen(os.dup(0), "r"), os.fdopen(os.dup(1), "w", buffering=1)
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # stray output never reaches the protocol; a job's goes to its log
        os.dup2(quiet, fd)
    sys.stdin = open(os.devnull)
    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in jobs:
        order = json.loads(line)
        answers.write(json.dumps({"pid": os.getpid()}) + "\n")
        answers.write(json.dumps({"exit": _grade_logged(order["argv"], order["log"], quiet)}) + "\n")
    return 0


def _grade_logged(argv: list[str], log: str, quiet: int) -> int:
    """One job's exit code, its output (and any failure of the grader's) written to ``log``; the
    environment it changed (its copy of questions.toml) is put back after it."""
    code, environment = GRADER_FAILED, dict(os.environ)
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    try:
        code = main(argv)
    except SystemExit as exc:  # bad arguments: argparse's exit
        code = exc.code if isinstance(exc.code, int) else CANNOT_GRADE
    except Exception as exc:  # noqa: BLE001 (the dispatcher must get an exit status)
        print(f"the grader failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        os.environ.clear()
        os.environ.update(environment)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
    return code


if __name__ == "__main__":
    sys.exit(main())
