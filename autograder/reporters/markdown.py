"""report.md: the readable report a TA or student opens first."""

from __future__ import annotations

from autograder.results import STATUSES, GradingResult


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: GradingResult) -> str:
    lines = [
        f"# Grading report: {result.score:g} / {result.max_score:g}",
        "",
        f"- Submission: `{result.submission}`",
        f"- Data profile: {result.profile}",
        f"- Isolation: {result.isolation}",
        f"- Time: {result.seconds:.1f} s",
        "",
        "| | question | points | feedback |",
        "|---|---|---:|---|",
    ]
    for q in result.questions:
        first_line = (q.feedback or q.status.replace("_", " ")).splitlines()[0]
        lines.append(f"| {STATUSES[q.status]} | {_cell(q.name)} ({q.visibility}) | "
                     f"{q.points:g} / {q.max_points:g} | {_cell(first_line)[:200]} |")
    details = [q for q in result.questions if q.points < q.max_points or q.output]
    if details:
        lines += ["", "## Details", ""]
    for q in details:
        lines += [f"### {q.name}", "", f"Status: {q.status.replace('_', ' ')}, {q.points:g} / {q.max_points:g}", ""]
        if q.feedback:
            lines += ["```", q.feedback.strip(), "```", ""]
        if q.hint and q.points < q.max_points:
            lines += [f"Hint: {q.hint}", ""]
        if q.output:
            lines += ["Printed by your code:", "", "```", q.output.strip()[:4000], "```", ""]
    if result.grader_errors:
        lines += ["## Grader errors", "", *[f"- {e}" for e in result.grader_errors], ""]
    return "\n".join(lines) + "\n"
