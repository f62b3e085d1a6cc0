"""No legitimate solution is cut by the per-call time limits (autograder/judge/limits.py).

The reference (``solutions/``) and every legitimate fixture of ``tests/fixtures/fairness/``
(the learners' other styles: numpy loops, the book's models, boosting, PCA + KNN, baselines)
are graded with the shipped limits; no question may time out, and where the limit was derived
from the reference's cost (below the question's ceiling), every call must have finished within
half of it, so that a machine twice as slow still grades them in full.
"""

import shutil

import pytest

from autograder.grading import grade_path
from autograder.spec import load_spec
from submissions import PROJECT

FIXTURES = PROJECT / "tests" / "fixtures" / "fairness"
#: Hostile fixtures are built to be caught, not to be fast.
LEGITIMATE = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and "hostile" not in p.name)
MARGIN = 2.0
SPEC = load_spec()

pytestmark = pytest.mark.slow


def submission_with(tmp_path, fixture: str):
    """The reference with the fixture's modules in place of the reference's."""
    folder = tmp_path / fixture
    shutil.copytree(PROJECT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for module in (FIXTURES / fixture).glob("*.py"):
        shutil.copy(module, folder / module.name)
    return folder, tuple(sorted(p.stem for p in (FIXTURES / fixture).glob("*.py")))


def assert_not_cut(result):
    for q in result.questions:
        assert q.status != "timeout", (q.id, q.feedback)
        limit = result.time_limits[q.id]
        if limit["limit_s"] < SPEC[q.id].limits.timeout:
            assert limit["slowest_call_s"] * MARGIN <= limit["limit_s"], (q.id, limit)


def test_the_reference_is_not_cut_on_the_quick_profile():
    assert_not_cut(grade_path(PROJECT / "solutions", profile="quick"))


@pytest.mark.parametrize("fixture", LEGITIMATE)
def test_no_legitimate_fixture_is_cut_on_the_quick_profile(tmp_path, fixture):
    folder, modules = submission_with(tmp_path, fixture)
    assert_not_cut(grade_path(folder, profile="quick", questions=modules))


@pytest.mark.full_data
def test_the_reference_is_not_cut_on_the_full_profile(data_dir):
    assert_not_cut(grade_path(PROJECT / "solutions", profile="full", data_dir=data_dir))


@pytest.mark.full_data
@pytest.mark.parametrize("fixture", LEGITIMATE)
def test_no_legitimate_fixture_is_cut_on_the_full_profile(tmp_path, fixture, data_dir):
    folder, modules = submission_with(tmp_path, fixture)
    assert_not_cut(grade_path(folder, profile="full", questions=modules, data_dir=data_dir))
