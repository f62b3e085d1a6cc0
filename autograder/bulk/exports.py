"""The class's grade files: ``grades.csv`` for people, and the LMS gradebook imports.

    grades.csv                    one row per submission: each question's points, status, error
    canvas_import.csv             Canvas's Gradebook "Import": the roster's rows, one assignment column
    moodle_grading_worksheet.csv  Moodle's assignment "Upload grading worksheet"

Every CSV the project writes goes through :func:`write_csv`: a cell of ours that a spreadsheet would
run as a formula (it starts with ``= + - @``, a tab or a carriage return, as OWASP's "CSV Injection"
page lists) gets a leading ``'``, so Excel, LibreOffice and Google Sheets show it as text;
plain numbers (``-1.5``), a lone ``-`` and ordinary names are written as they are and read back unchanged.
Columns an LMS imports as text and that come from the LMS's own file (the Moodle worksheet's
feedback comments, its other downloaded cells) are ``verbatim``: written as the teacher wrote them,
since a ``'`` would reach the gradebook.

``grades.csv`` is UTF-8 *with* a byte-order mark: Excel reads a CSV without one in the
system's legacy code page and mangles accented names; pandas, Python's csv module with
``encoding="utf-8-sig"``, LibreOffice and Google Sheets all read the mark correctly.

Canvas's import (its Gradebook export's layout): the identity columns ``Student, ID,
SIS User ID, SIS Login ID, Section`` as the roster has them, then the assignment's own column,
named as in the roster (``Title (assignment id)``; a column Canvas does not know creates a
new assignment), and a ``Points Possible`` row. Moodle's worksheet: ``Identifier`` is
``Participant <id>``; the upload reads ``Identifier``, ``Grade`` and ``Last modified (grade)``
and skips an empty grade or one above the assignment's maximum.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from autograder.bulk.inputs import LayoutError, read_csv_rows, read_roster
from autograder.bulk.store import atomic_write
from autograder.results import GradingResult, percent

#: The assignment's name, matched (case, punctuation and the "(id)" suffix aside) against the roster's columns.
ASSIGNMENT_TITLE = "Chapter 3: Classification"
GRADES_ENCODING = "utf-8-sig"
#: Canvas's identity columns, in the order of its export; the import writes those the roster has.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
#: Columns Canvas computes (read only on import): never an assignment to write into.
CANVAS_COMPUTED = re.compile(r"(Current|Final|Unposted) (Points|Score|Grade)$|^Override (Score|Grade)$")
CANVAS_ASSIGNMENT_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)\s*$")
#: Moodle's worksheet columns (English strings of mod/assign: recordid, grade, maxgrade, lastmodifiedgrade, ...).
MOODLE_IDENTIFIER, MOODLE_GRADE, MOODLE_MAX, MOODLE_MODIFIED = (
    "Identifier", "Grade", "Maximum Grade", "Last modified (grade)")
MOODLE_PARTICIPANT = "Participant "
#: The worksheet's identity columns (those the site's "Show user identity" setting adds), matched to a
#: person's id or email by :func:`moodle_participants`.
MOODLE_IDENTITY = ("ID number", "Username", "Email address")
MOODLE_COLUMNS = (MOODLE_IDENTIFIER, "Full name", "Email address", "Status", MOODLE_GRADE, MOODLE_MAX,
                  "Grade can be changed", "Last modified (submission)", MOODLE_MODIFIED)
#: What a spreadsheet treats as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


# --------------------------------------------------------------------- writing CSV

def spreadsheet_safe(cell) -> str:
    """``cell`` as text a spreadsheet shows and never evaluates: ``'`` before a formula start."""
    text = "" if cell is None else str(cell)
    if len(text) > 1 and text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_text(header: list[str], rows: list[list], verbatim=()) -> str:
    """RFC 4180 text (CRLF line ends, as spreadsheets write them), every cell through :func:`spreadsheet_safe`
    but those of the ``verbatim`` columns (names in ``header``), written as they are."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    raw = {n for n, name in enumerate(header) if name in set(verbatim)}
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else str(cell) if n in raw else spreadsheet_safe(cell)
                         for n, cell in enumerate(row)])
    return buffer.getvalue()


def csv_file_text(header: list[str], rows: list[list], *, bom: bool = False, verbatim=()) -> str:
    """A CSV file's whole text (see :func:`csv_text`); ``bom``: with a byte-order mark, for Excel."""
    return ("\ufeff" if bom else "") + csv_text(header, rows, verbatim)


def write_csv(path: Path, header: list[str], rows: list[list], *, bom: bool = False, verbatim=()) -> Path:
    """Write a CSV atomically (see :func:`csv_file_text`)."""
    atomic_write(path, csv_file_text(header, rows, bom=bom, verbatim=verbatim))
    return Path(path)


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


# ---------------------------------------------------------------------- grades.csv

def grades_table(entries: list[dict], results: dict[str, GradingResult],
                 not_final: dict[str, str] | None = None) -> tuple[list[str], list[list]]:
    """The rows of grades.csv: one per submission, each question's points, status and grading seconds.

    ``results`` holds the final results only; an entry in ``not_final`` (id -> reason) gets blank
    points, the status ``not_final`` and its reason as the error."""
    not_final = not_final or {}
    question_ids: list[str] = []
    for result in results.values():
        for q in result.questions:
            if q.id not in question_ids:
                question_ids.append(q.id)
    header = ["id", "name", "email", "total", "max_score", "percent", *question_ids, "status", "error",
              "seconds", "source"]
    rows = []
    for entry in entries:
        result = results.get(entry["id"])
        if entry["id"] in not_final:
            rows.append([entry["id"], entry.get("name", ""), entry.get("email", ""), "", "", "",
                         *[""] * len(question_ids), "not_final", _one_line(not_final[entry["id"]]), "",
                         entry.get("source", "")])
            continue
        # No result (it could not be graded, or the grader or the machine failed on it): blank, never 0.
        points = {q.id: q.points for q in result.questions} if result else {}
        total = f"{result.score:g}" if result else ""
        maximum = result.max_score if result else None
        rows.append([
            entry["id"], entry.get("name", ""), entry.get("email", ""), total,
            f"{maximum:g}" if maximum is not None else "",
            f"{percent(result.score, maximum):.2f}" if maximum else ("0.00" if result else ""),
            *[f"{points[qid]:g}" if qid in points else "" for qid in question_ids],
            entry["status"], _one_line(entry.get("error", "")),
            f"{result.seconds:.1f}" if result else "", entry.get("source", ""),
        ])
    return header, rows


def write_grades_csv(path: Path, entries: list[dict], results: dict[str, GradingResult],
                     not_final: dict[str, str] | None = None) -> Path:
    header, rows = grades_table(entries, results, not_final)
    return write_csv(path, header, rows, bom=True)


# -------------------------------------------------------------------- the total

def assignment_total(spec: Path | None = None) -> float:
    """The whole assignment's points (every question of ``spec``; default: the installed questions.toml)."""
    from autograder.spec import load_spec

    return float(sum(q.points for q in load_spec(spec).values()))


def check_gradebook_selection(questions, *, partial_export: bool, spec: Path | None = None) -> None:
    """A gradebook export records the whole assignment: a ``-q`` subset is refused unless asked for.
    ``spec``: the questions.toml graded with (default: the installed one).

    Raises
    ------
    ValueError
        ``questions`` selects part of the assignment and ``partial_export`` is False.
    """
    if not questions or partial_export:
        return
    from autograder.spec import load_spec, select

    chosen = sum(q.points for q in select(load_spec(spec), chosen=questions))
    total = assignment_total(spec)
    if chosen < total:
        raise ValueError(f"-q grades {chosen:g} of the assignment's {total:g} points: a gradebook export would "
                         f"record every student out of {chosen:g}. Grade the whole assignment, or pass "
                         "--partial-export to export the subset's points (Points Possible then says so).")


def _scaled(score: float, maximum: float, target: float | None) -> float:
    """``score`` out of ``maximum``, as points of an LMS assignment worth ``target`` (None: unchanged)."""
    if not target or not maximum or abs(target - maximum) < 1e-9:
        return score
    return score * target / maximum


def _score(sid: str, result: GradingResult, points: dict[str, float] | None) -> float:
    return points[sid] if points and sid in points else result.score


def _number(text: str) -> float | None:
    try:
        value = float((text or "").replace(",", ".").strip())
    except ValueError:
        return None
    return value if value > 0 else None


# ------------------------------------------------------------------------ Canvas

def _normalised(name: str) -> str:
    match = CANVAS_ASSIGNMENT_ID.match(name)
    title = match["title"] if match else name
    return re.sub(r"[^0-9a-z]+", "", title.casefold())


def canvas_assignment_column(header: list[str], assignment: str | None = None) -> str:
    """The roster's column for the assignment, by ``assignment`` (its name, its Canvas id, or the column
    exactly) or, when None, by the project's title; names compare without case, punctuation or "(id)".

    Raises
    ------
    LayoutError
        No column or several columns match: the message lists the roster's assignment columns.
    """
    columns = [c for c in header if c not in CANVAS_IDENTITY and c.strip() and not CANVAS_COMPUTED.search(c)]
    wanted = (assignment or ASSIGNMENT_TITLE).strip()
    if wanted in columns:
        return wanted
    matches = [c for c in columns if _normalised(c) == _normalised(wanted)
               or ((m := CANVAS_ASSIGNMENT_ID.match(c)) and m["id"] == wanted)]
    if len(matches) == 1:
        return matches[0]
    offered = "; ".join(columns) or "none"
    if not columns:
        raise LayoutError("The roster has no assignment column: create the assignment in Canvas, then export the "
                          "Gradebook again and pass that file with --roster (a column Canvas does not know would "
                          "create a new assignment on import).")
    how = "several columns match" if matches else "no column matches"
    raise LayoutError(f"The roster's assignment for this grade: {how} {wanted!r}. Pass --assignment with one of "
                      f"the roster's assignment columns: {offered}")


def roster_table(roster: Path) -> tuple[list[str], list[list[str]]]:
    try:
        rows = read_csv_rows(roster)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayoutError(f"The roster {roster} is not a readable CSV file: {exc}") from exc
    if not rows:
        raise LayoutError(f"The roster {roster} is empty.")
    return rows[0], rows[1:]


def roster_matches(entries: list[dict]) -> dict[str, dict]:
    """Canvas ID -> the entry matched to that roster row; a group's entry under each member's ID.

    Raises
    ------
    LayoutError
        Two entries claim one roster row (``inputs.apply_roster`` refuses that before grading).
    """
    by_id: dict[str, dict] = {}
    for entry in entries:
        for row in entry.get("roster_rows") or ([entry["roster"]] if entry.get("roster") else []):
            other = by_id.setdefault(row["ID"], entry)
            if other is not entry:
                raise LayoutError(f"The roster row with ID {row['ID']} matches both {other['id']} and {entry['id']}; "
                                  "no gradebook file was written. Correct the roster, then run grade-all --resume.")
    return by_id


def write_canvas_csv(path: Path, entries: list[dict], results: dict[str, GradingResult], roster: Path,
                     assignment: str | None = None, *, partial_export: bool = False) -> Path:
    """Write :func:`canvas_import_text` to ``path`` (``grade-all``'s ``canvas_import.csv``)."""
    atomic_write(path, canvas_import_text(entries, results, roster, assignment, partial_export=partial_export))
    return Path(path)


def canvas_import_text(entries: list[dict], results: dict[str, GradingResult], roster: Path,
                       assignment: str | None = None, *, partial_export: bool = False,
                       points: dict[str, float] | None = None, total: float | None = None) -> str:
    """Canvas's gradebook import: every roster student, the score of the submission matched to them.

    The assignment column is the roster's own (see :func:`canvas_assignment_column`). Points
    Possible is the assignment's total; when the roster's Points Possible row gives the Canvas
    assignment other points, scores are scaled to them. ``partial_export``: the graded questions'
    total and their raw points, never scaled.
    ``results`` holds final results only: students without one (nothing gradable, or a result that
    is not final) get an empty cell (Canvas leaves the grade as it is).
    ``points`` (id -> score) is the score to export where it is not the result's own (the service's
    counted score, after its late penalty); ``total``: the assignment's points where they are not
    those of the installed ``questions.toml`` (a course server's copy).
    """
    read_roster(roster)  # the roster's own checks (Student and ID columns)
    header, rows = roster_table(Path(roster))
    column = canvas_assignment_column(header, assignment)
    at = header.index(column)
    identity = [c for c in CANVAS_IDENTITY if c in header]
    maxima = [r.max_score for r in results.values()]
    total = max(maxima) if partial_export and maxima else total or assignment_total()
    possible_row = next((r for r in rows if r and r[0].strip() == "Points Possible"), None)
    canvas_points = _number(possible_row[at]) if possible_row and at < len(possible_row) else None
    if partial_export:  # the subset's own points, as asked: never stretched over the whole assignment
        canvas_points = None
    points_possible = canvas_points or total
    by_roster_id = roster_matches(entries)
    out_rows = [["    Points Possible", *[""] * (len(identity) - 1), _points(points_possible)]]
    for row in read_roster(roster):
        entry = by_roster_id.get(row.get("ID", ""))
        result = results.get(entry["id"]) if entry else None
        score = _points(_scaled(_score(entry["id"], result, points), total, canvas_points)) if result else ""
        out_rows.append([*(row.get(c, "") for c in identity), score])
    return csv_file_text([*identity, column], out_rows, bom=True)


# ------------------------------------------------------------------------ Moodle

def _moodle_grade(value: float) -> str:
    return f"{value:.2f}"  # Moodle's own worksheet writes two decimals; its upload reads a point or a comma


def read_moodle_worksheet(worksheet: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of Moodle's downloaded grading worksheet.

    Raises
    ------
    LayoutError
        Unreadable, or without Moodle's Identifier, Grade or Last modified (grade) column.
    """
    try:
        table = read_csv_rows(worksheet)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayoutError(f"The Moodle worksheet {worksheet} is not a readable CSV file: {exc}") from exc
    header = table[0] if table else []
    missing = [c for c in (MOODLE_IDENTIFIER, MOODLE_GRADE, MOODLE_MODIFIED) if c not in header]
    if missing:
        raise LayoutError(f"{worksheet} is not a Moodle grading worksheet: it lacks {', '.join(missing)} "
                          f"(download it from the assignment: View all submissions > Download grading worksheet; "
                          f"columns found: {', '.join(header) or 'none'}).")
    return header, table[1:]


def moodle_participants(worksheet: Path, people: list[dict]) -> dict[str, str]:
    """Each person's participant id in Moodle's downloaded ``worksheet``: ``people`` are ``{"id", "email"}``
    dicts, matched by the worksheet's identity columns (:data:`MOODLE_IDENTITY`, those the site shows),
    compared without case. A person found in no row is left out.

    Raises
    ------
    LayoutError
        The worksheet is not Moodle's (see :func:`read_moodle_worksheet`), or a person matches
        several rows, or a row matches several people: the conflicts are named.
    """
    header, body = read_moodle_worksheet(Path(worksheet))
    ident = header.index(MOODLE_IDENTIFIER)
    columns = [header.index(c) for c in MOODLE_IDENTITY if c in header]
    index: dict[str, set[str]] = {}
    for row in body:
        row = row + [""] * (len(header) - len(row))
        participant = row[ident].removeprefix(MOODLE_PARTICIPANT).strip()
        for n in columns:
            if row[n].strip():
                index.setdefault(row[n].strip().casefold(), set()).add(participant)
    found: dict[str, str] = {}
    conflicts, claimed = [], {}
    for person in people:
        keys = {str(person.get(k) or "").strip().casefold() for k in ("id", "email")} - {""}
        hits = sorted({p for key in keys for p in index.get(key, ())})
        if len(hits) > 1:
            conflicts.append(f"{person['id']} matches several participants: {', '.join(hits)}")
        elif hits:
            found[str(person["id"])] = hits[0]
            claimed.setdefault(hits[0], []).append(str(person["id"]))
    conflicts += [f"{MOODLE_PARTICIPANT}{p} matches several people: {', '.join(ids)}"
                  for p, ids in sorted(claimed.items()) if len(ids) > 1]
    if conflicts:
        raise LayoutError(f"The Moodle worksheet {worksheet} does not identify every student unambiguously: "
                          + "; ".join(conflicts))
    return found


def write_moodle_worksheet(path: Path, entries: list[dict], results: dict[str, GradingResult],
                           worksheet: Path | None = None, *, partial_export: bool = False,
                           not_final: dict[str, str] | None = None) -> Path:
    """Write :func:`moodle_worksheet_text` to ``path`` (``grade-all``'s ``moodle_grading_worksheet.csv``)."""
    atomic_write(path, moodle_worksheet_text(entries, results, worksheet, partial_export=partial_export,
                                             not_final=not_final))
    return Path(path)


def moodle_worksheet_text(entries: list[dict], results: dict[str, GradingResult], worksheet: Path | None = None,
                          *, partial_export: bool = False, not_final: dict[str, str] | None = None,
                          points: dict[str, float] | None = None, total: float | None = None) -> str:
    """Moodle's grading worksheet for "Upload grading worksheet".

    With ``worksheet`` (the one downloaded from the assignment's "Download grading worksheet"),
    that file comes back with its Grade column filled and every other cell as it was (feedback
    comments and the last-modified dates Moodle compares stay as downloaded); grades are scaled to
    its Maximum Grade. Without it, the worksheet lists the graded participants of a Moodle download
    with the columns the upload needs, and the assignment's total as Maximum Grade.
    Participants are matched by the id in ``Participant <id>`` (the download's folder names).
    ``results`` holds final results only: any other participant's Grade is left empty (Moodle skips
    it); ``not_final`` (id -> reason) gives the Status of the worksheet written without a download.
    ``points`` and ``total`` as in :func:`canvas_import_text`.

    Raises
    ------
    LayoutError
        ``worksheet`` lacks Moodle's Identifier, Grade or Last modified (grade) column.
    """
    maxima = [r.max_score for r in results.values()]
    total = max(maxima) if partial_export and maxima else total or assignment_total()
    by_participant = {str(e.get("moodle_participant")): e for e in entries if e.get("moodle_participant")}

    def grade_for(participant: str, target: float | None) -> str:
        entry = by_participant.get(participant)
        result = results.get(entry["id"]) if entry else None
        return _moodle_grade(_scaled(_score(entry["id"], result, points), total, target)) if result else ""

    if worksheet is None:
        rows = []
        for participant, entry in sorted(by_participant.items()):
            rows.append([f"{MOODLE_PARTICIPANT}{participant}", entry.get("name", ""), entry.get("email", ""),
                         "graded by the ch3 autograder" if entry["id"] in results else
                         f"not final: {not_final[entry['id']]}" if entry["id"] in (not_final or {})
                         else entry.get("status", ""),
                         grade_for(participant, None), _moodle_grade(total), "Yes", "-", "-"])
        return csv_file_text(list(MOODLE_COLUMNS), rows)

    header, body = read_moodle_worksheet(Path(worksheet))
    ident, grade = header.index(MOODLE_IDENTIFIER), header.index(MOODLE_GRADE)
    maximum = header.index(MOODLE_MAX) if MOODLE_MAX in header else None
    rows = []
    for row in body:
        row = row + [""] * (len(header) - len(row))
        participant = row[ident].removeprefix(MOODLE_PARTICIPANT).strip()
        target = _number(row[maximum]) if maximum is not None and not partial_export else None
        filled = grade_for(participant, target)
        entry = by_participant.get(participant)
        if filled or (entry and entry["id"] in (not_final or {})):
            row[grade] = filled  # a result that is not final: empty (Moodle skips it), never the old number
        rows.append(row)
    # Moodle's own cells come back as downloaded: it imports its feedback columns as text.
    return csv_file_text(header, rows, verbatim=[c for c in header if c != MOODLE_GRADE])


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
