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
import io
import math
import re
from pathlib import Path

import jinja2
import numpy as np

from autograder.results import STATUSES, GradingResult, QuestionResult

TEMPLATES = Path(__file__).with_name("templates")
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


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["clean"] = clean_text
    env.filters["num"] = lambda v, digits=4: "–" if v is None else f"{v:.{digits}f}"
    env.globals["STATUSES"] = STATUSES
    return env


# ------------------------------------------------------------------ gauges (inline SVG)

def gauge(band: dict, width: int = 440) -> dict | None:
    """Positions (in px) of a band gauge: zero line, full-marks line, reference, the value and its SE.

    The axis spans the band, the reference and the value (± 2 SE), padded, so every mark is on it.
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
    margin = 44  # room for the labels at either end

    def x(v):
        return round(margin + (v - low) / (high - low) * (width - 2 * margin), 1)

    return {"width": width, "margin": margin, "zero": x(zero_at), "full": x(full_at), "value": x(value),
            "se_low": x(value - se), "se_high": x(value + se),
            "reference": None if reference is None else x(reference),
            "low": low, "high": high, "band": band}


# ------------------------------------------------------------------ plots (matplotlib, PNG)

def _figure(rows: int, columns: int, size: tuple[float, float], **margins):
    """A figure outside pyplot (no global state, no GUI backend): Agg draws it when saved.

    Margins are fixed (``subplots_adjust``): a "tight" bounding box or a layout engine draws
    every figure twice, half the cost of the feedback page's plots."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    fig.subplots_adjust(**margins)
    return fig, fig.subplots(rows, columns, squeeze=False)


def _png(fig, tight: bool = False) -> str:
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
    fig, axes = _figure(1, 2, (9, 3.6), left=0.06, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
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
    return _png(fig)


def plot_digits(errors: dict, columns: int = 6) -> str:
    """The misclassified digits as one mosaic (one image to draw, not one axes per digit), labelled."""
    images = [np.frombuffer(bytes.fromhex(h), dtype=np.uint8).reshape(28, 28) for h in errors.get("images_hex", [])]
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell_w, cell_h = 34, 44  # 28 pixels plus room for the label above
    mosaic = np.zeros((rows * cell_h, columns * cell_w), dtype=np.uint8)
    fig, axes = _figure(1, 1, (1.25 * columns, 1.6 * rows), left=0.01, right=0.99, bottom=0.01, top=0.99)
    ax = axes[0][0]
    for k, (image, true, predicted) in enumerate(zip(images, errors["true"], errors["predicted"])):
        top, left = (k // columns) * cell_h + 13, (k % columns) * cell_w + 3
        mosaic[top:top + 28, left:left + 28] = image
        ax.text(left + 14, top - 2, f"true {true}, said {predicted}", ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, cmap="binary", interpolation="nearest")
    ax.axis("off")
    return _png(fig)


def plots_for(q: QuestionResult) -> list[dict]:
    """The plots that teach something for this question, from what its grader recorded."""
    m = q.measurements
    plots = []
    if "curves" in m:
        plots.append({"title": "Precision/recall against the threshold, and the ROC curve (dotted: reference)",
                      "src": plot_curves(m["curves"]), "alt": "precision, recall and ROC curves"})
    if m.get("misclassified_digits", {}).get("images_hex"):
        plots.append({"title": "Test digits your model got wrong (MNIST's test set is public data)",
                      "src": plot_digits(m["misclassified_digits"]), "alt": "misclassified digits"})
    return plots


# ------------------------------------------------------------------ the page

def question_view(q: QuestionResult) -> dict:
    band = q.measurements.get("band")
    checks = q.measurements.get("checks") or []
    confusion = q.measurements.get("confusion_matrix")
    return {
        "q": q, "symbol": STATUSES.get(q.status, "?"), "status": q.status.replace("_", " "),
        "gauge": gauge(band) if band and "value" in band else None,
        "band_region": band if band and "region" in band else None,
        "failed_checks": [c for c in checks if not c.get("passed")][:20],
        "n_checks": len(checks), "plots": plots_for(q),
        "confusion": confusion_tables(confusion) if confusion is not None else None,
        "emails": q.measurements.get("misclassified_emails"),
        "disclosure": q.measurements.get("disclosure", "exact"),
        "output": clean_text(q.output, MAX_OUTPUT_CHARS),
    }


def to_html(result: GradingResult) -> str:
    """Render the feedback page of one (already redacted for students) result."""
    template = environment().get_template("feedback.html.j2")
    withheld = sum(q.max_points for q in result.questions if q.status == "withheld")
    return template.render(result=result, questions=[question_view(q) for q in result.questions], withheld=withheld)


def write_feedback(result: GradingResult, path: Path) -> Path:
    path = Path(path)
    path.write_text(to_html(result), encoding="utf-8")
    return path
