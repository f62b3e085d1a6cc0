"""What a fixed set of submissions scores under the lock: each question's points and figures.

The record (``tests/fixtures/locked_scores.json``) is made with ``python scripts/lock.py --scores``
in an environment installed under the lock, and names the locked version of every library that
computes figures. ``tests/test_locked_scores.py`` grades the same submissions again and compares.
Refreshing the lock therefore shows, in the record's diff, every grade the new versions move.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from autograder import lock
from autograder.grading import grade_path

PROJECT = Path(__file__).resolve().parents[1]
RECORD = PROJECT / "tests" / "fixtures" / "locked_scores.json"
FAIRNESS = PROJECT / "tests" / "fixtures" / "fairness"

#: Submissions whose scores depend on computed figures: the reference (full marks, every figure at
#: the reference's), and learners' forms with partial credit inside the bands.
SUBMISSIONS = {
    "reference": PROJECT / "solutions",
    "concepts_common_bugs": FAIRNESS / "concepts_common_bugs",
    "mistakes_exercises": FAIRNESS / "mistakes_exercises",
    "ex3_book_svc": FAIRNESS / "ex3_book_svc",
    "ex1_pca_knn": FAIRNESS / "ex1_pca_knn",
}

#: Figures are compared to this relative tolerance (the last digits of a float sum may differ
#: between CPUs); points and statuses exactly.
FIGURE_TOLERANCE = 1e-6


def locked_measuring_versions() -> dict[str, str]:
    """The locked version of each library that computes figures (what the record is valid for)."""
    pins = lock.locked_versions()
    return {name: pins.get(lock.canonical(name), "not locked") for name in lock.MEASURING_LIBRARIES}


def _figures(measurements: dict) -> dict[str, float]:
    """The numbers a score is computed from: the band's value and the named figures."""
    found = {}
    band = measurements.get("band") or {}
    if isinstance(band.get("value"), (int, float)):
        found["band"] = float(band["value"])
    for name, value in (measurements.get("figures") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[name] = float(value)
    return found


def scores(path: Path, out_dir: Path) -> dict[str, dict]:
    """Question id -> {status, points, figures} for the submission at ``path`` (quick profile)."""
    grade_path(path, out_dir, profile="quick")
    graded = json.loads((out_dir / "grading.json").read_text())
    return {q["id"]: {"status": q["status"], "points": q["points"], "figures": _figures(q["measurements"])}
            for q in graded["questions"]}


def current(work_dir: Path) -> dict:
    """The record as this environment grades it now."""
    return {"measuring_libraries": locked_measuring_versions(),
            "submissions": {name: scores(path, Path(work_dir) / name) for name, path in SUBMISSIONS.items()}}


def differences(recorded: dict, now: dict) -> list[str]:
    """One line per question whose status, points or figures differ (empty when the same)."""
    lines = []
    for name in sorted(set(recorded["submissions"]) | set(now["submissions"])):
        before, after = recorded["submissions"].get(name, {}), now["submissions"].get(name, {})
        for qid in sorted(set(before) | set(after)):
            b, a = before.get(qid), after.get(qid)
            if b is None or a is None:
                lines.append(f"{name} {qid}: {'not recorded' if b is None else 'not graded now'}")
                continue
            if (b["status"], b["points"]) != (a["status"], a["points"]):
                lines.append(f"{name} {qid}: {b['status']} {b['points']:g} -> {a['status']} {a['points']:g}")
            for figure in sorted(set(b["figures"]) | set(a["figures"])):
                x, y = b["figures"].get(figure), a["figures"].get(figure)
                if x is None or y is None or not math.isclose(x, y, rel_tol=FIGURE_TOLERANCE, abs_tol=1e-12):
                    lines.append(f"{name} {qid} {figure}: {x} -> {y}")
    return lines


def write(work_dir: Path) -> dict:
    """Grade the submissions and write the record; returns it."""
    record = current(work_dir)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record
