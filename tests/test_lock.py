"""The locked grading environment: the lock pins what a grading install brings, results record it,
and every way of building a grading environment installs under it."""

import json
import os
import tomllib

import pytest
from packaging.requirements import Requirement

from autograder import lock
from autograder.build.otter import _config
from autograder.build.gradescope import SETUP_SH
from autograder.build.student import README as BUNDLE_README
from submissions import PROJECT

#: Set where the environment was installed under the lock (CI): every measuring library must match it.
EXPECT_LOCK_ENV = "CH3_EXPECT_LOCK"


def declared_requirements():
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for line in [*project["dependencies"], *(r for group in extras.values() for r in group)]:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            yield requirement


def test_the_lock_pins_every_declared_dependency_within_its_bounds():
    pins = lock.locked_versions()
    assert pins, f"{lock.LOCK_PATH} is missing or empty: run `python scripts/lock.py`"
    missing = [r.name for r in declared_requirements() if lock.canonical(r.name) not in pins]
    assert missing == [], f"not in the lock: {missing}"
    outside = [f"{r.name}=={pins[lock.canonical(r.name)]} (wants {r.specifier})" for r in declared_requirements()
               if not r.specifier.contains(pins[lock.canonical(r.name)], prereleases=True)]
    assert outside == [], outside


def test_lock_record_names_each_measuring_library_installed_off_the_lock(monkeypatch, tmp_path):
    fake = tmp_path / "constraints.txt"
    fake.write_text("# comment\nnumpy==0.0.1\nScikit_Learn==9.9\n")
    monkeypatch.setattr(lock, "LOCK_PATH", fake)
    lock.locked_versions.cache_clear()
    lock.lock_record.cache_clear()
    monkeypatch.setattr(lock, "library_versions", lambda: {"numpy": "0.0.1", "scikit-learn": "1.0", "nltk": "3.9"})
    try:
        record = lock.lock_record()
    finally:
        lock.locked_versions.cache_clear()
        lock.lock_record.cache_clear()
    assert len(record["lock"]) == 16
    assert record["off_lock"] == {"scikit-learn": {"installed": "1.0", "locked": "9.9"},
                                  "nltk": {"installed": "3.9", "locked": "not locked"}}


@pytest.mark.skipif(not os.environ.get(EXPECT_LOCK_ENV), reason=f"{EXPECT_LOCK_ENV} is set where the install "
                    "follows the lock (CI)")
def test_this_environment_follows_the_lock():
    assert lock.lock_record()["off_lock"] == {}


def test_every_grading_install_uses_the_lock():
    assert '-c "$ROOT"/source/dist/constraints.txt' in SETUP_SH          # Gradescope's setup.sh
    assert "-c ./files/dist/constraints.txt" in _config("x.whl")          # Otter's zip requirements
    assert "-c package/autograder/constraints.txt ./package" in BUNDLE_README  # the student bundle
    ci = (PROJECT / ".ci" / "run").read_text()
    assert '-c autograder/constraints.txt -e ".[' in ci
    assert "-c autograder/constraints.txt -e" in (PROJECT / "README.md").read_text()


def test_a_graded_result_records_the_lock(tmp_path):
    from autograder.grading import grade_path

    result = grade_path(PROJECT / "solutions", tmp_path, questions=["confusion"])
    recorded = json.loads((tmp_path / "grading.json").read_text())["environment"]
    assert recorded == lock.lock_record() and recorded["lock"]
    assert result.score == result.max_score > 0
