"""``python -m autograder``: the CLI (``ch3-grader`` is the same command).

The grader never imports a module from the folder it is started in, which may be a
submission (``cd SUB && python -m autograder grade .`` with ``SUB/numpy.py``): ``python -m``
puts the current directory first on ``sys.path``, so it is dropped here, before any other
import.  (A file named ``autograder.py`` in that folder would run *instead of* this package;
against that only ``python -P -m autograder`` or the ``ch3-grader`` command help.)

A ``grade`` or ``check`` goes to this installation's warm grader when one runs
(:mod:`autograder.warm`), before the CLI's own imports.
"""

import os
import sys


def _drop_working_directory() -> None:
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:  # the folder was removed: nothing to import from it either
        here = None
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != here]


def run() -> None:
    """The ``ch3-grader`` command."""
    _drop_working_directory()
    from autograder.warm import run_warm

    code = run_warm(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from autograder.cli import main

    main()


if __name__ == "__main__":
    run()
