"""``python -m autograder <command>``: grade, check, questions, data.

Results go to stdout and files; progress goes to stderr.  Exit codes are an enum:
grading that completed exits 0 whatever the score.
"""

from __future__ import annotations

import enum
import errno
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.reporters import text

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Exercises, reference solutions and an isolated grader for HOML chapter 3.")
data_app = typer.Typer(no_args_is_help=True, help="Where the datasets and the cache live.")
app.add_typer(data_app, name="data")
console = Console()
errors = Console(stderr=True)


#: True in a warm grader's process, whose forked children run the commands it serves.
served_warm = False


def refresh_consoles() -> None:
    """New consoles for the streams a command writes to now (a warm grader's child has the caller's)."""
    global console, errors
    console, errors = Console(), Console(stderr=True)


class ExitCode(enum.IntEnum):
    OK = 0                # grading completed (whatever the score)
    CANNOT_GRADE = 2      # no results: a missing submission, a broken archive, graders that did not run
    GRADER_ERRORS = 3     # results written, but the grader itself failed on some questions
    NOT_FINAL = 4         # outputs written, but some stored results are not final: exported blank, with the reason


def _progress(total: int):
    """A progress bar on stderr (plain lines when stderr is not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, transient=True, disable=not errors.is_terminal)
    task = progress.add_task("grading", total=total)

    def advance(result):
        progress.update(task, advance=1, description=result.name[:40])
    return progress, advance


def _run(source: Path, out_dir: Path, options) -> object:
    """Prepare ``source``, grade it under ``options`` (a GradingOptions) with a progress bar, write the reports."""
    from autograder.grading import CannotGrade, grade, render, write_reports
    from autograder.intake import prepare

    progress, advance = _progress(len(options.in_scope()))
    try:
        # the path the user named is theirs to follow; inside it, no link is followed
        prepared = prepare(Path(source).resolve())
        with progress:
            result = grade(prepared, options, source=str(Path(source).resolve()), on_result=advance)
    except (CannotGrade, ValueError) as exc:  # ValueError: data that cannot be found or loaded
        errors.print(Text("Cannot grade: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    write_reports(result, Path(out_dir).resolve(), render(result))
    return result


def _options(**given):
    """The command's GradingOptions; a bad value (an unknown question, a profile) is one "Cannot grade" line."""
    from autograder.options import GradingOptions

    try:
        return GradingOptions(**given)
    except ValueError as exc:
        errors.print(Text("Cannot grade: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)


@app.command()
def grade(
    submission: Path = typer.Argument(..., help="folder of module files (like assignments/) or a .zip of one"),
    out: Path = typer.Option(Path("grading-out"), "--out", "-o", help="where results.json and report.md go"),
    data: str = typer.Option("quick", "--data", help="data profile: quick (embedded sample) or full"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="full-data folder (default: $CH3_DATA_DIR)"),
    question: list[str] = typer.Option([], "--question", "-q", help="grade only these questions or modules"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="cap every question's time limit (seconds)"),
    allow_weak_sandbox: bool = typer.Option(False, "--allow-weak-sandbox",
                                            help="without bubblewrap, grade with resource limits only"),
):
    """Hidden grading of one submission: writes OUT/results.json (Gradescope), report.md and feedback.html."""
    from autograder.disclosure import for_students
    from autograder.reporters import print_table

    from autograder.options import Isolation

    options = _options(profile=data, data_dir=str(data_dir.resolve()) if data_dir else None, questions=question,
                       visibilities=("public", "hidden"), limits={"timeout": timeout} if timeout else {},
                       isolation=Isolation.ALLOW_WEAK if allow_weak_sandbox else Isolation.STRICT)
    result = _run(submission, out, options)
    print_table(for_students(result), console)  # what the student will see (questions.toml: disclosure)
    console.print(text.console(f"Isolation: {result.isolation}"))
    console.print(text.console(f"Wrote {out / 'results.json'} and {out / 'report.md'}"))
    _exit_if_not_final(result, out)


def _exit_if_not_final(result, out: Path) -> None:
    """Exit 3 when the grader or the machine failed on some question: those scores are nobody's."""
    if result.grader_errors:
        errors.print(text.console(f"{len(result.grader_errors)} grader error(s); the tracebacks are in "
                                   f"{out / 'grading.json'} (staff only)", style="red"))
    failed = [q.id for q in result.infrastructure_failures]
    if failed:
        errors.print(text.console(f"The grader or the machine failed on {', '.join(failed)} (none of it counts "
                                   f"against the submission): run the command again; the evidence is in "
                                   f"{out / 'grading.json'}", style="red"))
    if result.needs_regrade:
        raise typer.Exit(ExitCode.GRADER_ERRORS)


@app.command()
def check(
    submission: Path = typer.Argument(Path("assignments"), help="your folder of module files"),
    question: list[str] = typer.Option([], "--question", "-q", help="check only these questions or modules"),
    out: Path = typer.Option(Path("check-out"), "--out", "-o", help="where report.md (every question's "
                             "full feedback) goes"),
):
    """Student self-check: the public tests on the embedded sample, with hints; writes OUT/report.md."""
    from autograder.reporters import print_table
    from autograder.spec import load_spec, select

    if not question and submission.suffix == ".ipynb" and submission.is_file():
        question = _notebook_modules(submission)  # one notebook: the modules it covers, not every .py
    from autograder.options import Isolation

    options = _options(profile="quick", questions=question, visibilities=("public",),
                       isolation=Isolation.OWN_CODE)  # the student's own code, on their machine
    result = _run(submission, out, options)
    print_table(result, console, hints=True)
    console.print(text.console(f"How your code ran: {result.isolation}"))
    passed = sum(q.status == "passed" for q in result.questions)
    hidden_points = sum(q.points for q in select(load_spec(), ("hidden",), question))
    console.print(f"public: {passed}/{len(result.questions)} passed ({result.score:g}/{result.max_score:g} points); "
                  f"{hidden_points:g} more points depend on hidden tests run when you are graded.")
    console.print(text.console(f"Full feedback: {out / 'report.md'}"))
    _start_warm_for_next_checks()
    _exit_if_not_final(result, out)


def _start_warm_for_next_checks() -> None:
    """A check that ran cold starts a warm grader for the next ones, in the background, and says so
    (never under CI or with CH3_WARM=0; a check a warm grader serves finds it running)."""
    if served_warm:
        return
    from autograder import warm

    if warm.start_in_background():
        errors.print(f"started a warm grader for the next checks; it stops after {warm.AUTO_IDLE_MINUTES:g} idle "
                     f"minutes ({warm.WARM_ENV}=0 to turn this off)", markup=False, soft_wrap=True)


def _notebook_modules(notebook: Path) -> list[str]:
    """The modules a notebook's cells provide (all of them when it provides none: the report says why)."""
    from autograder.intake.notebooks import NotebookError, covered_modules

    try:
        return covered_modules(notebook)
    except NotebookError as exc:
        errors.print(Text("Cannot grade: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)


@app.command()
def questions():
    """List every graded question: points, visibility, limits, tolerance."""
    from autograder.spec import load_spec

    spec = load_spec()
    table = Table(title="questions.toml")
    table.add_column("question", no_wrap=True, min_width=max(map(len, spec)))  # ids are copied into -q
    for column in ("title", "points", "visibility", "timeout", "memory", "tolerance (full / quick)"):
        table.add_column(column)
    for q in spec.values():
        bands = " / ".join(
            f"{b.zero_at:+g}..{b.full_at:+g} vs ref" if b.relative_to == "reference" else f"{b.zero_at:g}..{b.full_at:g}"
            for b in (q.bands.get("full"), q.bands.get("quick")) if b) or "-"
        table.add_row(q.id, q.title, f"{q.points:g}", q.visibility, f"{q.limits.timeout:g}s",
                      f"{q.limits.memory_mb}MB", bands)
    console.print(table)


@data_app.command("info")
def data_info():
    """Where the full data is looked for, and where the cache is."""
    from autograder.data import CACHE_DIR_ENV, DATA_DIR_ENV, cache_dir, resolve_data_dir

    folder = resolve_data_dir()
    console.print(f"full data (${DATA_DIR_ENV}): {folder or 'not set'}"
              + ("" if folder is None or folder.is_dir() else " [red](missing)[/]"))
    console.print(f"cache (${CACHE_DIR_ENV}): {cache_dir()}")
    console.print("quick profile: embedded in the package (always available)")


@data_app.command("clear-cache")
def data_clear_cache():
    """Delete the extracted .npy cache and the cached reference figures."""
    from autograder.data import clear_cache

    console.print(f"removed {clear_cache()}")


# ------------------------------------------------------------- a whole class (grade-all, rescore)

def _say_not_final(out: Path):
    """A callback for the final gate: names each result that is not final, before any file is written."""
    from autograder.bulk.final import describe

    def say(held) -> None:
        errors.print(f"[red]{len(held)} result(s) are not final[/]: they are exported blank (never 0), "
                     f"with the reason in grades.csv and {Path(out) / 'not_final.csv'}:")
        for line in describe(held, Path(out)):
            errors.print(text.console(f"  {line}"))
    return say


@app.command("grade-all")
def grade_all(
    submissions: Optional[Path] = typer.Argument(
        None, help="class folder (one sub-folder, .zip or .ipynb per student), a Gradescope export or a Canvas "
                   "bulk download (or a .zip of one); optional with --resume"),
    out: Path = typer.Option(..., "--out", "-o", help="the batch's output folder"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="grader processes (default: cores)"),
    data: str = typer.Option("quick", "--data", help="data profile: quick (embedded sample) or full"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="full-data folder (default: $CH3_DATA_DIR)"),
    roster: Optional[Path] = typer.Option(None, "--roster", help="Canvas gradebook export CSV: names, ids, import file"),
    assignment: Optional[str] = typer.Option(None, "--assignment", help="the roster's column for this grade (its name "
                                                                       "or Canvas id; default: matched by title)"),
    moodle_worksheet: Optional[Path] = typer.Option(None, "--moodle-worksheet", help="Moodle's downloaded grading "
                                                    "worksheet, filled in as moodle_grading_worksheet.csv"),
    partial_export: bool = typer.Option(False, "--partial-export", help="with -q: export the graded questions' "
                                                                        "points to Canvas/Moodle anyway"),
    resume: bool = typer.Option(False, "--resume", help="finish the batch in --out with its recorded options"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="regrade, with the batch's recorded options, "
                                                                    "every submission the grader or the machine "
                                                                    "failed on (those results are never cached)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler, e.g. tcp://host:8786"),
    shared_dir: Optional[Path] = typer.Option(None, "--shared-dir", help="with --scheduler: pass submissions "
                                                                         "through this shared folder"),
    question: list[str] = typer.Option([], "--question", "-q", help="grade only these questions or modules"),
    quiet: bool = typer.Option(False, "--quiet", help="one line per submission instead of a progress bar"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="cap every question's time limit (seconds)"),
):
    """Grade a whole class: parallel, cached, resumable; writes OUT/grades.csv and OUT/students/<id>/."""
    import signal

    from autograder.bulk import LayoutError
    from autograder.bulk import grade_all as run_batch
    from autograder.bulk.console import BatchProgress, print_class_table, print_written

    def stop(signum, frame):  # SIGTERM ends the batch like Ctrl-C: every finished result is kept
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        with BatchProgress(errors, quiet=quiet) as progress:
            outcome = run_batch(submissions, out, workers=workers, profile=data, data_dir=data_dir,
                                questions=question, timeout=timeout, roster=roster, resume=resume,
                                retry_failed=retry_failed, scheduler=scheduler, shared_dir=shared_dir,
                                assignment=assignment, partial_export=partial_export,
                                moodle_worksheet=moodle_worksheet,
                                on_start=progress.start, on_event=progress.event,
                                on_not_final=_say_not_final(out))
    except KeyboardInterrupt:
        errors.print(f"[yellow]Interrupted.[/] Finished results are in {out}; "
                     f"continue with: python -m autograder grade-all --resume --out {out}")
        raise typer.Exit(130)
    except (LayoutError, ValueError) as exc:
        errors.print(Text("Cannot grade: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    except OSError as exc:
        if exc.errno not in OUT_FOLDER_ERRORS:
            raise
        errors.print(Text("Cannot write: ", style="red").append_text(text.console(_out_folder_message(exc, out))),
                     soft_wrap=True)
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    print_class_table(console, outcome.entries)
    print_written(console, outcome)
    failed = [e for e in outcome.entries if e.get("grader_errors") or e.get("infrastructure")]
    if failed:
        errors.print(f"[red]The grader or the machine failed on {len(failed)} submission(s)[/]; none of it counts "
                     "against the students, and nothing of it was cached:")
        for e in failed:
            errors.print(text.console(f"  {e['id']}: {', '.join(e.get('infrastructure') or []) or 'grader errors'} "
                                       f"(details in students/{e['id']}/grading.json)"))
        errors.print(text.console(f"Regrade them with: python -m autograder grade-all --retry-failed --out {out}"))
        raise typer.Exit(ExitCode.GRADER_ERRORS)
    if outcome.not_final:
        raise typer.Exit(ExitCode.NOT_FINAL)


#: What a full disk, a quota or a read-only (or not writable) output folder raises.
OUT_FOLDER_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _out_folder_message(exc: OSError, out: Path) -> str:
    """One line: the folder, what failed, and how to go on (every stored result is kept)."""
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"the output folder {out} cannot be written: {exc.strerror or exc}{where}. Results stored so far "
            f"are kept; free space or make it writable, then continue with: "
            f"python -m autograder grade-all --resume --out {out}")


@app.command()
def rescore(
    out: Path = typer.Argument(..., help="a folder written by grade-all"),
):
    """Re-apply questions.toml's points, bands and tolerances to stored results; runs no student code."""
    from autograder.bulk import rescore_batch
    from autograder.bulk.console import print_class_table

    changed, held = [], {}

    def note(record, result):
        if result is not None:
            changed.append(record["id"])
    say = _say_not_final(out)

    def not_final(verdicts):
        held.update(verdicts)
        say(verdicts)
    try:
        manifest = rescore_batch(out, on_event=note, on_not_final=not_final)
    except FileNotFoundError as exc:
        errors.print(Text("Cannot rescore: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    print_class_table(console, manifest["entries"])
    console.print(f"rescored {len(changed)} submissions; rewrote {out / 'grades.csv'} and the reports of every "
                  "final result")
    if held:
        raise typer.Exit(ExitCode.NOT_FINAL)


def main():
    os.environ.setdefault("MPLBACKEND", "Agg")
    app()


# ------------------------------------------------------------------ warm (autograder/warm.py)

warm_app = typer.Typer(no_args_is_help=True, help="A warm grader: `grade` and `check` without the start-up cost.")
app.add_typer(warm_app, name="warm")


def _warm_status_line(status: dict) -> str:
    return (f"warm grader pid {status['pid']} for this installation: warmed up in {status['warm_up_seconds']:g} s, "
            f"served {status['served']} command(s), {status['busy']} running; stops after "
            f"{status['stops_in_s'] / 60:.0f} more idle minute(s)")


@warm_app.command("start")
def warm_start(idle: float = typer.Option(30.0, "--idle", help="stop after this many idle minutes")):
    """Start a warm grader in the background: later `grade` and `check` commands run in its forked children."""
    from autograder import warm

    try:
        status = warm.start(idle_minutes=idle)
    except warm.WarmUnavailable as exc:
        errors.print(f"No warm grader: {exc}", markup=False)
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    console.print(_warm_status_line(status), markup=False)


@warm_app.command("status")
def warm_status():
    """Whether a warm grader runs for this installation (exit 1 when none does)."""
    from autograder import warm

    status = warm.request("status")
    if not status:
        console.print("no warm grader runs for this installation; `grade` and `check` start cold")
        raise typer.Exit(1)
    console.print(_warm_status_line(status), markup=False)


@warm_app.command("serve", hidden=True)
def warm_serve(socket_path: Path = typer.Argument(..., help="the socket to serve on"),
               idle: float = typer.Option(30.0, "--idle", help="stop after this many idle minutes"),
               lock_fd: Optional[int] = typer.Option(None, "--lock-fd", help="the start's lock, held until ready")):
    """The warm grader's own process (`warm start` and a first `check` start it)."""
    from autograder import warm

    global served_warm
    served_warm = True
    warm.serve(socket_path, run_served, idle_minutes=idle, lock_fd=lock_fd)


def run_served(argv: list[str]) -> int:
    """One command a warm grader serves, in its forked child: its exit status."""
    refresh_consoles()
    try:
        app(args=argv, prog_name="ch3-grader")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    return 0


@warm_app.command("stop")
def warm_stop():
    """Stop this installation's warm grader (commands it is running finish first)."""
    from autograder import warm

    stopped = warm.request("stop")
    console.print(f"stopped the warm grader (pid {stopped['stopped']})" if stopped
                  else "no warm grader runs for this installation")


# ------------------------------------------------------------------ report

@app.command()
def report(
    folder: Path = typer.Argument(..., help="a grade --out folder, or a bulk output folder (students/<id>/)"),
    similarity: bool = typer.Option(True, "--similarity/--no-similarity", help="compare the class's code"),
):
    """Rebuild every report (results.json, report.md, feedback.html; summary.html/csv) from stored grading.json."""
    from autograder.bulk.summary import rebuild_reports

    held = {}
    say = _say_not_final(folder)

    def not_final(verdicts):
        held.update(verdicts)
        say(verdicts)
    try:
        rewritten = rebuild_reports(folder, similarity=similarity, on_not_final=not_final)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(Text("Cannot rebuild: ", style="red").append_text(text.console(exc)))
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    console.print(f"Rewrote the reports of {len(rewritten)} result(s) in {folder}")
    if (folder / "summary.html").is_file() and len(rewritten) and (folder / "students").is_dir():
        console.print(f"Class summary: {folder / 'summary.html'} and {folder / 'summary.csv'}")
    if held:
        raise typer.Exit(ExitCode.NOT_FINAL)


# ------------------------------------------------------------------- build (autograder/build/)

build_app = typer.Typer(no_args_is_help=True,
                        help="Generate student notebooks, an Otter assignment, a Gradescope autograder, the student bundle.")
app.add_typer(build_app, name="build")


@build_app.command("notebooks")
def build_notebooks_command(out: Path = typer.Option(..., "--out", "-o", help="folder for the .ipynb files")):
    """One notebook per module and chapter3.ipynb, from the stubs, with a self-check cell per public question."""
    from autograder.build.notebooks import build_notebooks

    paths = build_notebooks(out)
    console.print(f"Wrote {len(paths)} notebooks to {out}")


@build_app.command("student")
def build_student_command(out: Path = typer.Option(..., "--out", "-o", help="bundle folder (emptied); OUT.zip too"),
                          zip_: bool = typer.Option(True, "--zip/--no-zip", help="also write OUT.zip")):
    """What students download: stubs, notebooks, public graders, the sample without test labels, `check`."""
    from autograder.build.student import build_student

    folder = build_student(out, make_zip=zip_)
    console.print(f"Wrote {folder}" + (f" and {folder.with_suffix('.zip')}" if zip_ else ""))


@build_app.command("gradescope")
def build_gradescope_command(
    out: Path = typer.Option(..., "--out", "-o", help="folder for autograder.zip"),
    data: str = typer.Option("quick", "--data", help="data profile the autograder grades on: quick or full"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="full-data folder to pack (with --data full)"),
    question: list[str] = typer.Option([], "--question", "-q", help="grade only these questions or modules"),
):
    """Gradescope's autograder.zip (setup.sh, run_autograder, the package) grading with the sandbox."""
    from autograder.build.gradescope import build_gradescope

    console.print(f"Wrote {build_gradescope(out, profile=data, data_dir=data_dir, questions=question)}")


@build_app.command("otter")
def build_otter_command(
    out: Path = typer.Option(..., "--out", "-o", help="folder for the Otter assignment"),
    question: list[str] = typer.Option([], "--question", "-q", help="only these modules (default: all)"),
):
    """An Otter Grader assignment whose tests call the toolkit's checks; runs `otter assign`."""
    from autograder.build.otter import OtterMissing, build_otter

    try:
        built = build_otter(out, modules=question)
    except OtterMissing as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    console.print(f"Wrote {built.master} and ran otter assign: {built.student} and {built.autograder_zip}")


# ------------------------------------------------------------------ a course server (autograder/service/)

from autograder.service.commands import serve_app  # noqa: E402  (Django is imported by its commands only)

app.add_typer(serve_app, name="serve")


@app.command()
def submit(
    url: str = typer.Argument(..., help="the course server, e.g. https://grader.example.edu/"),
    path: Path = typer.Argument(..., help="a folder of module files, a .zip, a notebook or a .py file"),
    token: str = typer.Option(..., "--token", envvar="CH3_TOKEN", help="your token (or $CH3_TOKEN)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for the grade and print it"),
    check: bool = typer.Option(False, "--check", help="the public tests only (not counted, not rate-limited)"),
    question: list[str] = typer.Option([], "--question", "-q", help="grade only these questions or modules"),
    assignment: Optional[str] = typer.Option(None, "--assignment", help="the course's assignment (its slug, as "
                                             "its page's address shows; default: the first)"),
):
    """Upload to a course server (`serve run`): prints the receipt's URL, then the score table."""
    from autograder.reporters import print_table
    from autograder.results import GradingResult
    from autograder.service.client import SubmitError, submit as upload, watch

    receipt = None
    try:
        receipt = upload(url, token, path, check=check, questions=question, assignment=assignment)
        console.print(f"submitted #{receipt['id']} at {receipt['time']} (sha256 {receipt['sha256'][:12]}): "
                      f"{receipt['url']}", markup=False, soft_wrap=True)
        if not wait:
            return
        def show(q: dict) -> None:
            console.print(f"  {q['id']}: {q['status']} ({q['points']:g} / {q['max_points']:g})", markup=False,
                          soft_wrap=True)

        state = watch(receipt["url"], token, on_question=show)
    except SubmitError as exc:
        errors.print(f"Cannot submit: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    except KeyboardInterrupt:
        if receipt is not None:
            errors.print(f"Stopped waiting; the submission is still queued: {receipt['url']}", markup=False,
                         soft_wrap=True)
        raise typer.Exit(130)
    if state["status"] != "graded":
        reason = (state.get("error") or "no reason given").strip().splitlines()[0]
        errors.print(f"Not graded ({state['status']}): {reason} ({receipt['url']})", markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.CANNOT_GRADE)
    result = GradingResult.from_dict(state["result"])
    print_table(result, console)
    if state.get("late_days"):
        console.print(f"{state['late_days']} day(s) late: {state['score']:g} / {state['max_score']:g} after the "
                      f"penalty ({state['raw_score']:g} before)")
    console.print(text.console(f"Feedback: {receipt['url']}"))
