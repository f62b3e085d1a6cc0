"""Where the installed grader's parts are: one home for every package path."""

from __future__ import annotations

from pathlib import Path

#: The ``autograder`` package.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The checkout or install root that holds the package (and, in a checkout, the reference solutions).
PROJECT_DIR = PACKAGE_DIR.parent
#: The pytest graders: ``public/`` (``check``) and ``hidden/`` (``grade``).
GRADERS_DIR = PACKAGE_DIR / "graders"
#: The reference solutions, a package beside this one with the same API as the student stubs.
SOLUTIONS_DIR = PROJECT_DIR / "solutions"
#: The student stubs.
ASSIGNMENTS_DIR = PROJECT_DIR / "assignments"
