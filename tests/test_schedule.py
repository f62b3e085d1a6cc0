"""Local grader processes: a crash takes down only its own submission; work is ordered and split.

The crash tests swap the grading function for one that kills its grader process on one job
(as an out-of-memory kill would), so they run in seconds without grading anything.
"""

import os

import pytest

from autograder.bulk import runner, schedule

LETHAL = "bad"


def lethal_or_echo(payload, options, label):
    """Kill the grader process on the lethal job; echo every other job (a reply without a result)."""
    if label == LETHAL:
        os._exit(9)
    return {"result": None, "error": f"echo {label}", "log": "", "host": f"pid {os.getpid()}", "reports": None}


def run_jobs(keys, monkeypatch, workers=1, **kwargs):
    monkeypatch.setattr(runner, "grade_job", lethal_or_echo)  # pickled by name: the grader processes use it too
    jobs = [(key, {}, key) for key in keys]
    return dict(runner.run_local(jobs, {"out_dir": None, "profile": "quick", "questions": ["confusion"]},
                                 workers=workers, threads=1, **kwargs))


@pytest.mark.slow  # starts four grader processes
def test_a_lethal_submission_fails_only_itself(monkeypatch):
    replies = run_jobs(["a", LETHAL, "c", "d", "e"], monkeypatch)
    assert set(replies) == {"a", LETHAL, "c", "d", "e"}
    for key in ("a", "c", "d", "e"):
        assert replies[key]["error"] == f"echo {key}", replies[key]
    assert "grader process died" in replies[LETHAL]["error"]
    assert "alone in a fresh process" in replies[LETHAL]["error"]


@pytest.mark.slow
def test_a_lethal_submission_among_several_processes_fails_only_itself(monkeypatch):
    replies = run_jobs([LETHAL, "b", "c", "d", "e", "f"], monkeypatch, workers=2)
    assert [key for key, reply in replies.items() if "died" in (reply["error"] or "")] == [LETHAL]
    assert len(replies) == 6


def test_the_runner_uses_no_private_api_of_concurrent_futures():
    source = open(runner.__file__).read()
    assert "_processes" not in source and "._pool" not in source


# ------------------------------------------------------------------------- schedule

def test_plan_splits_by_module_and_puts_the_longest_first():
    history = {"slow": {"confusion": 40.0}, "quick": {"confusion": 1.0, "roc": 0.5}}
    jobs = [("q", {}, "quick"), ("s", {}, "slow")]
    parts = schedule.plan(jobs, {"questions": ["confusion", "roc.points"]}, history)
    assert [(p.job_id, p.module) for p in parts][0] == ("s", "confusion")
    assert {p.module for p in parts} == {"confusion", "roc"}
    assert [p.expected for p in parts] == sorted((p.expected for p in parts), reverse=True)
    confusion = next(p for p in parts if p.module == "confusion")
    assert all(q.startswith("confusion.") for q in confusion.questions)
    assert next(p for p in parts if p.module == "roc").questions == ("roc.points",)


def test_unmeasured_work_is_ordered_by_the_reference_cost():
    costs = {"confusion.hidden_inputs": {"seconds": 0.1}, "roc.points": {"seconds": 9.0}}
    parts = schedule.plan([("a", {}, "a")], {"questions": ["confusion.hidden_inputs", "roc.points"]}, {}, costs)
    assert [p.module for p in parts] == ["roc", "confusion"]


def test_merge_gives_questions_in_spec_order_and_keeps_errors():
    def reply(*ids, seconds=1.0, notes=("skipped x.txt",)):
        questions = [{"id": qid, "name": qid, "visibility": "hidden", "points": 1.0, "max_points": 1.0,
                      "status": "passed"} for qid in ids]
        return {"result": {"submission": "s", "profile": "quick", "isolation": "i", "questions": questions,
                           "seconds": seconds, "grader_errors": [], "notes": list(notes), "time_limits": {}},
                "error": None, "log": f"{ids}\n", "host": "h", "reports": {}}

    merged = schedule.merge([reply("roc.points"), reply("confusion.public_example", "confusion.validation")])
    result = merged["result"]
    assert [q["id"] for q in result["questions"]] == ["confusion.public_example", "confusion.validation",
                                                      "roc.points"]
    assert result["notes"] == ["skipped x.txt"] and result["seconds"] == 2.0
    assert merged["reports"] is None
    failed = schedule.merge([reply("roc.points"), {"result": None, "error": "could not grade", "log": ""}])
    assert failed["result"] is None and failed["error"] == "could not grade"


def test_history_survives_a_round_trip(tmp_path):
    part = schedule.Part("a", {}, "alice", ("confusion.validation",), "confusion", 1.0)
    history = {}
    schedule.record(history, part, {"result": {"seconds": 3.25}})
    schedule.write_history(tmp_path, history)
    assert schedule.read_history(tmp_path) == {"alice": {"confusion": 3.25}}
    (tmp_path / schedule.COSTS_FILE).write_text("{ not json")
    assert schedule.read_history(tmp_path) == {}
