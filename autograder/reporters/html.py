"""``feedback.html``: one self-contained page per student (inline SVG gauges, base64 PNG plots).

Everything drawn here was measured by the graders and stored in
``QuestionResult.measurements``; nothing is recomputed from the student's work.
The page has no script, loads nothing from the network (its Content-Security-Policy
forbids it), and all student text goes through jinja2's autoescaping after control
characters are stripped.

Pass the student's view (:func:`autograder.disclosure.for_students`): a question whose
disclosure is not "exact" has only its redacted measurements left, so no plot of
hidden figures can be drawn for it.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
from pathlib import Path

import jinja2
import numpy as np

from autograder.results import STATUSES, GradingResult, QuestionResult

TEMPLATES = Path(__file__).with_name("templates")
#: The staff view of a bulk student's feedback (every figure shown): never handed to the student.
STAFF_PAGE = "feedback-staff.html"
MAX_OUTPUT_CHARS = 4000


#: Terminal escape sequences (colours, cursor moves, titles), removed whole rather than leaving "[31m" behind.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?")


def clean_text(text, limit: int | None = None) -> str:
    """Student text made safe to show: escape sequences and control characters (but newline and tab)
    removed, including bidirectional overrides, and the length capped. HTML escaping is jinja2's."""
    text = _ESCAPES.sub("", "" if text is None else str(text).replace("\r\n", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch not in "\u2028\u2029"))
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit:,} more characters)"
    return text


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    """One environment per process: jinja2 keeps the compiled templates (reloading a template whose
    file changed), so a grader process compiles each page once, not once per submission."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["clean"] = clean_text
    env.filters["num"] = lambda v, digits=4: "–" if v is None else f"{v:.{digits}f}"
    env.globals["STATUSES"] = STATUSES
    return env


# ------------------------------------------------------------------ gauges (inline SVG)

def gauge(band: dict, width: int = 640) -> dict | None:
    """Positions (in px) of a band gauge: zero line, full-marks line, reference, the value and its SE.

    The axis spans the band, the reference and the value (± 2 SE), padded, so every mark is on it.
    ``labels`` place each mark's text on its own row (the value above the bar; the zero and
    full-marks lines below it, pushed apart when close; the reference on a third row), anchored
    inwards at the ends, so no two labels overlap.
    """
    value, full_at, zero_at = band.get("value"), band.get("full_at"), band.get("zero_at")
    if value is None or full_at is None or zero_at is None or not math.isfinite(value):
        return None
    se = band.get("se") or 0.0
    se = se if math.isfinite(se) else 0.0
    reference = band.get("reference")
    points = [zero_at, full_at, value - 2 * se, value + 2 * se] + ([reference] if reference is not None else [])
    low, high = min(points), max(points)
    pad = (high - low) * 0.08 or 0.01
    low, high = low - pad, high + pad
    margin = 16

    def x(v):
        return round(margin + (v - low) / (high - low) * (width - 2 * margin), 1)

    def label(at, y, text, colour, anchor="middle"):
        if at < 70:
            anchor = "start"
        elif at > width - 70:
            anchor = "end"
        return {"x": at, "y": y, "text": text, "fill": colour, "anchor": anchor}

    digits = 4
    zero_x, full_x = x(zero_at), x(full_at)
    apart = abs(full_x - zero_x) < 120  # too close for two centred labels: each goes to its own side
    labels = [label(x(value), 13, f"yours {value:.{digits}f}", "#0969da"),
              label(zero_x, 62, f"zero at {zero_at:.{digits}f}", "#cf222e", "end" if apart else "middle"),
              label(full_x, 62, f"full marks from {full_at:.{digits}f}", "#1a7f37", "start" if apart else "middle")]
    if reference is not None:
        labels.append(label(x(reference), 80, f"reference {reference:.{digits}f}", "#57606a"))
    return {"width": width, "height": 86 if reference is not None else 68, "margin": margin, "zero": zero_x,
            "full": full_x, "value": x(value), "se_low": x(value - se), "se_high": x(value + se),
            "reference": None if reference is None else x(reference), "labels": labels,
            "low": low, "high": high, "band": band}


def band_sentence(band: dict) -> str:
    """The band in words a student reads once: where full marks start, where zero is, where they stand.

    "Full marks from 0.7980 (1.2 standard errors below the reference solution's 0.8114); zero at
    0.7760 or below. Yours: 0.8060 ± 0.0108, 0.7 standard errors above the full-marks line."
    """
    value, full_at, zero_at = band["value"], band["full_at"], band["zero_at"]
    se, reference = band.get("se"), band.get("reference")
    usable_se = se if se and math.isfinite(se) and se > 0 else None
    text = f"Full marks from {full_at:.4f}"
    if reference is not None and usable_se:
        text += f" (about {(reference - full_at) / usable_se:.1f} standard errors below the reference solution's " \
                f"{reference:.4f})"
    elif reference is not None:
        text += f" (the reference solution scores {reference:.4f})"
    text += f"; zero at {zero_at:.4f} or below. Yours: {value:.4f}"
    if usable_se:
        text += f" ± {usable_se:.4f} (one standard error"
        text += f" on {band['n']:,} samples)" if band.get("n") else ")"
        margin = (value - full_at) / usable_se
        text += f", {abs(margin):.1f} standard errors {'above' if margin >= 0 else 'below'} the full-marks line."
    else:
        text += "."
    return text


# ------------------------------------------------------------------ plots (matplotlib, PNG)

def new_figure(rows: int, columns: int, size: tuple[float, float], **margins):
    """A figure outside pyplot (no global state, no GUI backend): Agg draws it when saved.

    Margins are fixed (``subplots_adjust``): a "tight" bounding box or a layout engine draws
    every figure twice, half the cost of the feedback page's plots."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    fig.subplots_adjust(**margins)
    return fig, fig.subplots(rows, columns, squeeze=False)


def png_data_url(fig, tight: bool = False) -> str:
    """The figure as a data URL; ``tight`` (drawn twice) for the class dashboard's few plots, whose
    labels vary in length."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, **({"bbox_inches": "tight"} if tight else {}))
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shares_by_row(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row divided by its total (an empty row stays zeros), and the totals."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0), totals


def _errors(counts) -> np.ndarray:
    """The counts with the diagonal (the correct predictions) set to 0."""
    cm = np.asarray(counts, dtype=float).copy()
    np.fill_diagonal(cm, 0)
    return cm


def errors_only_matrix(counts) -> np.ndarray:
    """The chapter's error plot: the diagonal removed, each row normalised over that class's errors."""
    return _shares_by_row(_errors(counts))[0]


def confusion_tables(counts) -> dict:
    """The chapter's two views of a confusion matrix, as heat-map tables: rows normalised (recall
    per class) and errors only. HTML, not an image: a reader can zoom, copy and hear the figures,
    each cell's title gives its counts, and nothing is drawn (as a PNG, 0.2 s a matrix).

    Returns ``{"labels": [...], "panels": [{"title", "rows": [[{"text", "bg", "fg", "title"}]]}]}``;
    rows are the true labels, columns the predicted ones, as in scikit-learn."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = np.asarray(counts, dtype=float)
    blues = colormaps["Blues"]
    panels = []
    for title, panel_counts, of in (("normalised by row (recall per class)", cm, "samples"),
                                    ("errors only, normalised by row", _errors(cm), "errors")):
        shares, totals = _shares_by_row(panel_counts)
        top = max(shares.max(), 1e-9)
        table = []
        for i, row in enumerate(shares):
            table.append([{"text": f"{share:.0%}" if share >= 0.005 else "",  # an empty cell stays empty
                           "bg": to_hex(blues(share / top)), "fg": "#fff" if share > 0.6 * top else "#1d232a",
                           "title": f"true {i}, predicted {j}: {panel_counts[i, j]:,.0f} of {totals[i, 0]:,.0f} {of}"}
                          for j, share in enumerate(row)])
        panels.append({"title": title, "rows": table})
    return {"labels": list(range(len(cm))), "panels": panels}


def plot_curves(curves: dict) -> str:
    """Precision and recall against the threshold, and the ROC curve: the student's against the reference's."""
    fig, axes = new_figure(1, 2, (9, 3.6), left=0.06, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
    left, right = axes[0]
    for who, style in (("student", "-"), ("reference", ":")):
        c = curves.get(who)
        if not c:
            continue
        left.plot(c["thresholds"], c["precision"], "b" + style, label=f"precision ({who})")
        left.plot(c["thresholds"], c["recall"], "g" + style, label=f"recall ({who})")
        right.plot(c["fpr"], c["tpr"], ("b" if who == "student" else "k") + style, label=who)
    left.set_xlabel("threshold")
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    right.plot([0, 1], [0, 1], "k--", lw=0.8, alpha=0.5)
    right.set_xlabel("false positive rate")
    right.set_ylabel("true positive rate (recall)")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    return png_data_url(fig)


def plot_roc_case(case: dict) -> str:
    """A wrong ``roc_points`` answer: the student's points against the expected curve, on the same inputs."""
    fig, axes = new_figure(1, 1, (4.6, 3.6), left=0.14, right=0.97, bottom=0.14, top=0.96)
    ax = axes[0][0]
    ax.plot(case["reference"]["fpr"], case["reference"]["tpr"], "k:", lw=2, label="expected (roc_curve)")
    if case.get("student"):
        ax.plot(case["student"]["fpr"], case["student"]["tpr"], "b.-", ms=3, lw=1, label="yours")
    ax.plot([0, 1], [0, 1], color="#8c959f", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return png_data_url(fig)


def plot_threshold_case(case: dict) -> str:
    """A wrong threshold: precision and recall against the threshold, the target, both thresholds."""
    fig, axes = new_figure(1, 1, (6.4, 3.2), left=0.09, right=0.98, bottom=0.15, top=0.96)
    ax = axes[0][0]
    ax.plot(case["thresholds"], case["precision"], "b-", label="precision")
    ax.plot(case["thresholds"], case["recall"], "g-", label="recall")
    ax.axhline(case["target"], color="#8c959f", ls="--", lw=1, label=f"target precision {case['target']:g}")
    ax.axvline(case["expected"], color="k", ls=":", lw=2, label=f"expected threshold {case['expected']:.4g}")
    if case.get("student") is not None:
        ax.axvline(case["student"], color="#cf222e", lw=1.5, label=f"yours {case['student']:.4g}")
    ax.set_xlabel("threshold")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return png_data_url(fig)


def plot_digits(errors: dict, columns: int = 6) -> str:
    """The misclassified digits as one mosaic (one image to draw, not one axes per digit), labelled."""
    images = [np.frombuffer(bytes.fromhex(h), dtype=np.uint8).reshape(28, 28) for h in errors.get("images_hex", [])]
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell_w, cell_h = 34, 44  # 28 pixels plus room for the label above
    mosaic = np.zeros((rows * cell_h, columns * cell_w), dtype=np.uint8)
    fig, axes = new_figure(1, 1, (1.25 * columns, 1.6 * rows), left=0.01, right=0.99, bottom=0.01, top=0.99)
    ax = axes[0][0]
    for k, (image, true, predicted) in enumerate(zip(images, errors["true"], errors["predicted"])):
        top, left = (k // columns) * cell_h + 13, (k % columns) * cell_w + 3
        mosaic[top:top + 28, left:left + 28] = image
        ax.text(left + 14, top - 2, f"true {true}, said {predicted}", ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, cmap="binary", interpolation="nearest")
    ax.axis("off")
    return png_data_url(fig)


def plots_for(q: QuestionResult) -> list[dict]:
    """The plots that teach something for this question, from what its grader recorded."""
    m = q.measurements
    plots = []
    if "curves" in m:
        plots.append({"title": "Precision/recall against the threshold, and the ROC curve (dotted: reference)",
                      "src": plot_curves(m["curves"]), "alt": "precision, recall and ROC curves"})
    if m.get("roc_case"):
        plots.append({"title": f"Your ROC points on hidden case {m['roc_case']['case']} (the first that failed) "
                               "against scikit-learn's roc_curve on the same scores (dotted)",
                      "src": plot_roc_case(m["roc_case"]), "alt": "your ROC curve against the expected one"})
    if m.get("threshold_case"):
        plots.append({"title": f"Hidden case {m['threshold_case']['case']} (the first that failed): precision and "
                               "recall against the threshold, the target precision, the expected threshold and yours",
                      "src": plot_threshold_case(m["threshold_case"]), "alt": "your threshold against the expected one"})
    if m.get("misclassified_digits", {}).get("images_hex"):
        plots.append({"title": "Test digits your model got wrong (MNIST's test set is public data)",
                      "src": plot_digits(m["misclassified_digits"]), "alt": "misclassified digits"})
    return plots


# ------------------------------------------------------------------ the page

def _feedback_lines(q: QuestionResult, band: dict | None, checks: list) -> str:
    """The feedback without what the page states elsewhere: the band line (the gauge and its sentence
    say it), each failed check's detail (listed under "what failed") and the list of their names."""
    band_line = f"{band['metric']} {band['value']:.4f}" if band and band.get("value") is not None else None
    failed = {c.get("name") for c in checks if not c.get("passed")}
    kept = []
    for line in (q.feedback or "").splitlines():
        if band_line and line.startswith(band_line):
            continue
        if line.startswith("- ") and any(line[2:].startswith(f"{name}: ") for name in failed):
            continue
        if checks and " checks passed" in line and ": failed " in line:
            line = line.split(": failed ", 1)[0]
        kept.append(line)
    return "\n".join(kept).strip()


def _lost(q: QuestionResult) -> float:
    return q.max_points - q.points


def question_view(q: QuestionResult, index: int) -> dict:
    band = q.measurements.get("band")
    checks = q.measurements.get("checks") or []
    confusion = q.measurements.get("confusion_matrix")
    failed = [c for c in checks if not c.get("passed")]
    measured = bool(band and band.get("value") is not None and band.get("full_at") is not None)
    return {
        "q": q, "anchor": f"q-{index}", "symbol": STATUSES.get(q.status, "?"), "status": q.status.replace("_", " "),
        "needs_work": q.status not in ("passed", "withheld", "held", "not_run") and q.points < q.max_points,
        "gauge": gauge(band) if measured else None,
        "band_sentence": band_sentence(band) if measured else None,
        "band_region": band if band and "region" in band else None,
        "feedback": _feedback_lines(q, band if measured else None, checks),
        "failed_checks": [_failed_check(c) for c in failed[:20]], "n_failed": len(failed),
        "n_checks": len(checks), "plots": plots_for(q),
        "confusion": confusion_tables(confusion) if confusion is not None else None,
        "emails": q.measurements.get("misclassified_emails"),
        "disclosure": q.measurements.get("disclosure", "exact"),
        "output": clean_text(q.output, MAX_OUTPUT_CHARS),
        "first_problem": _first_problem(q, failed),
    }


def _failed_check(check: dict) -> dict:
    """A failed check for the page: its name, the likely cause (when one was recognised) first, then
    called / expected / got / first difference."""
    detail, _, cause = (check.get("detail") or "").partition("; likely cause: ")
    return {"name": check.get("name", ""), "cause": cause, "detail": detail}


def _first_problem(q: QuestionResult, failed: list) -> str:
    """One line for the "fix these first" list: the first failed check's cause or detail, else the headline."""
    for check in failed:
        detail = check.get("detail") or ""
        if "likely cause: " in detail:
            return detail.split("likely cause: ", 1)[1]
    if failed:
        return f"{failed[0].get('name')}: {failed[0].get('detail') or 'failed'}"
    return next((line for line in (q.feedback or "").splitlines() if line.strip()), q.status.replace("_", " "))


def fix_first(views: list[dict]) -> list[dict]:
    """Questions that lost points, the most points lost first (then in the page's order)."""
    return sorted((v for v in views if v["needs_work"]), key=lambda v: -_lost(v["q"]))


def to_html(result: GradingResult, *, staff: bool = False) -> str:
    """Render the feedback page of one result.

    Students get the redacted view (:func:`autograder.disclosure.for_students`); ``staff=True``
    marks the page as the staff view of the full result (hidden figures and inputs shown), which
    must never be handed to a student.
    """
    template = environment().get_template("feedback.html.j2")
    withheld = sum(q.max_points for q in result.questions if q.status == "withheld")
    views = [question_view(q, i) for i, q in enumerate(result.questions, 1)]
    counts = {}
    for v in views:
        counts[v["q"].status] = counts.get(v["q"].status, 0) + 1
    return template.render(result=result, questions=views, withheld=withheld, fix_first=fix_first(views),
                           counts=counts, staff=staff)


def write_feedback(result: GradingResult, path: Path, *, staff: bool = False) -> Path:
    path = Path(path)
    path.write_text(to_html(result, staff=staff), encoding="utf-8")
    return path
