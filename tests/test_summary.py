"""The class dashboard on a class of 24: three graded for real, the rest varied from them, in the bulk layout."""

import copy
import csv
import dataclasses
import json
import random
import shutil
import subprocess
import sys

import pytest

from autograder.grading import grade_path, write_reports
from autograder.bulk.summary import load_batch, rebuild_reports, write_summary
from browser import CHROMIUM, render
from submissions import PROJECT, write_submission

QUESTIONS = ["confusion", "ex3_titanic"]
SIMILARITY = PROJECT / "tests" / "fixtures" / "similarity"
#: Fixture students whose code is planted copies of each other (see tests/test_similarity.py).
COPIES = {frozenset({"alice", "bob"}), frozenset({"carol", "frank"})}
N_SYNTHETIC = 21


def _vary(result, rng: random.Random, student: int):
    """A plausible other student: figures, points, statuses and failed sub-checks varied."""
    result = copy.deepcopy(result)
    result.submission = f"student{student:02d}"
    result.seconds = round(rng.uniform(5, 40), 2)
    for q in result.questions:
        q.seconds = round(rng.uniform(0.05, 3.0), 3)
        band = q.measurements.get("band")
        if band:
            band["value"] = band["zero_at"] + rng.uniform(-0.3, 1.3) * (band["full_at"] - band["zero_at"])
            fraction = min(max((band["value"] - band["zero_at"]) / (band["full_at"] - band["zero_at"]), 0), 1)
            q.points = round(q.max_points * fraction, 4)
        checks = q.measurements.get("checks")
        if checks:
            for c in checks:
                # "case 0: precision" fails for about half the class: the hardest check
                hard = c["name"] == "case 0: precision" and rng.random() < 0.5
                if hard or rng.random() < 0.05:
                    c["passed"], c["name"] = False, f"{c['name']} (student {student} raised ZeroDivisionError)"
            q.points = round(q.max_points * sum(c["passed"] for c in checks) / len(checks), 4)
        q.status = "passed" if q.points >= q.max_points else ("partial" if q.points > 0 else "failed")
    if student % 7 == 3:  # a few timeouts and import errors
        q = result.questions[-1]
        q.status, q.points, q.measurements = "timeout", 0.0, {}
    if student % 10 == 5:
        for q in result.questions:
            if q.module == "ex3_titanic":
                q.status, q.points, q.measurements = "import_error", 0.0, {}
    return result


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """DIR/batch.json + DIR/students/<id>/{grading.json, reports, submission/*.py}, as bulk grading writes it."""
    root = tmp_path_factory.mktemp("class")
    blob = "QUJD" * 200   # an 800-character base64 literal: carried data, flagged for the staff
    half = write_submission(root / "src-half", honest=["confusion"], files={"ex3_titanic.py": "import nope\n",
                                                                          "helpers.py": f"BLOB = {blob!r}\n"})
    real = {"reference": PROJECT / "solutions", "stubs": PROJECT / "assignments", "half": half}
    out = root / "DIR"
    entries, results = [], {}
    for sid, source in real.items():
        results[sid] = grade_path(source, out / "students" / sid, questions=QUESTIONS)
    rng = random.Random(0)
    fixtures = sorted(p.name for p in SIMILARITY.iterdir() if p.is_dir())
    for i in range(N_SYNTHETIC):
        sid = fixtures[i] if i < len(fixtures) else f"student{i:02d}"
        results[sid] = _vary(results["reference"], rng, i)
        write_reports(results[sid], out / "students" / sid)
    for sid in results:
        submission = out / "students" / sid / "submission"
        submission.mkdir(exist_ok=True)
        source = SIMILARITY / sid if (SIMILARITY / sid).is_dir() else real.get(sid)
        for module in QUESTIONS:
            if source is not None and (source / f"{module}.py").is_file():
                shutil.copy(source / f"{module}.py", submission)
        entries.append({"id": sid, "name": sid.title(), "email": f"{sid}@example.org", "source": str(source),
                        "status": "graded", "error": None})
    entries.append({"id": "zed", "name": "Zed", "email": None, "source": "zed.zip", "status": "cannot_grade",
                    "error": "zed.zip is not a readable .zip archive"})
    (out / "batch.json").write_text(json.dumps({"entries": entries}))
    write_summary(out)
    return out, results


def test_data_carried_in_code_is_listed_for_the_staff_only(batch):
    out, results = batch
    assert [flag["kind"] for flag in results["half"].data_flags] == ["encoded literal"]
    section = (out / "summary.html").read_text().split('id="data-flags"', 1)[1].split("<h2", 1)[0]
    assert "helpers.py, line 1" in section and "encoded literal" in section and ">half<" in section
    assert "reference" not in section   # honest code has no flag
    staff = (out / "students" / "half" / "feedback-staff.html").read_text()
    assert 'id="data-flags"' in staff and "helpers.py, line 1" in staff
    for name in ("feedback.html", "report.md", "results.json"):
        assert "helpers.py, line 1" not in (out / "students" / "half" / name).read_text(), name


@pytest.mark.slow
def test_summary_csv_has_every_question_with_its_class_figures(batch):
    out, results = batch
    assert len(results) >= 20
    rows = list(csv.DictReader(open(out / "summary.csv", encoding="utf-8")))
    ids = [q.id for q in results["reference"].questions]
    assert [r["question"] for r in rows] == ids
    for row in rows:
        points = [q.points for r in results.values() for q in r.questions if q.id == row["question"]]
        maximum = float(row["max_points"])
        assert int(row["graded"]) == len(results)
        assert float(row["mean_points"]) == pytest.approx(sum(points) / len(points), abs=1e-3)
        assert float(row["pass_rate"]) == pytest.approx(sum(p >= maximum for p in points) / len(points), abs=1e-3)


@pytest.mark.slow
def test_summary_html_names_statuses_hardest_check_and_flagged_pairs(batch):
    out, results = batch
    page = (out / "summary.html").read_text()
    timeouts = sum(q.status == "timeout" for r in results.values() for q in r.questions)
    import_errors = sum(q.status == "import_error" for r in results.values() for q in r.questions)
    assert timeouts and import_errors
    assert f"<td>timeout</td><td class=\"num\">{timeouts}</td>" in page
    assert f"<td>import error</td><td class=\"num\">{import_errors}</td>" in page
    assert "zed.zip is not a readable .zip archive" in page  # a submission that could not be graded
    hardest = page.split("<h2>Hardest checks</h2>", 1)[1]
    assert hardest.index("case 0: precision") < hardest.index("</tr>", hardest.index("<tbody>"))
    flagged = page.split("<h2>Similar submissions</h2>", 1)[1].split("<h2>", 1)[0]
    pairs = {frozenset(p) for p in _flagged_pairs(flagged)}
    assert pairs == COPIES
    assert flagged.count("<span class=hl>") > 10  # the side-by-side view highlights the shared code
    for title in ("Score distribution", "Grading time per question", "Measured figures against their bands"):
        assert title in page
    assert page.count('<img src="data:image/png;base64,') >= 3


def _flagged_pairs(section):
    import re

    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>", body)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_summary_renders_and_sorts_in_chromium(batch, tmp_path):
    out, results = batch
    lowest = min(results, key=lambda sid: (results[sid].score, sid))
    click = """var table = document.getElementById("students-table");
      var th = Array.from(table.tHead.rows[0].cells).find(function (c) { return c.textContent === "score"; });
      th.click(); var extra = table.tBodies[0].rows[0].cells[2].textContent;"""
    page = render(out / "summary.html", extra_js=click, screenshot=tmp_path / "summary.png")
    assert page["images"] >= 3 and page["broken"] == 0 and page["errors"] == 0 and page["console"] == []
    assert page["extra"] == f"{round(results[lowest].score, 2):g} / {results[lowest].max_score:g}"


@pytest.mark.slow
def test_report_command_rebuilds_every_report_without_running_anything(batch, tmp_path):
    out, _ = batch
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)
    staff = {p: p.read_bytes() for p in folder.glob("students/*/grading.json")}
    for pattern in ("students/*/feedback.html", "students/*/report.md", "students/*/results.json", "summary.*"):
        for path in folder.glob(pattern):
            path.unlink()
    run = subprocess.run([sys.executable, "-m", "autograder", "report", str(folder), "--no-similarity"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for sid in staff:
        for name in ("feedback.html", "report.md", "results.json"):
            assert (sid.parent / name).is_file()
    assert {p: p.read_bytes() for p in staff} == staff  # staff figures untouched
    assert (folder / "summary.html").is_file() and (folder / "summary.csv").is_file()
    single = folder / "students" / "reference"
    (single / "feedback.html").unlink()
    assert rebuild_reports(single) == [single] and (single / "feedback.html").is_file()


def test_report_command_says_why_a_folder_cannot_be_rebuilt(tmp_path):
    from typer.testing import CliRunner

    from autograder.cli import app

    run = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert run.exit_code == 2 and "holds no grading.json" in run.output.replace("\n", " ")


def test_load_batch_lists_students_without_batch_json(tmp_path):
    from autograder.results import GradingResult, QuestionResult

    result = GradingResult("s", "quick", "none", [QuestionResult("m.a", "m: a", "hidden", 1, 1, "passed")])
    write_reports(result, tmp_path / "students" / "s1")
    entries, results = load_batch(tmp_path)
    assert [e["id"] for e in entries] == ["s1"] and results["s1"] == result
    assert dataclasses.asdict(results["s1"]) == dataclasses.asdict(result)
