"""``python -m autograder``: the CLI (``ch3-grader`` is the same command).

The grader never imports a module from the folder it is started in, which may be a
submission (``cd SUB && python -m autograder grade .`` with ``SUB/numpy.py``): ``python -m``
puts the current directory first on ``sys.path``, so it is dropped here, before any other
import.  (A file named ``autograder.py`` in that folder would run *instead of* this package;
against that only ``python -P -m autograder`` or the ``ch3-grader`` command help.)
"""

import os
import sys


def _drop_working_directory() -> None:
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:  # the folder was removed: nothing to import from it either
        here = None
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != here]


_drop_working_directory()

from autograder.cli import main  # noqa: E402  (after the path is safe)

main()
