"""How to grade: one frozen, validated-once value that every frontend builds and the pipeline reads.

``grade``, ``check``, the warm grader, ``grade-all`` (local or on Dask), ``notebook_check``,
``otter_check``, the Gradescope runner and the course server each build a :class:`GradingOptions`
and hand it to :func:`autograder.grading.grade`; it round-trips through JSON (``to_dict`` /
``from_dict``), so a grader process, a Dask worker or the service's grading process receives exactly
the options the frontend validated, and ``grade-all`` records them.

The constraints are data (``_CONSTRAINTS``), checked once in ``__post_init__``; an error names the
parameter and what was expected, as scikit-learn's do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

from autograder.spec import PROFILES, VISIBILITIES, Limits, load_spec, select, unknown

#: The limits a frontend may set for every question: ``spec.Limits``' fields but the per-call limit the
#: plugin derives for each question from the reference's cost.
SETTABLE_LIMITS = tuple(name for name in Limits.__dataclass_fields__ if name != "call_timeout")


class Isolation(str, enum.Enum):
    """What may run a submission's code when bubblewrap cannot start here (bubblewrap is always first).

    The value is a policy, not the mode: :func:`isolation_mode` turns it into the mode this machine
    gives (``bwrap``, or the fallback), once, in one place.
    """

    #: Bubblewrap or nothing: grading a class, the course server.
    STRICT = "strict"
    #: Resource limits only, opted in by whoever grades (``--allow-weak-sandbox``).
    ALLOW_WEAK = "allow-weak"
    #: A student's own code on their own machine, as themselves (``check``, the notebook's self-check).
    OWN_CODE = "own-code"
    #: A disposable grading container is the isolation (Gradescope's runner).
    CONTAINER = "container"


def isolation_mode(policy: Isolation) -> str:
    """The isolation mode this machine gives under ``policy``: ``bwrap`` when bubblewrap works, else
    the policy's fallback. The one place a frontend's wish becomes a mode.

    Raises
    ------
    autograder.worker.sandbox.SandboxUnavailable
        Bubblewrap cannot start and the policy allows no weaker mode.
    """
    from autograder.worker.sandbox import CONTAINER, OWN_CODE, choose_isolation

    policy = Isolation(policy)
    if policy is Isolation.ALLOW_WEAK:
        return choose_isolation(allow_weak=True)
    fallback = {Isolation.OWN_CODE: OWN_CODE, Isolation.CONTAINER: CONTAINER}.get(policy)
    return choose_isolation(fallback=fallback)


def _positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


#: field -> (check, what was expected); None is allowed where the field's default is None.
_CONSTRAINTS = {
    "profile": (lambda v: v in PROFILES, f"one of {PROFILES}"),
    "visibilities": (lambda v: bool(v) and set(v) <= set(VISIBILITIES), f"a non-empty subset of {VISIBILITIES}"),
    "questions": (lambda v: all(isinstance(q, str) for q in v), "question ids or module names"),
    "limits": (lambda v: set(v) <= set(SETTABLE_LIMITS) and all(_positive_number(x) for x in v.values())
               and all(_positive_int(v[k]) for k in v if Limits.__dataclass_fields__[k].type == "int"),
               f"numbers > 0 for {SETTABLE_LIMITS} (ints where spec.Limits has ints)"),
    "data_dir": (lambda v: v is None or isinstance(v, str), "a folder, or None"),
    "isolation": (lambda v: isinstance(v, Isolation), f"one of {[m.value for m in Isolation]}"),
}


@dataclass(frozen=True)
class GradingOptions:
    """How one submission is graded.

    Parameters
    ----------
    profile : {"quick", "full"}
        The data: the embedded sample, or the full datasets.
    questions : tuple of str
        Question ids or module names; empty: every question of ``visibilities``.
    visibilities : tuple of str
        ``("public",)`` for a self-check, ``("public", "hidden")`` for a grade.
    limits : mapping of str to number
        Limits set for every question, in place of its own (``spec.Limits`` fields): ``{"timeout": 5}``
        (seconds; each call's limit stays at most this), ``{"threads": 1}`` (graders sharing the
        machine's cores), ``{"memory_mb": 2000}``.
    data_dir : str, optional
        The full-data folder (default: ``$CH3_DATA_DIR``).
    isolation : Isolation
        What may run the code when bubblewrap cannot start (:class:`Isolation`).
    """

    profile: str = "quick"
    questions: tuple[str, ...] = ()
    visibilities: tuple[str, ...] = VISIBILITIES
    limits: Mapping[str, float] = field(default_factory=dict)
    data_dir: str | None = None
    isolation: Isolation = Isolation.STRICT

    def __post_init__(self):
        if isinstance(self.questions, str) or isinstance(self.visibilities, str):
            name = "questions" if isinstance(self.questions, str) else "visibilities"
            raise ValueError(f"The {name!r} parameter must be a sequence of str, not one str. "
                             f"Got {getattr(self, name)!r} instead.")
        object.__setattr__(self, "questions", tuple(self.questions or ()))
        object.__setattr__(self, "visibilities", tuple(self.visibilities))
        if self.limits is None:
            object.__setattr__(self, "limits", {})
        if not isinstance(self.limits, Mapping):
            raise ValueError(f"The 'limits' parameter must be a mapping of limit name to value. Got {self.limits!r} "
                             "instead.")
        object.__setattr__(self, "limits", MappingProxyType(dict(sorted(self.limits.items()))))
        if isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", str(self.data_dir.resolve()))
        if isinstance(self.isolation, str) and not isinstance(self.isolation, Isolation):
            try:
                object.__setattr__(self, "isolation", Isolation(self.isolation))
            except ValueError:
                pass  # reported below, with what was expected
        for name, (valid, expected) in _CONSTRAINTS.items():
            value = getattr(self, name)
            if not valid(value):
                raise ValueError(f"The {name!r} parameter must be {expected}. Got {value!r} instead.")
        wrong = unknown(load_spec(), self.questions)
        if wrong:
            raise ValueError(f"Unknown question(s) {wrong}; see `python -m autograder questions`.")

    def in_scope(self) -> list:
        """The questions these options grade (``spec.Question``), in ``questions.toml``'s order."""
        return select(load_spec(), self.visibilities, self.questions)

    def replace(self, **changes) -> "GradingOptions":
        """A copy with ``changes``, validated again."""
        return GradingOptions(**{**self.to_dict(), **changes})

    # -- explicit serialisation: options cross processes (grader pools, Dask, the service) and files

    def to_dict(self) -> dict:
        return {"profile": self.profile, "questions": list(self.questions), "visibilities": list(self.visibilities),
                "limits": dict(self.limits), "data_dir": self.data_dir, "isolation": self.isolation.value}

    @classmethod
    def from_dict(cls, data: dict) -> "GradingOptions":
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"Unknown grading option(s) {sorted(extra)}; known: {sorted(known)}.")
        return cls(**{**data, "questions": tuple(data.get("questions") or ()),
                      "visibilities": tuple(data.get("visibilities") or VISIBILITIES),
                      "limits": dict(data.get("limits") or {})})


def for_check(questions: Iterable[str] = ()) -> GradingOptions:
    """A student's self-check: the public tests on the embedded sample, run as the student's own code."""
    return GradingOptions(profile="quick", questions=tuple(questions), visibilities=("public",),
                          isolation=Isolation.OWN_CODE)
