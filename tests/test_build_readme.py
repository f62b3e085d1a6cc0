"""The commands of the user guides for notebook, Otter and Gradescope users (and the bundle) run as written.

Each guide is a README section or a page of the documentation site (``docs/guide/``); the commands
are the lines of its ```bash blocks that start with ``python -m``, except in blocks marked
``docs-test: skip``."""

import json
import re
import subprocess
import sys

import pytest

from submissions import PROJECT

#: guide -> (file, section heading; None: the whole page)
SECTIONS = {"Notebook users": ("README.md", "Notebook users"), "Otter": ("docs/guide/otter.md", None),
            "Gradescope users": ("README.md", "Gradescope users"),
            "The student bundle": ("docs/guide/student-bundle.md", None)}


def readme_commands(section: str) -> list[str]:
    path, heading = SECTIONS[section]
    body = (PROJECT / path).read_text()
    if heading is not None:
        body = body.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    # A block marked "docs-test: skip" runs elsewhere (a student's environment, an install).
    blocks = [code for marker, code in re.findall(r"(docs-test: skip[^\n]*\n)?```bash\n(.*?)```", body, flags=re.S)
              if not marker]
    return [line.split(" #")[0] for block in blocks for line in block.splitlines() if line.startswith("python -m ")]


def test_every_section_has_commands():
    for section in SECTIONS:
        assert readme_commands(section), section


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    for section in SECTIONS:
        for command in readme_commands(section):
            done = subprocess.run([sys.executable, *command.split()[1:]], cwd=tmp_path, capture_output=True,
                                  text=True, timeout=600)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert (tmp_path / "notebooks" / "chapter3.ipynb").is_file()
    assert json.loads((tmp_path / "grading-out" / "results.json").read_text())["score"] == 0  # the stubs
    assert json.loads((tmp_path / "otter-assignment" / "results.json").read_text())["tests"]
    assert (tmp_path / "gradescope-out" / "autograder.zip").is_file()
    assert (tmp_path / "ch3-student.zip").is_file() and (tmp_path / "ch3-student" / "package").is_dir()
