"""The Otter assignment: `otter assign` runs, and `otter run` (no Docker) scores what `grade` scores.

One assignment (confusion and mnist: 3 public and hidden questions, 14 points) is built per
session; each `otter run` executes a notebook in a real kernel, so these tests are slow.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("otter", reason="needs the otter extra: pip install -e '.[otter]'")

from autograder.build.notebooks import reference_sources, split_docstring
from autograder.build.otter import build_otter
from autograder.grading import grade
from autograder.spec import load_spec

MODULES = ("confusion", "mnist")
POINTS = sum(q.points for q in load_spec().values() if q.module in MODULES)


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    return build_otter(tmp_path_factory.mktemp("otter"), modules=MODULES)


def otter_run(assignment, notebook, tmp_path):
    out = Path(tempfile.mkdtemp(prefix="otter-out-", dir=tmp_path))
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(assignment.autograder_zip), "-o", str(out),
                           str(notebook)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    return sum(t.get("score", 0) for t in results["tests"])


def with_answers(assignment, tmp_path, name, answers: dict):
    """The Otter student notebook with some answer cells replaced (module -> code), saved alone in a folder."""
    nb = nbformat.read(assignment.student, 4)
    sections, current = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            current = next((m for m in MODULES if f"## `{m}`" in cell.source), current)
        elif current and "def " in cell.source:
            sections.setdefault(current, cell)  # the first code cell of a section: the answer cell
    for module, code in answers.items():
        sections[module].source = code
    folder = tmp_path / name
    folder.mkdir()
    nbformat.write(nb, folder / "chapter3.ipynb")
    return folder / "chapter3.ipynb"


@pytest.mark.slow
def test_otter_assign_leaves_the_student_notebook_and_autograder_zip(assignment):
    student = nbformat.read(assignment.student, 4)
    text = "\n".join(c.source for c in student.cells)
    assert "raise NotImplementedError" in text and "# BEGIN SOLUTION" not in text
    assert "def binary_confusion_matrix" in text and "np.bincount" not in text  # the stub, not the solution
    assert assignment.autograder_zip.is_file()


@pytest.mark.slow
def test_otter_run_scores_what_grade_scores(assignment, tmp_path):
    reference = assignment.master.parent.parent / "dist" / "autograder" / "chapter3.ipynb"
    assert otter_run(assignment, reference, tmp_path) == POINTS
    assert otter_run(assignment, assignment.student, tmp_path) == 0

    # Half done, with partial credit inside: confusion answered with a wrong f1, mnist untouched.
    code = split_docstring(reference_sources()["confusion"])[1]
    wrong_f1 = code + "\n\ndef f1(y_true, y_pred):\n    return precision(y_true, y_pred)\n"
    half = with_answers(assignment, tmp_path, "half", {"confusion": wrong_f1})
    graded = grade(half, questions=list(MODULES))
    assert 0 < graded.score < POINTS - 4  # partial credit on confusion, nothing on mnist
    assert otter_run(assignment, half, tmp_path) == pytest.approx(graded.score, abs=1e-9)


@pytest.mark.slow
def test_one_line_monkeypatch_gets_full_marks_under_otter_but_not_under_grade(assignment, tmp_path):
    nb = nbformat.read(assignment.student, 4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(  # before the notebook's grader.check cells run the tests
        "import autograder.build.otter as o; o.otter_check = lambda *args: None"))
    folder = tmp_path / "patched"
    folder.mkdir()
    nbformat.write(nb, folder / "chapter3.ipynb")
    assert otter_run(assignment, folder / "chapter3.ipynb", tmp_path) == POINTS  # Otter's model: the kernel decides
    assert grade(folder / "chapter3.ipynb", questions=list(MODULES)).score == 0  # the sandbox: the stubs score 0
