"""Fault injection: a busy machine, a kill from outside, a second run on one folder, a killed
``grade-all``, an output folder that cannot be written. Each case must end in a correct grade
or an honest blank (an infrastructure failure, listed and regraded), never a wrong number.

The cases run in seconds: CPU hogs beside one worker (the worker reniced so that the machine
surely keeps it waiting), kills sent to the processes of one sandbox. Those that run
``grade-all`` itself are marked slow.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.bulk import runner
from autograder.bulk.batch import LOCK_FILE, OutFolderBusy, _settle, grade_all, hold_out_folder
from autograder.bulk.store import BatchStore
from autograder.judge import client
from autograder.spec import load_spec
from autograder.worker import sandbox
from submissions import reference_source, write_submission

BWRAP = sandbox.bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="the zygote and bwrap exist only in the bubblewrap sandbox")

#: Student functions for the cases: honest CPU work, waiting, killing itself, crashing, over-eating.
TOOLS = reference_source("confusion") + '''

def burn(seconds):
    import time
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds

def nap(seconds):
    import time
    time.sleep(seconds)
    return seconds

def own_sigkill():
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)

def segfault():
    import ctypes
    ctypes.string_at(0)

def eat_memory():
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
'''


@pytest.fixture
def student(tmp_path):
    submission = client.Submission(write_submission(tmp_path / "s", files={"confusion.py": TOOLS}))
    submission.start_question(dataclasses.replace(load_spec()["confusion.public_example"].limits, timeout=1.0,
                                                  call_timeout=1.0, hung_timeout=1.0, threads=1, memory_mb=600))
    yield submission
    submission.close()


@pytest.fixture
def busy_machine():
    """One CPU hog more than the machine has cores; ``slow_down(pid)`` also renices a worker."""
    spin = ("import os, time\nparent, end = os.getppid(), time.monotonic() + 120\nprint(flush=True)\n"
            "while os.getppid() == parent and time.monotonic() < end:\n    pass")  # never outlives the test
    hogs = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, start_new_session=True)
            for _ in range((os.cpu_count() or 1) + 1)]
    for hog in hogs:
        hog.stdout.readline()  # spinning

    def slow_down(pid: int, niceness: int) -> None:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
        try:  # with autogroups, CPU is shared between sessions first: the worker has a session of its own
            Path(f"/proc/{pid}/autogroup").write_text(str(niceness))
        except OSError:
            pass
    yield slow_down
    for hog in hogs:
        hog.kill()
        hog.wait()


def worker_pid(submission, module="confusion") -> int:
    pid = submission._worker(module)._host_pid()
    if pid is None:
        pytest.skip("the worker's pid is not known here: its CPU time cannot be read")
    return pid


# ------------------------------------------------------------------------ a busy machine

def test_honest_code_within_its_cpu_limit_is_not_given_a_timeout_on_a_busy_machine(student, busy_machine):
    busy_machine(worker_pid(student), 7)  # about a sixth of a core: 0.4 CPU-seconds take over 2 s
    started = time.monotonic()
    assert student.module("confusion").burn(0.4) == 0.4  # 0.4 CPU-seconds of a 1 s limit
    if time.monotonic() - started <= 1.0:
        pytest.skip("the hogs did not slow the call past its limit on this machine")
    assert not student._hung


def test_a_call_the_machine_kept_waiting_past_the_backstop_is_the_machines_failure(student, busy_machine,
                                                                                   monkeypatch):
    monkeypatch.setattr(sandbox, "WALL_BACKSTOP_EXTRA", 0.5)  # backstop: 1.5 x the limit
    monkeypatch.setattr(sandbox, "WALL_BACKSTOP_SLACK_S", 0.0)
    busy_machine(worker_pid(student), 19)
    with pytest.raises(client.MachineFailure, match="too busy") as stopped:
        student.module("confusion").burn(0.9)
    evidence = stopped.value.evidence
    assert evidence["cpu_s"] < evidence["cpu_limit_s"] and evidence["wall_s"] >= evidence["backstop_s"]
    assert evidence["waited_for_cpu_s"] > 0.5 and "loadavg" in evidence, evidence
    assert not student._hung  # not the student's timeout: no short limit after it
    assert not isinstance(stopped.value, client.StudentCodeError)


def test_code_that_burns_its_cpu_limit_is_the_students_timeout_with_its_evidence(student):
    with pytest.raises(client.TimedOut, match="CPU-seconds") as stopped:
        student.module("confusion").burn(30)
    evidence = stopped.value.evidence
    if evidence["clock"] == "cpu":  # stopped by its CPU time, or by its own time a moment before
        assert evidence["cpu_s"] >= evidence["cpu_limit_s"] - 0.2 and evidence["cpu_limit_s"] == 1.0
    assert ("confusion", "confusion.burn()") in student._hung


def test_code_that_sleeps_past_its_limit_is_the_students_timeout(student):
    with pytest.raises(client.TimedOut) as stopped:
        student.module("confusion").nap(60)
    evidence = stopped.value.evidence
    assert evidence["wall_s"] < evidence["backstop_s"]  # its own time ran out: no wait for the backstop
    if evidence["clock"] == "cpu":
        assert evidence["cpu_s"] < 0.5 and evidence["wall_s"] - evidence["waited_for_cpu_s"] >= evidence["limit_s"]


# --------------------------------------------------------------------------- deaths

def _sandbox_process(submission, which: str) -> int:
    if which == "worker":
        return submission._workers["confusion"]._host_pid()
    return submission._sandbox.zygote_host_pid if which == "zygote" else submission._sandbox.process.pid


@pytest.mark.parametrize("which", ["worker", "zygote", "bwrap"])
def test_a_kill_from_outside_during_a_call_is_the_machines_failure(student, which):
    if which != "worker" and not BWRAP:
        pytest.skip("the zygote and bwrap exist only in the bubblewrap sandbox")
    worker_pid(student)
    target = _sandbox_process(student, which)
    threading.Timer(0.3, os.kill, (target, signal.SIGKILL)).start()
    with pytest.raises(client.MachineFailure, match="not the student's code") as stopped:
        student.module("confusion").nap(5)
    evidence = stopped.value.evidence
    assert not evidence["self_signalled"] and "oom_kills_during_call" in evidence
    assert evidence.get("signal") == "SIGKILL" or evidence["sandbox_gone"]
    assert student.module("confusion").nap(0.01) == 0.01  # the next call gets a fresh worker (and sandbox)


def test_a_worker_killed_before_it_has_its_limits_is_named_by_its_signal(monkeypatch):
    """The zygote's side: a new worker that dies silently in its set-up (no student code has run)
    is refused with the signal that ended it, and no process outside is signalled."""
    from autograder.worker import zygote

    keeper = zygote.Zygote(control=None, submission_dir="/nonexistent")
    monkeypatch.setattr(keeper, "unclean", lambda: None)
    monkeypatch.setattr(zygote, "empty_scratch", lambda: None)
    monkeypatch.setattr(keeper, "signal_all", lambda *a, **k: None)  # outside a sandbox: signal nobody
    monkeypatch.setattr(keeper, "become_worker", lambda *a: os.kill(os.getpid(), signal.SIGKILL))  # as from outside
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]
    assert keeper.spawn({}, fds) == {"refused": "the worker was killed by SIGKILL before it said it had its limits",
                                     "ended": -signal.SIGKILL}


def test_a_refused_start_carries_its_signal_to_the_questions_evidence(student, monkeypatch):
    """The grader's side: the refusal is the machine's failure with the signal as evidence."""
    def refused(*a, **k):
        raise sandbox.LimitUnavailable("the sandbox could not give the worker its limits", {"signal": "SIGKILL"})

    monkeypatch.setattr(student, "_start", refused)
    with pytest.raises(client.LimitRefused) as stopped:
        student.module("confusion").nap(0.01)
    assert isinstance(stopped.value, client.InfrastructureFailure) and stopped.value.evidence == {"signal": "SIGKILL"}


@pytest.mark.parametrize("call, signal_name", [("own_sigkill", "SIGKILL"), ("segfault", "SIGSEGV")])
def test_a_death_the_students_code_caused_stays_the_students(student, call, signal_name):
    with pytest.raises(client.SandboxStopped) as stopped:
        getattr(student.module("confusion"), call)()
    assert stopped.value.evidence["signal"] == signal_name
    assert not stopped.value.evidence["sandbox_gone"]


def test_running_out_of_its_memory_limit_stays_the_students(student):
    with pytest.raises(client.StudentCodeError) as stopped:
        student.module("confusion").eat_memory()
    assert "MemoryError" in str(stopped.value) or "memory" in str(stopped.value)
    assert not isinstance(stopped.value, client.InfrastructureFailure)


# ----------------------------------------------------------- a grader process killed twice

def test_a_submission_that_killed_its_grader_process_twice_is_an_infrastructure_failure(tmp_path):
    store = BatchStore(tmp_path / "out")
    record = {"id": "bob", "source": "bob", "name": "", "email": "", "status": "pending", "error": "",
              "result": None, "cache_key": "k", "score": None, "max_score": None, "percent": None}
    reply = {"result": None, "log": "", "host": "", "reports": None, "infrastructure": True,
             "error": "the grader process died while grading this submission, twice"}
    _settle(store, record, reply, {}, {}, rewrite=True)
    assert record["status"] == "grader_error" and record["grader_errors"] and record["infrastructure"]
    assert record["score"] is None  # no number: it is regraded, never scored


def kill_own_process(payload, options, label):
    os._exit(9)


@pytest.mark.slow  # starts two grader processes
def test_the_runner_reports_a_grader_process_killed_twice_as_infrastructure(monkeypatch):
    monkeypatch.setattr(runner, "grade_job", kill_own_process)  # pickled by name: the grader processes use it too
    [(job_id, reply)] = runner.run_local([("bob", {}, "bob")], {"out_dir": None, "profile": "quick",
                                                                "questions": ["confusion"]}, workers=1, threads=1)
    assert reply["infrastructure"] is True and reply["result"] is None and "twice" in reply["error"]


# -------------------------------------------------------------- one run per output folder

def test_a_second_run_on_the_same_out_folder_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    write_submission(tmp_path / "class" / "ann", honest=["confusion"])
    with hold_out_folder(out):
        with pytest.raises(OutFolderBusy, match=f"pid {os.getpid()} on "):
            grade_all(tmp_path / "class", out)
        done = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "class"), "--out",
                               str(out)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"pid {os.getpid()}" in done.stderr and "another grade-all run" in done.stderr


def test_the_lock_of_a_run_killed_outright_is_taken_over(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom autograder.bulk.batch import "
                               "hold_out_folder\nwith hold_out_folder(sys.argv[1]):\n    print('held', flush=True)\n"
                               "    time.sleep(600)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutFolderBusy, match=f"pid {holder.pid} "):
            with hold_out_folder(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with hold_out_folder(out):
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()


# ------------------------------------------------------------ an output folder not writable

def test_a_read_only_out_folder_is_one_clear_line_and_keeps_what_is_there(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text('{"kept": true}')
    write_submission(tmp_path / "class" / "alice", honest=["confusion"])
    done = subprocess.run([sandbox.bwrap_executable(), "--dev-bind", "/", "/", "--ro-bind", str(out), str(out),
                           sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "class"), "--out", str(out),
                           "-q", "confusion"], capture_output=True, text=True, timeout=120)
    if "Cannot write" not in done.stderr and "bwrap:" in done.stderr:
        pytest.skip(f"a read-only bind mount is not available here: {done.stderr.strip()[-300:]}")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert str(out) in lines[0] and "--resume --out" in lines[0] and "Read-only" in lines[0]
    assert (out / "batch.json").read_text() == '{"kept": true}'


def test_a_full_disk_is_one_clear_line_with_the_resume_hint(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from autograder.cli import app

    def full(self, manifest):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.out / "batch.json"))
    monkeypatch.setattr(BatchStore, "write_manifest", full)
    write_submission(tmp_path / "class" / "alice", honest=["confusion"])
    done = CliRunner().invoke(app, ["grade-all", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                                    "-q", "confusion"])
    assert done.exit_code == 2
    assert "No space left on device" in done.output and f"--resume --out {tmp_path / 'out'}" in done.output


# ------------------------------------------------------------------------ no orphans

def _descendants(pid: int) -> set[int]:
    return set(sandbox.process_tree(pid)) - {pid}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow  # starts grade-all and its grader processes
def test_killing_grade_all_outright_leaves_no_grader_process_or_sandbox(tmp_path):
    write_submission(tmp_path / "class" / "alice", files={"confusion.py": "import time\ntime.sleep(120)\n"})
    parent = subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "class"),
                               "--out", str(tmp_path / "out"), "-q", "confusion", "--workers", "1", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the student's code runs in its sandbox
            tree = _descendants(parent.pid)
            names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in tree if _alive(pid)}
            if ("bwrap" in names or not BWRAP) and len(tree) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("grade-all did not start a sandbox")
        time.sleep(0.5)
        tree = _descendants(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        time.sleep(0.2)
    assert not [pid for pid in tree if _alive(pid)], "processes outlived grade-all"


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text(errors="replace")
    except OSError:
        return ""


def _workers_of(pid: int) -> list[int]:
    """The sandboxed workers under ``pid``: a zygote's forks (Python processes whose parent is one)."""
    zygotes = {str(p) for p in sandbox.process_tree(pid) if _proc(p, "comm").startswith("python")
               and "autograder.worker.zygote" in _proc(p, "cmdline")}
    return [int(p) for p in zygotes if _alive(int(p)) and _proc(int(p), "stat").rsplit(")", 1)[-1].split()[1:2]
            and _proc(int(p), "stat").rsplit(")", 1)[-1].split()[1] in zygotes]


@pytest.mark.slow  # two grade-all runs
def test_a_worker_killed_from_outside_is_listed_not_cached_and_regraded_by_retry_failed(tmp_path):
    slow_import = "import time\ntime.sleep(4)\n" + reference_source("confusion")
    write_submission(tmp_path / "class" / "alice", files={"confusion.py": slow_import})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade-all", "--out", str(out), "-q", "confusion", "--workers", "1"]
    first = subprocess.Popen([*command, str(tmp_path / "class")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _workers_of(first.pid):
        time.sleep(0.1)
    assert _workers_of(first.pid), "no worker started"
    os.kill(_workers_of(first.pid)[0], signal.SIGKILL)  # as the OOM killer or an operator would
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 3, stdout + stderr
    assert "alice" in stderr and "--retry-failed" in stderr
    [entry] = json.loads((out / "batch.json").read_text())["entries"]
    assert entry["infrastructure"] and not list((out / "cache").glob("*.json"))
    graded = json.loads((out / "students" / "alice" / "grading.json").read_text())
    failed = [q for q in graded["questions"] if q["outcome"] == "infrastructure"]
    assert failed and failed[0]["status"] == "grader_error", graded["grader_errors"]
    assert failed[0]["evidence"].get("signal") == "SIGKILL", graded["grader_errors"]
    again = subprocess.run([*command, "--retry-failed"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    [entry] = json.loads((out / "batch.json").read_text())["entries"]
    assert entry["status"] == "graded" and not entry["infrastructure"] and entry["score"] == entry["max_score"]


@pytest.mark.slow  # one warm-up
def test_two_warm_starts_at_once_start_one_warm_grader(tmp_path):
    import re

    from autograder import warm

    if not warm.supported():
        pytest.skip("the warm grader is Linux only")
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ch3w-", dir="/tmp"))  # short: a Unix socket's path is at most 107 bytes
    env = {**os.environ, warm.SOCKET_DIR_ENV: str(folder)}
    starts = [subprocess.Popen([sys.executable, "-m", "autograder", "warm", "start", "--idle", "2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        said = [start.communicate(timeout=300)[0] for start in starts]
        pids = {int(pid) for text in said for pid in re.findall(r"warm grader pid (\d+)", text)}
        assert len(pids) == 1 and all(start.returncode == 0 for start in starts), said
    finally:
        subprocess.run([sys.executable, "-m", "autograder", "warm", "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _serving(folder):
        time.sleep(0.1)
    assert not _serving(folder), "a warm grader outlived its stop (serving an unlinked socket)"


def _serving(folder: Path) -> list[int]:
    """Warm graders (alive) whose socket is in ``folder``."""
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _alive(int(pid))
            and "autograder\0warm\0serve" in _proc(int(pid), "cmdline") and str(folder) in _proc(int(pid), "cmdline")]


@pytest.mark.parametrize("command", ["grade", "check"])
def test_grade_and_check_exit_3_naming_a_question_the_machine_failed_on(tmp_path, monkeypatch, command):
    from typer.testing import CliRunner

    from autograder.cli import app
    from autograder.results import GradingResult, QuestionResult

    stalled = GradingResult(submission="s", profile="quick", isolation="bubblewrap", questions=[
        QuestionResult("confusion.public_example", "confusion: public example", "public", 0.0, 2.0, "grader_error",
                       feedback="the machine kept the call waiting", outcome="infrastructure")])
    monkeypatch.setattr("autograder.grading.grade", lambda *args, **kwargs: stalled)
    run = CliRunner().invoke(app, [command, str(tmp_path), "--out", str(tmp_path / "out"), "-q", "confusion"])
    assert run.exit_code == 3, run.output
    assert "failed on confusion.public_example" in " ".join(run.output.split())
