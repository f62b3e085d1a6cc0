"""Measure the reference solutions' figures and write autograder/judge/reference_figures.json.

    python scripts/reference_figures.py --profile quick
    CH3_DATA_DIR=/path/to/kit python scripts/reference_figures.py --profile full
    python scripts/reference_figures.py --profile quick --check    # compare, write nothing
    python scripts/reference_figures.py --table                    # rewrite the band table in docs/design/thresholds.md
    python scripts/reference_figures.py --table --print            # print it; write nothing

Grades ``solutions/`` on the profile, every question, with the shipped figures ignored and a
cold cache, so every figure is computed. It records, per profile, for the scikit-learn version and data version
it ran with:

- ``reference``: the figures graders look up (keys of ``ReferenceCache``: the reference's
  figures, and scikit-learn's answers on fixed hidden inputs), so that grading never recomputes
  them, nor imports scikit-learn for them, on the critical path;
- ``measured``: per question, what grading the reference measured (its band figure, standard
  error and sample count, shuffled-label and perturbation figures), which
  ``tests/test_fairness_exercises.py`` holds the declarations against.

``--check`` exits 1 when a figure moved by more than 1e-9 (a library or data change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
FIGURES = PROJECT / "autograder" / "judge" / "reference_figures.json"
#: The documentation page whose band table ``--table`` rewrites, between these two markers.
THRESHOLDS_PAGE = PROJECT / "docs" / "design" / "thresholds.md"
TABLE_START, TABLE_END = "<!-- band-table: start (scripts/reference_figures.py --table) -->", "<!-- band-table: end -->"
TABLE_HEADER = ("| question | profile | reference figure | n | SE | full marks at | zero at | band in SE "
                "| reference above full line |\n|---|---|---|---|---|---|---|---|---|")
KEPT = ("band", "shuffled_labels", "perturbation", "figures")


def _figures_only(key, value):
    """What was measured, without what the declaration decides (the band's lines, the limits)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("full_at", "zero_at", "limit", "drop_limit")}
    return value


def _with_band(measurements):
    """A question whose band decides one part (``Credit.band_check``, e.g. multilabel.models) carries
    it in that check: recorded under "band" here like every other band's figures."""
    carried = [c["band"] for c in measurements.get("checks") or [] if c.get("band")]
    if "band" in measurements or not carried:
        return measurements
    if len(carried) > 1:
        raise SystemExit(f"{len(carried)} sub-checks carry a band; the table holds one per question")
    return {**measurements, "band": carried[0]}


def banded_questions(spec, profile):
    return [q.id for q in spec.values() if profile in q.bands or q.permuted_limit is not None]


def measure(profile: str, questions=None, data_dir=None) -> dict:
    """Grade the reference with a cold cache; return this profile's entry of the JSON file."""
    saved = {name: os.environ.get(name) for name in ("CH3_REFERENCE_FIGURES", "CH3_CACHE_DIR")}
    try:
        return _measure(profile, questions, data_dir)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _measure(profile, questions, data_dir):
    os.environ["CH3_REFERENCE_FIGURES"] = "compute"
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CH3_CACHE_DIR"] = cache
        # imported here, after the environment says where the cold cache is
        from autograder.grading import grade_path
        from autograder.judge.reference import data_version, sklearn_version
        from autograder.spec import load_spec

        spec = load_spec()
        chosen = list(questions or banded_questions(spec, profile))
        # every question without a choice: "reference" holds every figure any grader looks up
        result = grade_path(PROJECT / "solutions", None, profile=profile, questions=list(questions or ()),
                            data_dir=data_dir)
        reference = {}
        for path in Path(cache, "references").glob("*.json"):
            reference.update(json.loads(path.read_text()))
    banded = set(banded_questions(spec, profile))
    measured = {q.id: {k: _figures_only(k, v) for k, v in _with_band(q.measurements).items() if k in KEPT}
                for q in result.questions if q.id in chosen and q.id in banded}
    not_full = [f"{q.id}: {q.points:g}/{q.max_points:g}" for q in result.questions if q.points < q.max_points]
    if not_full or result.grader_errors:
        raise SystemExit(f"the reference does not get full marks on {profile}: {not_full} {result.grader_errors}")
    return {"sklearn": sklearn_version(), "data": data_version(profile), "reference": reference,
            "measured": measured}


def differences(old, new, path=""):
    """Paths where two JSON values differ (numbers by more than 1e-9)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new)) for d in differences(old.get(k), new.get(k), f"{path}/{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return [] if math.isclose(old, new, rel_tol=0, abs_tol=1e-9) else [f"{path}: {old} -> {new}"]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def band_table(shipped: dict) -> str:
    """The thresholds page's table: each banded question's band in standard errors at the reference's figure."""
    from autograder.spec import load_spec

    rows = []
    for question in load_spec().values():
        for profile in ("quick", "full"):
            figures = shipped.get(profile, {}).get("measured", {}).get(question.id, {}).get("band")
            if profile not in question.bands or not figures:
                continue
            band = question.band(profile).resolve(figures["value"])
            se, n = figures.get("se"), figures.get("n")
            width = f"{(band.full_at - band.zero_at) / se:.1f}" if se else "not recorded"
            above = f"{(figures['value'] - band.full_at) / se:.1f}" if se else "not recorded"
            rows.append(f"| {question.id} | {profile} | {figures['value']:.4f} | {n or '-'} | "
                        f"{f'{se:.4f}' if se else '-'} | {band.full_at:.4f} | {band.zero_at:.4f} | {width} | {above} |")
    return "\n".join([TABLE_HEADER, *rows])


def write_table(table: str, page: Path = THRESHOLDS_PAGE) -> bool:
    """Replace the table between the markers of ``page``; True when the page changed."""
    text = page.read_text(encoding="utf-8")
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{page} has no band-table markers ({TABLE_START!r} ... {TABLE_END!r})")
    before, rest = text.split(TABLE_START, 1)
    after = rest.split(TABLE_END, 1)[1]
    new = f"{before}{TABLE_START}\n{table}\n{TABLE_END}{after}"
    page.write_text(new, encoding="utf-8")
    return new != text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"))
    parser.add_argument("--data-dir", default=os.environ.get("CH3_DATA_DIR"))
    parser.add_argument("-q", "--question", action="append", help="only these questions (default: every one)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file; write nothing")
    parser.add_argument("--table", action="store_true",
                        help="rewrite the band table of docs/design/thresholds.md from the shipped figures; measure nothing")
    parser.add_argument("--print", action="store_true", help="with --table: print the table, write nothing")
    args = parser.parse_args(argv)
    if args.table:
        table = band_table(json.loads(FIGURES.read_text()))
        if args.print:
            print(table)
        else:
            print(f"{THRESHOLDS_PAGE}: {'updated' if write_table(table) else 'already current'}")
        return 0
    if not args.profile:
        parser.error("--profile is required (unless --table)")
    entry = measure(args.profile, args.question, args.data_dir if args.profile == "full" else None)
    shipped = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    old = shipped.get(args.profile, {})
    if args.question:  # a partial run updates only what it measured
        entry["reference"] = {**old.get("reference", {}), **entry["reference"]}
        entry["measured"] = {**old.get("measured", {}), **entry["measured"]}
    changed = differences(old, entry)
    print(json.dumps(entry["measured"], indent=1))
    if args.check:
        print("\n".join(changed) if changed else f"{args.profile}: the shipped figures are current")
        return 1 if changed else 0
    shipped[args.profile] = entry
    FIGURES.write_text(json.dumps(shipped, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIGURES} ({len(changed)} changes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
