"""Which grader process grades what, and in which order: keep every core busy to the end.

A submission's modules are independent (each runs in its own sandboxed worker, with its own
questions), so a submission is split into one *part* per module in scope. Parts are handed
out longest expected first (LPT), each to the next free grader process, and a submission's
parts are merged back into one reply as the last one finishes. The batch's tail is then one
module's worth of work, not one slow submission on one core while the others idle.

Expected cost of a part: what this batch's earlier runs measured for that student and module
(``COSTS_FILE`` in the output folder), else the reference solution's measured seconds for the
module's questions (``autograder/judge/reference_costs.json``), else ``DEFAULT_MODULE_SECONDS``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.bulk.reply import JobReply

#: Per-student, per-module seconds measured by earlier runs of a batch, kept in its output folder.
COSTS_FILE = "grader_costs.json"
#: A module nobody has measured yet is assumed to cost this much.
DEFAULT_MODULE_SECONDS = 2.0


@dataclass
class Part:
    """One grader-process task: some of one submission's questions."""

    job_id: str
    payload: object
    label: str
    questions: tuple[str, ...]      # question ids; empty: the whole submission
    module: str                     # the module these questions grade ("" for a whole submission)
    expected: float                 # seconds
    attempts: int = 0               # grader processes it has already killed


@dataclass
class Pending:
    """A submission whose parts are not all back yet."""

    parts: int
    replies: list[dict] = field(default_factory=list)


def modules_in_scope(chosen=()) -> dict[str, list[str]]:
    """Module -> its question ids in scope (public and hidden, as ``grade-all`` runs them), in spec order."""
    from autograder.spec import load_spec, select

    grouped: dict[str, list[str]] = {}
    for q in select(load_spec(), chosen=tuple(chosen or ())):
        grouped.setdefault(q.module, []).append(q.id)
    return grouped


def plan(jobs, options: dict, history: dict | None = None, profile_costs: dict | None = None) -> list[Part]:
    """Every job split into one part per module, the longest expected first.

    ``history``: label -> module -> seconds (earlier runs); ``profile_costs``: question id ->
    reference seconds for this profile."""
    history = history or {}
    profile_costs = profile_costs or {}
    grouped = modules_in_scope(options.get("questions"))
    if not grouped:  # nothing to split: whole submissions, as they come
        return [Part(job_id, payload, label, (), "", 0.0) for job_id, payload, label in jobs]
    parts = []
    for job_id, payload, label in jobs:
        known = history.get(label, {})
        for module, questions in grouped.items():
            reference = sum(profile_costs.get(q, {}).get("seconds", 0.0) for q in questions)
            expected = known.get(module, reference or DEFAULT_MODULE_SECONDS)
            parts.append(Part(job_id, payload, label, tuple(questions), module, float(expected)))
    # Longest first; ties keep the class order (stable sort).
    return sorted(parts, key=lambda part: -part.expected)


def merge(replies: list[dict]) -> dict:
    """One submission's part replies as one reply: questions in spec order, as a whole run gives them.

    The merged reply has no rendered reports yet (``reports`` is None): they are rendered from
    the merged result."""
    from autograder.spec import load_spec

    errors = [r["error"] for r in replies if r.get("error") or not r.get("result")]
    log = "".join(r.get("log", "") for r in replies)
    hosts = sorted({r.get("host", "") for r in replies if r.get("host")})
    if errors:
        return JobReply.failure(errors[0] or "no result", log=log, host=", ".join(hosts),
                                infrastructure=any(r.get("infrastructure") for r in replies)).to_dict()
    results = [r["result"] for r in replies]
    order = {qid: n for n, qid in enumerate(load_spec())}
    questions = sorted((q for r in results for q in r["questions"]), key=lambda q: order.get(q["id"], len(order)))
    notes = _unique(note for r in results for note in r.get("notes", []))  # each part carries them all
    time_limits: dict = {}
    for r in results:
        time_limits.update(r.get("time_limits") or {})
    merged = {**results[0], "questions": questions, "notes": notes,
              "seconds": round(sum(r.get("seconds", 0.0) for r in results), 2),
              "grader_errors": _unique(e for r in results for e in r.get("grader_errors", []))}
    if "time_limits" in results[0]:
        merged["time_limits"] = time_limits
    merged.pop("score", None)
    merged.pop("max_score", None)
    graders = sorted({str(r.get("grader")) for r in replies})  # parts graded by different code: no one grader
    return JobReply(result=merged, log=log, host=", ".join(hosts),
                    grader=graders[0] if len(graders) == 1 else "mixed " + " + ".join(graders)).to_dict()


def _unique(items) -> list:
    """In order, each once (every part reports the preparation's notes and the collection's errors)."""
    return list(dict.fromkeys(items))


# ------------------------------------------------------------------ cost history

def read_history(out_dir: str | Path | None) -> dict:
    if not out_dir:
        return {}
    try:
        data = json.loads((Path(out_dir) / COSTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_history(out_dir: str | Path | None, history: dict) -> None:
    """Write atomically: a run killed half-way leaves the previous file, never half of one."""
    if not out_dir or not Path(out_dir).is_dir():
        return
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".costs-", suffix=".tmp")
    with os.fdopen(handle, "w") as fh:
        json.dump(history, fh, indent=1, sort_keys=True)
    os.replace(temporary, Path(out_dir) / COSTS_FILE)


def record(history: dict, part: Part, reply: dict) -> None:
    """What a part really cost, for the next run's order."""
    result = reply.get("result")
    if result and part.module:
        history.setdefault(part.label, {})[part.module] = round(float(result.get("seconds", 0.0)), 2)
