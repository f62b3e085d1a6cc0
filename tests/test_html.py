"""feedback.html: written by grade, self-contained, renders in Chromium; oracle limits in every student file."""

import base64
import copy
import json
import re

import pytest

from autograder.disclosure import for_students, redact_question
from autograder.grading import grade_path, write_reports
from autograder.reporters.html import clean_text, confusion_tables, errors_only_matrix, gauge, to_html
from autograder.results import GradingResult, QuestionResult
from autograder.spec import SpecError, load_spec, parse_spec
from browser import CHROMIUM, render
from submissions import PROJECT

#: Questions whose graders record what the page plots: curves, confusion matrices, digits, subjects.
PLOTTED = ["roc.forest", "multiclass.svc", "ex1_knn97.accuracy", "ex3_titanic.accuracy", "ex4_spam.precision",
           "ex4_spam.recall", "confusion.hidden_inputs"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("feedback")
    return grade_path(PROJECT / "solutions", out, questions=PLOTTED), out


def _question(result, qid):
    return next(q for q in result.questions if q.id == qid)


@pytest.mark.slow
def test_grade_writes_a_self_contained_feedback_page(graded):
    result, out = graded
    page = (out / "feedback.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page                      # the page may load nothing
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # ... and names nothing outside itself
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2  # the curves and the digits
    # Three confusion matrices (SVC, KNN, spam; Titanic's question shows only its band), two tables each.
    assert page.count('<table class="cm">') == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert page.count('<svg class="gauge"') == sum(
        "value" in q.measurements.get("band", {}) for q in for_students(result).questions)
    subjects = _question(result, "ex4_spam.recall").measurements["misclassified_emails"]["subjects"]
    assert subjects and all(clean_text(s) in page.replace("&#39;", "'").replace("&amp;", "&") for s in subjects[:3])
    digits = _question(result, "ex1_knn97.accuracy").measurements["misclassified_digits"]
    assert len(digits["true"]) == 12 and all(t != p for t, p in zip(digits["true"], digits["predicted"]))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_feedback_renders_in_chromium_with_every_image(graded, tmp_path):
    _, out = graded
    shot = tmp_path / "feedback.png"
    page = render(out / "feedback.html", screenshot=shot)
    assert page["images"] == 2 and page["broken"] == 0 and page["errors"] == 0
    assert page["console"] == []  # no script error, no CSP violation, no failed load
    assert shot.stat().st_size > 50_000


def test_student_text_is_escaped_and_stripped_of_control_characters():
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31m\x00red\u202e"
    q = QuestionResult(id="confusion.hidden_inputs", name="confusion: x", visibility="hidden", points=0,
                       max_points=6, status="failed", feedback=hostile, output=hostile,
                       measurements={"checks": [{"name": hostile, "passed": False, "reason": None}]})
    page = to_html(GradingResult("s", "quick", "strong", [q]))
    assert "<script>" not in page and "<img src=x" not in page and "onerror=alert" not in page.replace(
        "onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "[31m" not in page and "\x00" not in page and "\u202e" not in page


def test_gauge_places_zero_full_reference_and_value_in_order():
    g = gauge({"metric": "accuracy", "value": 0.95, "full_at": 0.97, "zero_at": 0.90, "reference": 0.98, "se": 0.005})
    assert g["margin"] <= g["zero"] < g["value"] < g["full"] < g["reference"] <= g["width"] - g["margin"]
    assert g["se_low"] < g["value"] < g["se_high"]
    assert gauge({"metric": "m", "value": float("nan"), "full_at": 1, "zero_at": 0}) is None


def test_confusion_tables_put_true_labels_in_rows_and_give_each_cell_its_counts():
    # Asymmetric on purpose: a transposed table would show 3 of class 0's 10 samples called 1.
    tables = confusion_tables([[10, 0], [3, 7]])
    normalised, errors = tables["panels"]
    assert tables["labels"] == [0, 1]
    assert [[c["text"] for c in row] for row in normalised["rows"]] == [["100%", ""], ["30%", "70%"]]
    assert normalised["rows"][1][0]["title"] == "true 1, predicted 0: 3 of 10 samples"
    assert [[c["text"] for c in row] for row in errors["rows"]] == [["", ""], ["100%", ""]]
    assert errors["rows"][1][0]["title"] == "true 1, predicted 0: 3 of 3 errors"
    darkest = normalised["rows"][0][0]
    assert darkest["fg"] == "#fff" and darkest["bg"] != normalised["rows"][0][1]["bg"]


def test_errors_only_matrix_drops_the_diagonal_and_normalises_rows():
    cm = errors_only_matrix([[50, 2, 2], [0, 40, 0], [3, 1, 30]])
    assert cm.tolist() == [[0, 0.5, 0.5], [0, 0, 0], [0.75, 0.25, 0]]


# ------------------------------------------------------------------ oracle limits

def test_disclosure_is_validated_with_a_clear_message():
    document = {"defaults": {"visibility": "hidden", "timeout": 1, "memory_mb": 1, "threads": 1, "processes": 1,
                             "file_mb": 1, "output_kb": 1, "disclosure": "band"},
                "questions": {"m.a": {"title": "a", "points": 1}, "m.b": {"title": "b", "points": 1,
                                                                          "disclosure": "exact"}}}
    spec = parse_spec(document)
    assert spec["m.a"].disclosure == "band" and spec["m.b"].disclosure == "exact"
    document["questions"]["m.b"]["disclosure"] = "some"
    with pytest.raises(SpecError, match=r"'disclosure' field of question 'm.b' must be one of .*Got 'some'"):
        parse_spec(document)
    assert load_spec()["ex3_titanic.accuracy"].disclosure == "band"


def _titanic(value, points):
    return QuestionResult(
        id="ex3_titanic.accuracy", name="ex3_titanic: accuracy", visibility="hidden", points=points,
        max_points=10, status="partial" if 0 < points < 10 else "passed", hint="h",
        feedback=f"accuracy on the hidden labels {value:.4f} (standard error 0.0213); reference solution: 0.7823",
        output="printed 1\n", measurements={
            "band": {"metric": "accuracy on the hidden labels", "value": value, "full_at": 0.775,
                     "zero_at": 0.76555, "reference": 0.7823, "se": 0.0213, "n": 418},
            "confusion_matrix": [[230, 36], [55, 97]]})


@pytest.mark.parametrize("disclosure, shows", [("exact", "0.7703"), ("band", "inside the partial-credit band"),
                                               ("pass_fail", "Not full marks"), ("none", "Graded.")])
def test_each_level_shows_only_what_it_allows(disclosure, shows):
    q = redact_question(_titanic(0.7703, 4.98), disclosure)
    assert shows in q.feedback
    if disclosure != "exact":
        assert q.status == "withheld" and q.points == 0 and "0.7703" not in json.dumps(q.__dict__)
        assert set(q.measurements) <= {"disclosure", "band"}
    kept = redact_question(_titanic(0.7703, 4.98), disclosure, keep_points=True)
    assert kept.points == 4.98  # Gradescope's score is the grade


def test_band_question_shows_no_hidden_figure_in_any_student_file(tmp_path):
    """results.json, report.md and feedback.html never carry the figure, its SE or the reference; grading.json does."""
    value = 0.77033  # 322/418 passengers
    result = GradingResult("sub", "full", "strong", [_titanic(value, 4.98)])
    write_reports(result, tmp_path)
    secrets = ["0.7703", "77.03", "0.0213", "0.7823", "78.23", "322", "230"]
    for name in ("results.json", "report.md", "feedback.html"):
        text = (tmp_path / name).read_text()
        assert not [s for s in secrets if s in text], name
        assert "inside the partial-credit band" in text
    # Partial points inside a band are a linear function of the figure: withheld from the student's pages;
    # Gradescope's results.json keeps the score (the grade), which Gradescope shows hidden questions only
    # once grades are published.
    for name in ("report.md", "feedback.html"):
        assert "4.98" not in (tmp_path / name).read_text()
    test = json.loads((tmp_path / "results.json").read_text())["tests"][0]
    assert test["score"] == 4.98 and test["visibility"] == "after_published"
    assert GradingResult.load(tmp_path / "grading.json") == result  # staff keep everything


def test_exact_questions_are_untouched():
    result = GradingResult("s", "quick", "strong", [copy.deepcopy(_titanic(0.7703, 4.98))])
    result.questions[0].id = "confusion.hidden_inputs"
    assert for_students(result).questions == result.questions


def test_band_on_a_checks_question_shows_the_count_not_the_checks():
    checks = [{"name": f"case {i}: hidden value 0.123{i}", "passed": i != 2, "reason": None} for i in range(4)]
    q = QuestionResult(id="confusion.hidden_inputs", name="c", visibility="hidden", points=4.5, max_points=6,
                       status="partial", feedback="3/4 checks passed: failed case 2: hidden value 0.1232",
                       measurements={"checks": checks})
    shown = redact_question(q, "band")
    assert shown.feedback == "3/4 checks passed." and shown.points == 4.5 and shown.status == "partial"
    assert "0.123" not in json.dumps(shown.measurements)
