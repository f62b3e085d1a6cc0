"""feedback.html and summary.html as people read them: checked in headless Chromium.

Three submissions are graded for real on a few fast questions: a complete one (the reference
solution), a partial one (learners' common mistakes from ``tests/fixtures/fairness/mistakes_*``)
and a broken one (modules that do not import, or stubs). A class of twelve is built from them in
the bulk layout. The tests check the structure the pages promise: the score and a "fix these first"
list before any question, passed questions collapsed, failed ones open, the staff view marked, and
on the class page the students table first, filterable, each row linking to both pages.
"""

import copy
import json
import random
import shutil

import pytest

from autograder.grading import grade_path, write_reports
from autograder.reporters.html import band_sentence, fix_first, gauge, question_view, to_html
from autograder.bulk.summary import hardest_checks, write_summary
from autograder.results import GradingResult, QuestionResult
from browser import CHROMIUM, render
from submissions import PROJECT, write_submission

FAIRNESS = PROJECT / "tests" / "fixtures" / "fairness"
QUESTIONS = ["confusion", "error_analysis.normalize", "tradeoff.threshold", "roc.points", "ex2_augmentation.shift",
             "ex2_augmentation.augment", "cross_validation.manual", "multiclass.svc"]
CLASS_SIZE = 12
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def _partial_source(root):
    folder = root / "src-partial"
    folder.mkdir()
    for fixture in ("concepts_common_bugs", "mistakes_second_edition"):
        for path in (FAIRNESS / fixture).glob("*.py"):
            shutil.copy(path, folder)
    shutil.copy(FAIRNESS / "mistakes_exercises" / "ex2_augmentation.py", folder)
    shutil.copy(PROJECT / "solutions" / "multiclass.py", folder)
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """{"complete" | "partial" | "broken": (result, folder of its reports)} plus a class of twelve."""
    root = tmp_path_factory.mktemp("pages")
    broken = write_submission(root / "src-broken", files={
        "confusion.py": "import numpy as np\nfrom .nowhere import x\n", "tradeoff.py": "def threshold_for_precision(\n",
        "ex2_augmentation.py": "import time\n\ndef shift_image(image, dx, dy):\n    raise ValueError('todo')\n"})
    sources = {"complete": PROJECT / "solutions", "partial": _partial_source(root), "broken": broken}
    out = root / "DIR"
    results = {sid: grade_path(source, out / "students" / sid, questions=QUESTIONS) for sid, source in sources.items()}
    rng = random.Random(3)
    for i in range(CLASS_SIZE - len(sources)):
        base = results[rng.choice(list(sources))]
        varied = copy.deepcopy(base)
        varied.submission = f"student{i:02d}"
        for q in varied.questions:
            if q.points >= q.max_points and rng.random() < 0.15:  # lose a question now and then
                q.points, q.status = round(q.max_points / 2, 4), "partial"
        results[varied.submission] = varied
        write_reports(varied, out / "students" / varied.submission)
    (out / "batch.json").write_text(json.dumps({"entries": [
        {"id": sid, "name": sid.title(), "status": "graded"} for sid in results]}))
    write_summary(out, similarity=False)
    return results, out


# ------------------------------------------------------------------ the student's page, without a browser

def test_fix_first_lists_questions_below_full_marks_worst_first(graded):
    results, _ = graded
    views = [question_view(q, i) for i, q in enumerate(results["partial"].questions, 1)]
    listed = fix_first(views)
    assert listed and all(v["q"].points < v["q"].max_points for v in listed)
    lost = [v["q"].max_points - v["q"].points for v in listed]
    assert lost == sorted(lost, reverse=True)
    assert {v["q"].id for v in listed} == {q.id for q in results["partial"].questions if q.points < q.max_points}
    assert fix_first([question_view(q, i) for i, q in enumerate(results["complete"].questions, 1)]) == []


def test_each_band_figure_is_stated_once_and_in_words(graded):
    results, out = graded
    svc = next(q for q in results["complete"].questions if q.id == "multiclass.svc")
    band = svc.measurements["band"]
    view = question_view(svc, 1)
    assert f"{band['metric']} {band['value']:.4f}" not in view["feedback"]  # the gauge and its sentence say it
    sentence = band_sentence(band)
    assert sentence.startswith(f"Full marks from {band['full_at']:.4f} (about ")
    assert "standard errors below the reference solution's" in sentence and "Yours: " in sentence


def test_gauge_labels_do_not_overlap():
    """Each label on its own row or pushed to its own side of a close pair of lines."""
    for full_at, zero_at, value in ((0.97, 0.965, 0.9), (0.9, 0.5, 0.95), (0.878, 0.803, 0.113)):
        g = gauge({"metric": "accuracy", "value": value, "full_at": full_at, "zero_at": zero_at, "reference": 0.98,
                   "se": 0.01})
        rows = {}
        for label in g["labels"]:
            width = 7.5 * len(label["text"])  # 13 px type: about 7.5 px a character
            left = {"start": label["x"], "end": label["x"] - width}.get(label["anchor"], label["x"] - width / 2)
            rows.setdefault(label["y"], []).append((left, left + width))
        for spans in rows.values():
            spans.sort()
            assert all(a[1] <= b[0] + 1 for a, b in zip(spans, spans[1:])), spans
        assert g["width"] >= 600 and all(0 <= label["x"] <= g["width"] for label in g["labels"])


def test_staff_view_is_marked_and_the_student_view_is_not(graded):
    results, _ = graded
    student, staff = to_html(results["partial"]), to_html(results["partial"], staff=True)
    assert 'id="staff-view"' in staff and "STAFF VIEW" in staff
    assert "STAFF VIEW" not in student


def test_hardest_checks_count_only_submissions_that_attempted_them():
    def result(name, checks):
        q = QuestionResult("ex2_augmentation.shift", "shift", "hidden", 0, 4, "failed",
                           measurements={"checks": checks})
        return GradingResult(name, "quick", "strong", [q])

    stub = [{"name": f"dx={i}", "passed": False, "reason": "not_implemented"} for i in range(6)]
    tried = [{"name": "dx=1", "passed": False, "reason": None, "detail": "called ...; got ...; first at row 4"},
             {"name": "dx=2", "passed": True, "reason": None}]
    rows = hardest_checks({"a": result("a", stub), "b": result("b", stub), "c": result("c", tried)})
    assert [(r["check"], r["failed"], r["of"]) for r in rows] == [("dx=1", 1, 1)]
    assert rows[0]["example"].startswith("called")


# ------------------------------------------------------------------ in headless Chromium

FEEDBACK_JS = """
var sections = Array.from(document.querySelectorAll("details.question"));
var fix = document.getElementById("fix-first"), first = sections[0];
var fixFirst = fix && first && (fix.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING) ? 1 : 0;
var openPassed = sections.filter(function (s) { return s.dataset.status === "passed" && s.open; }).length;
var closedFailing = sections.filter(function (s) { return ["passed", "withheld", "not_run"].indexOf(s.dataset.status) < 0 && !s.open; }).length;
var links = Array.from(document.querySelectorAll("#fix-first a")).filter(function (a) {
  return document.getElementById(a.getAttribute("href").slice(1)); }).length;
var extra = [fixFirst, sections.length, openPassed, closedFailing, document.querySelectorAll("#fix-first li").length,
             links, document.getElementById("staff-view") ? 1 : 0, document.body.scrollHeight].join(",");
"""


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("who", ["complete", "partial", "broken"])
def test_feedback_page_in_chromium(graded, who, tmp_path):
    results, out = graded
    shot = tmp_path / f"feedback-{who}.png"
    page = render(out / "students" / who / "feedback.html", extra_js=FEEDBACK_JS, screenshot=shot, height=2400)
    assert page["broken"] == 0 and page["errors"] == 0 and page["console"] == []
    fix_before, sections, open_passed, closed_failing, listed, linked, staff, height = map(int, page["extra"].split(","))
    below = sum(q.points < q.max_points for q in results[who].questions)
    assert fix_before == 1 and sections == len(results[who].questions)
    assert open_passed == 0 and closed_failing == 0           # passed collapsed, problems open
    assert listed == linked == below                          # one link per question to fix, each to its section
    assert staff == 0
    if who == "complete":
        assert below == 0 and height < 2500                   # collapsed: the whole page fits about two screens
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
@needs_chromium
def test_staff_page_in_chromium_is_marked(graded, tmp_path):
    _, out = graded
    page = render(out / "students" / "partial" / "feedback-staff.html", extra_js=FEEDBACK_JS,
                  screenshot=tmp_path / "staff.png")
    assert page["console"] == [] and page["extra"].split(",")[6] == "1"


SUMMARY_JS = """
var firstTable = document.querySelector("table"), firstHeading = document.querySelector("h2");
var rows = Array.from(document.querySelectorAll("#students-table tbody tr"));
var status = document.getElementById("filter-status");
status.value = "below full marks"; status.dispatchEvent(new Event("change"));
var below = rows.filter(function (r) { return !r.hidden; }).length;
status.value = ""; status.dispatchEvent(new Event("change"));
var question = document.getElementById("filter-question");
question.value = "ex2_augmentation.shift"; question.dispatchEvent(new Event("change"));
var lostShift = rows.filter(function (r) { return !r.hidden; }).length;
var linked = rows.filter(function (r) {
  return r.querySelector("a[href$='/feedback.html']") && r.querySelector("a[href$='/feedback-staff.html']"); }).length;
var extra = [firstTable.id, firstHeading.id, rows.length, below, lostShift, linked].join(",");
"""


@pytest.mark.slow
@needs_chromium
def test_summary_page_in_chromium_puts_students_first(graded, tmp_path):
    results, out = graded
    page = render(out / "summary.html", extra_js=SUMMARY_JS, screenshot=tmp_path / "summary.png")
    assert page["broken"] == 0 and page["errors"] == 0 and page["console"] == []
    table, heading, rows, below, lost_shift, linked = page["extra"].split(",")
    assert (table, heading) == ("students-table", "students")
    assert int(rows) == int(linked) == len(results) >= 10
    assert int(below) == sum(any(q.points < q.max_points for q in r.questions) and not any(
        q.status in ("timeout", "crashed", "import_error", "error") for q in r.questions) for r in results.values())
    assert int(lost_shift) == sum(any(q.id == "ex2_augmentation.shift" and q.points < q.max_points
                                      for q in r.questions) for r in results.values())


def test_partial_submission_problems_column_counts_partial_questions(graded):
    _, out = graded
    page = (out / "summary.html").read_text()
    row = page[page.index('<tr data-status="below full marks"'):]
    row = row[:row.index("</tr>")]
    assert 'data-lost=" ' in row and row.split('data-lost=" ', 1)[1].split(" ")[0]  # names a question
