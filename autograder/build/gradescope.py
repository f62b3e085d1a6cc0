"""Gradescope's autograder.zip, grading with the sandboxed grader.

Gradescope's format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip holds ``setup.sh`` (run once when the image is built) and ``run_autograder``
(run per submission) at its root; it is unpacked into ``/autograder/source``, the
submission is in ``/autograder/submission`` and the results go to
``/autograder/results/results.json``.  Ours holds::

    setup.sh                 installs Python 3.11 and bubblewrap (apt), then the wheel into a venv
    run_autograder           python -m autograder.build.gradescope ROOT: grade the submission
    dist/ch3_autograder-*.whl   this project (graders, hidden graders, reference solutions, sample)
    ch3-autograder.json      the data profile and the questions to grade
    data/                    the full data, when built with --data full --data-dir DIR

``setup.sh`` deletes ``dist/`` once installed, and the data folder is masked from student
code like every data directory, so a submission cannot read the hidden graders from the
zip.  For tests every path is configurable: ``CH3_AUTOGRADER_ROOT`` (default
``/autograder``), ``CH3_VENV``, ``CH3_PYTHON``, ``CH3_OFFLINE=1`` (skip apt),
``CH3_VENV_OPTIONS`` and ``CH3_PIP_OPTIONS``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from autograder.build.notebooks import PROJECT_DIR
from autograder.spec import PROFILES, load_spec

CONFIG_NAME = "ch3-autograder.json"
DATA_KIT = ("mnist/mnist.npz", "titanic/train.csv", "titanic/test.csv", "titanic/test_labels.csv",
            "spam/20030228_easy_ham.tar.bz2", "spam/20030228_hard_ham.tar.bz2", "spam/20030228_spam.tar.bz2")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
ROOT="${CH3_AUTOGRADER_ROOT:-/autograder}"
VENV="${CH3_VENV:-/opt/ch3-venv}"
PYTHON="${CH3_PYTHON:-python3.11}"
if [ -z "${CH3_OFFLINE:-}" ]; then
    apt-get update
    apt-get install -y python3.11 python3.11-venv bubblewrap
fi
"$PYTHON" -m venv ${CH3_VENV_OPTIONS:-} "$VENV"
"$VENV/bin/python" -m pip install ${CH3_PIP_OPTIONS:-} "$ROOT"/source/dist/*.whl
rm -rf "$ROOT/source/dist"   # the wheel holds the hidden graders: not left where submissions run
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission in the sandbox.
ROOT="${CH3_AUTOGRADER_ROOT:-/autograder}"
VENV="${CH3_VENV:-/opt/ch3-venv}"
cd "$ROOT"
exec "$VENV/bin/python" -m autograder.build.gradescope "$ROOT"
"""


def build_wheel(out_dir: Path) -> Path:
    """This project as a wheel (pip wheel, no dependencies)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out_dir), str(PROJECT_DIR)],
                   check=True)
    return next(Path(out_dir).glob("ch3_autograder-*.whl"))


def build_gradescope(out_dir: Path, *, profile: str = "quick", data_dir=None, questions=()) -> Path:
    """Write ``out_dir/autograder.zip``; return its path.

    Parameters
    ----------
    out_dir : Path
    profile : {"quick", "full"}
        The data the submissions are graded on; ``"full"`` needs ``data_dir`` (packed into the zip).
    data_dir : Path, optional
        The full-data folder (laid out as the data kit).
    questions : sequence of str
        Grade only these questions or modules (default: every question).
    """
    if profile not in PROFILES:
        raise ValueError(f"The 'profile' parameter must be one of {PROFILES}. Got {profile!r} instead.")
    if profile == "full" and data_dir is None:
        raise ValueError("The 'data_dir' parameter is required with profile='full' (the data is packed into the zip).")
    spec = load_spec()
    unknown = set(questions) - set(spec) - {q.module for q in spec.values()}
    if unknown:
        raise ValueError(f"Unknown question(s) {sorted(unknown)}; see `python -m autograder questions`.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / "autograder.zip"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        config = {"profile": profile, "questions": list(questions), "data_dir": "data" if profile == "full" else None}
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                zf.writestr(info, text)
            zf.writestr(CONFIG_NAME, json.dumps(config, indent=2))
            zf.write(wheel, f"dist/{wheel.name}")
            if profile == "full":
                for relative in DATA_KIT:
                    zf.write(Path(data_dir) / relative, f"data/{relative}")
    return archive


# ------------------------------------------------------------ run_autograder

def _submission(folder: Path) -> Path:
    """The folder itself, or the single .zip or .ipynb a student uploaded into it."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    modules = [p for p in entries if p.suffix in (".py", ".ipynb")]
    archives = [p for p in entries if p.suffix == ".zip"]
    if not modules and len(archives) == 1:
        return archives[0]
    if len(modules) == 1 and modules[0].suffix == ".ipynb":
        return modules[0]
    if not modules and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def run(root: Path) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; never fails without writing it."""
    from autograder.grading import grade

    root = Path(root)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    source = root / "source"
    config = json.loads((source / CONFIG_NAME).read_text())
    data_dir = source / config["data_dir"] if config.get("data_dir") else None
    try:
        grade(_submission(root / "submission"), results_dir, profile=config["profile"], data_dir=data_dir,
              questions=config["questions"], visibilities=("public", "hidden"))
        return json.loads((results_dir / "results.json").read_text())
    except Exception as exc:  # a results.json with the reason, so the student sees it on Gradescope
        detail = str(exc) if type(exc).__name__ == "CannotGrade" else traceback.format_exc()[-3000:]
        results = {"score": 0, "output": f"Your submission could not be graded: {detail}",
                   "stdout_visibility": "visible", "tests": []}
        (results_dir / "results.json").write_text(json.dumps(results, indent=2))
        return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Gradescope's run_autograder: grade ROOT/submission.")
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    results = run(parser.parse_args(argv).root)
    print(f"score {results['score']}")


if __name__ == "__main__":
    main()
