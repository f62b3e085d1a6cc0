"""The grader end to end on the quick profile: reference, stubs, half-done work, reports, CLI."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.grading import CannotGrade, grade_path
from autograder.results import GradingResult
from autograder.spec import load_spec
from submissions import PROJECT, tree_digest, write_submission

SPEC = load_spec()
TOTAL = sum(q.points for q in SPEC.values())


def points_of(*modules):
    return sum(q.points for q in SPEC.values() if q.module in modules)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("solutions-out")
    return grade_path(PROJECT / "solutions", out), out


def test_reference_solutions_get_full_marks(reference_run):
    result, _ = reference_run
    assert [q.id for q in result.questions if q.points < q.max_points] == []
    assert result.score == result.max_score == TOTAL
    assert not result.grader_errors


def test_results_json_follows_gradescope_format(reference_run):
    result, out = reference_run
    data = json.loads((out / "results.json").read_text())
    assert data["score"] == TOTAL and isinstance(data["execution_time"], (int, float))
    assert len(data["tests"]) == len(SPEC)
    for test, question in zip(data["tests"], SPEC.values()):
        assert set(test) >= {"name", "score", "max_score", "visibility", "output", "status"}
        assert test["name"].startswith(f"{question.module}: ")
        assert test["max_score"] == question.points
        assert test["visibility"] == {"public": "visible", "hidden": "after_published"}[question.visibility]
        assert test["status"] in ("passed", "failed")
    report = (out / "report.md").read_text()
    assert report.startswith(f"# Grading report: {TOTAL:g} / {TOTAL:g}")
    assert "ex1_knn97: test accuracy" in report
    grading = json.loads((out / "grading.json").read_text())
    assert grading["score"] == TOTAL and grading["isolation"]
    assert GradingResult.load(out / "grading.json") == result  # the full model reads back whole


def test_untouched_stubs_score_zero_as_not_implemented(tmp_path):
    before = tree_digest(PROJECT / "assignments")
    result = grade_path(PROJECT / "assignments", tmp_path / "out")
    assert result.score == 0 and result.max_score == TOTAL
    assert {q.status for q in result.questions} == {"not_implemented"}
    assert all("not implemented" in q.feedback for q in result.questions)
    assert tree_digest(PROJECT / "assignments") == before


def test_half_done_submission_gets_exactly_its_part(tmp_path):
    done = ("confusion", "ex2_augmentation", "multilabel")
    folder = write_submission(tmp_path / "half", honest=done)
    for module in {q.module for q in SPEC.values()} - set(done):  # the rest: untouched stubs
        shutil.copy(PROJECT / "assignments" / f"{module}.py", folder)
    result = grade_path(folder, tmp_path / "out")
    assert result.score == points_of(*done)
    for q in result.questions:
        assert (q.points == q.max_points) == (q.module in done), q


def test_missing_modules_score_zero_with_a_reason(tmp_path):
    folder = write_submission(tmp_path / "only-confusion", honest=["confusion"])
    result = grade_path(folder, questions=["confusion", "roc"])
    by_module = {q.module: q for q in result.questions}
    assert by_module["confusion"].points == by_module["confusion"].max_points
    assert by_module["roc"].status == "import_error" and "roc.py is not in the submission" in by_module["roc"].feedback


def test_zip_submission_in_a_folder(tmp_path):
    folder = write_submission(tmp_path / "src", honest=["confusion"])
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"student-1234/{path.name}")
    result = grade_path(archive, questions=["confusion"])
    assert result.score == points_of("confusion")


def _broken_zip(folder):
    path = folder / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return path


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "nowhere", "does not exist"),
    (_broken_zip, "neither a folder nor a .zip"),
])
def test_ungradable_submission_is_a_clear_error(tmp_path, make, message):
    with pytest.raises(CannotGrade, match=message):
        grade_path(make(tmp_path))


def test_unknown_question_is_refused():
    with pytest.raises(ValueError, match="Unknown question"):
        grade_path(PROJECT / "solutions", questions=["confusion.nope"])


def run_cli(*args, cwd=PROJECT):
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_cli_grade_and_check(tmp_path):
    graded = run_cli("grade", "solutions", "--out", str(tmp_path / "out"), "-q", "confusion")
    assert graded.returncode == 0, graded.stderr
    assert "10/10" not in graded.stdout and "Wrote" in graded.stdout
    assert json.loads((tmp_path / "out" / "results.json").read_text())["score"] == points_of("confusion")

    checked = run_cli("check", "assignments", "-q", "confusion")
    assert checked.returncode == 0, checked.stderr
    public = [q for q in SPEC.values() if q.module == "confusion" and q.visibility == "public"]
    hidden = sum(q.points for q in SPEC.values() if q.module == "confusion" and q.visibility == "hidden")
    assert f"public: 0/{len(public)} passed" in checked.stdout
    assert f"{hidden:g} more points depend on hidden tests" in checked.stdout

    missing = run_cli("grade", str(tmp_path / "nothing"), "--out", str(tmp_path / "out2"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_cli_lists_questions():
    listed = run_cli("questions")
    assert listed.returncode == 0 and "ex1_knn97.accuracy" in listed.stdout


#: What a check of a question that needs none of them must not import: each costs a cold start a second or more.
HEAVY_LIBRARIES = ("sklearn", "pandas", "scipy", "matplotlib", "django", "dask")

IMPORTED_BY_A_COMMAND = f"""
import json, sys
from autograder.cli import app
code = 0
try:
    app(args=sys.argv[1:], prog_name="ch3-grader")
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"exit": code, "imported": [m for m in {HEAVY_LIBRARIES!r} if m in sys.modules]}}))
"""

def test_a_check_imports_only_what_its_questions_use(tmp_path):
    """The start-up follows the work: checking ``confusion`` (numpy only) imports no scikit-learn, pandas,
    SciPy, Matplotlib, Django or Dask in the grading process; nor does a grade of its hidden tests, whose
    scikit-learn answers on fixed inputs are shipped reference figures; computing those imports it."""
    def imported(*args, **environment):
        done = subprocess.run([sys.executable, "-c", IMPORTED_BY_A_COMMAND, *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "CH3_CACHE_DIR": str(tmp_path / "cache"), **environment})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    checked = imported("check", str(PROJECT / "solutions"), "-q", "confusion", "--out", "check-out")
    assert checked == {"exit": 0, "imported": []}
    graded = imported("grade", str(PROJECT / "solutions"), "-q", "confusion", "--out", "grade-out")
    assert graded == {"exit": 0, "imported": []}
    computed = imported("grade", str(PROJECT / "solutions"), "-q", "confusion", "--out", "computed-out",
                        CH3_REFERENCE_FIGURES="compute")
    assert computed["exit"] == 0 and "sklearn" in computed["imported"]
    scores = [json.loads((tmp_path / out / "results.json").read_text())["score"] for out in ("grade-out", "computed-out")]
    assert scores[0] == scores[1] > 0
