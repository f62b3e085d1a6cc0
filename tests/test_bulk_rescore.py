"""rescore_result on recorded measurements: bands (absolute and relative), weighted checks, statuses."""

import dataclasses

import pytest

from autograder.judge.rescore import rescore_question, rescore_result
from autograder.judge.scoring import Credit
from autograder.results import GradingResult, QuestionResult
from autograder.spec import Band, Limits, Question

LIMITS = Limits(timeout=60, memory_mb=4096, threads=2, processes=256, file_mb=64, output_kb=64)


def question(qid="ex.metric", points=4.0, band=None, permuted_limit=None):
    return Question(id=qid, title="t", points=points, visibility="hidden", limits=LIMITS,
                    bands={"quick": band} if band else {}, permuted_limit=permuted_limit)


def recorded(q: Question, credit: Credit, status=None) -> QuestionResult:
    """What the plugin stores for a test that passed after recording ``credit``."""
    fraction = credit.value if credit.value is not None else 1.0
    status = status or ("passed" if fraction >= 1 else "partial" if fraction > 0 else "failed")
    return QuestionResult(id=q.id, name=q.name, visibility=q.visibility, points=round(q.points * fraction, 4),
                          max_points=q.points, status=status, feedback="\n".join(credit.lines),
                          measurements=dict(credit.measurements))


def test_relative_band_is_re_resolved_against_the_recorded_reference():
    spec_band = Band(full_at=-0.01, zero_at=-0.05, relative_to="reference")
    q = question(band=spec_band)
    credit = Credit()
    credit.band("accuracy", 0.93, spec_band.resolve(0.95), n=1000, reference=0.95)
    old = recorded(q, credit)
    assert old.points == pytest.approx(4 * 0.75)
    looser = question(band=Band(full_at=-0.02, zero_at=-0.06, relative_to="reference"))
    new = rescore_question(old, looser, "quick")
    assert (new.points, new.status) == (4.0, "passed")
    assert new.measurements["band"]["full_at"] == pytest.approx(0.93)
    assert "full marks at >= 0.9300" in new.feedback and "0.9400" not in new.feedback
    assert old.measurements["band"]["full_at"] == pytest.approx(0.94)  # the input is not changed


def test_points_rescale_and_weighted_checks():
    q = question(points=2.0)
    credit = Credit()
    credit.checks([("a", True), ("b", False), ("c", True), ("d", True)])
    old = recorded(q, credit)
    assert old.points == 1.5
    assert rescore_question(old, dataclasses.replace(q, points=8.0), "quick").points == 6.0
    weighted = dataclasses.replace(old, measurements={"checks": [
        {"name": "a", "passed": True, "weight": 1}, {"name": "b", "passed": False, "weight": 1},
        {"name": "c", "passed": True, "weight": 1}, {"name": "d", "passed": True, "weight": 1}]})
    assert rescore_question(weighted, q, "quick").points == 1.5
    weighted.measurements["checks"][1]["weight"] = 5  # recorded: the failed check weighs 5 of 8
    weighted.points = 0.75
    assert rescore_question(weighted, dataclasses.replace(q, points=8.0), "quick").points == 3.0


@pytest.mark.parametrize("status", ["error", "timeout", "crashed", "import_error", "not_implemented", "grader_error"])
def test_questions_that_ended_badly_stay_at_zero(status):
    q = question(band=Band(0.5, 0.0))
    old = QuestionResult(id=q.id, name=q.name, visibility="hidden", points=0.0, max_points=4.0, status=status,
                         measurements={"band": {"metric": "m", "value": 0.9, "full_at": 0.99, "zero_at": 0.9,
                                                "reference": None, "se": None, "n": None}})
    new = rescore_question(old, q, "quick")
    assert (new.points, new.status) == (0.0, status)


def test_a_failure_after_the_figure_was_recorded_is_kept():
    """The figure would earn points, but the test failed afterwards (e.g. the shuffled-label check)."""
    q = question(band=Band(0.9, 0.8))
    credit = Credit()
    credit.band("accuracy", 0.95, Band(0.9, 0.8))
    old = dataclasses.replace(recorded(q, credit), points=0.0, status="failed")
    new = rescore_question(old, dataclasses.replace(q, points=10.0), "quick")
    assert (new.points, new.status, new.max_points) == (0.0, "failed", 10.0)


def test_recorded_shuffled_label_accuracy_above_a_new_limit_scores_zero():
    q = question(band=Band(0.9, 0.8), permuted_limit=0.5)
    credit = Credit()
    credit.band("accuracy", 0.95, Band(0.9, 0.8))
    credit.measure("shuffled_labels", {"accuracy": 0.4})
    old = recorded(q, credit)
    assert rescore_question(old, q, "quick").points == 4.0
    stricter = dataclasses.replace(q, permuted_limit=0.3)
    assert (rescore_question(old, stricter, "quick").points, rescore_question(old, stricter, "quick").status) == \
        (0.0, "failed")


def test_rescore_result_follows_the_spec_and_drops_undeclared_questions():
    q = question()
    kept = QuestionResult(id=q.id, name="old name", visibility="hidden", points=4.0, max_points=4.0, status="passed")
    gone = dataclasses.replace(kept, id="ex.removed")
    result = GradingResult(submission="s", profile="quick", isolation="strong", questions=[kept, gone])
    new = rescore_result(result, {q.id: dataclasses.replace(q, points=5.0, title="new")})
    assert [(x.id, x.points, x.name) for x in new.questions] == [(q.id, 5.0, "ex: new")]
    assert result.questions[0].points == 4.0


def test_outputs_end_with_the_class_summary_when_that_reporter_exists(tmp_path, monkeypatch):
    """grade-all and rescore call autograder.bulk.summary.write_summary(batch_dir) if it is installed."""
    import importlib.machinery
    import sys
    import types

    from autograder.bulk.batch import write_outputs
    from autograder.bulk.store import BatchStore

    calls = []
    summary = types.ModuleType("autograder.bulk.summary")
    summary.__spec__ = importlib.machinery.ModuleSpec(summary.__name__, None)
    summary.write_summary = lambda batch_dir, **options: calls.append((batch_dir, options))
    monkeypatch.setitem(sys.modules, summary.__name__, summary)
    store = BatchStore(tmp_path)
    write_outputs(store, {"settings": {}, "entries": []})
    # the staff pages come with each student's folder, rendered by the grader processes
    assert calls == [(store.out, {"staff_pages": False})] and (tmp_path / "grades.csv").is_file()


def test_rescore_applies_the_graders_integrity_rules():
    """The same rules as the exercise graders: a shuffled-label figure at the full-marks line, or a
    perturbation drop above a new limit, scores 0."""
    q = dataclasses.replace(question(band=Band(0.9, 0.8), permuted_limit=0.95), perturbed_drop_limit=0.05)
    credit = Credit()
    credit.band("accuracy", 0.95, Band(0.9, 0.8))
    credit.measure("shuffled_labels", {"accuracy": 0.85})
    credit.measure("perturbation", {"drop": 0.03})
    old = recorded(q, credit)
    assert rescore_question(old, q, "quick").points == 4.0
    lower_full_line = dataclasses.replace(q, bands={"quick": Band(0.85, 0.7)})
    assert (rescore_question(old, lower_full_line, "quick").points,
            rescore_question(old, lower_full_line, "quick").status) == (0.0, "failed")
    stricter_drop = dataclasses.replace(q, perturbed_drop_limit=0.02)
    assert rescore_question(old, stricter_drop, "quick").points == 0.0


def test_rescore_follows_changed_check_weights_in_the_spec():
    """Weights edited in questions.toml apply to the recorded checks, as Credit.checks would."""
    from autograder.judge.scoring import Check

    q = dataclasses.replace(question(), weights={"threshold": 2.0, "unreachable": 2.0})
    credit = Credit(q.weights)
    credit.checks([Check("t1", True, group="threshold"), Check("t2", True, group="threshold"),
                   Check("u1", False, group="unreachable")])
    old = recorded(q, credit)
    assert old.points == 2.0
    heavier = dataclasses.replace(q, weights={"threshold": 3.0, "unreachable": 1.0})
    assert rescore_question(old, heavier, "quick").points == 3.0
