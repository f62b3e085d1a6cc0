"""Partial credit and the feedback that explains it: figure, threshold, margin in standard errors."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from autograder.messages import bounded, listed
from autograder.policy.scoring import (check_weights, checks_fraction, passes_perturbation_check,  # noqa: F401
                                       passes_rewrite_check, passes_shift_check, passes_shuffled_check,
                                       rewrite_excess_limit, shift_excess_limit)
from autograder.spec import Band

#: Failed checks whose details (call, expected, got) the feedback spells out; the rest are named.
DETAILED_FAILURES = 5


#: Bootstrap resamples behind a standard error: its own Monte Carlo error is about 1/sqrt(2 * 2000),
#: under 2% of the SE, and 2000 vectorised resamples of a few hundred rows take milliseconds.
BOOTSTRAP_RESAMPLES = 2000


def proportion_se(p: float, n: int) -> float:
    """Standard error of a proportion (accuracy, precision, recall) measured on ``n`` samples."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else float("nan")


def plus_four_proportion_se(successes: int, n: int) -> float:
    """Standard error of a proportion with Agresti and Coull's "plus four" adjustment.

    Two successes and two failures are added, so a proportion measured at exactly 0 or 1
    (a reimplementation that agrees with scikit-learn on every sample) gets the uncertainty
    that ``n`` samples leave, not the zero of the plain binomial formula.

    Parameters
    ----------
    successes : int
        Samples counted as successes (e.g. predictions that agree).
    n : int
        Samples measured, ``n >= successes >= 0``.

    Returns
    -------
    float
        ``sqrt(p (1 - p) / (n + 4))`` with ``p = (successes + 2) / (n + 4)``.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"'successes' must be between 0 and n={n}; got {successes}")
    p = (successes + 2) / (n + 4)
    return math.sqrt(p * (1 - p) / (n + 4))


def auc_se(y_true, scores) -> float:
    """Standard error of the ROC AUC by DeLong et al.'s (1988) nonparametric estimator.

    The AUC is the mean over (positive, negative) pairs of 1 when the positive scores
    higher, 1/2 on a tie. Its variance is estimated from each sample's placement (the
    fraction of the other class it beats): ``var(positives' placements) / n_pos +
    var(negatives' placements) / n_neg``, computed with midranks (Sun and Xu, 2014).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels (bool or 0/1), both classes present.
    scores : array-like of shape (n,)
        Scores, higher meaning more likely positive.

    Returns
    -------
    float
    """
    positive = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    if positive.shape != scores.shape or positive.ndim != 1:
        raise ValueError(f"'y_true' and 'scores' must be 1-D of one length; got shapes {positive.shape} "
                         f"and {scores.shape}")
    pos, neg = scores[positive], scores[~positive]
    if len(pos) < 2 or len(neg) < 2:
        raise ValueError(f"'y_true' must hold at least two samples of each class; got {len(pos)} positive "
                         f"and {len(neg)} negative")
    from scipy import stats

    ranks = stats.rankdata(np.concatenate([pos, neg]))  # midranks: a tie counts 1/2
    beaten_by_positive = (ranks[:len(pos)] - stats.rankdata(pos)) / len(neg)
    above_negative = 1 - (ranks[len(pos):] - stats.rankdata(neg)) / len(pos)
    return math.sqrt(beaten_by_positive.var(ddof=1) / len(pos) + above_negative.var(ddof=1) / len(neg))


def macro_f1_se(Y_true, Y_pred, *, seed: int, n_resamples: int = BOOTSTRAP_RESAMPLES) -> float:
    """Standard error of the macro-averaged F1 of indicator columns, by a bootstrap over rows.

    F1 is a ratio of counts, not a mean of per-row figures, so the rows are resampled with
    replacement (``scipy.stats.bootstrap``, paired, the seed fixed so that a figure is the
    same on every grading) and the F1 of each label recomputed from its counts (0 where a
    label has no true and no predicted positive, as scikit-learn's ``f1_score``).

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n, n_labels)
        0/1 or boolean indicators.
    seed : int
        Seed of the resampling.
    n_resamples : int, default=BOOTSTRAP_RESAMPLES

    Returns
    -------
    float
    """
    Y_true, Y_pred = np.asarray(Y_true).astype(bool), np.asarray(Y_pred).astype(bool)
    if Y_true.shape != Y_pred.shape or Y_true.ndim != 2:
        raise ValueError(f"'Y_true' and 'Y_pred' must be 2-D indicators of one shape; got {Y_true.shape} "
                         f"and {Y_pred.shape}")
    labels = Y_true.shape[1]

    def macro_f1(*columns, axis=-1):
        true, predicted = np.stack(columns[:labels]), np.stack(columns[labels:])  # (labels, ..., rows)
        tp = (true & predicted).sum(axis)
        counted = true.sum(axis) + predicted.sum(axis)  # 2 TP + FP + FN
        return np.where(counted > 0, 2 * tp / np.maximum(counted, 1), 0.0).mean(axis=0)

    from scipy import stats

    result = stats.bootstrap((*Y_true.T, *Y_pred.T), macro_f1, paired=True, vectorized=True,
                             n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
    return float(result.standard_error)


def band_feedback(metric: str, measured: float, band: Band, *, n: int | None = None,
                  se: float | None = None, reference: float | None = None) -> str:
    """One line: the figure, where the band lies, and the margin in standard errors."""
    if se is None and n:
        se = proportion_se(min(max(measured, 0.0), 1.0), n)
    text = f"{metric} {measured:.4f}"
    if n:
        text += f" on {n:,} held-out samples"
    if se:
        text += f" (standard error {se:.4f})"
    text += f"; full marks at >= {band.full_at:.4f}, zero at <= {band.zero_at:.4f}"
    if reference is not None:
        text += f" (reference solution: {reference:.4f})"
    if se:
        text += f"; margin to full marks: {(measured - band.full_at) / se:+.1f} SE"
    return text


class Check(NamedTuple):
    """One sub-check's outcome. A plain ``(name, passed[, reason])`` tuple is read as one too."""

    name: str
    passed: bool
    reason: str | None = None   # "not_implemented" (it hit a stub), "error" (the student's code raised)
    group: str | None = None    # the key of the question's ``weights`` this check counts under
    detail: str = ""            # what was called, what was expected, what came back, where they differ
    score: float | None = None  # partial credit in [0, 1] (a metric in its band); default: passed
    band: dict | None = None    # the figure and band behind ``score`` (see :meth:`Credit.band_check`)


def _as_check(result) -> Check:
    return result if isinstance(result, Check) else Check(str(result[0]), bool(result[1]), *result[2:3])


class Credit:
    """What a grader test records: a fraction of the points and the lines that explain it.

    A test that passes without recording anything earns full marks; a failed
    assertion earns zero. ``credit.band(...)`` and ``credit.fraction(...)`` give partial credit.
    ``weights`` (the question's ``weights`` in questions.toml) weigh the groups of
    ``credit.checks(...)``.
    """

    def __init__(self, weights: dict[str, float] | None = None):
        self.weights = dict(weights or {})
        self.value: float | None = None
        self.lines: list[str] = []
        self.status: str | None = None  # e.g. "not_implemented" when every check hit a stub
        #: What the question measured, as plain JSON data: enough to rescore it under changed
        #: points or bands without running student code again, and to draw it in a report.
        #: Keys: "band" (one metric against its band), "checks" (sub-check outcomes), and any
        #: other plain figures a grader records with :meth:`measure`.
        self.measurements: dict = {}

    def measure(self, key: str, value) -> None:
        """Record a plain-data figure (JSON-able) under ``key`` for reports and rescoring."""
        self.measurements[key] = value

    def note(self, line: str) -> None:
        self.lines.append(bounded(line))

    def fraction(self, value: float, line: str | None = None) -> float:
        self.value = min(max(float(value), 0.0), 1.0) if math.isfinite(value) else 0.0
        if line:
            self.note(line)
        return self.value

    def checks(self, results: list) -> float:
        """Credit for sub-checks (:class:`Check` or ``(name, ok[, reason])``); says which failed and how.

        Without declared weights every check weighs the same. With them, each group gets
        its weight's share of the points (among the groups present), split evenly among
        its checks. ``measurements["checks"]`` records each check's group and weight
        (its share of the question), so the fraction is the sum of the passed weights.
        """
        checks = [_as_check(r) for r in results]
        weights = self._check_weights(checks)
        scores = [c.score if c.score is not None else float(c.passed) for c in checks]
        records = [{"name": c.name, "passed": c.passed, "reason": c.reason, "group": c.group,
                    "weight": w, "score": s, "detail": bounded(c.detail) if c.detail else None,
                    **({"band": c.band} if c.band else {})}
                   for c, w, s in zip(checks, weights, scores)]
        self.measure("checks", records)
        failed = [c for c in checks if not c.passed]
        if checks and not any(c.passed for c in checks):  # nothing worked, and always for one reason
            reasons = {c.reason for c in checks}
            if reasons in ({"not_implemented"}, {"error"}):
                self.status = reasons.pop()
        fraction = checks_fraction(records, self.weights)  # the policy's arithmetic, as rescoring uses it
        line = f"{len(checks) - len(failed)}/{len(checks)} checks passed"
        if self.weights and checks:
            line += f" ({fraction:.0%} of the points; {self._group_summary(checks)})"
        if self.status == "not_implemented":
            line += ": not implemented yet"
        elif failed:
            line += ": failed " + listed([c.name for c in failed], 5, "; ")
        self.fraction(fraction if checks else 0.0, line)
        shown = 1 if self.status == "not_implemented" else DETAILED_FAILURES
        for check in _representatives(failed, shown):
            self.note(f"- {check.name}: {check.detail}")
        return self.value

    def _check_weights(self, checks: list[Check]) -> list[float]:
        """Each check's share of the question (they sum to 1): :func:`autograder.policy.check_weights`."""
        return check_weights([c.group for c in checks], self.weights)

    def _group_summary(self, checks: list[Check]) -> str:
        parts = []
        for group, weight in self.weights.items():
            members = [c for c in checks if c.group == group]
            if members:
                parts.append(f"{group} {sum(c.passed for c in members)}/{len(members)} x{weight:g}")
        return ", ".join(parts)

    def band_check(self, name: str, metric: str, measured: float, band: Band, *, group: str | None = None,
                   **details) -> Check:
        """A metric within its band as one sub-check of partial credit.

        Its figures go with the check (``measurements["checks"][i]["band"]``), not under the
        question's own ``"band"`` key, which would say the band decides the whole question.
        """
        se = details.get("se")
        if se is None and details.get("n"):
            se = proportion_se(min(max(measured, 0.0), 1.0), details["n"])
        figures = {"metric": metric, "value": float(measured), "full_at": band.full_at, "zero_at": band.zero_at,
                   "reference": details.get("reference"), "se": se, "n": details.get("n")}
        score = band.credit(measured)
        return Check(name, score >= 1, group=group, detail=band_feedback(metric, measured, band, **details),
                     score=score, band=figures)

    def band(self, metric: str, measured: float, band: Band, **details) -> float:
        """Credit ``measured`` linearly within ``band`` (already resolved against the reference)."""
        se = details.get("se")
        if se is None and details.get("n"):
            se = proportion_se(min(max(measured, 0.0), 1.0), details["n"])
        self.measure("band", {"metric": metric, "value": float(measured), "full_at": band.full_at,
                              "zero_at": band.zero_at, "reference": details.get("reference"),
                              "se": se, "n": details.get("n")})
        return self.fraction(band.credit(measured), band_feedback(metric, measured, band, **details))


def _representatives(failed: list[Check], limit: int) -> list[Check]:
    """Up to ``limit`` failed checks with details: the first of each group, then the next ones, in order."""
    detailed = [c for c in failed if c.detail]
    firsts = [i for i, c in enumerate(detailed) if c.group not in {d.group for d in detailed[:i]}][:limit]
    others = [i for i in range(len(detailed)) if i not in firsts][:limit - len(firsts)]
    return [detailed[i] for i in sorted(firsts + others)]
