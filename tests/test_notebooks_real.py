"""Real chapter-3 notebooks from learners' public repositories (tests/fixtures/notebooks, see
SOURCES.md), submitted as they are: placed by what they define, graded for it, with small reports.

Fast: the conversion (placement summary, names found, nothing training or downloading at
import).  Slow: grading each notebook on the modules it covers, and the reports' sizes.
"""

import ast
import json
import warnings
from pathlib import Path

import pytest

from autograder.contract import CONTRACT
from autograder.grading import grade_path
from autograder.intake.notebooks import modules_from_notebook
from autograder.spec import load_spec, select

CORPUS = Path(__file__).parent / "fixtures" / "notebooks"
#: notebook -> the contract names its cells define (the book's names graded as the contract's: "as").
DEFINES = {
    "geron_2nd_edition.ipynb": {"plot_digit", "plot_digits", "NeverClassifier (as `Never5Classifier`)",
                                "plot_precision_recall_vs_threshold", "plot_roc (as `plot_roc_curve`)",
                                "shift_image", "email_to_text", "EmailToWordCounter (as `EmailToWordCounterTransformer`)",
                                "WordCounterToVector (as `WordCounterToVectorTransformer`)"},
    "geron_3rd_edition.ipynb": {"plot_digit", "shift_image", "email_to_text",
                                "EmailToWordCounter (as `EmailToWordCounterTransformer`)",
                                "WordCounterToVector (as `WordCounterToVectorTransformer`)"},
    "40tude_walkthrough.ipynb": {"plot_digit", "plot_digits", "NeverClassifier (as `Never5Classifier`)",
                                 "plot_precision_recall_vs_threshold", "plot_roc (as `plot_roc_curve`)"},
    "ashishraj04_walkthrough.ipynb": {"plot_digit"},
    "efiegel_walkthrough.ipynb": {"NeverClassifier (as `Never5Classifier`)", "plot_precision_recall_vs_threshold",
                                  "plot_roc (as `plot_roc_curve`)"},
    "ffer_exercises.ipynb": {"plot_digit"},
    "haelc_exercises.ipynb": {"shift_image"},
    "kawshikbuet17_walkthrough.ipynb": {"NeverClassifier (as `Never5Classifier`)",
                                        "plot_precision_recall_vs_threshold", "plot_roc (as `plot_roc_curve`)"},
    "nareshpatel_colab.ipynb": {"plot_precision_recall_vs_threshold", "plot_roc (as `plot_roc_curve`)"},
    "piyushmohan01_notebook.ipynb": {"plot_digit", "plot_digits", "NeverClassifier (as `Never5Classifier`)",
                                     "plot_precision_recall_vs_threshold", "plot_roc (as `plot_roc_curve`)",
                                     "shift_image"},
}
#: What runs at import must not train, predict or download (the notebooks do all three at top level).
FORBIDDEN_AT_IMPORT = {"fit", "fit_transform", "predict", "cross_val_predict", "cross_val_score", "fetch_openml",
                       "urlretrieve", "read_csv", "load_email", "GridSearchCV.fit"}
#: Bounds on what a student sees (Gradescope truncates or rejects larger results).
REPORT_BYTES = {"results.json": 100_000, "report.md": 100_000, "feedback.html": 500_000}


def test_the_corpus_is_what_sources_lists():
    sources = (CORPUS / "SOURCES.md").read_text()
    assert sorted(p.name for p in CORPUS.glob("*.ipynb")) == sorted(DEFINES)
    for name in DEFINES:
        assert f"`{name}`" in sources


def parse(source: str) -> ast.Module:
    with warnings.catch_warnings():  # the learners' invalid escape sequences ("\s" in a regex)
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(source)


def summary(converted, notebook):
    return [n for n in converted.notes if n.startswith(f"{notebook}: ")]


@pytest.mark.parametrize("notebook", sorted(DEFINES))
def test_placement_summary_names_what_each_notebook_defines(notebook):
    converted = modules_from_notebook(CORPUS / notebook)
    notes = summary(converted, notebook)
    placed = next(n for n in notes if "cells placed in" in n)
    for module in converted.sources:
        assert f"{module}: cells " in placed
    found = next(n for n in notes if "contract names found: " in n).split("contract names found: ", 1)[1]
    assert set(found.split(", ")) == DEFINES[notebook]
    assert sum(map(len, converted.notes)) < 10_000  # once per notebook, short
    for module, source in converted.sources.items():
        names = {node.name for node in parse(source).body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
        names |= {t.id for node in parse(source).body if isinstance(node, ast.Assign) for t in node.targets
                  if isinstance(t, ast.Name)}
        assert set(converted.found[module]) <= names  # found names are importable under the contract's name


@pytest.mark.parametrize("notebook", sorted(DEFINES))
def test_nothing_trains_or_downloads_at_import(notebook):
    converted = modules_from_notebook(CORPUS / notebook)
    for module, source in converted.sources.items():
        for node in parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            calls = {(c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", ""))
                     for c in ast.walk(node) if isinstance(c, ast.Call)}
            assert not calls & FORBIDDEN_AT_IMPORT, (module, ast.unparse(node))


def test_missing_names_point_at_the_top_level_code_that_computes_them():
    converted = modules_from_notebook(CORPUS / "geron_2nd_edition.ipynb")
    missing = next(n for n in converted.notes if ": not found for binary_classifier: " in n)
    assert ("`make_binary_target` (cell 21 computes it at top level: wrap that code as "
            "`def make_binary_target(y, digit=5)`)") in missing
    dropped = next(n for n in converted.notes if "top-level statement(s) do not run" in n)
    assert dropped.count("cell ") <= 12 + 1 and "more" in dropped  # listed once, capped


def test_kept_statements_reading_dropped_names_are_dropped_with_the_reason():
    converted = modules_from_notebook(CORPUS / "geron_3rd_edition.ipynb")
    dropped = next(n for n in converted.notes if "top-level statement(s) do not run" in n)
    assert "`X, y = (mnist.data, mnist.target)` (it reads `mnist`, which only dropped code sets (cell 14, line 3))" \
        in dropped
    assert "mnist.data" not in converted.sources["mnist"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(DEFINES))
def test_each_defined_name_is_graded_and_reports_stay_small(notebook, tmp_path):
    converted = modules_from_notebook(CORPUS / notebook)
    questions = [q.id for q in select(load_spec(), ("public", "hidden"), list(converted.sources))
                 if any(name in json.dumps(q.title) for name in converted.found[q.module])]
    questions.append("binary_classifier.target")  # a module no corpus notebook covers
    result = grade_path(CORPUS / notebook, tmp_path / "out", questions=questions)
    by_id = {q.id: q for q in result.questions}
    for qid in questions[:-1]:
        q = by_id[qid]
        assert q.status not in ("import_error", "crashed", "not_run"), (qid, q.feedback[:500])
        for name in converted.found[q.module]:  # the student's definition is what the question called
            assert f"has no attribute '{name}'" not in q.feedback, (qid, q.feedback[:500])
    if "shift_image" in converted.found.get("ex2_augmentation", {}):
        assert by_id["ex2_augmentation.shift"].points > 0  # the book's shift_image matches the reference's
    missing = by_id["binary_classifier.target"]
    assert "binary_classifier.py" not in missing.feedback and f"no cell of {notebook} defines" in missing.feedback
    assert result.notes[: len(converted.notes)] == converted.notes  # the summary opens every report
    assert not any("Notebook: " in q.feedback for q in result.questions)  # never repeated per question
    for name, limit in REPORT_BYTES.items():
        assert (tmp_path / "out" / name).stat().st_size < limit, name
    assert all(module in CONTRACT for module in converted.sources)
