"""Notebook submissions and the generated student notebooks.

Fast: the conversion (placement, dropped statements, bad notebooks) and the same code
graded as .py modules and as notebooks.  Slow: the generated chapter notebook run top to
bottom in a real kernel (nbclient), untouched and filled from the solutions.
"""

import ast
import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.build.notebooks import (CHAPTER_NOTEBOOK, KERNEL, build_notebooks, fill_answers,
                                        reference_sources, stub_sources)
from autograder.grading import CannotGrade, grade_path
from autograder.paths import SOLUTIONS_DIR
from autograder.intake.notebooks import METADATA_KEY, modules_from_notebook, module_from_history, parse_cell
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
    for module in (*modules, "mnist"):
        write_notebook(notebooks / f"{module}.ipynb", (folder / f"{module}.py").read_text(), "confusion_matrix")
    chosen = ["confusion", "ex3_titanic", "mnist.split"]
    as_modules, as_notebooks = grade_path(folder, questions=chosen), grade_path(notebooks, questions=chosen)
    assert [x[:3] for x in comparable(as_notebooks)] == [x[:3] for x in comparable(as_modules)]
    assert [x[3] for x in comparable(as_notebooks) if x[1] == "passed"] == \
        [x[3] for x in comparable(as_modules) if x[1] == "passed"]
    assert as_notebooks.score == as_modules.score == sum(q.max_points for q in as_modules.questions
                                                          if q.module in modules)
    failing = next(q for q in as_notebooks.questions if q.id == "mnist.split")
    assert "mnist.ipynb, cell 1, line 2" in failing.feedback, failing.feedback  # the cell, not the module line
    assert 'mnist.py, line 2' in next(q for q in as_modules.questions if q.id == "mnist.split").feedback


@pytest.mark.slow
def test_chapter_notebook_sections_place_reused_names(tmp_path):
    build_notebooks(tmp_path, stub_sources())
    filled = fill_answers(nbformat.read(tmp_path / CHAPTER_NOTEBOOK, 4), reference_sources())
    nbformat.write(filled, tmp_path / "filled.ipynb")
    converted = modules_from_notebook(tmp_path / "filled.ipynb")
    assert not [n for n in converted.notes if any(word in n for word in ("could not be placed", "do not run",
                                                                         "not found", "did not"))], converted.notes
    assert any("contract names found: " in n for n in converted.notes)  # self-checks left out quietly
    for module in ("ex1_knn97", "ex2_augmentation"):  # both define build_model: the section decides
        assert "def build_model" in converted.sources[module]
    assert "def param_grid" in converted.sources["ex1_knn97"]
    assert "def param_grid" not in converted.sources["ex2_augmentation"]
    assert "def parse_email" not in converted.sources["ex3_titanic"]
    result = grade_path(tmp_path / "filled.ipynb", questions=["confusion", "ex3_titanic", "ex4_spam.parsing"])
    assert result.score == result.max_score


#: A real learner's notebook (tests/fixtures/notebooks/SOURCES.md) whose exploration cells go between the sections.
LEARNER = Path(__file__).parent / "fixtures" / "notebooks" / "geron_3rd_edition.ipynb"
#: What the exploration does that must never happen when the grader imports a module.
TRAINS_OR_DOWNLOADS = ("fetch_openml(", ".fit(", "cross_val_predict(", "cross_val_score(", "urlretrieve(")


def learner_exploration_cells() -> list[str]:
    """The learner's cells that load data, plot or train and define no contract name, in order."""
    cells = [_source for cell in nbformat.read(LEARNER, 4).cells if cell.cell_type == "code"
             for _source in [cell.source]]
    return [source for number, source in enumerate(cells) if not parse_cell(number, source).contract_names
            and any(mark in source for mark in ("fetch_openml(", ".fit(", "plt.", "mnist"))]


@pytest.mark.slow
def test_filled_chapter_notebook_with_a_learners_exploration_scores_what_the_solutions_score(tmp_path):
    build_notebooks(tmp_path, stub_sources())
    filled = fill_answers(nbformat.read(tmp_path / CHAPTER_NOTEBOOK, 4), reference_sources())
    exploration = iter(learner_exploration_cells())
    cells = []
    for cell in filled.cells:  # after each answer cell: two of the learner's cells (load, plot, fit on full data)
        cells.append(cell)
        if cell.get("metadata", {}).get(METADATA_KEY, {}).get("role") == "answer":
            cells += [new_code_cell(next(exploration)), new_code_cell(next(exploration))]
    filled.cells = cells
    nbformat.write(filled, tmp_path / "explored.ipynb")
    converted = modules_from_notebook(tmp_path / "explored.ipynb")
    assert set(converted.sources) == set(reference_sources())
    for module, source in converted.sources.items():  # only definitions and guarded set-up run at import
        top_level = [ast.unparse(n) for n in ast.parse(source).body
                     if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not [t for t in top_level if any(mark in t for mark in TRAINS_OR_DOWNLOADS)], module
    as_notebook, as_modules = grade_path(tmp_path / "explored.ipynb"), grade_path(SOLUTIONS_DIR)
    assert [(q.id, q.status, q.points) for q in as_notebook.questions] == \
        [(q.id, q.status, q.points) for q in as_modules.questions]
    assert as_notebook.score == as_modules.score == as_modules.max_score


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
    assert "import numpy as np" in source  # shared set-up the module uses ...
    assert "LIMIT = 3" not in source and "import os" not in source  # ... and none that it does not
    assert "os.system" not in source and "np.load" not in source and "display" not in source and "pip" not in source
    notes = "\n".join(converted.notes)
    assert "cell 3 could not be placed: it defines build_model (ex1_knn97 and ex2_augmentation)" in notes
    assert "cell 1: dropped `!pip`, `%matplotlib`" in notes
    assert "cell 5" in notes and "%%bash" in notes and "cell 6, line 1: syntax error" in notes


def test_kernel_history_for_the_self_check_keeps_the_latest_definitions():
    cells = ["import numpy as np", "def build_model():\n    return 1",           # ex1's, run first
             "def shift_image(image, dx, dy):\n    pass\ndef augment(X, y):\n    pass\ndef build_model():\n    return 2",
             "def param_grid():\n    return {}"]
    ex1, _ = module_from_history(cells, "ex1_knn97")
    ex2, _ = module_from_history(cells, "ex2_augmentation")
    assert "return 1" in ex1 and "return 2" not in ex1 and "param_grid" in ex1
    assert "return 2" in ex2 and "param_grid" not in ex2 and "import numpy" not in ex2  # set-up only where used


def test_broken_notebooks_get_clear_messages(tmp_path):
    bad = tmp_path / "confusion.ipynb"
    bad.write_text('{"cells": [')
    with pytest.raises(CannotGrade, match="cannot read confusion.ipynb: it is not valid notebook JSON"):
        grade_path(bad)

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "roc.ipynb").write_text("not json")
    nb = new_notebook()  # no kernel metadata, megabytes of output, a cell that fails at import
    nb.cells = [new_code_cell(reference_source("confusion").replace("from _validation import as_binary, same_length",
                                                                    "from numpy import asarray as as_binary")),
                new_code_cell("import no_such_package_here", outputs=[nbformat.v4.new_output(
                    "stream", name="stdout", text="x" * 3_000_000)]),
                new_code_cell("THRESHOLD = float('not a number')")]
    nbformat.write(nb, folder / "confusion.ipynb")
    result = grade_path(folder, questions=["confusion.public_example", "roc.plot"])
    by_id = {q.id: q for q in result.questions}
    confusion, roc = by_id["confusion.public_example"], by_id["roc.plot"]
    assert confusion.status == "passed"  # a failing set-up statement is a note, not an import error
    notes = "\n".join(result.notes)
    # the grader's own line: a note (said once), never labelled as what the student's code printed
    assert "confusion.ipynb, cell 3, line 1 did not run when graded (ValueError" in notes, notes
    assert "did not run" not in confusion.output
    assert "confusion.ipynb has no kernel metadata" in notes
    assert "cell 2, line 1 `import no_such_package_here` (the grader has no `no_such_package_here`" in notes
    assert roc.status == "import_error" and "roc.py" not in roc.feedback and "no cell of" in roc.feedback
    assert "cannot read roc.ipynb: it is not valid notebook JSON" in notes


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


def test_names_are_matched_by_kind_and_the_books_names_are_aliases(tmp_path):
    path = write_notebook(
        tmp_path / "mywork.ipynb",
        "from scipy.ndimage import shift\n"
        "param_grid = [{'n_estimators': [100, 300]}]  # a Titanic grid, not ex1's param_grid()\n"
        "def shift_image(image, dx, dy):\n    return shift(image.reshape(28, 28), [dy, dx], cval=0).reshape(-1)",
        "import numpy as np\nfrom sklearn.base import BaseEstimator\n"
        "class Never5Classifier(BaseEstimator):\n    def fit(self, X, y=None):\n        return self\n"
        "    def predict(self, X):\n        return np.zeros(len(X), dtype=bool)",
        "def NeverClassifier():\n    return None  # a function cannot be the contract's class")
    converted = modules_from_notebook(path)
    assert set(converted.sources) == {"ex2_augmentation", "cross_validation"}
    assert "def shift_image" in converted.sources["ex2_augmentation"]  # not "ambiguous" with ex1's param_grid
    assert converted.found["cross_validation"] == {"NeverClassifier": "Never5Classifier"}
    assert "NeverClassifier = Never5Classifier" in converted.sources["cross_validation"]
    assert "def NeverClassifier" not in converted.sources["cross_validation"]
    notes = "\n".join(converted.notes)
    assert "contract names found: shift_image, NeverClassifier (as `Never5Classifier`)" in notes
    assert "ex1_knn97" not in notes.split("contract names found")[0]


def test_def_use_drops_what_reads_dropped_names_including_default_arguments(tmp_path):
    path = write_notebook(
        tmp_path / "ex3_titanic.ipynb",
        "from google.colab import drive\ndrive.mount('/content/drive')\nimport seaborn as sns\nimport os\n"
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.linear_model import LogisticRegression",
        "TITANIC_PATH = os.path.join('datasets', 'titanic')\nDOWNLOAD_URL = 'https://example.invalid/'",
        "def fetch_titanic_data(url=DOWNLOAD_URL, path=TITANIC_PATH):\n    return url, path",
        "train_data = load_titanic_data('train.csv')\ny = train_data['Survived']\nclf = LogisticRegression()\n"
        "clf.fit(train_data, y)\nmodel = LogisticRegression().fit(train_data, y)",
        "def build_pipeline():\n    return make_pipeline(LogisticRegression())")
    converted = modules_from_notebook(path)
    source = converted.sources["ex3_titanic"]
    assert "def build_pipeline" in source and "DOWNLOAD_URL = " in source
    for gone in ("google.colab", "seaborn", "def fetch_titanic_data", "train_data", ".fit(", "TITANIC_PATH ="):
        assert gone not in source, gone
    ast.parse(source)
    notes = "\n".join(converted.notes)
    assert "`def fetch_titanic_data(url=DOWNLOAD_URL, path=TITANIC_PATH):` (it reads `TITANIC_PATH`, which " \
           "only dropped code sets (cell 2, line 1))" in notes
    assert "`y = train_data['Survived']` (it reads `train_data`" in notes
    assert "`from google.colab import drive` (the grader has no `google`" in notes
    assert "`import seaborn as sns` (the grader has no `seaborn`" in notes
    assert "clf = LogisticRegression()" in source  # a constructor: kept, guarded
    assert source.count("try:") == source.count("except Exception as _notebook_error:") >= 2


def test_check_on_one_notebook_checks_the_modules_it_covers_in_notebook_words(tmp_path):
    from typer.testing import CliRunner

    from autograder.cli import app

    path = write_notebook(tmp_path / "mywork.ipynb", "import numpy as np\nmnist = fetch_openml('mnist_784')",
                          reference_source("confusion").replace(
                              "from _validation import as_binary, same_length",
                              "from numpy import asarray as as_binary\nsame_length = dict"))
    outcome = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 0, outcome.output
    report = (tmp_path / "out" / "report.md").read_text()
    rows = [line for line in report.split("## Details")[0].splitlines() if line.startswith("| ✓") or
            line.startswith("| ✗")]
    assert rows and all("| confusion: " in row for row in rows)  # no "mnist.py is not in the submission"
    assert ".py" not in outcome.output.replace("mywork.ipynb", "")
    assert "mywork.ipynb: cells placed in confusion: cells 2" in " ".join(report.split())
