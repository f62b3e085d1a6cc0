"""``python -m autograder serve ...``: set up, fill and run the submission service.

    serve init DIR [--database URL] [--url URL]   the data folder, a staff login, the assignment
    serve students DIR roster.csv [--reissue]     students from id,name,email; prints their tokens
    serve run DIR [--host H] [--port P] [-j N]    the web server and the graders, in one process
    serve export DIR --format submissions|csv|canvas|moodle [--roster F | --moodle-worksheet F]
                                                  CSV on stdout; who got no grade on stderr
    serve lti ...                                 LTI 1.3: platforms, keys, rosters, scores (lti/commands.py)
    serve rescore DIR                             rescore graded submissions under DIR/questions.toml
    serve --demo                                  all of it on a demo class in a temporary folder
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from autograder.service import CONFIG, ServiceUnavailable, setup

serve_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                        help="A self-hosted submission service (needs the serve extra).")
QUESTIONS = Path(__file__).resolve().parents[1] / "questions.toml"
#: The web server's own cap on a request; each assignment's upload limit is checked below it.
MAX_BODY_BYTES = 256 * 2**20
#: The web server's threads: a page watching its results (Server-Sent Events) holds one for up to
#: ``views.EVENTS_SECONDS``, so there are more than the uploads alone need.
HTTP_THREADS = 24
#: ``serve export``'s formats (see :mod:`autograder.service.export`).
EXPORT_FORMATS = ("submissions", "csv", "canvas", "moodle")
DEMO_ROSTER = [("s001", "Ada Lovelace", "ada@example.org"), ("s002", "Alan Turing", "alan@example.org"),
               ("s003", "Grace Hopper", "grace@example.org")]


def _refuse(message: str, code: int = 2):
    typer.echo(f"serve: {message}", err=True)
    raise typer.Exit(code)


def setup_or_refuse(data_dir: Path) -> None:
    """Set the service up on ``data_dir``, or end the command with why it cannot run here."""
    try:
        setup(data_dir)
    except ServiceUnavailable as exc:
        _refuse(str(exc))


@serve_app.callback()
def serve(ctx: typer.Context,
          demo: bool = typer.Option(False, "--demo", help="init, students and run on a demo class in a temp folder"),
          port: int = typer.Option(8000, "--port", help="with --demo: the port")):
    """A self-hosted submission service: students upload, a queue grades with the same pipeline as `grade`."""
    if ctx.invoked_subcommand is not None:
        return
    if not demo:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    folder = Path(tempfile.mkdtemp(prefix="ch3-serve-demo-"))
    typer.echo(f"demo data folder: {folder} (delete it when done)")
    init_folder(folder / "data", database=None, url=f"http://127.0.0.1:{port}/")
    from autograder.bulk.exports import write_csv

    roster = folder / "roster.csv"
    write_csv(roster, ["id", "name", "email"], list(DEMO_ROSTER))
    typer.echo("demo students:")
    add_students(folder / "data", roster, reissue=False)
    serve_forever(folder / "data", "127.0.0.1", port, workers=1,
                  hint="submit the reference with: python -m autograder submit {url} --token TOKEN solutions "
                       "-q confusion; or sign in at {url}")


@serve_app.command("init")
def init_command(
    data_dir: Path = typer.Argument(..., help="the data folder to create"),
    database: Optional[str] = typer.Option(None, "--database", help="postgresql://user:pass@host/db "
                                                                    "(default: SQLite in DIR)"),
    url: str = typer.Option("http://127.0.0.1:8000/", "--url", help="the address students use (receipts, exports)"),
    allow_weak_sandbox: bool = typer.Option(False, "--allow-weak-sandbox",
                                            help="grade with resource limits only where bubblewrap cannot run"),
):
    """Create the data folder: settings, a migrated database, the assignment, a staff login."""
    init_folder(data_dir, database=database, url=url, allow_weak_sandbox=allow_weak_sandbox)


def init_folder(data_dir: Path, *, database: str | None, url: str, allow_weak_sandbox: bool = False) -> None:
    from urllib.parse import urlsplit

    data_dir = data_dir.resolve()
    if (data_dir / CONFIG).exists():
        _refuse(f"{data_dir} is already a service data folder")
    if database and not database.startswith(("postgres://", "postgresql://")):
        _refuse("--database takes a postgresql://USER:PASSWORD@HOST:PORT/NAME URL (default: SQLite in DIR)")
    url = url if url.endswith("/") else url + "/"
    host = urlsplit(url).hostname or "127.0.0.1"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = {"secret_key": secrets.token_urlsafe(50), "database": database, "base_url": url,
              "allowed_hosts": sorted({"127.0.0.1", "localhost", host}),
              "csrf_trusted_origins": [f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"],
              "allow_weak_sandbox": allow_weak_sandbox}
    fd = os.open(data_dir / CONFIG, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the secret: owner only
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    shutil.copyfile(QUESTIONS, data_dir / "questions.toml")
    setup_or_refuse(data_dir)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import OperationalError, connection

    try:
        call_command("migrate", verbosity=0, interactive=False)
    except OperationalError as exc:
        (data_dir / CONFIG).unlink()
        _refuse(f"cannot reach the database: {str(exc).strip().splitlines()[0]}")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal", mode
    from autograder.service.models import Assignment
    from autograder.spec import load_spec

    Assignment.objects.create(slug="ch3", title="Chapter 3: Classification", spec_file="questions.toml")
    if settings.LTI:  # the LTI tool's signing key, published at /lti/jwks.json
        from autograder.service.lti.tool import ensure_key

        ensure_key()
    points = sum(q.points for q in load_spec(data_dir / "questions.toml").values())
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("staff", "", password)
    typer.echo(f"created {data_dir}: database {'PostgreSQL' if database else 'SQLite (WAL)'}, "
               f"assignment 'Chapter 3: Classification' ({points:g} points, {data_dir / 'questions.toml'})")
    typer.echo(f"staff login: user staff, password {password} (shown once; at {url}admin/)")


@serve_app.command("students")
def students_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    roster: Path = typer.Argument(..., help="CSV with the columns id,name,email"),
    reissue: bool = typer.Option(False, "--reissue", help="new tokens for students already there (the old stop)"),
):
    """Add the roster's students; prints CSV id,name,email,token (tokens are shown once, stored hashed)."""
    setup_or_refuse(data_dir)
    add_students(data_dir, roster, reissue=reissue)


def add_students(data_dir: Path, roster: Path, *, reissue: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from autograder.service.models import Student

    try:
        with open(roster, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            columns = set(rows[0]) if rows else set()
    except OSError as exc:
        _refuse(f"cannot read {roster}: {exc.strerror}")
    missing = {"id", "name", "email"} - columns
    if missing:
        _refuse(f"{roster}: the roster needs the columns id,name,email (missing: {', '.join(sorted(missing))})")
    ids = [row["id"].strip() for row in rows]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        _refuse(f"{roster}: every row needs an id, and ids must be unique")
    User = get_user_model()
    with transaction.atomic():
        issued = []
        for row, student_id in zip(rows, ids):
            student = Student.objects.filter(student_id=student_id).first()
            token = ""
            if student is None:
                user = User.objects.create_user(f"student-{student_id}"[:150])
                user.set_unusable_password()
                user.save()
                student = Student.objects.create(user=user, student_id=student_id)
                token = student.issue_token()
            elif reissue:
                token = student.issue_token()
            student.name, student.email = row["name"].strip(), row["email"].strip()
            student.save(update_fields=["name", "email"])
            issued.append([student_id, student.name, student.email, token])
    from autograder.bulk.exports import csv_text

    # every cell through the spreadsheet-formula guard but the tokens, which must be copied as they are
    sys.stdout.write(csv_text(["id", "name", "email", "token"], issued, verbatim=("token",)))
    sys.stdout.flush()


@serve_app.command("run")
def run_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (behind a TLS reverse proxy)"),
    port: int = typer.Option(8000, "--port", help="port (0: any free one)"),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="submissions graded at once"),
    lease: float = typer.Option(60.0, "--lease", min=5.0, help="seconds a grader holds a job between renewals"),
    executor: str = typer.Option("warm", "--executor", help="warm (a warm grading process per grader, a fresh "
                                 "child per submission), cold (a fresh process per submission) or "
                                 "dask://HOST:PORT (a Dask cluster grades the claimed jobs)"),
):
    """Serve HTTP and grade the queue, in one process, until Ctrl-C or SIGTERM."""
    if executor not in ("warm", "cold") and not executor.startswith("dask://"):
        _refuse(f"--executor is warm, cold or dask://HOST:PORT, not {executor!r}")
    setup_or_refuse(data_dir)
    serve_forever(data_dir, host, port, workers=workers, lease=lease, executor=executor)


def serve_forever(data_dir: Path, host: str, port: int, *, workers: int, lease: float = 60.0,
                  hint: str = "", executor: str = "warm") -> None:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from waitress import create_server

    from autograder.service.dispatcher import Dispatcher

    lock = open(Path(settings.DATA_DIR) / "run.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _refuse(f"another `serve run` is using {settings.DATA_DIR}")
    call_command("migrate", verbosity=0, interactive=False)  # a newer version's tables, if any
    import autograder.grading  # noqa: F401 (the upload readers: imported now, not by the first receipt)
    import autograder.intake.notebooks  # noqa: F401
    from autograder.options import isolation_mode
    from autograder.service.dispatcher import isolation
    from autograder.worker.sandbox import SandboxUnavailable

    if not executor.startswith("dask://"):
        try:  # the graders' sandbox, checked before anything is accepted (a cluster's workers have their own)
            isolation_mode(isolation())
        except SandboxUnavailable as exc:
            _refuse(f"cannot grade on this machine: {exc}")
    else:
        from autograder.service.remote import DaskRunner

        try:
            DaskRunner(executor).close()
        except Exception as exc:  # noqa: BLE001 (any failure to reach the cluster is one line)
            _refuse(f"cannot reach the Dask scheduler {executor}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    try:
        server = create_server(WSGIHandler(), host=host, port=port, threads=HTTP_THREADS,
                               clear_untrusted_proxy_headers=True, max_request_body_size=MAX_BODY_BYTES)
    except OSError as exc:
        _refuse(f"cannot listen on {host}:{port}: {exc.strerror}")
    dispatcher = Dispatcher(threads=workers, lease_seconds=lease, executor=executor).start()
    outbox = None
    if settings.LTI:  # scores to the LMS (LTI Assignment and Grade Services)
        from autograder.service.lti.outbox import OutboxWorker

        outbox = OutboxWorker().start()

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    typer.echo(f"serving http://{host}:{server.effective_port}/ with {workers} {executor} grader(s); data {settings.DATA_DIR}; "
               "Ctrl-C stops")
    if hint:
        typer.echo(hint.format(url=f"http://{host}:{server.effective_port}/"))
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        typer.echo("stopping: submissions being graded are graded again at the next start", err=True)
    finally:
        dispatcher.stopping.set()
        if outbox is not None:
            outbox.stopping.set()
        server.close()


def _add_lti_commands() -> None:
    from autograder.service.lti.commands import lti_app

    serve_app.add_typer(lti_app, name="lti")


_add_lti_commands()


@serve_app.command("export")
def export_command(
    data_dir: Path = typer.Argument(..., help="the data folder"),
    format: str = typer.Option("submissions", "--format", help="submissions (every submission), csv (every "
                               "roster student's counted score), canvas or moodle (the LMS's gradebook file)"),
    roster: Optional[Path] = typer.Option(None, "--roster", help="with canvas: Canvas's gradebook export CSV "
                                                                 "(as grade-all --roster)"),
    assignment: Optional[str] = typer.Option(None, "--assignment", help="with canvas: the roster's column for "
                                             "this grade (its name or Canvas id; default: matched by title)"),
    moodle_worksheet: Optional[Path] = typer.Option(None, "--moodle-worksheet", help="with moodle: Moodle's "
                                                    "downloaded grading worksheet, filled in"),
    partial_export: bool = typer.Option(False, "--partial-export", help="canvas/moodle, for an assignment graded "
                                        "on some questions only: export those questions' points anyway"),
    slug: Optional[str] = typer.Option(None, "--slug", help="csv/canvas/moodle: the course's assignment to export "
                                       "(its slug; default: the first)"),
):
    """CSV on stdout: every submission, the gradebook, or Canvas's or Moodle's gradebook file filled in
    with the final grades (who got no grade, and why, on stderr)."""
    if format not in EXPORT_FORMATS:
        _refuse(f"--format is {', '.join(EXPORT_FORMATS[:-1])} or {EXPORT_FORMATS[-1]}")
    setup_or_refuse(data_dir)
    from autograder.bulk.exports import csv_text
    from autograder.service.export import ExportRefused, gradebook, gradebook_rows, submission_rows
    from autograder.service.models import Assignment

    chosen = None
    if format != "submissions":
        try:
            chosen = Assignment.chosen(slug)
        except Assignment.DoesNotExist as exc:
            _refuse(f"cannot export {format}: {exc}")
    if format in ("canvas", "moodle"):
        try:
            book = gradebook(format, roster if format == "canvas" else moodle_worksheet, chosen,
                             assignment_column=assignment, partial_export=partial_export)
        except ExportRefused as exc:
            _refuse(f"cannot export {format}: {exc}")
        sys.stdout.write(book.text)
        sys.stdout.flush()
        for note in book.notes:
            typer.echo(f"serve: {note}", err=True)
        return
    header, *rows = submission_rows() if format == "submissions" else gradebook_rows(chosen)
    sys.stdout.write(csv_text(header, rows, verbatim=("url",)))


@serve_app.command("rescore")
def rescore_command(data_dir: Path = typer.Argument(..., help="the data folder")):
    """Rescore every graded submission under DIR's questions.toml (edited by the staff): no student
    code runs and no attempt is counted; only the results that change are rewritten."""
    setup_or_refuse(data_dir)
    from autograder.service.rescore import rescore_all
    from autograder.spec import SpecError

    try:
        counts = rescore_all()
    except (SpecError, ValueError, OSError) as exc:
        _refuse(f"cannot rescore: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    typer.echo(f"rescored: {counts['changed']} changed, {counts['unchanged']} unchanged")
