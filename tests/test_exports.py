"""Gradebook exports round-tripped against the layouts Canvas and Moodle really write.

Canvas: the import file keeps the roster's identity columns and its assignment column (name and id),
Points Possible is the assignment's total. Moodle: a "Download all submissions" folder is read,
and the grading worksheet written for "Upload grading worksheet" is read back as Moodle's
importer reads it (Identifier, Grade, Last modified (grade)).
"""

import csv
import shutil
from pathlib import Path

import pytest

from autograder.bulk import exports
from autograder.bulk.inputs import (LayoutError, apply_roster, detect_layout, discover, prepare, read_csv_rows,
                                    read_roster)
from autograder.results import GradingResult, QuestionResult
from autograder.spec import load_spec
from submissions import reference_source

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
CANVAS_EXPORT = FIXTURES / "canvas_gradebook_export.csv"
MOODLE_WORKSHEET = FIXTURES / "moodle_grading_worksheet.csv"
ASSIGNMENT_TOTAL = sum(q.points for q in load_spec().values())
CANVAS_COLUMN = "Chapter 3 Classification (4242)"


def result(score: float, maximum: float = ASSIGNMENT_TOTAL) -> GradingResult:
    return GradingResult(submission="s", profile="quick", isolation="bubblewrap",
                         questions=[QuestionResult("q.a", "a", "public", score, maximum, "passed")])


def canvas_reads(path: Path) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """What Canvas's gradebook import reads: the header, the Points Possible row, the score by Canvas ID."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header, rest = rows[0], rows[1:]
    points = next(dict(zip(header, r)) for r in rest if r[0].strip() == "Points Possible")
    scores = {r[header.index("ID")]: r[-1] for r in rest if r[0].strip() != "Points Possible"}
    return header, points, scores


# ----------------------------------------------------------------------- Canvas

def canvas_entries():
    return [{"id": "90001", "name": "Lee, Ann", "status": "graded", "roster": {"ID": "1001"}},
            {"id": "90002", "name": "Smith, Bo", "status": "graded", "roster": {"ID": "1002"}},
            {"id": "wei", "name": "Zhang, Wei", "status": "cannot_grade", "roster": {"ID": "1004"}}]


def test_canvas_import_uses_the_rosters_assignment_column_and_the_assignment_total(tmp_path):
    results = {"90001": result(100.5), "90002": result(ASSIGNMENT_TOTAL)}
    out = exports.write_canvas_csv(tmp_path / "canvas_import.csv", canvas_entries(), results, CANVAS_EXPORT)
    header, points, scores = canvas_reads(out)
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CANVAS_COLUMN]
    assert float(points[CANVAS_COLUMN]) == ASSIGNMENT_TOTAL == 126
    assert scores == {"1001": "100.5", "1002": "126", "1003": "", "1004": "", "1099": ""}


def test_canvas_roster_round_trip_keeps_every_identity_cell(tmp_path):
    out = exports.write_canvas_csv(tmp_path / "canvas_import.csv", canvas_entries(), {"90001": result(3)},
                                   CANVAS_EXPORT)
    roster = {r["ID"]: r for r in read_roster(CANVAS_EXPORT)}
    with open(out, newline="", encoding="utf-8-sig") as fh:
        imported = [r for r in csv.DictReader(fh) if r["Student"].strip() != "Points Possible"]
    assert [r["ID"] for r in imported] == list(roster)
    for row in imported:
        assert all(row[c] == roster[row["ID"]][c] for c in ("Student", "SIS User ID", "SIS Login ID", "Section"))


@pytest.mark.parametrize("given", ["Chapter 3 Classification", "4242", CANVAS_COLUMN, "chapter 3: classification"])
def test_the_assignment_column_is_found_by_name_or_id(given):
    header = next(csv.reader(open(CANVAS_EXPORT, encoding="utf-8-sig")))
    assert exports.canvas_assignment_column(header, given) == CANVAS_COLUMN
    assert exports.canvas_assignment_column(header) == CANVAS_COLUMN  # the project's title matches by name


@pytest.mark.parametrize("given", ["Chapter 4 Training", "Current Score", "Homework"])
def test_an_assignment_the_roster_lacks_is_refused_with_the_columns_it_has(given):
    header = next(csv.reader(open(CANVAS_EXPORT, encoding="utf-8-sig")))
    with pytest.raises(LayoutError, match="Homework 1 \\(4100\\)") as info:
        exports.canvas_assignment_column(header, given)
    assert "Current Score" not in str(info.value).split("columns:")[-1]  # read-only columns are not offered


def test_a_roster_without_the_assignment_is_refused(tmp_path):
    bare = tmp_path / "roster.csv"
    bare.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n\"Lee, Ann\",1001,90001,ann@x,S1\n")
    with pytest.raises(LayoutError, match="create the assignment in Canvas"):
        exports.write_canvas_csv(tmp_path / "c.csv", canvas_entries(), {}, bare)


def test_canvas_points_follow_the_canvas_assignment_when_it_is_worth_less(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(CANVAS_EXPORT.read_bytes().replace(b",126.00,", b",100.00,"))
    out = exports.write_canvas_csv(tmp_path / "c.csv", canvas_entries(), {"90001": result(63)}, roster)
    _, points, scores = canvas_reads(out)
    assert float(points[CANVAS_COLUMN]) == 100 and scores["1001"] == "50"


def test_a_question_subset_is_refused_for_a_gradebook_export_unless_asked_for(tmp_path):
    from autograder.bulk import grade_all

    (tmp_path / "class" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="--partial-export"):
        grade_all(tmp_path / "class", tmp_path / "out", questions=("confusion",), roster=CANVAS_EXPORT)
    assert not (tmp_path / "out").exists()  # refused before anyone is graded
    subset = sum(q.points for q in load_spec().values() if q.module == "confusion")
    out = exports.write_canvas_csv(tmp_path / "c.csv", canvas_entries(), {"90001": result(4, subset)},
                                   CANVAS_EXPORT, partial_export=True)
    _, points, scores = canvas_reads(out)
    assert float(points[CANVAS_COLUMN]) == subset and scores["1001"] == "4"


def test_a_canvas_roster_matches_canvas_download_entries(tmp_path):
    root = tmp_path / "canvas"
    root.mkdir()
    (root / "leeann_1001_555_confusion.py").write_text(reference_source("confusion"))
    (root / "smithbo_LATE_1002_556_confusion.py").write_text(reference_source("confusion"))
    entries = discover(root)
    apply_roster(entries, read_roster(CANVAS_EXPORT))
    assert [(e.id, e.name) for e in entries] == [("90001", "Lee, Ann"), ("90002", "Smith, Bo")]
    assert "Student, Test" in [r["Student"] for r in read_roster(CANVAS_EXPORT)]


# ----------------------------------------------------------------------- Moodle

def moodle_download(root: Path) -> Path:
    """'Download all submissions' as Moodle 3.1+ writes it (one folder per student and plugin), plus
    the flat variant (files prefixed) that an older Moodle or the folder preference off gives."""
    root.mkdir(parents=True)
    ann = root / "Ann Lee_2345671_assignsubmission_file_"
    ann.mkdir()
    (ann / "confusion.py").write_text("# Ann\n" + reference_source("confusion"))
    (root / "Ann Lee_2345671_assignsubmission_onlinetext_").mkdir()
    (root / "Ann Lee_2345671_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>see files</p>")
    (root / "Bo Smith_2345672_assignsubmission_file_confusion.py").write_text("# Bo\n" + reference_source("confusion"))
    (root / "Bo Smith_2345672_assignsubmission_file_roc.py").write_text(reference_source("roc"))
    return root


def test_moodle_download_is_detected_and_read_one_entry_per_participant(tmp_path):
    root = moodle_download(tmp_path / "moodle")
    assert detect_layout(root) == "moodle"
    entries = discover(root)
    assert [(e.name, e.lms["moodle_participant"]) for e in entries] == [("Ann Lee", "2345671"), ("Bo Smith", "2345672")]
    assert prepare(entries[0]).files["confusion.py"].startswith(b"# Ann\n")
    assert sorted(prepare(entries[1]).files) == ["confusion.py", "roc.py"]


def moodle_reads(path: Path) -> dict[str, dict]:
    """What Moodle's worksheet upload reads: Identifier 'Participant N' -> Grade and Last modified (grade)."""
    header, *body = read_csv_rows(path)  # Moodle reads fields of any length
    rows = [dict(zip(header, row)) for row in body]
    assert {"Identifier", "Grade", "Last modified (grade)"} <= set(rows[0])
    return {r["Identifier"].removeprefix("Participant "): r for r in rows}


def moodle_records(tmp_path):
    entries = discover(moodle_download(tmp_path / "moodle"))
    return [{**e.manifest(), "status": "graded"} for e in entries]


def test_moodle_worksheet_round_trip_fills_the_downloaded_worksheet(tmp_path):
    records = moodle_records(tmp_path)
    results = {records[0]["id"]: result(63), records[1]["id"]: result(126)}
    out = exports.write_moodle_worksheet(tmp_path / "moodle_grading_worksheet.csv", records, results, MOODLE_WORKSHEET)
    read = moodle_reads(out)
    original = moodle_reads(MOODLE_WORKSHEET)
    assert set(read) == set(original)
    assert read["2345671"]["Grade"] == "50.00" and read["2345672"]["Grade"] == "100.00"  # scaled to its 100
    assert read["2345673"]["Grade"] == ""  # no submission: Moodle skips an empty grade
    for pid, row in read.items():  # every other cell as downloaded (comments, last-modified dates)
        assert {k: v for k, v in row.items() if k != "Grade"} == {k: v for k, v in original[pid].items() if k != "Grade"}


def test_moodle_worksheet_without_a_download_has_the_columns_the_upload_needs(tmp_path):
    records = moodle_records(tmp_path)
    out = exports.write_moodle_worksheet(tmp_path / "w.csv", records, {records[0]["id"]: result(100.5)})
    read = moodle_reads(out)
    assert read["2345671"]["Grade"] == "100.50" and float(read["2345671"]["Maximum Grade"]) == ASSIGNMENT_TOTAL
    assert read["2345672"]["Grade"] == "" and read["2345672"]["Full name"] == "Bo Smith"
    assert "Feedback comments" not in read["2345671"]  # an empty column would erase comments on upload


def test_a_worksheet_that_is_not_moodles_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("name,grade\nAnn,3\n")
    with pytest.raises(LayoutError, match="Identifier"):
        exports.write_moodle_worksheet(tmp_path / "w.csv", moodle_records(tmp_path), {}, other)


def test_people_are_matched_to_the_worksheets_participants_by_email_or_id_number(tmp_path):
    people = [{"id": "s1", "email": "ANN@example.edu"}, {"id": "s2", "email": "nobody@example.edu"}]
    assert exports.moodle_participants(MOODLE_WORKSHEET, people) == {"s1": "2345671"}
    numbered = tmp_path / "numbered.csv"
    header, *body = read_csv_rows(MOODLE_WORKSHEET)
    exports.write_csv(numbered, ["ID number", *header], [["s2", *body[0]], ["", *body[1]]])
    # s2's ID number is on Ann's row, where s1's email is: one row claimed by two people is refused
    with pytest.raises(LayoutError, match="Participant 2345671 matches several people: s1, s2"):
        exports.moodle_participants(numbered, people)
    assert exports.moodle_participants(numbered, [people[1]]) == {"s2": "2345671"}


def test_a_bad_worksheet_or_roster_is_refused_before_anyone_is_graded(tmp_path):
    from autograder.bulk import grade_all

    root = moodle_download(tmp_path / "moodle")
    other = tmp_path / "other.csv"
    other.write_text("name,grade\nAnn,3\n")
    with pytest.raises(LayoutError, match="not a Moodle grading worksheet"):
        grade_all(root, tmp_path / "out", moodle_worksheet=other)
    with pytest.raises(LayoutError, match="Pass --assignment"):
        grade_all(root, tmp_path / "out", roster=CANVAS_EXPORT, assignment="Chapter 4")
    assert not (tmp_path / "out").exists()


def test_grade_all_names_every_file_it_wrote(tmp_path):
    """The outcome lists the exports (the console prints them): canvas_import.csv, summary.html, ..."""
    from autograder.bulk.batch import write_outputs
    from autograder.bulk.store import BatchStore

    store = BatchStore(tmp_path / "out")
    store.out.mkdir()
    manifest = {"settings": {"roster": str(CANVAS_EXPORT), "questions": [], "assignment": None,
                             "partial_export": False},
                "entries": [{**e, "result": None, "source": e["id"]} for e in canvas_entries()]}
    written = write_outputs(store, manifest)
    names = {p.name for p in written}
    assert {"grades.csv", "canvas_import.csv"} <= names
    assert all(p.is_file() for p in written)
    shutil.rmtree(store.out)


@pytest.mark.slow
def test_a_moodle_download_is_graded_into_its_worksheet(tmp_path):
    """The whole path: Moodle's download in, the downloaded worksheet filled, the final file list."""
    from autograder.bulk import grade_all

    root = moodle_download(tmp_path / "moodle")
    outcome = grade_all(root, tmp_path / "out", questions=("confusion",), partial_export=True, workers=2,
                        timeout=20, moodle_worksheet=MOODLE_WORKSHEET)
    assert {p.name for p in outcome.written} >= {"grades.csv", "moodle_grading_worksheet.csv", "summary.html"}
    confusion = sum(q.points for q in load_spec().values() if q.module == "confusion")
    read = moodle_reads(tmp_path / "out" / "moodle_grading_worksheet.csv")
    assert float(read["2345671"]["Grade"]) == float(read["2345672"]["Grade"]) == confusion
    assert read["2345672"]["Feedback comments"] == "Well done on roc"


# ------------------------------------------------------- identities (roster, groups, long cells)

def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows(rows)
    return path


ROSTER_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CANVAS_COLUMN]


def collision_roster(tmp_path: Path) -> Path:
    """Ann's SIS user id is Bo's Canvas user id."""
    return write_rows(tmp_path / "roster.csv", [
        ROSTER_HEADER, ["    Points Possible", "", "", "", "", "126.00"],
        ["Lee, Ann", "1001", "1002", "ann@example.edu", "S1", ""],
        ["Smith, Bo", "1002", "90002", "bo@example.edu", "S1", ""]])


def test_a_canvas_user_id_matches_only_canvas_ids_column(tmp_path):
    root = tmp_path / "canvas"
    root.mkdir()
    (root / "smithbo_1002_556_confusion.py").write_text(reference_source("confusion"))
    entries = discover(root)
    apply_roster(entries, read_roster(collision_roster(tmp_path)))
    assert [(e.id, e.name) for e in entries] == [("90002", "Smith, Bo")]
    records = [{**e.manifest(), "status": "graded"} for e in entries]
    out = exports.write_canvas_csv(tmp_path / "c.csv", records, {"90002": result(50)}, tmp_path / "roster.csv")
    assert canvas_reads(out)[2] == {"1001": "", "1002": "50"}


def test_an_ambiguous_roster_match_is_refused_naming_the_rows_before_anything_is_written(tmp_path):
    from autograder.bulk import grade_all

    root = tmp_path / "class"
    (root / "1002").mkdir(parents=True)  # a folder named 1002: Ann's SIS id and Bo's Canvas id
    (root / "1002" / "confusion.py").write_text(reference_source("confusion"))
    with pytest.raises(LayoutError, match=r"several roster rows.*Lee, Ann.*Smith, Bo"):
        apply_roster(discover(root), read_roster(collision_roster(tmp_path)))
    with pytest.raises(LayoutError, match="Lee, Ann"):
        grade_all(root, tmp_path / "out", roster=tmp_path / "roster.csv")
    assert not (tmp_path / "out").exists()


def test_two_submissions_for_one_roster_row_are_refused(tmp_path):
    root = tmp_path / "class"
    for name in ("1001", "ann@example.edu"):
        (root / name).mkdir(parents=True)
        (root / name / "confusion.py").write_text(reference_source("confusion"))
    with pytest.raises(LayoutError, match="matches several submissions: 1001, ann@example.edu"):
        apply_roster(discover(root), read_roster(CANVAS_EXPORT))


def test_every_member_of_a_gradescope_group_gets_the_groups_grade(tmp_path):
    import yaml

    root = tmp_path / "gradescope"
    (root / "submission_77").mkdir(parents=True)
    (root / "submission_77" / "confusion.py").write_text(reference_source("confusion"))
    people = [{":name:": "Ann Lee", ":sid:": "90001", ":email:": "ann@example.edu"},
              {":name:": "Seán O'Brien", ":sid:": "90003", ":email:": "sean@example.edu"}]
    (root / "submission_metadata.yml").write_text(yaml.safe_dump({"submission_77": {":submitters:": people}}))
    entries = discover(root)
    apply_roster(entries, read_roster(CANVAS_EXPORT))
    assert len(entries) == 1 and entries[0].name == "Lee, Ann; O'Brien, Seán"
    records = [{**e.manifest(), "status": "graded"} for e in entries]
    out = exports.write_canvas_csv(tmp_path / "c.csv", records, {entries[0].id: result(100)}, CANVAS_EXPORT)
    assert canvas_reads(out)[2] == {"1001": "100", "1002": "", "1003": "100", "1004": "", "1099": ""}


def test_long_cells_of_a_moodle_worksheet_and_a_roster_are_read_whole(tmp_path):
    online = "<p>" + "x" * 200_000 + "</p>"  # longer than csv's default field limit
    with open(MOODLE_WORKSHEET, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    rows[0].append("Online text")
    for row in rows[1:]:
        row.append(online)
    worksheet = write_rows(tmp_path / "worksheet.csv", rows)
    records = moodle_records(tmp_path)
    out = exports.write_moodle_worksheet(tmp_path / "w.csv", records, {records[0]["id"]: result(63)}, worksheet)
    read = moodle_reads(out)
    assert read["2345671"]["Grade"] == "50.00" and read["2345672"]["Online text"] == online
    roster = write_rows(tmp_path / "roster.csv", [ROSTER_HEADER + ["Notes"], ["Lee, Ann", "1001", "", "", "", "", online]])
    assert read_roster(roster)[0]["Notes"] == online


def test_moodle_cells_it_imports_as_text_come_back_as_the_teacher_wrote_them(tmp_path):
    comments = ["=2+2 is right", "-0.5 for the ROC axis", "@Ann see me", "+1 nice"]
    with open(MOODLE_WORKSHEET, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    for row, comment in zip(rows[1:], comments):
        row[-1] = comment
    worksheet = write_rows(tmp_path / "worksheet.csv", rows)
    records = moodle_records(tmp_path)
    out = exports.write_moodle_worksheet(tmp_path / "w.csv", records, {records[1]["id"]: result(126)}, worksheet)
    read = moodle_reads(out)
    assert [read[p]["Feedback comments"] for p in ("2345671", "2345672", "2345673")] == comments[:3]
    assert read["2345672"]["Grade"] == "100.00"
    # our own files keep the guard: grades.csv opens in spreadsheets
    exports.write_grades_csv(tmp_path / "g.csv", [{"id": "s", "name": comments[0], "status": "graded"}],
                             {"s": result(1)})
    assert "'=2+2 is right" in (tmp_path / "g.csv").read_text(encoding="utf-8-sig")
