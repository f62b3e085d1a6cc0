"""Run the per-submission jobs: in long-lived local grader processes, or on a Dask cluster.

One job is :func:`grade_job`: a prepared submission in (its files as bytes, or in a folder on a
shared file system), ``grading.grade`` on it, the result as a plain dict out. It is the same
function whichever executor runs it, so the local path and the cluster give the same grades.

Local: a ``concurrent.futures.ProcessPoolExecutor`` of N grader processes that each import the
grader once and then grade many submissions; every question still runs the student's code in
its own sandboxed worker (``autograder/worker``), one per grader process at a time.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable, Iterator

from autograder.bulk.reply import JobReply, normalized


#: BLAS/OpenMP thread variables set in every grader process (the grader's own numpy work).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
#: pytest.main and the redirected stdout are per process, not per thread: one grading at a time.
_ONE_AT_A_TIME = threading.Lock()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """BLAS threads for each of ``workers`` concurrent graders so that workers x threads <= cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


# ------------------------------------------------------------------------- the job

#: The keys of a job's options besides the GradingOptions' own fields.
JOB_KEYS = ("source", "out_dir", "render")


def job_options(grading, *, source: str, out_dir: str | None) -> dict:
    """What every job of a batch needs, as plain data (it travels to the cluster): the
    :class:`~autograder.options.GradingOptions`' fields, the class folder (``source``, named in the
    results) and the batch's folder (``out_dir``)."""
    return {**grading.to_dict(), "source": source, "out_dir": out_dir}


def grade_job(payload: dict, options: dict, label: str | None = None) -> dict:
    """Grade one prepared submission; the reply is plain data (it crosses processes and machines).

    Parameters
    ----------
    payload : dict
        A :class:`~autograder.intake.PreparedSubmission` as ``to_dict`` writes it; with ``folder``,
        its files are read from that folder of a shared file system (``--shared-dir``) instead.
    options : dict
        :func:`job_options`: the grading options' fields, ``source`` and ``out_dir``; ``render``
        (default True): False for one part of a split submission, whose merged result is rendered.
    label : str, optional
        What the reports call the submission (its place in the class folder).

    Returns
    -------
    dict
        ``{"result": GradingResult.to_dict() or None, "error": str or None, "log": str, "host": str,
        "reports": {file name: text} (grading.render, rendered here, in parallel) or None,
        "grader": the content hash of the grader code this process runs (``store.grader_hash``)}``
    """
    from autograder.bulk.store import grader_hash
    from autograder.grading import CannotGrade, grade, render
    from autograder.intake import PreparedSubmission
    from autograder.options import GradingOptions

    started = time.perf_counter()
    # "grader": the content hash of the grader this process imported, the code that grades, which
    # the batch compares with the installed one's (another copy on the path is not a final grader)
    reply = JobReply(host=f"{socket.gethostname()} pid {os.getpid()}", grader=grader_hash()).to_dict()
    try:
        prepared = PreparedSubmission.from_dict(payload)
        if payload.get("folder"):
            prepared = PreparedSubmission.from_folder(Path(payload["folder"]), prepared)
        grading = GradingOptions.from_dict({k: v for k, v in options.items() if k not in JOB_KEYS})
        with _ONE_AT_A_TIME:
            result = grade(prepared, grading, source=str(options.get("source") or ""))
        if label is not None:
            result.submission = label
        reply["result"] = result.to_dict()
        if options.get("render", True):  # a part of a split submission: rendered once merged
            reply["reports"] = render(result, "staff")
        reply["log"] = _log(result, reply["host"], time.perf_counter() - started)
    except CannotGrade as exc:
        reply["error"] = str(exc)
        reply["log"] = f"graded on {reply['host']}: could not grade\n{exc}\n"
    finally:
        os.environ.pop("PYTEST_CURRENT_TEST", None)
    return reply


def _log(result, host: str, seconds: float) -> str:
    """The captured log: where and how it ran, every question's status and what the student's code printed."""
    lines = [f"graded on {host} in {seconds:.1f} s; profile {result.profile}; isolation: {result.isolation}"]
    for q in result.questions:
        lines.append(f"\n== {q.id}: {q.status}, {q.points:g}/{q.max_points:g} points, {q.seconds:.2f} s")
        if q.feedback:
            lines.append(q.feedback)
        if q.output:
            lines.append("-- output --\n" + q.output)
    if result.grader_errors:
        lines.append("\n== grader errors ==\n" + "\n".join(result.grader_errors))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ local processes

def die_with_parent(parent: int | None, sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (Linux ``PR_SET_PDEATHSIG``),
    and end at once if the parent ``parent`` is already gone; elsewhere, nothing."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # it died before the line above
        os._exit(1)


#: prctl(2): the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def _start_grader_process(threads: int, parent: int | None = None) -> None:
    """Pool initializer: die with the parent (``grade-all``: killed outright, it leaves no grader
    process, and so no sandbox, behind), pin BLAS threads, leave Ctrl-C to the parent, pay the
    grader's imports once (and the sandbox's: its zygote is kept from submission to submission)."""
    die_with_parent(parent)  # SIGTERM: the kept sandbox's folder goes too; bwrap dies with this process
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import autograder.grading  # noqa: F401  (pytest, the plugin, the judge)
    import sklearn.metrics  # noqa: F401  (what every grader uses)
    from autograder.bulk.grader_process import keep_sandboxes

    keep_sandboxes()  # the sandbox's own imports too: once per grader process, not per submission


def start_local_pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """N long-lived grader processes (spawned: no state inherited from the parent)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_grader_process, initargs=(threads, os.getpid()))


def render_job(result: dict) -> dict:
    """A merged submission's report files, rendered in a grader process (the plots are most of the cost)."""
    from autograder.grading import render
    from autograder.results import GradingResult

    return render(GradingResult.from_dict(result), "staff")


class GraderProcess:
    """One spawned grader process that runs one task at a time, so that a crash names its task.

    Its pid comes from a first ``os.getpid`` task (ProcessPoolExecutor has no public handle on
    its processes): :meth:`stop` sends SIGTERM to that pid, and the grader process closes its
    sandbox on it."""

    def __init__(self, threads: int):
        self.pool = start_local_pool(1, threads)
        self._pid = self.pool.submit(os.getpid)

    def submit(self, function, *args) -> Future:
        return self.pool.submit(function, *args)

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._pid.done() and not self._pid.cancelled() and self._pid.exception() is None:
            try:
                os.kill(self._pid.result(), signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.pool.shutdown(wait=True)


def run_local(jobs: list[tuple[str, object, str]], options: dict, *, workers: int, threads: int,
              job=None, split: bool = True) -> Iterator[tuple[str, dict]]:
    """Yield ``(job id, reply)`` as local grader processes finish them.

    Each submission is split into one task per module (``split``), and tasks run longest
    expected first on whichever grader process is free (:mod:`autograder.bulk.schedule`).
    A grader process that dies (killed, out of memory) takes only its own task with it: the
    task is retried alone in a fresh process, and only a task that kills that one too is
    reported as having killed the grader process: an infrastructure failure (``"infrastructure": True``
    in its reply), never the student's. ``job``: the task function (default :func:`grade_job`)."""
    from autograder.bulk import schedule

    job = job or grade_job
    history = schedule.read_history(options.get("out_dir"))
    if split:
        parts = schedule.plan(jobs, options, history, _reference_costs(options.get("profile")))
    else:
        parts = [schedule.Part(job_id, payload, label, (), "", 0.0) for job_id, payload, label in jobs]
    pending = {job_id: schedule.Pending(sum(p.job_id == job_id for p in parts)) for job_id, _, _ in jobs}
    queue: list[schedule.Part | tuple[str, dict]] = list(parts)   # a tuple: (job id, merged reply) to render
    processes = [GraderProcess(threads) for _ in range(max(1, min(workers, len(parts))))] if parts else []
    running: dict[Future, tuple[GraderProcess, object]] = {}
    try:
        while queue or running:
            for process in processes:
                if not queue:
                    break
                if any(owner is process for owner, _ in running.values()):
                    continue
                task = queue.pop(0)
                running[process.submit(*_call(task, job, options, pending))] = (process, task)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                process, task = running.pop(future)
                try:
                    reply = future.result()
                    if not isinstance(task, tuple):  # a job's reply (a rendering gives the report files)
                        reply = normalized(reply)
                except BrokenProcessPool as exc:  # the grader process died (killed, out of memory)
                    processes[processes.index(process)] = fresh = GraderProcess(threads)
                    process.stop()
                    if isinstance(task, tuple):  # rendering: the batch renders the reports itself
                        yield task[0], {**task[1], "reports": None}
                        continue
                    if task.attempts == 0:
                        task.attempts += 1
                        running[fresh.submit(*_call(task, job, options, pending))] = (fresh, task)  # alone, at once
                        continue
                    reply = JobReply.failure(f"the grader process died while grading this submission, twice, "
                                             f"the second time alone in a fresh process: {exc}",
                                             infrastructure=True).to_dict()
                except Exception as exc:  # the grader failed on this submission: its row says how
                    if isinstance(task, tuple):
                        yield task[0], {**task[1], "reports": None,
                                        "log": task[1]["log"] + f"\nthe reports could not be rendered: {exc}\n"}
                        continue
                    reply = JobReply.failure(f"the grader failed: {type(exc).__name__}: {exc}").to_dict()
                if isinstance(task, tuple):
                    yield task[0], {**task[1], "reports": reply}
                    continue
                if not task.module:
                    yield task.job_id, reply
                    continue
                schedule.record(history, task, reply)
                waiting = pending[task.job_id]
                waiting.replies.append(reply)
                if len(waiting.replies) < waiting.parts:
                    continue
                if waiting.parts == 1:
                    yield task.job_id, reply
                    continue
                merged = schedule.merge(waiting.replies)
                if merged["result"] is None:
                    yield task.job_id, merged
                else:
                    queue.insert(0, (task.job_id, merged))  # render next, on the first free process
    finally:
        for process in processes:
            process.stop()
        schedule.write_history(options.get("out_dir"), history)


def _call(task, job, options, pending) -> tuple:
    if isinstance(task, tuple):
        return render_job, task[1]["result"]
    part_options = {**options, "questions": list(task.questions)} if task.questions else dict(options)
    if task.module and pending[task.job_id].parts > 1:
        part_options["render"] = False  # the merged submission is rendered once, by render_job
    return job, task.payload, part_options, task.label


def _reference_costs(profile: str | None) -> dict:
    """Question id -> the reference solution's measured seconds on this profile (empty if unmeasured)."""
    from autograder.judge.limits import reference_costs

    return reference_costs().get(profile or "quick", {})


# ------------------------------------------------------------------------------ Dask

def start_dask_client(address: str):
    """A client of an existing Dask distributed cluster (``dask[distributed]``, the ``dask`` extra)."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise RuntimeError("--scheduler needs Dask: pip install 'ch3-autograder[dask]'") from exc
    return Client(address, timeout="30s")


def run_dask(jobs: list[tuple[str, object, str]], options: dict, *, address: str | None = None, client=None
             ) -> Iterator[tuple[str, dict]]:
    """Yield ``(job id, reply)`` as the cluster's workers finish; the same job function as :func:`run_local`."""
    from distributed import as_completed

    own = client is None
    client = client or start_dask_client(address)
    futures = {}
    try:
        for job_id, payload, label in jobs:
            future = client.submit(grade_job, payload, options, label, pure=False,
                                   key=f"ch3-grade-{job_id}-{os.urandom(4).hex()}")
            futures[future] = job_id
        for future in as_completed(futures):
            job_id = futures[future]
            try:
                reply = normalized(future.result())  # the one shape, whatever version of the job replied
            except Exception as exc:  # a worker lost, the job raised on the worker, a reply of another shape
                yield job_id, JobReply.failure(f"the cluster could not run the job: {type(exc).__name__}: {exc}",
                                               infrastructure=True).to_dict()
                continue
            yield job_id, reply
    finally:
        for future in futures:
            future.cancel()
        if own:
            client.close()


def stage_in_shared_dir(shared_dir: Path, key: str, files: dict[str, bytes]) -> str:
    """Put a prepared submission in the shared folder the cluster's workers read (``--shared-dir``)."""
    folder = Path(shared_dir).resolve() / "submissions" / key
    if not folder.is_dir():
        staging = Path(tempfile.mkdtemp(dir=folder.parent if folder.parent.is_dir() else _mkdir(folder.parent)))
        for name, content in files.items():
            (staging / name).write_bytes(content)
        try:
            os.replace(staging, folder)
        except OSError:  # another run staged the same files meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return str(folder)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def execute(jobs: Iterable[tuple[str, object, str]], options: dict, *, workers: int, threads: int,
            scheduler: str | None = None, client=None) -> Iterator[tuple[str, dict]]:
    """Dispatch to the cluster when a scheduler (or client) is given, else to local grader processes.

    A job is ``(job id, payload, label)``: see :func:`grade_job`."""
    jobs = list(jobs)
    if scheduler or client is not None:
        return run_dask(jobs, options, address=scheduler, client=client)
    return run_local(jobs, options, workers=workers, threads=threads)

