"""Real chapter-3 work in the shapes learners hand it in, built from the licensed files of the corpus
(tests/fixtures/notebooks/SOURCES.md: the book's 2nd-edition notebook, Apache-2.0; F-Fer's exercise
notebook, Apache-2.0; HaelC's exercise notebook, MIT; Jnewgeek's chapter script, Apache-2.0): the notebook
as it is, saved as a ``.py`` script, renamed like a module, beside another notebook, and a learner's own
``.py`` script in a folder. Each test states the score and the messages checked by hand against the
code: the book's functions earn what they do, and every note speaks of cells (or lines) that exist.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest

from autograder.grading import grade_path
from autograder.intake.notebooks import modules_from_notebook, modules_from_script, notebook_sources

CORPUS = __import__("pathlib").Path(__file__).parent / "fixtures" / "notebooks"
BOOK = CORPUS / "geron_2nd_edition.ipynb"      # Apache-2.0 (ageron/handson-ml2)
LEARNER = CORPUS / "ffer_exercises.ipynb"      # Apache-2.0 (F-Fer/HOML-3_Exercises)
EXERCISES = CORPUS / "haelc_exercises.ipynb"   # MIT (HaelC/Hands-on_ML): exercises 1-2 only, 1st edition
SCRIPT = CORPUS / "jnewgeek_script.py"         # Apache-2.0 (Jnewgeek/handson-ml): the chapter as a .py script


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


def test_an_exercise_only_notebook_places_its_shift_image_and_nothing_that_trains():
    converted = modules_from_notebook(EXERCISES)
    notes = "\n".join(converted.notes)
    # cell 9 defines shift_image; cell 7's shift_image_by_pixel and shift_image_by_direction are not contract names
    assert "haelc_exercises.ipynb: cells placed in ex2_augmentation: cells 9; shared set-up used from cells 1" in notes
    assert converted.found == {"ex2_augmentation": {"shift_image": "shift_image"}}
    # cells 10-11 build X_train_augmented at top level; cell 5 binds param_grid; cell 2 splits X and y
    assert "`augment` (cells 10-11 compute it at top level: wrap that code as `def augment(X, y)`); `build_model`" \
        in notes
    assert "`param_grid` (cell 5 computes it at top level: wrap that code as `def param_grid()`)" in notes
    assert "`split_train_test` (cell 2 computes it at top level" in notes
    source = converted.sources["ex2_augmentation"]
    assert "def shift_image(" in source and "from scipy.ndimage.interpolation import shift" in source
    for never in ("fetch_mldata(", "X_train_aug", "knn_clf", "shift_image_by_direction"):
        assert never not in source  # cell 8's loop appends to the list it walks: it never runs when graded


@pytest.mark.slow
def test_an_exercise_only_notebook_earns_what_its_shift_image_does(tmp_path):
    """HaelC's solution notebook, graded whole (checked by hand): 2 of the 126 points."""
    result = grade_path(EXERCISES, tmp_path / "out")
    by_id = {q.id: q for q in result.questions}
    # the book's shift_image flattens what it returns: right on (784,) images, a (784,) array for (28, 28) ones
    shift = by_id["ex2_augmentation.shift"]
    assert (shift.points, shift.max_points) == (2.0, 4.0), shift.feedback
    assert shift.feedback.startswith("6/12 checks passed: failed dx=1, dy=0, shape (28, 28)")
    assert "but shift_image() returned an array of shape (784,); expected (28, 28)" in shift.feedback
    assert result.score == 2.0 and all(q.points == 0 for q in result.questions if q.id != shift.id)
    # a name the section lacks is said as the notebook's, not as a call that raised, and without the
    # grader's own traceback of the lookup
    augment = by_id["ex2_augmentation.augment"].feedback
    assert augment.strip() == ("ex2_augmentation.augment() could not be called: no cell of haelc_exercises.ipynb "
                               "defines `augment`"), augment
    knn = by_id["ex1_knn97.grid"].feedback
    assert "no cell of haelc_exercises.ipynb defines `build_model`, `param_grid`, `tune` (the ex1_knn97 section)" \
        in knn
    report = (tmp_path / "out" / "report.md").read_text()
    assert "# Grading report: 2 / 126" in report and "raised no cell" not in report


def test_a_learners_script_finds_its_definitions_and_not_its_commented_out_code():
    converted = modules_from_script("03_classification.py", SCRIPT.read_text(encoding="utf-8"))
    notes = "\n".join(converted.notes)
    # plot_digit line 98, plot_digits 105, plot_roc_curve 210, shift_image 412; Never5Classifier,
    # plot_precision_recall_vs_threshold and plot_confusion_matrix are only in comments
    assert ("03_classification.py: definitions placed in mnist: lines 98, 105; roc: line 210; "
            "ex2_augmentation: line 412") in notes
    assert ("03_classification.py: contract names found: plot_digit, plot_digits, plot_roc (as `plot_roc_curve`), "
            "shift_image") in notes
    assert "`make_binary_target` (lines 136-137 compute it at top level" in notes
    assert "`tune` (line 397 computes it at top level: wrap that code as `def tune(X, y, cv=5)`)" in notes
    assert "`augment` (lines 417, 425, 429 compute it at top level" in notes
    assert "cell " not in notes
    for source in converted.sources.values():  # line 92 loads (or downloads) MNIST; line 398 runs the grid search
        assert "load_data()" not in source and "grid_search.fit(" not in source


@pytest.mark.slow
def test_a_learners_script_in_a_folder_is_graded_on_its_functions(tmp_path):
    """Jnewgeek's 03_classification.py handed in as a folder, graded whole (checked by hand): 5 of 126."""
    shutil.copy(SCRIPT, tmp_path / "03_classification.py")
    result = grade_path(tmp_path, tmp_path / "out")
    by_id = {q.id: q for q in result.questions}
    earned = {q.id: q.points for q in result.questions if q.points}
    # the book's plot_digit(s) and plot_roc_curve draw; its shift_image flattens (28, 28) images
    assert earned == {"mnist.plot": 2.0, "roc.plot": 1.0, "ex2_augmentation.shift": 2.0}, earned
    assert result.score == 5.0
    assert "returned an array of shape (784,); expected (28, 28)" in by_id["ex2_augmentation.shift"].feedback
    forest = by_id["roc.forest"].feedback
    assert forest.strip() == ("roc.forest_positive_scores() could not be called: `forest_positive_scores` is not "
                              "defined in 03_classification.py"), forest
    assert by_id["binary_classifier.target"].feedback.strip() == (
        "nothing in 03_classification.py defines `make_binary_target`, `train_sgd`")
    assert "but `split_train_test` is not defined in 03_classification.py" in by_id["mnist.split"].feedback
