"""grade-all on a class of 22 mixed submissions: every output, the cache, the LMS layouts, rescoring.

The class is graded once per module on the quick profile with a small question selection
(``-q confusion``, a 3 s time limit so the infinite loop ends quickly).
"""

import csv
import dataclasses
import json
import shutil
import subprocess
import sys
import time

import pytest

from autograder.bulk import rescore_batch, runner
from autograder.bulk.batch import grade_all
from autograder.grading import grade_path
from autograder.results import GradingResult
from autograder.spec import Band, load_spec
from class_fixture import ROSTER_ASSIGNMENT, build_class, students, write_roster

STUDENTS = students()
BY_KEY = {s.key: s for s in STUDENTS}
QUESTIONS = ("confusion",)
TIMEOUT = 6  # seconds: ends the infinite loop quickly, yet leaves numpy time to import on a loaded machine
CONFUSION_POINTS = sum(q.points for q in load_spec().values() if q.module == "confusion")


def grade_all_cli(*args, check=True):
    done = subprocess.run([sys.executable, "-m", "autograder", "grade-all", *map(str, args)],
                          capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    build_class(root / "folder", "folder")
    out = root / "out"
    started = time.perf_counter()
    done = grade_all_cli(root / "folder", "--out", out, "-q", "confusion", "--timeout", TIMEOUT,
                         "--workers", 2, "--quiet")
    return root, out, done, time.perf_counter() - started


def manifest_of(out):
    return {e["id"]: e for e in json.loads((out / "batch.json").read_text())["entries"]}


def test_every_submission_gets_a_row_and_the_right_outcome(class_run):
    root, out, done, _ = class_run
    entries = manifest_of(out)
    assert set(entries) == set(BY_KEY)
    for key, entry in entries.items():
        expect = BY_KEY[key].expect
        if expect != "either":
            assert entry["status"] == expect, (key, entry["error"])
        if entry["status"] != "graded":
            assert entry["error"], key  # a row saying why
    score = {k: e["score"] for k, e in entries.items()}
    assert all(score[f"correct_{i}"] == CONFUSION_POINTS for i in range(1, 6))
    assert score["correct_zip"] == score["prints_megabytes"] == CONFUSION_POINTS
    assert 0 < score["partial_precision"] < CONFUSION_POINTS
    assert score["partial_stub"] == score["all_stubs"] == score["syntax_error"] == score["import_error"] == 0
    assert entries["infinite_loop"]["timeouts"] > 0 and score["infinite_loop"] == 0
    # --quiet: one line per submission, on stderr with the progress
    assert sum(line.startswith(tuple(f"{k}:" for k in BY_KEY)) for line in done.stderr.splitlines()) == len(BY_KEY)
    assert "Could not grade" in done.stdout and "The 5 lowest" in done.stdout


def test_per_student_outputs(class_run):
    _, out, _, _ = class_run
    for key, entry in manifest_of(out).items():
        folder = out / "students" / key
        assert json.loads((folder / "entry.json").read_text())["id"] == key
        assert (folder / "log.txt").read_text()
        if entry["status"] != "graded":
            assert not (folder / "grading.json").exists()
            continue
        result = GradingResult.load(out / entry["result"])
        assert result.score == entry["score"]
        assert json.loads((folder / "results.json").read_text())["score"] == entry["score"]
        assert (folder / "report.md").read_text().startswith("# Grading report")
        assert (folder / "feedback.html").is_file()  # grading.write_reports writes it
        assert (folder / "submission" / "confusion.py").is_file() or key == "missing_files"
    log = (out / "students" / "prints_megabytes" / "log.txt").read_text()
    assert "-- output --" in log and len(log) < 200_000  # the 4 MB were capped by the sandbox
    assert "timeout" in (out / "students" / "infinite_loop" / "log.txt").read_text()
    assert (out / "summary.html").is_file() and (out / "summary.csv").is_file()  # reporters.summary, at the end


def test_grades_csv_opens_cleanly(class_run):
    _, out, _, _ = class_run
    raw = (out / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads accents right
    with open(out / "grades.csv", newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    entries = manifest_of(out)
    assert len(rows) == len(entries)
    for row in rows:
        entry = entries[row["id"]]
        assert row["status"] == entry["status"]
        if entry["score"] is None:  # not graded (cannot_grade, grader_error): no number, never 0
            assert row["total"] == row["percent"] == "" and row["error"]
            continue
        assert float(row["total"]) == entry["score"]
        if entry["status"] == "graded":
            parts = sum(float(row[q]) for q in ("confusion.public_example", "confusion.hidden_inputs",
                                                "confusion.validation"))
            assert parts == pytest.approx(float(row["total"])) and float(row["seconds"]) > 0


@pytest.mark.parametrize("key", ["partial_precision", "infinite_loop"])
def test_totals_equal_grading_one_by_one(class_run, key):
    root, out, _, _ = class_run
    alone = grade_path(root / "folder" / key, questions=QUESTIONS, limits={"timeout": TIMEOUT})
    stored = GradingResult.load(out / "students" / key / "grading.json")
    assert [(q.id, q.points, q.status) for q in stored.questions] == [(q.id, q.points, q.status) for q in alone.questions]


def test_regrading_an_unchanged_class_reuses_every_result(class_run):
    root, out, _, _ = class_run
    before = {k: (out / "students" / k / "grading.json").stat().st_mtime_ns
              for k, e in manifest_of(out).items() if e["status"] == "graded"}
    # How long a regrade of an unchanged class takes is a benchmark's figure (benchmarks/bench_bulk.py);
    # here: nothing is graded again and no student's record is rewritten.
    done = grade_all_cli(root / "folder", "--out", out, "-q", "confusion", "--timeout", TIMEOUT, "--quiet")
    assert f"{len(BY_KEY)} submissions: 0 to grade" in done.stderr
    after = manifest_of(out)
    assert all(after[k]["cached"] for k in before)
    assert {k: (out / "students" / k / "grading.json").stat().st_mtime_ns for k in before} == before


@pytest.mark.parametrize("layout", ["gradescope", "canvas"])
def test_lms_layouts_with_a_roster_give_the_same_grades(class_run, layout, tmp_path):
    """Seeded with the folder run's cache: the same files give the same keys, so nothing is run again."""
    root, out, _, _ = class_run
    build_class(tmp_path / layout, layout)
    roster = write_roster(tmp_path / "roster.csv", STUDENTS)
    batch = tmp_path / "out"
    shutil.copytree(out / "cache", batch / "cache")
    done = grade_all_cli(tmp_path / layout, "--out", batch, "-q", "confusion", "--timeout", TIMEOUT, "--quiet",
                         "--roster", roster, "--partial-export")
    assert "0 to grade" in done.stderr
    assert "canvas_import.csv" in done.stdout and "summary.html" in done.stdout  # the final message names them
    folder_scores = manifest_of(out)
    entries = manifest_of(batch)
    for s in STUDENTS:
        entry = entries[s.sid]  # the roster's SIS user id
        assert entry["name"].endswith(s.name.split(" ", 1)[0]) and entry["email"] == f"{s.key}@example.edu"
        assert (entry["status"], entry["score"]) == (folder_scores[s.key]["status"], folder_scores[s.key]["score"]) \
            or s.expect != "graded"
        assert json.loads((batch / "students" / s.sid / "results.json").read_text())["score"] == entry["score"] \
            if entry["status"] == "graded" else True
    with open(batch / "canvas_import.csv", newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ROSTER_ASSIGNMENT]
    assert rows[1][0].strip() == "Points Possible" and float(rows[1][5]) == CONFUSION_POINTS
    imported = {r[1]: r[5] for r in rows[2:]}
    assert imported[BY_KEY["correct_1"].canvas_id] == f"{CONFUSION_POINTS:g}"
    assert imported[BY_KEY["empty_folder"].canvas_id] == ""  # no grade: Canvas keeps what it has


def test_rescore_cli_with_unchanged_questions_keeps_every_total(class_run, tmp_path):
    _, out, _, _ = class_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    done = subprocess.run([sys.executable, "-m", "autograder", "rescore", str(copy)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {k: e["score"] for k, e in manifest_of(copy).items()} == {k: e["score"] for k, e in manifest_of(out).items()}


# ------------------------------------------------------------------------- rescore

@pytest.fixture(scope="module")
def band_run(tmp_path_factory):
    """Three submissions graded on a checks question and a band question (default time limits)."""
    root = tmp_path_factory.mktemp("band")
    classroom = root / "class"
    build_class(root / "all", "folder")
    classroom.mkdir()
    for key in ("correct_1", "partial_precision", "all_stubs"):
        shutil.move(root / "all" / key, classroom / key)
    outcome = grade_all(classroom, root / "out", workers=2, questions=("confusion.hidden_inputs",
                                                                       "binary_classifier.sgd"))
    return root / "out", outcome


def test_rescore_applies_new_points_and_bands_without_running_student_code(band_run, monkeypatch, tmp_path):
    out, outcome = band_run
    batch = tmp_path / "out"
    shutil.copytree(out, batch)

    def no_grading(*args, **kwargs):
        raise AssertionError("rescore started a grader")
    monkeypatch.setattr(runner, "start_local_pool", no_grading)
    monkeypatch.setattr(runner, "grade_job", no_grading)
    monkeypatch.setattr("autograder.grading.grade", no_grading)
    monkeypatch.setattr("autograder.judge.client.Submission.__init__", no_grading)

    spec = dict(load_spec())
    spec["confusion.hidden_inputs"] = dataclasses.replace(spec["confusion.hidden_inputs"], points=12.0)
    sgd = spec["binary_classifier.sgd"]
    strict = Band(full_at=1.2, zero_at=0.8)  # a threshold no agreement can reach in full
    spec["binary_classifier.sgd"] = dataclasses.replace(sgd, bands={**sgd.bands, "quick": strict})
    rescore_batch(batch, spec=spec)

    before = {k: r for k, r in outcome.results.items()}
    entries = manifest_of(batch)
    for key, old in before.items():
        new = GradingResult.load(batch / "students" / key / "grading.json")
        old_q, new_q = {q.id: q for q in old.questions}, {q.id: q for q in new.questions}
        checks = old_q["confusion.hidden_inputs"]
        assert new_q["confusion.hidden_inputs"].points == pytest.approx(checks.points * 2)
        assert new_q["confusion.hidden_inputs"].max_points == 12
        band = old_q["binary_classifier.sgd"]
        if band.measurements.get("band"):
            value = band.measurements["band"]["value"]
            assert new_q["binary_classifier.sgd"].points == pytest.approx(round(3 * strict.credit(value), 4))
            assert new_q["binary_classifier.sgd"].status == "partial"
            assert "full marks at >= 1.2000" in new_q["binary_classifier.sgd"].feedback
        else:  # ended without a figure (not implemented, error, timeout): stays 0
            assert new_q["binary_classifier.sgd"].points == band.points == 0
        assert entries[key]["score"] == new.score
        assert json.loads((batch / "students" / key / "results.json").read_text())["score"] == new.score
        assert (batch / "students" / key / "log.txt").read_text() == (out / "students" / key / "log.txt").read_text()
    assert before["correct_1"].score == 3 + 6 and GradingResult.load(
        batch / "students" / "correct_1" / "grading.json").score < 3 + 12  # the stricter band costs points
    stubs = GradingResult.load(batch / "students" / "all_stubs" / "grading.json")
    assert {(q.status, q.points) for q in stubs.questions} == {("not_implemented", 0)}  # what scored 0 stays 0
    with open(batch / "grades.csv", newline="", encoding="utf-8-sig") as fh:
        totals = {r["id"]: float(r["total"]) for r in csv.DictReader(fh)}
    assert totals == {k: e["score"] for k, e in entries.items()}


def test_bulk_reports_what_preparation_found_as_grade_does(tmp_path):
    """A skipped symlink and a notebook's cell numbers reach the bulk results as they reach `grade`'s."""
    from nbformat.v4 import new_code_cell, new_notebook

    import nbformat
    from submissions import write_submission

    class_dir = tmp_path / "class"
    linked = write_submission(class_dir / "linked", honest=["confusion"])
    (linked / "shadow.py").symlink_to("/etc/shadow")
    notebook = new_notebook(cells=[new_code_cell("def precision(y_true, y_pred):\n    return 1 / 0\n"),
                                   new_code_cell("def recall(y_true, y_pred):\n    return 0.5\n")])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(notebook, class_dir / "noted.ipynb")
    grade_all(class_dir, tmp_path / "out", workers=1, questions=["confusion.public_example"])
    for key, source in (("linked", linked), ("noted", class_dir / "noted.ipynb")):
        bulk = GradingResult.load(tmp_path / "out" / "students" / key / "grading.json")
        alone = grade_path(source, questions=["confusion.public_example"])
        assert bulk.notes == alone.notes
        assert [q.feedback for q in bulk.questions] == [q.feedback for q in alone.questions]
    assert any("skipped shadow.py: a symbolic link" in n
               for n in GradingResult.load(tmp_path / "out" / "students" / "linked" / "grading.json").notes)
    noted = GradingResult.load(tmp_path / "out" / "students" / "noted" / "grading.json").questions[0]
    assert "noted.ipynb, cell 1, line 2" in noted.feedback, noted.feedback
