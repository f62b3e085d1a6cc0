"""The pytest plugin that turns grader tests into scored questions.

A grader test is an ordinary pytest test marked with the question it grades::

    @pytest.mark.question("confusion.hidden_inputs")
    def test_hidden_inputs(submission, credit):
        confusion = submission.module("confusion")   # runs in the sandboxed worker
        ...
        credit.checks(results)                        # partial credit, with feedback

Points, visibility, limits and tolerance come from ``questions.toml`` through
the ``question`` and ``band`` fixtures, never from the test.  The plugin checks
every mark at collection (a typo is an error, a hidden question must live in
``graders/hidden``), turns each outcome into a :class:`QuestionResult` in a
``makereport`` wrapper, and at the end reports every declared question in scope,
including those that never ran (0 points, with the reason).

Used by :mod:`autograder.grading`; instructors can also run it directly::

    pytest -p autograder.plugin autograder/graders --submission solutions --profile quick
"""

from __future__ import annotations

import functools
import time
import traceback
from pathlib import Path
from collections.abc import Mapping
from typing import Callable

import pytest

from autograder import policy
from autograder.judge.client import InfrastructureFailure, LimitRefused, StudentCodeError, Submission
from autograder.judge.datasets import GradingData
from autograder.judge.limits import question_limits
from autograder.judge.reference import ReferenceCache
from autograder.judge.scoring import Credit
from autograder.judge.validate import InvalidOutput
from autograder.messages import bounded
from autograder.results import GradingResult, QuestionResult
from autograder.spec import PROFILES, VISIBILITIES, Limits, Question, load_spec, select, unknown
from autograder.worker.sandbox import LimitUnavailable, check_memory

QUESTION_MARK = "question"


class GradingPlugin:
    """Holds one grading run's state: the submission, the data, the results."""

    def __init__(self, submission_dir: Path, *, profile: str = "quick", visibilities=VISIBILITIES,
                 questions=(), data_dir=None, isolation: str | None = None,
                 limits: dict | None = None, on_result: Callable[[QuestionResult], None] | None = None,
                 spec: Mapping[str, Question] | None = None):
        """``spec``: the questions graded, ``{question id: Question}``; default :func:`load_spec`'s."""
        if profile not in PROFILES:
            raise ValueError(f"The 'profile' parameter must be one of {PROFILES}. Got {profile!r} instead.")
        self.spec = dict(spec) if spec is not None else load_spec()
        wrong = unknown(self.spec, questions)
        if wrong:
            raise ValueError(f"Unknown question(s) {wrong}; see `python -m autograder questions`.")
        self.profile_name = profile
        self.limit_overrides = dict(limits or {})  # e.g. {"timeout": 5}: one cap for every question
        unknown_limits = set(self.limit_overrides) - set(Limits.__dataclass_fields__)
        if unknown_limits:
            raise ValueError(f"Unknown limit(s) {sorted(unknown_limits)}; known: {sorted(Limits.__dataclass_fields__)}.")
        self.in_scope = [q.id for q in select(self.spec, visibilities, questions)]
        self.student = Submission(submission_dir, isolation=isolation,
                                  modules={self.spec[qid].module for qid in self.in_scope})
        self.datasets = GradingData(profile, data_dir)
        self.shared: dict = {}
        self.on_result = on_result
        self.results: dict[str, QuestionResult] = {}
        self.grader_errors: list[str] = []
        self.time_limits: dict[str, dict] = {}  # question -> the call limit it ran under, its slowest call
        self.started = time.perf_counter()

    # ------------------------------------------------------------ collection
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "question(id): the question in questions.toml that this test grades")

    def pytest_collection_modifyitems(self, session, config, items):
        selected, deselected, seen = [], [], set()
        for item in items:
            marks = list(item.iter_markers(QUESTION_MARK))
            if len(marks) != 1 or len(marks[0].args) != 1:
                raise pytest.UsageError(f"{item.nodeid}: a grader test needs exactly one "
                                        f"@pytest.mark.question('<module>.<key>') mark")
            qid = marks[0].args[0]
            if qid not in self.spec:
                raise pytest.UsageError(f"{item.nodeid}: question {qid!r} is not declared in questions.toml")
            folder = Path(str(item.path)).parent.name
            if folder in VISIBILITIES and folder != self.spec[qid].visibility:
                raise pytest.UsageError(f"{item.nodeid}: question {qid!r} is {self.spec[qid].visibility} "
                                        f"in questions.toml but its test lives in graders/{folder}/")
            if qid in seen:
                raise pytest.UsageError(f"{item.nodeid}: question {qid!r} has more than one test")
            seen.add(qid)
            item.stash[_QID] = qid
            (selected if qid in self.in_scope else deselected).append(item)
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = selected

    def pytest_collectreport(self, report):
        if report.failed:
            self.grader_errors.append(f"could not collect {report.nodeid}: {report.longreprtext[-2000:]}")

    # -------------------------------------------------------------- fixtures
    @pytest.fixture
    def question(self, request):
        q = self.spec[request.node.stash[_QID]]
        self.student.start_question(question_limits(q.id, self.profile_name, q.limits, self.limit_overrides),
                                    from_scratch=q.from_scratch)
        try:
            check_memory(self.student.limits)
        except LimitUnavailable as exc:  # the machine's limit, not the student's: regraded, never scored
            raise LimitRefused(str(exc)) from None
        return q

    @pytest.fixture
    def submission(self, question) -> Submission:
        from autograder.graders.common import source_size_problem

        problem = source_size_problem(self.student.directory, question, {q.module for q in self.spec.values()})
        if problem:  # checked before any student code of the module runs
            raise InvalidOutput(problem)
        return self.student

    @pytest.fixture
    def credit(self, question) -> Credit:
        return Credit(weights=question.weights)

    @pytest.fixture
    def profile(self) -> str:
        return self.profile_name

    @pytest.fixture
    def band(self, question, profile):
        return question.band(profile)

    @pytest.fixture
    def data(self) -> GradingData:
        return self.datasets

    @functools.cached_property
    def references(self) -> ReferenceCache:
        """The reference figures, read when a grader first asks (scikit-learn's version names them)."""
        return ReferenceCache(self.profile_name)

    @pytest.fixture
    def reference(self) -> ReferenceCache:
        return self.references

    @pytest.fixture
    def memo(self) -> dict:
        """Shared across a run: e.g. the spam predictions that precision and recall both score."""
        return self.shared

    # -------------------------------------------------------------- outcomes
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        qid = item.stash.get(_QID, None)
        if qid is None or qid in self.results:
            return report
        if report.when == "call" or (report.when == "setup" and not report.passed):
            result = self._result(qid, item, call, report)
            if self.student.limits is not None:
                self.time_limits[qid] = {"limit_s": round(self.student.limits.call_timeout, 3),
                                         "slowest_call_s": round(self.student.slowest_call, 4)}
            self.results[qid] = result
            if self.on_result:
                self.on_result(result)
        return report

    def _result(self, qid, item, call, report) -> QuestionResult:
        """The question's typed outcome, scored by the one policy step (``autograder.policy``)."""
        q = self.spec[qid]
        credit: Credit | None = item.funcargs.get("credit")
        lines = list(credit.lines) if credit else []
        measurements = dict(credit.measurements) if credit else {}
        outcome = policy.MEASURED
        error = call.excinfo.value if call.excinfo and not report.passed else None
        if report.skipped:
            status, fraction, outcome = "not_run", 0.0, policy.STUDENT
            lines.append(f"skipped: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr}")
        elif report.passed:
            fraction = credit.value if credit and credit.value is not None else 1.0
            status = policy.status_for(fraction)
            if status == "failed" and credit and credit.status:  # the grader named how it failed
                status = credit.status
            scored = policy.score(measurements, q, self.profile_name)
            if scored is not None:  # the measurements decide, as on every rescore
                fraction = scored.fraction
                status = credit.status if fraction <= 0 and credit and credit.status else scored.status
        elif isinstance(error, StudentCodeError):
            status, fraction, outcome = error.status, 0.0, policy.STUDENT
            lines.append(bounded(str(error)))
        elif isinstance(error, (InvalidOutput, AssertionError)):
            status, fraction = "failed", 0.0
            message = _assertion_message(error, q.title)
            lines.insert(0, message)
            scored = policy.score(measurements, q, self.profile_name)
            if scored is not None and scored.integrity:
                # the integrity verdict is the policy's: recorded so that rescoring can reverse it
                measurements["integrity_note"] = message
            else:
                outcome = policy.STUDENT
        else:
            status, fraction, outcome = "grader_error", 0.0, policy.INFRASTRUCTURE
            kind = "infrastructure" if isinstance(error, InfrastructureFailure) else "grader error"
            text = "".join(traceback.format_exception(error)) if error else str(report.longrepr)
            lines.append("The grader itself failed on this question; it is not your fault. "
                         "Your instructor has the details.")
            self.grader_errors.append(f"{qid}: {kind}: {text[-3000:]}")
        return QuestionResult(
            id=qid, name=q.name, visibility=q.visibility, points=policy.bounded_points(q.points * fraction, q.points),
            max_points=q.points, status=status, feedback="\n".join(lines), hint=q.hint,
            output=self.student.take_output(q.module), seconds=round(report.duration, 3),
            measurements=measurements, outcome=outcome, evidence=dict(getattr(error, "evidence", None) or {}),
        )

    # ----------------------------------------------------------------- finish
    def pytest_sessionfinish(self, session):
        self.student.close()

    def result(self, submission_name: str) -> GradingResult:
        """Every question in scope, in spec order; those that never ran score 0 with the reason."""
        questions = []
        for qid in self.in_scope:
            if qid in self.results:
                questions.append(self.results[qid])
                continue
            q = self.spec[qid]
            reason = "no grader test ran for this question"
            if self.grader_errors:
                reason += " (the grader could not collect its tests: see grader errors)"
            # a question that never ran says nothing about the student: the grader failed to run it
            self.grader_errors.append(f"{qid}: infrastructure: {reason}")
            questions.append(QuestionResult(id=qid, name=q.name, visibility=q.visibility, points=0.0,
                                            max_points=q.points, status="not_run", feedback=reason, hint=q.hint,
                                            outcome=policy.INFRASTRUCTURE))
        return GradingResult(submission=submission_name, profile=self.profile_name,
                             isolation=self.student.isolation_note, questions=questions,
                             seconds=round(time.perf_counter() - self.started, 2),
                             grader_errors=list(self.grader_errors), time_limits=dict(self.time_limits))


_QID = pytest.StashKey[str]()


def _assertion_message(error: AssertionError, title: str) -> str:
    """The grader's own words for a failed check, never pytest's rendering of the assert.

    pytest's assertion rewriting appends ``"\nassert <repr of both sides>"`` to the
    grader's message (truncated, "Use -v to get more diff"); a bare ``assert`` has
    nothing else. Grader tests give every assert a message (a test checks that).
    """
    text = str(error)
    if not isinstance(error, InvalidOutput):
        text = "" if text.startswith("assert ") else text.split("\nassert ", 1)[0]
    return bounded(text.strip()) or f"a check of '{title}' failed"


# ----------------------------------------------- running as `pytest -p autograder.plugin`

def pytest_addoption(parser):
    group = parser.getgroup("ch3-grader", "grade a submission with the chapter 3 graders")
    group.addoption("--submission", help="folder of the student's module files")
    group.addoption("--profile", default="quick", choices=PROFILES, help="data profile (default: quick)")


def pytest_configure(config):
    config.addinivalue_line("markers", "question(id): the question in questions.toml that this test grades")
    directory = config.getoption("--submission", None)
    if directory and not config.pluginmanager.has_plugin("ch3-grading"):
        plugin = GradingPlugin(Path(directory), profile=config.getoption("--profile"))  # the same view as `grade`
        config.pluginmanager.register(plugin, "ch3-grading")
