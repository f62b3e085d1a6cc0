"""Real chapter-3 work in the shapes learners hand it in, built from the licensed notebooks of the corpus
(tests/fixtures/notebooks/SOURCES.md: the book's 2nd-edition notebook, Apache-2.0; F-Fer's exercise
notebook, Apache-2.0): the notebook as it is, saved as a ``.py`` script, renamed like a module, and
beside another notebook. Each test states the score and the messages checked by hand against the
code: the book's functions earn what they do, and every note speaks of cells (or lines) that exist.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest

from autograder.grading import grade_path
from autograder.intake.notebooks import modules_from_script, notebook_sources

CORPUS = __import__("pathlib").Path(__file__).parent / "fixtures" / "notebooks"
BOOK = CORPUS / "geron_2nd_edition.ipynb"      # Apache-2.0 (ageron/handson-ml2)
LEARNER = CORPUS / "ffer_exercises.ipynb"      # Apache-2.0 (F-Fer/HOML-3_Exercises)


def as_script(notebook) -> str:
    """The notebook as Jupyter's "Download as .py" writes it: code cells after ``# In[ ]:``, markdown as comments."""
    lines = ["#!/usr/bin/env python", "# coding: utf-8", ""]
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            lines += ["# In[ ]:", "", "", cell.source, "", ""]
        elif cell.cell_type == "markdown":
            lines += ["# " + line for line in cell.source.splitlines()] + [""]
    return "\n".join(lines)


def test_the_books_notebook_saved_as_a_script_finds_what_the_notebook_finds():
    converted = modules_from_script("03_classification.py", as_script(BOOK))
    notes = "\n".join(converted.notes)
    assert ("03_classification.py: contract names found: plot_digit, plot_digits, NeverClassifier (as "
            "`Never5Classifier`), plot_precision_recall_vs_threshold, plot_roc (as `plot_roc_curve`), shift_image, "
            "email_to_text, EmailToWordCounter (as `EmailToWordCounterTransformer`), WordCounterToVector (as "
            "`WordCounterToVectorTransformer`)") in notes
    # the script's own lines: y_train_5 = (y_train == 5) and y_test_5 sit on lines 189-190
    assert "`make_binary_target` (lines 189-190 compute it at top level" in notes
    assert "cell " not in notes  # a script has no cells
    # the book's plot_confusion_matrix takes a matrix: what differs, not "did you mean"
    assert "`plot_confusion` (the book's `plot_confusion_matrix(matrix)` draws a matrix computed beforehand" in notes
    for source in converted.sources.values():
        assert "fetch_openml(" not in source.split("def ")[0]  # nothing downloads at import


def test_a_learners_notebook_named_like_a_module_gives_other_modules_their_cells(tmp_path):
    shutil.copy(BOOK, tmp_path / "mnist.ipynb")
    sources, lines = notebook_sources(tmp_path / "mnist.ipynb")
    assert {"mnist.py", "ex2_augmentation.py", "ex4_spam.py", "roc.py"} <= set(sources)
    assert "def shift_image" in sources["ex2_augmentation.py"].decode()
    notes = lines["notes"]
    moved = next(n for n in notes if "is named like the module mnist" in n)
    assert "cells 30, 51, 61, 123, 219, 228, 233 define names of" in moved, moved


def test_two_learners_notebooks_defining_the_same_module_make_one(tmp_path):
    shutil.copy(BOOK, tmp_path / "a_book.ipynb")
    shutil.copy(LEARNER, tmp_path / "b_exercises.ipynb")
    sources, lines = notebook_sources(tmp_path)
    notes = lines["notes"]
    both = next(n for n in notes if n.startswith("b_exercises.ipynb also defines parts of module mnist"))
    assert "`plot_digit` defined in both: graded as a_book.ipynb defines it" in both, both
    assert sources["mnist.py"].decode().count("def plot_digit(") == 1


@pytest.mark.slow
def test_the_books_notebook_is_graded_on_what_its_functions_do(tmp_path):
    """Scores checked by hand against the book's code (2nd edition)."""
    questions = ["mnist.plot", "roc.plot", "tradeoff.plot", "cross_validation.never", "ex4_spam.parsing",
                 "ex4_spam.transformers"]
    result = grade_path(BOOK, questions=questions)
    by_id = {q.id: q for q in result.questions}
    # the book's plot_digit(s), plot_roc_curve and plot_precision_recall_vs_threshold return None and draw
    for qid in ("mnist.plot", "roc.plot", "tradeoff.plot"):
        assert by_id[qid].points == by_id[qid].max_points, (qid, by_id[qid].feedback)
    # Never5Classifier: its column of Falses counts; its fit ends in `pass` and predict never checks fit
    never = by_id["cross_validation.never"]
    assert never.points == pytest.approx(2 / 3, abs=1e-3), never.feedback
    assert "a `fit` ending in `pass` returns None" in never.feedback
    # the book's email_to_text earns the text checks; it has load_email, not parse_email
    parsing = by_id["ex4_spam.parsing"]
    assert parsing.points == 3.0, parsing.feedback
    assert "but no cell of geron_2nd_edition.ipynb defines `parse_email`" in parsing.feedback
    assert "has no attribute" not in parsing.feedback
    notes = "\n".join(result.notes)
    assert "the book's `load_email(is_spam, filename)` opens a file of the data set" in notes
    # the book's transformers: its stemmer comes from a try cell (kept: import and constant), its URLs from
    # urlextract, which graded code cannot use (it downloads): every check but the URL one, and why
    transformers = by_id["ex4_spam.transformers"]
    assert transformers.points == 2.5, transformers.feedback
    assert "likely cause: urlextract cannot run where your code is graded" in transformers.feedback
    assert "of its try statement only the imports and constants run when graded" in notes
