"""Shared by the service tests: uploads built in memory, and a `serve run` in a child process."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = PROJECT_ROOT / "solutions"


def zip_bytes(members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def reference(module: str = "confusion") -> bytes:
    return zip_bytes({f"{module}.py": (SOLUTIONS / f"{module}.py").read_bytes()})


def cli(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                            timeout=300, **kwargs)
    if check and result.returncode:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def serving_url(process: subprocess.Popen, output, wait: float, stop) -> str:
    """The URL `serve run` prints once it listens (``output()``: what it printed so far); if it exits
    or ``wait`` seconds pass first, ``stop()`` it and fail with the end of its output."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = re.search(r"serving (http://\S+/)", output())
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop()
    raise AssertionError(f"serve run did not start: {output()[-3000:]}")


class Server:
    """`serve run DIR --port 0` in a child process; ``url`` once it listens."""

    def __init__(self, data_dir: Path, *extra: str):
        self.log = open(data_dir.parent / f"run-{time.monotonic_ns()}.log", "w+")
        self.process = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "run", str(data_dir),
                                         "--port", "0", *extra], stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = serving_url(self.process, self.text, 60, self.stop)

    def text(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


_FOLDER: list[Path] = []


def service_folder(tmp_path_factory) -> Path:
    """A data folder made by `serve init` in this process, with Django set up on it: one per test
    session (Django's settings are set once per process), shared by the in-process service tests."""
    from django.conf import settings

    if _FOLDER:
        return _FOLDER[0]
    if settings.configured:  # set up by another way in this process
        return Path(settings.DATA_DIR)
    from django.test.utils import setup_test_environment

    from autograder.service import DIR_ENV
    from autograder.service.commands import init_folder

    folder = tmp_path_factory.mktemp("service") / "data"
    before = {name: os.environ.get(name) for name in (DIR_ENV, "DJANGO_SETTINGS_MODULE")}
    init_folder(folder, database=None, url="https://grader.example.edu/")
    setup_test_environment()
    for name, value in before.items():  # Django keeps its settings; other tests' children see no service
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _FOLDER.append(folder)
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree() -> dict[int, list[int]]:
    """Every process's children, by parent pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ServeRun:
    """`serve run DIR --port PORT ...` in a child process on a fixed port, so that it can be killed
    (``kill -9``) and started again with the very same command. `serve run` is one process: the web
    server (waitress) and the dispatcher's grader threads; each grader thread has a warm grading
    process (a child, ``gradejob --serve``), which grades in a sandbox of its own (its child,
    kept from submission to submission and reset between them)."""

    def __init__(self, data_dir: Path, *extra: str, port: int | None = None):
        self.folder = data_dir.parent
        self.argv = [sys.executable, "-m", "autograder", "serve", "run", str(data_dir), "--port",
                     str(port or free_port()), *extra]
        self.logs: list[Path] = []
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self, wait: float = 90.0) -> None:
        log = self.folder / f"run-{time.monotonic_ns()}.log"
        self.logs.append(log)
        with open(log, "w") as output:
            self.process = subprocess.Popen(self.argv, stdout=output, stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = serving_url(self.process, log.read_text, wait, self.stop)

    def text(self) -> str:
        return "".join(log.read_text() for log in self.logs)

    def graders(self) -> list[int]:
        """The warm grading processes (children of `serve run`)."""
        tree = process_tree()
        return [pid for pid in tree.get(self.process.pid, []) if "--serve" in cmdline(pid)]

    def sandboxes(self) -> list[int]:
        """The warm grading processes' sandboxes (their children: bubblewrap, or a worker)."""
        tree = process_tree()
        return [child for warm in tree.get(self.process.pid, []) if "--serve" in cmdline(warm)
                for child in tree.get(warm, [])]

    def kill(self) -> int:
        """``kill -9`` of the `serve run` process; its pid."""
        pid = self.process.pid
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        return pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def gradings_logged(text: str) -> dict[int, int]:
    """How many times the dispatcher stored a grading, by submission id (its "graded" log lines)."""
    counts: dict[int, int] = {}
    for found in re.finditer(r"submission (\d+) \(attempt \d+\): graded", text):
        counts[int(found.group(1))] = counts.get(int(found.group(1)), 0) + 1
    return counts
