"""GradingOptions: validated once, with errors that name the parameter; JSON both ways; one isolation rule."""

import json

import pytest

from autograder.intake import PreparedSubmission
from autograder.options import GradingOptions, Isolation, isolation_mode


def test_options_round_trip_through_json_exactly():
    options = GradingOptions(profile="full", questions=("confusion", "roc.points"), visibilities=("public",),
                             limits={"timeout": 5, "memory_mb": 2000}, data_dir="/data",
                             isolation=Isolation.OWN_CODE)
    again = GradingOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options and again.isolation is Isolation.OWN_CODE
    assert dict(again.limits) == {"memory_mb": 2000, "timeout": 5}


@pytest.mark.parametrize("given, named", [
    ({"profile": "fast"}, "'profile' parameter must be one of ('quick', 'full')"),
    ({"questions": ("confusion", "no_such_module")}, "Unknown question(s) ['no_such_module']"),
    ({"questions": "confusion"}, "'questions' parameter must be a sequence of str"),
    ({"visibilities": ("secret",)}, "'visibilities' parameter must be a non-empty subset"),
    ({"limits": {"timeout": -1}}, "'limits' parameter must be numbers > 0"),
    ({"limits": {"threads": 1.5}}, "'limits' parameter must be numbers > 0"),
    ({"limits": {"call_timeout": 3}}, "'limits' parameter must be numbers > 0"),
    ({"isolation": "none"}, "'isolation' parameter must be one of"),
])
def test_a_bad_option_is_refused_naming_the_parameter_and_what_was_expected(given, named):
    with pytest.raises(ValueError) as raised:
        GradingOptions(**given)
    assert named in str(raised.value), str(raised.value)


def test_unknown_keys_from_another_version_are_refused():
    with pytest.raises(ValueError, match=r"Unknown grading option\(s\) \['colour'\]"):
        GradingOptions.from_dict({"profile": "quick", "colour": "red"})


def test_the_isolation_policy_becomes_a_mode_in_one_place(monkeypatch):
    import autograder.worker.sandbox as sandbox

    monkeypatch.delenv(sandbox.ISOLATION_ENV, raising=False)
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: sandbox.BwrapProbe(None))  # no bwrap starts here
    assert isolation_mode(Isolation.OWN_CODE) == sandbox.OWN_CODE
    assert isolation_mode(Isolation.CONTAINER) == sandbox.CONTAINER
    assert isolation_mode(Isolation.ALLOW_WEAK) == sandbox.OPTED_IN
    with pytest.raises(sandbox.SandboxUnavailable):
        isolation_mode(Isolation.STRICT)
    works = sandbox.BwrapProbe(sandbox.Bwrap("/usr/bin/bwrap", "system", "0.11"))
    monkeypatch.setattr(sandbox, "probe_bwrap", lambda: works)
    assert {isolation_mode(policy) for policy in Isolation} == {sandbox.STRONG}


def test_a_prepared_submission_crosses_processes_whole_and_refuses_paths():
    prepared = PreparedSubmission({"roc.py": b"x = 1\n", "confusion.py": b"\xff\x00"}, notes=("skipped a link",),
                                  line_map={"modules": {}}, data_flags=({"file": "roc.py"},))
    again = PreparedSubmission.from_dict(json.loads(json.dumps(prepared.to_dict())))
    assert again == prepared and list(again.files) == ["confusion.py", "roc.py"]
    assert again.without_files().files == {} and again.without_files().notes == prepared.notes
    with pytest.raises(ValueError, match="plain file names"):
        PreparedSubmission({"../roc.py": b""})
