"""Build a small class of mixed submissions, in each layout instructors get them.

    python tests/class_fixture.py OUT [--layout folder|gradescope|canvas] [--students N]

Submissions are made from ``solutions/`` (honest) and ``assignments/`` (stubs), with edits:
correct, partial, broken, hostile, and entries that cannot be graded at all. The same
students appear in every layout, so the three layouts must give the same grades.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder.contract import CONTRACT

PROJECT = Path(__file__).resolve().parents[1]
SOLUTIONS = PROJECT / "solutions"
ASSIGNMENTS = PROJECT / "assignments"
MODULES = tuple(CONTRACT)
LAYOUTS = ("folder", "gradescope", "canvas")

BROKEN_PRECISION = '''

def precision(y_true, y_pred):  # student's mistake: divides by the wrong count
    import numpy as np
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.sum(y_true & y_pred) / max(len(y_true), 1))
'''


def reference(module: str) -> str:
    return (SOLUTIONS / f"{module}.py").read_text()  # each reference module stands alone


def stub(module: str) -> str:
    return (ASSIGNMENTS / f"{module}.py").read_text()


def honest(student: str, *, stubbed=(), replaced: dict[str, str] | None = None, only=None) -> dict[str, str]:
    """All modules from the reference (marked with the student's name so every submission differs)."""
    files = {}
    for module in only or MODULES:
        files[f"{module}.py"] = f"# {student}'s work\n" + (stub(module) if module in stubbed else reference(module))
    files.update(replaced or {})
    return files


@dataclass
class Student:
    """One student of the class: what they hand in and what grading it must end in."""

    key: str                      # folder/zip name in the folder layout
    name: str
    sid: str                      # Gradescope SID / SIS id
    canvas_id: str
    files: dict[str, str] | None  # None: an entry that is not a folder of files (see ``kind``)
    kind: str = "folder"          # folder | zip | empty | corrupt_zip | text | notebook
    expect: str = "graded"        # graded | cannot_grade | either (notebooks: once prepare_submission reads them)
    note: str = ""


def students(count: int = 22) -> list[Student]:
    """At least 20 mixed submissions (``count`` pads with more correct ones)."""
    people = []

    def add(key, files, kind="folder", expect="graded", note=""):
        n = len(people) + 1
        people.append(Student(key, f"Student {n:02d} {key.title().replace('_', ' ')}", f"9{n:04d}",
                              str(1000 + n), files, kind, expect, note))

    for i in range(1, 6):
        add(f"correct_{i}", honest(f"correct_{i}"), note="reference solutions: full marks")
    add("correct_zip", honest("correct_zip"), kind="zip", note="a .zip of the reference")
    add("partial_stub", honest("partial_stub", stubbed=("confusion", "roc")), note="confusion and roc left as stubs")
    add("partial_precision", honest("partial_precision", replaced={
        "confusion.py": reference("confusion") + BROKEN_PRECISION}), note="a wrong precision: partial credit")
    add("partial_half", honest("partial_half", stubbed=MODULES[::2]), note="every other module a stub")
    add("all_stubs", honest("all_stubs", stubbed=MODULES), note="untouched stubs: 0, not implemented")
    add("syntax_error", honest("syntax_error", replaced={"confusion.py": "def precision(:\n    pass\n"}),
        note="confusion.py does not parse: import_error")
    add("import_error", honest("import_error", replaced={
        "confusion.py": "import a_package_that_does_not_exist\n" + reference("confusion")}), note="imports a missing package")
    add("missing_files", honest("missing_files", only=("mnist", "binary_classifier")), note="most modules missing")
    add("infinite_loop", honest("infinite_loop", replaced={"confusion.py": "while True:\n    pass\n"}),
        note="loops forever at import: timeout")
    add("prints_megabytes", honest("prints_megabytes", replaced={
        "confusion.py": "print('x' * 4_000_000)\n" + reference("confusion")}), note="prints 4 MB, then works")
    add("empty_folder", {}, kind="empty", expect="cannot_grade", note="an empty folder")
    add("corrupt_zip", None, kind="corrupt_zip", expect="cannot_grade", note="not a readable zip")
    add("readme", None, kind="text", expect="cannot_grade", note="a stray text file")
    add("no_modules", {"notes.py": "# nothing to grade here\n"}, expect="cannot_grade", note="no assignment module")
    add("notebook", None, kind="notebook", expect="either", note="an .ipynb: graded once notebooks are supported")
    for i in range(6, 6 + max(0, count - len(people) - 1)):
        add(f"correct_{i}", honest(f"correct_{i}"), note="reference solutions")
    add("late_partial", honest("late_partial", stubbed=("confusion",)), note="late, confusion a stub")
    return people


def _notebook(files: dict[str, str]) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in files.values()]
    return nbformat.writes(nb)


def _zip_bytes(files: dict[str, str], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(f"{top}{name}", source)
    return buffer.getvalue()


def _entry_files(student: Student) -> dict[str, bytes]:
    """The student's upload as files (name -> bytes); empty for an empty folder."""
    if student.kind == "zip":
        return {f"{student.key}.zip": _zip_bytes(student.files, top=f"{student.key}/")}
    if student.kind == "corrupt_zip":
        return {f"{student.key}.zip": b"PK\x03\x04 this is not really a zip"}
    if student.kind == "text":
        return {f"{student.key}.txt": b"I will hand it in next week.\n"}
    if student.kind == "notebook":
        return {f"{student.key}.ipynb": _notebook(honest(student.key, only=("confusion",))).encode()}
    return {name: source.encode() for name, source in (student.files or {}).items()}


def build_class(out: Path, layout: str = "folder", count: int = 22) -> list[Student]:
    """Write the class into ``out`` (created) in ``layout``; returns the students written."""
    if layout not in LAYOUTS:
        raise ValueError(f"The 'layout' parameter must be one of {LAYOUTS}. Got {layout!r} instead.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    people = students(count)
    if layout == "folder":
        for s in people:
            files = _entry_files(s)
            if s.kind in ("folder", "empty"):
                (out / s.key).mkdir()
                for name, content in files.items():
                    (out / s.key / name).write_bytes(content)
            else:
                for name, content in files.items():
                    (out / name).write_bytes(content)
    elif layout == "gradescope":
        # Gradescope's "Export Submissions": submission_<id>/ folders and submission_metadata.yml.
        metadata = []
        for n, s in enumerate(people):
            folder = out / f"submission_{2000000 + n}"
            folder.mkdir()
            for name, content in _entry_files(s).items():
                (folder / name).write_bytes(content)
            metadata += [f"{folder.name}:", "  :submitters:", f"  - :name: {s.name}", f"    :sid: '{s.sid}'",
                         f"    :email: {s.key}@example.edu", "  :created_at: 2026-11-20 10:00:00.000000000 -08:00",
                         "  :score: ", "  :status: Submitted"]
        (out / "submission_metadata.yml").write_text("\n".join(metadata) + "\n")
    else:
        # Canvas's bulk download: <name>[_LATE]_<userid>_<submissionid>_<filename>, all in one folder.
        for n, s in enumerate(people):
            files = _entry_files(s)
            if not files:
                files = {"submission.txt": b""}  # Canvas lists no folders; an empty upload is an empty file
            canvas_name = s.name.lower().replace(" ", "")
            late = "_LATE" if s.key.startswith("late") else ""
            for name, content in files.items():
                resubmitted = name.replace(".py", "-1.py") if name == "mnist.py" else name  # Canvas renames re-uploads
                (out / f"{canvas_name}{late}_{s.canvas_id}_{3000000 + n}_{resubmitted}").write_bytes(content)
    return people


#: The assignment's column in the roster, as Canvas names it: "<title> (<assignment id>)".
ROSTER_ASSIGNMENT = "Chapter 3 Classification (4242)"


def write_roster(path: Path, people: list[Student]) -> Path:
    """A roster in the shape of Canvas's gradebook export (identity columns, the assignment, Points Possible)."""
    lines = [f"Student,ID,SIS User ID,SIS Login ID,Section,{ROSTER_ASSIGNMENT}", "    Points Possible,,,,,126.00"]
    for s in people:
        last, first = s.name.split(" ", 1)[1], s.name.split(" ", 1)[0]
        lines.append(f'"{last}, {first}",{s.canvas_id},{s.sid},{s.key}@example.edu,Section 1,')
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--layout", choices=LAYOUTS, default="folder")
    parser.add_argument("--students", type=int, default=22)
    args = parser.parse_args()
    people = build_class(args.out, args.layout, args.students)
    print(json.dumps({s.key: s.note for s in people}, indent=1))


if __name__ == "__main__":
    main()
