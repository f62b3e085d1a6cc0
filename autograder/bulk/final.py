"""The one gate between stored results and every output: only final results leave.

A stored result is **final** when

- its ``grading.json`` is the file the grader wrote: readable, and its SHA-256 is the digest
  recorded with it in the student's ``entry.json`` and in ``batch.json`` (which agree);
- no question of it ended in an infrastructure failure and the grader reported no error (the
  grader or the machine failed: none of it is the student's);
- it was graded by the grader installed now: the grader hash recorded with it
  (:func:`autograder.bulk.store.grader_hash`) is the installed one's;
- it is not held: not still pending (an interrupted batch), not marked for review (a ``review``
  note in its record), no question of it held for review by the policy (``status`` "held").

``grades.csv``, the Canvas and Moodle files, the class summary and ``report`` read stored results
only through :func:`final_results`; the submission service, whose results are rows of its database,
applies the same rules through :func:`result_verdict`. A result that is not final is exported blank with its reason
(the ``status``/``error`` columns of grades.csv, ``not_final.csv``), never as 0 and never as the
number it holds. A file that is missing, truncated or edited is such a result, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autograder.results import GradingResult

#: The command that regrades every result whose cause regrading can fix.
RETRY = "python -m autograder grade-all --retry-failed --out {out}"
NOT_FINAL_FILE = "not_final.csv"


@dataclass(frozen=True)
class Verdict:
    """What the gate decided about one batch entry's stored result."""

    id: str
    result: GradingResult | None = None   # the result, when final
    reason: str = ""                      # why it is not final ("" when it is)
    regrade: bool = False                 # whether ``grade-all --retry-failed`` can make it final

    @property
    def final(self) -> bool:
        return self.result is not None and not self.reason


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def judge(store, record: dict, installed: str | None = None) -> Verdict | None:
    """The gate's verdict on ``record`` (a batch.json entry) in ``store``; None when the record holds
    no result to judge (a submission that could not be graded: its row already says why).

    ``installed``: the installed grader's hash (default: :func:`autograder.bulk.store.grader_hash`).
    """
    from autograder.bulk.store import grader_hash, text_digest

    sid = str(record.get("id"))
    if record.get("status") == "pending":
        return Verdict(sid, reason="not graded yet (the batch was interrupted)", regrade=True)
    if not record.get("result"):
        return None
    path = store.out / record["result"]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Verdict(sid, reason=f"{record['result']} is missing or unreadable", regrade=True)
    stored = _read_json(store.student_dir(sid) / "entry.json")
    stored = stored if isinstance(stored, dict) else {}
    recorded = {record.get("result_sha256"), stored.get("result_sha256")}
    if len(recorded) != 1 or None in recorded:
        return Verdict(sid, reason=f"the digests recorded for {record['result']} in batch.json and entry.json "
                                   "disagree or are missing", regrade=True)
    if text_digest(text) not in recorded:
        return Verdict(sid, reason=f"{record['result']} is not the file the grader wrote (truncated or edited: "
                                   "its digest differs from the one recorded with it)", regrade=True)
    try:
        result = GradingResult.from_dict(json.loads(text))
        _ = result.score, result.max_score
    except (ValueError, TypeError, KeyError, AttributeError):
        return Verdict(sid, reason=f"{record['result']} is not a readable result", regrade=True)
    failed = _failed(sid, result)
    if failed:
        return failed
    graders = {record.get("grader"), stored.get("grader")}
    installed = installed or grader_hash()
    if len(graders) != 1 or None in graders:
        return Verdict(sid, reason="no agreeing grader hash is recorded with it (graded by an unknown grader)",
                       regrade=True)
    graded_by = next(iter(graders))
    if graded_by != installed:
        return Verdict(sid, reason=f"graded by grader {graded_by}; the installed grader is {installed}",
                       regrade=True)
    return _held(sid, result, record.get("review") or stored.get("review")) or Verdict(sid, result=result)


def _failed(sid: str, result: GradingResult) -> Verdict | None:
    if result.needs_regrade:
        failed = ", ".join(q.id for q in result.infrastructure_failures) or "grader errors"
        return Verdict(sid, reason=f"the grader or the machine failed on {failed} (none of it counts against "
                                   "the student)", regrade=True)
    return None


def _held(sid: str, result: GradingResult, review: str | None) -> Verdict | None:
    if review:
        return Verdict(sid, reason=f"held for review: {review}")
    if result.held:
        return Verdict(sid, reason=f"held for review: {', '.join(q.id for q in result.held)} scored above its "
                                   "review ceiling on code that carries data (the staff feedback page shows both)")
    return None


def result_verdict(sid: str, result: GradingResult, review: str | None = None) -> Verdict:
    """The gate's rules on a result itself, for a frontend that keeps results elsewhere than a batch
    folder (the submission service's database): final unless the grader or the machine failed on it,
    ``review`` (a staff note) holds it, or a question of it is held for review by the policy.
    :func:`judge` applies the same rules, between its checks of the stored file and of the grader."""
    return _failed(sid, result) or _held(sid, result, review) or Verdict(sid, result=result)


def final_results(store, manifest: dict) -> tuple[dict[str, GradingResult], dict[str, Verdict]]:
    """(id -> final result, id -> verdict of each result that is not final) for the batch ``manifest``."""
    from autograder.bulk.store import grader_hash

    installed = grader_hash()
    results, held = {}, {}
    for record in manifest.get("entries") or []:
        if not isinstance(record, dict):
            continue
        verdict = judge(store, record, installed)
        if verdict is None:
            continue
        if verdict.final:
            results[verdict.id] = verdict.result
        else:
            held[verdict.id] = verdict
    return results, held


def advice(verdict: Verdict, out: Path) -> str:
    """What fixes ``verdict``'s result."""
    if verdict.regrade:
        return RETRY.format(out=out) + " regrades it"
    return "a person decides; then regrade or clear the note"


def describe(held: dict[str, Verdict], out: Path) -> list[str]:
    """One line per result that is not final: the student, why, what fixes it."""
    return [f"{sid}: {v.reason}; {advice(v, out)}" for sid, v in sorted(held.items())]
