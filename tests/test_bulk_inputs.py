"""grade-all's inputs: the three layouts, the roster, and entries that cannot be graded (no grading here)."""

import zipfile

import pytest

from autograder.bulk.inputs import LayoutError, apply_roster, detect_layout, discover, prepare, read_roster
from autograder.grading import CannotGrade
from class_fixture import build_class, students, write_roster

STUDENTS = students()
GRADABLE = {s.key for s in STUDENTS if s.expect == "graded"}


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    for layout in ("folder", "gradescope", "canvas"):
        build_class(root / layout, layout)
    write_roster(root / "roster.csv", STUDENTS)
    return root


def prepared_or_error(entry):
    try:
        return prepare(entry)
    except CannotGrade as exc:
        return str(exc)


@pytest.mark.parametrize("layout", ["folder", "gradescope", "canvas"])
def test_each_layout_is_detected_and_gives_every_student_one_entry(classes, layout):
    assert detect_layout(classes / layout) == layout
    entries = discover(classes / layout)
    assert len(entries) == len(STUDENTS) >= 20
    assert len({e.id for e in entries}) == len(entries)


@pytest.mark.parametrize("layout", ["gradescope", "canvas"])
def test_lms_layouts_prepare_the_same_files_as_the_folder_layout(classes, layout):
    """Same students, same prepared module files: the cache keys (and grades) agree across layouts."""
    by_key = {e.id: prepared_or_error(e) for e in discover(classes / "folder")}
    entries = discover(classes / layout)
    for student, entry in zip(STUDENTS, entries):  # both LMS layouts list students in the fixture's order
        expected = by_key[student.key]
        got = prepared_or_error(entry)
        if student.key in GRADABLE:
            assert got == expected, student.key
        elif student.expect == "cannot_grade":
            assert isinstance(got, str) and got, student.key  # a reason, never an exception


def test_gradescope_metadata_gives_name_email_and_sid(classes):
    entries = discover(classes / "gradescope")
    first = STUDENTS[0]
    assert (entries[0].id, entries[0].name, entries[0].email) == (first.sid, first.name, f"{first.key}@example.edu")
    assert entries[0].source == "submission_2000000"


def test_canvas_groups_files_by_user_and_reads_late_and_resubmitted_names(classes):
    entries = discover(classes / "canvas")
    late = next(e for e in entries if e.lms["canvas_user_id"] == STUDENTS[-1].canvas_id)
    assert late.lms["late"] is True and all(not e.lms["late"] for e in entries[:-1])
    correct = entries[0]
    assert len(correct.paths) == 14  # 14 modules, one submission
    files = prepare(correct).files
    assert "mnist.py" in files and "mnist-1.py" not in files  # Canvas's "-1" for a re-upload is undone


def test_roster_names_the_students_and_sets_their_ids(classes):
    roster = read_roster(classes / "roster.csv")
    assert len(roster) == len(STUDENTS)  # the "Points Possible" row is not a student
    entries = discover(classes / "canvas")
    apply_roster(entries, roster)
    assert [e.id for e in entries] == [s.sid for s in STUDENTS]
    assert entries[0].email == f"{STUDENTS[0].key}@example.edu" and entries[0].lms["roster"]["Section"] == "Section 1"


def test_unusable_entries_carry_the_reason(classes):
    entries = {e.id: e for e in discover(classes / "folder")}
    assert "unrecognised entry 'readme.txt'" in entries["readme"].error
    assert prepared_or_error(entries["empty_folder"]) == "empty_folder is empty"
    assert "holds none of the assignment's modules" in prepared_or_error(entries["no_modules"])
    assert "corrupt_zip.zip" in prepared_or_error(entries["corrupt_zip"])
    assert "confusion.py" in prepare(entries["correct_zip"]).files


def test_a_folder_of_py_files_is_one_submission_not_a_class(tmp_path):
    (tmp_path / "confusion.py").write_text("x = 1\n")
    with pytest.raises(LayoutError, match="looks like one submission"):
        discover(tmp_path)


def test_missing_class_folder_and_bad_roster_are_clear_errors(tmp_path):
    with pytest.raises(LayoutError, match="does not exist"):
        discover(tmp_path / "nowhere")
    (tmp_path / "roster.csv").write_text("name,mail\nA,a@b\n")
    with pytest.raises(LayoutError, match="Canvas's gradebook columns"):
        read_roster(tmp_path / "roster.csv")


def test_duplicate_ids_are_made_unique(tmp_path):
    for name in ("ann", "ann.zip"):
        path = tmp_path / name
        if name.endswith(".zip"):
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("confusion.py", "x = 1\n")
        else:
            path.mkdir()
            (path / "confusion.py").write_text("x = 1\n")
    assert sorted(e.id for e in discover(tmp_path)) == ["ann", "ann-2"]


def test_a_question_typo_fails_before_anyone_is_graded(classes, tmp_path):
    from autograder.bulk import grade_all

    with pytest.raises(ValueError, match="Unknown question"):
        grade_all(classes / "folder", tmp_path / "out", questions=("confusionx",))
    assert not (tmp_path / "out").exists()


def test_an_lms_export_zip_is_read_like_its_folder(classes, tmp_path):
    from autograder.bulk.batch import _class_folder

    archive = tmp_path / "canvas-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((classes / "canvas").iterdir()):
            zf.write(path, path.name)
    root = _class_folder(archive, tmp_path / "scratch")
    assert [e.id for e in discover(root)] == [e.id for e in discover(classes / "canvas")]


def test_class_tables_print_student_text_literally():
    """Ids, names, file names and errors come from uploads: rich markup and escapes are shown, not run."""
    from rich.console import Console

    from autograder.bulk.console import print_class_table

    console = Console(record=True, width=200)
    entries = [{"id": "[/]x", "status": "cannot_grade", "source": "[/]_1_2_a.py", "error": "bad [/] \x1b[2J"},
               {"id": "a[/]", "name": "[red]", "status": "graded", "score": 1, "max_score": 2, "percent": 50.0,
                "timeouts": 0}]
    print_class_table(console, entries)  # "[/]" as markup would raise MarkupError
    text = console.export_text()
    assert all(s in text for s in ("[/]x", "[/]_1_2_a.py", "a[/]", "[red]")) and "\x1b" not in text
