"""questions.toml: every question valid, every mistake reported with the field's name."""

import pytest

from autograder.contract import CONTRACT
from autograder.spec import Band, SpecError, load_spec, parse_spec

VALID = {"title": "t", "points": 2, "visibility": "public", "timeout": 5, "memory_mb": 1024, "threads": 1,
         "processes": 64, "file_mb": 8, "output_kb": 16}


def test_shipped_spec_covers_every_module_of_the_contract():
    spec = load_spec()
    assert {q.module for q in spec.values()} == set(CONTRACT)
    for q in spec.values():
        assert q.name.startswith(f"{q.module}: ")
        assert q.bands == {} or set(q.bands) == {"quick", "full"}, f"{q.id} needs a band for both profiles"


@pytest.mark.parametrize("change, message", [
    ({"points": -1}, "The 'points' field of question 'm.q' must be a number > 0. Got -1 instead."),
    ({"visibility": "secret"}, "The 'visibility' field of question 'm.q' must be one of"),
    ({"timeout": "fast"}, "The 'timeout' field"),
    ({"memory_mb": 1.5}, "The 'memory_mb' field of question 'm.q' must be an int"),
    ({"tolerance": {"full": {"full_at": 0.9, "zero_at": 0.95}}}, "zero_at < full_at"),
    ({"tolerance": {"medium": {"full_at": 0.9, "zero_at": 0.8}}}, "keyed by profile"),
    ({"tolerance": {"full": {"full_at": 0.9, "zero_at": 0.8, "relative_to": "median"}}}, "'absolute' or 'reference'"),
    ({"permuted_limit": 3}, "The 'permuted_limit' field"),
    ({"pionts": 3}, "unknown fields ['pionts']"),
])
def test_spec_errors_name_the_field(change, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace(".", r"\.")):
        parse_spec({"questions": {"m.q": {**VALID, **change}}})


def test_question_ids_need_a_module():
    with pytest.raises(SpecError, match="must look like '<module>.<key>'"):
        parse_spec({"questions": {"noperiod": VALID}})


def test_band_credit_is_linear_and_clipped():
    band = Band(full_at=0.97, zero_at=0.96)
    assert band.credit(0.98) == 1 and band.credit(0.95) == 0 and band.credit(float("nan")) == 0
    assert band.credit(0.965) == pytest.approx(0.5)
    relative = Band(full_at=-0.01, zero_at=-0.05, relative_to="reference").resolve(0.9)
    assert (relative.full_at, relative.zero_at) == (pytest.approx(0.89), pytest.approx(0.85))
    with pytest.raises(ValueError, match="relative to the reference"):
        Band(-0.01, -0.05, "reference").resolve(None)
