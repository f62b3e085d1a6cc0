"""Partial credit and the feedback that explains it: figure, threshold, margin in standard errors."""

from __future__ import annotations

import math

from autograder.spec import Band


def proportion_se(p: float, n: int) -> float:
    """Standard error of a proportion (accuracy, precision, recall) measured on ``n`` samples."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else float("nan")


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


class Credit:
    """What a grader test records: a fraction of the points and the lines that explain it.

    A test that passes without recording anything earns full marks; a failed
    assertion earns zero. ``credit.band(...)`` and ``credit.fraction(...)`` give partial credit.
    """

    def __init__(self):
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
        self.lines.append(line)

    def fraction(self, value: float, line: str | None = None) -> float:
        self.value = min(max(float(value), 0.0), 1.0) if math.isfinite(value) else 0.0
        if line:
            self.note(line)
        return self.value

    def checks(self, results: list[tuple]) -> float:
        """Credit in proportion to passed checks ``(name, ok[, reason])``; lists the failed ones."""
        failed = [r[0] for r in results if not r[1]]
        passed = len(results) - len(failed)
        self.measure("checks", [{"name": str(r[0]), "passed": bool(r[1]),
                                 "reason": r[2] if len(r) > 2 else None} for r in results])
        if results and not passed and all(len(r) > 2 and r[2] == "not_implemented" for r in results):
            self.status = "not_implemented"
        line = f"{passed}/{len(results)} checks passed"
        if failed:
            line += ": failed " + "; ".join(failed[:5]) + (f" (+{len(failed) - 5} more)" if len(failed) > 5 else "")
        return self.fraction(passed / len(results) if results else 0.0, line)

    def band(self, metric: str, measured: float, band: Band, **details) -> float:
        """Credit ``measured`` linearly within ``band`` (already resolved against the reference)."""
        se = details.get("se")
        if se is None and details.get("n"):
            se = proportion_se(min(max(measured, 0.0), 1.0), details["n"])
        self.measure("band", {"metric": metric, "value": float(measured), "full_at": band.full_at,
                              "zero_at": band.zero_at, "reference": details.get("reference"),
                              "se": se, "n": details.get("n")})
        return self.fraction(band.credit(measured), band_feedback(metric, measured, band, **details))


def passes_shuffled_check(shuffled: float, question, resolved_band: Band) -> bool:
    """True when the figure after training on shuffled labels is under the declared limit and under
    the full-marks line: a model that ignores its labels scores the same either way, so a lookup
    that passes this check can never get full marks."""
    return shuffled <= question.permuted_limit and shuffled < resolved_band.full_at


def passes_perturbation_check(drop: float, question) -> bool:
    """True unless the model lost more than ``perturbed_drop_limit`` of accuracy when the test images
    moved by one intensity level (it recognised the exact public images)."""
    return question.perturbed_drop_limit is None or drop <= question.perturbed_drop_limit
