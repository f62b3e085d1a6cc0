"""The student bundle: installable with `check` working, and free of solutions, hidden graders and labels."""

import ast
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.build.student import build_student
from autograder.data import load_mnist, load_spam
from autograder.spec import load_spec
from build_helpers import fresh_venv
from submissions import PROJECT, write_submission

PUBLIC_FILES = [*PROJECT.glob("assignments/*.py"), *PROJECT.glob("autograder/**/*.py"),
                PROJECT / "autograder" / "questions.toml"]


def secret_lines():
    """Lines of the solutions and hidden graders that appear in no file students may have."""
    public = "\n".join(path.read_text() for path in PUBLIC_FILES if "hidden" not in path.parts
                       and "build" not in path.parts)
    secrets = [*PROJECT.glob("solutions/*.py"), *PROJECT.glob("autograder/graders/hidden/*.py")]
    return {line.strip() for path in secrets for line in path.read_text().splitlines()
            if len(line.strip()) >= 30 and line.strip() not in public}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    build_student(root / "ch3-student")
    unpacked = tmp_path_factory.mktemp("unpacked")  # what a student gets: the zip, unpacked in an empty folder
    with zipfile.ZipFile(root / "ch3-student.zip") as zf:
        zf.extractall(unpacked)
    return unpacked / "ch3-student"


def test_bundle_holds_the_stubs_notebooks_public_graders_and_no_secret(bundle):
    files = [p for p in bundle.rglob("*") if p.is_file()]
    names = {p.relative_to(bundle).as_posix() for p in files}
    assert {"README.md", "assignments/confusion.py", "notebooks/chapter3.ipynb", "notebooks/confusion.ipynb",
            "package/pyproject.toml", "package/autograder/graders/public/test_concepts_public.py"} <= names
    assert not [n for n in names if "solutions" in n or "graders/hidden" in n or "test_labels" in n]
    secrets = secret_lines()
    assert len(secrets) > 200  # the scan has something to look for
    labels = (PROJECT / "autograder/data/sample/titanic_test_labels.csv").read_text().strip().splitlines()[1:]
    label_text = "\n".join(labels[:40])
    y_test = load_mnist("quick").y_test
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", errors="ignore")
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"{path.relative_to(bundle)} holds {leaked[:3]}"
        assert label_text not in text, path
        if path.suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                assert "y_test" not in npz.files
                assert not any(npz[k].shape == y_test.shape and np.array_equal(npz[k], y_test) for k in npz.files)


#: Names that would say which rows or emails belong to which hidden label.
LABEL_NAMES = {"easy_ham", "hard_ham", "spam", "ham", "y_test", "test_labels", "test_labels.csv", "survived"}


def _members(path: Path, data: bytes) -> list[str]:
    """The names inside an archive (zip, tar, npz), in stored order; [] for other files."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.namelist()
    if path.name.endswith((".tar", ".tar.bz2", ".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return tar.getnames()
    return []


def test_no_name_path_or_order_in_the_bundle_reveals_a_hidden_label(bundle):
    """Walks every file and every archive member: no name or path is a label, the spam emails are
    numbered in an order unrelated to their category, and Titanic's test file has no answer column."""
    categories = {raw: cat for cat, msgs in (("ham", load_spam("quick").easy_ham), ("spam", load_spam("quick").spam),
                                             ("hard", load_spam("quick").hard_ham)) for raw in msgs}
    shipped = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        data = path.read_bytes()
        names = [path.relative_to(bundle).as_posix(), *_members(path, data)]
        for name in names:
            parts = {part.lower().rsplit(".", 1)[0] for part in name.split("/")} | {p.lower() for p in name.split("/")}
            assert not parts & LABEL_NAMES, f"{path.relative_to(bundle)}: {name}"
        if path.name == "spam.tar.bz2":
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
                assert all(m.name.split("/")[-1].isdigit() and m.mtime == 0 for m in members)
                shipped = [categories.get(tar.extractfile(m).read()) for m in members]
        if path.name == "titanic_test.csv":
            assert "survived" not in data.decode().splitlines()[0].lower()
    assert sorted(shipped) == sorted(categories.values())  # every email, none added, none renamed to a label
    # the order: as many runs of one category as a random order gives (3 standard deviations)
    spam_flags = np.array([c == "spam" for c in shipped])
    runs = 1 + int(np.sum(spam_flags[1:] != spam_flags[:-1]))
    n, p = len(spam_flags), spam_flags.mean()
    expected, sd = 1 + 2 * (n - 1) * p * (1 - p), np.sqrt(4 * n * p * (1 - p) * (1 - 3 * p * (1 - p)))
    assert abs(runs - expected) <= 3 * sd + 2, (runs, expected, sd)


def test_the_bundles_spam_sample_loads_without_categories(bundle, monkeypatch):
    from autograder.data import loaders

    full = load_spam("quick")
    emails = sum(len(getattr(full, c)) for c in ("easy_ham", "hard_ham", "spam"))
    sample = bundle / "package" / "autograder" / "data" / "sample"
    monkeypatch.setattr(loaders, "SAMPLE_DIR", sample)
    monkeypatch.setattr(loaders, "STUDENT_SAMPLE_MARK", sample / loaders.STUDENT_SAMPLE_MARK.name)
    corpus = loaders.load_spam("quick")
    assert corpus.spam is None and corpus.easy_ham is None and len(corpus.unlabelled) == emails


def test_bundle_package_is_self_contained_and_ships_the_otter_checks(bundle):
    """Every `autograder.*` module the bundle's package imports is in the bundle (it has no build/ folder).

    Known exception: the CLI's `build` commands (instructor-only) import `autograder.build` when run."""
    package = bundle / "package"
    assert (package / "autograder" / "otter_check.py").is_file()  # the Otter notebook's grader.check calls it
    assert not (package / "autograder" / "build").exists()
    missing = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                if name.split(".")[0] != "autograder" or (path.name == "cli.py" and name.startswith("autograder.build")):
                    continue
                target = package.joinpath(*name.split("."))
                if not (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()):
                    missing.append(f"{path.relative_to(package)}: {name}")
    assert not missing, missing
    assert "otter = [" in (package / "pyproject.toml").read_text()  # pip install "./package[otter]"


@pytest.mark.slow
def test_bundle_installs_and_checks_stubs_and_solutions(bundle, tmp_path):
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    str(bundle / "package")], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CH3_")}
    env["CH3_WARM"] = "0"  # the bundle's first check would leave a warm grader running after the test
    where = subprocess.run([str(python), "-c", "import autograder; print(autograder.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where  # the bundle's package, not the project's

    def check(folder, *options):
        done = subprocess.run([str(python), "-m", "autograder", "check", str(folder), *options], cwd=bundle, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return " ".join(done.stdout.split())

    stubs = check(bundle / "assignments")
    spec = load_spec().values()
    public, hidden = [q for q in spec if q.visibility == "public"], [q for q in spec if q.visibility == "hidden"]
    assert f"public: 0/{len(public)} passed (0/{sum(q.points for q in public):g} points)" in stubs
    assert f"{sum(q.points for q in hidden):g} more points depend on hidden tests" in stubs
    # The modules whose public tests read the sample (MNIST, Titanic without test labels), and one that does not.
    modules = ("cross_validation", "ex3_titanic", "confusion")
    mine = write_submission(bundle / "mine", honest=modules)
    public = [q for q in load_spec().values() if q.module in modules and q.visibility == "public"]
    points = sum(q.points for q in public)
    assert f"public: {len(public)}/{len(public)} passed ({points:g}/{points:g} points)" in \
        check(mine, *[f"-q{m}" for m in modules])
    shutil.rmtree(mine)
