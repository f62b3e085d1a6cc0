"""An Otter Grader assignment from the same declarations, whose tests call the toolkit's own checks.

``build_otter(out)`` writes ``out/master/chapter3.ipynb`` in otter-assign's format (one Otter
question per module: the stub, the reference solution in ``# BEGIN SOLUTION NO PROMPT``,
one exception-based test case per question of ``questions.toml`` with its points and
visibility) and this project's wheel beside it, and runs ``otter assign``, which leaves
``out/dist/student/chapter3.ipynb`` and ``out/dist/autograder/autograder.zip``.

The zip installs this project: the wheel is one of its ``autograder_files`` (Otter stores it
as ``files/dist/<wheel>``) and a requirement of its grading environment (``environment.yml``'s
pip list, next to otter-grader), written relative to the unpacked zip, which is where Otter's
``setup.sh`` creates the environment on Gradescope. Its Python is the one that built it.
``otter grade``'s Docker image runs ``setup.sh`` before it copies ``files/``, so it cannot
install the wheel (docs/guide/otter.md).

Each test case calls :func:`autograder.otter_check.otter_check` (a module the student bundle
ships), which grades the saved notebook with the sandboxed grader and sets the Otter test
file's score to the grader's points; see that module for what Otter's in-kernel model still
allows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autograder.build.gradescope import build_wheel
from autograder.build.notebooks import KERNEL, reference_sources, split_docstring, stub_sources
from autograder.contract import CONTRACT
from autograder.lock import LOCK_NAME
from autograder.intake.notebooks import METADATA_KEY
from autograder.spec import load_spec, select

NAME = "chapter3"
WHEEL_DIR = "dist"  # beside the master notebook; Otter puts autograder_files under files/ in the zip
INSTALL_OTTER = 'python -m pip install -c autograder/constraints.txt -e ".[otter]"'


class OtterMissing(RuntimeError):
    """otter-grader is not installed in this environment."""


@dataclass
class OtterAssignment:
    master: Path
    student: Path
    autograder_zip: Path
    modules: tuple[str, ...]


def _config(wheel: str) -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    config = {"name": NAME, "run_tests": False, "init_cell": True, "check_all_cell": False, "export_cell": False,
              "python_version": python,
              # The grading environment installs this project from the wheel inside the zip: a path
              # relative to the unpacked zip, where Otter's setup.sh creates the environment.
              # pip reads the constraints line relative to the requirements file, beside files/.
              "requirements": [f"-c ./files/{WHEEL_DIR}/{LOCK_NAME}", f"./files/{WHEEL_DIR}/{wheel}"],
              "autograder_files": [f"{WHEEL_DIR}/{wheel}", f"{WHEEL_DIR}/{LOCK_NAME}"],
              "generate": True, "tests": {"ok_format": False, "files": False}}
    return "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def _test_cell(question, modules) -> str:
    config = {"points": question.points, "hidden": question.visibility == "hidden"}
    function = f"test_{question.id.replace('.', '__')}"
    return (f'""" # BEGIN TEST CONFIG\n{yaml.safe_dump(config, sort_keys=False)}""" # END TEST CONFIG\n'
            f"def {function}(env):\n"
            f"    from autograder.otter_check import otter_check\n"
            f"    otter_check({question.id!r}, {tuple(modules)!r}, notebook={NAME + '.ipynb'!r})\n")


def master_notebook(modules, wheel: str) -> nbformat.NotebookNode:
    """The otter-assign master notebook for ``modules``, whose grading environment installs ``wheel``."""
    stubs, references = stub_sources(), reference_sources()
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_raw_cell(_config(wheel)),
                new_markdown_cell("# Chapter 3: Classification (Otter)\n\nFill in each section's code cell. Save "
                                  "the notebook before `grader.check(...)`: the checks grade the saved file, with "
                                  "the same sandboxed grader as `python -m autograder grade`.")]
    for module in modules:
        doc, stub = split_docstring(stubs[module])
        _, solution = split_docstring(references[module])
        title, _, body = doc.partition("\n")
        questions = select(load_spec(), chosen=[module])
        header = {"name": module}
        nb.cells += [
            new_raw_cell("# BEGIN QUESTION\n" + yaml.safe_dump(header, sort_keys=False)),
            new_markdown_cell(f"## `{module}`: {title}\n\n{body.strip()}".rstrip(),
                              metadata={METADATA_KEY: {"module": module}}),
            new_raw_cell("# BEGIN SOLUTION"),  # the student sees the stub; Otter's reference runs both
            new_code_cell(f"{stub}\n\n# BEGIN SOLUTION NO PROMPT\n{solution}\n# END SOLUTION"),
            new_raw_cell("# END SOLUTION"),
            new_raw_cell("# BEGIN TESTS"),
            *[new_code_cell(_test_cell(q, modules)) for q in questions],
            new_raw_cell("# END TESTS"),
            new_raw_cell("# END QUESTION"),
        ]
    return nb


def build_otter(out_dir: Path, modules=()) -> OtterAssignment:
    """Write the master notebook and this project's wheel, and run ``otter assign``.

    Parameters
    ----------
    out_dir : Path
    modules : sequence of str
        The modules (Otter questions) to include; default: all of them.

    Raises
    ------
    OtterMissing
        otter-grader is not installed (the ``otter`` extra).
    """
    try:
        import otter  # noqa: F401  (otter assign runs in this interpreter)
    except ImportError:
        raise OtterMissing(f"`build otter` runs otter-grader's `otter assign`, which is not installed here. "
                           f"Install the otter extra from the project folder: {INSTALL_OTTER}") from None
    modules = tuple(modules) or tuple(CONTRACT)
    unknown = [m for m in modules if m not in CONTRACT]
    if unknown:
        raise ValueError(f"The 'modules' parameter must name modules of {sorted(CONTRACT)}. Got {unknown}.")
    out_dir = Path(out_dir).resolve()
    master = out_dir / "master" / f"{NAME}.ipynb"
    master.parent.mkdir(parents=True, exist_ok=True)
    wheels = master.parent / WHEEL_DIR
    shutil.rmtree(wheels, ignore_errors=True)
    wheel = build_wheel(wheels)
    nbformat.write(master_notebook(modules, wheel.name), master)
    dist = out_dir / "dist"
    done = subprocess.run([sys.executable, "-m", "otter", "assign", "-v", master.name, str(dist)],
                          cwd=master.parent, capture_output=True, text=True)  # config paths: the master's folder
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    zips = sorted((dist / "autograder").glob(f"{NAME}-autograder_*.zip"))  # otter stamps the name with the time
    if len(zips) != 1:
        raise RuntimeError(f"otter assign left {len(zips)} autograder zips in {dist / 'autograder'}")
    archive = zips[0].rename(dist / "autograder" / "autograder.zip")
    return OtterAssignment(master, dist / "student" / f"{NAME}.ipynb", archive, modules)
