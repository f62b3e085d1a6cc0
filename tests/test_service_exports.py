"""The service's gradebook exports (``serve export --format canvas|moodle`` and the class page's
downloads): grade-all's Canvas and Moodle writers, fed the counted submissions' final grades; a held,
failed or ungraded student gets no grade and the export says why. Also the class page's similarity flags."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.service_helpers import cli, zip_bytes  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
CANVAS_EXPORT = FIXTURES / "canvas_gradebook_export.csv"
MOODLE_WORKSHEET = FIXTURES / "moodle_grading_worksheet.csv"
CANVAS_COLUMN = "Chapter 3 Classification (4242)"


def make_student(student_id: str, email: str):
    from django.contrib.auth import get_user_model

    from autograder.service.models import Student

    user = get_user_model().objects.create_user(f"student-{student_id}")
    return Student.objects.create(user=user, student_id=student_id, name=student_id.title(), email=email)


def grading(points: float, status: str = "passed", outcome: str = "measured") -> str:
    from autograder.results import GradingResult, QuestionResult
    from autograder.spec import load_spec

    total = sum(q.points for q in load_spec().values())
    result = GradingResult(submission="s", profile="quick", isolation="bubblewrap",
                           questions=[QuestionResult("confusion.precision", "p", "hidden", points, total, status,
                                                     outcome=outcome)])
    return json.dumps(result.to_dict())


def submission(student, *, status="graded", score=None, grading_json="", late_days=0, error="", blob="-",
               filename="x.zip"):
    from autograder.service.models import Assignment, Submission

    return Submission.objects.create(student=student, assignment=Assignment.objects.get(), sha256="0" * 64,
                                     blob=blob, filename=filename, status=status, score=score, raw_score=score,
                                     max_score=126, grading_json=grading_json, late_days=late_days, error=error)


@pytest.fixture
def course(service):
    """ann: graded 63 and one day late (50.4 counted); bo: his best held for review; sean: his only
    hidden grading failed; zed: graded, but in no LMS file."""
    from django.contrib.auth import get_user_model

    from autograder.service.models import Assignment, Student

    Student.objects.all().delete()
    get_user_model().objects.filter(is_staff=False).delete()
    Assignment.objects.update(deadline=None, late_until=None, late_penalty_percent_per_day=20, hidden_per_hour=10,
                              counted="best", questions=[])
    ann, bo = make_student("ann", "ann@example.edu"), make_student("bo", "BO@example.edu")
    sean, zed = make_student("sean", "sean@example.edu"), make_student("zed", "zed@example.org")
    submission(ann, score=50.4, grading_json=grading(63), late_days=1)
    submission(bo, score=100, grading_json=grading(100, status="held"))
    submission(bo, score=12, grading_json=grading(12))  # lower: not the counted one
    submission(sean, status="failed", error="confusion.py: SyntaxError: invalid syntax (line 3)\nmore")
    submission(zed, score=80, grading_json=grading(80))
    yield
    Student.objects.all().delete()  # the submissions with them: the next module starts from an empty class
    get_user_model().objects.filter(is_staff=False).delete()
    Assignment.objects.update(late_penalty_percent_per_day=0)


def export(service, capsys, *args, **options):
    from autograder.service.commands import export_command

    capsys.readouterr()
    export_command(service, *args, **{"format": "submissions", "roster": None, "assignment": None,
                                      "moodle_worksheet": None, "partial_export": False, "slug": None, **options})
    captured = capsys.readouterr()
    return captured.out, captured.err


def canvas_scores(text: str) -> tuple[list[str], dict[str, str]]:
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    return header, {row[header.index("ID")] or row[0]: row[-1] for row in rows}


def test_canvas_export_fills_grade_alls_import_with_final_grades_only(service, course, capsys):
    out, err = export(service, capsys, format="canvas", roster=CANVAS_EXPORT)
    assert out.startswith("\ufeff")  # byte for byte grade-all's canvas_import.csv: Excel's byte-order mark
    header, scores = canvas_scores(out)
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CANVAS_COLUMN]
    assert scores == {"    Points Possible": "126", "1001": "50.4", "1002": "", "1003": "", "1004": "", "1099": ""}
    notes = err.strip().splitlines()
    assert any(n.startswith("serve: bo: no grade exported: submission #") and "held for review" in n for n in notes)
    assert any("sean: no grade exported: could not be graded: 1 hidden grading(s) failed, the last with: "
               "confusion.py: SyntaxError: invalid syntax (line 3)" in n for n in notes)
    assert any("zed: not in the Canvas file" in n for n in notes)
    assert not any(n.startswith("serve: ann") for n in notes)


def test_the_moodle_worksheet_comes_back_with_final_grades_and_a_held_grade_cleared(service, course, capsys):
    out, err = export(service, capsys, format="moodle", moodle_worksheet=MOODLE_WORKSHEET)
    header, *rows = list(csv.reader(io.StringIO(out)))
    read = {r[0]: dict(zip(header, r)) for r in rows}
    assert read["Participant 2345671"]["Grade"] == f"{50.4 * 100 / 126:.2f}"  # scaled to Moodle's 100
    assert read["Participant 2345672"]["Grade"] == ""  # held: the downloaded 40.00 is cleared, never kept
    assert read["Participant 2345672"]["Feedback comments"] == "Well done on roc"
    assert read["Participant 2345673"]["Grade"] == ""
    assert "bo: no grade exported" in err and "zed: not in the Moodle file" in err


def test_a_gradebook_export_without_its_file_or_matching_nobody_is_refused_in_one_line(service, course, tmp_path):
    missing = cli("serve", "export", str(service), "--format", "canvas", check=False)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip() == ("serve: cannot export canvas: --format canvas fills in Canvas's gradebook "
                                      "export (Grades > Export > Export Entire Gradebook): pass it with --roster FILE")
    strangers = tmp_path / "strangers.csv"
    strangers.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Chapter 3 Classification (4242)\n"
                         "\"Doe, Jo\",2001,,jo@example.edu,S1,\n")
    unmatched = cli("serve", "export", str(service), "--format", "canvas", "--roster", str(strangers), check=False)
    assert unmatched.returncode == 2 and unmatched.stdout == "" and "Traceback" not in unmatched.stderr
    assert len(unmatched.stderr.strip().splitlines()) == 1
    assert "matches none of the service's 4 student(s)" in unmatched.stderr
    worksheet = cli("serve", "export", str(service), "--format", "moodle", "--moodle-worksheet", str(CANVAS_EXPORT),
                    check=False)
    assert worksheet.returncode == 2 and "is not a Moodle grading worksheet" in worksheet.stderr
    assert len(worksheet.stderr.strip().splitlines()) == 1


def test_the_csv_gradebook_blanks_what_is_not_final(service, course, capsys):
    out, _ = export(service, capsys, format="csv")
    book = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (book["ann"]["score"], book["ann"]["status"]) == ("50.4", "graded")
    assert book["bo"]["score"] == "" and "held for review" in book["bo"]["status"]
    assert book["sean"]["score"] == "" and book["sean"]["status"].startswith("could not be graded")


def test_the_class_page_offers_the_exports_to_staff_only(service, course):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from autograder.service.models import Assignment

    assert Client().get("/staff/export/csv").status_code == 302  # to the login
    assert Client().post("/staff/export/canvas").status_code == 302
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="staff"))
    page = staff.get("/staff/").content.decode()
    slug = Assignment.chosen().slug  # the exports are the page's assignment's
    assert f'action="/staff/export/canvas?assignment={slug}"' in page and f'href="/staff/export/csv?assignment={slug}"' in page
    assert "could not be graded: 1 hidden grading(s) failed" in page and "held for review" in page
    download = staff.get("/staff/export/csv")
    assert download.headers["Content-Disposition"] == 'attachment; filename="gradebook.csv"'
    with open(CANVAS_EXPORT, "rb") as roster:
        canvas = staff.post("/staff/export/canvas", {"gradebook": roster})
    assert canvas.status_code == 200
    assert canvas.headers["Content-Disposition"] == 'attachment; filename="canvas_import.csv"'
    assert canvas_scores(canvas.content.decode("utf-8"))[1]["1001"] == "50.4"
    assert canvas_scores(canvas.content.decode("utf-8"))[1]["1002"] == ""  # bo: held
    refused = staff.post("/staff/export/moodle", {"gradebook": io.BytesIO(b"name,grade\nAnn,3\n")}, follow=True)
    assert "cannot export moodle: the file" in refused.content.decode() and "not a Moodle grading worksheet" \
        in refused.content.decode()


# ------------------------------------------------------------------ similarity flags

SIMILARITY = Path(__file__).parent / "fixtures" / "similarity"


def test_the_class_page_flags_near_identical_counted_submissions(service, course):
    """bob's counted confusion.py is alice's renamed and reformatted (grade-all's planted copy); carol
    wrote her own; alice's earlier, lower submission is not the counted one and is not compared."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from autograder.service.intake import store
    from autograder.service.models import Submission

    def upload(student, source: Path, score: float):
        digest, blob = store(zip_bytes({"confusion.py": source.read_bytes()}), ".zip")
        return submission(student, score=score, grading_json=grading(score), blob=blob, filename="work.zip")

    Submission.objects.all().delete()
    alice, bob = make_student("alice", "alice@example.org"), make_student("bob", "bob@example.org")
    carol = make_student("carol", "carol@example.org")
    upload(alice, SIMILARITY / "carol" / "confusion.py", 10)  # not counted: her best is below
    counted = upload(alice, SIMILARITY / "alice" / "confusion.py", 90)
    copied = upload(bob, SIMILARITY / "bob" / "confusion.py", 80)
    upload(carol, SIMILARITY / "carol" / "confusion.py", 70)
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="staff"))
    page = staff.get("/staff/").content.decode()
    similar = page[page.index("<h2>Similar code</h2>"):]
    assert "The counted submissions of 3 student(s)" in similar
    rows = similar.split('<tr><td><a href="')[1:]
    assert len(rows) == 1
    assert f'/submissions/{counted.pk}/">alice</a>' in rows[0] and f'/submissions/{copied.pk}/">bob</a>' in rows[0]
    assert "confusion.py (" in rows[0] and "carol" not in similar
    assert float(rows[0].split("</a></td><td>")[1].split("</td>")[0]) >= 0.6
