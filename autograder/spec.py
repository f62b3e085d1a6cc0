"""Question specs: the one place that says, per question, points, visibility, limits and tolerance.

The specs live in ``questions.toml`` beside this file; this module parses and
validates them into frozen dataclasses.  Graders never hard-code thresholds:
they ask their :class:`Question` for its :class:`Band`.

Errors follow scikit-learn's shape: "The 'points' field of question
'confusion.matrix' must be a number > 0. Got -1 instead."
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SPEC_PATH = Path(__file__).with_name("questions.toml")
#: Names another copy of questions.toml to grade with (``serve`` sets it to the data folder's copy).
SPEC_ENV = "CH3_QUESTIONS"
VISIBILITIES = ("public", "hidden")
PROFILES = ("quick", "full")
#: What a student sees of a question's result before the deadline (see autograder.disclosure).
DISCLOSURES = ("exact", "band", "pass_fail", "none")


class SpecError(ValueError):
    """questions.toml does not describe a valid question."""


@dataclass(frozen=True)
class Limits:
    """Resources the worker process gets while it runs this question's student code."""

    timeout: float      # wall-clock seconds per call into student code
    memory_mb: int      # address space (RLIMIT_AS)
    threads: int        # BLAS/OpenMP/joblib threads
    processes: int      # RLIMIT_NPROC for the sandbox user
    file_mb: int        # largest file the worker may write (RLIMIT_FSIZE)
    output_kb: int      # stdout/stderr kept for the report; the rest is counted and dropped
    # A call's limit follows the reference's measured cost (autograder/judge/limits.py):
    # min(timeout, max(timeout_floor, timeout_multiple x the reference's slowest call)).
    timeout_floor: float = 10.0
    timeout_multiple: float = 20.0
    hung_timeout: float = 2.0    # a function that already ran out of time in this submission
    #: The per-call limit derived for the question being graded (set by the plugin; None: ``timeout``).
    #: Importing a module is not a call: it keeps ``timeout`` (it includes the worker's start).
    call_timeout: float | None = None


@dataclass(frozen=True)
class Band:
    """Linear partial credit: full marks at ``full_at`` and above, zero at ``zero_at`` and below.

    With ``relative_to == "reference"`` both numbers are offsets from the
    reference solution's figure on the same data.
    """

    full_at: float
    zero_at: float
    relative_to: str = "absolute"

    def resolve(self, reference: float | None = None) -> "Band":
        if self.relative_to == "absolute":
            return self
        if reference is None:
            raise ValueError("this band is relative to the reference solution; pass its figure")
        return Band(reference + self.full_at, reference + self.zero_at)

    def credit(self, measured: float) -> float:
        if not math.isfinite(measured):
            return 0.0
        if measured >= self.full_at:
            return 1.0
        return max(0.0, (measured - self.zero_at) / (self.full_at - self.zero_at))


@dataclass(frozen=True)
class CrossValidation:
    """The grader's own repeated stratified k-fold on the training set (seeds live in graders/hidden)."""

    folds: int
    repeats: int


@dataclass(frozen=True)
class Question:
    id: str                     # "<module>.<key>", e.g. "ex1_knn97.accuracy"
    title: str
    points: float
    visibility: str
    limits: Limits
    hint: str = ""
    bands: dict[str, Band] = field(default_factory=dict)  # profile -> band
    #: Accuracy after training on shuffled labels above which the predictions cannot have been
    #: learned from the training data (a model that looks up the public test labels).
    permuted_limit: float | None = None
    #: Largest source a question's module may have, in KB: the module's file plus the submission's
    #: helper files it could import. A bigger module fails its questions (it can carry data tables).
    source_kb: int = 128
    #: Test images are perturbed (interior pixel values moved by one level); a model whose accuracy on
    #: the unperturbed images exceeds that on the same images perturbed by more than this is flagged.
    perturbed_drop_limit: float | None = None
    #: Score out-of-fold predictions on the training set alongside the hidden test figure.
    cross_validation: CrossValidation | None = None
    #: What a student sees before the deadline: one of DISCLOSURES (staff always see everything).
    disclosure: str = "exact"
    #: Sub-check group -> weight: ``Credit.checks`` gives each group this share of the points
    #: (in proportion to the weights of the groups present), split evenly among its checks.
    #: Empty: every check weighs the same.
    weights: dict[str, float] = field(default_factory=dict)
    #: A figure above this is beyond what honest answers reach (e.g. Titanic accuracy far above the
    #: reference): together with a staff flag on the question's code (data carried in the code) it
    #: keeps the points pending a person's review (``autograder.policy.review``). None: never held.
    review_above: float | None = None
    #: Library modules the question's code is written without ("from scratch"): a call into a
    #: function of one of them, recorded in the worker while the student's code runs, fails the
    #: question's ``from_scratch`` check.
    from_scratch: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The name reports show; it begins with the module it grades (Gradescope's test name)."""
        return f"{self.module}: {self.title}"

    def band(self, profile: str) -> Band:
        if profile not in self.bands:
            raise SpecError(f"Question '{self.id}' declares no tolerance for the '{profile}' profile.")
        return self.bands[profile]


def _fail(qid, key, expected, got):
    raise SpecError(f"The '{key}' field of question '{qid}' must be {expected}. Got {got!r} instead.")


def _number(qid, key, value, *, low=0.0, integer=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > low
    if not ok or (integer and not isinstance(value, int)):
        _fail(qid, key, f"{'an int' if integer else 'a number'} > {low:g}", value)
    return value


def _parse_band(qid, profile, table) -> Band:
    key = f"tolerance.{profile}"
    if not isinstance(table, dict) or not {"full_at", "zero_at"} <= set(table):
        _fail(qid, key, "a table with full_at and zero_at", table)
    relative_to = table.get("relative_to", "absolute")
    if relative_to not in ("absolute", "reference"):
        _fail(qid, f"{key}.relative_to", "'absolute' or 'reference'", relative_to)
    full_at, zero_at = table["full_at"], table["zero_at"]
    if not all(isinstance(v, (int, float)) for v in (full_at, zero_at)) or not zero_at < full_at:
        _fail(qid, key, "numbers with zero_at < full_at", table)
    unknown = set(table) - {"full_at", "zero_at", "relative_to"}
    if unknown:
        _fail(qid, key, "a table of full_at, zero_at and relative_to only", sorted(unknown))
    return Band(float(full_at), float(zero_at), relative_to)


def _parse_modules(qid, key, names) -> tuple[str, ...]:
    """A list of dotted module names (``["sklearn.metrics"]``)."""
    if not isinstance(names, list) or not all(
            isinstance(n, str) and n and all(part.isidentifier() for part in n.split(".")) for n in names):
        _fail(qid, key, "a list of module names such as [\"sklearn.metrics\"]", names)
    return tuple(names)


def _parse_weights(qid, table) -> dict[str, float]:
    expected = "a table of check group -> number > 0, e.g. { threshold = 2, predictions = 1 }"
    if not isinstance(table, dict) or not table:
        _fail(qid, "weights", expected, table)
    for group, weight in table.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
            _fail(qid, f"weights.{group}", "a number > 0", weight)
    return {group: float(weight) for group, weight in table.items()}


LIMIT_FIELDS = {"timeout": False, "memory_mb": True, "threads": True, "processes": True,
                "file_mb": True, "output_kb": True, "timeout_floor": False, "timeout_multiple": False,
                "hung_timeout": False}
QUESTION_FIELDS = {"title", "points", "visibility", "hint", "tolerance", "permuted_limit", "disclosure", "source_kb",
                   "perturbed_drop_limit", "cross_validation", "weights", "review_above", "from_scratch",
                   *LIMIT_FIELDS}


def _fraction(qid, key, value):
    if value is not None and not (isinstance(value, float) and 0 < value < 1):
        _fail(qid, key, "a float in (0, 1)", value)
    return value


def _parse_cross_validation(qid, table) -> CrossValidation | None:
    if table is None:
        return None
    if not isinstance(table, dict) or set(table) != {"folds", "repeats"}:
        _fail(qid, "cross_validation", "a table of folds and repeats", table)
    folds, repeats = table["folds"], table["repeats"]
    if not (isinstance(folds, int) and not isinstance(folds, bool) and folds >= 2):
        _fail(qid, "cross_validation.folds", "an int >= 2", folds)
    if not (isinstance(repeats, int) and not isinstance(repeats, bool) and repeats >= 1):
        _fail(qid, "cross_validation.repeats", "an int >= 1", repeats)
    return CrossValidation(folds, repeats)


def _parse_review_above(qid, value, bands: dict[str, Band]) -> float | None:
    """A finite number above every absolute band's full-marks line (an honest full-marks figure is never held)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(qid, "review_above", "a finite number", value)
    if not bands:
        _fail(qid, "review_above", "set only on a question scored in a band (one with a tolerance)", value)
    lines = [band.full_at for band in bands.values() if band.relative_to == "absolute"]
    if lines and value <= max(lines):
        _fail(qid, "review_above", f"a number above the full-marks line ({max(lines):g})", value)
    return float(value)


def parse_spec(document: dict) -> dict[str, Question]:
    """Validate a parsed questions.toml into ``{question id: Question}``."""
    defaults = document.get("defaults", {})
    questions = {}
    for qid, table in document.get("questions", {}).items():
        if "." not in qid or not qid.replace(".", "").replace("_", "").isalnum():
            raise SpecError(f"Question id {qid!r} must look like '<module>.<key>'.")
        merged = {**defaults, **table}
        unknown = set(table) - QUESTION_FIELDS
        if unknown:
            raise SpecError(f"Question '{qid}' has unknown fields {sorted(unknown)}; "
                            f"known fields: {sorted(QUESTION_FIELDS)}.")
        if not isinstance(merged.get("title"), str) or not merged["title"]:
            _fail(qid, "title", "a non-empty string", merged.get("title"))
        if merged.get("visibility") not in VISIBILITIES:
            _fail(qid, "visibility", f"one of {VISIBILITIES}", merged.get("visibility"))
        limits = Limits(**{k: _number(qid, k, merged.get(k, getattr(Limits, k, None)), integer=i)
                           for k, i in LIMIT_FIELDS.items()})
        bands = {}
        for profile, band in merged.get("tolerance", {}).items():
            if profile not in PROFILES:
                _fail(qid, "tolerance", f"keyed by profile {PROFILES}", profile)
            bands[profile] = _parse_band(qid, profile, band)
        permuted_limit = _fraction(qid, "permuted_limit", merged.get("permuted_limit"))
        drop_limit = _fraction(qid, "perturbed_drop_limit", merged.get("perturbed_drop_limit"))
        if drop_limit is not None and permuted_limit is None:
            _fail(qid, "perturbed_drop_limit", "set only on a model question (one with permuted_limit)", drop_limit)
        disclosure = merged.get("disclosure", "exact")
        if disclosure not in DISCLOSURES:
            _fail(qid, "disclosure", f"one of {DISCLOSURES}", disclosure)
        extra = {"source_kb": _number(qid, "source_kb", merged.get("source_kb", Question.source_kb), integer=True)}
        questions[qid] = Question(
            id=qid, title=merged["title"], points=float(_number(qid, "points", merged.get("points"))),
            visibility=merged["visibility"], limits=limits, hint=merged.get("hint", ""), bands=bands,
            permuted_limit=permuted_limit, perturbed_drop_limit=drop_limit, disclosure=disclosure,
            cross_validation=_parse_cross_validation(qid, merged.get("cross_validation")), **extra,
            weights=_parse_weights(qid, merged["weights"]) if "weights" in merged else {},
            review_above=_parse_review_above(qid, merged.get("review_above"), bands),
            from_scratch=_parse_modules(qid, "from_scratch", merged.get("from_scratch", [])),
        )
    return questions


def unknown(spec: dict[str, Question], chosen) -> list[str]:
    """The names among ``chosen`` that are neither a question id nor a module of ``spec``, sorted."""
    return sorted(set(chosen) - set(spec) - {q.module for q in spec.values()})


def select(spec: dict[str, Question], visibilities=VISIBILITIES, chosen=()) -> list[Question]:
    """The questions in scope: of these visibilities and, if any are chosen, among those ids or modules."""
    return [q for q in spec.values()
            if q.visibility in visibilities and (not chosen or q.id in chosen or q.module in chosen)]


def load_spec(path: Path | None = None) -> dict[str, Question]:
    """The questions of ``path``; default: the file ``$CH3_QUESTIONS`` names (a course server's copy,
    set in its grading processes), else the package's ``questions.toml``. Cached per file version."""
    path = Path(path or os.environ.get(SPEC_ENV) or SPEC_PATH)
    info = path.stat()
    return _load_spec(path.resolve(), info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=None)
def _load_spec(path: Path, mtime_ns: int, size: int) -> dict[str, Question]:
    with open(path, "rb") as fh:
        return parse_spec(tomllib.load(fh))
