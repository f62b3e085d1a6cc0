"""Find the submissions in a class folder, in the layouts instructors really have.

    folder      one entry per student: a sub-folder of .py files, a .zip or an .ipynb
    gradescope  Gradescope's "Export Submissions": submission_metadata.yml + submission_<id>/ folders
    canvas      Canvas's bulk download: <name>[_LATE]_<userid>_<submissionid>_<filename>, many files a student
    moodle      Moodle's "Download all submissions": <Full name>_<participant id>_assignsubmission_file_/<files>
                (Moodle 3.1+), or the same prefix on each file without folders

Each layout yields :class:`Entry` objects; :func:`prepare` turns one into the
:class:`~autograder.intake.PreparedSubmission` that ``intake.prepare`` reads from any submission.
Nothing here raises for one bad entry: the entry carries the reason instead, so a batch never stops.
Nothing here follows a link: entries are checked with ``lstat`` and a link is an entry that
cannot be graded, with the reason; below an entry, ``intake.prepare`` walks folders without
following links.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.contract import CONTRACT
from autograder.files import NotARegularFile, read_regular_file
from autograder.intake import MAX_FILE_BYTES, MAX_ZIP_BYTES, PreparedSubmission
from autograder.intake import prepare as read_submission
from autograder.results import CannotGrade

LAYOUTS = ("folder", "gradescope", "canvas", "moodle")
GRADESCOPE_METADATA = "submission_metadata.yml"
#: Canvas's bulk-download file names; "LATE" is inserted after the name for late submissions.
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)_(?:(?P<late>LATE)_)?(?P<userid>\d+)_(?P<subid>\d+)_(?P<filename>.+)$")
#: Canvas appends "-1", "-2" to a resubmitted file's name: confusion-1.py is confusion.py, attempt 1.
CANVAS_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-(?P<attempt>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")
#: Moodle's download names: "<full name>_<participant id>_assignsubmission_<plugin>_" then the file name
#: (flat) or a folder of the files (Moodle 3.1+, "Download submissions in folders"). Moodle turns "_"
#: in names into spaces, so the first "_<digits>_assignsubmission_" ends the name.
MOODLE_NAME = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<filename>.*)$")
#: Moodle's submission plugin whose files are the student's upload (onlinetext and others are not graded).
MOODLE_FILE_PLUGIN = "file"
#: Files and folders operating systems leave behind; never a student's entry.
JUNK = {".DS_Store", "__MACOSX", "Thumbs.db", "desktop.ini"}
ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: The roster columns each kind of identity is looked up in: a Canvas user id is Canvas's ``ID`` and
#: nothing else; an SIS id, an email or a folder's name may be any of the identity columns.
ROSTER_KEYS = {"canvas_user_id": ("ID",),
               "sid": ("SIS User ID", "ID", "SIS Login ID"),
               "email": ("Email", "SIS Login ID"),
               "id": ("ID", "SIS User ID", "SIS Login ID", "Email")}
#: csv's default field limit (131,072 characters) stops on a long online text or comment: LMS files are read whole.
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


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

def _mode(path: Path) -> int:
    """The entry's own type (a link is a link, never its target); 0 if it vanished."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _is_dir(path: Path) -> bool:
    return stat.S_ISDIR(_mode(path))


def _is_file(path: Path) -> bool:
    return stat.S_ISREG(_mode(path))


def _listing(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name not in JUNK and not p.name.startswith("."))


def detect_layout(root: Path) -> str:
    """``gradescope`` when the metadata file is there, ``canvas`` or ``moodle`` when every entry carries
    that LMS's download names, ``folder`` otherwise."""
    root = Path(root)
    if _is_file(root / GRADESCOPE_METADATA):
        return "gradescope"
    children = _listing(root)
    if children and all(MOODLE_NAME.match(p.name) for p in children):
        return "moodle"
    if children and all(_is_file(p) and CANVAS_NAME.match(p.name) for p in children):
        return "canvas"
    return "folder"


def discover(root: Path, layout: str | None = None) -> list[Entry]:
    """Every entry of the class folder ``root``, in a stable order, with ids made unique.

    Parameters
    ----------
    root : Path
        The class folder (an LMS export unzipped, or one entry per student).
    layout : {"folder", "gradescope", "canvas", "moodle"} or None
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
    entries = {"folder": _folder_entries, "gradescope": _gradescope_entries, "canvas": _canvas_entries,
               "moodle": _moodle_entries}[layout](root)
    if not entries:
        raise LayoutError(f"{root} holds no submissions (expected one sub-folder, .zip or .ipynb per student, "
                          "a Gradescope export, a Canvas bulk download or a Moodle download).")
    return _unique_ids(entries)


def _folder_entries(root: Path) -> list[Entry]:
    children = _listing(root)
    if any(p.suffix == ".py" and _is_file(p) for p in children) and not any(_is_dir(p) for p in children):
        raise LayoutError(f"{root} holds .py files directly: it looks like one submission; "
                          "grade it with `python -m autograder grade`, or put each student's files in a sub-folder.")
    entries = []
    for path in children:
        mode = _mode(path)
        entry = Entry(id=path.name if stat.S_ISDIR(mode) else path.stem, source=path.name, paths=[path])
        if stat.S_ISLNK(mode):
            entry.error = f"{path.name} is a symbolic link: skipped (links are never followed)"
        elif not (stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and path.suffix.lower() in (".zip", ".ipynb"))):
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
        members = [{"name": str(_field(p, "name") or "").strip(), "sid": str(_field(p, "sid") or "").strip(),
                    "email": str(_field(p, "email") or "").strip()} for p in people]
        entry = Entry(id=sid or email.split("@")[0] or folder_name, source=folder_name,
                      name="; ".join(m["name"] for m in members),
                      email="; ".join(m["email"] for m in members if m["email"]),
                      paths=[root / folder_name],
                      lms={"submission_id": folder_name.removeprefix("submission_"), "sid": sid,
                           "members": members})
        mode = _mode(root / folder_name)
        if stat.S_ISLNK(mode):
            entry.error = f"{folder_name} is a symbolic link: skipped (links are never followed)"
        elif not stat.S_ISDIR(mode):
            entry.error = f"{folder_name} is listed in {GRADESCOPE_METADATA} but its folder is missing"
        entries.append(entry)
    for path in sorted(root.iterdir()):  # folders the metadata does not list: graded, without a name
        if _is_dir(path) and path.name not in seen and path.name not in JUNK:
            entries.append(Entry(id=path.name, source=path.name, paths=[path]))
    return entries


def _field(info, name: str):
    """Gradescope writes Ruby symbols as keys (``:sid:``); YAML reads them as ``":sid"``."""
    if not isinstance(info, dict):
        return None
    return next((info[k] for k in (f":{name}", name, f":{name}:") if k in info), None)


def _canvas_entries(root: Path) -> list[Entry]:
    by_student: dict[str, Entry] = {}
    for path in _listing(root):
        match = CANVAS_NAME.match(path.name)
        if not match:
            continue
        userid = match["userid"]
        entry = by_student.setdefault(userid, Entry(
            id=userid, source="", name=match["name"], paths=[],
            lms={"canvas_user_id": userid, "submission_id": match["subid"], "late": bool(match["late"])}))
        entry.paths.append(path)
        if int(match["subid"]) > int(entry.lms["submission_id"]):  # the newest submission's number
            entry.lms.update(submission_id=match["subid"], late=bool(match["late"]))
    for entry in by_student.values():
        first = entry.paths[0].name
        prefix = first[: len(first) - len(CANVAS_NAME.match(first)["filename"])]
        entry.source = f"{prefix}* ({len(entry.paths)} file{'s' * (len(entry.paths) > 1)})"
    return list(by_student.values())


def _moodle_entries(root: Path) -> list[Entry]:
    """One entry per participant id: the "file" plugin's folder, or its prefixed files (flat download)."""
    by_participant: dict[str, Entry] = {}
    for path in _listing(root):
        match = MOODLE_NAME.match(path.name)
        if not match:
            continue
        participant = match["participant"]
        entry = by_participant.setdefault(participant, Entry(
            id=f"participant_{participant}", source=f"{match['name']}_{participant}_*", name=match["name"],
            lms={"moodle_participant": participant}))
        if match["plugin"] == MOODLE_FILE_PLUGIN:
            entry.paths.append(path)
    for entry in by_participant.values():
        if not entry.paths:
            entry.error = f"{entry.source} has no uploaded files (only {MOODLE_FILE_PLUGIN!r}-plugin files are graded)"
    return list(by_participant.values())


def _unique_ids(entries: list[Entry]) -> list[Entry]:
    """Folder-safe ids, unique by construction (also without regard to case, as macOS and Windows compare).

    An id already taken gets the first free ``-2``, ``-3``, ... that is neither taken nor another
    entry's own id: ``x, x, x-2`` become ``x, x-3, x-2``.
    """
    safe = [re.sub(r"[^A-Za-z0-9._@-]+", "_", entry.id).strip("._") or "submission" for entry in entries]
    own = {s.casefold() for s in safe}
    taken: set[str] = set()
    for entry, wanted in zip(entries, safe):
        candidate, n = wanted, 1
        while candidate.casefold() in taken or (n > 1 and candidate.casefold() in own):
            n += 1
            candidate = f"{wanted}-{n}"
        taken.add(candidate.casefold())
        entry.id = candidate
    return entries


# ----------------------------------------------------------------------- roster

def read_csv_rows(path: Path) -> list[list[str]]:
    """Every row of a CSV file (UTF-8, a byte-order mark allowed), fields of any length.

    Raises ``OSError``, ``UnicodeDecodeError`` or ``csv.Error`` as reading does.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.reader(fh))
    finally:
        csv.field_size_limit(limit)


def read_roster(path: Path) -> list[dict]:
    """A roster in the shape of Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section).

    An ``Email`` column is used when present. Canvas's "Points Possible" row is skipped.
    """
    path = Path(path)
    try:
        table = read_csv_rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayoutError(f"The roster {path} is not a readable CSV file: {exc}") from exc
    header, body = (table[0], table[1:]) if table else ([], [])
    rows = [dict(zip(header, row + [""] * (len(header) - len(row)))) for row in body if row]
    columns = set(header) if rows else set()
    if not {"Student", "ID"} <= columns:
        raise LayoutError(f"The roster {path} must have Canvas's gradebook columns {list(ROSTER_COLUMNS)} "
                          f"(Student and ID at least). Got {sorted(columns)} instead.")
    return [r for r in rows if (r.get("Student") or "").strip() and "Points Possible" not in r["Student"]]


def _row_name(row: dict) -> str:
    ids = ", ".join(f"{c} {row[c]}" for c in ("ID", "SIS User ID", "SIS Login ID", "Email") if (row.get(c) or "").strip())
    return f"{row.get('Student', '')!r} ({ids})"


def _identities(entry: Entry) -> list[list[tuple[str, str]]]:
    """The people an entry is, each as the (kind, value) pairs that identify them (see :data:`ROSTER_KEYS`).

    A Canvas download names its student by Canvas user id only; a Gradescope group has one person
    per member of ``submitters``; a folder or Moodle entry is one person known by its id and email.
    """
    if entry.lms.get("canvas_user_id"):
        return [[("canvas_user_id", entry.lms["canvas_user_id"])]]
    members = entry.lms.get("members")
    if members:
        return [[(kind, m[kind]) for kind in ("sid", "email") if m.get(kind)] for m in members]
    return [[("id", entry.id), *(("email", e) for e in entry.email.split("; ") if e)]]


def apply_roster(entries: list[Entry], roster: list[dict]) -> None:
    """Fill in names and emails, and the student id, from the roster rows that match each entry.

    Each person of an entry (every member of a Gradescope group) is matched to a roster row by
    Canvas user id (the ``ID`` column only), SIS user id, SIS login id or email, compared without case.
    A match must be unambiguous: a person whose ids match several rows (a Canvas user id that is
    another student's SIS id, two rows with one id) or a row matched by two submissions is refused
    with the conflicting rows named, before anything is graded or written.

    Raises
    ------
    LayoutError
        A person matches several roster rows, or a roster row matches several submissions.
    """
    index: dict[tuple[str, str], list[int]] = {}
    for n, row in enumerate(roster):
        for column in ("ID", "SIS User ID", "SIS Login ID", "Email"):
            value = (row.get(column) or "").strip().casefold()
            if value:
                index.setdefault((column, value), []).append(n)
    conflicts: list[str] = []
    matched: dict[int, list[Entry]] = {}
    found: dict[int, list[int]] = {}
    for k, entry in enumerate(entries):
        rows: list[int] = []
        for person in _identities(entry):
            hits = sorted({n for kind, value in person for column in ROSTER_KEYS[kind]
                           for n in index.get((column, value.strip().casefold()), [])})
            if len(hits) > 1:
                conflicts.append(f"{entry.source}: its ids ({', '.join(v for _, v in person)}) match several "
                                 f"roster rows: {'; '.join(_row_name(roster[n]) for n in hits)}")
            elif hits and hits[0] not in rows:
                rows.append(hits[0])
        found[k] = rows
        for n in rows:
            matched.setdefault(n, []).append(entry)
    for n, claimants in matched.items():
        if len(claimants) > 1:
            conflicts.append(f"the roster row {_row_name(roster[n])} matches several submissions: "
                             f"{', '.join(e.source for e in claimants)}")
    if conflicts:
        raise LayoutError("The roster does not identify every submission unambiguously; nothing was graded or "
                          "written. Correct the roster (or the submissions' ids):\n  " + "\n  ".join(conflicts))
    for k, entry in enumerate(entries):
        rows = [roster[n] for n in found[k]]
        if not rows:
            continue
        first = rows[0]
        entry.name = "; ".join(r.get("Student") or "" for r in rows) or entry.name
        login = (first.get("SIS Login ID") or "").strip()
        entry.email = entry.email or (first.get("Email") or "").strip() or (login if "@" in login else "")
        entry.lms["roster"] = {c: first.get(c, "") for c in ROSTER_COLUMNS}
        if len(rows) > 1:  # a group: every member's row gets the group's grade
            entry.lms["roster_rows"] = [{c: r.get(c, "") for c in ROSTER_COLUMNS} for r in rows]
        entry.id = (first.get("SIS User ID") or "").strip() or (first.get("ID") or "").strip() or entry.id
    _unique_ids(entries)


# -------------------------------------------------------------------- preparation

def prepare(entry: Entry) -> PreparedSubmission:
    """The entry's :class:`~autograder.intake.PreparedSubmission`, as ``grade`` would read it (an LMS
    download's files gathered under their own names first).

    Raises ``CannotGrade`` with the reason when the entry cannot be graded: unreadable, empty, no
    module files.
    """
    if entry.error:
        raise CannotGrade(entry.error)
    workdir = Path(tempfile.mkdtemp(prefix="ch3-bulk-prepare-"))
    try:
        notes: list[str] = []
        source = entry.paths[0]
        if "canvas_user_id" in entry.lms:
            source = _gather_canvas_files(entry.paths, workdir / "gathered", notes)
        elif "moodle_participant" in entry.lms:
            source = _gather_moodle_files(entry, workdir / "gathered", notes)
        if _is_dir(source):
            source = _submission_in_folder(source, entry)
        try:
            prepared = read_submission(source)
        except CannotGrade as exc:  # name the entry, not our scratch copy of it
            raise CannotGrade(str(exc).replace(str(source), entry.source)) from None
        if not any(name.endswith(".py") and name[:-3] in CONTRACT for name in prepared.files):
            found = ", ".join(prepared.files) or "no files"
            raise CannotGrade(f"{entry.source} holds none of the assignment's modules "
                              f"({', '.join(m + '.py' for m in list(CONTRACT)[:3])}, ...); found {found}")
        return PreparedSubmission(prepared.files, (*notes, *prepared.notes), prepared.line_map, prepared.data_flags)
    except OSError as exc:
        raise CannotGrade(f"{entry.source} is not readable: {exc}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _submission_in_folder(folder: Path, entry: Entry) -> Path:
    """The folder itself, or what an upload wrapped: a single sub-folder, a single .zip or .ipynb.

    Entries are checked with ``lstat``: a link is never unwrapped; the folder itself is graded, and
    ``intake.prepare`` skips the link with a note (only links: the entry cannot be graded).
    """
    children = _listing(folder)
    if not children:
        raise CannotGrade(f"{entry.source} is empty")
    links = [p for p in children if stat.S_ISLNK(_mode(p))]
    real = [p for p in children if p not in links]
    if any(p.suffix == ".py" and _is_file(p) for p in real):
        return folder
    wrapped = [p for p in real if _is_dir(p) or (_is_file(p) and p.suffix.lower() in (".zip", ".ipynb"))]
    if len(wrapped) == 1 and not links:
        return wrapped[0]
    if links and not wrapped:
        names = ", ".join(p.name for p in links[:5])
        raise CannotGrade(f"{entry.source} holds only symbolic links ({names}): links are never followed")
    return folder


def _newest_first(paths: list[Path]) -> list[tuple[Path, str, tuple[int, int]]]:
    """Canvas files with their original names, newest first: by submission (or attachment) number, then by the
    re-upload number Canvas appends ("-1", "-2"), as numbers ("100" is newer than "99")."""
    found = []
    for path in paths:
        match = CANVAS_NAME.match(path.name)
        original, attempt = match["filename"], 0
        resubmitted = CANVAS_RESUBMITTED.match(original)
        if resubmitted and resubmitted["stem"] in CONTRACT:
            original, attempt = resubmitted["stem"] + resubmitted["suffix"], int(resubmitted["attempt"])
        found.append((path, original, (int(match["subid"]), attempt)))
    return sorted(found, key=lambda item: item[2], reverse=True)


def _gather_canvas_files(paths: list[Path], folder: Path, notes: list[str]) -> Path:
    """One Canvas student's files under their own names, the newest copy of each; a single .zip or .ipynb
    (the newest, if re-uploaded) is passed on whole. Older copies are named in a note."""
    folder.mkdir(parents=True)
    chosen: dict[str, Path] = {}
    for path, original, _ in _newest_first(paths):
        if original in chosen:
            notes.append(f"{original}: graded {chosen[original].name}, the newest upload; "
                         f"not graded: {path.name} (older)")
            continue
        chosen[original] = path
    wrapped = [name for name in chosen if name.lower().endswith((".zip", ".ipynb"))]
    if len(wrapped) == 1 and not any(name.endswith(".py") for name in chosen):
        chosen = {wrapped[0]: chosen[wrapped[0]]}
    for original, path in chosen.items():
        limit = MAX_ZIP_BYTES if original.lower().endswith(".zip") else MAX_FILE_BYTES
        try:
            content = read_regular_file(path, limit)
        except NotARegularFile as exc:
            notes.append(f"skipped {path.name}: {exc}")
            continue
        (folder / original).write_bytes(content)
    if len(chosen) == 1 and next(iter(chosen)).lower().endswith((".zip", ".ipynb")):
        target = folder / next(iter(chosen))
        if not target.exists():
            raise CannotGrade(f"{next(iter(chosen.values())).name} could not be read")
        return target
    return folder


def _gather_moodle_files(entry: Entry, folder: Path, notes: list[str]) -> Path:
    """A Moodle participant's upload: the "file" plugin's folder (3.1+), or the flat files under their own names."""
    folders = [p for p in entry.paths if MOODLE_NAME.match(p.name)["filename"] == "" or _is_dir(p)]
    if len(entry.paths) == 1 and folders:
        return folders[0]  # the walk below it never follows a link (a link here is refused by prepare)
    folder.mkdir(parents=True)
    for path in entry.paths:
        original = MOODLE_NAME.match(path.name)["filename"] or path.name
        limit = MAX_ZIP_BYTES if original.lower().endswith(".zip") else MAX_FILE_BYTES
        try:
            (folder / original).write_bytes(read_regular_file(path, limit))
        except NotARegularFile as exc:
            notes.append(f"skipped {path.name}: {exc}")
    return folder
