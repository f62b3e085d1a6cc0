"""The class's grade files: ``grades.csv`` for people, ``canvas_import.csv`` for Canvas's gradebook.

``grades.csv`` is UTF-8 *with* a byte-order mark: Excel reads a CSV without one in the
system's legacy code page and mangles accented names; pandas, Python's csv module with
``encoding="utf-8-sig"``, LibreOffice and Google Sheets all read the mark correctly.
The Canvas import follows Canvas's own gradebook export: Student, ID, SIS User ID,
SIS Login ID, Section, then one column for the assignment, and a "Points Possible" row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder.bulk.inputs import ROSTER_COLUMNS, read_roster
from autograder.bulk.store import atomic_write
from autograder.results import GradingResult

ASSIGNMENT_COLUMN = "Chapter 3: Classification"
GRADES_ENCODING = "utf-8-sig"


def grades_table(entries: list[dict], results: dict[str, GradingResult]) -> tuple[list[str], list[list]]:
    """The rows of grades.csv: one per submission, each question's points, status and grading seconds."""
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
        points = {q.id: q.points for q in result.questions} if result else {}
        total = result.score if result else 0.0
        maximum = result.max_score if result else None
        rows.append([
            entry["id"], entry.get("name", ""), entry.get("email", ""), f"{total:g}",
            f"{maximum:g}" if maximum is not None else "",
            f"{100 * total / maximum:.2f}" if maximum else "0.00",
            *[f"{points[qid]:g}" if qid in points else "" for qid in question_ids],
            entry["status"], _one_line(entry.get("error", "")),
            f"{result.seconds:.1f}" if result else "", entry.get("source", ""),
        ])
    return header, rows


def write_grades_csv(path: Path, entries: list[dict], results: dict[str, GradingResult]) -> Path:
    header, rows = grades_table(entries, results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 line ends, as spreadsheets write them
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write(path, "\ufeff" + buffer.getvalue())
    return Path(path)


def write_canvas_csv(path: Path, entries: list[dict], results: dict[str, GradingResult], roster: Path,
                     assignment: str = ASSIGNMENT_COLUMN) -> Path:
    """Canvas's gradebook import: every roster student, the score of the submission matched to them.

    Students without a gradable submission get an empty cell (Canvas leaves the grade as it is).
    """
    by_roster_id = {e["roster"]["ID"]: e for e in entries if e.get("roster")}
    max_score = next((r.max_score for r in results.values()), None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*ROSTER_COLUMNS, assignment])
    writer.writerow(["    Points Possible", "", "", "", "", f"{max_score:g}" if max_score is not None else ""])
    for row in read_roster(roster):
        entry = by_roster_id.get(row.get("ID", ""))
        result = results.get(entry["id"]) if entry else None
        writer.writerow([*(row.get(c, "") for c in ROSTER_COLUMNS), f"{result.score:g}" if result else ""])
    atomic_write(path, buffer.getvalue())
    return Path(path)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
