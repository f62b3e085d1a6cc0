"""``grade_all``: find a class's submissions, grade what the cache lacks, write every output.

    discover (inputs) -> prepare + cache key -> run the missing ones (runner) -> store each
    as it finishes (store) -> the final gate (final) -> exports (grades.csv, Canvas CSV) -> summary

The per-student folder (``students/<id>/entry.json`` beside the reports) is the durable record;
``batch.json`` is rewritten from those records as results come in, and once more at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from autograder.bulk import exports
from autograder.bulk.final import NOT_FINAL_FILE, Verdict, advice, final_results
from autograder.bulk.inputs import Entry, LayoutError, apply_roster, discover, prepare, read_roster
from autograder.bulk.runner import available_cores, execute, job_options, stage_in_shared_dir, threads_per_worker
from autograder.intake import PreparedSubmission
from autograder.bulk.store import BatchStore, cache_key, grader_hash, grader_version, text_digest
from autograder.results import GradingResult, percent

MANIFEST_VERSION = 1
#: The longest a finished result waits before batch.json lists it (each student's folder is written at once).
MANIFEST_EVERY_S = 1.0


def _absolute(path) -> str | None:
    return str(Path(path).resolve()) if path else None


@dataclass(frozen=True)
class BatchSettings:
    """A batch's options, recorded in batch.json (``to_dict``) so that ``--resume`` and
    ``--retry-failed`` finish it the way it was started (``from_dict``): what to grade and how
    (:meth:`grading_options`), and which gradebooks to fill in."""

    source: str | None = None
    profile: str = "quick"
    questions: tuple[str, ...] = ()
    timeout: float | None = None
    data_dir: str | None = None
    roster: str | None = None
    layout: str | None = None
    assignment: str | None = None
    partial_export: bool = False
    moodle_worksheet: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "questions", tuple(sorted(self.questions or ())))
        for name in ("source", "data_dir", "roster", "moodle_worksheet"):
            object.__setattr__(self, name, _absolute(getattr(self, name)))

    def grading_options(self):
        """The :class:`~autograder.options.GradingOptions` every job of the batch grades with: hidden
        grading, bubblewrap or nothing. Raises ValueError (a typo in -q or --data) before anyone is graded."""
        from autograder.options import GradingOptions, Isolation

        return GradingOptions(profile=self.profile, questions=self.questions, visibilities=("public", "hidden"),
                              data_dir=self.data_dir, limits={"timeout": self.timeout} if self.timeout else {},
                              isolation=Isolation.STRICT)

    def to_dict(self) -> dict:
        return {**asdict(self), "questions": list(self.questions)}

    @classmethod
    def from_dict(cls, data: dict | None) -> "BatchSettings":
        """The settings batch.json records (keys it does not record keep their defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass
class BatchEvent:
    """One submission settled: graded now, reused from the cache, or impossible to grade."""

    entry: dict
    result: GradingResult | None
    cached: bool = False


@dataclass
class BatchOutcome:
    out: Path
    manifest: dict
    results: dict[str, GradingResult] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)  # the class-level files: grades.csv, the LMS imports, ...
    #: id -> why that stored result is not final (exported blank; see ``bulk.final``).
    not_final: dict[str, Verdict] = field(default_factory=dict)

    @property
    def entries(self) -> list[dict]:
        return self.manifest["entries"]


def grade_all(source: Path | None, out: Path, *, workers: int | None = None, profile: str = "quick",
              data_dir: Path | None = None, questions=(), timeout: float | None = None,
              roster: Path | None = None, resume: bool = False, scheduler: str | None = None,
              shared_dir: Path | None = None, client=None, layout: str | None = None,
              retry_failed: bool = False,
              assignment: str | None = None, partial_export: bool = False, moodle_worksheet: Path | None = None,
              on_start: Callable[[int, int], None] | None = None,
              on_event: Callable[[BatchEvent], None] | None = None,
              on_not_final: Callable[[dict[str, Verdict]], None] | None = None) -> BatchOutcome:
    """Grade every submission under ``source`` into ``out``; see docs/guide/grade-all.md.

    Parameters
    ----------
    source : Path or None
        The class folder, or a .zip of it (an LMS export). None with ``resume``: the recorded one.
    out : Path
        The batch's output folder.
    workers : int, optional
        Submissions graded at once on this machine (default: the number of cores).
    resume : bool
        Finish the batch recorded in ``out/batch.json`` with its recorded options.
    retry_failed : bool
        Like ``resume``: every result that is not final and that regrading can fix (the grader or the
        machine failed, a stored file edited, truncated or missing, another grader) is graded again.
    scheduler, client
        A Dask scheduler address (or a ``distributed.Client``): run the jobs on that cluster.
    shared_dir : Path, optional
        With a cluster: pass submissions through this shared folder rather than the scheduler.
    assignment : str, optional
        The roster's column for the Canvas import (its name or Canvas id); default: matched by title.
    partial_export : bool
        Allow a gradebook export (Canvas, Moodle) of a ``questions`` subset, out of the subset's points.
    moodle_worksheet : Path, optional
        Moodle's downloaded grading worksheet, to fill in (``moodle_grading_worksheet.csv``).
    on_start(total, to_run), on_event(BatchEvent)
        Progress callbacks.
    on_not_final(dict of id -> Verdict)
        Called before any class-level file is written when some results are not final.

    Returns
    -------
    BatchOutcome
    """
    store = BatchStore(out)
    settings = BatchSettings(source=source, profile=profile, questions=tuple(questions), timeout=timeout,
                             data_dir=data_dir, roster=roster, layout=layout, assignment=assignment,
                             partial_export=partial_export, moodle_worksheet=moodle_worksheet)
    if resume or retry_failed:
        settings = _resumed_settings(store, settings)
    if settings.source is None:
        raise LayoutError("Which submissions? Give the class folder (or, with --resume, an --out that holds a batch).")
    settings.grading_options()
    _check_gradebooks(settings)
    workers = workers or available_cores()
    if workers < 1:
        raise ValueError(f"The 'workers' parameter must be an int >= 1. Got {workers!r} instead.")

    with tempfile.TemporaryDirectory(prefix="ch3-bulk-export-") as scratch:
        root = _class_folder(Path(settings.source), Path(scratch))
        entries = discover(root, settings.layout)
        if settings.roster:  # refused before anything is written, --out included
            apply_roster(entries, read_roster(Path(settings.roster)))
        with hold_out_folder(store.out):
            return _run_batch(store, entries, settings, workers=workers, scheduler=scheduler,
                              shared_dir=shared_dir, client=client, on_start=on_start, on_event=on_event,
                              on_not_final=on_not_final)


#: The lock file in ``--out``: one ``grade-all`` run per output folder.
LOCK_FILE = ".grade-all.lock"


class OutFolderBusy(LayoutError):
    """Another ``grade-all`` run holds the output folder."""


@contextlib.contextmanager
def hold_out_folder(out: Path):
    """Hold ``out`` for this run: an exclusive ``flock`` on ``out/.grade-all.lock``, which records the
    holder (pid, host, start time). A second run is refused naming the holder. The lock goes with its
    process however that ends (kill -9 included), so the file a dead run left is simply taken over."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutFolderBusy(f"{out} is in use by another grade-all run ({_lock_holder(path)}); wait for it "
                                f"to end, or give another --out.") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a run taking it)


def _lock_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder did not record itself yet"


def _check_gradebooks(settings: BatchSettings) -> None:
    """Fail before grading anyone: a roster without the assignment, or a -q subset for a gradebook."""
    if settings.roster or settings.moodle_worksheet:
        exports.check_gradebook_selection(settings.questions, partial_export=settings.partial_export)
    if settings.roster:
        roster = Path(settings.roster)
        read_roster(roster)
        header, _ = exports.roster_table(roster)
        exports.canvas_assignment_column(header, settings.assignment)
    if settings.moodle_worksheet:
        exports.read_moodle_worksheet(Path(settings.moodle_worksheet))


def _run_batch(store, entries: list[Entry], settings: BatchSettings, *, workers, scheduler, shared_dir, client,
               on_start, on_event, on_not_final=None) -> BatchOutcome:
    grading = settings.grading_options()
    isolation = _isolation_mode(grading)
    local = not (scheduler or client is not None)
    threads = threads_per_worker(workers) if local else None
    # the class folder is named in the results; the sandbox's allowlist view shows the student none of it
    key_options = job_options(grading, source=settings.source, out_dir=str(store.out))
    if local:
        grading = grading.replace(limits=_with_thread_cap(dict(grading.limits), threads, grading))
    options = job_options(grading, source=settings.source, out_dir=str(store.out))
    store.out.mkdir(parents=True, exist_ok=True)
    store.clean_leftovers(keep={e.id for e in entries})

    records: dict[str, dict] = {}
    results: dict[str, GradingResult] = {}
    jobs: list[tuple[str, dict, str]] = []
    prepared: dict[str, PreparedSubmission] = {}
    for entry in entries:
        record = {**entry.manifest(), "status": "pending", "error": "", "result": None, "cache_key": None,
                  "score": None, "max_score": None, "percent": None, "seconds": None, "timeouts": 0,
                  "grader_errors": 0, "cached": False}
        records[entry.id] = record
        try:
            submission = prepare(entry)
        except Exception as exc:  # CannotGrade, or anything else an odd file throws: a row, never a stop
            record.update(status="cannot_grade", error=str(exc) or type(exc).__name__)
            store.write_student(record, None, f"could not grade {entry.source}: {record['error']}\n", None)
            continue
        key = cache_key(submission, {**key_options, "isolation": isolation})
        record["cache_key"] = key
        prepared[entry.id] = submission
        files = dict(submission.files)
        reply = store.cached(key)
        if reply is not None and reply.get("result") and cacheable(reply):
            record["cached"] = True
            stored = store.stored_entry(entry.id)
            reply = {**reply, "result": _rescored(GradingResult.from_dict(reply["result"])).to_dict()}
            same_folder = bool(stored and stored.get("cache_key") == key and stored.get("status") == "graded"
                               and _same_person(stored, record))
            _settle(store, record, reply, files, results,
                    rewrite=not (same_folder and _stored_result_is(store, entry.id, reply["result"], record, stored)))
        else:
            payload = ({**submission.without_files().to_dict(), "folder": stage_verified(shared_dir, key, files)}
                       if shared_dir else submission.to_dict())
            jobs.append((entry.id, payload, record["source"]))

    manifest = {"version": MANIFEST_VERSION, "settings": settings.to_dict(), "grader_version": grader_version(),
                "complete": False, "entries": list(records.values())}
    store.write_manifest(manifest)
    if on_start:
        on_start(len(records), len(jobs))
    if on_event:
        for record in records.values():
            if record["status"] != "pending":
                on_event(BatchEvent(record, results.get(record["id"]), cached=record["cached"]))

    last_write = time.monotonic()
    try:
        for entry_id, reply in execute(jobs, options, workers=workers, threads=threads or 1,
                                       scheduler=scheduler, client=client):
            record = records[entry_id]
            if cacheable(reply):  # the rendered reports name the student: not for the cache
                store.remember(record["cache_key"], {k: v for k, v in reply.items() if k != "reports"})
            _settle(store, record, reply, dict(prepared[entry_id].files), results, rewrite=True)
            if on_event:
                on_event(BatchEvent(record, results.get(entry_id)))
            if time.monotonic() - last_write >= MANIFEST_EVERY_S:
                store.write_manifest(manifest)
                last_write = time.monotonic()
        manifest["complete"] = all(r["status"] != "pending" for r in records.values())
    finally:
        store.write_manifest(manifest)  # also on Ctrl-C / SIGTERM: every finished result is listed
    held: dict[str, Verdict] = {}

    def not_final(verdicts):
        held.update(verdicts)
        if on_not_final:
            on_not_final(verdicts)
    written = write_outputs(store, manifest, on_not_final=not_final)
    return BatchOutcome(store.out, manifest, results, written, held)


def cacheable(reply: dict) -> bool:
    """Whether a job's reply may be kept: a result that needs no regrading (no grader error, no
    infrastructure failure), graded by the installed grader's code. A failure of the grader or the
    machine is never the student's grade."""
    if not reply.get("result") or reply.get("grader") != grader_hash():  # graded by other code than installed
        return False
    try:
        return not GradingResult.from_dict(reply["result"]).needs_regrade
    except (TypeError, ValueError, KeyError):
        return False


def stage_verified(shared_dir: Path, key: str, files: dict[str, bytes]) -> str:
    """The folder under ``shared_dir`` holding exactly ``files`` (``--shared-dir``), checked by hash.

    A folder already there (from an earlier run, or planted by someone with access to the shared
    folder) is used only if its files and their SHA-256 digests are exactly ``files``'; otherwise
    it is replaced by a fresh copy."""
    folder = Path(stage_in_shared_dir(shared_dir, key, files))
    if _folder_digests(folder) == {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}:
        return str(folder)
    stale = folder.with_name(f".{folder.name}.{os.getpid()}.stale")
    try:
        os.replace(folder, stale)
    except OSError:
        pass
    shutil.rmtree(stale, ignore_errors=True)
    folder = Path(stage_in_shared_dir(shared_dir, key, files))
    if _folder_digests(folder) != {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}:
        raise RuntimeError(f"{folder} changed while it was staged; the submission was not graded from it")
    return str(folder)


def _folder_digests(folder: Path) -> dict[str, str] | None:
    """name -> SHA-256 of every entry of ``folder`` (None if any is not a regular file, or no folder)."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return None
        digests = {}
        for path in folder.iterdir():
            if path.is_symlink() or not path.is_file():
                return None
            digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests
    except OSError:
        return None


def _isolation_mode(grading) -> str:
    """The isolation the grader processes will use (it changes what a submission can do)."""
    from autograder.options import isolation_mode
    from autograder.worker.sandbox import SandboxUnavailable

    try:
        return isolation_mode(grading.isolation)
    except SandboxUnavailable:
        return "unavailable"


def _rescored(result: GradingResult) -> GradingResult:
    """A cached result scored under the current questions.toml (the cache keeps measurements)."""
    from autograder.judge.rescore import rescore_result

    return rescore_result(result)


def _settle(store: BatchStore, record: dict, reply: dict, files, results: dict, *, rewrite: bool) -> None:
    """Fill the record from a job's reply and write the student's folder (atomically)."""
    if reply.get("result"):
        result = GradingResult.from_dict(reply["result"])
        result.submission = record["source"]
        results[record["id"]] = result
        # the grader that graded it, as its grader process reported (a cached reply is used only when
        # that is the installed grader: ``cacheable``)
        record.update(status="graded", error="", result=f"students/{record['id']}/grading.json",
                      grader=reply.get("grader"),
                      score=result.score, max_score=result.max_score,
                      percent=percent(result.score, result.max_score),
                      seconds=result.seconds, timeouts=sum(q.status == "timeout" for q in result.questions),
                      grader_errors=len(result.grader_errors),
                      infrastructure=[q.id for q in result.infrastructure_failures])
    elif reply.get("infrastructure"):  # the grader process or the cluster failed: listed, regraded, no score
        result = None
        record.update(status="grader_error", error=reply.get("error") or "no result", result=None, score=None,
                      max_score=None, percent=None, grader_errors=1, infrastructure=["the whole submission"])
    else:
        result = None
        record.update(status="cannot_grade", error=reply.get("error") or "no result", result=None)
    if rewrite:
        store.write_student(record, result, reply.get("log", ""), files, reply.get("reports"))
    else:
        record["result_sha256"] = (store.stored_entry(record["id"]) or {}).get("result_sha256")


def _stored_result_is(store: BatchStore, student_id: str, result: dict, record: dict, stored_entry: dict) -> bool:
    """Whether the student's stored folder already holds ``result`` (scored by today's policy) as the
    grader wrote it: the file's digest is the one its entry.json records, with today's grader hash.
    Anything else (a flipped digest, an edit, another grader) is rewritten from the reply."""
    path = store.student_dir(student_id) / "grading.json"
    try:
        text = path.read_text(encoding="utf-8")
        stored = GradingResult.from_dict(json.loads(text))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False
    if stored_entry.get("result_sha256") != text_digest(text) or stored_entry.get("grader") != grader_hash():
        return False
    expected = GradingResult.from_dict(result)
    expected.submission = record["source"]
    return stored.to_dict() == expected.to_dict()


def _same_person(stored: dict, record: dict) -> bool:
    return all(stored.get(k) == record.get(k) for k in ("name", "email", "source"))


def _with_thread_cap(limits: dict, threads: int, grading) -> dict:
    """Cap the student workers' BLAS threads so that grader processes x threads <= cores (the cap depends
    on --workers, not on the submission: it is not part of the cache key)."""
    most = max((q.limits.threads for q in grading.in_scope()), default=1)
    return {**limits, "threads": threads} if threads < most else dict(limits)


def _resumed_settings(store: BatchStore, given: BatchSettings) -> BatchSettings:
    manifest = store.read_manifest()
    if manifest is None:
        raise LayoutError(f"--resume: {store.out / 'batch.json'} does not exist; there is no batch to resume.")
    recorded = BatchSettings.from_dict(manifest.get("settings"))
    if given.source and recorded.source and given.source != recorded.source:
        raise LayoutError(f"--resume: {store.out} holds the batch of {recorded.source}, not {given.source}.")
    return recorded


def _class_folder(source: Path, scratch: Path) -> Path:
    """The class folder; an LMS export's .zip is unpacked first (into scratch, never beside it)."""
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(scratch / "export")  # zipfile drops absolute paths and ".." parts
        root = scratch / "export"
        children = [p for p in root.iterdir() if p.name != "__MACOSX"]
        return children[0] if len(children) == 1 and children[0].is_dir() and not (
            root / "submission_metadata.yml").exists() and _looks_like_container(children[0]) else root
    if not source.exists():
        raise LayoutError(f"The submissions folder {source} does not exist.")
    return source


def _looks_like_container(folder: Path) -> bool:
    """An export zipped with its top folder: that folder holds the entries (not .py files directly)."""
    return not any(p.suffix == ".py" for p in folder.iterdir())


# ---------------------------------------------------------------------------- outputs

def write_outputs(store: BatchStore, manifest: dict, *,
                  on_not_final: Callable[[dict[str, Verdict]], None] | None = None) -> list[Path]:
    """grades.csv, the Canvas import (with a roster), the Moodle worksheet, then summary.html/csv where
    that reporter exists; every stored result is read through the final gate (``bulk.final``).

    A result that is not final is exported blank with its reason (grades.csv's status and error,
    ``not_final.csv``); ``on_not_final`` hears of them before any of these files is written.
    """
    results, held = final_results(store, manifest)
    if held and on_not_final:
        on_not_final(held)
    reasons = {sid: v.reason for sid, v in held.items()}
    settings = BatchSettings.from_dict(manifest.get("settings"))
    entries = manifest["entries"]
    written = [exports.write_grades_csv(store.out / "grades.csv", entries, results, reasons)]
    notes = store.out / NOT_FINAL_FILE
    if held:
        by_id = {str(e.get("id")): e for e in entries}
        written.append(exports.write_csv(notes, ["id", "name", "email", "source", "reason", "what fixes it"], [
            [sid, by_id.get(sid, {}).get("name", ""), by_id.get(sid, {}).get("email", ""),
             by_id.get(sid, {}).get("source", ""), v.reason, advice(v, store.out)] for sid, v in sorted(held.items())],
            bom=True))
    else:
        notes.unlink(missing_ok=True)  # a list from an earlier run would name results that are final now
    if settings.roster:
        written.append(exports.write_canvas_csv(store.out / "canvas_import.csv", entries, results,
                                                Path(settings.roster), settings.assignment,
                                                partial_export=settings.partial_export))
    if settings.moodle_worksheet or any(e.get("moodle_participant") for e in entries):
        try:
            exports.check_gradebook_selection(settings.questions, partial_export=settings.partial_export)
        except ValueError:
            pass  # a Moodle download graded on a -q subset: no worksheet unless --partial-export
        else:
            worksheet = settings.moodle_worksheet
            written.append(exports.write_moodle_worksheet(
                store.out / "moodle_grading_worksheet.csv", entries, results,
                Path(worksheet) if worksheet else None, partial_export=settings.partial_export,
                not_final=reasons))
    if importlib.util.find_spec("autograder.bulk.summary") is not None:
        from autograder.bulk.summary import write_summary

        written += [Path(p) for p in write_summary(store.out, staff_pages=False) or ()]
    return written
