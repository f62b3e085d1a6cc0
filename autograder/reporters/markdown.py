"""report.md: the readable report a TA or student opens first.

A table of headlines, then every question's full feedback, hint and output.  All text that
came from the submission is escaped (see ``reporters.text``): it cannot end a code block, add a
heading or carry HTML.  Hidden graders' tracebacks stay in grading.json (staff only).
"""

from __future__ import annotations

from autograder.reporters.text import md_block, md_inline
from autograder.reporters.console import headline
from autograder.results import STATUSES, GradingResult

OUTPUT_CHARS = 4000


def to_markdown(result: GradingResult) -> str:
    lines = [
        f"# Grading report: {result.score:g} / {result.max_score:g}",
        "",
        f"- Submission: {md_inline(result.submission)}",
        f"- Data profile: {result.profile}",
        f"- Isolation: {md_inline(result.isolation)}",
        f"- Time: {result.seconds:.1f} s",
        *[f"- Note: {md_inline(note)}" for note in result.notes],
        *([f"- Held for review: {result.held_points:g} points are pending review by the course staff; they "
           "count neither as earned nor as lost until then."] if result.held else []),
        "",
        "| | question | points | feedback |",
        "|---|---|---:|---|",
    ]
    for q in result.questions:
        lines.append(f"| {STATUSES[q.status]} | {md_inline(q.name)} ({q.visibility}) | "
                     f"{_points(q)} | {md_inline(headline(q))[:300]} |")
    lines += ["", "## Details", ""]
    for q in result.questions:
        lines += [f"### {md_inline(q.name)}", "",
                  f"Status: {_status(q)}, {_points(q)}", ""]
        if q.feedback:
            lines += [*md_block(q.feedback.strip()), ""]
        if q.hint and q.points < q.max_points and q.status != "held":
            lines += [f"Hint: {md_inline(q.hint)}", ""]
        if q.output:
            lines += ["Printed by your code:", "", *md_block(q.output.strip()[:OUTPUT_CHARS]), ""]
    if result.grader_errors:
        lines += ["## Grader errors", "",
                  f"The grader itself failed on {len(result.grader_errors)} question(s); those score 0 "
                  "and are not the submission's fault. The details (tracebacks of the graders) are in "
                  "grading.json, for staff only.", ""]
    return "\n".join(lines) + "\n"


def _points(q) -> str:
    """"3 / 4", or "held for review / 10" while a person reviews the figure (neither full nor zero)."""
    return f"held for review / {q.max_points:g}" if q.status == "held" else f"{q.points:g} / {q.max_points:g}"


def _status(q) -> str:
    return "held for review" if q.status == "held" else q.status.replace("_", " ")
