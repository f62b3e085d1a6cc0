"""The warm grader: a command it serves gives what the same command gives cold, and it serves only
its own installation, its own user, from a private folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import warm
from submissions import write_submission

pytestmark = pytest.mark.skipif(not warm.supported(), reason="the warm grader is Linux only")

PARTIAL_CONFUSION = '''
import numpy as np

def binary_confusion_matrix(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.array([[np.sum((y_true == 0) & (y_pred == 0)), np.sum((y_true == 0) & (y_pred == 1))],
                     [np.sum((y_true == 1) & (y_pred == 0)), np.sum((y_true == 1) & (y_pred == 1))]])

def precision(y_true, y_pred):
    print("computing precision")
    m = binary_confusion_matrix(y_true, y_pred)
    return m[1, 1] / (m[1, 1] + m[1, 0])   # recall's formula: the swapped-metric mistake

def recall(y_true, y_pred):
    raise NotImplementedError
'''

HANGING_CONFUSION = '''
def binary_confusion_matrix(y_true, y_pred):
    while True:
        pass
'''


@pytest.fixture(scope="module")
def warm_dir(tmp_path_factory):
    """A warm grader of this installation, in a private socket folder of this test module's own, and
    warm grading turned on for the commands of the tests that use it (the suite runs cold)."""
    folder = tmp_path_factory.mktemp("warm")
    before = {name: os.environ.get(name) for name in (warm.SOCKET_DIR_ENV, warm.WARM_ENV)}
    os.environ[warm.SOCKET_DIR_ENV], os.environ[warm.WARM_ENV] = str(folder), "1"
    try:
        status = warm.start(idle_minutes=5)
        assert status["pid"] > 0
        yield folder
    finally:
        warm.request("stop")
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cli(args, cwd: Path, *, cold: bool = False, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, warm.WARM_ENV: "0" if cold else "1"}
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, **kwargs)


def served() -> int:
    return warm.request("status")["served"]


#: What differs between two runs of the same grading: how long it took.
TIMINGS = {"seconds", "execution_time", "time_limits", "slowest_call"}


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def comparable(results_dir: Path) -> dict:
    """What a student and the staff read, minus the seconds each run took."""
    report = [line for line in (results_dir / "report.md").read_text().splitlines() if not line.startswith("- Time:")]
    return {"report.md": report, **{name: without_timings(json.loads((results_dir / name).read_text()))
                                    for name in ("grading.json", "results.json")}}


def test_a_warm_grade_is_the_cold_grade(warm_dir, tmp_path):
    submission = write_submission(tmp_path / "sub", files={"confusion.py": PARTIAL_CONFUSION})
    before = served()
    hot = cli(["grade", submission, "-q", "confusion", "--out", "hot"], cwd=tmp_path)
    assert served() == before + 1, "the command did not reach the warm grader"
    cold = cli(["grade", submission, "-q", "confusion", "--out", "cold"], cwd=tmp_path, cold=True)
    assert served() == before + 1
    assert (hot.returncode, hot.stdout.replace("hot/", "cold/")) == (cold.returncode, cold.stdout)
    assert comparable(tmp_path / "hot") == comparable(tmp_path / "cold")
    report = (tmp_path / "hot" / "report.md").read_text()
    assert "computing precision" in report and "0/" in report  # the student's output and a real mistake


def test_the_caller_working_directory_environment_and_exit_status(warm_dir, tmp_path):
    write_submission(tmp_path / "sub", honest=["confusion"])
    done = cli(["check", "sub", "-q", "confusion", "--out", "mine"], cwd=tmp_path)  # relative to the caller's folder
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine" / "report.md").is_file() and "public: 1/1 passed" in done.stdout
    missing = cli(["grade", tmp_path / "nowhere"], cwd=tmp_path)
    cold = cli(["grade", tmp_path / "nowhere"], cwd=tmp_path, cold=True)
    assert missing.returncode == cold.returncode == 2
    assert missing.stderr == cold.stderr and "nowhere" in missing.stderr


def test_a_file_written_by_the_caller_keeps_the_caller_umask(warm_dir, tmp_path):
    write_submission(tmp_path / "sub", honest=["confusion"])
    done = subprocess.run(f"umask 077 && {sys.executable} -m autograder check sub -q confusion.public_example",
                          shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "check-out" / "report.md").stat().st_mode & 0o077 == 0


def test_ctrl_c_stops_the_served_command_and_the_warm_grader_goes_on(warm_dir, tmp_path):
    write_submission(tmp_path / "sub", files={"confusion.py": HANGING_CONFUSION})
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "sub", "-q", "confusion"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while warm.request("status")["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # inside the student's loop
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "interrupted" in err, err
    deadline = time.monotonic() + 10
    while warm.request("status")["busy"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert warm.request("status")["busy"] == 0  # the served child is gone, the warm grader is not


def test_an_edit_to_the_installation_changes_the_socket(tmp_path):
    for package in ("autograder", "solutions", "assignments"):
        write_submission(tmp_path / package, files={"a.py": "x = 1\n"})
    before = warm.fingerprint(tmp_path)
    assert warm.fingerprint(tmp_path) == before
    (tmp_path / "solutions" / "a.py").write_text("x = 22\n")
    assert warm.fingerprint(tmp_path) != before  # an edited grader never serves from a stale process


def test_an_edit_that_keeps_the_size_and_the_time_changes_the_socket(tmp_path):
    for package in ("autograder", "solutions", "assignments"):
        write_submission(tmp_path / package, files={"a.py": "x = 1\n"})
    edited = tmp_path / "autograder" / "a.py"
    info = edited.stat()
    before = warm.fingerprint(tmp_path)
    edited.write_text("x = 2\n")
    os.utime(edited, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert edited.stat().st_size == info.st_size and edited.stat().st_mtime_ns == info.st_mtime_ns
    assert warm.fingerprint(tmp_path) != before


def test_a_socket_folder_others_can_open_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / f"ch3-grader-{os.getuid()}"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv(warm.SOCKET_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(warm.WARM_ENV, "1")
    with pytest.raises(warm.WarmUnavailable, match="mode 700"):
        warm.socket_dir()
    assert warm.run_warm(["grade", "x"]) is None  # the command runs cold


def test_commands_it_does_not_serve_and_the_opt_out(monkeypatch, tmp_path):
    monkeypatch.setenv(warm.SOCKET_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(warm.WARM_ENV, "1")
    assert warm.run_warm(["grade-all", "x"]) is None
    monkeypatch.setenv(warm.WARM_ENV, "0")
    assert warm.run_warm(["grade", "x"]) is None


# ------------------------------------------------------------------ a first check starts one

STARTED = "started a warm grader for the next checks"


@pytest.fixture
def own_sockets(monkeypatch):
    """A socket folder of this test's own (short: a socket's path is at most 107 bytes), outside CI,
    with warm grading on; whatever warm grader a test starts in it is stopped after the test."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ch3w-", dir="/tmp"))
    monkeypatch.setenv(warm.SOCKET_DIR_ENV, str(folder))
    monkeypatch.setenv(warm.WARM_ENV, "1")
    monkeypatch.delenv("CI", raising=False)
    try:
        yield folder
    finally:
        deadline = time.monotonic() + warm.START_TIMEOUT
        while list(folder.glob("*/*.log")) and not warm.request("status") and time.monotonic() < deadline:
            time.sleep(0.2)  # one still warming up: stop it once it serves
        warm.request("stop")
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_warm(timeout: float = warm.START_TIMEOUT) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = warm.request("status")
        if status:
            return status
        time.sleep(0.2)
    return None


@pytest.mark.slow  # one warm-up
def test_the_first_check_starts_a_warm_grader_says_so_once_and_the_next_check_is_served_warm(own_sockets,
                                                                                          tmp_path):
    write_submission(tmp_path / "sub", honest=["confusion"])
    first = cli(["check", "sub", "-q", "confusion", "--out", "first"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "public: 1/1 passed" in first.stdout  # the first check ran as it does without a warm grader
    assert first.stderr.count(STARTED) == 1, first.stderr
    assert f"stops after {warm.AUTO_IDLE_MINUTES:g} idle minutes (CH3_WARM=0 to turn this off)" in first.stderr
    status = wait_until_warm()
    assert status and status["served"] == 0 and status["idle_minutes"] == warm.AUTO_IDLE_MINUTES
    second = cli(["check", "sub", "-q", "confusion", "--out", "second"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert warm.request("status")["served"] == 1, "the second check did not reach the warm grader"
    assert STARTED not in second.stderr and second.stdout.replace("second/", "first/") == first.stdout
    third = cli(["check", "sub", "-q", "confusion", "--out", "third"], cwd=tmp_path, cold=True)
    assert STARTED not in third.stderr and warm.request("status")["served"] == 1


@pytest.mark.parametrize("setting", [{warm.WARM_ENV: "0"}, {"CI": "true"}], ids=["CH3_WARM=0", "CI=true"])
def test_a_check_starts_no_warm_grader_under_ci_or_when_turned_off(own_sockets, tmp_path, setting):
    write_submission(tmp_path / "sub", honest=["confusion"])
    done = subprocess.run([sys.executable, "-m", "autograder", "check", "sub", "-q", "confusion"], cwd=tmp_path,
                          env={**os.environ, **setting}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert STARTED not in done.stderr
    time.sleep(1)
    assert warm.request("status") is None and not list(own_sockets.glob("*/*.log"))

