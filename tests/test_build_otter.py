"""The Otter assignment: `otter assign` runs, its autograder.zip installs this project, and `otter run` in an
environment built only from the zip's own requirements scores what `grade` scores; the student notebook's
`grader.check` works with nothing but the student bundle installed.

One assignment (confusion and mnist: 3 public and hidden questions, 14 points) is built per session; each
`otter run` executes a notebook in a real kernel, and the zip's environment is a fresh venv installed by pip
(this project from the wheel inside the zip, third-party packages from the index), so these tests are slow.
"""

import json
import os
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

pytest.importorskip("otter", reason="needs the otter extra: pip install -e '.[otter]'")

from autograder.build.notebooks import reference_sources, split_docstring
from autograder.build.otter import build_otter
from autograder.build.student import build_student
from autograder.grading import grade_path
from autograder.spec import load_spec
from build_helpers import fresh_venv
from submissions import PROJECT

MODULES = ("confusion", "mnist")
POINTS = sum(q.points for q in load_spec().values() if q.module in MODULES)
PUBLIC_POINTS = {m: sum(q.points for q in load_spec().values() if q.module == m and q.visibility == "public")
                 for m in MODULES}


def clean_env(**extra) -> dict:
    """This environment without the project's own settings (CH3_*) or a PYTHONPATH that could reach the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CH3_") and k != "PYTHONPATH"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    return build_otter(tmp_path_factory.mktemp("otter"), modules=MODULES)


@pytest.fixture(scope="module")
def zip_python(assignment, tmp_path_factory):
    """A fresh venv (no system or parent site-packages) holding exactly the zip's own requirements.

    Otter's setup.sh creates its environment from the zip's ``environment.yml`` in the unpacked zip;
    this does the same with pip: the pip list, installed from the unpacked zip's folder.
    """
    root = tmp_path_factory.mktemp("zip-env")
    source = root / "source"
    with zipfile.ZipFile(assignment.autograder_zip) as zf:
        zf.extractall(source)
    environment = yaml.safe_load((source / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in dependencies
    requirements = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    # conda writes the pip list to a requirements file beside environment.yml and runs pip -r on it
    (source / "requirements-from-environment.txt").write_text("\n".join(requirements) + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", "-r",
                           "requirements-from-environment.txt"], cwd=source,
                          env=clean_env(), capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import autograder; print(autograder.__file__)"], cwd=root,
                           env=clean_env(), capture_output=True, text=True, check=True).stdout
    assert str(root / "venv") in where  # the zip's wheel, not this checkout
    return python


def otter_run(python, assignment, notebook, tmp_path):
    out = Path(tempfile.mkdtemp(prefix="otter-out-", dir=tmp_path))
    done = subprocess.run([str(python), "-m", "otter", "run", "-a", str(assignment.autograder_zip), "-o", str(out),
                           str(notebook)], cwd=out, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert "No module named" not in json.dumps(results), results
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


def reference_code(module: str) -> str:
    return split_docstring(reference_sources()[module])[1]


def test_build_otter_without_otter_grader_names_the_extra(tmp_path):
    # An `otter` that cannot be imported, as in an environment without the otter extra.
    blocked = tmp_path / "blocked" / "otter"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError(\"No module named 'otter'\")\n")
    done = subprocess.run([sys.executable, "-m", "autograder", "build", "otter", "--out", str(tmp_path / "out")],
                          cwd=PROJECT, env=clean_env(PYTHONPATH=str(blocked.parent)), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    message = " ".join(done.stderr.split())
    assert '.[otter]' in message and "Traceback" not in done.stderr  # names the extra to install
    assert not (tmp_path / "out").exists()


def test_otter_check_grades_the_assignment_notebook_among_several(tmp_path, monkeypatch):
    from autograder.otter_check import _notebook_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert _notebook_path("chapter3.ipynb") == tmp_path / "scratch.ipynb"  # the only one, whatever its name
    (tmp_path / "notes.ipynb").write_text("{}")
    with pytest.raises(AssertionError, match="chapter3.ipynb"):
        _notebook_path("chapter3.ipynb")  # several, none of them the assignment's
    (tmp_path / "chapter3.ipynb").write_text("{}")
    assert _notebook_path("chapter3.ipynb") == tmp_path / "chapter3.ipynb"
    with pytest.raises(AssertionError, match="scratch.ipynb"):
        _notebook_path(None)


@pytest.mark.slow
def test_otter_assign_leaves_the_student_notebook_and_an_autograder_zip_that_installs_the_project(assignment):
    student = nbformat.read(assignment.student, 4)
    text = "\n".join(c.source for c in student.cells)
    assert "raise NotImplementedError" in text and "# BEGIN SOLUTION" not in text
    assert "def binary_confusion_matrix" in text and "np.bincount" not in text  # the stub, not the solution
    with zipfile.ZipFile(assignment.autograder_zip) as zf:
        names = zf.namelist()
        environment = yaml.safe_load(zf.read("environment.yml"))
    wheels = [n for n in names if n.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("files/"), names
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert f"./{wheels[0]}" in pip and any(r.startswith("otter-grader") for r in pip), pip
    assert "-c ./files/dist/constraints.txt" in pip and "files/dist/constraints.txt" in names, pip  # the lock
    student_files = [p.relative_to(assignment.student.parent).as_posix()
                     for p in assignment.student.parent.rglob("*") if p.is_file()]
    assert not [n for n in student_files if n.endswith(".whl")], student_files  # the wheel holds the hidden graders


@pytest.mark.slow
def test_otter_run_in_the_zips_own_environment_scores_what_grade_scores(assignment, zip_python, tmp_path):
    reference = assignment.master.parent.parent / "dist" / "autograder" / "chapter3.ipynb"
    assert otter_run(zip_python, assignment, reference, tmp_path) == POINTS
    assert otter_run(zip_python, assignment, assignment.student, tmp_path) == 0

    # Half done, with partial credit inside: confusion answered with a wrong f1, mnist untouched.
    wrong_f1 = reference_code("confusion") + "\n\ndef f1(y_true, y_pred):\n    return precision(y_true, y_pred)\n"
    half = with_answers(assignment, tmp_path, "half", {"confusion": wrong_f1})
    graded = grade_path(half, questions=list(MODULES))
    assert 0 < graded.score < POINTS - 4  # partial credit on confusion, nothing on mnist
    assert otter_run(zip_python, assignment, half, tmp_path) == pytest.approx(graded.score, abs=1e-9)


@pytest.mark.slow
def test_one_line_monkeypatch_gets_full_marks_under_otter_but_not_under_grade(assignment, zip_python, tmp_path):
    nb = nbformat.read(assignment.student, 4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(  # before the notebook's grader.check cells run the tests
        "import autograder.otter_check as o; o.otter_check = lambda *args, **kwargs: None"))
    folder = tmp_path / "patched"
    folder.mkdir()
    nbformat.write(nb, folder / "chapter3.ipynb")
    assert otter_run(zip_python, assignment, folder / "chapter3.ipynb", tmp_path) == POINTS  # the kernel decides
    assert grade_path(folder / "chapter3.ipynb", questions=list(MODULES)).score == 0  # the sandbox: the stubs score 0


CHECK_SCRIPT = """
import json, otter
grader = otter.Notebook("chapter3.ipynb")
results = {q: grader.check(q) for q in QUESTIONS}
print("RESULTS " + json.dumps({q: [r.score, r.possible] for q, r in results.items()}))
"""


@pytest.mark.slow
def test_student_notebook_grader_check_works_with_only_the_student_bundle(assignment, tmp_path):
    bundle = build_student(tmp_path / "ch3-student", make_zip=False)
    python = fresh_venv(tmp_path / "venv")  # third-party packages (otter-grader among them) from this environment
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(bundle / "package")], check=True,
                   cwd=tmp_path, env=clean_env())
    where = subprocess.run([str(python), "-c", "import autograder; print(autograder.__file__)"], cwd=tmp_path,
                           env=clean_env(), capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "venv") in where  # the bundle's package (no build/, no hidden graders), not the project's

    def check(notebook):
        script = CHECK_SCRIPT.replace("QUESTIONS", repr(MODULES))
        done = subprocess.run([str(python), "-c", script], cwd=notebook.parent, env=clean_env(), capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULTS "))
        return {q: tuple(v) for q, v in json.loads(line.removeprefix("RESULTS ")).items()}

    answered = with_answers(assignment, tmp_path, "answered", {"confusion": reference_code("confusion")})
    assert check(answered) == {"confusion": (PUBLIC_POINTS["confusion"], PUBLIC_POINTS["confusion"]),
                               "mnist": (0, PUBLIC_POINTS["mnist"])}
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "chapter3.ipynb").write_bytes(assignment.student.read_bytes())
    assert check(stub / "chapter3.ipynb") == {m: (0, PUBLIC_POINTS[m]) for m in MODULES}
