"""Starts the worker in a sandbox and talks to it; runs in the grader process.

Isolation, strongest first (``describe_isolation`` says which one a run got):

``bwrap``
    bubblewrap: a read-only view of the file system in which the data
    directories, the cache, the grader's output, the hidden graders and the
    reference solutions are empty folders; no network (new network namespace);
    its own process namespace (a timeout kills every process it started).
    When the grader runs as root the worker drops to a dedicated uid
    (``setpriv``), so it cannot read root-only files or signal the grader.
``rlimits``
    No bubblewrap: the worker only gets resource limits (and the dedicated uid
    when root). It can read any file its user can read, and reach the network.

In every mode: its own session/process group, ``RLIMIT_AS`` (memory),
``RLIMIT_NPROC`` (processes), ``RLIMIT_FSIZE`` (file size), no core dumps,
a clean environment with the thread count pinned, a wall-clock timeout per
call (then the whole process group is killed), stdout/stderr captured and
capped, and replies capped in size.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.worker import protocol

SANDBOX_UID_ENV = "CH3_SANDBOX_UID"
ISOLATION_ENV = "CH3_ISOLATION"  # auto | bwrap | rlimits
PASSED_THROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL")


class WorkerError(RuntimeError):
    """The worker could not answer: it timed out, died, or replied with something unusable."""


class WorkerTimeout(WorkerError):
    pass


class WorkerDied(WorkerError):
    pass


class ReplyTooLarge(WorkerError):
    pass


@dataclass
class Reply:
    value: object = None
    error: dict | None = None


def _sandbox_uid() -> int:
    return int(os.environ.get(SANDBOX_UID_ENV, 60000 + os.getpid() % 5000))


def choose_isolation() -> str:
    wanted = os.environ.get(ISOLATION_ENV, "auto")
    if wanted not in ("auto", "bwrap", "rlimits"):
        raise ValueError(f"${ISOLATION_ENV} must be auto, bwrap or rlimits; got {wanted!r}")
    if wanted == "auto":
        return "bwrap" if _bwrap_works() else "rlimits"
    return wanted


_BWRAP_OK: bool | None = None


def _bwrap_works() -> bool:
    global _BWRAP_OK
    if _BWRAP_OK is None:
        exe = shutil.which("bwrap")
        _BWRAP_OK = bool(exe) and subprocess.run(
            [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc",
             "/proc", "true"], capture_output=True).returncode == 0
    return _BWRAP_OK


def drops_privileges(mode: str) -> bool:
    """Whether the worker runs as the dedicated sandbox uid (root only; without bwrap, only if the
    interpreter is reachable by that uid)."""
    return os.geteuid() == 0 and (mode == "bwrap" or not _rebindings())


def describe_isolation(mode: str) -> str:
    uid = drops_privileges(mode)
    if mode == "bwrap":
        return ("strong: bubblewrap sandbox (read-only file system, hidden data and graders masked, "
                f"no network, own process namespace{', dedicated uid' if uid else ''}) plus resource limits")
    who = "the dedicated sandbox uid" if uid else ("root (the interpreter is not reachable by another uid)"
                                                   if os.geteuid() == 0 else "your user")
    return ("WEAKER: bubblewrap is not available, so the worker runs with resource limits only, as "
            f"{who}; it can read files readable by it and reach the network. Install bubblewrap "
            "(apt-get install bubblewrap) for full isolation.")


def _rebindings() -> list[tuple[Path, Path]]:
    """(blocked ancestor, its child on the way) for what the sandbox uid must reach.

    The interpreter may live under a folder other users cannot traverse (e.g.
    /root/.pyenv): the sandbox gets an empty folder there with the one child
    bound back read-only.  The child itself is bound, not a deeper path, because
    bubblewrap creates the missing parents of a mount point untraversable.
    """
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve(),
              Path(__file__).resolve().parents[2]]
    pairs = []
    for path in needed:
        blocked = _needs_rebinding(path)
        if blocked is not None:
            pair = (blocked, blocked / path.relative_to(blocked).parts[0])
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def _needs_rebinding(path: Path) -> Path | None:
    """The first ancestor of ``path`` that other users cannot traverse (e.g. /root), if any."""
    for ancestor in reversed(path.parents):
        try:
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                return ancestor
        except OSError:
            return None
    return None


class WorkerProcess:
    """One sandboxed worker; restart it by making a new one."""

    def __init__(self, submission_dir: Path, limits, hidden_paths=(), isolation: str | None = None):
        self.submission_dir = Path(submission_dir)
        self.limits = limits
        self.hidden_paths = [Path(p) for p in hidden_paths if Path(p).exists()]
        self.isolation = isolation or choose_isolation()
        self.drop_to = _sandbox_uid() if drops_privileges(self.isolation) else None
        self.output = bytearray()
        self.output_dropped = 0
        self._taken = self._dropped_told = 0
        self._start()

    # ----------------------------------------------------------------- start
    def _command(self, request_fd, response_fd) -> list[str]:
        python = [sys.executable, "-I", "-m", "autograder.worker.entry",
                  str(request_fd), str(response_fd), str(self.submission_dir)]
        if self.isolation != "bwrap":
            return python
        cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--bind", str(self.scratch / "shm"), "/dev/shm",
               "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
               "--die-with-parent", "--new-session"]
        if self.drop_to is not None:
            # The sandbox uid must reach the interpreter and the project, even under /root.
            for blocked, child in _rebindings():
                cmd += ["--tmpfs", str(blocked), "--ro-bind", str(child), str(child)]
        cmd += ["--bind", str(self.scratch), str(self.scratch)]
        for hidden in self.hidden_paths:  # an empty folder, or an empty file, in its place
            cmd += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
        cmd += ["--chdir", str(self.scratch)]
        if self.drop_to is not None:
            cmd += ["setpriv", f"--reuid={self.drop_to}", f"--regid={self.drop_to}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return cmd + python

    def _environment(self) -> dict[str, str]:
        threads = str(self.limits.threads)
        env = {"PATH": os.defpath, "HOME": str(self.scratch), "TMPDIR": str(self.scratch),
               "MPLCONFIGDIR": str(self.scratch), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LOKY_MAX_CPU_COUNT"):
            env[var] = threads
        env.update({k: os.environ[k] for k in PASSED_THROUGH_ENV if k in os.environ})
        return env

    def _limit_resources(self):
        """Runs in the child between fork and exec."""
        os.setsid()
        memory = self.limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        file_size = self.limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (self._nproc, self._nproc))
        if self.drop_to is not None and self.isolation != "bwrap":
            os.setgroups([])
            os.setgid(self.drop_to)
            os.setuid(self.drop_to)

    def _process_limit(self) -> int:
        """RLIMIT_NPROC counts every task of the real uid: exact for the dedicated uid, but
        a student's own uid already runs other programs, which must not use up the allowance."""
        if self.drop_to is not None or os.geteuid() == 0:
            return self.limits.processes
        return self.limits.processes + _tasks_of(os.getuid())

    def _start(self):
        self._nproc = self._process_limit()
        self.scratch = Path(tempfile.mkdtemp(prefix="ch3-worker-"))
        (self.scratch / "shm").mkdir()
        if self.drop_to is not None:
            for path in (self.scratch, self.scratch / "shm"):
                os.chown(path, self.drop_to, self.drop_to)
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                self._command(request_read, response_write), pass_fds=(request_read, response_write),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=self._environment(), cwd=self.scratch, preexec_fn=self._limit_resources,
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._drain = threading.Thread(target=self._collect_output, daemon=True)
        self._drain.start()

    def _collect_output(self):
        """Keep the first ``output_kb`` of stdout/stderr; count (and drop) the rest."""
        cap = self.limits.output_kb * 1024
        while chunk := self.process.stdout.read1(1 << 16):
            room = cap - len(self.output)
            self.output += chunk[:max(room, 0)]
            self.output_dropped += max(len(chunk) - max(room, 0), 0)

    # -------------------------------------------------------------- requests
    def request(self, message: dict, timeout: float, max_bytes: int = protocol.DEFAULT_MAX_BYTES) -> Reply:
        deadline = time.monotonic() + timeout
        try:
            protocol.write_message(self._request, protocol.encode(message))
            def wait():
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._response], [], [], left)[0]:
                    self.kill()
                    raise WorkerTimeout("timed out")

            (size,) = protocol.FRAME.unpack(protocol.read_exact(self._response, protocol.FRAME.size, wait))
            if size > max_bytes:
                self.kill()
                raise ReplyTooLarge(f"the reply was {size:,} bytes, more than the {max_bytes:,} allowed")
            reply = protocol.decode(protocol.read_exact(self._response, size, wait))
        except (BrokenPipeError, EOFError) as exc:
            raise WorkerDied(self._death_note()) from exc
        except protocol.ProtocolError as exc:
            self.kill()
            raise WorkerError(f"the worker sent a malformed reply ({exc})") from exc
        if not isinstance(reply, dict) or not ({"ok", "error"} & set(reply)):
            self.kill()
            raise WorkerError("the worker sent a reply that is not a result")
        return Reply(value=reply.get("ok"), error=reply.get("error"))

    def _death_note(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        self.kill()
        if code is not None and code < 0:
            return f"the worker was killed by signal {signal.Signals(-code).name}"
        return f"the worker process exited with code {code} in the middle of the call"

    # ------------------------------------------------------------------ stop
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        """Kill the worker's whole process group (and, in bwrap, its process namespace)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.drop_to is not None and self.isolation != "bwrap":
            _kill_all_of(self.drop_to)  # children that left the process group
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        self.kill()
        for fd in (self._request, self._response):
            try:
                os.close(fd)
            except OSError:
                pass
        self._drain.join(timeout=5)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def take_output(self) -> str:
        """What the worker printed since the last call (capped; the excess is counted, not kept)."""
        self._drain.join(timeout=0.05)  # let the reader catch up with a just-finished call
        text = bytes(self.output[self._taken:]).decode("utf-8", errors="replace")
        self._taken = len(self.output)
        dropped, self._dropped_told = self.output_dropped - self._dropped_told, self.output_dropped
        if dropped:
            text += f"\n[... {dropped:,} more bytes of output dropped]"
        return text


def _tasks_of(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue  # the process ended meanwhile
    return count


def _kill_all_of(uid: int) -> None:
    """Kill every process of the dedicated sandbox uid (a forked helper that becomes it)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
