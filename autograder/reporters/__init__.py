"""Renderers of a GradingResult: Gradescope's results.json, a Markdown report, a terminal table."""

from .console import print_table
from .gradescope import to_gradescope
from .markdown import to_markdown

__all__ = ["print_table", "to_gradescope", "to_markdown"]
