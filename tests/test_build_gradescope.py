"""Gradescope's autograder.zip in a temporary root laid out as Gradescope's /autograder."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.build.gradescope import build_gradescope
from autograder.spec import load_spec
from build_helpers import fresh_venv
from submissions import PROJECT, reference_source, write_submission

POINTS = sum(q.points for q in load_spec().values() if q.module == "confusion")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """autograder.zip built for the confusion questions, unpacked, and setup.sh run offline."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    archive = build_gradescope(root.parent / "build", questions=["confusion"])
    with zipfile.ZipFile(archive) as zf:
        assert {"setup.sh", "run_autograder", "ch3-autograder.json"} <= set(zf.namelist())
        assert [n for n in zf.namelist() if n.startswith("dist/ch3_autograder-") and n.endswith(".whl")]
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CH3_")},
           "CH3_AUTOGRADER_ROOT": str(root), "CH3_VENV": str(root.parent / "venv"), "CH3_PYTHON": sys.executable,
           "CH3_OFFLINE": "1", "CH3_VENV_OPTIONS": "--system-site-packages", "CH3_PIP_OPTIONS": "-q --no-deps"}
    fresh_venv(root.parent / "venv")  # setup.sh reuses it: it sees this environment's libraries (offline)
    subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, check=True)
    assert not (root / "source" / "dist").exists()  # the wheel (hidden graders inside) is gone
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    return root, env


def run_autograder(installed, files: dict):
    root, env = installed
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, content in files.items():
        (root / "submission" / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_reference_stub_and_hostile_submissions(installed, tmp_path):
    reference = write_submission(tmp_path / "ref", honest=["confusion"])
    results = run_autograder(installed, {p.name: p.read_bytes() for p in reference.iterdir()})
    assert results["score"] == POINTS and len(results["tests"]) == 3
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}

    results = run_autograder(installed, {"confusion.py": (PROJECT / "assignments" / "confusion.py").read_text()})
    assert results["score"] == 0 and all("not implemented" in t["output"] for t in results["tests"])

    root, env = installed
    # The wheel installed the graders, the sample and the reference solutions into the venv's
    # site-packages, which the worker imports its libraries from.
    hostile = f"""
import glob, json, pathlib, sys
where = ["{root}/**", "{env['CH3_VENV']}/**", sys.prefix + "/**"]
stolen = [p for w in where for p in glob.glob(w, recursive=True)
          if "hidden" in p or p.endswith((".whl", ".npz", ".csv")) or "/solutions/" in p]
try:
    pathlib.Path("{root}/results/results.json").write_text(json.dumps({{"score": 1000, "tests": []}}))
except OSError as exc:  # the results folder is not in the sandbox
    print("could not write:", exc)
def binary_confusion_matrix(y_true, y_pred):
    raise RuntimeError("stolen: " + str(stolen))
precision = recall = f1 = binary_confusion_matrix
"""
    results = run_autograder(installed, {"confusion.py": hostile})
    assert results["score"] == 0 and len(results["tests"]) == 3
    text = json.dumps(results)
    assert "stolen: []" in text
    assert "test_concepts_hidden" not in text and ".whl" not in text and "solutions" not in text

    # The one-line copy of the installed reference: the reference is not importable in the sandbox.
    results = run_autograder(installed, {"confusion.py": "from solutions.confusion import *\n"})
    assert results["score"] == 0
    assert "No module named 'solutions" in json.dumps(results)


@pytest.mark.slow
def test_notebook_zip_and_unreadable_submissions(installed, tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook
    import nbformat

    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [new_code_cell(reference_source("confusion"))]  # the reference module stands alone
    results = run_autograder(installed, {"chapter.ipynb": nbformat.writes(nb)})
    assert results["score"] == POINTS

    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("confusion.py", (PROJECT / "assignments" / "confusion.py").read_text())
    assert run_autograder(installed, {"sub.zip": archive.read_bytes()})["score"] == 0

    results = run_autograder(installed, {"chapter.ipynb": "{not json"})
    assert results["score"] == 0 and "not valid notebook JSON" in results["output"]


@pytest.mark.slow
def test_setup_needs_no_bubblewrap_package_and_closes_the_grader_files(installed):
    """bubblewrap comes with the wheel; the container's weak mode (a separate uid) finds nothing to read."""
    root, env = installed
    setup = (root / "source" / "setup.sh").read_text()
    assert "bubblewrap" not in setup.split("apt-get install")[-1].splitlines()[0]
    site = subprocess.run([f"{env['CH3_VENV']}/bin/python", "-c", "import autograder, os; "
                           "print(os.path.dirname(os.path.dirname(autograder.__file__)))"],
                          capture_output=True, text=True, check=True, cwd=root).stdout.strip()
    installed_package = os.path.join(site, "autograder")
    for closed in ("graders", "questions.toml", "judge"):
        assert not os.stat(os.path.join(installed_package, closed)).st_mode & 0o007, closed
    for kept in ("__init__.py", "worker"):
        assert os.stat(os.path.join(installed_package, kept)).st_mode & 0o004, kept
    assert not os.stat(root / "source").st_mode & 0o007
