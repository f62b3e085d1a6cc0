"""grade-all's long runs: a batch killed half-way and resumed, a Dask cluster, every question.

Each compares against the one-submission pipeline (``grading.grade``) or the local path:
the totals must be identical.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from autograder.bulk.batch import grade_all
from autograder.grading import grade_path
from autograder.spec import load_spec
from class_fixture import build_class

pytestmark = pytest.mark.slow

QUESTIONS = ("confusion",)
TIMEOUT = 6
SMALL_CLASS = ("correct_1", "correct_2", "partial_precision", "partial_stub", "syntax_error", "prints_megabytes",
               "empty_folder")


def small_class(root, keys=SMALL_CLASS):
    build_class(root / "all", "folder")
    classroom = root / "class"
    classroom.mkdir()
    for key in keys:
        shutil.move(root / "all" / key, classroom / key)
    shutil.rmtree(root / "all")
    return classroom


def one_by_one(classroom, keys):
    return {key: grade_path(classroom / key, questions=QUESTIONS, limits={"timeout": TIMEOUT}).score for key in keys}


def graded_files(out):
    return sorted(p.parent.name for p in (out / "students").glob("*/grading.json"))


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_results(out, at_least, process, limit=300):
    deadline = time.monotonic() + limit
    while len(graded_files(out)) < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no results came"
        time.sleep(0.2)


def test_a_killed_batch_keeps_its_results_and_resumes_to_the_same_totals(tmp_path):
    classroom = small_class(tmp_path)
    out = tmp_path / "out"
    gradable = [k for k in SMALL_CLASS if k != "empty_folder"]

    # 1. SIGTERM (as Ctrl-C) after the first result: exit 130, the finished result listed.
    first = start(classroom, "--out", out, "-q", "confusion", "--timeout", TIMEOUT, "--workers", 1, "--quiet")
    wait_for_results(out, 1, first)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert "--resume" in stderr
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["complete"] is False
    listed = {e["id"] for e in manifest["entries"] if e["status"] == "graded"}
    assert listed and listed <= set(graded_files(out))

    # 2. --resume, then a power cut (SIGKILL to the whole process group) after one more result.
    finished_before = len(graded_files(out))
    second = start("--resume", "--out", out, "--workers", 1, "--quiet")
    wait_for_results(out, finished_before + 1, second)
    os.killpg(second.pid, signal.SIGKILL)
    second.communicate(timeout=60)
    survived = graded_files(out)
    for key in survived:  # every finished result is whole
        assert json.loads((out / "students" / key / "grading.json").read_text())["questions"]

    # 3. --resume grades only what is missing.
    third = start("--resume", "--out", out, "--quiet")
    _, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stderr
    to_grade = int(stderr.split(" to grade")[0].rsplit(" ", 1)[1])
    assert to_grade == len(gradable) - len(survived)
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["complete"] is True and not list((out / "students").glob(".*.tmp"))
    scores = {e["id"]: e["score"] for e in manifest["entries"] if e["status"] == "graded"}
    assert scores == one_by_one(classroom, gradable)


def test_dask_cluster_gives_the_same_totals_as_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    classroom = small_class(tmp_path, ("correct_1", "partial_precision", "syntax_error", "empty_folder"))
    local = grade_all(classroom, tmp_path / "local", workers=2, questions=QUESTIONS, timeout=TIMEOUT)
    local_totals = {e["id"]: (e["status"], e["score"]) for e in local.entries}

    def cli(out, *extra):
        done = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(classroom), "--out", str(out),
                               "-q", "confusion", "--timeout", str(TIMEOUT), "--scheduler", cluster.scheduler_address,
                               "--quiet", *map(str, extra)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads((out / "batch.json").read_text())

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cli(tmp_path / "dask")
        shared = cli(tmp_path / "shared", "--shared-dir", tmp_path / "exchange")  # files through a shared folder
    dask_manifest = json.loads((tmp_path / "dask" / "batch.json").read_text())
    assert {e["id"]: (e["status"], e["score"]) for e in dask_manifest["entries"]} == local_totals
    assert {e["id"]: (e["status"], e["score"]) for e in shared["entries"]} == local_totals
    assert len(list((tmp_path / "exchange" / "submissions").iterdir())) == 3
    log = (tmp_path / "dask" / "students" / "correct_1" / "log.txt").read_text()
    assert log.startswith("graded on ")


def test_every_question_for_a_handful_of_submissions(tmp_path):
    classroom = small_class(tmp_path, ("correct_1", "partial_stub", "empty_folder"))
    outcome = grade_all(classroom, tmp_path / "out", workers=2)
    spec = load_spec()
    total = sum(q.points for q in spec.values())
    stubbed = sum(q.points for q in spec.values() if q.module in ("confusion", "roc"))
    scores = {e["id"]: e["score"] for e in outcome.entries}
    assert scores == {"correct_1": total, "partial_stub": total - stubbed, "empty_folder": None}
    assert all(len(r.questions) == len(spec) for r in outcome.results.values())
    assert (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8-sig").count("\n") == 4
