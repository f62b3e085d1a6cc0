"""Where a submission's definitions go when notebooks overlap: a notebook named like a module keeps
other modules' cells for them, and two notebooks defining one module make one module of both, with
every choice said once."""

from __future__ import annotations

import ast

from test_notebooks import write_notebook

from autograder.grading import grade_path
from autograder.intake.notebooks import modules_from_notebook, notebook_sources

SHIFT = ("from scipy.ndimage import shift\n"
         "def shift_image(image, dx, dy):\n"
         "    return shift(image.reshape(28, 28), [dy, dx], cval=0, mode='constant').reshape(-1)")
SPLIT = ("def split_train_test(X, y, n_train=60000):\n"
         "    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]")


def test_a_notebook_named_like_a_module_keeps_other_modules_cells_for_them(tmp_path):
    path = write_notebook(tmp_path / "mnist.ipynb", "import numpy as np", SPLIT, SHIFT,
                          "X_shifted = shift_image(X[0], 1, 0)")
    converted = modules_from_notebook(path)
    assert set(converted.sources) == {"mnist", "ex2_augmentation"}
    assert "def shift_image" in converted.sources["ex2_augmentation"]
    assert "def shift_image" not in converted.sources["mnist"] and "def split_train_test" in converted.sources["mnist"]
    notes = "\n".join(converted.notes)
    assert "mnist.ipynb is named like the module mnist, but cell 3 defines names of ex2_augmentation: graded there" \
        in notes
    assert "no cell defines" not in notes or "shift_image" not in notes.split("no cell defines")[1]


def test_two_notebooks_defining_one_module_make_one_module_of_both(tmp_path):
    write_notebook(tmp_path / "a_walkthrough.ipynb", "import numpy as np", SPLIT)
    write_notebook(tmp_path / "b_plots.ipynb", "import matplotlib.pyplot as plt",
                   "def plot_digit(image_data):\n    plt.imshow(image_data.reshape(28, 28), cmap='binary')\n"
                   "    plt.axis('off')",
                   "def split_train_test(X, y, n_train=100):\n    return None")
    sources, info = notebook_sources(tmp_path)
    module = sources["mnist.py"].decode()
    ast.parse(module)
    assert "def plot_digit" in module and "import matplotlib.pyplot as plt" in module
    assert module.count("def split_train_test") == 1 and "n_train=60000" in module  # the first notebook's
    notes = "\n".join(info["notes"])
    assert ("b_plots.ipynb also defines parts of module mnist (as a_walkthrough.ipynb does): `plot_digit` added "
            "from cells 1-2; `split_train_test` defined in both: graded as a_walkthrough.ipynb defines it") in notes
    # a_walkthrough alone lacks plot_digit, but the submission has it: no note says it is missing
    assert not any("not found for mnist" in n and "`plot_digit`" in n for n in info["notes"]), notes


def test_a_line_of_the_later_notebook_is_reported_in_that_notebook(tmp_path):
    write_notebook(tmp_path / "a.ipynb", SPLIT)
    write_notebook(tmp_path / "b.ipynb", "def plot_digit(image_data):\n    return 1 / 0",
                   "def plot_digits(instances, images_per_row=10):\n    return 1 / 0")
    result = grade_path(tmp_path, questions=["mnist.plot"])
    [q] = result.questions
    assert "b.ipynb, cell 1, line 2" in q.feedback, q.feedback
    assert "a.ipynb, cell 1" not in q.feedback


#: A notebook downloaded as a script: top-level exploration around the definitions.
SCRIPT = '''#!/usr/bin/env python
# coding: utf-8
# In[1]:
import numpy as np
from sklearn.datasets import fetch_openml
mnist = fetch_openml('mnist_784', version=1)
X, y = mnist["data"], mnist["target"]
# In[2]:
def precision(y_true, y_pred):
    tp = np.sum((y_true == 1) & (y_pred == 1))
    return tp / np.sum(y_pred == 1)
from scipy.ndimage import shift
def shift_image(image, dx, dy):
    image = np.asarray(image).reshape((28, 28))
    return shift(image, [dy, dx], cval=0, mode="constant").reshape(-1)
print(precision(y, y))
'''


def test_a_plain_script_is_searched_for_the_contract_names_and_said_in_its_lines(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "chapter3.py").write_text(SCRIPT)
    result = grade_path(folder, questions=["confusion.public_example", "ex2_augmentation.shift", "mnist.split"])
    notes = "\n".join(result.notes)
    assert "chapter3.py: definitions placed in confusion: line 9; ex2_augmentation: line 13" in notes, notes
    assert "contract names found: precision, shift_image" in notes
    by_id = {q.id: q for q in result.questions}
    assert by_id["ex2_augmentation.shift"].points > 0            # graded, not "not in the submission"
    assert by_id["mnist.split"].feedback.startswith("nothing in chapter3.py defines `split_train_test`")
    assert "is not in the submission" not in "\n".join(q.feedback for q in result.questions)
    assert "fetch_openml" not in notes.split("do not run when graded")[0]  # the download never ran


def test_a_module_file_wins_over_a_scripts_definition_and_the_note_says_so(tmp_path):
    from submissions import reference_source

    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "chapter3.py").write_text(SCRIPT)
    (folder / "confusion.py").write_text(reference_source("confusion"))
    result = grade_path(folder, questions=["confusion.public_example"])
    assert result.questions[0].points == result.questions[0].max_points
    notes = "\n".join(result.notes)
    assert "confusion.py is graded as module confusion; the definitions of its names in chapter3.py are not" in notes


def test_a_script_defining_no_contract_name_is_named_in_a_note(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "homework.py").write_text("def helper():\n    return 1\n")
    result = grade_path(folder, questions=["mnist.split"])
    assert any(n.startswith("homework.py: not named like a module of the assignment") for n in result.notes), \
        result.notes


def test_a_notebook_reader_reads_cells_not_modules_and_the_graders_own_lines_are_not_their_output(tmp_path):
    write_notebook(tmp_path / "roc.ipynb", "import numpy as np\nTHRESHOLD = int('x')",
                   "def roc_points(y_true, scores):\n    return THRESHOLD")
    result = grade_path(tmp_path, questions=["roc.points"])
    [q] = result.questions
    assert "has no attribute" not in q.feedback and "no cell of roc.ipynb defines `auc`" in q.feedback
    details = [c["detail"] for c in q.measurements["checks"] if c.get("detail")]
    assert details and not any("has no attribute" in d for d in details)  # the feedback page's words too
    assert "did not run" not in q.output  # the grader's guard, not what the student's code printed
    assert result.notes.count("roc.ipynb, cell 1, line 2 did not run when graded (ValueError: invalid literal for "
                              "int() with base 10: 'x'); code that uses what it sets may fail") == 1


def test_hints_come_from_what_the_book_binds_never_from_a_library_call_that_merely_appears(tmp_path):
    path = write_notebook(
        tmp_path / "work.ipynb",
        "from sklearn.pipeline import Pipeline\nfrom sklearn.svm import SVC\n"
        "from sklearn.model_selection import GridSearchCV",
        "titanic_pipeline = Pipeline([('svc', SVC())])\nsearch = GridSearchCV(titanic_pipeline, {}, cv=3)",
        "def parse_xmailer(header):\n    return header.split('/')[0]",
        "import email, email.policy\n"
        "def load_email(is_spam, filename):\n    with open(filename, 'rb') as f:\n"
        "        return email.parser.BytesParser(policy=email.policy.default).parse(f)",
        "def email_to_text(email):\n    return ''",
        "def precision(y_true, y_pred):\n    return 1.0")
    notes = "\n".join(modules_from_notebook(path).notes)
    for wrong in ("`build_pipeline` (cell", "`tune` (cell", "`train_svc` (cell", "parse_xmailer"):
        assert wrong not in notes, (wrong, notes)
    assert ("`parse_email` (the book's `load_email(is_spam, filename)` opens a file of the data set; "
            "`parse_email(raw)` gets the email's bytes") in notes


def test_did_you_mean_proposes_only_a_definition_that_fits_the_contracts_signature(tmp_path):
    path = write_notebook(tmp_path / "work.ipynb",
                          "def precisions(y_true, y_pred):\n    return 1.0",
                          "def recal(a, b, c, d):\n    return 1.0",
                          "def parse_xmailer(header):\n    return header.split('/')[0]",
                          "def email_to_text(email):\n    return ''")
    notes = "\n".join(modules_from_notebook(path).notes)
    assert "did you mean `precisions` (cell 1)? rename it `precision`" in notes
    assert "did you mean `recal`" not in notes  # four required arguments: not recall(y_true, y_pred)
    assert "parse_xmailer" not in notes  # a close name, but a header parser: no parameter the task names


def test_a_try_that_sets_up_a_helper_keeps_its_imports_and_constants(tmp_path):
    path = write_notebook(
        tmp_path / "spam.ipynb",
        "try:\n    import nltk\n    stemmer = nltk.PorterStemmer()\n"
        "    for word in ('Computations', 'Compulsive'):\n        print(word, '=>', stemmer.stem(word))\n"
        "except ImportError:\n    print('Error: stemming requires the NLTK module.')\n    stemmer = None",
        "def email_to_text(email):\n    return stemmer.stem(str(email))")
    converted = modules_from_notebook(path)
    source = converted.sources["ex4_spam"]
    ast.parse(source)
    assert "stemmer = nltk.PorterStemmer()" in source and "stemmer = None" in source
    assert "print(" not in source and "for word" not in source
    assert any("cell 1, line 1: of its try statement only the imports and constants run" in n
               for n in converted.notes)


def test_a_script_in_a_zip_is_searched_as_in_a_folder(tmp_path):
    import zipfile

    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("homework/chapter3.py", SCRIPT)
    result = grade_path(archive, questions=["ex2_augmentation.shift"])
    assert result.questions[0].points > 0, result.questions[0].feedback
    assert any("chapter3.py: contract names found: precision, shift_image" in n for n in result.notes), result.notes


def test_a_call_to_a_missing_name_is_said_as_what_the_notebook_or_script_lacks():
    """The grader's call meets the converted module without the name: the feedback says the notebook (or
    script) lacks it, never that the student's call "raised" it, and drops the grader's traceback of the
    lookup; a missing name of another module is left as it is."""
    from autograder.intake.notebooks import _reader_terms_for_missing_names
    from autograder.results import GradingResult, QuestionResult

    lookup = ('Traceback (most recent call last):\n  File "/grader/worker/entry.py", line 229, in target\n'
              '    return getattr(self.module(request["module"]), request["attr"])\n'
              "AttributeError: module 'ex2_augmentation' has no attribute 'augment'\n")
    call = QuestionResult("ex2_augmentation.augment", "augment", "hidden", 0, 3, "error",
                          "ex2_augmentation.augment() raised AttributeError: module 'ex2_augmentation' has no "
                          "attribute 'augment'\n" + lookup)
    check = QuestionResult("roc.points", "points", "hidden", 0, 5, "error",
                           "called roc.auc(fpr=...); it raised AttributeError: module 'roc' has no attribute 'auc'; "
                           "AttributeError: module 'mnist' has no attribute 'plot_digit'")
    for documents, lacks in ((["ex.ipynb"], "no cell of ex.ipynb defines `{}`"),
                             (["ch3.py"], "`{}` is not defined in ch3.py")):
        result = GradingResult("s", "quick", "strong", questions=[QuestionResult(**vars(call)),
                                                                  QuestionResult(**vars(check))])
        _reader_terms_for_missing_names(result, {"notebooks": documents})
        augment, points = result.questions
        assert augment.feedback == ("ex2_augmentation.augment() could not be called: " + lacks.format("augment")
                                    + "\n"), augment.feedback
        assert points.feedback == ("called roc.auc(fpr=...); but " + lacks.format("auc")
                                   + "; AttributeError: module 'mnist' has no attribute 'plot_digit'")
