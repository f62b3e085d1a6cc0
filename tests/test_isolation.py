"""Nothing a student's code changes outlives that student's submission: not the kept zygote's limits
or scheduling (which every later worker inherits), not System V IPC objects or keyrings (which
outlive the processes that made them), not even from one fresh worker of a submission to the next.

Each worker is confined by a seccomp filter (``autograder/worker/confine.py``); each reset and each
spawn checks the zygote and removes IPC objects besides. The tests attack one defence at a time:
the kept-sandbox tests would fail with the filter off (the attack would change something, and the
kept sandbox would be replaced), and the ``unconfined`` tests switch the filter off to check what
the zygote's own checks catch."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import textwrap

import pytest

from autograder.grading import grade_path
from autograder.judge import client
from autograder.spec import load_spec
from autograder.worker import confine, sandbox, zygote
from submissions import reference_source, write_submission

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works() or confine.why_unavailable() is not None,
                                reason="needs the bubblewrap sandbox and the seccomp filter")

LIMITS = load_spec()["confusion.public_example"].limits
#: System call numbers student code would use for what the C library does not wrap.
NUMBERS = {"x86_64": {"ioprio_set": 251, "add_key": 248, "keyctl": 250},
           "aarch64": {"ioprio_set": 30, "add_key": 217, "keyctl": 219}}.get(platform.machine())

#: Run at import: every way a worker could change what the zygote passes on to the next worker.
CHANGE_THE_ZYGOTE = f'''
import ctypes, errno, os, resource
NUMBERS = {NUMBERS!r}
zygote = os.getppid()   # the worker is the zygote's child
def attempt(what, act):
    try:
        act()
        print(what, "changed")
    except OSError as exc:
        print(what, "refused", errno.errorcode[exc.errno])
def ioprio_idle():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(NUMBERS["ioprio_set"], 1, zygote, 3 << 13) != 0:   # WHO_PROCESS, class idle
        raise OSError(ctypes.get_errno(), "ioprio_set")
attempt("RLIMIT_AS", lambda: resource.prlimit(zygote, resource.RLIMIT_AS, (64 << 20, 64 << 20)))
attempt("RLIMIT_NPROC", lambda: resource.prlimit(zygote, resource.RLIMIT_NPROC, (1, 1)))
attempt("RLIMIT_CPU", lambda: resource.prlimit(zygote, resource.RLIMIT_CPU, (1, 1)))
attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, zygote, 19))
attempt("nice of the uid", lambda: os.setpriority(os.PRIO_USER, 0, 19))
attempt("affinity", lambda: os.sched_setaffinity(zygote, {{min(os.sched_getaffinity(0))}}))
attempt("SCHED_IDLE", lambda: os.sched_setscheduler(zygote, os.SCHED_IDLE, os.sched_param(0)))
attempt("ioprio", ioprio_idle)
'''

#: What the zygote attacks above use that a worker may do to itself.
ON_ITSELF = '''
import os, resource
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.prlimit(os.getpid(), resource.RLIMIT_FSIZE, resource.getrlimit(resource.RLIMIT_FSIZE))
os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 1)
os.sched_setaffinity(0, os.sched_getaffinity(0))
print("on itself: allowed")
'''

#: Run at import: a memo in System V shared memory, a message queue and the uid's keyring.
MEMO_DEFINITIONS = f'''
import ctypes, errno
NUMBERS = {NUMBERS!r}
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def attempt(what, act):
    if act() < 0:
        print(what, "refused", errno.errorcode[ctypes.get_errno()])
    else:
        print(what, "stored")
def shm():
    segment = libc.shmget(0xC3C3, 4096, 0o1600)   # IPC_CREAT | 0600
    if segment < 0:
        return segment
    address = libc.shmat(segment, None, 0)
    ctypes.memmove(address, b"MEMO", 4)
    return 0
def queue():
    queue = libc.msgget(0xC3C4, 0o1600)
    if queue < 0:
        return queue
    message = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + 4)
    ctypes.c_long.from_buffer(message).value = 1
    message[ctypes.sizeof(ctypes.c_long):] = b"MEMO"
    return libc.msgsnd(queue, message, 4, 0)
'''
LEAVE_A_MEMO = MEMO_DEFINITIONS + '''
attempt("shm", shm)
attempt("queue", queue)
attempt("key", lambda: libc.syscall(NUMBERS["add_key"], b"user", b"ch3-memo", b"MEMO", 4, -4))  # the user keyring
'''

#: Run at import by the next submission (or worker): what it finds of the memo.
FIND_DEFINITIONS = f'''
import ctypes
NUMBERS = {NUMBERS!r}
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def find_memo():
    found = []
    segment = libc.shmget(0xC3C3, 0, 0)
    if segment >= 0:
        found.append("shm " + ctypes.string_at(libc.shmat(segment, None, 0), 4).decode())
    queue = libc.msgget(0xC3C4, 0)
    if queue >= 0:
        message = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + 4)
        if libc.msgrcv(queue, message, 4, 0, 0o4000) >= 0:   # IPC_NOWAIT
            found.append("queue " + message.raw[ctypes.sizeof(ctypes.c_long):].decode())
    if libc.syscall(NUMBERS["keyctl"], 10, -4, b"user", b"ch3-memo", 0) >= 0:   # KEYCTL_SEARCH
        found.append("key")
    return found
'''
FIND_THE_MEMO = FIND_DEFINITIONS + '''
print("memo found:", find_memo(), "objects:", [open(f"/proc/sysvipc/{kind}").read().count("\\n") - 1
                                               for kind in ("shm", "msg", "sem")])
'''


def graded(folder):
    result = grade_path(folder, None, questions=["confusion"], visibilities=("public", "hidden"))
    return result, {q.id: (q.status, q.points) for q in result.questions}


def printed(result) -> str:
    return "\n".join(q.output for q in result.questions)


def attack(tmp_path, name: str, code: str):
    return write_submission(tmp_path / name, files={"confusion.py": code + reference_source("confusion")})


@pytest.fixture
def fresh_scores(tmp_path):
    """The honest submission's scores in a fresh sandbox, and its folder."""
    honest = write_submission(tmp_path / "honest", honest=["confusion"])
    with client.keeping(None):
        return honest, graded(honest)[1]


# ------------------------------------------------------------------ the filter, directly

FILTER_CHECK = textwrap.dedent('''
    import ctypes, errno, os, resource, sys
    import numpy as np, joblib
    from sklearn.linear_model import LogisticRegression
    from autograder.worker import confine
    import pyseccomp
    parent = os.getppid()
    confine.install()
    libc = ctypes.CDLL(None, use_errno=True)
    number = lambda name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    def call(name, *args):
        result = libc.syscall(number(name), *args)
        return errno.errorcode.get(ctypes.get_errno(), "?") if result < 0 else "allowed"
    same = resource.getrlimit(resource.RLIMIT_CORE)
    limits = (ctypes.c_uint64 * 2)(*[(v if v >= 0 else 2**64 - 1) for v in same])
    cpus = (ctypes.c_uint64 * 16)()
    param = ctypes.c_int(0)
    # other processes: the same values they have (no change if the filter failed), or bad pointers
    outcomes = {
        "prlimit64": call("prlimit64", parent, resource.RLIMIT_CORE, limits, None),
        "setpriority": call("setpriority", 0, parent, os.getpriority(os.PRIO_PROCESS, parent)),
        "setpriority user": call("setpriority", 2, 2**31 - 2, 0),   # a uid without processes
        "sched_setaffinity": call("sched_setaffinity", parent, 0, None),
        "sched_setscheduler": call("sched_setscheduler", parent, os.sched_getscheduler(parent), None),
        "sched_setparam": call("sched_setparam", parent, None),
        "sched_setattr": call("sched_setattr", parent, None, 0),
        "ioprio_set": call("ioprio_set", 1, parent, 7 << 13),   # no such class
        "ioprio_set user": call("ioprio_set", 3, 2**31 - 2, 7 << 13),
        **{name: call(name, *args) for name, args in {
            # keys that do not exist, no such keyring, ids that no object has: nothing made if not refused
            "add_key": (b"user", b"memo", b"x", 1, -100), "keyctl": (0, -100, 0),
            "request_key": (b"user", b"ch3-no-such-key", None, 0),
            "shmget": (0x43C30001, 4096, 0), "shmat": (-1, None, 0), "shmdt": (None,), "shmctl": (-1, 2, None),
            "msgget": (0x43C30001, 0), "msgsnd": (-1, None, 0, 0), "msgrcv": (-1, None, 0, 0, 0),
            "msgctl": (-1, 2, None), "semget": (0x43C30001, 1, 0), "semop": (-1, None, 0),
            "semtimedop": (-1, None, 0, None), "semctl": (-1, 0, 2),
            "mq_open": (b"ch3-no-such-queue", 0, 0o600, None), "mq_unlink": (b"ch3-no-such-queue",)}.items()},
    }
    refused = {name for name, outcome in outcomes.items() if outcome == "EPERM"}
    print("not refused:", sorted((name, outcomes[name]) for name in set(outcomes) - refused))
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    resource.prlimit(os.getpid(), resource.RLIMIT_CORE, (0, 0))
    os.sched_setaffinity(0, os.sched_getaffinity(0))
    os.nice(1)
    X = np.random.default_rng(0).normal(size=(200, 5))
    y = (X[:, 0] > 0).astype(int)
    print("fit:", LogisticRegression().fit(X, y).score(X, y))
    print("joblib:", joblib.Parallel(n_jobs=2)(joblib.delayed(pow)(i, 2) for i in range(4)))
''')


def test_the_filter_refuses_each_call_with_eperm_and_lets_honest_work_run():
    done = subprocess.run([sys.executable, "-c", FILTER_CHECK], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "not refused: []" in done.stdout, done.stdout
    assert "joblib: [0, 1, 4, 9]" in done.stdout, done.stdout  # a pool of processes (loky), unless one is refused
    assert float(done.stdout.split("fit: ")[1].split()[0]) > 0.9, done.stdout


def test_every_call_the_filter_names_exists_on_x86_64_and_aarch64():
    """By name, resolved by libseccomp for each architecture: no number written for one of them."""
    import pyseccomp

    names = [*confine.REFUSED, *confine.OTHERS_PID_FIRST, *confine.WHICH_WHO, "prlimit64"]
    for arch in (pyseccomp.Arch.X86_64, pyseccomp.Arch.AARCH64):
        missing = [name for name in names if name != "ipc" and pyseccomp.resolve_syscall(arch, name) < 0]
        assert missing == [], (arch, missing)


def test_the_pid_comparisons_cover_every_value_but_zero_and_its_own():
    import pyseccomp

    me = 1000
    for value in (0, 1, 2, 3, 511, 512, 999, 1000, 1001, 2**31 - 1, 2**64 - 1):
        matched = any(value > a if op == pyseccomp.GT else value & a == b for op, a, b in confine._other_than(me))
        assert matched == (value not in (0, me)), value


# ------------------------------------------------------------------ the kept zygote

@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
def test_changing_the_kept_zygote_is_refused_and_costs_the_next_submission_nothing(kept, tmp_path, fresh_scores):
    honest, fresh = fresh_scores
    graded(honest)
    zygote_sandbox = kept.sandbox
    result, _ = graded(attack(tmp_path, "attack", CHANGE_THE_ZYGOTE + ON_ITSELF))
    seen = printed(result)
    for what in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "nice", "nice of the uid", "affinity", "SCHED_IDLE",
                 "ioprio"):
        assert f"{what} refused EPERM" in seen, seen
    assert "on itself: allowed" in seen, seen
    assert graded(honest)[1] == fresh
    assert kept.sandbox is zygote_sandbox, f"the kept sandbox was replaced: {zygote_sandbox.unclean}"


@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
def test_no_ipc_or_keyring_memo_reaches_the_next_submission(kept, tmp_path, fresh_scores):
    _, fresh = fresh_scores
    result, _ = graded(attack(tmp_path, "attack", LEAVE_A_MEMO))
    zygote_sandbox = kept.sandbox
    seen = printed(result)
    assert all(f"{what} refused EPERM" in seen for what in ("shm", "queue", "key")), seen
    result, scores = graded(attack(tmp_path, "next", FIND_THE_MEMO))
    assert "memo found: [] objects: [0, 0, 0]" in printed(result), printed(result)
    assert scores == fresh and kept.sandbox is zygote_sandbox


# ------------------------------------------------------------------ what the zygote's checks catch

@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
def test_an_unconfined_worker_that_changed_the_zygote_gets_it_replaced(kept, tmp_path, fresh_scores):
    honest, fresh = fresh_scores
    graded(honest)
    changed = kept.sandbox
    changed.confined = False  # as if the filter had failed: the reset's own check must catch it
    result, _ = graded(attack(tmp_path, "attack", CHANGE_THE_ZYGOTE.split("attempt(\"RLIMIT_AS\"")[0]
                              + 'attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, zygote, 19))\n'
                              + 'attempt("SCHED_IDLE", lambda: os.sched_setscheduler(zygote, os.SCHED_IDLE, '
                              + 'os.sched_param(0)))\n'))
    assert "nice changed" in printed(result) and "SCHED_IDLE changed" in printed(result)
    assert kept.sandbox is not changed and changed.dead
    assert "nice" in changed.unclean and "scheduler" in changed.unclean, changed.unclean
    assert graded(honest)[1] == fresh


@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
def test_an_unconfined_workers_ipc_memo_is_removed_before_the_next_submission(kept, tmp_path, fresh_scores):
    honest, fresh = fresh_scores
    graded(honest)
    kept.sandbox.confined = False
    result, _ = graded(attack(tmp_path, "attack", LEAVE_A_MEMO.replace('attempt("key"', '# attempt("key"')))
    assert "shm stored" in printed(result) and "queue stored" in printed(result)
    kept_sandbox = kept.sandbox
    kept.sandbox.confined = False
    result, scores = graded(attack(tmp_path, "next", FIND_THE_MEMO))
    assert "memo found: [] objects: [0, 0, 0]" in printed(result), printed(result)
    assert scores == fresh and kept.sandbox is kept_sandbox  # removed, the zygote unchanged: kept


MEMO_MODULE = MEMO_DEFINITIONS + FIND_DEFINITIONS + '''
def remember():
    return shm()
def recall():
    return find_memo()
'''


@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
@pytest.mark.parametrize("confined", [True, False], ids=["confined", "unconfined"])
def test_a_memo_in_shared_memory_does_not_reach_the_next_fresh_worker_of_a_submission(tmp_path, confined):
    """Titanic's CV folds and spam's splits each get a fresh worker: a memo would defeat that."""
    student = client.Submission(write_submission(tmp_path / "s", files={"memo.py": MEMO_MODULE}))
    student.start_question(LIMITS)
    try:
        memo = student.module("memo")
        assert memo.recall() == []  # a first worker: the sandbox exists
        student._sandbox.confined = confined
        student.restart("memo")
        assert memo.remember() == (0 if not confined else -1)
        student.restart("memo")  # the next fold
        assert memo.recall() == []
    finally:
        student.close()


@pytest.mark.skipif(NUMBERS is None, reason="system call numbers known for x86_64 and aarch64")
def test_a_zygote_changed_within_a_submission_is_replaced_before_the_next_worker(tmp_path):
    source = CHANGE_THE_ZYGOTE.replace("\nattempt(", "\n# attempt(") + '''
def renice_the_zygote():
    attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, zygote, 19))
def my_nice():
    return os.getpriority(os.PRIO_PROCESS, 0)
'''
    student = client.Submission(write_submission(tmp_path / "s", files={"zyg.py": source}))
    student.start_question(LIMITS)
    try:
        module = student.module("zyg")
        before = module.my_nice()
        first = student._sandbox
        first.confined = False
        student.restart("zyg")
        module.renice_the_zygote()
        assert "nice changed" in student.take_output("zyg")
        student.restart("zyg")
        assert module.my_nice() == before  # a fresh sandbox: the changed zygote forked nothing more
        assert student._sandbox is not first and "nice" in first.unclean
    finally:
        student.close()


# ------------------------------------------------------------------ whose failure it is

@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs util-linux's prlimit")
def test_a_worker_that_cannot_get_its_limits_is_the_machines_failure(tmp_path, monkeypatch):
    """A machine whose hard limit is below the question's: never the student's crash."""
    real = sandbox.sandbox_command
    monkeypatch.setattr(sandbox, "sandbox_command", lambda *a, **k: ["prlimit", "--fsize=1048576:1048576", "--",
                                                                     *real(*a, **k)])
    student = client.Submission(write_submission(tmp_path / "s", honest=["confusion"]))
    student.start_question(LIMITS)  # file_mb = 64: more than the hard 1 MB
    try:
        with pytest.raises(client.LimitRefused, match="could not give the worker its limits.*FSIZE|"
                                                      "could not give the worker its limits.*not allowed"):
            student.module("confusion").precision([0, 1], [0, 1])
    finally:
        student.close()
    assert issubclass(client.LimitRefused, client.InfrastructureFailure)


def test_student_code_cannot_pass_its_crash_off_as_the_machines(tmp_path):
    """Exiting with the code a failed set-up uses is still the student's crash."""
    folder = write_submission(tmp_path / "s", files={"quits.py": f"import os\ndef f():\n"
                                                                 f"    os._exit({zygote.SETUP_FAILED})\n"})
    student = client.Submission(folder)
    student.start_question(LIMITS)
    try:
        with pytest.raises(client.SandboxStopped):
            student.module("quits").f()
    finally:
        student.close()


def test_without_the_filter_no_sandbox_is_kept_and_the_note_says_so(kept, tmp_path, monkeypatch):
    monkeypatch.setattr(confine, "why_unavailable", lambda: "libseccomp was not found")
    honest = write_submission(tmp_path / "honest", honest=["confusion"])
    result, scores = graded(honest)
    assert kept.sandbox is None and all(status == "passed" for status, _ in scores.values())
    assert "no seccomp filter (libseccomp was not found)" in result.isolation
    assert "no sandbox is kept" in result.isolation
