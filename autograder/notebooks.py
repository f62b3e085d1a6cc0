"""Notebook submissions: turn Jupyter notebooks into the modules the graders import.

    modules_from_notebook   one .ipynb -> {module: source}, a line map back to the cells, notes
    notebook_sources        a .ipynb or a folder of them (+ .py files) -> the files to grade
    translate_result        "confusion.py, line 14" in feedback -> "cell 12, line 3"
    notebook_check          the self-check cell of the generated notebooks (runs in the kernel)

Where a cell's code goes:

- a notebook named like a module (``confusion.ipynb``) is that module;
- the chapter notebook that ``build notebooks`` writes has a section per module: a
  markdown heading cell whose metadata says ``{"autograder": {"module": ...}}`` (or a
  heading naming ``module.py``); each code cell belongs to the section it sits in;
- any other notebook is placed by the names its cells define (``def precision`` is
  ``confusion``'s).  The contract reuses ``build_model`` (ex1, ex2) and
  ``build_pipeline`` (ex3, ex4): a cell that defines only such a name cannot be placed,
  and the notes say which names were ambiguous.  Cells that define no contract name
  (imports, helpers) go into every module.

What runs when the grader imports the module: only definitions.  Each cell is parsed
with :mod:`ast`; imports, ``def``, ``class``, docstrings and constant assignments (whose
calls are constructors such as ``re.compile`` or ``PorterStemmer()``) are kept, and every
other top-level statement (``model.fit(X, y)``, ``pd.read_csv(...)``, ``display(...)``,
``plt.show()``) is dropped and reported, so training on the full data or reading files
never happens at import.  Shell escapes (``!pip``) and magics (``%time``, ``%%bash``) are
dropped first.  Nothing here executes student code.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.files import NotARegularFile, read_regular_file

from autograder.contract import CONTRACT

if TYPE_CHECKING:
    import nbformat

#: A notebook larger than this is not read (outputs of a few MB are fine: they are ignored).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
#: Where prepare_submission leaves the line maps for translate_result (outside the submission folder).
LINE_MAP_FILE = "notebook-lines.json"
#: Cell metadata key that the generated notebooks use to mark a module's section.
METADATA_KEY = "autograder"
#: Pure callables allowed in a kept top-level assignment (besides constructors: CamelCase names).
PURE_CALLS = {"re.compile", "functools.lru_cache", "functools.partial", "lru_cache", "partial", "frozenset",
              "set", "dict", "list", "tuple", "range", "sorted", "np.array", "np.arange", "np.asarray",
              "numpy.array", "np.linspace", "np.logspace", "str", "int", "float", "bool"}
KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class NotebookError(ValueError):
    """A notebook that cannot be read at all (bad JSON, too large, not a notebook)."""


@dataclass
class NotebookModules:
    """What one notebook contributes: module sources, a map from module line to (cell, line), notes."""

    sources: dict[str, str] = field(default_factory=dict)
    #: module -> one (cell number, line in cell) per module line (1-based cells, all cells counted)
    lines: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: notes about one module only (dropped statements, cells with syntax errors)
    module_notes: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------ reading

def read_notebook(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """Read ``path`` as a regular file of at most MAX_NOTEBOOK_BYTES; return the notebook and notes."""
    path = Path(path)
    try:
        raw = read_regular_file(path, MAX_NOTEBOOK_BYTES)
    except NotARegularFile as exc:
        advice = ("; clear its outputs (Kernel > Restart & Clear Output) and save"
                  if "bytes allowed" in str(exc) else "")
        raise NotebookError(f"{path.name}: {exc}{advice}") from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path.name} is not valid notebook JSON ({exc}); open it in Jupyter and save it again, "
                            "or submit the .py modules") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no 'cells' list)")
    notes = []
    import nbformat  # here: grading .py files needs none of it (0.05 s)

    nb = nbformat.from_dict(data)
    metadata = nb.get("metadata", {})
    language = (metadata.get("kernelspec", {}).get("language") or metadata.get("language_info", {}).get("name"))
    if language is None:
        notes.append(f"{path.name} has no kernel metadata; its code cells were read as Python")
    elif str(language).lower() != "python":
        raise NotebookError(f"{path.name} is a {language} notebook; the exercises are in Python")
    return nb, notes


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# ------------------------------------------------------------ cell -> code

def strip_ipython(source: str) -> tuple[str, list[str]]:
    """Replace shell escapes and line magics by ``pass`` (same line numbers); drop ``%%`` cells."""
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return "", [f"the cell magic {lines[0].split()[0]} (the whole cell was left out)"]
    dropped, out = [], []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("!", "%")) or re.match(r"^[\w, ]+=\s*[!%]", stripped):
            dropped.append(stripped.split()[0] if stripped else stripped)
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
    return "\n".join(out), [f"`{d}`" for d in dropped]


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    return ""


def _is_constant_value(node: ast.AST) -> bool:
    """No call in ``node`` except constructors (CamelCase) and PURE_CALLS: cheap, no I/O, no training."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Call):
                continue  # functools.lru_cache(...)(f): the inner call is checked on its own
            name = _call_name(sub.func)
            if not name or not (name in PURE_CALLS or name.rsplit(".", 1)[-1][:1].isupper()
                                or (isinstance(sub.func, ast.Attribute) and isinstance(sub.func.value, ast.Call))):
                return False
        elif isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
    return True


def keeps(statement: ast.stmt) -> bool:
    """True for the top-level statements that run when the grader imports the module."""
    if isinstance(statement, KEPT_STATEMENTS):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True  # docstrings
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        simple = all(isinstance(n, (ast.Name, ast.Tuple, ast.Store)) for t in targets for n in ast.walk(t))
        return simple and _is_constant_value(statement.value)
    if isinstance(statement, ast.Try):  # try: import x / except ImportError: ...
        body = statement.body + statement.orelse + statement.finalbody + [
            s for h in statement.handlers for s in h.body]
        return all(keeps(s) or isinstance(s, ast.Pass) for s in body)
    return False


def is_scaffolding(statement: ast.stmt) -> bool:
    """The generated notebooks' own lines (self-checks, Otter's ``grader``): left out without a note."""
    text = ast.unparse(statement)
    return bool(re.match(r"(from autograder\.notebooks import|notebook_check\(|import otter\b|grader = otter\.|"
                         r"grader\.(check|export|check_all)\()", text))


def defined_names(statements) -> set[str]:
    names = set()
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@dataclass
class CodeCell:
    number: int                    # 1-based, every cell counted (markdown too), as in "cell 12"
    statements: list[tuple[str, int]]   # (source of a kept statement, its first line in the cell)
    future: list[str]              # `from __future__ import ...` lines, hoisted to the module's top
    names: set[str]
    notes: list[str]


def parse_cell(number: int, source: str) -> CodeCell:
    code, magics = strip_ipython(source)
    notes = [f"cell {number}: dropped {', '.join(magics)} (shell escapes and magics do not run when graded)"] \
        if magics else []
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        notes.append(f"cell {number}, line {exc.lineno}: syntax error ({exc.msg}); the cell was left out")
        return CodeCell(number, [], [], set(), notes)
    lines = code.split("\n")
    kept, future, dropped = [], [], []
    starts = [s.lineno for s in tree.body] + [s.end_lineno for s in tree.body]
    shared_lines = {n for n in starts if sum(s.lineno <= n <= s.end_lineno for s in tree.body) > 1}
    for statement in tree.body:
        start = min([d.lineno for d in getattr(statement, "decorator_list", [])] + [statement.lineno])
        segment = "\n".join(lines[start - 1: statement.end_lineno])
        if shared_lines & set(range(start, statement.end_lineno + 1)):  # `import x; model.fit(X)`: this part only
            segment = ast.unparse(statement)
        if is_scaffolding(statement):
            continue
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            future.append(segment.strip())
        elif keeps(statement):
            kept.append((segment, start))
        else:
            dropped.append(f"line {statement.lineno} `{ast.unparse(statement).splitlines()[0][:60]}`")
    if dropped:
        notes.append(f"cell {number}: top-level code other than definitions does not run when graded; "
                     f"dropped {', '.join(dropped)}")
    return CodeCell(number, kept, future, defined_names(s for s in tree.body if keeps(s)), notes)


# ---------------------------------------------------------- cell -> module

NAME_MODULES: dict[str, set[str]] = {}
for _module, _names in CONTRACT.items():
    for _name in _names:
        NAME_MODULES.setdefault(_name, set()).add(_module)


def section_module(cell) -> str | None:
    """The module whose section a markdown cell opens, or None."""
    marked = cell.get("metadata", {}).get(METADATA_KEY, {})
    if isinstance(marked, dict) and marked.get("module") in CONTRACT:
        return marked["module"]
    first = _source(cell).lstrip().split("\n", 1)[0]
    if first.startswith("#"):
        for module in CONTRACT:
            if re.search(rf"(`{module}`|\b{module}\.py\b)", first):
                return module
    return None


def candidate_modules(names: set[str]) -> set[str] | None:
    """Modules a cell defining ``names`` can belong to; None if it defines no contract name."""
    owned = [NAME_MODULES[n] for n in names if n in NAME_MODULES]
    if not owned:
        return None
    return set.intersection(*owned) if all(len(o) > 1 for o in owned) else \
        set.intersection(*[o for o in owned if len(o) == 1])


def assemble(cells: list[CodeCell]) -> tuple[str, list[tuple[int, int]]]:
    """One module from cells in order; returns the source and the (cell, line) of each module line."""
    future = sorted({f for c in cells for f in c.future})
    lines, where = list(future), [(0, 0)] * len(future)
    for cell in cells:
        for segment, start in cell.statements:
            for offset, line in enumerate(segment.split("\n")):
                lines.append(line)
                where.append((cell.number, start + offset))
    return "\n".join(lines) + "\n", where


def modules_from_notebook(path: Path, module: str | None = None) -> NotebookModules:
    """Turn one notebook into module sources (see the module docstring for the placement rules).

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file (read as a regular file of at most MAX_NOTEBOOK_BYTES).
    module : str, optional
        The module every code cell belongs to; default: the file's name if it is a module
        of the contract, else the sections or the names the cells define.

    Returns
    -------
    NotebookModules

    Raises
    ------
    NotebookError
        If the file is not a readable notebook.
    """
    path = Path(path)
    nb, notes = read_notebook(path)
    if module is None and path.stem in CONTRACT:
        module = path.stem
    if module is not None and module not in CONTRACT:
        raise ValueError(f"The 'module' parameter must be one of {sorted(CONTRACT)}. Got {module!r} instead.")
    result = NotebookModules(notes=notes)
    placed: dict[str, list[CodeCell]] = {}
    shared: list[CodeCell] = []
    has_sections = module is None and any(section_module(c) for c in nb.cells if c.get("cell_type") == "markdown")
    section = None
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") == "markdown" and has_sections:
            section = section_module(cell) or section
            continue
        if cell.get("cell_type") != "code":
            continue
        parsed = parse_cell(number, _source(cell))
        target = module or section
        if target is None and not has_sections:
            candidates = candidate_modules(parsed.names)
            if candidates is None:
                shared.append(parsed)
                result.notes += parsed.notes
                continue
            if not candidates:
                mixed = ", ".join(f"{n} ({'/'.join(sorted(NAME_MODULES[n]))})" for n in sorted(parsed.names)
                                  if n in NAME_MODULES)
                result.notes.append(f"cell {number} could not be placed: it defines names of different modules "
                                    f"({mixed}); put each module's code in its own cells")
                continue
            if len(candidates) != 1:
                ambiguous = sorted(n for n in parsed.names if len(NAME_MODULES.get(n, ())) > 1)
                contract = ", ".join(f"{n} ({' and '.join(sorted(NAME_MODULES[n]))})" for n in ambiguous) \
                    or ", ".join(sorted(parsed.names & set(NAME_MODULES)))
                result.notes.append(f"cell {number} could not be placed: it defines {contract}, asked for by more "
                                    "than one module; put each exercise in its own notebook named like the module "
                                    "(ex1_knn97.ipynb) or under the chapter notebook's section headings")
                continue
            target = candidates.pop()
        if target is None:  # code above the first section heading: shared set-up (imports, helpers)
            shared.append(parsed)
            result.notes += parsed.notes
            continue
        placed.setdefault(target, []).append(parsed)
        result.module_notes.setdefault(target, []).extend(parsed.notes)
    for name, cells in placed.items():
        ordered = sorted(shared + cells, key=lambda c: c.number)
        result.sources[name], result.lines[name] = assemble(ordered)
    if not placed:
        result.notes.append(f"{path.name}: no cell defines any of the names the exercises ask for "
                            f"(e.g. {', '.join(CONTRACT['confusion'])})")
    return result


# ---------------------------------------------------------- submissions

def notebook_sources(path: Path, workdir: Path) -> dict[str, bytes]:
    """The module files of a notebook submission (a ``.ipynb``, or a folder of notebooks and ``.py`` files).

    ``.py`` files in the folder win over a notebook's module of the same name.  Line maps
    and notes are written to ``workdir / LINE_MAP_FILE`` for :func:`translate_result`.

    Raises
    ------
    NotebookError
        If the submission is a single notebook that cannot be read.
    """
    path = Path(path)
    notebooks = [path] if path.is_file() else sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
    sources, lines, notes, module_notes = {}, {}, [], {}
    for notebook in notebooks:
        try:
            converted = modules_from_notebook(notebook)
        except NotebookError as exc:
            if path.is_file():
                raise
            notes.append(str(exc))
            continue
        for module, source in converted.sources.items():
            if f"{module}.py" in sources:
                notes.append(f"{notebook.name}: module {module} also comes from another notebook; the first was kept")
                continue
            sources[f"{module}.py"] = source.encode()
            lines[module] = {"notebook": notebook.name, "lines": converted.lines[module]}
            module_notes[module] = converted.module_notes.get(module, [])
        notes += converted.notes
    if path.is_dir():
        from autograder.grading import MAX_FILE_BYTES  # the same cap as a folder of modules

        for py in sorted(path.glob("*.py")):
            try:
                sources[py.name] = read_regular_file(py, MAX_FILE_BYTES)
            except NotARegularFile as exc:
                notes.append(f"skipped {py.name}: {exc}")
                continue
            lines.pop(py.stem, None)
    (Path(workdir) / LINE_MAP_FILE).write_text(json.dumps({"modules": lines, "notes": notes,
                                                            "module_notes": module_notes}))
    return sources


def translate(text: str, module: str, notebook: str, where: list) -> str:
    """Rewrite ``module.py, line N`` (tracebacks, syntax errors) as ``notebook, cell C, line L``."""
    def cell_of(match):
        number = int(match.group(1))
        if 1 <= number <= len(where) and where[number - 1][0]:
            cell, line = where[number - 1]
            return f"{notebook}, cell {cell}, line {line}"
        return match.group(0)
    return re.sub(rf'(?:File "[^"]*?\b{re.escape(module)}\.py", line |\b{re.escape(module)}\.py,? line )(\d+)',
                  cell_of, text)


def line_map(workdir: Path) -> dict | None:
    """The line map ``notebook_sources`` left in ``workdir`` (None: the submission had no notebook)."""
    path = Path(workdir) / LINE_MAP_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def translate_result(result, info: dict | None) -> None:
    """Translate line numbers and add the conversion's notes (``info``: a :func:`line_map`) to the feedback."""
    if not info:
        return
    for q in result.questions:
        mapping = info["modules"].get(q.module)
        if mapping:
            q.feedback = translate(q.feedback, q.module, mapping["notebook"], mapping["lines"])
            q.output = translate(q.output, q.module, mapping["notebook"], mapping["lines"])
        notes = info["module_notes"].get(q.module, [])
        if q.status == "import_error" or not mapping:
            notes = notes + info["notes"]
        if notes:
            q.feedback = "\n".join(filter(None, [q.feedback, *[f"Notebook: {n}" for n in notes]]))


# ------------------------------------------------------------- self-check

def _history_cells() -> list[str]:
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    if shell is None:
        return []
    return [cell for cell in shell.user_ns.get("In", [])[1:] if "notebook_check(" not in cell]


def module_from_history(cells: list[str], module: str) -> tuple[str, list[str]]:
    """``module``'s source from cells in the order they ran: cells defining its names, and set-up cells."""
    parsed = [parse_cell(number, source) for number, source in enumerate(cells, start=1)]
    chosen = []
    for cell in parsed:
        candidates = candidate_modules(cell.names)
        if candidates is None or module in candidates:
            chosen.append(cell)
    source, _ = assemble(chosen)
    notes = [n.replace("cell ", "executed cell [", 1).replace(":", "]:", 1) if n.startswith("cell ") else n
             for c in chosen for n in c.notes]
    return source, notes


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
    import shutil
    import tempfile

    from rich.console import Console

    from autograder.grading import grade
    from autograder.reporters import print_table

    module = question.split(".", 1)[0]
    if module not in CONTRACT:
        raise ValueError(f"The 'question' parameter must name a module of {sorted(CONTRACT)}. Got {question!r}.")
    source, notes = module_from_history(_history_cells() if cells is None else cells, module)
    folder = Path(tempfile.mkdtemp(prefix="ch3-check-"))
    try:
        (folder / f"{module}.py").write_text(source)
        from autograder.worker.sandbox import OWN_CODE, choose_isolation  # a student's own code, as `check`

        result = grade(folder, None, profile="quick", visibilities=("public",), questions=[question],
                       isolation=choose_isolation(fallback=OWN_CODE))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.submission = f"{module} (the code this notebook ran)"
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
