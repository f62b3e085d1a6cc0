"""The zygote: runs inside the sandbox, preloads scientific Python, forks one worker per module.

Started by :class:`autograder.worker.sandbox.Sandbox` as
``python -I -m autograder.worker.zygote CONTROL_FD SUBMISSION_DIR [MODULE ...]``.
While idle it imports the libraries of :data:`PRELOAD` that the graded modules
(``MODULE ...``, else every module file) import, one at a time, so that a child
forked later finds them loaded: it reads their ``import`` statements with
:mod:`ast`, following the submission's own helper modules.  It never imports or
runs student code: the submission folder goes on ``sys.path`` only in a forked child, after
that child has taken its own session, resource limits and output pipe.  The
grader talks to it over a ``SOCK_SEQPACKET`` socket, one JSON message per
request, file descriptors passed alongside (``socket.send_fds``):

``ready``   answers the zygote's pid (in the sandbox's pid namespace)
``spawn``   check that the zygote is as it started (:func:`process_state`), remove System V IPC
            objects, empty the scratch (``/tmp``, ``/dev/shm``), then fork a worker on the three passed
            pipes (request, response, output); answers its pid once the worker has its limits (and,
            asked ``confine``, its seccomp filter: :mod:`autograder.worker.confine`), ``refused``
            when it could not get them, ``unclean`` when the zygote was not as it started
``kill``    kill the worker's session and every process no live worker owns (escaped daemons)
``wait``    the worker's exit status (negative: the signal that killed it)
``preload`` also preload what ``modules`` import (a kept sandbox given another submission)
``reset``   kill every process but the zygote, remove System V IPC objects and empty the scratch, then
            check that the zygote is as it started: ready for another submission (``ok``), or ``why`` not

The zygote makes itself non-dumpable (``PR_SET_DUMPABLE`` 0), so that no worker, though it runs
as the same uid, can trace it or write its memory; ``ready`` and ``reset`` say whether that held
(``sealed``), and only a sealed zygote is kept for another submission. Workers are made dumpable
again: between themselves, nothing changes. A worker that is confined cannot change the zygote's
limits or scheduling either; ``reset`` and ``spawn`` still compare them (rlimits, nice value, scheduler
policy and priority, CPU affinity, I/O priority) with what they were when it started.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time
from pathlib import Path

#: Imported one by one while the zygote is idle, cheapest and most used first: a spawn request
#: never waits for more than the one import under way.
PRELOAD = ("numpy", "threadpoolctl", "scipy", "sklearn", "sklearn.base", "sklearn.metrics",
           "sklearn.model_selection", "sklearn.linear_model", "sklearn.neighbors", "sklearn.pipeline",
           "sklearn.preprocessing", "sklearn.ensemble", "scipy.stats", "pandas", "matplotlib", "matplotlib.pyplot",
           # the spam exercise's usual parsing and stemming: every fresh child for ex4 would pay 0.2 s for them
           "email.parser", "email.policy", "nltk.stem", "urlextract")


#: Every worker needs these (the child pins its threads with threadpoolctl).
ALWAYS = ("numpy", "threadpoolctl")
#: The libraries whose other modules are preloaded too when the graded modules import them (e.g.
#: ``sklearn.svm``): only these known packages, never a name of the student's choosing elsewhere.
LIBRARIES = frozenset(entry.split(".")[0] for entry in PRELOAD)


def imported_names(submission_dir: str, modules=()) -> set[str]:
    """Every module name the ``import`` statements of ``modules`` (all ``.py`` files when empty) and of
    the submission's own modules they import could load: ``from a import b`` gives ``a`` and ``a.b``.

    Only parsed, never run; a file that cannot be parsed contributes nothing (its import will fail
    in a worker, which says why)."""
    folder = Path(submission_dir)
    todo = list(modules) or [p.stem for p in folder.glob("*.py")]
    seen, names = set(), set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        try:
            tree = ast.parse((folder / f"{module}.py").read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            names.update(found)
            todo += [name for name in found if (folder / f"{name}.py").is_file()]  # a helper module of theirs
    return names


def preload_list(submission_dir: str, modules=()) -> list[str]:
    """What the zygote imports: the entries of :data:`PRELOAD` that the graded modules import (or
    that are packages of what they import), in that order, then the other modules of
    :data:`LIBRARIES` they import (a child restarted per fold then finds ``sklearn.svm`` loaded)."""
    names = imported_names(submission_dir, modules)
    first = [entry for entry in PRELOAD if entry in ALWAYS or any(
        name == entry or name.startswith(entry + ".") for name in names)]
    return first + sorted(name for name in names if name.split(".")[0] in LIBRARIES and name not in first
                          and not any(part.startswith("_") for part in name.split(".")))  # no __main__


def preload_one(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except (Exception, SystemExit):  # a library missing, or a name that is a class: the child imports what it needs
        return
    if name == "matplotlib":
        module.use("Agg")


def _sessions() -> dict[int, int]:
    """pid -> session id of every process in this pid namespace but pid 1 and the zygote."""
    found = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            found[int(entry)] = int(fields[3])  # state ppid pgrp session ...
        except (OSError, IndexError, ValueError):
            continue
    return found


#: prctl(2) option: whether a process may be traced, or its memory read and written, by its uid.
PR_SET_DUMPABLE = 4
#: Seconds ``reset`` waits for the killed processes to be gone.
RESET_WAIT = 3.0


def set_dumpable(value: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


#: Exit code of a child that could not become a worker (its limits or filter refused); the reason
#: goes to the zygote over a pipe that the child closes before any student code runs.
SETUP_FAILED = 71
#: Seconds ``spawn`` waits for the child to say it has its limits.
SETUP_WAIT = 3.0


def process_state() -> dict:
    """What the zygote passes on to every worker it forks: its resource limits, nice value, scheduler
    policy and priority, CPU affinity and I/O priority."""
    state = {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource)
             if name.startswith("RLIMIT_")}
    state["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    state["scheduler"] = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
    state["affinity"] = sorted(os.sched_getaffinity(0))
    state["ioprio"] = _ioprio()
    return state


def _ioprio() -> int | None:
    """This process's I/O priority (None where libseccomp, which names the call portably, is missing)."""
    try:
        import ctypes

        import pyseccomp

        number = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "ioprio_get")
        return ctypes.CDLL(None, use_errno=True).syscall(number, 1, 0) if number >= 0 else None  # WHO_PROCESS, self
    except (ImportError, OSError, RuntimeError, AttributeError):
        return None


def changes(before: dict, now: dict) -> list[str]:
    return [f"{key} {before[key]} -> {now.get(key)}" for key in before if now.get(key) != before[key]]


#: System V IPC kinds as ``/proc/sysvipc`` lists them, and the libc call that removes one.
SYSV_IPC = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}
IPC_RMID = 0


def ipc_objects() -> list[tuple[str, int]]:
    """``(kind, id)`` of every System V IPC object in the sandbox's IPC namespace."""
    found = []
    for kind in SYSV_IPC:
        try:
            with open(f"/proc/sysvipc/{kind}") as fh:
                lines = fh.read().splitlines()[1:]  # a header, then one object a line: key, id, ...
        except OSError:
            continue
        found += [(kind, int(line.split()[1])) for line in lines if line.strip()]
    return found


def remove_ipc_objects() -> list[tuple[str, int]]:
    """Remove every System V IPC object (they outlive the processes that made them); what is left."""
    import ctypes

    libc = ctypes.CDLL(None)
    for kind, ident in ipc_objects():
        if kind == "sem":
            libc.semctl(ident, 0, IPC_RMID)
        else:
            getattr(libc, SYSV_IPC[kind])(ident, IPC_RMID, None)
    return ipc_objects()


class Zygote:
    def __init__(self, control: socket.socket, submission_dir: str, modules=()):
        self.control = control
        self.submission_dir = submission_dir
        self.modules = list(modules)
        self.live: set[int] = set()          # workers (= their session ids) not killed
        self.statuses: dict[int, int] = {}   # reaped worker -> exit code (negative: signal)
        self.pending: list[str] = []         # libraries still to preload
        self.sealed = False
        self.baseline: dict = {}             # process_state() when it started

    def unclean(self) -> str | None:
        """Why the zygote may not fork another worker (None: it may): its limits or scheduling differ
        from when it started, or System V IPC objects are left that it could not remove."""
        problems = changes(self.baseline, process_state())
        left = remove_ipc_objects()
        if left:
            problems.append(f"System V IPC objects left: {', '.join(f'{kind} {ident}' for kind, ident in left)}")
        return "; ".join(problems) or None

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = os.waitstatus_to_exitcode(status)

    def signal_all(self, sig, spare=()):
        """Signal every process in the sandbox whose session is neither the zygote's nor in ``spare``
        (twice: a process forking meanwhile is caught the second time)."""
        spare = set(spare) | {os.getsid(0)}
        for _ in range(2):
            for pid, session in _sessions().items():
                if session not in spare:
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass

    def handle(self, request: dict, fds: list[int]) -> dict:
        op = request["op"]
        if op == "ready":
            return {"pid": os.getpid(), "sealed": self.sealed}
        if op == "spawn":
            return self.spawn(request, fds)
        if op == "preload":
            self.pending += [name for name in preload_list(self.submission_dir, request.get("modules") or ())
                             if name not in sys.modules and name not in self.pending]
            return {"ok": True}
        if op == "reset":
            why = self.reset()
            return {"ok": why is None, "why": why, "sealed": self.sealed}
        pid = int(request.get("pid", 0))
        if op == "kill":
            self.live.discard(pid)
            self.signal_all(signal.SIGKILL, spare=self.live)
        elif op == "wait":
            deadline = time.monotonic() + 3
            while pid not in self.statuses and time.monotonic() < deadline:
                self.reap()
                time.sleep(0.01)
            return {"code": self.statuses.get(pid)}
        else:
            return {"error": f"unknown op {op!r}"}
        return {"ok": True}

    def reset(self) -> str | None:
        """Every process but this one killed and gone, System V IPC objects removed, the scratch
        emptied, the zygote as it started: None when that held, else why not."""
        self.live.clear()
        deadline = time.monotonic() + RESET_WAIT
        while True:
            self.signal_all(signal.SIGKILL)
            self.reap()
            mine = os.getsid(0)  # the zygote's session holds the sandbox's own launchers, never a worker
            if all(session == mine for session in _sessions().values()):
                break
            if time.monotonic() > deadline:
                return "processes of the last submission did not end"
            time.sleep(0.01)
        self.statuses.clear()
        try:
            empty_scratch()
        except RuntimeError as exc:
            return str(exc)
        return self.unclean()

    def spawn(self, request: dict, fds: list[int]) -> dict:
        """A fresh worker finds the scratch empty and no System V IPC object: nothing an earlier
        worker left (a memo of the test data seen split by split) reaches it; and it inherits the
        zygote's limits and scheduling as they were when the zygote started.  Live workers are
        stopped between their calls."""
        request_fd, response_fd, output_fd = fds
        try:
            why = self.unclean()
            empty_scratch()
        except RuntimeError:
            for fd in fds:
                os.close(fd)
            raise
        if why:
            for fd in fds:
                os.close(fd)
            return {"unclean": why}
        status_read, status_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(status_read)
                self.become_worker(request, request_fd, response_fd, output_fd, status_write)
            finally:
                os._exit(SETUP_FAILED)
        for fd in (*fds, status_write):
            os.close(fd)
        self.live.add(pid)
        status = _read_status(status_read)
        if status != b"ok":
            self.live.discard(pid)
            ended = None if status else self.ended(pid, wait=1.0)  # silent: it ended, or hangs
            if ended is None:
                os.kill(pid, signal.SIGKILL)
            self.signal_all(signal.SIGKILL, spare=self.live)
            if status:
                why = status.decode(errors="replace")
            elif ended is not None and ended < 0:  # no student code has run yet: a signal from outside
                why = f"the worker was killed by {signal.Signals(-ended).name} before it said it had its limits"
            else:
                why = (f"the worker did not say it had its limits within {SETUP_WAIT:g} s"
                       + (f" (it exited with {ended})" if ended is not None else ""))
            return {"refused": why, "ended": ended}
        return {"pid": pid}

    def ended(self, pid: int, wait: float = 0.0) -> int | None:
        """How child ``pid`` ended (an exit code, or minus the signal that ended it), waiting up to
        ``wait`` seconds for it to end; None while it runs."""
        deadline = time.monotonic() + wait
        while True:
            if pid in self.statuses:
                return self.statuses[pid]
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped meanwhile (reap)
                return self.statuses.get(pid)
            if done:
                self.statuses[pid] = code = os.waitstatus_to_exitcode(status)
                return code
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def become_worker(self, request, request_fd, response_fd, output_fd, status_fd):
        """In the child: own session, limits, filter and output, then serve requests (student code
        runs here).  Says ``ok`` on ``status_fd``, or why not, and closes it before serving."""
        try:
            self.set_up_worker(request, output_fd)
        except BaseException as exc:
            os.write(status_fd, f"{type(exc).__name__}: {exc}"[:2000].encode())
            os._exit(SETUP_FAILED)
        os.write(status_fd, b"ok")
        os.close(status_fd)
        from autograder.worker.entry import serve
        serve(request_fd, response_fd, self.submission_dir)
        os._exit(0)  # skip interpreter teardown: student atexit hooks and threads get no say

    def set_up_worker(self, request, output_fd):
        self.control.close()
        set_dumpable(1)
        os.setsid()
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        threads = max(int(request["threads"]), 1)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LOKY_MAX_CPU_COUNT"):
            os.environ[var] = str(threads)
        try:
            from threadpoolctl import threadpool_limits
            threadpool_limits(threads)
        except ImportError:
            pass
        # RLIMIT_NPROC counts every task of the uid: the zygote and the other workers too.
        processes = int(request["processes"]) + _tasks_of_my_uid()
        for name, value in ((resource.RLIMIT_AS, int(request["memory"])), (resource.RLIMIT_FSIZE, int(request["file"])),
                            (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, processes)):
            resource.setrlimit(name, (value, value))
        if request.get("confine"):
            from autograder.worker import confine
            confine.install()

    def run(self):
        self.sealed = set_dumpable(0)
        try:  # each confined worker builds its filter with these: imported once, here
            import pyseccomp  # noqa: F401

            from autograder.worker import confine  # noqa: F401
        except (ImportError, OSError, RuntimeError):
            pass
        self.baseline = process_state()
        try:
            self.pending = preload_list(self.submission_dir, self.modules)
        except Exception:  # an odd submission folder: preload everything rather than nothing
            self.pending = list(PRELOAD)
        while True:
            if self.pending and not select.select([self.control], [], [], 0)[0]:
                preload_one(self.pending.pop(0))
                continue
            try:
                message, fds, _, _ = socket.recv_fds(self.control, 65536, 3)
            except OSError:
                return
            if not message:
                return
            self.reap()
            try:
                answer = self.handle(json.loads(message), fds)
            except Exception as exc:  # a bad request must not kill the zygote silently
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            self.control.send(json.dumps(answer).encode())


#: The sandbox's writable places (its own tmpfs mounts): emptied before each worker starts.
SCRATCH = ("/tmp", "/dev/shm")


def empty_scratch() -> None:
    """Empty every scratch folder (before a fresh worker, and between two submissions)."""
    for folder in SCRATCH:
        try:
            empty(folder)
        except (OSError, RecursionError) as exc:
            raise RuntimeError(f"the scratch space {folder} could not be emptied ({exc})") from None


def empty(folder: str) -> None:
    """Remove everything of this uid in ``folder``, a tmpfs of the sandbox's own (folders closed with
    chmod included; links removed, never followed).  What bubblewrap mounted there (a venv or the
    project under /tmp) and the folders it made to hold them stay: the worker can write none of it."""
    device = os.lstat(folder).st_dev
    me = os.getuid()
    for entry in os.scandir(folder):
        info = entry.stat(follow_symlinks=False)
        if info.st_dev != device or info.st_uid != me:
            continue  # a mount, or a folder bubblewrap made for one
        if entry.is_dir(follow_symlinks=False):
            os.chmod(entry.path, 0o700)
            empty(entry.path)
            try:
                os.rmdir(entry.path)
            except OSError:
                if not any(os.scandir(entry.path)):
                    raise
                # it holds a mount point (a folder bubblewrap made, as this uid): kept, emptied
        else:
            os.unlink(entry.path)


def _read_status(fd: int) -> bytes:
    """What a new child says on its status pipe until it closes it (or :data:`SETUP_WAIT` passes)."""
    data, deadline = b"", time.monotonic() + SETUP_WAIT
    try:
        while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data


def _tasks_of_my_uid() -> int:
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(argv[0]))
    Zygote(control, argv[1], argv[2:]).run()
    os._exit(0)


if __name__ == "__main__":
    main()
