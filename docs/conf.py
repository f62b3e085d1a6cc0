"""Sphinx configuration: MyST Markdown pages, the PyData theme, an API reference from the docstrings.

Build (warnings are errors, as in CI): ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # autodoc imports the checkout's packages, installed or not

project = "ch3-autograder"
author = "ch3-autograder contributors"
copyright = "2026, ch3-autograder contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",  # the NumPy docstring sections (Parameters, Returns, Raises, Examples)
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]

myst_enable_extensions = ["colon_fence", "deflist"]

myst_heading_anchors = 3  # [text](page.md#a-heading) links resolve to the heading's slug

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"  # hints go next to the parameter they describe
numpydoc_show_class_members = False  # autodoc's :members: lists them once; numpydoc would add a second table
numpydoc_class_members_toctree = False

intersphinx_mapping = {}  # no network at build time: cross-project links stay plain text

html_theme = "pydata_sphinx_theme"
html_title = "ch3-autograder"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False

# Pages that other contributors write (each topic has one owner). A link to one that does not
# exist yet renders as plain text instead of failing the build; once the page exists it is a link.
RESERVED_PAGES = {
    "guide/notebooks": "Notebooks", "guide/otter": "Otter Grader",
    "guide/student-bundle": "The student bundle", "guide/lms": "LMS gradebooks (Canvas, Moodle)",
    "guide/sandbox": "How student code runs", "guide/gradescope": "Gradescope",
    "guide/feedback": "Feedback and the class dashboard", "design/pipeline": "The grading pipeline",
    "design/thresholds": "Figures, thresholds and bands", "benchmarks": "Benchmarks",
}


def _reserved_page_as_text(app, env, node, contnode):
    """Resolve a ``{doc}`` link to a reserved page that is not written yet as its plain text."""
    if node.get("reftype") != "doc":
        return None
    target = node["reftarget"].removesuffix(".md")
    if target.startswith("/"):
        docname = target.lstrip("/")
    else:
        docname = os.path.normpath(os.path.join(os.path.dirname(node.get("refdoc", "")), target))
    if docname in RESERVED_PAGES:
        text = contnode.astext() if node.get("refexplicit") else RESERVED_PAGES[docname]
        return nodes.inline("", text)
    return None


_INDENTED = re.compile(r"^( *)\S")


def _indented_blocks_as_preformatted(app, what, name, obj, options, lines):
    """Read an indented block after a blank line as preformatted text, as ``help()`` shows it.

    Plain-text docstrings lay out small tables by indentation (a name, then its description,
    wrapped under it); reStructuredText would read them as a block quote and fail on the wrapped
    lines. A block after a paragraph ending in ``::``, a directive, or a list item is left alone.
    """
    index = 1
    while index < len(lines):
        previous = next((line for line in reversed(lines[:index - 1]) if line.strip()), None)
        if (lines[index - 1].strip() == "" and lines[index].startswith("    ") and previous is not None
                and _INDENTED.match(previous).group(1) == "" and not previous.rstrip().endswith("::")
                and not re.match(r"^(\.\. |[-*+] |\d+[.)] |>>>|:)", previous)):
            lines[index:index] = ["::", ""]
            index += 2
            while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
                index += 1
        index += 1


def _toctree_entries_for_written_pages(app, docname, source):
    """Fit the toctrees to the pages that exist: an entry for a reserved page that is not written
    yet is left out, and so is a glob for "the rest of this folder" that has nothing left."""
    srcdir = Path(app.srcdir)
    base = os.path.dirname(docname)
    existing = {str(path.relative_to(srcdir).with_suffix("")) for suffix in ("*.md", "*.rst")
                for path in srcdir.rglob(suffix) if "_build" not in path.parts}
    missing = {page for page in RESERVED_PAGES if page not in existing}

    def page_of(entry):
        return entry.lstrip("/") if entry.startswith("/") else os.path.normpath(os.path.join(base, entry))

    kept, block = [], None
    for line in source[0].split("\n"):
        entry = line.strip()
        if block is None:
            kept.append(line)
            if entry.startswith("```{toctree}"):
                block = []
            continue
        if entry.startswith("```"):
            listed = {page_of(item) for item in block if item.strip() and not item.strip().startswith(":")}
            for item in block:
                name = item.strip()
                if name and not name.startswith(":"):
                    if page_of(name) in missing:
                        continue
                    if any(char in name for char in "*?["):
                        rest = fnmatch.filter(existing - listed - {docname}, page_of(name))
                        if not rest:
                            continue
                kept.append(item)
            kept.append(line)
            block = None
            continue
        block.append(line)
    source[0] = "\n".join(kept)


def setup(app):
    app.connect("source-read", _toctree_entries_for_written_pages)
    app.connect("missing-reference", _reserved_page_as_text)
    app.connect("autodoc-process-docstring", _indented_blocks_as_preformatted)
