"""What ``grade-all`` shows: a rich progress bar with ETA and live counts, then a class table.

``--quiet`` replaces the bar with one plain line per submission (for scripts and CI logs).
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from autograder.bulk.batch import BatchEvent
from autograder.reporters import text

LOWEST = 5
HISTOGRAM_BINS = 10


class BatchProgress:
    """Counts and a progress bar (on a terminal) or one line per submission (``quiet`` or not a terminal)."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet or not console.is_terminal
        self.counts = Counter()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[graded]} done[/] [red]{task.fields[failed]} failed[/] "
                       "[yellow]{task.fields[timed_out]} timed out[/] [dim]{task.fields[cached]} cached[/]"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False, disable=self.quiet)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def start(self, total: int, to_run: int) -> None:
        self.task = self.progress.add_task("grading", total=total, graded=0, failed=0, timed_out=0, cached=0)
        if self.quiet:
            self.console.print(f"{total} submissions: {to_run} to grade, {total - to_run} settled already",
                               highlight=False)

    def event(self, event: BatchEvent) -> None:
        entry = event.entry
        self.counts["done" if entry["status"] == "graded" else "failed"] += 1
        self.counts["timed_out"] += bool(entry.get("timeouts"))
        self.counts["cached"] += event.cached
        self.progress.update(self.task, advance=1, description=entry["id"][:24], graded=self.counts["done"],
                             failed=self.counts["failed"], timed_out=self.counts["timed_out"],
                             cached=self.counts["cached"])
        if self.quiet:
            if entry["status"] == "graded":
                extra = f" ({entry['timeouts']} timeout)" if entry.get("timeouts") else ""
                how = "cached" if event.cached else f"{entry['seconds']:.1f} s"
                line = f"{entry['id']}: {entry['score']:g}/{entry['max_score']:g} [{how}]{extra}"
            else:
                line = f"{entry['id']}: cannot grade: {entry['error'].splitlines()[0][:200]}"
            self.console.print(text.console(line), highlight=False, soft_wrap=True)


def print_class_table(console: Console, entries: list[dict]) -> None:
    """Score distribution, the five lowest, and every submission that could not be graded and why."""
    graded = [e for e in entries if e["status"] == "graded"]
    if graded:
        histogram = Table(title=f"Score distribution ({len(graded)} graded)")
        histogram.add_column("percent")
        histogram.add_column("students", justify="right")
        histogram.add_column("")
        bins = Counter(min(int(e["percent"] // (100 / HISTOGRAM_BINS)), HISTOGRAM_BINS - 1) for e in graded)
        width = 100 // HISTOGRAM_BINS
        for b in range(HISTOGRAM_BINS):
            histogram.add_row(f"{b * width}–{(b + 1) * width}{'' if b < HISTOGRAM_BINS - 1 else ' (incl. 100)'}",
                              str(bins[b]), "█" * bins[b])
        console.print(histogram)
        lowest = Table(title=f"The {min(LOWEST, len(graded))} lowest")
        for column in ("id", "name", "score", "percent", "timeouts"):
            lowest.add_column(column)
        for e in sorted(graded, key=lambda e: (e["percent"], e["id"]))[:LOWEST]:
            lowest.add_row(text.console(e["id"]), text.console(e.get("name", "")),
                           f"{e['score']:g}/{e['max_score']:g}", f"{e['percent']:.1f}%",
                           str(e.get("timeouts", 0)))
        console.print(lowest)
    failed = [e for e in entries if e["status"] != "graded"]
    if failed:
        table = Table(title=f"Could not grade ({len(failed)})", show_lines=True)
        table.add_column("id")
        table.add_column("source", overflow="fold")
        table.add_column("why", overflow="fold")
        for e in failed:
            # ids, names, file names and their errors come from the students' uploads: never markup
            table.add_row(text.console(e["id"]), text.console(e.get("source", "")),
                          text.console(e.get("error") or e["status"]))
        console.print(table)


#: What each class-level file is for, in the final message.
WRITTEN_PURPOSE = {"grades.csv": "every submission's points", "canvas_import.csv": "Canvas: Grades > Import",
                   "moodle_grading_worksheet.csv": "Moodle: the assignment's Upload grading worksheet",
                   "summary.html": "the class dashboard", "summary.csv": "per-question statistics",
                   "not_final.csv": "results that are not final (exported blank), why, and what fixes them",
                   "batch.json": "the batch's record (--resume)"}


def print_written(console: Console, outcome) -> None:
    """The last lines of grade-all: how many were graded, and every file it wrote, with what each is for."""
    entries = outcome.entries
    graded = sum(e["status"] == "graded" for e in entries)
    console.print(f"{graded}/{len(entries)} graded. Wrote:", highlight=False)
    for path in [*outcome.written, outcome.out / "batch.json"]:
        purpose = WRITTEN_PURPOSE.get(path.name, "")
        line = Text("  ").append_text(text.console(str(path))).append(f"  ({purpose})" if purpose else "")
        console.print(line, highlight=False, soft_wrap=True)
    if any(e.get("moodle_participant") for e in entries) and not any(
            p.name == "moodle_grading_worksheet.csv" for p in outcome.written):
        console.print("  (no moodle_grading_worksheet.csv: -q graded part of the assignment; "
                      "--partial-export writes it out of the graded questions' points)", highlight=False)
    console.print(Text("  ").append_text(text.console(f"{outcome.out / 'students'}/<id>/"))
                  .append(f"  (each student's reports: {len(entries)} folders)"), highlight=False, soft_wrap=True)
