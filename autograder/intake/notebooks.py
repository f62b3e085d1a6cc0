"""Notebook submissions: turn Jupyter notebooks into the modules the graders import.

    modules_from_notebook   one .ipynb -> {module: source}, a line map back to the cells, a placement summary
    modules_from_script     one plain .py script -> the same, placed statement by statement (lines, not cells)
    notebook_sources        a .ipynb or a folder of them (+ .py files) -> the files to grade
    script_sources          a folder or zip of .py files -> its modules and those its scripts define
    translate_result        "confusion.py, line 14" in feedback -> "cell 12, line 3"
    module_from_history     the cells a kernel ran -> one module's source (``notebook_check``)

Where a cell's code goes:

- a notebook named like a module (``confusion.ipynb``) is that module, except for cells defining
  only another module's names (they go to that module);
- several notebooks (and scripts) defining one module make one module of all their definitions
  (the first's definition is graded where both define a name; a note says so);
- the chapter notebook that ``build notebooks`` writes has a section per module: a
  markdown heading cell whose metadata says ``{"autograder": {"module": ...}}`` (or a
  heading naming ``module.py``); each code cell belongs to the section it sits in;
- any other notebook is placed by the contract names its cells define, of the contract's
  kind (``def precision`` is ``confusion``'s; a variable ``param_grid = {...}`` is not ex1's
  ``param_grid`` function).  The book's own names count as the contract's
  (``class Never5Classifier`` defines ``NeverClassifier``; see ``contract.BOOK_NAMES``).  The
  contract reuses ``build_model`` (ex1, ex2) and ``build_pipeline`` (ex3, ex4): a cell that
  defines only such a name cannot be placed, and the summary says so.

Cells that define no contract name (imports, helpers, exploration) are shared: a module gets
a shared statement only when its own code uses a name that statement binds.

What runs when the grader imports a module: only definitions and cheap set-up.  Each cell is
parsed with :mod:`ast`; imports, ``def``, ``class``, docstrings and constant assignments (whose
calls are constructors such as ``re.compile`` or ``PorterStemmer()``) are kept, and every other
top-level statement (``model.fit(X, y)``, ``mnist = fetch_openml(...)``, ``plt.show()``) is
dropped, so nothing trains or downloads at import.  Then a def-use pass drops each kept
statement that reads, at import (default arguments and base classes included), a name that only
dropped statements bind (``X, y = mnist.data, mnist.target`` after ``mnist = fetch_openml(...)``).
An import of a package the grader does not have (``google.colab``, ``seaborn``) is dropped when
nothing kept needs it.  Every kept statement other than a definition runs guarded: if it fails,
the module still imports and the failure is printed as a note.  Shell escapes (``!pip``) and
magics (``%time``, ``%%bash``) are dropped first.  Nothing here executes student code, and a
notebook's code is read only up to the size a module may have.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib.util
import json
import math
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.contract import BOOK_DIFFERENCES, BOOK_NAMES, CONTRACT, TOP_LEVEL_CLUES, kind_of
from autograder.files import NotARegularFile, read_regular_file
from autograder.paths import ASSIGNMENTS_DIR

if TYPE_CHECKING:
    import nbformat

#: A notebook larger than this is not read (outputs of a few MB are fine: they are ignored).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
#: The code read from one notebook (all code cells together), and from one cell, in characters.
#: Parsing costs the grader about 1 KB of memory per character of the densest code (``x=1`` lines),
#: so a module file's size limit (``grading.MAX_FILE_BYTES``) would cost GBs; these bounds keep the
#: conversion's peak under 500 MB (benchmarks/bench_notebook_memory.py).  A cell holds at most what
#: one question's module may hold (``source_kb`` in questions.toml); real chapter notebooks have
#: ~60 KB of code, the chapter notebook filled with every reference solution ~100 KB.
MAX_NOTEBOOK_CODE_CHARS = 512 * 1024
MAX_CELL_CODE_CHARS = 128 * 1024
#: Cells in one notebook (the chapter's notebooks have a few hundred).
MAX_NOTEBOOK_CELLS = 2_000
#: JSON objects and lists (cells, outputs, metadata), and values, in one notebook, counted on the raw
#: bytes before the JSON is parsed: parsing builds a Python object for each (a 50 MB notebook of
#: empty cells cost 2.3 GB), so these bound the parse as MAX_NOTEBOOK_BYTES bounds the read. Real
#: notebooks have about a thousand objects and two thousand values.
MAX_NOTEBOOK_CONTAINERS = 50_000
MAX_NOTEBOOK_VALUES = 1_000_000
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Cell metadata key that the generated notebooks use to mark a module's section.
METADATA_KEY = "autograder"
#: Pure callables allowed in a kept top-level assignment (besides constructors: CamelCase names).
PURE_CALLS = {"re.compile", "functools.lru_cache", "functools.partial", "lru_cache", "partial", "frozenset",
              "set", "dict", "list", "tuple", "range", "sorted", "np.array", "np.arange", "np.asarray",
              "numpy.array", "np.linspace", "np.logspace", "str", "int", "float", "bool"}
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, *DEFINITIONS)
#: How many dropped statements the placement summary lists by name (the rest are counted).
LISTED_DROPS = 12
#: How many cells a "computes it at top level" hint names.
HINTED_CELLS = 3
#: The longest note the conversion writes (the reports show notes whole at the top).
NOTE_CHARS = 600


class NotebookError(ValueError):
    """A notebook that cannot be read at all (bad JSON, too large, too deep, not a notebook)."""


@dataclass
class NotebookModules:
    """What one notebook contributes: module sources, a map from module line to (cell, line), notes."""

    sources: dict[str, str] = field(default_factory=dict)
    #: module -> one (cell number, line in cell) per module line (1-based cells, all cells counted)
    lines: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: the placement summary: which cells went where, names found and missing, what was dropped
    notes: list[str] = field(default_factory=list)
    #: contract names each module got from this notebook (book names counted as the contract's)
    found: dict[str, list[str]] = field(default_factory=dict)
    #: module -> (kept statements, ``__future__`` lines, book-name aliases): what ``assemble`` made it from,
    #: so that a second notebook defining the same module can add its definitions
    parts: dict[str, tuple] = field(default_factory=dict)


def _cap(text: str, limit: int = NOTE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 30] + f" ... ({len(text) - limit + 30:,} more characters)"


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
    cannot_read = (f"cannot read {path.name}: it is not valid notebook JSON ({{}}); open it in Jupyter and "
                   "save it again, or submit the .py modules")
    _check_structure(path.name, raw)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise NotebookError(cannot_read.format("nested too deeply")) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotebookError(cannot_read.format(_cap(str(exc), 200))) from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"cannot read {path.name}: it is JSON but not a Jupyter notebook (no 'cells' list)")
    if len(data["cells"]) > MAX_NOTEBOOK_CELLS:
        raise NotebookError(f"cannot read {path.name}: it has {len(data['cells']):,} cells, more than the "
                            f"{MAX_NOTEBOOK_CELLS:,} a notebook may have; delete the empty and scratch cells and save")
    cells = []
    for cell in data["cells"]:  # only what the conversion reads, checked before nbformat walks it
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type", ""), str):
            raise NotebookError(f"cannot read {path.name}: cell {len(cells) + 1} is not a notebook cell")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"cannot read {path.name}: cell {len(cells) + 1}'s source is not text")
        metadata = cell.get("metadata", {})
        marked = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        cells.append({"cell_type": cell.get("cell_type", ""), "source": source,
                      "metadata": {METADATA_KEY: marked} if isinstance(marked, dict) else {}})
    code = sum(len(c["source"]) for c in cells if c["cell_type"] == "code")
    if code > MAX_NOTEBOOK_CODE_CHARS:
        raise NotebookError(f"cannot read {path.name}: its code cells hold {code:,} characters, more than the "
                            f"{MAX_NOTEBOOK_CODE_CHARS:,} a notebook may have; submit the exercises' code only")
    notes = []
    import nbformat  # here: grading .py files needs none of it (0.05 s)

    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    kernel = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    language = kernel.get("language") or info.get("name")
    if language is None:
        notes.append(f"{path.name} has no kernel metadata; its code cells were read as Python")
    elif str(language).lower() != "python":
        raise NotebookError(f"{path.name} is a {_cap(str(language), 40)} notebook; the exercises are in Python")
    nb = nbformat.from_dict({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    return nb, notes


def _check_structure(name: str, raw: bytes) -> None:
    """Refuse a notebook with more JSON objects, lists or values than the bounds, before parsing it.

    The separators are counted between strings (those inside strings are code and output, not
    structure), in place: nothing is copied, and the count stops once a bound is passed."""
    containers = values = position = 0

    def count(start, end):
        nonlocal containers, values
        braces = raw.count(b"{", start, end) + raw.count(b"[", start, end)
        containers += braces
        values += braces + raw.count(b",", start, end)

    for match in _JSON_STRING.finditer(raw):
        count(position, match.start())
        position = match.end()
        if containers > MAX_NOTEBOOK_CONTAINERS or values > MAX_NOTEBOOK_VALUES:
            break
    else:
        count(position, len(raw))
    if containers > MAX_NOTEBOOK_CONTAINERS or values > MAX_NOTEBOOK_VALUES:
        raise NotebookError(
            f"cannot read {name}: it holds more than {min(containers, MAX_NOTEBOOK_CONTAINERS):,} cells, outputs and "
            f"other entries or {min(values, MAX_NOTEBOOK_VALUES):,} values (more than the "
            f"{MAX_NOTEBOOK_CONTAINERS:,} entries and {MAX_NOTEBOOK_VALUES:,} values a notebook may have); clear "
            "its outputs (Kernel > Restart & Clear Output), delete empty cells and save")


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
    return "\n".join(out), [f"`{d[:40]}`" for d in dropped]


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    return ""


def _is_constant_value(node: ast.AST) -> bool:
    """No call in ``node`` except constructors (CamelCase) and PURE_CALLS: cheap, no I/O, no training.

    A method called on a call's result (``SGDClassifier().fit(X, y)``) is a call like any other.
    """
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Call):
                continue  # functools.lru_cache(...)(f): the inner call is checked on its own
            name = _call_name(sub.func)
            if not name or not (name in PURE_CALLS or name.rsplit(".", 1)[-1][:1].isupper()):
                return False
        elif isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
    return True


def keeps(statement: ast.stmt) -> bool:
    """True for the top-level statements that may run when the grader imports the module."""
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


def set_up_of_try(statement: ast.stmt) -> ast.Try | None:
    """A top-level ``try`` that sets something up (imports, constants) among other statements (a demo loop, a
    print), reduced to what :func:`keeps` keeps in each of its blocks; None when it is no such ``try``."""
    if not isinstance(statement, ast.Try) or keeps(statement):
        return None
    def kept(block, required=False):
        body = [s for s in block if keeps(s)]
        return body or ([ast.Pass()] if required else [])
    body = kept(statement.body)
    if not any(isinstance(s, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)) for s in body):
        return None
    handlers = [ast.ExceptHandler(type=h.type, name=h.name, body=kept(h.body, required=True))
                for h in statement.handlers]
    reduced = ast.Try(body=body, handlers=handlers, orelse=kept(statement.orelse),
                      finalbody=kept(statement.finalbody))
    if not handlers and not reduced.finalbody:
        reduced.finalbody = [ast.Pass()]
    return ast.fix_missing_locations(ast.copy_location(reduced, statement))


def is_scaffolding(statement: ast.stmt, text: str | None = None) -> bool:
    """The generated notebooks' own lines (self-checks, Otter's ``grader``): left out without a note.

    ``text``: the statement's first source line (saves unparsing it)."""
    if not isinstance(statement, (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign)):
        return False
    text = ast.unparse(statement) if text is None else text.strip()
    return bool(re.match(r"(from autograder\.notebooks import|notebook_check\(|import otter\b|grader = otter\.|"
                         r"grader\.(check|export|check_all)\()", text))


class _Names(ast.NodeVisitor):
    """The global names a top-level statement binds, reads when it runs, and reads when called later."""

    def __init__(self):
        self.binds, self.reads, self.uses = set(), set(), set()

    def statement(self, node: ast.stmt) -> "_Names":
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.binds.add(node.name)
            self._signature(node)
            self.uses |= _body_globals(node)
        elif isinstance(node, ast.ClassDef):
            self.binds.add(node.name)
            for expr in [*node.bases, *(k.value for k in node.keywords), *node.decorator_list]:
                self.reads |= _loads(expr)
            local: set[str] = set()
            for item in node.body:  # the class body runs now; its methods' bodies run when called
                inner = _Names().statement(item)
                self.reads |= inner.reads - local
                self.uses |= inner.uses
                local |= inner.binds
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    self.binds.add((alias.asname or alias.name).split(".")[0])
        else:
            stores = {n.id for n in _walk_here(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            stores |= {n.name for n in _walk_here(node) if isinstance(n, ast.ExceptHandler) and n.name}
            for sub in _walk_here(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    stores |= {(a.asname or a.name).split(".")[0] for a in sub.names if a.name != "*"}
                elif isinstance(sub, DEFINITIONS):
                    inner = _Names().statement(sub)
                    stores |= inner.binds
                    self.reads |= inner.reads
                    self.uses |= inner.uses
            comprehension = {n.id for c in _walk_here(node) if isinstance(c, ast.comprehension)
                             for n in ast.walk(c.target) if isinstance(n, ast.Name)}
            loads = {n.id for n in _walk_here(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            self.binds |= stores - comprehension
            self.reads |= loads - comprehension
            for sub in _walk_here(node):
                if isinstance(sub, ast.Lambda):
                    self.uses |= _loads(sub.body) - {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
        return self

    def _signature(self, node) -> None:
        args = node.args
        for expr in [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.reads |= _loads(expr)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.reads |= _loads(arg.annotation)
        if node.returns is not None:
            self.reads |= _loads(node.returns)


def _walk_here(node: ast.AST):
    """ast.walk that does not enter function or class bodies, nor lambdas (they run later)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and isinstance(current, (*DEFINITIONS, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(current))


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _body_globals(function) -> set[str]:
    """Names a function's body reads that it does not bind itself (its globals, roughly)."""
    local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    loads = set()
    for item in function.body:
        for n in ast.walk(item):
            if isinstance(n, ast.Name):
                (loads if isinstance(n.ctx, ast.Load) else local).add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(n.name)
            elif isinstance(n, ast.arg):
                local.add(n.arg)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                local |= {(a.asname or a.name).split(".")[0] for a in n.names}
    return loads - local


@dataclass(slots=True)
class Statement:
    """One top-level statement of a cell, with what the def-use pass needs (the tree is not kept)."""

    cell: int
    line: int                   # first line in the cell (decorators included)
    text: str                   # the statement's source as written
    kind: str                   # "definition", "import", "code" (kept, guarded) or "dropped"
    binds: frozenset
    reads: frozenset            # global names read when the statement runs
    uses: frozenset             # global names read later, when a function it defines is called
    defines: dict               # name -> "function" / "class" / "value"
    packages: tuple = ()        # top-level packages an import statement needs
    guard: bool = True          # False: an import of installed packages, copied without ``try``
    reason: str = ""            # why a dropped statement was dropped
    notebook: str = ""          # the notebook it comes from, where a module merges several

    @property
    def where(self) -> str:
        return f"cell {self.cell}, line {self.line}"

    def headline(self) -> str:
        first = next((line.split("  #")[0].strip() for line in self.text.split("\n") if line.strip()), "")
        return f"`{first[:60]}{'...' if len(first) > 60 else ''}`"


@dataclass
class CodeCell:
    number: int                    # 1-based, every cell counted (markdown too), as in "cell 12"
    statements: list[Statement]
    future: list[str]              # `from __future__ import ...` lines, hoisted to the module's top
    notes: list[str]

    @property
    def names(self) -> set[str]:
        """Names the cell's kept statements bind."""
        return {n for s in self.statements if s.kind != "dropped" for n in s.binds}

    @property
    def contract_names(self) -> dict[str, str]:
        """Contract name -> the name the cell defines it by (itself, or the book's name), kinds matching."""
        found = {}
        for statement in self.statements:
            for name, kind in statement.defines.items():
                target = BOOK_NAMES.get(name, name)
                if target in NAME_MODULES and kind == kind_of(target) and statement.kind == "definition":
                    found.setdefault(target, name)
        return found


def _kind_of_definition(statement: ast.stmt) -> dict[str, str]:
    if isinstance(statement, ast.ClassDef):
        return {statement.name: "class"}
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {statement.name: "function"}
    return {}


def parse_cell(number: int, source: str) -> CodeCell:
    if len(source) > MAX_CELL_CODE_CHARS:
        return CodeCell(number, [], [], [f"cell {number} holds {len(source):,} characters of code, more than the "
                                         f"{MAX_CELL_CODE_CHARS:,} a cell may have; the cell was left out"])
    code, magics = strip_ipython(source)
    notes = [f"cell {number}: dropped {', '.join(magics[:5])}{' ...' if len(magics) > 5 else ''} "
             "(shell escapes and magics do not run when graded)"] if magics else []
    try:
        with warnings.catch_warnings():  # the student's invalid escapes are theirs to see, not the grader's log
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except SyntaxError as exc:
        notes.append(f"cell {number}, line {exc.lineno}: syntax error ({exc.msg}); the cell was left out")
        return CodeCell(number, [], [], notes)
    except (RecursionError, MemoryError, ValueError) as exc:  # nested past the parser's limits, NUL bytes
        notes.append(f"cell {number}: cannot be parsed ({type(exc).__name__}); the cell was left out")
        return CodeCell(number, [], [], notes)
    lines = code.split("\n")
    statements, future = [], []
    for node in tree.body:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        if is_scaffolding(node, lines[node.lineno - 1][node.col_offset:]):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append(ast.unparse(node))
            continue
        try:
            names = _Names().statement(node)
        except RecursionError:
            notes.append(f"cell {number}, line {node.lineno}: nested too deeply to be read; left out")
            continue
        if isinstance(node, DEFINITIONS) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            kind, text = "definition", "\n".join(lines[start - 1: node.end_lineno])
            shared = any(other is not node and other.lineno <= node.end_lineno and other.end_lineno >= start
                         for other in tree.body)
            if shared:  # `def f(): pass; x = 1` on one line: this part only
                text = ast.unparse(node)
        elif keeps(node):
            kind = "import" if isinstance(node, (ast.Import, ast.ImportFrom)) else "code"
            text = ast.unparse(node)  # guarded statements are re-indented: unparse keeps strings intact
        elif (reduced := set_up_of_try(node)) is not None:
            # try: import nltk; stemmer = nltk.PorterStemmer(); <a demo loop> / except ImportError: stemmer = None
            kind, text, names = "code", ast.unparse(reduced), _Names().statement(reduced)
            notes.append(f"cell {number}, line {node.lineno}: of its try statement only the imports and constants "
                         "run when graded (the other statements in it do not)")
        else:
            kind, text = "dropped", lines[node.lineno - 1][node.col_offset:][:200]  # shown, never run
        packages = ()
        if isinstance(node, ast.Import):
            packages = tuple(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            packages = (node.module.split(".")[0],)
        statements.append(Statement(
            number, start, text, kind, frozenset(names.binds), frozenset(names.reads - names.binds
                                                                         if kind == "code" else names.reads),
            frozenset(names.uses), _kind_of_definition(node) or {n: "value" for n in names.binds},
            packages=packages, reason="top-level code other than definitions" if kind == "dropped" else ""))
    return CodeCell(number, statements, future, notes)


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


def candidate_modules(names) -> set[str] | None:
    """Modules a cell defining contract ``names`` can belong to; None if it defines no contract name."""
    owned = [NAME_MODULES[n] for n in names if n in NAME_MODULES]
    if not owned:
        return None
    return set.intersection(*owned) if all(len(o) > 1 for o in owned) else \
        set.intersection(*[o for o in owned if len(o) == 1])


def _available(package: str, local_modules: set[str]) -> bool:
    if package in local_modules or package in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def select_statements(own: list[Statement], shared: list[Statement], local_modules: set[str] = frozenset()
                      ) -> tuple[list[Statement], list[Statement]]:
    """A module's statements: its own cells' kept statements and the shared ones they need.

    Returns ``(kept, dropped)`` in notebook order; a dropped statement's ``reason`` says why.
    Shared statements come in only when kept code (at import or when called) uses a name they
    bind; a statement reading at import a name that only dropped statements bind is dropped.
    """
    candidates = sorted(own + shared, key=lambda s: (s.cell, s.line))
    chosen = {id(s) for s in own if s.kind != "dropped"}
    needed = {n for s in own if s.kind != "dropped" for n in s.reads | s.uses}
    dropped_reason: dict[int, str] = {}
    changed = True
    while changed:
        changed = False
        for statement in shared:  # helper cells and imports: only where their names are used
            if id(statement) not in chosen and statement.kind != "dropped" and statement.binds & needed:
                chosen.add(id(statement))
                needed |= statement.reads | statement.uses
                changed = True
        kept_binds = {n for s in candidates if id(s) in chosen and id(s) not in dropped_reason for n in s.binds}
        dropped_binds: dict[str, Statement] = {}
        for s in candidates:
            if s.kind == "dropped" or id(s) in dropped_reason:
                for name in s.binds - kept_binds:
                    dropped_binds.setdefault(name, s)
        for s in candidates:
            if id(s) not in chosen or id(s) in dropped_reason:
                continue
            missing = sorted(n for n in s.reads if n in dropped_binds)
            if missing:
                origin = dropped_binds[missing[0]]
                dropped_reason[id(s)] = (f"it reads `{missing[0]}`, which only dropped code sets "
                                         f"({origin.where})")
                changed = True
            elif s.kind == "import" and not s.binds & needed and not all(
                    _available(p, local_modules) for p in s.packages):
                dropped_reason[id(s)] = (f"the grader has no `{next(p for p in s.packages if not _available(p, local_modules))}` "
                                         "and no kept code uses it")
                changed = True
    own_ids = {id(s) for s in own}
    kept, dropped = [], []
    for s in candidates:
        if s.kind == "import":
            s.guard = not all(_available(p, set()) for p in s.packages)
    for s in candidates:  # dropped: the module's own, and shared code binding a name the module uses
        if id(s) in chosen and id(s) not in dropped_reason:
            kept.append(s)
        elif id(s) in dropped_reason:
            dropped.append(dataclasses.replace(s, kind="dropped", reason=dropped_reason[id(s)]))
        elif s.kind == "dropped" and (id(s) in own_ids or s.binds & needed):
            dropped.append(s)
    return kept, dropped


GUARD = ("except Exception as _notebook_error:\n"
         "    __import__('sys').stderr.write(f'Notebook: {where} did not run when graded "
         "({{type(_notebook_error).__name__}}: {{_notebook_error}})\\n')")


def assemble(statements: list[Statement], future=(), aliases: dict[str, Statement] | None = None
             ) -> tuple[str, list[tuple[int, int]]]:
    """One module from statements in order; returns the source and the (cell, line) of each module line.

    Definitions are copied as written (tracebacks point at the student's lines); every other
    statement runs inside ``try``, so that its failure is a printed note, not an import error.
    ``aliases``: contract name -> the definition of the book's name it is graded as.
    """
    lines, where = list(future), [(0, 0)] * len(future)
    for statement in statements:
        origin = (statement.notebook,) if statement.notebook else ()
        if statement.kind == "definition" or (statement.kind == "import" and statement.guard is False):
            for offset, line in enumerate(statement.text.split("\n")):
                lines.append(line)
                where.append((statement.cell, statement.line + offset, *origin))
            continue
        place = f"{statement.notebook}, {statement.where}" if statement.notebook.endswith(".ipynb") else statement.where
        body = ["try:", *("    " + line for line in statement.text.split("\n")),
                *GUARD.format(where=place.replace("'", "").replace("{", "").replace("}", "")).split("\n")]
        lines += body
        where += [(statement.cell, statement.line, *origin)] * len(body)
    for contract_name, statement in (aliases or {}).items():
        book_name = next(n for n in statement.defines if BOOK_NAMES.get(n) == contract_name)
        lines.append(f"{contract_name} = {book_name}  # the book's name for it")
        where.append((statement.cell, statement.line, *((statement.notebook,) if statement.notebook else ())))
    return "\n".join(lines) + "\n", where


def merge_parts(module: str, first: str, kept: list[Statement], aliases: dict, later: tuple, notebook: str
                ) -> tuple[list[Statement], dict, str]:
    """A module that two notebooks define: the first notebook's statements, then the later one's that bind
    a name the first does not (its own definitions and the set-up they need). A contract name both
    define is graded as the first notebook defines it, and the note says so: nothing is dropped unsaid.

    Returns the statements, the book-name aliases (contract name -> statement) and the note."""
    later_kept, _, later_aliases = later
    bound = {n for s in kept for n in s.binds}
    graded = {BOOK_NAMES.get(n, n) for n in bound} | set(aliases)
    both = sorted({n for s in later_kept if s.kind == "definition" for n in s.binds
                   if BOOK_NAMES.get(n, n) in CONTRACT[module] and BOOK_NAMES.get(n, n) in graded})
    added, copies = [], {}
    for statement in later_kept:
        if statement.binds - bound and not {BOOK_NAMES.get(n, n) for n in statement.defines} & set(both):
            copies[id(statement)] = dataclasses.replace(statement, notebook=notebook)
            added.append(copies[id(statement)])
            bound |= statement.binds
    merged_aliases = dict(aliases)
    for name, statement in later_aliases.items():
        if id(statement) in copies and name not in merged_aliases:
            merged_aliases[name] = copies[id(statement)]
    names = [n for s in added if s.kind == "definition" for n in s.binds]
    note = f"{notebook} also defines parts of module {module} (as {first} does): "
    note += (f"{', '.join(f'`{n}`' for n in names)} added from cell{'s' if len(added) > 1 else ''} "
             f"{_cell_ranges(s.cell for s in added)}" if names else "nothing it defines is new")
    if both:
        note += f"; {', '.join(f'`{n}`' for n in both)} defined in both: graded as {first} defines it"
    return kept + added, merged_aliases, _cap(note)


def _cell_ranges(numbers) -> str:
    numbers, parts = sorted(set(numbers)), []
    for n in numbers:
        if parts and n == parts[-1][1] + 1:
            parts[-1][1] = n
        else:
            parts.append([n, n])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def _stub_signature(name: str, module: str) -> str:
    """``def name(args)`` from the stub in ``assignments/`` (the task as students got it), or the name."""
    stub = ASSIGNMENTS_DIR / f"{module}.py"
    try:
        for node in ast.parse(stub.read_text()).body:
            if isinstance(node, DEFINITIONS) and node.name == name:
                if isinstance(node, ast.ClassDef):
                    return f"class {name}(...)"
                return f"def {name}({ast.unparse(node.args)})"
    except (OSError, SyntaxError):
        pass
    return f"{'class' if kind_of(name) == 'class' else 'def'} {name}(...)"


def _arity(text: str) -> tuple[int, int] | None:
    """(required, total) positional parameters of the function a definition's source defines."""
    try:
        with warnings.catch_warnings():  # the student's invalid escapes are theirs to see, not the grader's log
            warnings.simplefilter("ignore")
            node = ast.parse(textwrap.dedent(text)).body[0]
    except (SyntaxError, IndexError, ValueError, RecursionError):
        return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    positional = [*node.args.posonlyargs, *node.args.args]
    total = math.inf if node.args.vararg else len(positional)
    return len(positional) - len(node.args.defaults), total


def _parameters(text: str) -> set[str]:
    """The parameter names of the function a definition's source defines (empty if none can be read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = ast.parse(textwrap.dedent(text)).body[0]
    except (SyntaxError, IndexError, ValueError, RecursionError):
        return set()
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    return {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)} - {"self"}


def _fits(name: str, module: str, text: str, kind: str) -> bool:
    """Whether a definition (its source, its kind) could stand for contract ``name``: the same kind, and for
    a function a call with the stub's arguments fits its parameters."""
    if kind != kind_of(name):
        return False
    if kind == "class":
        return True
    stub, got = _arity(_stub_signature(name, module) + ":\n    pass"), _arity(text)
    return stub is None or got is None or (got[0] <= stub[1] and got[1] >= stub[0])


def missing_name_hint(name: str, module: str, cells: list[CodeCell]) -> str:
    """Why ``name`` was not found: the book's function for it in another form, a close name of a fitting
    kind and signature, or where the notebook computes it at top level (by names the book's code binds)."""
    definitions = {n: (c.number, s.text, k) for c in cells for s in c.statements if s.kind == "definition"
                   for n, k in s.defines.items()}
    for book_name, (target, difference) in BOOK_DIFFERENCES.items():
        if target == name and book_name in definitions:
            return f"{difference} (cell {definitions[book_name][0]})"
    fitting = [n for n, (_, text, kind) in definitions.items()
               if n not in NAME_MODULES and _fits(name, module, text, kind)]
    stub_parameters = _parameters(_stub_signature(name, module) + ":\n    pass")
    # two signs: a very close name, or a close one taking a parameter the task names (not a header parser
    # `parse_xmailer(header)` for `parse_email(raw)`)
    close = [n for n in difflib.get_close_matches(name, fitting, n=3, cutoff=0.8)
             if difflib.SequenceMatcher(None, name, n).ratio() >= 0.9
             or _parameters(definitions[n][1]) & stub_parameters or kind_of(name) == "class"][:1]
    if close:
        return f"did you mean `{close[0]}` (cell {definitions[close[0]][0]})? rename it `{name}`"
    clues = set(TOP_LEVEL_CLUES.get(name, ()))
    own = set(definitions)  # the notebook's own functions: calling them is a clue, calling a library's is not
    top = sorted({c.number for c in cells for s in c.statements if s.kind in ("dropped", "code")
                  and clues & (s.binds | (set(re.findall(r"(\w+)\s*\(", s.text)) & own))})
    if top:
        shown = top[:HINTED_CELLS]
        return (f"cell{'s' if len(shown) > 1 else ''} {_cell_ranges(shown)}{' ...' if len(top) > len(shown) else ''} "
                f"compute{'s' if len(shown) == 1 else ''} it at top level: wrap that code as "
                f"`{_stub_signature(name, module)}`")
    return ""


def placement_summary(notebook: str, placed: dict[str, list[CodeCell]], shared: list[CodeCell],
                      kept: dict[str, list[Statement]], dropped: list[Statement], found: dict[str, dict],
                      unplaced: list[str], all_cells: list[CodeCell], considered) -> list[str]:
    """The notes every report of a notebook submission starts with (each kept short)."""
    notes = []
    where = "; ".join(f"{module}: cells {_cell_ranges(c.number for c in cells if c.statements) or '-'}"
                      for module, cells in placed.items()) or "no module"
    used_shared = sorted({s.cell for statements in kept.values() for s in statements}
                         & {c.number for c in shared})
    notes.append(_cap(f"{notebook}: cells placed in {where}"
                      + (f"; shared set-up used from cells {_cell_ranges(used_shared)}" if used_shared else "")))
    names = [f"{n}" if alias == n else f"{n} (as `{alias}`)"
             for module in placed for n, alias in found.get(module, {}).items()]
    if names:
        notes.append(_cap(f"{notebook}: contract names found: {', '.join(names)}", NOTE_CHARS * 2))
    absent = []
    for module in considered:
        missing = [n for n in CONTRACT[module] if n not in found.get(module, {})]
        hinted = []
        for name in missing:
            hint = missing_name_hint(name, module, all_cells)
            if module in placed or hint:
                hinted.append(f"`{name}`" + (f" ({hint})" if hint else ""))
        if hinted:
            notes.append(_cap(f"{notebook}: not found for {module}: {'; '.join(hinted)}"))
        elif module not in placed:
            absent.append(module)
    if absent:
        notes.append(_cap(f"{notebook}: no cell defines a name of {', '.join(absent)}"))
    notes += [_cap(f"{notebook}: {n}") for n in unplaced]
    if dropped:
        listed = ", ".join(f"{s.where} {s.headline()}" + (f" ({s.reason})" if not s.reason.startswith("top-level")
                                                          else "") for s in dropped[:LISTED_DROPS])
        more = f" and {len(dropped) - LISTED_DROPS} more" if len(dropped) > LISTED_DROPS else ""
        notes.append(_cap(f"{notebook}: {len(dropped)} top-level statement(s) do not run when graded "
                          f"(only definitions, imports and constants do): {listed}{more}", NOTE_CHARS * 3))
    return notes


def modules_from_notebook(path: Path, module: str | None = None, local_modules: set[str] = frozenset()
                          ) -> NotebookModules:
    """Turn one notebook into module sources (see the module docstring for the placement rules).

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file (read as a regular file of at most MAX_NOTEBOOK_BYTES, with at most
        MAX_NOTEBOOK_CODE_CHARS of code).
    module : str, optional
        The module every code cell belongs to; default: the file's name if it is a module
        of the contract, else the sections or the names the cells define.
    local_modules : set of str
        Modules the submission itself provides (its ``.py`` files): importing them is fine.

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
    return _modules_from_cells(path.name, list(enumerate(nb.cells, start=1)), notes,
                               path.stem if module is None and path.stem in CONTRACT else module, local_modules,
                               named=module is None and path.stem in CONTRACT)


def _modules_from_cells(filename: str, numbered: list, notes: list[str], module: str | None,
                        local_modules: set[str], *, named: bool = False) -> NotebookModules:
    """:func:`modules_from_notebook` on cells already read: ``numbered`` holds (number, cell) pairs.

    ``named``: ``module`` comes from the file's name (cells defining only another module's names go there)."""
    named = module if named else None
    if module is not None and module not in CONTRACT:
        raise ValueError(f"The 'module' parameter must be one of {sorted(CONTRACT)}. Got {module!r} instead.")
    local_modules = set(local_modules) | set(CONTRACT)
    result = NotebookModules(notes=notes)
    placed: dict[str, list[CodeCell]] = {}
    shared: list[CodeCell] = []
    cells: list[CodeCell] = []
    unplaced: list[str] = []
    moved: list[int] = []  # cells of a notebook named like a module that went to another module
    has_sections = module is None and any(section_module(c) for _, c in numbered
                                          if not isinstance(c, CodeCell) and c.get("cell_type") == "markdown")
    section = None
    for number, cell in numbered:
        if isinstance(cell, CodeCell):  # already parsed (a script's statements)
            cell = {"cell_type": "code", "parsed": cell}
        if cell.get("cell_type") == "markdown" and has_sections:
            section = section_module(cell) or section
            continue
        if cell.get("cell_type") != "code":
            continue
        parsed = cell["parsed"] if "parsed" in cell else parse_cell(number, _source(cell))
        cells.append(parsed)
        result.notes += parsed.notes
        target = module or section
        if named is not None:  # a cell defining only another module's names is that module's, not the file's
            candidates = candidate_modules(parsed.contract_names)
            if candidates and named not in candidates and len(candidates) == 1:
                target = candidates.pop()
                moved.append(parsed.number)
        if target is None and not has_sections:
            contract_names = parsed.contract_names
            candidates = candidate_modules(contract_names)
            if candidates is None:
                shared.append(parsed)
                continue
            if not candidates:
                mixed = ", ".join(f"{n} ({'/'.join(sorted(NAME_MODULES[n]))})" for n in sorted(contract_names))
                unplaced.append(f"cell {number} could not be placed: it defines names of different modules "
                                f"({mixed}); put each module's code in its own cells")
                continue
            if len(candidates) != 1:
                ambiguous = sorted(n for n in contract_names if len(NAME_MODULES[n]) > 1)
                names = ", ".join(f"{n} ({' and '.join(sorted(NAME_MODULES[n]))})" for n in ambiguous)
                unplaced.append(f"cell {number} could not be placed: it defines {names}, asked for by more than "
                                "one module; put each exercise in its own notebook named like the module "
                                "(ex1_knn97.ipynb) or under the chapter notebook's section headings")
                continue
            target = candidates.pop()
        if target is None:  # code above the first section heading: shared set-up (imports, helpers)
            shared.append(parsed)
            continue
        placed.setdefault(target, []).append(parsed)
    shared_statements = [s for c in shared for s in c.statements]
    kept_by_module, all_dropped, seen = {}, [], set()
    for name, own_cells in placed.items():
        own = [s for c in own_cells for s in c.statements]
        kept, dropped = select_statements(own, shared_statements, local_modules)
        found = {}
        for c in own_cells:
            for target, alias in c.contract_names.items():
                if name in NAME_MODULES[target]:
                    found.setdefault(target, alias)
        kept_names = {n for s in kept for n in s.binds}
        result.found[name] = {t: a for t, a in found.items() if a in kept_names}
        aliases = {t: next(s for s in kept if a in s.defines) for t, a in result.found[name].items()
                   if a != t and t not in kept_names}
        future = sorted({f for c in own_cells + shared for f in c.future})
        result.sources[name], result.lines[name] = assemble(kept, future, aliases)
        result.parts[name] = (kept, future, aliases)
        kept_by_module[name] = kept
        for s in dropped:
            if (s.cell, s.line, s.reason) not in seen:
                seen.add((s.cell, s.line, s.reason))
                all_dropped.append(s)
    all_dropped.sort(key=lambda s: (s.cell, s.line))
    summary = placement_summary(filename, placed, shared, kept_by_module, all_dropped,
                                {m: f for m, f in result.found.items()}, unplaced, cells,
                                considered=list(CONTRACT) if module is None and not has_sections else list(placed))
    if moved:
        elsewhere = sorted(set(placed) - {named})
        summary.insert(1, _cap(f"{filename} is named like the module {named}, but cell"
                               f"{'s' if len(moved) > 1 else ''} {_cell_ranges(moved)} define"
                               f"{'' if len(moved) > 1 else 's'} names of {', '.join(elsewhere)}: graded there"))
    result.notes = [_cap(n) for n in result.notes[:LISTED_DROPS]] + summary
    if not placed:
        result.notes.append(f"{filename}: no cell defines any of the names the exercises ask for "
                            f"(e.g. {', '.join(CONTRACT['confusion'])})")
    return result


# ---------------------------------------------------------- scripts

def script_defines_contract_names(source: str) -> bool:
    """Whether a plain ``.py`` file defines at top level a contract name (or the book's name for one), of its kind
    (magics a notebook saved as text may still hold, ``%matplotlib inline``, are read as ``pass``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(strip_ipython(source)[0])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in tree.body:
        for name, kind in _kind_of_definition(node).items():
            target = BOOK_NAMES.get(name, name)
            if target in NAME_MODULES and kind == kind_of(target):
                return True
    return False


def _syntax_error(content: bytes) -> str:
    """"line N: message" when a file is not valid Python (magics read as ``pass``), else ""."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(strip_ipython(content.decode("utf-8", errors="replace"))[0])
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return type(exc).__name__
    return ""


def _script_wording(text: str) -> str:
    """A note written about cells, said about a script's lines (its statements were placed one by one)."""
    text = re.sub(r"\bcell 1, line (\d+)", r"line \1", text)
    text = text.replace("cells placed in", "definitions placed in").replace("no cell defines", "nothing defines")
    text = re.sub(r"\bcells (\d+)(?![\d,\-])", r"line \1", text)
    text = re.sub(r"\bcells (\d[\d, \-]*\d)", r"lines \1", text)
    return re.sub(r"\bcell (\d+)", r"line \1", text)


def modules_from_script(filename: str, source: str, local_modules: set[str] = frozenset()) -> NotebookModules:
    """A plain ``.py`` script (a notebook exported with "Download as .py", a learner's own file) placed like a
    notebook whose cells are its top-level statements: each definition of a contract name goes to its
    module, the rest is shared set-up, and top-level code (training, plotting, downloads) never runs.
    Notes and line maps speak of the script's lines."""
    if len(source) > MAX_NOTEBOOK_CODE_CHARS:
        return NotebookModules(notes=[f"{filename}: {len(source):,} characters, more than the "
                                      f"{MAX_NOTEBOOK_CODE_CHARS:,} a script may have; not searched"])
    whole = parse_cell(1, source)
    if not whole.statements and whole.notes:
        return NotebookModules(notes=[_script_wording(f"{filename}: {n}").replace("the cell was left out",
                                                                                  "the file was left out")
                                      for n in whole.notes])
    cells = [(s.line, CodeCell(s.line, [s], whole.future, [])) for s in whole.statements]
    converted = _modules_from_cells(filename, cells, [_script_wording(n) for n in whole.notes], None,
                                    local_modules)
    converted.notes = [_script_wording(n) for n in converted.notes]
    for module, source_text in converted.sources.items():
        converted.sources[module] = re.sub(r"Notebook: cell 1, line (\d+) did not run",
                                           rf"{filename}: line \1 did not run", source_text)
    return converted


# ---------------------------------------------------------- submissions

def _combine(documents: list[tuple[str, NotebookModules]]) -> tuple[dict, dict, list, dict]:
    """The modules several converted documents (notebooks, scripts) make together, in order.

    A module that several define is one module of all their definitions (:func:`merge_parts`).
    Returns ``(sources, lines, notes, parts)``: module file -> bytes, module -> line map, the notes,
    module -> (first document, kept statements, future lines, aliases)."""
    sources, lines, notes = {}, {}, []
    parts: dict[str, tuple] = {}
    for name, converted in documents:
        notes += converted.notes
        for module, source in converted.sources.items():
            if module in parts:  # several documents define the module: one module of all their definitions
                first, kept, future, aliases = parts[module]
                kept, aliases, note = merge_parts(module, first, kept, aliases, converted.parts[module], name)
                notes.append(note)
                future = sorted(set(future) | set(converted.parts[module][1]))
                parts[module] = (first, kept, future, aliases)
                text, where = assemble(kept, future, aliases)
                sources[f"{module}.py"] = text.encode()
                lines[module] = {"notebook": first, "lines": where}
                continue
            kept, future, aliases = converted.parts[module]
            for statement in kept:
                statement.notebook = name
            parts[module] = (name, kept, future, aliases)
            sources[f"{module}.py"] = source.encode()
            lines[module] = {"notebook": name, "lines": converted.lines[module]}
    if len(documents) > 1:
        notes = _without_found_elsewhere(notes, parts)
    return sources, lines, notes, parts


def _scripts(files: dict[str, bytes], local: set[str]) -> list[tuple[str, NotebookModules]]:
    """The submission's plain scripts (``.py`` files not named like a module) that define contract names, converted."""
    documents = []
    for name in sorted(files):
        if Path(name).stem in CONTRACT:
            continue
        text = files[name].decode("utf-8", errors="replace")
        if script_defines_contract_names(text):
            documents.append((name, modules_from_script(name, text, local)))
    return documents


def notebook_sources(path: Path) -> tuple[dict[str, bytes], dict]:
    """The module files of a notebook submission (a ``.ipynb``, or a folder of notebooks and ``.py`` files),
    and its line map.

    ``.py`` files named like a module win over a notebook's module of the same name (a note says so);
    other ``.py`` files stay importable helpers, and those defining contract names are also searched
    like notebooks (:func:`modules_from_script`). The line map holds the line maps, the placement
    summaries and the modules the notebooks cover, for :func:`translate_result`.

    Raises
    ------
    NotebookError
        If the submission is a single notebook that cannot be read.
    """
    path = Path(path)
    notebooks = [path] if path.is_file() else sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
    python_files = [] if path.is_file() else sorted(path.glob("*.py"))
    local = {py.stem for py in python_files}
    documents, read_notes = [], []
    for notebook in notebooks:
        try:
            documents.append((notebook.name, modules_from_notebook(notebook, local_modules=local)))
        except NotebookError as exc:
            if path.is_file():
                raise
            read_notes.append(str(exc))
    files = {}
    if python_files:
        for py in python_files:
            try:  # the same cap as a module file of a folder
                files[py.name] = read_regular_file(py, MAX_NOTEBOOK_CODE_CHARS)
            except NotARegularFile as exc:
                read_notes.append(f"skipped {py.name}: {exc}")
    documents += _scripts(files, local)
    sources, lines, notes, _ = _combine(documents)
    notes = read_notes + notes
    for name, content in files.items():
        if name in sources:
            notes.append(f"{name} is graded as module {Path(name).stem}; the notebook's {Path(name).stem} "
                         f"code ({lines[Path(name).stem]['notebook']}) is not")
        sources[name] = content
        lines.pop(Path(name).stem, None)
    return sources, {"modules": lines, "notes": notes, "notebooks": [n.name for n in notebooks],
                     "covered": sorted(Path(name).stem for name in sources if Path(name).stem in CONTRACT)}


def script_sources(files: dict[str, bytes]) -> tuple[dict[str, bytes], list[str], dict | None]:
    """A folder or archive of ``.py`` files: its module files as they are, and the modules its plain scripts
    define that no module file provides (:func:`modules_from_script`); every script stays importable.

    Returns the files to grade, the notes (what was found where, what was not used and why) and, when a
    script provided a module, the line map (feedback names the script's lines), else None."""
    local = {Path(n).stem for n in files}
    documents = _scripts(files, local)
    helpers = [n for n in sorted(files) if Path(n).stem not in CONTRACT and n not in dict(documents)]
    notes = []
    if helpers and not any(Path(n).stem in CONTRACT for n in files) and not documents:
        unreadable = {n: _syntax_error(files[n]) for n in helpers}
        readable = [n for n in helpers if not unreadable[n]]
        notes += [f"{n}: not graded: it is not valid Python ({unreadable[n]})" for n in helpers if unreadable[n]]
        if readable:
            notes.append(f"{', '.join(readable)}: not named like a module of the assignment and defining none of the "
                         f"names it asks for (e.g. {', '.join(CONTRACT['confusion'])}); nothing in them was graded")
    if not documents:
        return files, notes, None
    sources, lines, found_notes, _ = _combine(documents)
    out = dict(files)
    for name, content in sources.items():
        if name in files:
            notes.append(f"{name} is graded as module {Path(name).stem}; the definitions of its names in "
                         f"{lines[Path(name).stem]['notebook']} are not")
            lines.pop(Path(name).stem, None)
            continue
        out[name] = content
    notes += found_notes
    if not lines:
        return out, notes, None
    return out, notes, {"modules": lines, "notes": [], "notebooks": [name for name, _ in documents],
                        "covered": sorted(Path(name).stem for name in out if Path(name).stem in CONTRACT)}


def _without_found_elsewhere(notes: list[str], parts: dict[str, tuple]) -> list[str]:
    """One notebook's "not found" notes, less the names another notebook of the submission defines (the
    graded module has them): a note never says a function is missing that the submission provides."""
    defined = {module: {BOOK_NAMES.get(n, n) for s in kept for n in s.binds if s.kind == "definition"} | set(aliases)
               for module, (_, kept, _, aliases) in parts.items()}
    kept_notes = []
    for note in notes:
        missing = re.match(r"^(.+?): not found for (\w+): (.*)$", note, flags=re.S)
        absent = re.match(r"^(.+?): no cell defines a name of (.*)$", note, flags=re.S)
        if missing and missing.group(2) in defined:
            items = [item for item in missing.group(3).split("; ")
                     if not re.match(r"`(\w+)`", item) or re.match(r"`(\w+)`", item).group(1)
                     not in defined[missing.group(2)]]
            if items:
                kept_notes.append(f"{missing.group(1)}: not found for {missing.group(2)}: {'; '.join(items)}")
            continue
        if absent:
            modules = [m for m in absent.group(2).split(", ") if m not in defined]
            if modules:
                kept_notes.append(f"{absent.group(1)}: no cell defines a name of {', '.join(modules)}")
            continue
        kept_notes.append(note)
    return kept_notes


def covered_modules(path: Path) -> list[str]:
    """The contract modules a notebook (or a folder with notebooks) provides, in the contract's order.

    ``check`` on one notebook checks these only.  Raises NotebookError like notebook_sources.
    """
    sources, _ = notebook_sources(Path(path))
    names = {Path(n).stem for n in sources}
    return [m for m in CONTRACT if m in names]


def translate(text: str, module: str, notebook: str, where: list) -> str:
    """Rewrite ``module.py, line N`` (tracebacks, syntax errors) as ``notebook, cell C, line L`` (a script's
    line: ``script.py, line L``)."""
    def cell_of(match):
        number = int(match.group(1))
        if 1 <= number <= len(where) and where[number - 1][0]:
            cell, line, *origin = where[number - 1]
            name = origin[0] if origin else notebook
            return f"{name}, line {line}" if name.endswith(".py") else f"{name}, cell {cell}, line {line}"
        return match.group(0)
    return re.sub(rf'(?:File "[^"]*?\b{re.escape(module)}\.py", line |\b{re.escape(module)}\.py,? line )(\d+)',
                  cell_of, text)


def translate_result(result, info: dict | None) -> None:
    """Speak of cells, not module files, in a notebook submission's feedback (``info``: a submission's ``line_map``).

    Line numbers become "notebook, cell C, line L"; a module no notebook provides is said to be
    missing from the notebook, not as a ``.py`` file; the placement summaries go at the top of the
    result's notes, once (never repeated per question).
    """
    if not info:
        return
    notebooks = ", ".join(info.get("notebooks", [])) or "the notebook"
    for q in result.questions:
        mapping = info["modules"].get(q.module)
        if mapping:
            q.feedback = translate(q.feedback, q.module, mapping["notebook"], mapping["lines"])
            q.output = translate(q.output, q.module, mapping["notebook"], mapping["lines"])
            for check in _check_records(q):  # the feedback page shows each check's own detail
                check["detail"] = translate(check["detail"], q.module, mapping["notebook"], mapping["lines"])
        elif q.status == "import_error":
            names = ", ".join(f"`{n}`" for n in CONTRACT.get(q.module, ()))
            scripts = all(n.endswith(".py") for n in info.get("notebooks", []))
            missing = (f"nothing in {notebooks} defines {names}" if scripts else
                       f"no cell of {notebooks} defines {names} (the {q.module} section)")
            q.feedback = re.sub(rf"\b{re.escape(q.module)}\.py is not in the submission", missing, q.feedback)
    skipped = _take_guard_lines(result, info)
    _reader_terms_for_missing_names(result, info)  # the placement summary lists them once
    result.notes[:0] = info.get("notes", []) + skipped


#: What a guarded statement of a converted notebook or script prints when it fails at import (the grader's
#: words, not the student's output): ``Notebook: cell 3, line 1 did not run ...`` or ``x.py: line 9 did not run ...``.
GUARD_LINE = re.compile(r"^(?:Notebook: (?:(\S+\.ipynb), )?(cell \d+, line \d+)|(\S+\.py): (line \d+)) did not run "
                        r"when graded \((.*)\)$")


def _take_guard_lines(result, info: dict) -> list[str]:
    """The conversion's own "did not run" lines out of each question's printed output (they are the
    grader's words, not the student's output), said once as notes."""
    said: dict[str, str] = {}
    for q in result.questions:
        kept = []
        for line in (q.output or "").split("\n"):
            found = GUARD_LINE.match(line.strip())
            if not found:
                kept.append(line)
                continue
            origin = found.group(1) or found.group(3) or (info["modules"].get(q.module) or {}).get(
                "notebook", "the notebook")
            said.setdefault(f"{origin}, {found.group(2) or found.group(4)}", found.group(5))
        q.output = "\n".join(kept).strip()
    return [_cap(f"{where} did not run when graded ({error}); code that uses what it sets may fail")
            for where, error in said.items()]


#: A missing name as the grader's call meets it: "it raised" (a check's detail) or "roc.auc() raised" (a call
#: the question makes), then the grader's own traceback of that lookup (no frame of the student's code).
MISSING_NAME = re.compile(r"(?:(it|[\w.]+\(\)) raised )?AttributeError: module '(\w+)' has no attribute '(\w+)'"
                          r"(?:\nTraceback \(most recent call last\):\n(?:[ \t].*\n)*"
                          r"AttributeError: module '\2' has no attribute '\3'(?=\n|$))?")


def _reader_terms_for_missing_names(result, info: dict) -> None:
    """"module 'roc' has no attribute 'roc_points'" (the converted module's words) said as what the
    notebook or script lacks: "roc.roc_points() could not be called: no cell of nb.ipynb defines
    `roc_points`", not "roc.roc_points() raised no cell of ...", and without the lookup's traceback."""
    documents = ", ".join(info.get("notebooks", [])) or "the notebook"
    scripts = all(n.endswith(".py") for n in info.get("notebooks", []))
    for q in result.questions:
        def reader(match, q=q):
            caller, module, name = match.groups()
            if module != q.module:
                return match.group(0)
            lacks = f"`{name}` is not defined in {documents}" if scripts else f"no cell of {documents} defines `{name}`"
            if caller == "it":
                return f"but {lacks}"
            return f"{caller} could not be called: {lacks}" if caller else lacks
        def rewrite(text, reader=reader):
            return MISSING_NAME.sub(reader, text)
        q.feedback = rewrite(q.feedback)
        for check in _check_records(q):
            check["detail"] = rewrite(check["detail"])


def _check_records(q) -> list[dict]:
    """The question's recorded sub-checks that carry a detail (what the feedback page lists)."""
    checks = q.measurements.get("checks") if isinstance(q.measurements, dict) else None
    return [c for c in checks or [] if isinstance(c, dict) and isinstance(c.get("detail"), str)]


# ------------------------------------------------------------- self-check

def module_from_history(cells: list[str], module: str) -> tuple[str, list[str]]:
    """``module``'s source from cells in the order they ran: cells defining its names, and the set-up they use."""
    parsed = [parse_cell(number, source) for number, source in enumerate(cells, start=1)]
    own, shared = [], []
    for cell in parsed:
        candidates = candidate_modules(cell.contract_names)
        if candidates is None:
            shared += cell.statements
        elif module in candidates:
            own += cell.statements
    kept, _ = select_statements(own, shared)
    source, _ = assemble(kept, sorted({f for c in parsed for f in c.future}))
    notes = [n.replace("cell ", "executed cell [", 1).replace(":", "]:", 1) if n.startswith("cell ") else n
             for c in parsed for n in c.notes]
    return source, notes
