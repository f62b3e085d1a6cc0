"""Student notebooks from the stubs: the docstring as markdown, the stub code, a self-check per public question.

One notebook per module (``confusion.ipynb``) and one for the chapter (``chapter3.ipynb``)
with a section per module.  Section headings carry ``{"autograder": {"module": ...}}``
metadata, which is how a submitted chapter notebook's cells are placed
(:mod:`autograder.intake.notebooks`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.contract import CONTRACT
from autograder.intake.notebooks import METADATA_KEY
from autograder.paths import ASSIGNMENTS_DIR, SOLUTIONS_DIR
from autograder.spec import load_spec, select

STUBS_DIR = ASSIGNMENTS_DIR
CHAPTER_NOTEBOOK = "chapter3.ipynb"
SETUP = "from autograder.notebooks import notebook_check  # runs the public tests of `check` on your code"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def stub_sources(folder: Path = STUBS_DIR) -> dict[str, str]:
    """module -> stub source, in the contract's order."""
    return {module: (Path(folder) / f"{module}.py").read_text() for module in CONTRACT}


def split_docstring(source: str) -> tuple[str, str]:
    """(the module docstring, the code after it)."""
    tree = ast.parse(source)
    doc = ast.get_docstring(tree) or ""
    if doc and isinstance(tree.body[0], ast.Expr):
        code = "\n".join(source.split("\n")[tree.body[0].end_lineno:])
    else:
        code = source
    return doc, code.strip("\n")


def module_cells(module: str, source: str, *, level: str = "#") -> list:
    """The cells of one module: heading + task, the answer cell, one self-check per public question."""
    doc, code = split_docstring(source)
    title, _, body = doc.partition("\n")
    cells = [new_markdown_cell(f"{level} `{module}`: {title}\n\n{body.strip()}".rstrip(),
                               metadata={METADATA_KEY: {"module": module}}),
             new_code_cell(code, metadata={METADATA_KEY: {"module": module, "role": "answer"}})]
    questions = select(load_spec(), ("public",), [module])
    for q in questions:
        cells.append(new_markdown_cell(f"**Self-check: {q.title}** ({q.points:g} points)"))
        cells.append(new_code_cell(f'notebook_check("{q.id}")',
                                   metadata={METADATA_KEY: {"module": module, "role": "check", "question": q.id}}))
    hidden = sum(q.points for q in select(load_spec(), ("hidden",), [module]))
    if hidden:
        cells.append(new_markdown_cell(f"*{hidden:g} more points of `{module}` are graded by hidden tests "
                                       "when you submit.*"))
    return cells


def module_notebook(module: str, source: str):
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_code_cell(SETUP), *module_cells(module, source)]
    return nb


def chapter_notebook(sources: dict[str, str]):
    nb = new_notebook(metadata=dict(KERNEL))
    nb.cells = [new_markdown_cell("# Chapter 3: Classification\n\nFill in each section's code cell, run it, then "
                                  "its self-check cells. Keep your code inside its section: the grader takes "
                                  "each section's code cells as that module (`build_model` exists in two "
                                  "exercises). Top-level code other than imports, definitions and constants "
                                  "is not run when graded."),
                new_code_cell(SETUP)]
    for module, source in sources.items():
        nb.cells += module_cells(module, source, level="##")
    return nb


def build_notebooks(out_dir: Path, sources: dict[str, str] | None = None) -> list[Path]:
    """Write ``<module>.ipynb`` for every module and ``chapter3.ipynb``; return the paths.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created).
    sources : dict, optional
        module -> code for the answer cells; default: the stubs in ``assignments/``.
    """
    sources = sources or stub_sources()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for module, source in sources.items():
        path = out_dir / f"{module}.ipynb"
        nbformat.write(module_notebook(module, source), path)
        written.append(path)
    nbformat.write(chapter_notebook(sources), out_dir / CHAPTER_NOTEBOOK)
    return [*written, out_dir / CHAPTER_NOTEBOOK]


def reference_sources() -> dict[str, str]:
    """The reference solutions as notebook code (each reference module stands alone)."""
    return {module: (SOLUTIONS_DIR / f"{module}.py").read_text() for module in CONTRACT}


def fill_answers(nb, sources: dict[str, str]):
    """A copy of ``nb`` whose answer cells hold ``sources`` (module -> code) instead of the stubs."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        role = cell.get("metadata", {}).get(METADATA_KEY, {})
        if role.get("role") == "answer" and role.get("module") in sources:
            cell.source = split_docstring(sources[role["module"]])[1]
    return nb
