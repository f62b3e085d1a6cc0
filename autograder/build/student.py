"""The bundle students download: stubs, notebooks, public graders, the quick data without test labels, ``check``.

Layout of ``OUT`` (and ``OUT.zip``)::

    README.md                how to install and self-check
    assignments/             the stubs (one module per concept and exercise)
    notebooks/               the same as notebooks, with self-check cells
    package/                 the grader without its secrets: pip install ./package
                             (with its ``otter`` extra, for the Otter notebook's grader.check)

Left out, always: ``solutions/``, ``autograder/graders/hidden/`` (hidden inputs and seeds),
the sample's test labels (Titanic's ``test_labels.csv``, MNIST's ``y_test``, and the spam
emails' categories, which the spam splits score against) which hidden questions score against,
and ``autograder/build/`` (it reads the solutions). The spam sample ships as one folder of
emails under meaningless names (``emails/00000`` ...) in an order drawn afresh for each build:
no name, path or position says which are spam.  With
``graders/hidden`` absent, ``check`` runs the public graders only, and the loaders return
``None`` for the labels a student bundle does not have.  ``autograder/otter_check.py`` ships:
the Otter assignment's test cases (``grader.check`` in the Otter student notebook) call it.
"""

from __future__ import annotations

import io
import secrets
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from autograder.build.notebooks import build_notebooks
from autograder.data import read_spam_archive
from autograder.data.loaders import SPAM_UNLABELLED_FOLDER, STUDENT_SAMPLE_MARK
from autograder.paths import PACKAGE_DIR, PROJECT_DIR

#: Paths under autograder/ never shipped to students.
SECRET_PARTS = ("graders/hidden", "build", "data/sample/titanic_test_labels.csv")
HIDDEN_MNIST_KEYS = ("y_test",)

README = """\
# Chapter 3 (Classification): exercises and self-check

1. Install the checker (Python >= 3.11), from this folder, with the versions your grade is
   computed with (`constraints.txt`):

   ```bash
   python -m pip install -c package/autograder/constraints.txt ./package
   ```

2. Fill in the stubs in `assignments/` (or the notebooks in `notebooks/`; each module has
   its own notebook, and `chapter3.ipynb` holds them all).
3. Check your work with the public tests on the embedded sample:

   ```bash
   python -m autograder check assignments            # every module
   python -m autograder check assignments -q confusion
   ```

   In a notebook, run the self-check cell under each question (`notebook_check(...)`): it
   runs the same public tests on the code you have run so far.

   If your course hands out an Otter notebook (cells with `grader.check("...")`), install the
   checker with Otter instead, then save the notebook before each `grader.check`: it checks
   the saved file with the same public tests.

   ```bash
   python -m pip install -c package/autograder/constraints.txt "./package[otter]"
   ```

The public tests are a subset: hidden tests with other inputs and the test labels run when
your instructor grades. Only definitions (imports, functions, classes, constants) are kept
from a notebook when it is graded: code that trains or reads files at the top level is not run.
Submit either the `.py` modules or the notebooks.
"""


def _ignore(directory, names):
    rel = Path(directory).relative_to(PACKAGE_DIR)
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")
            or (rel / n).as_posix() in SECRET_PARTS}


def _student_pyproject() -> str:
    text = (PROJECT_DIR / "pyproject.toml").read_text()
    replacements = {
        'include = ["autograder*", "assignments*", "solutions*"]': 'include = ["autograder*"]',
    }
    for old, new in replacements.items():
        if old not in text:
            raise RuntimeError(f"pyproject.toml changed: cannot find {old!r} to make the student package")
        text = text.replace(old, new)
    return text


def _student_mnist(source: Path, target: Path) -> None:
    with np.load(source, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in HIDDEN_MNIST_KEYS}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    target.write_bytes(buffer.getvalue())


def _student_spam(source: Path, target: Path) -> None:
    """The spam sample with its categories removed: every email in one folder, under a number, in an
    order drawn for this build (``secrets``: not reproducible from anything shipped), with the same
    owner, mode and time on every entry."""
    emails = [raw for msgs in read_spam_archive(source).values() for raw in msgs.values()]
    order = list(range(len(emails)))
    secrets.SystemRandom().shuffle(order)
    with tarfile.open(target, "w:bz2") as tar:
        for number, index in enumerate(order):
            info = tarfile.TarInfo(f"{SPAM_UNLABELLED_FOLDER}/{number:05d}")
            info.size, info.mtime, info.mode = len(emails[index]), 0, 0o644
            tar.addfile(info, io.BytesIO(emails[index]))


def build_student(out_dir: Path, *, make_zip: bool = True) -> Path:
    """Write the student bundle into ``out_dir`` (emptied first) and, by default, ``out_dir.zip``.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir == PROJECT_DIR or out_dir in PROJECT_DIR.parents or \
            out_dir in [PROJECT_DIR / name for name in ("assignments", "solutions", "autograder", "tests")]:
        raise ValueError(f"The 'out_dir' parameter must be a folder of its own (it is emptied); got {out_dir}")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    shutil.copytree(PROJECT_DIR / "assignments", out_dir / "assignments", ignore=shutil.ignore_patterns("__pycache__"))
    build_notebooks(out_dir / "notebooks")
    package = out_dir / "package"
    shutil.copytree(PACKAGE_DIR, package / "autograder", ignore=_ignore)
    sample = package / "autograder" / "data" / "sample"
    _student_mnist(PACKAGE_DIR / "data" / "sample" / "mnist.npz", sample / "mnist.npz")
    _student_spam(PACKAGE_DIR / "data" / "sample" / "spam.tar.bz2", sample / "spam.tar.bz2")
    (sample / STUDENT_SAMPLE_MARK.name).write_text("This sample has no test labels (a student bundle).\n")
    (package / "pyproject.toml").write_text(_student_pyproject())
    (package / "README.md").write_text(README)
    (out_dir / "README.md").write_text(README)
    if make_zip:
        archive = out_dir.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out_dir.rglob("*")):
                if path.is_file():
                    zf.write(path, Path(out_dir.name) / path.relative_to(out_dir))
    return out_dir
