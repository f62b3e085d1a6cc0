"""The grading pipeline: the one call every frontend makes.

    intake.prepare(path)        a folder, .zip, notebook or scripts -> PreparedSubmission   (autograder.intake)
    GradingOptions(...)         how to grade, validated once                             (autograder.options)
    grade(prepared, options)    -> GradingResult: pytest + GradingPlugin over graders/public (+ hidden),
                                 in a private work folder the sandbox reads
    render(result, audience)    -> {file name: text}: results.json (Gradescope), report.md, feedback.html,
                                 grading.json (the full model), and for the staff their feedback page
    write_reports               render's files into a folder

``grade``, ``check``, the warm grader, ``grade-all`` (local and Dask), ``notebook_check``,
``otter_check``, the Gradescope runner and the course server are frontends over these: they build
the two values, call ``grade`` and render for their audience. ``grade_path`` chains it all for
scripts and tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from autograder.intake import PreparedSubmission, prepare
from autograder.intake.notebooks import translate_result
from autograder.lock import lock_record
from autograder.options import GradingOptions, isolation_mode
from autograder.paths import GRADERS_DIR
from autograder.plugin import GradingPlugin
from autograder.reporters import to_gradescope, to_markdown
from autograder.results import CannotGrade, GradingResult, QuestionResult
from autograder.worker.sandbox import SandboxUnavailable

__all__ = ["AUDIENCES", "CannotGrade", "grade", "grade_path", "render", "write_reports"]

#: Who reads the rendered files: ``student`` (what each question's ``disclosure`` allows, plus the full
#: grading.json for the record) or ``staff`` (the same, and the staff feedback page with everything).
AUDIENCES = ("student", "staff")


def grade(prepared: PreparedSubmission, options: GradingOptions, *, source: str = "",
          on_result: Callable[[QuestionResult], None] | None = None) -> GradingResult:
    """Grade one prepared submission under ``options``.

    Parameters
    ----------
    prepared : PreparedSubmission
        The submission's module files and what reading them found (:func:`autograder.intake.prepare`).
    options : GradingOptions
        How to grade: the questions, the data, the limits, the isolation policy.
    source : str
        What the result calls the submission (its path, an upload's name).
    on_result : callable, optional
        Called with each question's result as it is graded (progress bars, streaming).

    Returns
    -------
    GradingResult

    Raises
    ------
    CannotGrade
        The sandbox cannot start under the options' isolation policy, or the graders could not run.
    """
    try:
        mode = isolation_mode(options.isolation)
    except SandboxUnavailable as exc:
        raise CannotGrade(str(exc)) from None
    workdir = Path(tempfile.mkdtemp(prefix="ch3-grade-"))
    try:
        result = _run_graders(prepared.materialize(workdir), options, mode, source, on_result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop("PYTEST_CURRENT_TEST", None)
    _apply_findings(result, prepared)
    return result


def grade_path(source: Path, out_dir: Path | None = None, **options) -> GradingResult:
    """Prepare, grade and (with ``out_dir``) write the reports of the submission at ``source``;
    ``options``: :class:`GradingOptions`' fields (``on_result`` too)."""
    on_result = options.pop("on_result", None)
    source = Path(source)
    result = grade(prepare(source), GradingOptions(**options), source=str(source.resolve()), on_result=on_result)
    if out_dir is not None:
        write_reports(result, Path(out_dir), render(result))
    return result


def _run_graders(submission_dir: Path, options: GradingOptions, isolation: str, source: str,
                 on_result) -> GradingResult:
    try:
        plugin = GradingPlugin(submission_dir, profile=options.profile, visibilities=options.visibilities,
                               questions=options.questions, data_dir=options.data_dir, isolation=isolation,
                               limits=dict(options.limits), on_result=on_result)
    except SandboxUnavailable as exc:
        raise CannotGrade(str(exc)) from None
    folders = [str(GRADERS_DIR / v) for v in options.visibilities if (GRADERS_DIR / v).is_dir()]
    args = [*folders, "-c", str(GRADERS_DIR / "pytest.ini"), "--rootdir", str(GRADERS_DIR),
            "--confcutdir", str(GRADERS_DIR), "-p", "no:cacheprovider", "-q", "--tb=short", "--assert=plain"]
    log = io.StringIO()
    with contextlib.redirect_stdout(log), _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin])
    if code == pytest.ExitCode.INTERRUPTED:
        plugin.student.close()
        raise CannotGrade("interrupted (Ctrl-C) before every question was graded; no report was written")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        plugin.student.close()
        raise CannotGrade(f"the graders could not run (pytest exit code {int(code)}):\n{log.getvalue()[-3000:]}")
    result = plugin.result(source)
    result.environment = lock_record()
    return result


def _apply_findings(result: GradingResult, prepared: PreparedSubmission) -> None:
    """What reading the submission found goes into its result: the notes, the data flags (a figure no
    honest answer reaches, on flagged code, waits for staff), and a notebook's cells for module lines."""
    from autograder.policy import apply_review
    from autograder.spec import load_spec

    result.notes[:0] = list(prepared.notes)
    result.data_flags = list(prepared.data_flags)
    apply_review(result, load_spec())
    translate_result(result, prepared.line_map)


@contextlib.contextmanager
def _no_plugin_autoload():
    """The graders need only our plugin: installed pytest plugins (hypothesis, ...) cost a second each run."""
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = before


# ----------------------------------------------------------------- stage 3: report

def render(result: GradingResult, audience: str = "student") -> dict[str, str]:
    """The report files for ``audience`` (one of :data:`AUDIENCES`), name -> text. Student files show
    what each question's ``disclosure`` allows; grading.json keeps everything (staff), and so does
    the staff feedback page (``staff``: a bulk student's folder, which only the staff reads).

    Plain strings, so that ``grade-all`` renders them in the grader process that graded the
    submission (the feedback pages' plots are most of the cost) and the batch only writes them."""
    from autograder.disclosure import for_students
    from autograder.reporters.html import STAFF_PAGE, to_html

    if audience not in AUDIENCES:
        raise ValueError(f"The 'audience' parameter must be one of {AUDIENCES}. Got {audience!r} instead.")
    students = for_students(result)
    reports = {"results.json": json.dumps(to_gradescope(for_students(result, keep_points=True)), indent=2),
               "report.md": to_markdown(students),
               "feedback.html": to_html(students),
               "grading.json": json.dumps(result.to_dict(), indent=2)}
    if audience == "staff":
        reports[STAFF_PAGE] = to_html(result, staff=True)
    return reports


def write_reports(result: GradingResult, out_dir: Path, rendered: dict[str, str] | None = None, *,
                  audience: str = "student") -> None:
    """Write :func:`render`'s files into ``out_dir`` (``rendered``: already rendered ones)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (rendered or render(result, audience)).items():
        (out_dir / name).write_text(text, encoding="utf-8")
