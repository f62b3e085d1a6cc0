"""An Otter Grader assignment from the same declarations, whose tests call the toolkit's own checks.

``build_otter(out)`` writes ``out/master/chapter3.ipynb`` in otter-assign's format (one Otter
question per module: the stub, the reference solution in ``# BEGIN SOLUTION NO PROMPT``,
one exception-based test case per question of ``questions.toml`` with its points and
visibility) and runs ``otter assign``, which leaves ``out/dist/student/chapter3.ipynb``
and ``out/dist/autograder/autograder.zip``.

Each test case calls :func:`otter_check`, which grades the notebook being graded (the one
``.ipynb`` in the working directory, which is where ``otter run`` and Gradescope put the
submission) with the sandboxed grader, the same conversion and graders as ``grade``, and
sets the Otter test file's score to the grader's points, so partial credit is the same
as ``grade``'s.  What this cannot fix: Otter first executes the whole notebook in the
kernel that then runs the tests, so a notebook can replace the tests' functions before
they run (see the README's "Otter users" section).
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autograder.build.notebooks import KERNEL, reference_sources, split_docstring, stub_sources
from autograder.contract import CONTRACT
from autograder.notebooks import METADATA_KEY
from autograder.spec import load_spec, select

NAME = "chapter3"


@dataclass
class OtterAssignment:
    master: Path
    student: Path
    autograder_zip: Path
    modules: tuple[str, ...]


def _config() -> str:
    config = {"name": NAME, "run_tests": False, "init_cell": True, "check_all_cell": False, "export_cell": False,
              "generate": True, "tests": {"ok_format": False, "files": False}}
    return "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def _test_cell(question, modules) -> str:
    config = {"points": question.points, "hidden": question.visibility == "hidden"}
    function = f"test_{question.id.replace('.', '__')}"
    return (f'""" # BEGIN TEST CONFIG\n{yaml.safe_dump(config, sort_keys=False)}""" # END TEST CONFIG\n'
            f"def {function}(env):\n"
            f"    from autograder.build.otter import otter_check\n"
            f"    otter_check({question.id!r}, {tuple(modules)!r})\n")


def master_notebook(modules) -> nbformat.NotebookNode:
    """The otter-assign master notebook for ``modules``."""
    stubs, references = stub_sources(), reference_sources()
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_raw_cell(_config()),
                new_markdown_cell("# Chapter 3: Classification (Otter)\n\nFill in each section's code cell. Save "
                                  "the notebook before `grader.check(...)`: the checks grade the saved file, with "
                                  "the same sandboxed grader as `python -m autograder grade`.")]
    for module in modules:
        doc, stub = split_docstring(stubs[module])
        _, solution = split_docstring(references[module])
        title, _, body = doc.partition("\n")
        questions = select(load_spec(), chosen=[module])
        header = {"name": module}
        nb.cells += [
            new_raw_cell("# BEGIN QUESTION\n" + yaml.safe_dump(header, sort_keys=False)),
            new_markdown_cell(f"## `{module}`: {title}\n\n{body.strip()}".rstrip(),
                              metadata={METADATA_KEY: {"module": module}}),
            new_raw_cell("# BEGIN SOLUTION"),  # the student sees the stub; Otter's reference runs both
            new_code_cell(f"{stub}\n\n# BEGIN SOLUTION NO PROMPT\n{solution}\n# END SOLUTION"),
            new_raw_cell("# END SOLUTION"),
            new_raw_cell("# BEGIN TESTS"),
            *[new_code_cell(_test_cell(q, modules)) for q in questions],
            new_raw_cell("# END TESTS"),
            new_raw_cell("# END QUESTION"),
        ]
    return nb


def build_otter(out_dir: Path, modules=()) -> OtterAssignment:
    """Write the master notebook and run ``otter assign``.

    Parameters
    ----------
    out_dir : Path
    modules : sequence of str
        The modules (Otter questions) to include; default: all of them.
    """
    modules = tuple(modules) or tuple(CONTRACT)
    unknown = [m for m in modules if m not in CONTRACT]
    if unknown:
        raise ValueError(f"The 'modules' parameter must name modules of {sorted(CONTRACT)}. Got {unknown}.")
    out_dir = Path(out_dir).resolve()
    master = out_dir / "master" / f"{NAME}.ipynb"
    master.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(master_notebook(modules), master)
    dist = out_dir / "dist"
    done = subprocess.run([sys.executable, "-m", "otter", "assign", "-v", str(master), str(dist)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    zips = sorted((dist / "autograder").glob(f"{NAME}-autograder_*.zip"))  # otter stamps the name with the time
    if len(zips) != 1:
        raise RuntimeError(f"otter assign left {len(zips)} autograder zips in {dist / 'autograder'}")
    archive = zips[0].rename(dist / "autograder" / "autograder.zip")
    return OtterAssignment(master, dist / "student" / f"{NAME}.ipynb", archive, modules)


# ------------------------------------------------------- in Otter's kernel

_graded: dict = {}


def _notebook_path() -> Path:
    notebooks = sorted(Path.cwd().glob("*.ipynb"))
    if len(notebooks) != 1:
        raise AssertionError(f"expected the one notebook being graded in {Path.cwd()}; found "
                             f"{[p.name for p in notebooks] or 'none'}")
    return notebooks[0]


def _otter_test_file():
    """The Otter test file running this test case (its ``update_score`` sets the file's points)."""
    from otter.test_files.abstract_test import TestFile

    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, TestFile):
            return candidate
        frame = frame.f_back
    return None


def otter_check(question: str, modules=()) -> None:
    """An Otter test case: grade the saved notebook with the sandboxed grader, score ``question`` as ``grade`` does.

    Every question of ``modules`` (the assignment's, default: the question's module) is graded
    once per saved version of the notebook and cached.  Raises AssertionError (Otter's
    "failed") unless the question has full marks; the Otter test file's score is set to the
    sum of the grader's points for its questions, partial credit included.
    """
    from autograder.grading import grade

    notebook = _notebook_path()
    modules = tuple(modules) or (question.split(".", 1)[0],)
    stat = notebook.stat()
    key = (str(notebook.resolve()), stat.st_mtime_ns, stat.st_size, modules)
    if key not in _graded:
        result = grade(notebook, None, questions=list(modules), visibilities=("public", "hidden"))
        _graded[key] = {q.id: q for q in result.questions}
    outcome = _graded[key].get(question)
    if outcome is None:
        raise AssertionError(f"{question} was not graded")
    test_file = _otter_test_file()
    if test_file is not None:
        scored = getattr(test_file, "_ch3_points", {})
        scored[question] = outcome.points
        test_file._ch3_points = scored
        test_file.update_score(round(sum(scored.values()), 4))
    if outcome.points < outcome.max_points:
        raise AssertionError(f"{outcome.points:g}/{outcome.max_points:g} points ({outcome.status}): "
                             f"{outcome.feedback}")
