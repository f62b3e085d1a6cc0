"""The result model: one QuestionResult per declared question, JSON-able, written once per run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: status -> symbol for tables; every status a question can end in.
STATUSES = {
    "passed": "✓", "partial": "~", "failed": "✗", "not_implemented": "✗", "error": "✗",
    "import_error": "✗", "timeout": "⏱", "crashed": "✗", "not_run": "-", "grader_error": "!",
    "withheld": "?",  # a student's view before the deadline (autograder.disclosure)
    "held": "…",  # pending a person's review: neither earned nor lost yet (autograder.policy.review)
}


def percent(score: float, max_score: float, places: int | None = 2) -> float:
    """``score`` as a percent of ``max_score`` (0.0 where there is nothing to score), rounded to
    ``places`` decimals (None: not rounded). Records and exports keep two; the class page shows one."""
    if not max_score:
        return 0.0
    value = 100 * score / max_score
    return value if places is None else round(value, places)


class CannotGrade(RuntimeError):
    """The grader could not grade at all (a missing submission, a broken zip, a grader bug)."""


@dataclass
class QuestionResult:
    id: str
    name: str
    visibility: str
    points: float
    max_points: float
    status: str
    feedback: str = ""
    hint: str = ""
    output: str = ""            # what the student's code printed (capped)
    seconds: float = 0.0
    #: What the grader measured (plain JSON: "band", "checks", ...): see ``Credit.measurements``.
    measurements: dict = field(default_factory=dict)
    #: "measured" (the points follow from ``measurements`` by ``autograder.policy.score``), "student"
    #: (the student's code failed: it raised, timed out, did not import) or "infrastructure" (the
    #: grader or the machine failed: not the student's, never cached, regraded). Empty in results
    #: written before outcomes were recorded.
    outcome: str = ""
    #: How the student's code was stopped, when it was (a timeout, a death): CPU and wall seconds
    #: against the limits, the signal, whether the sandbox died too, the machine's load average and
    #: pressure, the OOM killer's counters. Evidence for a person; the outcome above is decided from it.
    evidence: dict = field(default_factory=dict)

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class GradingResult:
    submission: str
    profile: str
    isolation: str
    questions: list[QuestionResult] = field(default_factory=list)
    seconds: float = 0.0
    grader_errors: list[str] = field(default_factory=list)   # staff only: may hold hidden graders' tracebacks
    #: What the grader noticed about the submission itself, e.g. files it skipped (shown to everyone).
    notes: list[str] = field(default_factory=list)
    #: Staff only: places in the code that look like carried data (``autograder.embedded_data``),
    #: each ``{"file", "line", "kind", "evidence"}``. Evidence for a person; never changes a score.
    data_flags: list[dict] = field(default_factory=list)
    #: Question -> {"limit_s": the per-call time limit it ran under, "slowest_call_s": its slowest call}.
    time_limits: dict = field(default_factory=dict)
    #: The grading environment against the lock (``autograder.lock.lock_record``): its digest and the
    #: measuring libraries whose installed version is not the locked one.
    environment: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(q.points for q in self.questions), 4)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_points for q in self.questions), 4)

    @property
    def infrastructure_failures(self) -> list[QuestionResult]:
        """Questions the grader or the machine failed on (none of them is the student's)."""
        return [q for q in self.questions if q.outcome == "infrastructure"]

    @property
    def held(self) -> list[QuestionResult]:
        """Questions held for review (``autograder.policy.review``): their points are not final, so neither
        is the score; ``grading.json`` lists their ids under ``held_for_review``."""
        return [q for q in self.questions if q.status == "held"]

    @property
    def held_points(self) -> float:
        """The points the held questions could still earn (their maxima): pending, counted nowhere yet."""
        return round(sum(q.max_points for q in self.held), 4)

    @property
    def needs_regrade(self) -> bool:
        """True when this result must not be kept: the grader failed somewhere, so it says nothing
        final about the student (it is never cached, and ``grade-all --retry-failed`` regrades it)."""
        return bool(self.grader_errors or self.infrastructure_failures)

    def to_dict(self) -> dict:
        return {**asdict(self), "score": self.score, "max_score": self.max_score,
                "held_for_review": [q.id for q in self.held]}

    @classmethod
    def from_dict(cls, data: dict) -> "GradingResult":
        data = {k: v for k, v in data.items() if k not in ("score", "max_score", "held_for_review")}
        known = set(QuestionResult.__dataclass_fields__)
        data["questions"] = [QuestionResult(**{k: v for k, v in q.items() if k in known})
                             for q in data.get("questions", [])]
        return cls(**data)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> "GradingResult":
        return cls.from_dict(json.loads(Path(path).read_text()))
