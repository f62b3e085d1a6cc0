"""A grader process keeps one sandbox from submission to submission (its zygote's imports paid
once): the next submission must find nothing of the last one, and grade as in a fresh sandbox."""

from __future__ import annotations

import os

import pytest

from autograder.grading import grade_path
from autograder.judge import client
from autograder.worker import sandbox
from submissions import reference_source, write_submission

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="only the bubblewrap sandbox is kept")

#: Run at import by the first submission: what it leaves behind, and what it tries on the zygote.
LEAVE_BEHIND = '''
import os, signal, time
with open("/tmp/left-behind", "w") as fh:
    fh.write("the first student's secret")
if os.fork() == 0:          # a daemon in a session of its own
    os.setsid()
    time.sleep(600)
    os._exit(0)
try:
    open(f"/proc/{os.getppid()}/mem", "r+b")
    print("zygote memory: opened")
except OSError as exc:
    print("zygote memory: refused", type(exc).__name__)
'''

STOP_THE_ZYGOTE = '''
import os, signal
os.kill(os.getppid(), signal.SIGSTOP)
'''

KILL_THE_ZYGOTE = '''
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
'''

#: Run at import by the next submission: what it can see of the first one.
LOOK_AROUND = '''
import os
mine, zygote = os.getsid(0), os.getsid(os.getppid())
others = []
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != 1:
        try:
            if os.getsid(int(entry)) not in (mine, zygote):
                others.append(entry)
        except OSError:
            pass
print("left behind:", os.path.exists("/tmp/left-behind"))
print("other processes:", len(others))
print("submission files:", sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))))
'''


def graded(folder, **options):
    result = grade_path(folder, None, questions=["confusion"], visibilities=("public", "hidden"), **options)
    return result, {q.id: (q.status, q.points) for q in result.questions}


def printed(result) -> str:
    return "\n".join(q.output for q in result.questions)


def test_the_next_submission_finds_nothing_of_the_last(kept, tmp_path):
    first = write_submission(tmp_path / "first", files={"confusion.py": LEAVE_BEHIND + reference_source("confusion"),
                                                        "notes_of_first.py": "SECRET = 1\n"})
    result, _ = graded(first)
    assert "zygote memory: refused" in printed(result)
    zygote = kept.sandbox
    nxt = write_submission(tmp_path / "next", files={"confusion.py": LOOK_AROUND + reference_source("confusion")})
    result, scores = graded(nxt)
    assert kept.sandbox is zygote, "the sandbox was not kept: this test would prove nothing"
    seen = printed(result)
    assert "left behind: False" in seen and "other processes: 0" in seen, seen
    assert "submission files: ['confusion.py']" in seen, seen
    assert all(status == "passed" for status, _ in scores.values()), scores


@pytest.mark.parametrize("attack", [STOP_THE_ZYGOTE, KILL_THE_ZYGOTE], ids=["stops", "kills"])
def test_a_submission_that_stops_or_kills_the_zygote_costs_the_next_one_nothing(kept, tmp_path, attack):
    honest = write_submission(tmp_path / "honest", honest=["confusion"])
    _, fresh = graded(honest)  # kept: every grading here goes through it
    graded(write_submission(tmp_path / "attack", files={"confusion.py": attack + reference_source("confusion")}))
    _, after = graded(honest)
    assert after == fresh
    kept_again = kept.sandbox
    graded(honest)
    assert kept.sandbox is kept_again is not None and not kept.busy  # keeping resumed after the attack


def test_a_second_submission_while_the_first_holds_the_kept_sandbox_gets_its_own(kept, tmp_path):
    from autograder.spec import load_spec

    first = client.Submission(write_submission(tmp_path / "first", honest=["confusion"],
                                               files={"notes_of_first.py": "SECRET = 1\n"}))
    second = client.Submission(write_submission(tmp_path / "second", files={"confusion.py": LOOK_AROUND}))
    for submission in (first, second):
        submission.start_question(load_spec()["confusion.public_example"].limits)
    try:
        assert first.module("confusion").precision([0, 1, 1], [0, 1, 0]) == 1.0
        second._worker("confusion")  # its worker imports the module, which prints what it sees
        assert "submission files: ['confusion.py']" in second.take_output("confusion")
        assert first._sandbox is kept.sandbox and second._sandbox is not kept.sandbox
        if kept.uid is not None:  # a uid of its own: neither student's processes can signal the other's
            assert second._uid is not None and second._uid.uid != kept.uid.uid
    finally:
        second.close()
        first.close()
    assert not kept.busy


def test_a_kept_sandbox_grades_as_a_fresh_one(kept, tmp_path):
    folders = [write_submission(tmp_path / "ref", honest=["confusion"]),
               write_submission(tmp_path / "stub", files={"confusion.py": "def precision(y_true, y_pred):\n"
                                                                          "    raise NotImplementedError\n"})]
    kept_scores = [graded(folder)[1] for folder in folders + folders]
    with client.keeping(None):
        fresh_scores = [graded(folder)[1] for folder in folders]
    assert kept_scores == fresh_scores + fresh_scores


def test_the_folder_of_a_grader_process_killed_outright_is_removed_by_the_next(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{client.KEPT_PREFIX}{int(gone.stdout)}-x1y2"
    (stale / "submission").mkdir(parents=True)
    (stale / "submission" / "confusion.py").write_text("SECRET = 1\n")
    alive = tmp_path / f"{client.KEPT_PREFIX}{os.getpid()}-a1b2"
    alive.mkdir()
    keeper = client.KeptSandbox()
    try:
        assert not stale.exists() and alive.is_dir() and keeper.home.is_dir()
    finally:
        keeper.close()
    assert not keeper.home.exists()
