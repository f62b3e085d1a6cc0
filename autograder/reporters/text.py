"""Student text made safe for each renderer: terminal, Markdown, JSON (and HTML reports).

Everything a student's code produced (what it printed, exception messages, values
quoted in feedback) is untrusted: it can hold terminal escape sequences (clear
the screen, write the clipboard with OSC 52), rich markup (``[/]`` crashes
rich's parser), Markdown that closes a code fence and opens a fake heading, or raw
HTML (``<img onerror=...>``).  Renderers pass such text through one of these
functions and never build markup out of it by string formatting.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from rich.text import Text

#: The grader's own files: the installed package and the project around it (solutions, scripts).
_GRADER_ROOTS = tuple(sorted({str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])},
                             key=len, reverse=True))
#: One traceback frame (its "File ..." line and the source line under it).
_FRAME = re.compile(r'^[ \t]*File "(?P<path>[^"]+)", line \d+(?:, in [^\n]*)?\n(?:[ \t]{4,}[^\n]*\n)*', re.MULTILINE)

#: Terminal escape sequences, removed whole (their parameters would otherwise print as junk).
_ESCAPE_SEQUENCE = re.compile(r"""
      \x1b\[[0-?]*[ -/]*[@-~]                # CSI: colours, cursor moves, clear screen
    | \x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC (titles, links, clipboard), DCS, SOS, PM, APC
    | \x1b[ -/]*[0-~]?                        # any other escape
    | \x9b[0-?]*[ -/]*[@-~]                  # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f][^\x07\x9c]*[\x07\x9c]?   # 8-bit string controls
""", re.VERBOSE)
#: Other control characters (tab and newline stay) and bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What could make structure out of a line of text: links and images, table cells, code spans,
#: emphasis, and the backslash that would undo an escape (HTML is escaped separately).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|])")


def plain(text) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs kept).

    Safe for plain-text sinks: results.json, log files, a terminal.
    """
    text = str(text).replace("\r\n", "\n")
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def student_visible(text) -> str:
    """``text`` without the grader's frames and paths: what a student may see of a traceback or a message.

    Frames through the grader (its package, ``autograder/worker/entry.py``, pytest, the standard
    library and the installed libraries) are dropped; the student's own frames stay, named by file
    (``confusion.py``, line 12) rather than by the grader's private folders. The staff copy
    (``grading.json``) keeps the full text.
    """
    text = str(text)
    if not text:
        return text

    def frame(match):
        path = match.group("path")
        if _is_grader_path(path):
            return ""
        return match.group(0).replace(path, Path(path).name, 1)
    if 'File "' in text:
        ended = text.endswith("\n")
        text = _FRAME.sub(frame, text + "\n")
        text = text[:-1] if ended else text.rstrip("\n")
    for root in _GRADER_ROOTS:
        text = text.replace(root + "/", "").replace(root, "<grader>")
    return text


def _is_grader_path(path: str) -> bool:
    """A file of the grader or of the Python it runs on (never one of the student's own modules)."""
    return (any(path.startswith(root + "/") for root in _GRADER_ROOTS) or "/autograder/" in path
            or "site-packages" in path or "/lib/python" in path or path.startswith("<"))


def console(text, style: str = "") -> Text:
    """A rich ``Text`` of ``text``: printed as it is, never parsed as markup."""
    return Text(plain(text), style=style)


def md_inline(text) -> str:
    """``text`` on one line of Markdown (a table cell, a list item): no HTML, links, emphasis or cells."""
    one_line = " ".join(plain(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def md_block(text) -> list[str]:
    """``text`` as a fenced code block (its lines), with a fence longer than any backtick run inside.

    Inside a fence Markdown renders nothing (no headings, no HTML), and a fence closes only
    on a line of at least as many backticks, which the text cannot contain.
    """
    body = plain(text).strip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *body.splitlines(), fence]


def html_text(text) -> str:
    """``text`` for an HTML page (element content or a quoted attribute), control sequences removed.

    Prefer a template engine's autoescaping (jinja2) with :func:`plain` as a filter; this is
    for markup built in Python.
    """
    return html.escape(plain(text), quote=True)
