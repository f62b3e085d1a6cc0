"""Find the submissions in a class folder, in the layouts instructors really have.

    folder      one entry per student: a sub-folder of .py files, a .zip or an .ipynb
    gradescope  Gradescope's "Export Submissions": submission_metadata.yml + submission_<id>/ folders
    canvas      Canvas's bulk download: <name>[_LATE]_<userid>_<submissionid>_<filename>, many files a student

Each layout yields :class:`Entry` objects; :func:`prepare` turns one into the flat module files
that ``grading.prepare_submission`` makes (notebooks included, once that stage reads them).
Nothing here raises for one bad entry: the entry carries the reason instead, so a batch never stops.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.contract import CONTRACT

LAYOUTS = ("folder", "gradescope", "canvas")
GRADESCOPE_METADATA = "submission_metadata.yml"
#: Canvas's bulk-download file names; "LATE" is inserted after the name for late submissions.
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)_(?:(?P<late>LATE)_)?(?P<userid>\d+)_(?P<subid>\d+)_(?P<filename>.+)$")
#: Canvas appends "-1", "-2" to a resubmitted file's name: confusion-1.py is confusion.py.
CANVAS_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-\d+(?P<suffix>\.[A-Za-z0-9]+)$")
#: Files and folders operating systems leave behind; never a student's entry.
JUNK = {".DS_Store", "__MACOSX", "Thumbs.db", "desktop.ini"}
ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: Travels with a prepared submission's files when preparation has something to say (skipped
#: files, a notebook's line map); the grading job takes it out before the worker sees the files.
PREPARATION_FILE = "_preparation.json"


@dataclass
class Entry:
    """One student's submission as found in the class folder (before preparation)."""

    id: str                                  # folder-safe student id: the per-student output folder's name
    source: str                              # where it came from, relative to the class folder
    name: str = ""
    email: str = ""
    paths: list[Path] = field(default_factory=list)  # the file(s) or folder that make the submission
    error: str = ""                          # why it cannot be graded ("" when it can)
    lms: dict = field(default_factory=dict)  # layout ids: canvas_user_id, submission_id, sid, late, ...

    def manifest(self) -> dict:
        return {"id": self.id, "name": self.name, "email": self.email, "source": self.source, **self.lms}


class LayoutError(ValueError):
    """The class folder as a whole cannot be read (not a single entry's problem)."""


# -------------------------------------------------------------------- discovery

def detect_layout(root: Path) -> str:
    """``gradescope`` when the metadata file is there, ``canvas`` when the files carry Canvas's names."""
    root = Path(root)
    if (root / GRADESCOPE_METADATA).is_file():
        return "gradescope"
    files = [p for p in root.iterdir() if p.is_file() and p.name not in JUNK]
    if files and all(CANVAS_NAME.match(p.name) for p in files) and not any(p.is_dir() for p in root.iterdir()
                                                                           if p.name not in JUNK):
        return "canvas"
    return "folder"


def discover(root: Path, layout: str | None = None) -> list[Entry]:
    """Every entry of the class folder ``root``, in a stable order, with ids made unique.

    Parameters
    ----------
    root : Path
        The class folder (an LMS export unzipped, or one entry per student).
    layout : {"folder", "gradescope", "canvas"} or None
        None detects it (see :func:`detect_layout`).

    Returns
    -------
    list of Entry
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"The submissions folder {root} does not exist or is not a folder "
                          "(unzip an LMS export first, or pass its .zip).")
    layout = layout or detect_layout(root)
    if layout not in LAYOUTS:
        raise LayoutError(f"The 'layout' parameter must be one of {LAYOUTS}. Got {layout!r} instead.")
    entries = {"folder": _folder_entries, "gradescope": _gradescope_entries, "canvas": _canvas_entries}[layout](root)
    if not entries:
        raise LayoutError(f"{root} holds no submissions (expected one sub-folder, .zip or .ipynb per student, "
                          "a Gradescope export or a Canvas bulk download).")
    return _unique_ids(entries)


def _folder_entries(root: Path) -> list[Entry]:
    children = sorted(p for p in root.iterdir() if p.name not in JUNK and not p.name.startswith("."))
    if any(p.suffix == ".py" and p.is_file() for p in children) and not any(p.is_dir() for p in children):
        raise LayoutError(f"{root} holds .py files directly: it looks like one submission; "
                          "grade it with `python -m autograder grade`, or put each student's files in a sub-folder.")
    entries = []
    for path in children:
        entry = Entry(id=path.stem if path.is_file() else path.name, source=path.name, paths=[path])
        if not (path.is_dir() or path.suffix.lower() in (".zip", ".ipynb")):
            entry.error = f"unrecognised entry {path.name!r}: expected a folder of .py files, a .zip or an .ipynb"
        entries.append(entry)
    return entries


def _gradescope_entries(root: Path) -> list[Entry]:
    import yaml

    try:
        metadata = yaml.safe_load((root / GRADESCOPE_METADATA).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LayoutError(f"{root / GRADESCOPE_METADATA} is not readable YAML: {exc}") from exc
    if not isinstance(metadata, dict):
        raise LayoutError(f"{root / GRADESCOPE_METADATA} must map submission folders to their metadata.")
    entries, seen = [], set()
    for folder_name, info in metadata.items():
        folder_name = str(folder_name)
        seen.add(folder_name)
        submitters = _field(info, "submitters") or []
        people = [s for s in submitters if isinstance(s, dict)]
        first = people[0] if people else {}
        sid = str(_field(first, "sid") or "").strip()
        email = str(_field(first, "email") or "").strip()
        entry = Entry(id=sid or email.split("@")[0] or folder_name, source=folder_name,
                      name="; ".join(str(_field(p, "name") or "") for p in people),
                      email="; ".join(str(_field(p, "email")) for p in people if _field(p, "email")),
                      paths=[root / folder_name],
                      lms={"submission_id": folder_name.removeprefix("submission_"), "sid": sid})
        if not (root / folder_name).is_dir():
            entry.error = f"{folder_name} is listed in {GRADESCOPE_METADATA} but its folder is missing"
        entries.append(entry)
    for path in sorted(root.iterdir()):  # folders the metadata does not list: graded, without a name
        if path.is_dir() and path.name not in seen and path.name not in JUNK:
            entries.append(Entry(id=path.name, source=path.name, paths=[path]))
    return entries


def _field(info, name: str):
    """Gradescope writes Ruby symbols as keys (``:sid:``); YAML reads them as ``":sid"``."""
    if not isinstance(info, dict):
        return None
    return next((info[k] for k in (f":{name}", name, f":{name}:") if k in info), None)


def _canvas_entries(root: Path) -> list[Entry]:
    by_student: dict[str, Entry] = {}
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.name not in JUNK):
        match = CANVAS_NAME.match(path.name)
        userid = match["userid"]
        entry = by_student.setdefault(userid, Entry(
            id=userid, source="", name=match["name"], paths=[],
            lms={"canvas_user_id": userid, "submission_id": match["subid"], "late": bool(match["late"])}))
        entry.paths.append(path)
    for entry in by_student.values():
        first = entry.paths[0].name
        prefix = first[: len(first) - len(CANVAS_NAME.match(first)["filename"])]
        entry.source = f"{prefix}* ({len(entry.paths)} file{'s' * (len(entry.paths) > 1)})"
    return list(by_student.values())


def _unique_ids(entries: list[Entry]) -> list[Entry]:
    seen: dict[str, int] = {}
    for entry in entries:
        safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", entry.id).strip("._") or "submission"
        seen[safe] = seen.get(safe, 0) + 1
        entry.id = safe if seen[safe] == 1 else f"{safe}-{seen[safe]}"
    return entries


# ----------------------------------------------------------------------- roster

def read_roster(path: Path) -> list[dict]:
    """A roster in the shape of Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section).

    An ``Email`` column is used when present. Canvas's "Points Possible" row is skipped.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayoutError(f"The roster {path} is not a readable CSV file: {exc}") from exc
    columns = set(rows[0]) if rows else set()
    if not {"Student", "ID"} <= columns:
        raise LayoutError(f"The roster {path} must have Canvas's gradebook columns {list(ROSTER_COLUMNS)} "
                          f"(Student and ID at least). Got {sorted(columns)} instead.")
    return [r for r in rows if (r.get("Student") or "").strip() and "Points Possible" not in r["Student"]]


def apply_roster(entries: list[Entry], roster: list[dict]) -> None:
    """Fill in names and emails, and the student id, from the roster row that matches each entry.

    An entry matches a row by Canvas user id (``ID``), SIS user id, SIS login id or email.
    """
    index: dict[str, dict] = {}
    for row in roster:
        for column in ("ID", "SIS User ID", "SIS Login ID", "Email"):
            value = (row.get(column) or "").strip().lower()
            if value:
                index.setdefault(value, row)
    for entry in entries:
        keys = [entry.lms.get("canvas_user_id"), entry.lms.get("sid"), entry.id, *entry.email.split("; ")]
        row = next((index[k.strip().lower()] for k in keys if k and k.strip().lower() in index), None)
        if row is None:
            continue
        entry.name = row.get("Student") or entry.name
        login = (row.get("SIS Login ID") or "").strip()
        entry.email = entry.email or (row.get("Email") or "").strip() or (login if "@" in login else "")
        entry.lms["roster"] = {c: row.get(c, "") for c in ROSTER_COLUMNS}
        entry.id = (row.get("SIS User ID") or "").strip() or (row.get("ID") or "").strip() or entry.id
    _unique_ids(entries)


# -------------------------------------------------------------------- preparation

def prepare(entry: Entry) -> dict[str, bytes]:
    """The entry's prepared module files ``{name: bytes}`` as ``grading.prepare_submission`` makes them,
    plus ``PREPARATION_FILE`` when preparation skipped files or converted a notebook.

    Raises ``CannotGrade`` (from the pipeline) or ``ValueError`` with the reason when the entry
    cannot be graded: unreadable, empty, no module files.
    """
    from autograder.grading import CannotGrade, prepare_submission, preparation_record

    if entry.error:
        raise CannotGrade(entry.error)
    workdir = Path(tempfile.mkdtemp(prefix="ch3-bulk-prepare-"))
    try:
        source = entry.paths[0]
        if len(entry.paths) > 1 or "canvas_user_id" in entry.lms:
            source = _gather_canvas_files(entry.paths, workdir / "gathered")
        if source.is_dir():
            source = _submission_in_folder(source, entry)
        notes: list[str] = []
        try:
            prepared = prepare_submission(source, workdir / "prepared", notes)
        except CannotGrade as exc:  # name the entry, not our scratch copy of it
            raise CannotGrade(str(exc).replace(str(source), entry.source)) from None
        files = {p.name: p.read_bytes() for p in sorted(prepared.iterdir()) if p.is_file()}
        preparation = preparation_record(workdir / "prepared", notes)
        if preparation["notes"] or preparation["notebook_lines"]:  # skipped files, a notebook's line map
            files[PREPARATION_FILE] = json.dumps(preparation, sort_keys=True).encode()
        if not any(name.endswith(".py") and name[:-3] in CONTRACT for name in files):
            found = ", ".join(sorted(files)) or "no files"
            raise CannotGrade(f"{entry.source} holds none of the assignment's modules "
                              f"({', '.join(m + '.py' for m in list(CONTRACT)[:3])}, ...); found {found}")
        return files
    except OSError as exc:
        raise CannotGrade(f"{entry.source} is not readable: {exc}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _submission_in_folder(folder: Path, entry: Entry) -> Path:
    """The folder itself, or what an upload wrapped: a single sub-folder, a single .zip or .ipynb."""
    from autograder.grading import CannotGrade

    children = [p for p in folder.iterdir() if p.name not in JUNK and not p.name.startswith(".")]
    if not children:
        raise CannotGrade(f"{entry.source} is empty")
    if any(p.suffix == ".py" for p in children):
        return folder
    wrapped = [p for p in children if p.is_dir() or p.suffix.lower() in (".zip", ".ipynb")]
    return wrapped[0] if len(wrapped) == 1 else folder


def _gather_canvas_files(paths: list[Path], folder: Path) -> Path:
    """One Canvas student's files under their own names; a single .zip or .ipynb is passed on whole."""
    originals = [CANVAS_NAME.match(p.name)["filename"] for p in paths]
    if len(paths) == 1 and originals[0].lower().endswith((".zip", ".ipynb")):
        target = folder / originals[0]
        folder.mkdir(parents=True)
        shutil.copyfile(paths[0], target)
        return target
    folder.mkdir(parents=True)
    for path, original in zip(paths, originals):
        resubmitted = CANVAS_RESUBMITTED.match(original)
        if resubmitted and resubmitted["stem"] in CONTRACT:
            original = resubmitted["stem"] + resubmitted["suffix"]
        shutil.copyfile(path, folder / original)
    return folder
