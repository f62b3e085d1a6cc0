"""The graders' view of a submission: call student code in a sandboxed worker, get plain data back.

>>> confusion = submission.module("confusion")
>>> confusion.precision(y_true, y_pred)            # runs in the worker
0.8
>>> model = submission.module("ex1_knn97").build_model()   # not plain data: a Remote handle
>>> model.call("fit", X_train, y_train); model.call("predict", X_test)

One worker per student module, started on first use with the current question's
limits (a fresh child of the submission's sandboxed zygote), and restarted after a
timeout or a crash, or when the next question needs other process limits.  Hidden labels never go into a request: graders send
features and keep labels here.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.spec import Limits
from autograder.worker import confine
from autograder.worker.protocol import ReplyOverBudget
from autograder.worker.sandbox import (LimitUnavailable, ReplyTooLarge, Sandbox, UidSlot, WorkerDied, WorkerError,
                                       WorkerProcess, WorkerStalled, WorkerTimeout, check_memory, check_weak_mode,
                                       choose_isolation, describe_isolation, drops_privileges,
                                       open_to_sandbox)


#: Workers kept alive between questions (a module's questions are spread over the graders).
MAX_IDLE_WORKERS = 2


#: Distinct recorded library calls kept per question.
MAX_LIBRARY_CALLS = 20


class StudentCodeError(Exception):
    """The student's code raised, or could not be run; costs the question its points."""

    status = "error"


class NotImplementedByStudent(StudentCodeError):
    status = "not_implemented"


class ImportFailed(StudentCodeError):
    status = "import_error"


class SandboxStopped(StudentCodeError):
    """The worker timed out, died, or replied with something unusable.

    ``evidence``: what was measured about how it stopped (CPU and wall seconds, the signal, the
    machine's load), recorded on the question."""

    status = "crashed"

    def __init__(self, message: str = "", evidence: dict | None = None):
        super().__init__(message)
        self.evidence = evidence or {}


class TimedOut(SandboxStopped):
    status = "timeout"


class NotRunnable(StudentCodeError):
    """The grader cannot give this question what questions.toml asks for; the student's code did not run."""

    status = "not_run"


class InfrastructureFailure(Exception):
    """The grader or the machine failed, not the student's code: never scored as the student's,
    never cached, listed for the instructor and regraded (``grade-all --retry-failed``).
    ``evidence``: what was measured about the failure, where anything was (as for :class:`SandboxStopped`)."""

    status = "grader_error"

    def __init__(self, message: str = "", evidence: dict | None = None):
        super().__init__(message)
        self.evidence = evidence or {}


class WorkerUnavailable(InfrastructureFailure):
    """The sandbox could not start a worker process (bubblewrap, uid slots, fork)."""


class LimitRefused(InfrastructureFailure):
    """The machine cannot give a question the limits questions.toml asks for (e.g. its memory), or
    the worker was stopped from outside before it had them (``evidence``: how it ended, where known)."""


class MachineFailure(InfrastructureFailure):
    """The machine stopped a call, not the student's code: it was too busy to give the call its CPU
    time, or the worker or its sandbox was killed from outside."""


@dataclass
class Remote:
    """A handle on an object that stays in the worker (an estimator, a figure, ...)."""

    submission: "Submission" = field(repr=False)
    module: str
    handle: int
    type: str
    mro: list[str]
    generation: int = field(repr=False, default=0)

    def isinstance_of(self, qualified_name: str) -> bool:
        """True if the object's class or a base is the library class ``qualified_name``.

        ``qualified_name`` is a public path (``"sklearn.svm.SVC"``) or a bare class name
        (``"SVC"``). The worker reports each class of the object's MRO as ``module.qualname``;
        a class counts only when that names the real class: for a public path, the class it
        resolves to in this (trusted) process; for a bare name, a class of an installed library,
        never one of the submission's modules (``class SVC(LogisticRegression)`` is no SVC).
        """
        return _is_class(self.mro, qualified_name, _student_modules(self.submission))

    def call(self, method: str, *args, keep: bool = False, **kwargs):
        return self.submission.request(self.module, {"op": "call", "handle": self.handle, "attr": method,
                                                      "args": list(args), "kwargs": kwargs, "keep": keep},
                                        f"{self.type.rsplit('.', 1)[-1]}.{method}()", self)

    def get(self, attr: str, keep: bool = False):
        return self.submission.request(self.module, {"op": "getattr", "handle": self.handle,
                                                      "attr": attr, "keep": keep},
                                        f"{self.type.rsplit('.', 1)[-1]}.{attr}", self)

    def item(self, key, keep: bool = False):
        return self.submission.request(self.module, {"op": "getitem", "handle": self.handle,
                                                      "key": key, "keep": keep}, f"[{key!r}]", self)


class RemoteFunction:
    def __init__(self, submission, module, name):
        self.submission, self.module, self.name = submission, module, name

    def __call__(self, *args, keep: bool = False, **kwargs):
        return self.submission.request(self.module, {"op": "call", "module": self.module, "attr": self.name,
                                                      "args": list(args), "kwargs": kwargs, "keep": keep},
                                        f"{self.module}.{self.name}()")


class ModuleProxy:
    def __init__(self, submission, name):
        self._submission, self._name = submission, name

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self._submission, self._name, name)


class Submission:
    """A student's submission folder, run module by module in sandboxed workers.

    With bubblewrap, one sandbox per submission holds a zygote with the heavy
    libraries preloaded; each module gets a fresh child forked from it (about
    as cheap as a fork), again after a timeout, a crash, a change of memory,
    process or file limits, or :meth:`restart`.  ``expose`` lists extra
    read-only paths the worker may see (the reference's ``solutions`` helpers); ``modules``, the
    modules that will be graded (the zygote preloads the libraries they import; all when empty)."""

    def __init__(self, directory: Path, *, expose=(), isolation: str | None = None, modules=()):
        self.directory = Path(directory).resolve()
        self.expose = list(expose)
        self.modules = sorted(modules)
        self.isolation = isolation or choose_isolation()
        check_weak_mode(self.isolation)
        self.limits: Limits | None = None       # the question's, from start_question
        self._uid: UidSlot | None = None
        self._sandbox: Sandbox | None = None
        self._workers: dict = {}                # module -> Child (bwrap) or WorkerProcess (rlimits)
        self._generation: dict[str, int] = {}
        self._import_errors: dict[str, tuple[StudentCodeError, float]] = {}  # error, the timeout it had
        self._pending_output: dict[str, str] = {}
        self._hung: set[tuple[str, str]] = set()  # (module, what) that ran out of time: short limits after
        self.slowest_call = 0.0                 # seconds, for this question
        self.from_scratch: tuple[str, ...] = () # modules this question's code may not call
        self.library_calls: list[str] = []      # calls into them the workers recorded, for this question

    def start_question(self, limits: Limits, *, from_scratch: tuple[str, ...] = ()) -> None:
        """Grade the next question: every request from now on runs under ``limits``, calls into
        ``from_scratch``'s modules are recorded, and the slowest call is counted afresh."""
        if not isinstance(limits, Limits):
            raise TypeError(f"The 'limits' parameter must be a Limits. Got {type(limits).__name__} instead.")
        self.limits = limits
        self.slowest_call = 0.0
        self.from_scratch, self.library_calls = tuple(from_scratch), []

    @property
    def isolation_note(self) -> str:
        return describe_isolation(self.isolation)

    def module(self, name: str) -> ModuleProxy:
        return ModuleProxy(self, name)

    def library(self, owner: str, module: str, attr: str, **kwargs) -> Remote:
        """A scikit-learn/numpy object built in ``owner``'s worker, to pass to the student's code there."""
        return self.request(owner, {"op": "library", "module": module, "attr": attr, "kwargs": kwargs},
                             f"{module}.{attr}()")

    def take_output(self, module: str) -> str:
        """What ``module``'s code printed since the last call, including a replaced worker's last words."""
        worker = self._workers.get(module)
        text = self._pending_output.pop(module, "") + (worker.take_output() if worker else "")
        return text.strip()

    def restart(self, module: str) -> None:
        """Close ``module``'s worker: the next call starts a fresh process (no state carried over)."""
        worker = self._workers.pop(module, None)
        if worker is not None:
            self._pending_output[module] = self._pending_output.get(module, "") + worker.take_output()
            worker.close()

    # ------------------------------------------------------------- workers
    def _same_process_limits(self, worker) -> bool:
        """The timeout is the grader's to enforce; memory, processes, files and threads are the process's."""
        same = {"timeout": 0, "output_kb": 0, "timeout_floor": 0, "timeout_multiple": 0, "hung_timeout": 0,
                "call_timeout": 0}
        return dataclasses.replace(worker.limits, **same) == dataclasses.replace(self.limits, **same)

    def _start(self):
        """A fresh worker with this question's limits: a child of the zygote, or (weak mode) a new process."""
        check_memory(self.limits)
        if self.isolation != "bwrap":
            return WorkerProcess(self.directory, self.limits, self._own_uid(), self.isolation)
        for attempt in range(2):
            if self._sandbox is None or self._sandbox.dead:
                self._sandbox = self._new_sandbox()
            try:
                return self._sandbox.spawn(self.limits)
            except WorkerDied:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _new_sandbox(self) -> Sandbox:
        """This process's kept sandbox when it is free, else one of this submission's own (own uid)."""
        kept = _kept.acquire(self.directory, self.limits.threads, self.expose, self.modules) if _kept else None
        return kept or Sandbox(self.directory, self.limits.threads, self._own_uid(), self.expose, self.modules)

    def _own_uid(self) -> int | None:
        """This submission's sandbox uid (a slot of its own), where the grader drops privileges."""
        if self._uid is None and drops_privileges(self.isolation):
            self._uid = UidSlot()
        return self._uid.uid if self._uid else None

    def _worker(self, module: str):
        if self.limits is None:
            raise RuntimeError("no question started: call start_question(limits) before running student code")
        failed = self._import_errors.get(module)
        if failed is not None:
            error, timeout = failed
            if not isinstance(error, SandboxStopped):
                raise error  # missing, or raised at import: the same file fails the same way
            if not (isinstance(error, TimedOut) and self.limits.timeout > timeout):
                raise type(error)(f"{error} (not retried for this question: its time limit is no larger)")
            del self._import_errors[module]  # more time now: a fresh attempt
        worker = self._workers.get(module)
        if worker is not None and worker.alive and self._same_process_limits(worker):
            worker.limits = self.limits
            self._workers[module] = self._workers.pop(module)  # most recently used last
            return worker
        if worker is not None:
            self.restart(module)
        if not (self.directory / f"{module}.py").is_file():
            error = ImportFailed(f"{module}.py is not in the submission")
            self._import_errors[module] = (error, float("inf"))
            raise error
        self._close_idle(keep=MAX_IDLE_WORKERS - 1)
        try:
            worker = self._start()
        except LimitUnavailable as exc:
            raise LimitRefused(str(exc), exc.evidence) from None
        except WorkerError as exc:
            raise WorkerUnavailable(f"the sandbox could not start a worker for {module}.py: {exc}") from None
        self._workers[module] = worker
        self._generation[module] = self._generation.get(module, 0) + 1
        try:
            reply = self._send(worker, module, {"op": "import", "module": module}, f"import {module}")
        except SandboxStopped as exc:  # hangs or dies on import: it will again, under the same limits
            error = type(exc)(f"importing {module}.py: {exc}", exc.evidence)
            self._import_errors[module] = (error, self.limits.timeout)
            raise error from None
        if reply.error:
            error = ImportFailed(f"{module}.py could not be imported: {reply.error['type']}: "
                                 f"{reply.error['message']}\n{reply.error['traceback']}")
            self._import_errors[module] = (error, float("inf"))
            raise error
        return worker

    def _close_idle(self, keep: int) -> None:
        """Close the least recently used workers beyond ``keep`` (an idle KNN worker holds GBs)."""
        for module in list(self._workers)[:max(len(self._workers) - keep, 0)]:
            self.restart(module)

    def _send(self, worker, module, message, what):
        importing = message.get("op") == "import"
        limit = self.limits.timeout if importing else self.limits.call_timeout or self.limits.timeout
        # An import that timed out is retried only with a larger limit (``_import_errors``); a call
        # that ran out of time once in this submission would again, at full cost: a short limit.
        timeout, hung_before = limit, not importing and (module, what) in self._hung
        if hung_before:
            timeout = min(timeout, self.limits.hung_timeout)
        started = time.perf_counter()
        try:
            return worker.request(message, timeout=timeout)
        except WorkerStalled as exc:  # not the student's: no short limit after it, never a timeout
            raise MachineFailure(f"{what} was stopped by the wall-clock backstop ({_seconds(exc.evidence)}): "
                                 f"the machine was too busy to give it its CPU time; not the student's timeout",
                                 exc.evidence) from None
        except WorkerTimeout as exc:
            if not importing:
                self._hung.add((module, what))
            used = _seconds(exc.evidence)
            if hung_before:
                raise TimedOut(f"{what} did not finish within {timeout:g} s ({used}): it had already run out of "
                               f"time earlier in this submission, so this call got {timeout:g} s instead of the "
                               f"question's {limit:g} s; the worker was stopped and restarted", exc.evidence)
            raise TimedOut(f"{what} did not finish within {timeout:g} s ({used}; the time limit for "
                           "this question); the worker was stopped and restarted for the next question",
                           exc.evidence)
        except ReplyTooLarge as exc:
            raise SandboxStopped(f"{what} returned too much data: {exc}")
        except WorkerDied as exc:
            evidence = {**exc.evidence, "memory_limit_mb": self.limits.memory_mb}  # beside its peak_rss_mb
            if exc.infrastructure:
                raise MachineFailure(f"{what}: {exc}", evidence) from None
            raise SandboxStopped(f"{what} stopped the worker: {exc}. If it ran out of memory, the "
                                 f"limit is {self.limits.memory_mb} MB", evidence)
        except WorkerError as exc:
            if isinstance(exc.__cause__, ReplyOverBudget):
                raise SandboxStopped(f"{what} sent back a reply the grader will not decode: {exc.__cause__}")
            raise SandboxStopped(f"{what}: {exc}")
        finally:
            if not importing:  # what the call limit applies to
                self.slowest_call = max(self.slowest_call, time.perf_counter() - started)

    def request(self, module: str, message: dict, what: str, remote: Remote | None = None):
        """One request to ``module``'s worker (a call, an attribute, an item; ``remote``: of that kept
        object), its reply judged: a failure of the student's code raises :class:`StudentCodeError`."""
        worker = self._worker(module)
        if remote is not None and remote.generation != self._generation[module]:
            raise SandboxStopped(f"{what}: the object was lost when the worker was restarted")
        message = _refs(message)
        if self.from_scratch and message.get("op") in ("call", "getattr", "getitem"):
            message["record"] = list(self.from_scratch)
        reply = self._send(worker, module, message, what)
        self._note_calls(reply.calls)
        if reply.error:
            error = reply.error
            if error["kind"] == "not_implemented":
                raise NotImplementedByStudent(f"{what} is not implemented yet (it raises NotImplementedError)")
            if error["kind"] == "exit":
                raise StudentCodeError(f"{what} tried to exit the process ({error['type']}: {error['message']})")
            raise StudentCodeError(f"{what} raised {error['type']}: {error['message']}\n{error['traceback']}")
        return self._handles(module, reply.value)

    def _note_calls(self, calls) -> None:
        """Keep the library calls a worker recorded (plain names; anything else in their place is ignored)."""
        if isinstance(calls, list):
            for name in calls[:MAX_LIBRARY_CALLS]:
                if isinstance(name, str) and name[:200] not in self.library_calls \
                        and len(self.library_calls) < MAX_LIBRARY_CALLS:
                    self.library_calls.append(name[:200])

    def _handles(self, module, value):
        if isinstance(value, dict) and "__handle__" in value:
            return Remote(self, module, value["__handle__"], str(value.get("type")),
                          [str(m) for m in value.get("mro", [])], self._generation[module])
        if isinstance(value, tuple):
            return tuple(self._handles(module, v) for v in value)
        if isinstance(value, list):
            return [self._handles(module, v) for v in value]
        return value

    def close(self):
        """Stop every worker and the sandbox: when this returns, no process of this submission is left."""
        if self._sandbox is not None and _kept is not None and _kept.holds(self._sandbox):
            for module in list(self._workers):
                self.restart(module)
            _kept.release(self._sandbox)  # every process of this submission killed, or the sandbox destroyed
            self._sandbox = None
        if self._sandbox is not None:  # its pid namespace goes with it: no worker needs the zygote's kill
            self._sandbox.destroy()
        for module in list(self._workers):
            self.restart(module)
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        if self._uid is not None:
            self._uid.release()
            self._uid = None


class KeptSandbox:
    """One sandbox a grader process keeps from submission to submission, so that its zygote's
    imports (scikit-learn, pandas, ...) are paid once per process, not once per submission.

    The sandbox sees an *inbox* folder where a fresh one sees the submission: each submission's
    files are copied into it when the submission starts, and removed when it ends. Between two
    submissions :meth:`Sandbox.reset` kills every process but the zygote, removes System V IPC
    objects, empties the scratch and checks that the zygote's limits and scheduling are as they
    started; the zygote, which never runs student code and cannot be traced by it (``sealed``), stays.
    A sandbox that cannot be reset so is destroyed, and the next submission gets a fresh one.
    Only where workers are confined (:mod:`autograder.worker.confine`) is a sandbox kept at all
    (:meth:`release`): elsewhere each submission gets a fresh one."""

    def __init__(self):
        self.sandbox: Sandbox | None = None
        self.key: tuple | None = None
        self.uid: UidSlot | None = None
        self.busy = False                        # a submission holds the kept sandbox
        _remove_stale_homes()
        # 0700: nobody else on the machine reads it; named after this process, for the next one's cleanup
        self._home = Path(tempfile.mkdtemp(prefix=f"{KEPT_PREFIX}{os.getpid()}-"))
        self.inbox = self._home / "submission"
        self.inbox.mkdir(mode=0o755)
        self.inbox.chmod(0o755)  # the sandbox uid reads it through its bind mount
        atexit.register(self.close)

    def holds(self, sandbox) -> bool:
        return sandbox is not None and sandbox is self.sandbox

    def acquire(self, directory: Path, threads: int, expose=(), modules=()) -> Sandbox | None:
        """The kept sandbox, showing ``directory``'s files; None while another submission of this
        process holds it (that one then gets a sandbox and a uid of its own)."""
        if self.busy and self.sandbox is not None and self.sandbox.dead:
            self.discard()  # killed while its submission ran: that submission goes on in a new kept one
        if self.busy:
            return None
        key = (threads, tuple(str(p) for p in expose))
        if self.sandbox is not None and (self.sandbox.dead or self.key != key):
            self.discard()
        self._fill(Path(directory))
        if self.sandbox is None:
            if self.uid is None and drops_privileges("bwrap"):
                self.uid = UidSlot()
            self.sandbox = Sandbox(self.inbox, threads, self.uid.uid if self.uid else None, expose, modules)
            self.key = key
        else:
            self.sandbox.preload(modules)
        self.busy = True
        return self.sandbox

    def release(self, sandbox: Sandbox) -> None:
        # Kept only where workers are confined: unconfined, they could change the zygote in ways
        # its checks do not cover, or leave the next submission a key in the uid's keyring.
        if confine.why_unavailable() is not None or not self.sandbox.reset():
            self.discard()
        self._empty()
        self.busy = False

    def discard(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
        self.sandbox = self.key = None
        self.busy = False

    @property
    def home(self) -> Path:
        """Its folder in the temporary folder (the submission's inbox is under it)."""
        return self._home

    def remove_home(self) -> None:
        """Remove its folder (the process is ending: the sandbox dies with it)."""
        shutil.rmtree(self._home, ignore_errors=True)

    def close(self) -> None:
        self.discard()
        self.remove_home()
        if self.uid is not None:
            self.uid.release()
            self.uid = None

    def _empty(self) -> None:
        for entry in self.inbox.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _fill(self, directory: Path) -> None:
        """The submission's files (links copied as links, never followed), readable by the sandbox uid."""
        self._empty()
        shutil.copytree(directory, self.inbox, symlinks=True, dirs_exist_ok=True)
        open_to_sandbox(self.inbox)


#: The kept sandbox's folder in the temporary folder: ``ch3-kept-PID-RANDOM``.
KEPT_PREFIX = "ch3-kept-"
#: This process's kept sandbox (:func:`keep_sandboxes`); None: a fresh sandbox per submission.
_kept: KeptSandbox | None = None


def keep_sandboxes() -> KeptSandbox:
    """Keep one sandbox in this process from submission to submission (long-lived grader
    processes: ``grade-all``), and return its keeper. Only the strong (bubblewrap) mode keeps one.
    How the process ends is its entry point's to decide (``bulk.grader_process``: a SIGTERM removes
    the keeper's folder); the sandbox dies with the process (``--die-with-parent``)."""
    global _kept
    if _kept is None:
        _kept = KeptSandbox()
    return _kept


@contextlib.contextmanager
def keeping(keeper: KeptSandbox | None):
    """Within the block this process grades with ``keeper`` (None: a fresh sandbox per submission);
    the keeper it had before is restored after (tests and benchmarks)."""
    global _kept
    before, _kept = _kept, keeper
    try:
        yield keeper
    finally:
        _kept = before


def _remove_stale_homes() -> None:
    """The folders of kept sandboxes whose process is gone (killed outright): this uid's only."""
    for folder in Path(tempfile.gettempdir()).glob(f"{KEPT_PREFIX}*"):
        pid = folder.name[len(KEPT_PREFIX):].split("-", 1)[0]
        try:
            info = os.lstat(folder)
            if not pid.isdigit() or info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # alive (another uid's process), or gone meanwhile


def _is_class(mro: list[str], qualified_name: str, student_modules: set[str]) -> bool:
    """Whether an MRO reported as ``module.qualname`` strings holds the library class ``qualified_name``."""
    import importlib

    module, _, name = qualified_name.rpartition(".")
    if module:  # a public path: the class it resolves to here, by its defining module and name
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return False
        return isinstance(cls, type) and f"{cls.__module__}.{cls.__qualname__}" in mro
    return any(entry.endswith("." + name) and _is_library(entry.split(".", 1)[0])
               and entry.split(".", 1)[0] not in student_modules for entry in mro)


@functools.lru_cache(maxsize=None)
def _is_library(top: str) -> bool:
    """A package installed for the grader itself (scikit-learn, matplotlib, builtins, ...): never a
    submission's own module, which the grader process cannot import."""
    import importlib.util

    try:
        return importlib.util.find_spec(top) is not None and top != "autograder"
    except (ImportError, ValueError):
        return False


def _student_modules(submission) -> set[str]:
    """Top-level names the submission's own files define (a ``sklearn.py`` of its own included)."""
    directory = getattr(submission, "directory", None)
    return {p.stem for p in Path(directory).glob("*.py")} if directory is not None else set()


def _seconds(evidence: dict) -> str:
    """How a stopped call spent its time, in words: CPU seconds against wall seconds."""
    if evidence.get("cpu_s") is None:
        return f"{evidence.get('wall_s', 0):.1f} s by the wall clock"
    return (f"{evidence['cpu_s']:.1f} CPU-seconds of {evidence.get('cpu_limit_s', 0):g} allowed, "
            f"{evidence.get('wall_s', 0):.1f} s by the wall clock")


def _refs(value):
    """Remote objects in arguments travel as references to the worker's own objects."""
    if isinstance(value, Remote):
        return {"__ref__": value.handle}
    if isinstance(value, dict):
        return {k: _refs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_refs(v) for v in value)
    return value
