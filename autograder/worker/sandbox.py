"""Starts the workers in a sandbox and talks to them; runs in the grader process.

Isolation, strongest first (``describe_isolation`` says which one a run got):

``bwrap`` (the default; grading refuses to start without it unless asked)
    bubblewrap with an **allowlist** view: the worker sees the interpreter and
    its libraries (read-only), the worker package (``autograder/worker`` only),
    the one submission (read-only, at ``/submission``), a private size-bounded
    ``/tmp`` and the minimum of ``/dev``, ``/proc`` (its own pid namespace) and
    ``/etc``.  Nothing else exists in it: not the data, the caches, the hidden
    graders, the reference solutions, the project's ``.git``, another student's
    submission, nor anything added to the machine later.  No network; no
    further user namespaces where the kernel lets us forbid them.  As root the
    worker runs as a sandbox uid of its own (one lock-file slot per grader, so
    concurrent graders never share one), without capabilities.
    One :class:`Sandbox` per submission runs a *zygote* (:mod:`autograder.worker.zygote`)
    that has scientific Python preloaded and forks a fresh child per module.
``rlimits`` (only with ``CH3_ISOLATION=rlimits``: an explicit opt-in)
    No bubblewrap: one process per module with resource limits only (and the
    sandbox uid when root).  It can read whatever that user can read.

In every mode each worker gets its own session, ``RLIMIT_AS`` (memory),
``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, no core dumps, a clean environment with the
thread count pinned, a wall-clock timeout per call (then everything it started
is killed), stdout/stderr captured and capped, and replies capped in size.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import resource
import select
import shutil
import signal
import socket
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
INSTALL_BUBBLEWRAP = "apt-get install bubblewrap"

PACKAGE_DIR = Path(__file__).resolve().parents[1]          # autograder/
SUBMISSION_MOUNT = "/submission"                            # where the worker sees the submission
SCRATCH_MOUNT = "/tmp"                                      # its private, size-bounded scratch
SCRATCH_MB = 256                                            # the scratch tmpfs (and /dev/shm) size
#: /etc entries the interpreter and its libraries read (the dynamic loader's cache, fonts, time zone).
ETC_NEEDED = ("ld.so.cache", "fonts", "localtime", "alternatives")
FIRST_UID, UID_SLOTS = 60000, 5000
CONTROL_TIMEOUT = 5.0     # seconds the zygote may take to answer the grader (it runs no student code)


class WorkerError(RuntimeError):
    """The worker could not answer: it timed out, died, or replied with something unusable."""


class WorkerTimeout(WorkerError):
    pass


class WorkerDied(WorkerError):
    pass


class ReplyTooLarge(WorkerError):
    pass


class SandboxUnavailable(RuntimeError):
    """Grading would run untrusted code without the strong sandbox, and nobody asked for that."""


class LimitUnavailable(RuntimeError):
    """A question asks for more than the grader process itself may give (e.g. memory under ``ulimit -v``)."""


@dataclass
class Reply:
    value: object = None
    error: dict | None = None


# ------------------------------------------------------------------ choosing the mode

def choose_isolation(allow_weak: bool = False) -> str:
    """``bwrap`` when bubblewrap works; ``rlimits`` only if asked for (``CH3_ISOLATION`` or ``allow_weak``).

    Raises
    ------
    SandboxUnavailable
        bubblewrap is missing or cannot start, and the weak mode was not asked for.
    """
    wanted = os.environ.get(ISOLATION_ENV, "auto")
    if wanted not in ("auto", "bwrap", "rlimits"):
        raise ValueError(f"${ISOLATION_ENV} must be auto, bwrap or rlimits; got {wanted!r}")
    if wanted == "rlimits":
        return "rlimits"
    if _bwrap_works():
        return "bwrap"
    if allow_weak and wanted == "auto":
        return "rlimits"
    raise SandboxUnavailable(
        "bubblewrap (bwrap) is not installed or cannot start here, so student code cannot be sandboxed. "
        f"Install it with `{INSTALL_BUBBLEWRAP}`. To grade anyway with resource limits only (a student "
        f"can then read your files{' and, as root, more' if os.geteuid() == 0 else ''}), opt in explicitly "
        f"with {ISOLATION_ENV}=rlimits or --allow-weak-sandbox.")


_PROBES: dict[str, bool] = {}


def _bwrap_works() -> bool:
    if "bwrap" not in _PROBES:
        exe = shutil.which("bwrap")
        _PROBES["bwrap"] = bool(exe) and subprocess.run(
            [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc",
             "/proc", "true"], capture_output=True).returncode == 0
    return _PROBES["bwrap"]


def _userns_lock_works(uid: int | None) -> bool:
    """Whether an inner ``bwrap --unshare-user --disable-userns`` can run as the worker's user.

    It needs unprivileged user namespaces; where the kernel forbids them, the
    worker cannot make one either, so there is nothing to lock."""
    if "userns" not in _PROBES:
        prefix = (["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else [])
        _PROBES["userns"] = subprocess.run(
            prefix + ["bwrap", "--unshare-user", "--disable-userns", "--bind", "/", "/", "true"],
            capture_output=True, cwd="/").returncode == 0
    return _PROBES["userns"]


def drops_privileges(mode: str) -> bool:
    """Whether the worker runs as a dedicated sandbox uid: always when the grader is root."""
    return os.geteuid() == 0


def describe_isolation(mode: str) -> str:
    if mode == "bwrap":
        return ("strong: bubblewrap sandbox (allowlist view: interpreter, libraries, the submission and a "
                "private scratch only; no network; own process namespace"
                f"{'; dedicated uid' if drops_privileges(mode) else ''}) plus resource limits")
    who = "a dedicated sandbox uid" if drops_privileges(mode) else "your user"
    return ("WEAKER (opted in): bubblewrap is not used, so the worker runs with resource limits only, as "
            f"{who}; it can read files readable by it and reach the network. Install bubblewrap "
            f"({INSTALL_BUBBLEWRAP}) for full isolation.")


def check_weak_mode(mode: str) -> None:
    """As root without bubblewrap the worker must become the sandbox uid, never stay root.

    Raises
    ------
    SandboxUnavailable
        The interpreter lives where another uid cannot reach it (e.g. under /root)."""
    blocked = _needs_rebinding(Path(sys.executable).resolve())
    if mode != "bwrap" and drops_privileges(mode) and blocked is not None:
        raise SandboxUnavailable(
            f"the interpreter {sys.executable} is not reachable by the sandbox uid ({blocked} is closed to "
            "other users), and the worker must never run student code as root. Install bubblewrap "
            f"(`{INSTALL_BUBBLEWRAP}`) or use an interpreter outside {blocked}.")


def check_memory(limits) -> None:
    """Refuse a question whose ``memory_mb`` is more than this grader process may hand out."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    wanted = limits.memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY and wanted > hard:
        raise LimitUnavailable(
            f"this question needs memory_mb = {limits.memory_mb} (questions.toml), but the grader process "
            f"may allocate at most {hard // 2**20} MB (its own RLIMIT_AS, e.g. `ulimit -v`); raise the "
            "grader's limit or lower memory_mb. The student's code was not run.")


# ---------------------------------------------------------------------- uid slots

class UidSlot:
    """A sandbox uid held by one grader for as long as it grades (an ``flock`` on a lock file).

    Concurrent graders (bulk grading) each get their own uid, so one student's
    processes can never signal or outlive into another's.  The lock dies with
    the process holding it, so a crashed grader frees its slot."""

    LOCK_DIR = Path("/run/ch3-autograder-uids") if os.path.isdir("/run") else Path(tempfile.gettempdir(),
                                                                                    "ch3-autograder-uids")

    def __init__(self):
        if SANDBOX_UID_ENV in os.environ:
            self.uid, self._fd = int(os.environ[SANDBOX_UID_ENV]), None
            return
        self.LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(self.LOCK_DIR)
        if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o022 or not stat.S_ISDIR(info.st_mode):
            raise RuntimeError(f"{self.LOCK_DIR} must be a folder owned by uid {os.geteuid()}, writable only by it")
        start = os.getpid() % UID_SLOTS
        for offset in range(UID_SLOTS):
            slot = (start + offset) % UID_SLOTS
            fd = os.open(self.LOCK_DIR / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = FIRST_UID + slot, fd
            return
        raise RuntimeError(f"all {UID_SLOTS} sandbox uids are in use")

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ------------------------------------------------------------------ the allowlist view

def _ancestors_first(paths) -> list[Path]:
    dirs = set()
    for path in paths:
        dirs.update(p for p in Path(path).parents if p != Path("/"))
    return sorted(dirs, key=lambda p: len(p.parts))


#: sys.path folders that hold installed libraries (a .pth file may add another environment's).
LIBRARY_FOLDER_NAMES = ("site-packages", "dist-packages")
#: The packages of this distribution; installed as a wheel they sit among the libraries.
OWN_PACKAGES = ("autograder", "solutions", "assignments")


def library_dirs() -> list[Path]:
    """What the worker's ``python -I`` imports from: the interpreter's prefixes (its standard library
    and site-packages) and any other ``site-packages`` folder on ``sys.path`` (one a ``.pth`` file
    adds, as a venv layered on another does).  Never a project folder on ``sys.path`` (an editable
    install's checkout, which holds the graders and solutions)."""
    folders = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if any(part in LIBRARY_FOLDER_NAMES for part in path.parts) and path.is_dir():
            folders.add(path)
    folders = {p for p in folders if not str(p).startswith(("/usr/", "/bin/", "/lib"))}  # bound whole already
    return sorted(p for p in folders if not any(p != q and p.is_relative_to(q) for q in folders))


def own_packages() -> list[Path]:
    """Where this distribution's packages are (``solutions`` only where it is installed), found
    without importing them."""
    found = [PACKAGE_DIR]
    for name in OWN_PACKAGES[1:]:
        spec = importlib.util.find_spec(name)
        found += [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    return found


def view_arguments(submission_dir: Path, expose=()) -> list[str]:
    """bubblewrap's file-system arguments: everything the worker may see, and nothing else.

    ``expose`` adds read-only paths (the reference's own ``solutions`` package
    when the reference is graded).  The worker package is bound file by file's
    folder (``autograder/__init__.py`` and ``autograder/worker``), never the project."""
    args: list[str] = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/", top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--perms", "0755", "--dir", "/etc"]  # else made 0700, closed to the sandbox uid
    for name in ETC_NEEDED:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    libraries = library_dirs()
    # An installed grader (a wheel: Gradescope, pip) lives in those libraries: its graders, sample
    # and reference solutions are covered by an empty folder, then the worker package bound back.
    masked = [package for package in own_packages() if any(package.is_relative_to(lib) for lib in libraries)]
    own = [PACKAGE_DIR / "__init__.py", PACKAGE_DIR / "worker", *[Path(p).resolve() for p in expose]]
    binds = libraries + own
    # The scratch first: a project or interpreter under /tmp is then bound on top of it, not hidden.
    args += ["--perms", "1777", "--size", str(SCRATCH_MB << 20), "--tmpfs", SCRATCH_MOUNT]
    # Missing parents would be made 0700 (untraversable by the sandbox uid): make them first.
    for folder in _ancestors_first(binds + [Path(SUBMISSION_MOUNT)]):
        if folder not in binds and folder != Path(SCRATCH_MOUNT) and not any(folder.is_relative_to(m) for m in masked):
            args += ["--perms", "0755", "--dir", str(folder)]
    for path in libraries:
        args += ["--ro-bind", str(path), str(path)]
    for path in masked:
        args += ["--perms", "0755", "--size", str(1 << 20), "--tmpfs", str(path)]
    for path in own:
        args += ["--ro-bind", str(path), str(path)]
    for path in masked:  # read-only like the rest of the libraries (the worker package stays bound inside)
        args += ["--remount-ro", str(path)]
    args += ["--ro-bind", str(submission_dir), SUBMISSION_MOUNT,
             "--dev", "/dev", "--perms", "1777", "--size", str(SCRATCH_MB << 20), "--tmpfs", "/dev/shm",
             "--proc", "/proc", "--chdir", SCRATCH_MOUNT]
    return args


def worker_environment(threads: int, home: str) -> dict[str, str]:
    env = {"PATH": os.defpath, "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home, "MPLBACKEND": "Agg",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8",
           # OpenBLAS's idle threads spin for 2**28 cycles after each call by default: on small data
           # (Titanic's 22 fits) the spinning thread took the core the grader needed (2.3 s -> 1.3 s);
           # the full KNN's large products do not miss it (5,000 predictions: 9.0 s -> 7.3 s)
           "OPENBLAS_THREAD_TIMEOUT": "4",
           # n_jobs=-1 (GridSearchCV, cross_val_score) would start loky workers: fresh interpreters that
           # import scikit-learn again (ex1: 4.8 -> 2.1 CPU-s; a complete submission 12.9 -> 11.2). joblib
           # runs that work in the worker instead; results are the same, BLAS/OpenMP threads still apply
           "JOBLIB_MULTIPROCESSING": "0"}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LOKY_MAX_CPU_COUNT"):
        env[var] = str(threads)
    env.update({k: os.environ[k] for k in PASSED_THROUGH_ENV if k in os.environ})
    return env


def sandbox_command(submission_dir: Path, inner: list[str], uid: int | None, expose=()) -> list[str]:
    """The whole bubblewrap command line that runs ``inner`` in the allowlist view."""
    cmd = ["bwrap", *view_arguments(submission_dir, expose),
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session"]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]
    if _userns_lock_works(uid):  # no new user namespaces for student code (kernel attack surface)
        cmd += ["bwrap", "--unshare-user", "--disable-userns", "--bind", "/", "/", "--die-with-parent", "--"]
    return cmd + inner


# ------------------------------------------------------------------------ channels

#: 64 KB reads of a worker's output per wakeup, so that an endless writer cannot hold the grader.
MAX_OUTPUT_READS = 256


class _Channel:
    """The grader's end of one worker: request/response pipes and captured output."""

    def _start_channel(self, limits, output_fd):
        self.limits = limits
        self.output = bytearray()
        self.output_dropped = 0
        self._taken = self._dropped_told = 0
        self._out = output_fd
        os.set_blocking(output_fd, False)

    def _collect_output(self) -> bool:
        """Read what the worker has printed so far without blocking: keep the first ``output_kb`` of
        stdout/stderr, count (and drop) the rest.  False once the worker closed its end.

        Read in this thread while waiting for a reply (a worker that prints more than a pipe holds
        would otherwise block), and after the reply: the worker flushes before it answers, so by
        then everything it printed for the call is in the pipe."""
        cap = self.limits.output_kb * 1024
        for _ in range(MAX_OUTPUT_READS):
            try:
                chunk = os.read(self._out, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            room = max(cap - len(self.output), 0)
            self.output += chunk[:room]
            self.output_dropped += max(len(chunk) - room, 0)
        return True  # a writer faster than this loop: the rest waits for the next call

    def _before_request(self):
        pass

    def _after_reply(self):
        pass

    def request(self, message: dict, timeout: float, max_bytes: int = protocol.DEFAULT_MAX_BYTES) -> Reply:
        deadline = time.monotonic() + timeout
        try:
            self._before_request()
            protocol.write_message(self._request, protocol.encode(message))

            def wait():
                watched = [self._response, self._out]
                while True:
                    left = deadline - time.monotonic()
                    ready = select.select(watched, [], [], left)[0] if left > 0 else []
                    if not ready:
                        self.kill()
                        raise WorkerTimeout("timed out")
                    if self._out in ready and not self._collect_output():
                        watched = [self._response]  # output closed: the reply (or EOF) is what is left
                    if self._response in ready:
                        return

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
        self._after_reply()
        return Reply(value=reply.get("ok"), error=reply.get("error"))

    @property
    def alive(self) -> bool:
        """Alive and quiet: an idle worker that closed its reply pipe or wrote out of turn is done."""
        return not self._killed and not select.select([self._response], [], [], 0)[0]

    def _close_pipes(self):
        """Close the grader's ends (once: a closed fd's number may already belong to another file)."""
        for fd in (self._request, self._response):
            try:
                os.close(fd)
            except OSError:
                pass
        self._request = self._response = -1
        if self._out >= 0:
            self._collect_output()
            os.close(self._out)
            self._out = -1

    def take_output(self) -> str:
        """What the worker printed since the last call (capped; the excess is counted, not kept)."""
        if self._out >= 0:  # closed after the worker is: its last words were read then
            self._collect_output()
        text = bytes(self.output[self._taken:]).decode("utf-8", errors="replace")
        self._taken = len(self.output)
        dropped, self._dropped_told = self.output_dropped - self._dropped_told, self.output_dropped
        if dropped:
            text += f"\n[... {dropped:,} more bytes of output dropped]"
        return text


def _death_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"the worker was killed by signal {signal.Signals(-code).name}"
    return f"the worker process exited with code {code} in the middle of the call"


# ----------------------------------------------------------- bwrap: zygote + children

class Sandbox:
    """One submission's sandbox: a bubblewrap'd zygote that forks a fresh worker per module.

    The zygote imports only libraries, never student code; each child it forks
    has the question's rlimits, its own session and output pipe.  Between calls
    the grader stops the child's process group (SIGSTOP), so threads a student
    leaves behind burn no CPU outside the call's timeout."""

    def __init__(self, submission_dir: Path, threads: int, uid: int | None, expose=(), modules=()):
        """``modules``: the submission's modules that will be graded; the zygote preloads what they import."""
        self.uid = uid
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        output_read, output_write = os.pipe()
        inner = [sys.executable, "-I", "-m", "autograder.worker.zygote", str(theirs.fileno()), SUBMISSION_MOUNT,
                 *modules]
        try:
            self.process = subprocess.Popen(
                sandbox_command(Path(submission_dir), inner, uid, expose), pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
                env=worker_environment(threads, SCRATCH_MOUNT), cwd="/", start_new_session=True)
        finally:
            theirs.close()
            os.close(output_write)
        self.control = control
        self._zygote_output = os.fdopen(output_read, "rb", buffering=0)
        self.startup_output = bytearray()
        self._drain = threading.Thread(target=self._drain_zygote, daemon=True)
        self._drain.start()
        self.children: dict[int, Child] = {}
        self.dead = False
        zygote = self._ask({"op": "ready"}, timeout=60)["pid"]
        self.zygote_host_pid = _find_host_pid(self.process.pid, zygote)

    def _drain_zygote(self):
        while chunk := self._zygote_output.read(1 << 16):
            if len(self.startup_output) < 65536:
                self.startup_output += chunk

    def _ask(self, message: dict, fds=(), timeout: float = CONTROL_TIMEOUT) -> dict:
        """One round trip to the zygote; a zygote that does not answer takes the whole sandbox down."""
        if self.dead:
            raise WorkerDied("the sandbox was stopped")
        try:
            socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
            if not select.select([self.control], [], [], timeout)[0]:
                raise TimeoutError
            data = self.control.recv(65536)
            if not data:
                raise EOFError
            return json.loads(data)
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            self.destroy()
            self._drain.join(timeout=1)  # what the zygote said before it stopped
            note = self.startup_output.decode(errors="replace")[-2000:]
            raise WorkerDied(f"the sandbox stopped answering ({type(exc).__name__}){': ' + note if note else ''}")

    def spawn(self, limits) -> "Child":
        return Child(self, limits)

    def destroy(self):
        """Kill everything in the sandbox: the pid namespace dies with its first process."""
        self.dead = True
        _kill_group(self.process)
        for child in list(self.children.values()):
            child._killed = True
        self.control.close()

    def close(self):
        for child in list(self.children.values()):
            child.close()
        self.destroy()


class Child(_Channel):
    """One module's worker: a child of the zygote, with the question's limits."""

    def __init__(self, sandbox: Sandbox, limits):
        self.sandbox = sandbox
        self._killed = False
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            answer = sandbox._ask({"op": "spawn", "memory": limits.memory_mb << 20, "file": limits.file_mb << 20,
                                   "processes": limits.processes, "threads": limits.threads},
                                  fds=(request_read, response_write, output_write))
        except WorkerDied:
            for fd in (self._request, self._response, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, response_write, output_write):
                os.close(fd)
        if "error" in answer:
            for fd in (self._request, self._response, output_read):
                os.close(fd)
            raise WorkerDied(f"the worker could not start: {answer['error']}")
        self.pid = answer["pid"]
        sandbox.children[self.pid] = self
        # Its pid outside the sandbox, pinned by a pidfd: the grader stops and continues it itself.
        host_pid = _find_host_pid(sandbox.zygote_host_pid, self.pid) if sandbox.zygote_host_pid else None
        self._host = (host_pid, os.pidfd_open(host_pid)) if host_pid else None
        self._start_channel(limits, output_read)

    def _signal_group(self, sig):
        """Signal the worker's process group (all its threads, the processes it started that stayed in it)."""
        if self._host is None:
            return
        host_pid, pidfd = self._host
        if not select.select([pidfd], [], [], 0)[0]:  # still running: the pid cannot have been reused
            try:
                os.killpg(host_pid, sig)
            except OSError:
                pass

    def _before_request(self):
        self._signal_group(signal.SIGCONT)

    def _after_reply(self):
        self._signal_group(signal.SIGSTOP)  # threads left running get no CPU between calls

    def _death_note(self) -> str:
        try:
            code = self.sandbox._ask({"op": "wait", "pid": self.pid}).get("code")
        except WorkerDied:
            code = None
        self.kill()
        return _death_text(code)

    def kill(self):
        """Kill this worker's session and any process that left it (the zygote's sweep)."""
        if self._killed:
            return
        self._killed = True
        self.sandbox.children.pop(self.pid, None)
        try:
            self.sandbox._ask({"op": "kill", "pid": self.pid})
        except WorkerDied:
            pass  # the zygote is gone or unresponsive: the whole sandbox was destroyed

    def close(self):
        self.kill()
        self.sandbox.children.pop(self.pid, None)
        if self._request < 0:
            return
        self._close_pipes()
        if self._host is not None:
            os.close(self._host[1])
            self._host = None


def _find_host_pid(root: int, namespace_pid: int) -> int | None:
    """The host pid of the descendant of ``root`` whose pid in its own namespace is ``namespace_pid``."""
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as fh:
                ns = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
            if pid != root and len(ns) > 1 and int(ns[-1]) == namespace_pid:
                return pid
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo += [int(child) for child in fh.read().split()]
        except (OSError, ValueError):
            continue
    return None


# ------------------------------------------------------------------ rlimits (opt-in)

class WorkerProcess(_Channel):
    """The weak mode's worker: a fresh ``python -I -m autograder.worker.entry`` with resource limits."""

    def __init__(self, submission_dir: Path, limits, uid: int | None = None):
        self.submission_dir = Path(submission_dir)
        self.drop_to = uid
        self._killed = False
        check_weak_mode("rlimits")
        self._nproc = limits.processes if uid is not None or os.geteuid() == 0 else (
            limits.processes + _tasks_of(os.getuid()))
        self.scratch = Path(tempfile.mkdtemp(prefix="ch3-worker-"))
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            if uid is not None:
                os.chown(self.scratch, uid, uid)
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-m", "autograder.worker.entry", str(request_read), str(response_write),
                 str(self.submission_dir)], pass_fds=(request_read, response_write),
                stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
                env=worker_environment(limits.threads, str(self.scratch)), cwd=self.scratch,
                preexec_fn=lambda: self._limit_resources(limits))
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)  # a worker that never started leaves nothing
            for fd in (self._request, self._response, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, response_write, output_write):
                os.close(fd)
        self._start_channel(limits, output_read)

    def _limit_resources(self, limits):
        """Runs in the child between fork and exec."""
        os.setsid()
        for name, value in ((resource.RLIMIT_AS, limits.memory_mb << 20), (resource.RLIMIT_FSIZE, limits.file_mb << 20),
                            (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, self._nproc)):
            resource.setrlimit(name, (value, value))
        if self.drop_to is not None:
            os.setgroups([])
            os.setgid(self.drop_to)
            os.setuid(self.drop_to)

    def _death_note(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        self.kill()
        return _death_text(code)

    def kill(self):
        """Kill the worker's process group, and as root every process of the sandbox uid."""
        self._killed = True
        _kill_group(self.process, also_uid=self.drop_to)  # as root: children that left the group too

    def close(self):
        self.kill()
        self._close_pipes()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _needs_rebinding(path: Path) -> Path | None:
    """The first ancestor of ``path`` that other users cannot traverse (e.g. /root), if any."""
    for ancestor in reversed(path.parents):
        try:
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                return ancestor
        except OSError:
            return None
    return None


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


def kill_all_of(uid: int) -> None:
    """Kill every process of the sandbox uid (a forked helper that becomes it); root only."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _kill_group(process: subprocess.Popen, also_uid: int | None = None) -> None:
    """SIGKILL ``process``'s process group (and every process of ``also_uid``), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if also_uid is not None:
        kill_all_of(also_uid)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
