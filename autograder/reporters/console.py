"""The score table printed at the end of `grade` and `check` (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from autograder.results import STATUSES, GradingResult

STYLE = {"passed": "green", "partial": "yellow", "not_run": "dim"}


def print_table(result: GradingResult, console: Console | None = None, *, hints: bool = False) -> None:
    console = console or Console()
    table = Table(title=f"{result.submission}: {result.score:g} / {result.max_score:g}", show_lines=False)
    table.add_column("", width=1)
    table.add_column("question")
    table.add_column("points", justify="right")
    table.add_column("hint" if hints else "feedback", overflow="fold", max_width=70)
    for q in result.questions:
        style = STYLE.get(q.status, "red")
        note = q.hint if hints and q.points < q.max_points and q.hint else (q.feedback.splitlines() or [""])[0]
        table.add_row(f"[{style}]{STATUSES[q.status]}[/]", q.name, f"{q.points:g}/{q.max_points:g}", note[:160])
    console.print(table)
