"""The class dashboard: ``summary.html`` and ``summary.csv`` from a bulk output folder.

Reads what bulk grading stored (nothing is run)::

    DIR/batch.json                          entries: id, name, email, source, status, error, ...
    DIR/students/<id>/grading.json          the full GradingResult (staff view)
    DIR/students/<id>/submission/*.py       the student's files (for the similarity check)

and writes ``DIR/summary.html`` (self-contained: PNG plots inline, sortable tables
with a few lines of inline script) and ``DIR/summary.csv`` (one row per question).
"""

from __future__ import annotations

import collections
import json
import statistics
from pathlib import Path

import numpy as np

from autograder.policy import status_for
from autograder.reporters.html import STAFF_PAGE, clean_text, environment, new_figure, png_data_url, write_feedback
from autograder.results import GradingResult, percent

#: Statuses that mean the student's code did not run to the end, as the dashboard names them.
FAILURE_STATUSES = {"timeout": "timeout", "crashed": "crash", "import_error": "import error", "error": "error",
                    "not_implemented": "not implemented", "grader_error": "grader error", "not_run": "not run"}
#: Statuses where the student's code did not run to the end (a student row's "code failed").
RUN_FAILURES = ("timeout", "crashed", "import_error", "error")


def _graded_batch(batch_dir: Path):
    """(store, manifest) when ``batch_dir`` was written by grade-all (its batch.json has a version), else None."""
    from autograder.bulk.store import BatchStore

    store = BatchStore(batch_dir)
    manifest = store.read_manifest()
    return (store, manifest) if manifest is not None and "version" in manifest else None


def load_batch(batch_dir: Path) -> tuple[list[dict], dict[str, GradingResult]]:
    """The batch's entries (from batch.json, or one per student folder) and each graded student's result.

    In a folder written by grade-all, results are read through the final gate (``bulk.final``):
    a result that is not final is left out, and its entry says why (status ``not final``).
    Elsewhere a ``grading.json`` that cannot be read is left out, its entry saying so.
    """
    batch_dir = Path(batch_dir)
    graded = _graded_batch(batch_dir)
    if graded is not None:
        from autograder.bulk.final import final_results

        store, manifest = graded
        results, held = final_results(store, manifest)
        entries = [dict(e) for e in manifest["entries"] if isinstance(e, dict)]
        for entry in entries:
            if str(entry.get("id")) in held:
                entry.update(status="not final", error=held[str(entry.get("id"))].reason)
        return entries, results
    entries: list[dict] = []
    batch_file = batch_dir / "batch.json"
    if batch_file.is_file():
        try:
            data = json.loads(batch_file.read_text())
        except (OSError, ValueError):
            data = {}
        entries = data.get("entries", []) if isinstance(data, dict) else list(data)
    results = {}
    students = batch_dir / "students"
    for path in sorted(students.glob("*/grading.json")) if students.is_dir() else []:
        try:
            results[path.parent.name] = GradingResult.load(path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            entries.append({"id": path.parent.name, "status": "unreadable",
                            "error": f"{path.name} is not a readable result: {exc}"})
    known = {str(e.get("id")) for e in entries}
    entries += [{"id": sid, "status": "graded"} for sid in results if sid not in known]
    return entries, results


def _normalise_check(name: str) -> str:
    """A sub-check's name without the student's own error text (``attempt`` appends it in parentheses)."""
    return name.split(" (", 1)[0]


def question_stats(results: dict[str, GradingResult]) -> list[dict]:
    """Per question: mean points, pass rate, status counts, time; in the spec's order."""
    by_question: dict[str, list] = {}
    for result in results.values():
        for q in result.questions:
            by_question.setdefault(q.id, []).append(q)
    rows = []
    for qid, answers in by_question.items():
        final = [q for q in answers if q.status != "held"]  # held for review: neither full nor zero yet
        points = [q.points for q in final]
        seconds = [q.seconds for q in answers]
        statuses = collections.Counter(q.status for q in answers)
        rows.append({
            "id": qid, "name": answers[0].name, "visibility": answers[0].visibility,
            "max_points": answers[0].max_points, "n": len(answers),
            "mean_points": round(statistics.fmean(points), 3) if final else 0.0,
            "pass_rate": round(sum(status_for(q.points, q.max_points) == "passed" for q in final) / len(final), 3)
            if final else 0.0,
            "zero_rate": round(sum(q.points <= 0 for q in final) / len(final), 3) if final else 0.0,
            "mean_seconds": round(statistics.fmean(seconds), 2), "max_seconds": round(max(seconds), 2),
            "statuses": dict(statuses),
        })
    return rows


def hardest_checks(results: dict[str, GradingResult], limit: int = 15) -> list[dict]:
    """The sub-checks that fail most often among the submissions that attempted them, with an example.

    A check that hit a stub (``reason == "not_implemented"``) was not attempted: it counts in
    neither the failures nor the denominator, so unimplemented modules do not flood the list and
    every rate is "failed / attempted". Ranked by that rate, then by the number of failures.
    """
    failed, attempted, example = collections.Counter(), collections.Counter(), {}
    for result in results.values():
        for q in result.questions:
            for check in q.measurements.get("checks") or []:
                if check.get("reason") == "not_implemented":
                    continue
                key = (q.id, _normalise_check(check.get("name", "")))
                attempted[key] += 1
                if not check.get("passed"):
                    failed[key] += 1
                    example.setdefault(key, check.get("detail") or check.get("name", ""))
    rows = [{"question": qid, "check": name, "failed": count, "of": attempted[(qid, name)],
             "rate": round(count / attempted[(qid, name)], 3), "example": example[(qid, name)]}
            for (qid, name), count in failed.items()]
    rows.sort(key=lambda r: (-r["rate"], -r["failed"], r["question"], r["check"]))
    return rows[:limit]


def lost_points(result: GradingResult) -> list[str]:
    """The questions of ``result`` below full marks (partial ones included), in the spec's order."""
    return [q.id for q in result.questions if q.points < q.max_points and q.status not in ("withheld", "held")]


def status_counts(entries: list[dict], results: dict[str, GradingResult]) -> dict[str, int]:
    """Questions ending in each failure status across the class, plus submissions that could not be graded."""
    counts = collections.Counter()
    for result in results.values():
        for q in result.questions:
            if q.status in FAILURE_STATUSES:
                counts[FAILURE_STATUSES[q.status]] += 1
    ungraded = [e for e in entries if str(e.get("id")) not in results]
    if ungraded:
        counts["submission not graded"] = len(ungraded)
    return dict(counts.most_common())


# ------------------------------------------------------------------------ plots

def plot_scores(results: dict[str, GradingResult]) -> str | None:
    if not results:
        return None
    percents = [percent(r.score, r.max_score, places=None) for r in results.values()]
    fig, axes = new_figure(1, 1, (6.5, 2.8))
    ax = axes[0][0]
    ax.hist(percents, bins=np.linspace(0, 100, 21), color="#0969da", edgecolor="white")
    ax.axvline(statistics.median(percents), color="k", ls="--", lw=1, label=f"median {statistics.median(percents):.1f}%")
    ax.set_xlabel("total score (%)")
    ax.set_ylabel("students")
    ax.legend(fontsize=8)
    return png_data_url(fig, tight=True)


def plot_times(rows: list[dict]) -> str | None:
    if not rows:
        return None
    fig, axes = new_figure(1, 1, (7.5, 0.22 * len(rows) + 1.2))
    ax = axes[0][0]
    labels = [r["id"] for r in rows][::-1]
    ax.barh(labels, [r["mean_seconds"] for r in rows][::-1], color="#8c959f", label="mean")
    ax.plot([r["max_seconds"] for r in rows][::-1], labels, "k|", markersize=8, label="slowest")
    ax.set_xlabel("grading seconds per question")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    return png_data_url(fig, tight=True)


def metric_distributions(results: dict[str, GradingResult]) -> list[dict]:
    """Each band question's measured figures across the class, drawn against its band."""
    values: dict[str, list] = {}
    for result in results.values():
        for q in result.questions:
            band = q.measurements.get("band")
            if band and band.get("value") is not None and np.isfinite(band["value"]):
                values.setdefault(q.id, []).append(band)
    plots = []
    for qid, bands in values.items():
        figures = [b["value"] for b in bands]
        full_at = statistics.median(b["full_at"] for b in bands)
        zero_at = statistics.median(b["zero_at"] for b in bands)
        references = [b["reference"] for b in bands if b.get("reference") is not None]
        fig, axes = new_figure(1, 1, (5.2, 2.3))
        ax = axes[0][0]
        low = min(figures + [zero_at])
        high = max(figures + [full_at])
        pad = (high - low) * 0.1 or 0.01
        ax.hist(figures, bins=np.linspace(low - pad, high + pad, 25), color="#0969da", edgecolor="white")
        ax.axvline(zero_at, color="#cf222e", lw=2, label=f"zero at {zero_at:.4f}")
        ax.axvline(full_at, color="#1a7f37", lw=2, label=f"full at {full_at:.4f}")
        if references:
            ax.axvline(statistics.median(references), color="k", ls=":", label="reference")
        ax.set_xlabel(bands[0].get("metric", "figure"))
        ax.set_ylabel("students")
        ax.legend(fontsize=7)
        plots.append({"id": qid, "src": png_data_url(fig, tight=True), "n": len(figures),
                      "median": statistics.median(figures), "full_at": full_at, "zero_at": zero_at})
    return plots


# ------------------------------------------------------------------------ writing

CSV_COLUMNS = ["question", "name", "visibility", "max_points", "graded", "mean_points", "pass_rate", "zero_rate",
               "mean_seconds", "max_seconds", "statuses"]


def write_summary(batch_dir: Path, *, similarity: bool = True, staff_pages: bool = True) -> tuple[Path, Path]:
    """Write ``summary.html`` and ``summary.csv`` into ``batch_dir`` from its stored results.

    Parameters
    ----------
    batch_dir : Path
        A bulk output folder (``batch.json``, ``students/<id>/grading.json``).
    similarity : bool
        Also compare the students' submitted code (``students/<id>/submission/*.py``).
    staff_pages : bool
        Render every student's staff feedback page; False: only those missing (``grade-all``
        writes them with each student's folder).

    Returns
    -------
    (Path, Path)
        The HTML and CSV files written.
    """
    batch_dir = Path(batch_dir)
    if not batch_dir.is_dir():
        raise FileNotFoundError(f"The 'batch_dir' parameter must be a bulk output folder. {batch_dir} does not exist.")
    entries, results = load_batch(batch_dir)
    rows = question_stats(results)
    csv_path = batch_dir / "summary.csv"
    from autograder.bulk.exports import write_csv  # every CSV goes through the formula neutraliser

    write_csv(csv_path, list(CSV_COLUMNS), [
        [r["id"], r["name"], r["visibility"], r["max_points"], r["n"], r["mean_points"], r["pass_rate"],
         r["zero_rate"], r["mean_seconds"], r["max_seconds"],
         "; ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))] for r in rows])
    pairs = []
    if similarity:
        from autograder.integrity import similar_pairs

        folders = {sid: batch_dir / "students" / sid / "submission" for sid in results}
        pairs = similar_pairs({sid: f for sid, f in folders.items() if f.is_dir()})
    by_id = {str(e.get("id")): e for e in entries}
    students = []
    for sid, result in sorted(results.items()):
        entry = by_id.get(sid, {})
        folder = batch_dir / "students" / sid
        if staff_pages or not (folder / STAFF_PAGE).is_file():
            write_feedback(result, folder / STAFF_PAGE, staff=True)  # staff folder: every figure shown
        lost = lost_points(result)
        crashed = [q.id for q in result.questions if q.status in RUN_FAILURES]
        students.append({"id": sid, "name": entry.get("name") or "", "score": result.score,
                         "max": result.max_score,
                         "percent": percent(result.score, result.max_score, places=1),
                         "seconds": result.seconds, "feedback": (folder / "feedback.html").is_file(),
                         "problems": len(lost), "lost": lost, "crashed": crashed,
                         "held": [q.id for q in result.held],
                         "status": "held for review" if result.held else
                         "code failed" if crashed else ("below full marks" if lost else "full marks")})
    ungraded = [e for e in entries if str(e.get("id")) not in results]
    scores = [s["percent"] for s in students]
    html = environment().get_template("summary.html.j2").render(
        folder=batch_dir.name, n_entries=len(entries), n_graded=len(results), ungraded=ungraded,
        mean=statistics.fmean(scores) if scores else None, median=statistics.median(scores) if scores else None,
        score_plot=plot_scores(results), questions=rows, hardest=hardest_checks(results),
        statuses=status_counts(entries, results), time_plot=plot_times(rows),
        metrics=metric_distributions(results), students=students, pairs=pairs, similarity=similarity,
        data_flags=[{"student": sid, **flag} for sid, result in sorted(results.items()) for flag in result.data_flags],
        question_ids=[r["id"] for r in rows],
    )
    html_path = batch_dir / "summary.html"
    html_path.write_text(html, encoding="utf-8")
    return html_path, csv_path


__all__ = ["write_summary", "load_batch", "question_stats", "hardest_checks", "status_counts", "clean_text"]


def rebuild_reports(folder: Path, *, similarity: bool = True, on_not_final=None) -> list[Path]:
    """Rewrite every report in ``folder`` from its stored ``grading.json`` files; nothing is run.

    ``folder`` is a ``grade`` output folder (``grading.json`` at its top) or a bulk output
    folder (``students/<id>/grading.json``, plus ``summary.html``/``summary.csv``). In a folder
    written by grade-all only final results are rendered (``bulk.final``); ``on_not_final``
    (id -> Verdict) hears of the others, whose reports are left as they are.
    Returns the folders whose reports were rewritten.
    """
    from autograder.grading import write_reports

    folder = Path(folder)
    single = folder / "grading.json"
    students = sorted((folder / "students").glob("*/grading.json")) if (folder / "students").is_dir() else []
    if not single.is_file() and not students:
        raise FileNotFoundError(f"{folder} holds no grading.json (neither a grade output folder nor a bulk one "
                                "with students/<id>/grading.json)")
    rewritten = []
    graded = _graded_batch(folder)
    if graded is not None:
        from autograder.bulk.final import final_results

        store, manifest = graded
        results, held = final_results(store, manifest)
        if held and on_not_final:
            on_not_final(held)
        for record in manifest["entries"]:
            if isinstance(record, dict) and str(record.get("id")) in results:
                store.rewrite_reports(str(record["id"]), results[str(record["id"])], record)  # digest kept in step
                rewritten.append(store.student_dir(str(record["id"])))
        store.write_manifest(manifest)
        write_summary(folder, similarity=similarity)
        return rewritten
    for path in ([single] if single.is_file() else []) + students:
        write_reports(GradingResult.load(path), path.parent)
        rewritten.append(path.parent)
    if students:
        write_summary(folder, similarity=similarity)
    return rewritten
