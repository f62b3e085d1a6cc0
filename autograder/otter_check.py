"""The test cases of the Otter assignment: they run in Otter's kernel, next to the student's notebook code.

Every test case of the generated Otter assignment (``autograder.build.otter``) is one call of
:func:`otter_check`. It grades the *saved* notebook being checked (the one ``.ipynb`` in the
working directory: where Jupyter runs a student's notebook, and where ``otter run`` and
Gradescope put the submission) with the sandboxed grader, the same conversion and graders as
``grade``, and sets the Otter test file's score to the grader's points, so partial credit is
``grade``'s.

This module ships in the student bundle (``autograder/build/`` does not: it reads the
solutions), so ``grader.check`` works with nothing but the bundle installed. Where the hidden
graders are absent (a student's machine) only the public questions are graded, like ``check``.

What Otter's model still allows: Otter executes the whole notebook in the kernel that then runs
these test cases, so the notebook can replace :func:`otter_check` before it runs, and it can
read whatever the grading environment holds (the installed package: hidden graders and
reference solutions). Only the part of grading done here, importing the notebook's definitions
and running the graders, is sandboxed.
"""

from __future__ import annotations

import inspect
from pathlib import Path

_graded: dict = {}


def _notebook_path(name: str | None) -> Path:
    """The one notebook in the working directory, or the assignment's (``name``) among several."""
    notebooks = sorted(Path.cwd().glob("*.ipynb"))
    if len(notebooks) == 1:
        return notebooks[0]
    if name is not None and (Path.cwd() / name).is_file():
        return Path.cwd() / name
    raise AssertionError(f"expected the notebook being graded ({name or 'one .ipynb'}) in {Path.cwd()}; found "
                         f"{[p.name for p in notebooks] or 'none'}")


def _visibilities() -> tuple[str, ...]:
    """Public and hidden questions where the hidden graders are installed; public only in a student bundle."""
    from autograder.paths import GRADERS_DIR

    return ("public", "hidden") if (GRADERS_DIR / "hidden").is_dir() else ("public",)


def _otter_test_file():
    """The Otter test file running this test case (its public ``update_score`` sets the file's points)."""
    from otter.test_files.abstract_test import TestFile

    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, TestFile):
            return candidate
        frame = frame.f_back
    return None


def otter_check(question: str, modules=(), notebook: str | None = None) -> None:
    """An Otter test case: grade the saved notebook with the sandboxed grader, score ``question`` as ``grade`` does.

    Parameters
    ----------
    question : str
        The question id (``questions.toml``), e.g. ``"confusion.public_example"``.
    modules : sequence of str
        The assignment's modules, graded together once per saved version of the notebook
        (default: the question's module).
    notebook : str, optional
        The assignment notebook's file name, graded when the working directory holds several.

    Raises
    ------
    AssertionError
        Otter's "failed": the question has less than full marks (the message says why), or the
        notebook to grade cannot be told (several notebooks, none named ``notebook``). The Otter
        test file's score is set to the sum of the grader's points for its questions, partial
        credit included.
    """
    from autograder.grading import grade
    from autograder.intake import prepare
    from autograder.options import GradingOptions, Isolation

    path = _notebook_path(notebook)
    modules = tuple(modules) or (question.split(".", 1)[0],)
    visibilities = _visibilities()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, modules, visibilities)
    if key not in _graded:
        # The sandbox where it starts; otherwise resource limits only, as `check` does: Otter has
        # already run the whole notebook unsandboxed in this kernel, so this exposes nothing more.
        options = GradingOptions(questions=modules, visibilities=visibilities, isolation=Isolation.ALLOW_WEAK)
        result = grade(prepare(path), options, source=str(path.resolve()))
        _graded[key] = {q.id: q for q in result.questions}
    outcome = _graded[key].get(question)
    if outcome is None:
        raise AssertionError(f"{question} was not graded (visibilities here: {', '.join(visibilities)})")
    test_file = _otter_test_file()
    if test_file is not None:
        scored = getattr(test_file, "_ch3_points", {})
        scored[question] = outcome.points
        test_file._ch3_points = scored
        test_file.update_score(round(sum(scored.values()), 4))
    if outcome.points < outcome.max_points:
        raise AssertionError(f"{outcome.points:g}/{outcome.max_points:g} points ({outcome.status}): "
                             f"{outcome.feedback}")
