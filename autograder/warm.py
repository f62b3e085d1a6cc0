"""A warm grader: one long-lived process that pays the grader's imports once and forks a fresh
child for every ``grade`` or ``check`` command.

    ch3-grader warm start                 # imports, collects the graders, grades a sample once
    ch3-grader grade SUB -q confusion     # now served by the warm grader
    ch3-grader warm status                # its pid, how many commands it served, when it stops
    ch3-grader warm stop

What a cold command pays every time (starting Python, importing scikit-learn, pytest and the
graders, pytest's collection, the first rendering of a report) the warm process paid once; a
child forked from it runs the very command a cold process would run, with the caller's working
directory, environment, umask and terminal (its standard input, output and error are passed over
the socket), and answers its exit status. Nothing of one command reaches the next: each runs in
its own child, and the warm process never runs a submission's code itself (the sandbox does, as
in a cold command).

A command uses a warm grader only when one is running for the *same installation*: the socket's
name is a fingerprint of the interpreter, the grader's, solutions' and stubs' files (size and
modification time) and the installed distributions, so an edit or an upgrade means a new name
and a cold command, never a stale grader. ``CH3_WARM=0`` turns warm grading off for a command.
Linux only (the socket passes file descriptors and checks its caller's uid); elsewhere every
command is cold.

A ``check`` run cold starts one in the background for the next checks, as build tools start their
daemons (:func:`start_in_background`; never under ``CI``, nor with ``CH3_WARM=0``). The warm
grader's process is ``ch3-grader warm serve``: this module knows how to serve a command, the CLI
(:mod:`autograder.cli`) what a command is.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from autograder.paths import PROJECT_DIR

#: The commands a warm grader serves (the others are cheap, or keep a pool of their own: grade-all).
WARM_COMMANDS = frozenset({"grade", "check"})
#: ``CH3_WARM=0``: every command runs cold, even with a warm grader running.
WARM_ENV = "CH3_WARM"
#: Where the sockets live (default: ``$XDG_RUNTIME_DIR``, else the temporary folder), one folder per uid.
SOCKET_DIR_ENV = "CH3_WARM_DIR"
#: A warm grader with nothing to do stops after this long.
DEFAULT_IDLE_MINUTES = 30.0
#: ... and one that a ``check`` started by itself after this long.
AUTO_IDLE_MINUTES = 15.0
#: How long ``warm start`` waits for the warm-up (imports, collection, one sample grading).
START_TIMEOUT = 120.0
#: Seconds between a warm grader's checks that the installation it imported is still the one on disk.
FINGERPRINT_EVERY = 10.0
MAX_MESSAGE = 1 << 20
_PACKAGES = ("autograder", "solutions", "assignments")


class WarmUnavailable(RuntimeError):
    """A warm grader cannot run here (not Linux, or its socket folder is not private)."""


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds") and hasattr(socket, "SO_PEERCRED")


def turned_off() -> bool:
    """``CH3_WARM=0``: no warm grader serves this command, and none is started for it."""
    return os.environ.get(WARM_ENV, "1").strip() == "0"


def under_ci() -> bool:
    """A continuous-integration job (``CI`` set, as CI services set it): nothing is left running after it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# ------------------------------------------------------------------ which warm grader

def fingerprint(root: Path | None = None) -> str:
    """A digest of what a command would run: the interpreter and ``PYTHONPATH``, the content of every
    file of the grader, the reference solutions and the stubs under ``root`` (default: where this
    package is installed), and the installed distributions (their ``.dist-info`` names carry the
    versions). An edit is seen whatever it keeps of a file's size and time. A few milliseconds."""
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{sys.prefix}\0{os.environ.get('PYTHONPATH', '')}\0".encode())
    root = PROJECT_DIR if root is None else Path(root)
    for package in _PACKAGES:
        for path, _ in sorted(_files(root / package)):
            try:
                content = Path(path).read_bytes()
            except OSError:
                content = b"unreadable"
            h.update(f"{path}\0{len(content)}\0".encode() + hashlib.sha256(content).digest())
    for folder in sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}):
        try:
            h.update("\0".join(sorted(e.name for e in os.scandir(folder) if e.name.endswith(".dist-info"))).encode())
        except OSError:
            continue
    return h.hexdigest()[:20]


def _files(folder: Path):
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _files(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield entry.path, entry.stat(follow_symlinks=False)


def socket_dir(create: bool = False) -> Path:
    """This user's private folder of warm-grader sockets; refused unless it is theirs alone."""
    base = os.environ.get(SOCKET_DIR_ENV) or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"ch3-grader-{os.getuid()}"
    if create:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WarmUnavailable(f"{folder} must be a folder of yours that nobody else can open (mode 700)")
    return folder


def socket_path(create: bool = False) -> Path:
    return socket_dir(create) / f"{fingerprint()}.sock"


# ------------------------------------------------------------------ the client (every command)

def run_warm(argv: list[str]) -> int | None:
    """Run ``argv`` on this installation's warm grader: its exit status, or None when there is
    none (or the command is not one it serves): the caller then runs the command itself."""
    if not argv or argv[0] not in WARM_COMMANDS or turned_off() or not supported():
        return None
    try:
        path = socket_path()
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream cannot be passed: run cold
        client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        client.connect(str(path))
    except (OSError, WarmUnavailable):
        return None
    with client:
        request = {"op": "run", "argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ),
                   "umask": _umask(), "encoding": getattr(sys.stdout, "encoding", None) or "utf-8"}
        try:
            socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
            started = _receive(client)
        except (OSError, ValueError):
            return None
        if not started or "pid" not in started:
            return None  # declined before running anything (stopping): run cold
        child = int(started["pid"])
        forward = {sig: signal.signal(sig, lambda signum, frame: _signal_group(child, signum))
                   for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            finished = _receive(client)
        except (OSError, ValueError):
            finished = None
        finally:
            for sig, handler in forward.items():
                signal.signal(sig, handler)
    if not finished or "exit" not in finished:
        print("ch3-grader: the warm grader's process ended without finishing the command; run it "
              f"again with {WARM_ENV}=0 to run it without the warm grader", file=sys.stderr)
        return 70
    return int(finished["exit"])


def _receive(conn: socket.socket) -> dict | None:
    data = conn.recv(MAX_MESSAGE)
    return json.loads(data) if data else None


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def request(op: str) -> dict | None:
    """``status`` or ``stop`` to this installation's warm grader; None when none is running."""
    if not supported():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.connect(str(socket_path()))
            conn.send(json.dumps({"op": op}).encode())
            return _receive(conn)
    except (OSError, ValueError, WarmUnavailable):
        return None


# ------------------------------------------------------------------ the warm grader

def start(idle_minutes: float = DEFAULT_IDLE_MINUTES, timeout: float = START_TIMEOUT) -> dict:
    """Start this installation's warm grader in the background (or find the running one) and
    wait until it is warm; returns its status. The warm-up's log is ``<socket>.log``."""
    if not supported():
        raise WarmUnavailable("a warm grader needs Linux (it passes file descriptors over a Unix socket)")
    running = request("status")
    if running:
        return running
    path = socket_path(create=True)
    # One start at a time: a second `warm start` meanwhile waits, then finds the first one's grader
    # (two servers would each put their socket at the same path, the first left serving an unlinked one).
    # The starting grader holds the lock too (an inherited descriptor) until its socket is in place.
    import fcntl

    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return request("status") or _start_locked(path, idle_minutes, timeout, lock)


def start_in_background(idle_minutes: float = AUTO_IDLE_MINUTES) -> bool:
    """Start this installation's warm grader for the next commands without waiting for it; True when
    this call started one. Nothing is started under ``CI``, with ``CH3_WARM=0``, off Linux, when one
    runs or is starting already, or when the socket folder is not private."""
    if turned_off() or under_ci() or not supported():
        return False
    import fcntl

    try:
        path = socket_path(create=True)
        if request("status"):
            return False
        with open(path.with_suffix(".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another command is starting it
                return False
            if request("status"):
                return False
            _spawn(path, idle_minutes, lock)
    except (OSError, WarmUnavailable):
        return False
    return True


def _spawn(path: Path, idle_minutes: float, lock):
    """The warm grader's process, in its own session, its output in ``<socket>.log``; it inherits
    ``lock`` and lets it go once it serves."""
    import subprocess

    with open(path.with_suffix(".log"), "wb") as out:
        return subprocess.Popen([sys.executable, "-P", "-m", "autograder", "warm", "serve", str(path),
                                 "--idle", str(idle_minutes), "--lock-fd", str(lock.fileno())],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd="/", pass_fds=(lock.fileno(),))


def _start_locked(path: Path, idle_minutes: float, timeout: float, lock) -> dict:
    log = path.with_suffix(".log")
    process = _spawn(path, idle_minutes, lock)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = request("status")
        if status:
            return status
        if process.poll() is not None:
            raise WarmUnavailable(f"the warm grader stopped while warming up (exit {process.returncode}); "
                                  f"its log: {log}\n{_tail(log)}")
        time.sleep(0.1)
    process.kill()
    raise WarmUnavailable(f"the warm grader was not ready after {timeout:g} s; its log: {log}\n{_tail(log)}")


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def warm_up() -> None:
    """Everything a command would import or build once: pytest, scikit-learn, the graders
    (pytest's collection), the report templates, by grading the reference solutions'
    ``confusion`` module once (its reports are rendered and dropped), and one plot drawn (the
    CLI is imported already: it runs this process)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import autograder.intake.notebooks  # noqa: F401
    from autograder.grading import grade, render
    from autograder.intake import prepare
    from autograder.options import GradingOptions, Isolation
    from autograder.paths import SOLUTIONS_DIR
    from autograder.reporters.html import plot_digits

    result = grade(prepare(SOLUTIONS_DIR), GradingOptions(questions=("confusion",), isolation=Isolation.OWN_CODE))
    render(result)
    plot_digits({"images_hex": [bytes(28 * 28).hex()], "true": [0], "predicted": [1]})  # fonts, the Agg renderer


def serve(path: Path, run: Callable[[list[str]], int], idle_minutes: float = DEFAULT_IDLE_MINUTES,
          lock_fd: int | None = None) -> None:
    """Warm up, then serve commands on ``path`` until stopped or idle for ``idle_minutes``: each in a
    forked child that calls ``run(argv)`` for its exit status. ``lock_fd``, the start's lock, is
    closed once the socket is in place."""
    started = time.time()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # stop cleanly: the socket goes too
    try:
        warm_up()
    except Exception as exc:  # a machine without the sandbox still gets warm imports
        print(f"warm-up grading failed ({type(exc).__name__}: {exc}); serving with the imports done", flush=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    listener.bind(str(staging))
    listener.listen(16)
    os.replace(staging, path)  # appears ready, never half-started
    bound = os.stat(path).st_ino
    if lock_fd is not None:
        _close(lock_fd)
    state = {"pid": os.getpid(), "fingerprint": path.stem, "started": started, "ready": time.time(),
             "served": 0, "idle_minutes": idle_minutes, "warm_up_seconds": round(time.time() - started, 2)}
    children: set[int] = set()
    last = checked = time.monotonic()
    print(f"warm grader {os.getpid()} ready on {path} after {state['warm_up_seconds']} s", flush=True)
    try:
        while True:
            children -= _reaped(children)
            if not children and time.monotonic() - last > idle_minutes * 60:
                return
            if time.monotonic() - checked > FINGERPRINT_EVERY:
                checked = time.monotonic()
                if fingerprint() != path.stem:  # edited or upgraded: commands now look for another socket
                    print("the installation changed; stopping", flush=True)
                    return
            if not _readable(listener, 1.0):
                continue
            conn, _ = listener.accept()
            fds: list[int] = []
            try:
                if not _same_user(conn):
                    continue
                message, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, 3)
                order = json.loads(message) if message else {}
                op = order.get("op")
                if op == "run" and len(fds) == 3:
                    last = time.monotonic()
                    state["served"] += 1
                    pid = os.fork()
                    if pid == 0:
                        try:
                            listener.close()
                            _run_child(conn, order, fds, run)
                        finally:
                            os._exit(70)  # never back into this loop: the child is not the warm grader
                    children.add(pid)
                elif op == "status":
                    children -= _reaped(children)
                    conn.send(json.dumps({**state, "busy": len(children),
                                          "stops_in_s": round(max(0.0, idle_minutes * 60 - (time.monotonic() - last)))
                                          }).encode())
                elif op == "stop":
                    conn.send(json.dumps({"stopped": os.getpid()}).encode())
                    return
            except (OSError, ValueError) as exc:
                print(f"a request failed: {type(exc).__name__}: {exc}", flush=True)
            finally:
                for fd in fds:  # the child has its own copies
                    _close(fd)
                conn.close()
    finally:
        try:
            if os.stat(path).st_ino == bound:
                path.unlink()
                path.with_suffix(".log").unlink(missing_ok=True)
        except OSError:
            pass


def _readable(sock: socket.socket, timeout: float) -> bool:
    import select

    return bool(select.select([sock], [], [], timeout)[0])


def _reaped(children: set[int]) -> set[int]:
    done = set()
    for pid in children:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                done.add(pid)
        except ChildProcessError:
            done.add(pid)
    return done


def _same_user(conn: socket.socket) -> bool:
    import struct

    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid == os.getuid()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _run_child(conn: socket.socket, order: dict, fds: list[int], run: Callable[[list[str]], int]) -> None:
    """In the forked child: become the caller's command (its streams, folder, environment) and run it."""
    code = 70
    try:
        os.setsid()  # the caller forwards Ctrl-C to this group
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        os.umask(int(order["umask"]))
        os.environ.clear()
        os.environ.update(order["env"])
        os.environ.setdefault("MPLBACKEND", "Agg")
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _reopen_streams(order.get("encoding") or "utf-8")
        conn.send(json.dumps({"pid": os.getpid()}).encode())
        _stop_when_caller_leaves(conn)
        os.chdir(order["cwd"])
        sys.argv = ["ch3-grader", *order["argv"]]
        code = run(order["argv"])
    except BaseException as exc:  # noqa: BLE001 (the caller must get a status, whatever happened)
        try:
            print(f"ch3-grader: the warm grader could not run the command: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
        except Exception:
            pass
        code = 70
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller leaving once it has the status is no Ctrl-C
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        try:
            conn.send(json.dumps({"exit": code}).encode())
        except OSError:
            pass
        os._exit(0)


def _reopen_streams(encoding: str) -> None:
    """Python objects for the caller's streams (the warm process's were /dev/null and a log)."""
    sys.stdin = open(0, "r", encoding=encoding, errors="replace", closefd=False)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        tty = os.isatty(fd)
        setattr(sys, name, open(fd, "w", encoding=encoding, errors="backslashreplace", closefd=False,
                                buffering=1 if tty or fd == 2 else -1))
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _stop_when_caller_leaves(conn: socket.socket) -> None:
    """A caller that goes away (its terminal closed, killed) stops the command: Ctrl-C to this group."""
    import threading

    def watch():
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        _signal_group(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()
