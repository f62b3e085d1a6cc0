"""Measure what the reference solutions cost per call and write autograder/judge/reference_costs.json.

    python scripts/reference_costs.py --profile quick
    CH3_DATA_DIR=/path/to/kit python scripts/reference_costs.py --profile full
    python scripts/reference_costs.py --profile quick --repeats 3 --questions confusion roc

Grades ``solutions/`` on the profile ``--repeats`` times (under the ceiling ``timeout`` of
questions.toml, so nothing the measurement asks for is cut) and records per question the
slowest single call into the reference's code (``slowest_call``) and the question's seconds
(``seconds``), each the largest over the repeats. ``autograder/judge/limits.py`` turns the
slowest call into the question's per-call limit; ``grade-all`` orders its work by the seconds.
Other profiles already in the file are kept.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
COSTS = PROJECT / "autograder" / "judge" / "reference_costs.json"


def measure(profile: str, repeats: int, questions=(), data_dir=None) -> dict:
    from autograder.grading import grade_path
    from autograder.spec import load_spec

    ceilings = {qid: q.limits.timeout for qid, q in load_spec().items()}
    costs: dict[str, dict] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="ch3-costs-") as scratch:
            result = grade_path(PROJECT / "solutions", Path(scratch) / "out", profile=profile, questions=tuple(questions),
                           data_dir=data_dir, limits={"timeout_floor": max(ceilings.values()),
                                                      "timeout": max(ceilings.values())})
        for q in result.questions:
            if q.status != "passed":
                raise SystemExit(f"the reference did not pass {q.id} ({q.status}): {q.feedback[:500]}")
            seen = costs.setdefault(q.id, {"seconds": 0.0, "slowest_call": 0.0})
            seen["seconds"] = round(max(seen["seconds"], q.seconds), 3)
            slowest = result.time_limits.get(q.id, {}).get("slowest_call_s", 0.0)
            seen["slowest_call"] = round(max(seen["slowest_call"], slowest), 4)
    return costs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("quick", "full"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", nargs="*", default=())
    parser.add_argument("--out", type=Path, default=COSTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT))
    costs = measure(args.profile, args.repeats, args.questions, os.environ.get("CH3_DATA_DIR"))
    try:
        document = json.loads(args.out.read_text())
    except (OSError, ValueError):
        document = {}
    profiles = document.get("profiles", {})
    profiles[args.profile] = {**(profiles.get(args.profile, {}) if args.questions else {}), **costs}
    document = {"about": "per question, the reference solution's slowest call into its code and the question's "
                         "seconds (largest of --repeats runs); written by scripts/reference_costs.py",
                "measured": {**document.get("measured", {}),
                             args.profile: {"date": datetime.date.today().isoformat(), "repeats": args.repeats,
                                            "python": platform.python_version(), "machine": platform.machine(),
                                            "cores": os.cpu_count()}},
                "profiles": profiles}
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}: {len(costs)} questions on the {args.profile} profile")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
