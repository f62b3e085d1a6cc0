"""Refresh the grading environment's lock, autograder/constraints.txt.

    python scripts/lock.py            # resolve again and rewrite the lock
    python scripts/lock.py --check    # exit 1 if a fresh resolution differs from the lock
    python scripts/lock.py --scores   # re-record what the test submissions score under the lock

Creates a throwaway virtual environment, installs this project with every extra and no
constraints (so pip resolves the newest releases that fit pyproject.toml), and writes what got
installed, one ``name==version`` a line. CI, ``build gradescope``, ``build otter`` and the student
bundle install with the lock as pip constraints. Run it on Python 3.11 on Linux (the graders'
platform). Then install under the new lock, run ``--scores`` (tests/locked_scores.py: it grades a
fixed set of submissions and rewrites tests/fixtures/locked_scores.json), read the record's diff
(each grade the new versions move), and commit both together with a test run that passes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "autograder" / "constraints.txt"
HEADER = """\
# The grading environment's lock: pip constraints for every grading install (CI, build gradescope,
# build otter, the student bundle). Regenerate with `python scripts/lock.py`; do not edit by hand.
# Resolved with Python {python} for the extras: {extras}.
"""


def resolve() -> str:
    extras = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"{ROOT}[{','.join(extras)}]"], check=True)
        frozen = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--exclude", "ch3-autograder",
                                 "--exclude", "pip"], check=True, capture_output=True, text=True).stdout
    pins = sorted((line for line in frozen.splitlines() if "==" in line), key=str.lower)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return HEADER.format(python=version, extras=", ".join(extras)) + "\n".join(pins) + "\n"


def record_scores() -> int:
    sys.path.insert(0, str(ROOT))
    from autograder import lock
    from tests import locked_scores

    off = lock.lock_record()["off_lock"]
    if off:
        print(f"this environment is not installed under the lock ({', '.join(sorted(off))} differ): "
              "install with `pip install -c autograder/constraints.txt -e .` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        record = locked_scores.write(Path(tmp))
    print(f"wrote {locked_scores.RECORD} ({len(record['submissions'])} submissions)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare a fresh resolution with the lock; write nothing")
    parser.add_argument("--scores", action="store_true",
                        help="grade the test submissions in this environment and rewrite their record")
    args = parser.parse_args()
    if args.scores:
        return record_scores()
    text = resolve()
    if args.check:
        same = LOCK.is_file() and LOCK.read_text() == text
        print("the lock is current" if same else f"{LOCK} differs from a fresh resolution")
        return 0 if same else 1
    LOCK.write_text(text)
    print(f"wrote {LOCK} ({text.count('==')} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
