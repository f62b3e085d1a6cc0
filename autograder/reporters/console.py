"""The score table printed at the end of `grade` and `check` (rich).

Student text goes into cells as :class:`rich.text.Text` (see ``reporters.text``): never parsed as markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.reporters import text
from autograder.results import STATUSES, GradingResult

STYLE = {"passed": "green", "partial": "yellow", "not_run": "dim", "held": "dim"}
HEADLINE_CHARS = 300


def headline(q) -> str:
    """The first line of a question's feedback (its headline figure or what failed), or its status."""
    return next((line for line in (q.feedback or "").splitlines() if line.strip()), q.status.replace("_", " "))


def first_detail(q) -> str | None:
    """The first failed check's detail line (called / expected / got / first difference), if any."""
    return next((line[2:] for line in (q.feedback or "").splitlines() if line.startswith("- ")), None)


def print_table(result: GradingResult, console: Console | None = None, *, hints: bool = False) -> None:
    """One row per question: status, points, the feedback's headline (then the hint, with ``hints``)."""
    console = console or Console()
    table = Table(title=text.console(f"{result.submission}: {result.score:g} / {result.max_score:g}"),
                  show_lines=False)
    table.add_column("", width=1)
    table.add_column("question")
    table.add_column("points", justify="right")
    table.add_column("feedback", overflow="fold", max_width=70)
    for q in result.questions:
        note = text.console(headline(q)[:HEADLINE_CHARS])
        held = q.status == "held"
        detail = first_detail(q) if q.points < q.max_points and not held else None
        if detail:  # the headline names what failed; the detail says what came back and where it differs
            note.append("\n").append_text(text.console(detail[:2 * HEADLINE_CHARS]))
        if hints and q.points < q.max_points and q.hint and not held:  # what happened first, then what to try
            note.append("\n").append_text(text.console(f"Hint: {q.hint}", style="dim"))
        table.add_row(Text(STATUSES[q.status], style=STYLE.get(q.status, "red")), text.console(q.name),
                      f"held/{q.max_points:g}" if held else f"{q.points:g}/{q.max_points:g}", note)
    console.print(table)
    for note in result.notes:
        console.print(text.console(f"Note: {note}", style="yellow"))
