"""The worker's view of the machine (an allowlist) and how workers start, tried as an attacker would.

Each probe runs inside a real sandboxed worker and reports what it could reach;
the assertions say what must stay out of its reach.
"""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import autograder
from autograder.data import SAMPLE_DIR
from autograder.grading import CannotGrade, grade_path
from autograder.intake import prepare
from autograder.judge.client import LimitRefused, Submission, TimedOut
from autograder.spec import load_spec
from autograder.worker import sandbox
from autograder.worker.sandbox import SandboxUnavailable, UidSlot, choose_isolation
from submissions import PROJECT, write_submission

LIMITS = load_spec()["confusion.public_example"].limits
needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap cannot start here (see docs/guide/sandbox.md)")

PROBE = """
import os, subprocess, threading, time

def read(paths):
    found = {}
    for path in paths:
        try:
            with open(path, "rb") as fh:
                found[path] = len(fh.read())
        except OSError as exc:
            found[path] = type(exc).__name__
    return found

def exists(paths):
    return {path: os.path.exists(path) for path in paths}

def environments():
    '''Every other process's environment this worker can read through /proc.'''
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    found[pid] = fh.read().decode(errors="replace")
            except OSError:
                pass
    return found

def run(argv, cwd="/"):
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=20)
        return [done.returncode, done.stdout.decode(errors="replace")[:2000]]
    except OSError as exc:
        return [type(exc).__name__, ""]

def fill_scratch(megabytes):
    written = 0
    try:
        for i in range(megabytes):
            with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fill{i}"), "wb") as fh:
                fh.write(b"x" * 2**20)
            written += 1
    except OSError:
        pass
    return written

def spin():
    def burn():
        while True:
            pass
    threading.Thread(target=burn, daemon=True).start()
    return time.process_time()

def cpu():
    return time.process_time()
"""


@pytest.fixture(scope="module")
def probe():
    """A sandboxed worker running PROBE, graded the way `grade` does (a private copy of the submission)."""
    root = Path(tempfile.mkdtemp(prefix="ch3-view-test-"))
    root.chmod(0o755)  # as grade_path() makes it: the sandbox uid may traverse it
    source = write_submission(root / "probe", files={"probe.py": PROBE})
    submission = Submission(prepare(source).materialize(root / "work"))
    submission.start_question(LIMITS)
    yield submission.module("probe")
    submission.close()
    shutil.rmtree(root, ignore_errors=True)


def world_readable_copy(files: dict[str, bytes]) -> Path:
    """A folder in the host's /tmp that any user may read, as a classmate's private copy is."""
    folder = Path(tempfile.mkdtemp(prefix="ch3-grade-classmate-"))
    folder.chmod(0o755)
    for name, content in files.items():
        (folder / name).write_bytes(content)
        (folder / name).chmod(0o644)
    return folder


@needs_bwrap
def test_a_classmates_submission_and_stray_hidden_labels_are_not_in_the_view(probe):
    labels = (SAMPLE_DIR / "titanic_test_labels.csv").read_bytes()
    classmate = world_readable_copy({"ex3_titanic.py": b"SECRET = 1\n", "test_labels.csv": labels})
    try:
        found = probe.read([str(classmate / "ex3_titanic.py"), str(classmate / "test_labels.csv")])
        assert all(isinstance(v, str) for v in found.values()), found
    finally:
        shutil.rmtree(classmate)


@needs_bwrap
def test_the_project_beyond_the_worker_package_is_not_in_the_view(probe):
    package = Path(autograder.__file__).resolve().parent
    secrets = [package / "questions.toml", package / "judge" / "reference.py", package / "graders" / "pytest.ini",
               *sorted((package / "graders" / "hidden").glob("*.py")), PROJECT / "solutions" / "confusion.py",
               SAMPLE_DIR / "mnist.npz", PROJECT / "pyproject.toml"]
    found = probe.read([str(p) for p in secrets])
    assert all(isinstance(v, str) for v in found.values()), found
    assert probe.exists([str(package / "worker" / "entry.py")]) == {str(package / "worker" / "entry.py"): True}


@needs_bwrap
@pytest.mark.skipif(not (PROJECT / ".git").exists(), reason="the project is not a git checkout")
def test_the_projects_git_history_is_unreachable(probe):
    git_dir = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--absolute-git-dir"], capture_output=True,
                             text=True).stdout.strip()
    assert probe.exists([str(PROJECT / ".git"), git_dir]) == {str(PROJECT / ".git"): False, git_dir: False}
    code, out = probe.run(["git", "-c", "safe.directory=*", "-C", str(PROJECT), "show",
                           "HEAD:autograder/questions.toml"])
    assert code != 0 and "points" not in out


@needs_bwrap
def test_the_graders_environment_is_unreadable_through_proc(probe, monkeypatch):
    monkeypatch.setenv("CH3_TEST_GRADER_SECRET", "do-not-leak")
    found = probe.environments()
    assert not any("CH3_TEST_GRADER_SECRET" in env or "CH3_DATA_DIR" in env for env in found.values()), found


@needs_bwrap
def test_disk_written_during_a_call_is_bounded(probe):
    written = probe.fill_scratch(sandbox.SCRATCH_MB + 64)
    assert written <= sandbox.SCRATCH_MB, f"the worker wrote {written} MB"


@needs_bwrap
def test_threads_left_running_burn_no_cpu_between_calls(probe):
    start = probe.spin()
    time.sleep(1.0)
    assert probe.cpu() - start < 0.3, "a background thread kept running between calls"


@needs_bwrap
@pytest.mark.skipif(sandbox.userns_lock(UidSlot().uid if os.geteuid() == 0 else None) is None,
                    reason="the kernel allows no unprivileged user namespaces here, so there is nothing to lock")
def test_no_new_user_namespaces_in_the_sandbox(probe):
    code, _ = probe.run(["unshare", "--user", "true"])
    assert code != 0


# ----------------------------------------------------------------- starting workers

def test_concurrent_graders_get_different_sandbox_uids(monkeypatch):
    monkeypatch.delenv(sandbox.SANDBOX_UID_ENV, raising=False)
    if os.geteuid() != 0:
        pytest.skip("uid slots are used only when grading as root")
    first, second = UidSlot(), UidSlot()
    try:
        assert first.uid != second.uid
    finally:
        first.release()
        second.release()


def test_a_worker_that_fails_to_start_leaves_no_scratch_folder(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("cannot start")

    monkeypatch.setattr(sandbox.subprocess, "Popen", refuse)
    monkeypatch.setattr(sandbox, "check_weak_mode", lambda mode: None, raising=False)  # root: the uid is not used here
    before = set(Path(tempfile.gettempdir()).glob("ch3-worker-*"))
    with pytest.raises(OSError):
        sandbox.WorkerProcess(write_submission(tmp_path / "s"), LIMITS)
    assert set(Path(tempfile.gettempdir()).glob("ch3-worker-*")) == before


def test_without_bubblewrap_grading_refuses_unless_asked(monkeypatch):
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    with pytest.raises(SandboxUnavailable, match="opt in explicitly"):
        choose_isolation()
    assert choose_isolation(allow_weak=True) == "rlimits"
    monkeypatch.setenv(sandbox.ISOLATION_ENV, "rlimits")
    assert choose_isolation() == "rlimits"


FORGER = """
import os, time
import numpy as np

def large_odd_targets(y):
    if os.fork() == 0:           # a daemon that outlives the call, then forges the score
        os.setsid()
        if os.fork() == 0:
            time.sleep(1.5)
            for path in {targets!r}:
                try:
                    with open(path, "w") as fh:
                        fh.write('{{"score": 1000}}')
                except OSError:
                    pass
        os._exit(0)
    for path in {targets!r}:     # and rewrites the install right away
        try:
            with open(path, "a") as fh:
                fh.write("\\n# rewritten by a student\\n")
        except OSError:
            pass
    y = np.asarray(y)
    return np.c_[y >= 7, y % 2 == 1]
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="as your own user the weak mode can write what you can (README)")
def test_the_weak_mode_as_root_leaves_results_and_install_untouched(tmp_path, monkeypatch):
    package = Path(autograder.__file__).resolve().parent
    out = tmp_path / "out"
    targets = [str(out / "results.json"), str(package / "questions.toml"),
               *[str(p) for p in sorted((package / "graders" / "hidden").glob("*.py"))[:1]]]
    before = {p: Path(p).read_bytes() for p in targets[1:]}
    folder = write_submission(tmp_path / "s", files={"multilabel.py": FORGER.format(targets=targets)})
    monkeypatch.setenv(sandbox.ISOLATION_ENV, "rlimits")
    try:
        result = grade_path(folder, out, questions=["multilabel.targets"], limits={"timeout": 10})
    except CannotGrade as exc:  # an interpreter under /root, or grader files others can read: refused
        assert "not reachable by the sandbox uid" in str(exc) or "could read these grader files" in str(exc)
    else:
        time.sleep(2.5)
        assert '"score": 1000' not in (out / "results.json").read_text()
        assert result.score == result.max_score
    assert {p: Path(p).read_bytes() for p in targets[1:]} == before


# ------------------------------------------------------------- the worker lifecycle

STATEFUL = """
import time
{header}
CALLS = []

def count():
    CALLS.append(1)
    return len(CALLS)
"""


@pytest.fixture
def shared_tmp():
    """A temporary folder the sandbox uid may traverse, as ``grade``'s own (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="ch3-view-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def submission_with(root: Path, source: str) -> Submission:
    """A Submission on a private copy of ``source`` as stateful.py, prepared as ``grade`` does."""
    folder = prepare(write_submission(root / "s", files={"stateful.py": source})).materialize(root / "work")
    submission = Submission(folder)
    submission.start_question(LIMITS)
    return submission


def test_restart_gives_a_module_a_fresh_process(shared_tmp):
    submission = submission_with(shared_tmp, STATEFUL.format(header=""))
    try:
        module = submission.module("stateful")
        assert [module.count(), module.count()] == [1, 2]
        submission.restart("stateful")
        assert module.count() == 1
    finally:
        submission.close()


def test_an_import_killed_by_a_timeout_is_retried_with_more_time(shared_tmp):
    submission = submission_with(shared_tmp, STATEFUL.format(header="time.sleep(2)"))
    try:
        module = submission.module("stateful")
        submission.start_question(dataclasses.replace(LIMITS, timeout=0.5))
        with pytest.raises(TimedOut):
            module.count()
        with pytest.raises(TimedOut, match="not retried"):
            module.count()
        submission.start_question(dataclasses.replace(LIMITS, timeout=30))
        assert module.count() == 1
    finally:
        submission.close()


def test_a_memory_limit_the_grader_cannot_give_is_a_configuration_message(shared_tmp, monkeypatch):
    ceiling = 8 << 30
    monkeypatch.setattr(sandbox.resource, "getrlimit",
                        lambda which: (ceiling, ceiling) if which == sandbox.resource.RLIMIT_AS else (-1, -1))
    submission = submission_with(shared_tmp, STATEFUL.format(header=""))
    submission.start_question(dataclasses.replace(LIMITS, memory_mb=12288))
    try:
        with pytest.raises(LimitRefused, match="memory_mb = 12288.*at most 8192 MB"):  # the machine's, not the student's
            submission.module("stateful").count()
    finally:
        submission.close()


def test_a_real_memory_ceiling_on_the_grader_gives_the_configuration_message(tmp_path):
    """The same, end to end: a grader started under ``ulimit -v`` (hard) below the question's memory_mb.
    It is an infrastructure failure: the student reads that the grader failed, the staff the message."""
    folder = write_submission(tmp_path / "s", honest=["confusion"])
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
        from autograder.grading import grade_path
        result = grade_path({str(folder)!r}, questions=["confusion.public_example"], limits={{"memory_mb": 20000}})
        (q,) = result.questions
        print(q.status, q.outcome, result.needs_regrade, "|", " ".join(result.grader_errors))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("grader_error infrastructure True |") and "memory_mb = 20000" in done.stdout, \
        done.stdout


DAEMON = """
import os, time

def start_daemon_then_hang():
    if os.fork() == 0:
        os.setsid()                  # leaves the worker's session
        if os.fork() == 0:
            while True:
                time.sleep(0.1)
        os._exit(0)
    while True:
        pass

def daemon_alive():
    # a fresh worker's scratch is empty, so it looks for the daemon itself: a live process (not a
    # zombie) of a session that is neither the zygote's nor this worker's (pid 1 is bubblewrap)
    ours = {os.getsid(0), os.getsid(os.getppid())}
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != 1:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(pid)) not in ours and state != "Z":
                    others.append(int(pid))
            except OSError:
                pass
    return others
"""


@needs_bwrap
def test_a_timeout_kills_the_daemons_a_worker_started_even_in_a_shared_sandbox(shared_tmp):
    """Workers of one submission share a sandbox (the zygote's); a timed-out one takes its daemons along."""
    folder = prepare(write_submission(shared_tmp / "s", files={"hang.py": DAEMON, "check.py": DAEMON})).materialize(
        shared_tmp / "work")
    submission = Submission(folder)
    submission.start_question(dataclasses.replace(LIMITS, timeout=3))
    try:
        with pytest.raises(TimedOut):
            submission.module("hang").start_daemon_then_hang()
        assert submission.module("check").daemon_alive() == []
    finally:
        submission.close()


# ------------------------------------------------------------------ what the zygote preloads

PARALLEL = """
import os
import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

def pids():
    return sorted(set(Parallel(n_jobs=-1)(delayed(os.getpid)() for _ in range(8)))), os.getpid()

def search(n_jobs):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 4)), rng.integers(0, 3, 120)
    grid = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5], "weights": ["uniform", "distance"]},
                        cv=3, n_jobs=n_jobs).fit(X, y)
    return grid.best_params_, grid.cv_results_["mean_test_score"].tolist()
"""


@needs_bwrap
def test_n_jobs_runs_in_the_worker_itself_with_the_same_results(shared_tmp):
    """joblib starts no loky workers (each a fresh interpreter importing scikit-learn again);
    what a student's n_jobs=-1 computes is unchanged."""
    folder = prepare(write_submission(shared_tmp / "s", files={"parallel.py": PARALLEL})).materialize(shared_tmp / "w")
    submission = Submission(folder)
    submission.start_question(LIMITS)
    try:
        module = submission.module("parallel")
        workers, own = module.pids()
        assert workers == [own]
        assert module.search(-1) == module.search(1)
    finally:
        submission.close()


def test_the_zygote_preloads_what_the_graded_modules_import_and_nothing_else(tmp_path):
    from autograder.worker.zygote import PRELOAD, preload_list

    (tmp_path / "confusion.py").write_text("import numpy as np\n")
    (tmp_path / "ex3_titanic.py").write_text(textwrap.dedent("""
        from sklearn.svm import SVC
        import helpers                      # the student's own module: its imports count too
        def build_pipeline():
            import pandas                   # an import inside a function counts
            return SVC()
        """))
    (tmp_path / "helpers.py").write_text("from sklearn import compose\nimport antigravity\nimport numpy.__main__\n")
    (tmp_path / "broken.py").write_text("def (:\n")

    assert preload_list(str(tmp_path), ["confusion"]) == ["numpy", "threadpoolctl"]
    titanic = preload_list(str(tmp_path), ["ex3_titanic"])
    assert titanic[:4] == ["numpy", "threadpoolctl", "sklearn", "pandas"]  # PRELOAD's order first
    assert {"sklearn.svm", "sklearn.compose"} <= set(titanic)
    assert "antigravity" not in titanic and "helpers" not in titanic  # not a known library: never imported
    assert not any("__main__" in name for name in titanic)
    assert set(preload_list(str(tmp_path), ["broken"])) == {"numpy", "threadpoolctl"}  # unparsable: nothing
    assert "sklearn.svm" in preload_list(str(tmp_path))  # no modules named: every module file
    assert set(preload_list(str(tmp_path), ["missing"])) <= set(PRELOAD)
