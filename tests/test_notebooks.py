"""Notebook submissions and the generated student notebooks.

Fast: the conversion (placement, dropped statements, bad notebooks) and the same code
graded as .py modules and as notebooks.  Slow: the generated chapter notebook run top to
bottom in a real kernel (nbclient), untouched and filled from the solutions.
"""

import json
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.build.notebooks import (CHAPTER_NOTEBOOK, KERNEL, build_notebooks, fill_answers,
                                        reference_sources, stub_sources)
from autograder.grading import CannotGrade, grade
from autograder.notebooks import modules_from_notebook, module_from_history
from submissions import reference_source, write_submission


def write_notebook(path, *cells, metadata=KERNEL):
    nb = new_notebook(metadata=dict(metadata))
    nb.cells = [new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(textwrap.dedent(c))
                for c in cells]
    nbformat.write(nb, path)
    return path


def comparable(result):
    """Each question's outcome, without the notes that only notebook submissions get."""
    return [(q.id, q.status, q.points, "\n".join(line for line in q.feedback.split("\n")
                                                  if not line.startswith("Notebook: "))) for q in result.questions]


@pytest.mark.slow
def test_same_code_as_modules_and_as_notebooks_gets_identical_results(tmp_path):
    modules = ("confusion", "ex3_titanic")
    folder = write_submission(tmp_path / "py", honest=modules)
    (folder / "mnist.py").write_text("def split_train_test(X, y, n_train=60000):\n    return 1 / 0\n")
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    (notebooks / "_validation.py").write_text((folder / "_validation.py").read_text())
    for module in (*modules, "mnist"):
        write_notebook(notebooks / f"{module}.ipynb", (folder / f"{module}.py").read_text(), "confusion_matrix")
    chosen = ["confusion", "ex3_titanic", "mnist.split"]
    as_modules, as_notebooks = grade(folder, questions=chosen), grade(notebooks, questions=chosen)
    assert [x[:3] for x in comparable(as_notebooks)] == [x[:3] for x in comparable(as_modules)]
    assert [x[3] for x in comparable(as_notebooks) if x[1] == "passed"] == \
        [x[3] for x in comparable(as_modules) if x[1] == "passed"]
    assert as_notebooks.score == as_modules.score == sum(q.max_points for q in as_modules.questions
                                                          if q.module in modules)
    failing = next(q for q in as_notebooks.questions if q.id == "mnist.split")
    assert "mnist.ipynb, cell 1, line 2" in failing.feedback, failing.feedback  # the cell, not the module line
    assert 'mnist.py", line 2' in next(q for q in as_modules.questions if q.id == "mnist.split").feedback


@pytest.mark.slow
def test_chapter_notebook_sections_place_reused_names(tmp_path):
    build_notebooks(tmp_path, stub_sources())
    filled = fill_answers(nbformat.read(tmp_path / CHAPTER_NOTEBOOK, 4), reference_sources())
    nbformat.write(filled, tmp_path / "filled.ipynb")
    converted = modules_from_notebook(tmp_path / "filled.ipynb")
    assert not converted.notes and not any(converted.module_notes.values())  # self-checks left out quietly
    for module in ("ex1_knn97", "ex2_augmentation"):  # both define build_model: the section decides
        assert "def build_model" in converted.sources[module]
    assert "def param_grid" in converted.sources["ex1_knn97"]
    assert "def param_grid" not in converted.sources["ex2_augmentation"]
    assert "def parse_email" not in converted.sources["ex3_titanic"]
    result = grade(tmp_path / "filled.ipynb", questions=["confusion", "ex3_titanic", "ex4_spam.parsing"])
    assert result.score == result.max_score


def test_free_form_notebook_is_placed_by_names_and_ambiguity_is_reported(tmp_path):
    path = write_notebook(
        tmp_path / "mywork.ipynb",
        "import numpy as np\n!pip install nothing\n%matplotlib inline",
        reference_source("confusion").replace("from _validation import as_binary, same_length",
                                              "from numpy import asarray as as_binary\nsame_length = dict"),
        "from sklearn.neighbors import KNeighborsClassifier\ndef build_model():\n    return KNeighborsClassifier()",
        "X = np.load('/etc/passwd')\nmodel = build_model().fit(X, X)\ndisplay(model)\nLIMIT = 3\nimport os; os.system('ls')",
        "%%bash\nrm -rf /",
        "def broken(:\n    pass",
    )
    converted = modules_from_notebook(path)
    assert set(converted.sources) == {"confusion"}
    source = converted.sources["confusion"]
    assert "LIMIT = 3" in source and "import os" in source and "os.system" not in source and "np.load" not in source and "display" not in source and "pip" not in source
    notes = "\n".join(converted.notes + converted.module_notes["confusion"])
    assert "cell 3 could not be placed: it defines build_model (ex1_knn97 and ex2_augmentation)" in notes
    assert "cell 4: top-level code other than definitions does not run when graded; dropped line 1 `X = np.load(" in notes
    assert "cell 1: dropped `!pip`, `%matplotlib`" in notes
    assert "cell 5" in notes and "%%bash" in notes and "cell 6, line 1: syntax error" in notes


def test_kernel_history_for_the_self_check_keeps_the_latest_definitions():
    cells = ["import numpy as np", "def build_model():\n    return 1",           # ex1's, run first
             "def shift_image(image, dx, dy):\n    pass\ndef augment(X, y):\n    pass\ndef build_model():\n    return 2",
             "def param_grid():\n    return {}"]
    ex1, _ = module_from_history(cells, "ex1_knn97")
    ex2, _ = module_from_history(cells, "ex2_augmentation")
    assert "return 1" in ex1 and "return 2" not in ex1 and "param_grid" in ex1
    assert "return 2" in ex2 and "param_grid" not in ex2 and "import numpy" in ex2


def test_broken_notebooks_get_clear_messages(tmp_path):
    bad = tmp_path / "confusion.ipynb"
    bad.write_text('{"cells": [')
    with pytest.raises(CannotGrade, match="confusion.ipynb is not valid notebook JSON"):
        grade(bad)

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "roc.ipynb").write_text("not json")
    nb = new_notebook()  # no kernel metadata, megabytes of output, a cell that fails at import
    nb.cells = [new_code_cell(reference_source("confusion").replace("from _validation import as_binary, same_length",
                                                                    "from numpy import asarray as as_binary")),
                new_code_cell("import no_such_package_here", outputs=[nbformat.v4.new_output(
                    "stream", name="stdout", text="x" * 3_000_000)])]
    nbformat.write(nb, folder / "confusion.ipynb")
    result = grade(folder, questions=["confusion.public_example", "roc.plot"])
    by_id = {q.id: q for q in result.questions}
    confusion, roc = by_id["confusion.public_example"], by_id["roc.plot"]
    assert confusion.status == "import_error"
    assert "confusion.ipynb, cell 2, line 1" in confusion.feedback and "no_such_package_here" in confusion.feedback
    assert "confusion.ipynb has no kernel metadata" in confusion.feedback
    assert roc.status == "import_error" and "roc.ipynb is not valid notebook JSON" in roc.feedback


def test_notebook_check_prints_the_check_feedback(capsys):
    stub = stub_sources()["confusion"]
    notebook_check = __import__("autograder.notebooks", fromlist=["notebook_check"]).notebook_check
    notebook_check("confusion.public_example", cells=[stub])
    printed = capsys.readouterr().out
    assert "not implemented" in printed and "0/2" in printed
    result = notebook_check("confusion.public_example", quiet=True, cells=[reference_sources()["confusion"]])
    assert result.score == 2


def run_notebook(path):
    pytest.importorskip("ipykernel", reason="needs the otter extra (ipykernel, nbclient)")
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in nb.cells
            if c.cell_type == "code" and "notebook_check(" in c.source]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    build_notebooks(folder)
    filled = fill_answers(nbformat.read(folder / CHAPTER_NOTEBOOK, 4), reference_sources())
    nbformat.write(filled, folder / "filled.ipynb")
    return folder


@pytest.mark.slow
def test_untouched_chapter_notebook_runs_and_every_self_check_says_not_implemented(generated):
    outputs = run_notebook(generated / CHAPTER_NOTEBOOK)
    assert len(outputs) == 14  # one per public question
    for text in outputs:
        assert "not implemented" in text and "✓" not in text and "Traceback" not in text, text


@pytest.mark.slow
def test_filled_chapter_notebook_passes_every_public_check(generated):
    outputs = run_notebook(generated / "filled.ipynb")
    assert len(outputs) == 14
    for text in outputs:
        assert "✓" in text and "not implemented" not in text and "✗" not in text, text
    assert json.loads((generated / "filled.ipynb").read_text())["metadata"]["kernelspec"]["name"] == "python3"
