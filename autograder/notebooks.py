"""The self-check cell of the generated notebooks: ``notebook_check("confusion.public_example")``.

It runs in the student's kernel, on the code the notebook has run so far, as ``check`` does: the
kernel's history becomes the module (:func:`autograder.intake.notebooks.module_from_history`), and
the pipeline grades it (:func:`autograder.grading.grade`) with the self-check's options.
Notebook conversion itself is :mod:`autograder.intake.notebooks`.
"""

from __future__ import annotations

from autograder.contract import CONTRACT
from autograder.grading import grade
from autograder.intake import PreparedSubmission
from autograder.intake.notebooks import module_from_history
from autograder.options import for_check


def _history_cells() -> list[str]:
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    if shell is None:
        return []
    return [cell for cell in shell.user_ns.get("In", [])[1:] if "notebook_check(" not in cell]


def notebook_check(question: str, *, cells: list[str] | None = None, quiet: bool = False):
    """Run ``question``'s public tests on the code this notebook has run so far, as ``check`` does.

    Parameters
    ----------
    question : str
        A question id (``"confusion.public_example"``) or a module name.
    cells : list of str, optional
        The code cells to grade, in the order they ran; default: the kernel's history (``In``).
    quiet : bool
        Return the result without printing.

    Returns
    -------
    GradingResult or None
        None when printing (so the notebook shows no repr).
    """
    from rich.console import Console

    from autograder.reporters import print_table

    module = question.split(".", 1)[0]
    if module not in CONTRACT:
        raise ValueError(f"The 'question' parameter must name a module of {sorted(CONTRACT)}. Got {question!r}.")
    source, notes = module_from_history(_history_cells() if cells is None else cells, module)
    result = grade(PreparedSubmission({f"{module}.py": source.encode()}), for_check([question]),
                   source=f"{module} (the code this notebook ran)")
    if quiet:
        return result
    console = Console(width=110, force_jupyter=False, force_terminal=False)
    print_table(result, console, hints=True)
    for q in result.questions:
        if q.status != "passed":
            console.print(f"{q.id}: {q.status.replace('_', ' ')}\n{q.feedback}")
    for note in notes:
        console.print(f"note: {note}")
    return None
