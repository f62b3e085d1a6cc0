"""The attack suite: hostile submissions against the grader.

For each attack: grading finishes, the hostile question scores 0 with the right
status and a clear message, an honest question beside it keeps its marks, and
nothing outside the output folder changed.
"""

import contextlib
import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from autograder.data import load_mnist
from autograder.grading import grade_path
from autograder.intake import prepare
from autograder.judge.client import Submission
from autograder.spec import load_spec
from autograder.worker.sandbox import choose_isolation, drops_privileges
from submissions import PROJECT, reference_source, tree_digest, write_submission

HONEST = "confusion.public_example"
FAST = {"timeout": 5}
ISOLATION = choose_isolation()
needs_bwrap = pytest.mark.skipif(ISOLATION != "bwrap", reason="bubblewrap cannot start here (see docs/guide/sandbox.md)")


def attack(tmp_path, files, questions, limits=FAST):
    """Grade a submission made of the honest confusion module and ``files``; check the invariants."""
    folder = write_submission(tmp_path / "submission", honest=["confusion"], files=files)
    out = tmp_path / "out"
    before = tree_digest(PROJECT, folder)
    result = grade_path(folder, out, questions=[HONEST, *questions], limits=limits)
    assert tree_digest(PROJECT, folder) == before, "the submission changed files outside the output folder"
    by_id = {q.id: q for q in result.questions}
    assert by_id[HONEST].points == by_id[HONEST].max_points, by_id[HONEST]
    assert json.loads((out / "results.json").read_text())["score"] == result.score
    return by_id


def targets_module(body: str, header: str = "") -> dict:
    """A multilabel.py whose large_odd_targets runs ``body`` (question multilabel.targets)."""
    source = f"import numpy as np\n{header}\n\ndef large_odd_targets(y):\n"
    source += "".join(f"    {line}\n" for line in body.strip().splitlines())
    return {"multilabel.py": source}


@pytest.mark.parametrize("name, body, status, message", [
    ("infinite loop", "while True:\n    pass", "timeout", "did not finish within 5 s"),
    ("sleep forever", "import time\ntime.sleep(10**6)", "timeout", "did not finish within 5 s"),
    ("allocate 50 GB", "return np.ones(50 * 2**30, dtype=np.uint8)", "error", "MemoryError"),
    ("os._exit(0)", "import os\nos._exit(0)", "crashed", "exited with code 0"),
    ("sys.exit", "import sys\nsys.exit(3)", "error", "tried to exit the process"),
    ("object array", "return np.array([object()] * len(y), dtype=object)", "failed", "dtype object"),
    ("lying __eq__", "class Liar:\n    def __eq__(self, other):\n        return True\nreturn Liar()", "failed",
     "<locals>.Liar; expected a numpy array"),
    ("wrong shape", "return np.zeros((len(y), 3), dtype=bool)", "failed", "expected (4, 2)"),
])
def test_hostile_function(tmp_path, name, body, status, message):
    question = attack(tmp_path, targets_module(body), ["multilabel.targets"])["multilabel.targets"]
    assert question.points == 0 and question.status == status, question
    assert message in question.feedback


def test_a_module_that_hangs_at_import_times_out_once(tmp_path):
    by_id = attack(tmp_path, targets_module("return None", header="while True:\n    pass"), ["multilabel"])
    questions = [by_id[q] for q in ("multilabel.targets", "multilabel.average_f1", "multilabel.models")]
    assert all(q.points == 0 and q.status == "timeout" for q in questions), questions
    assert all("importing multilabel.py" in q.feedback for q in questions)
    assert sum(q.seconds for q in questions) < 3 * FAST["timeout"], "the hanging import should be tried once"


def test_timeout_restarts_the_worker_for_the_next_question(tmp_path):
    files = targets_module("while True:\n    pass")
    files["multilabel.py"] += "\n" + reference_source("multilabel").split("\n\n\ndef large_odd_targets")[0].replace(
        "import numpy as np", "") + "\n" + "def average_f1" + reference_source("multilabel").split("def average_f1")[1]
    by_id = attack(tmp_path, files, ["multilabel.targets", "multilabel.average_f1"])
    assert by_id["multilabel.targets"].status == "timeout"
    assert by_id["multilabel.average_f1"].points == by_id["multilabel.average_f1"].max_points


@pytest.mark.skipif(not drops_privileges(ISOLATION), reason="the process limit binds only a dedicated sandbox uid")
def test_fork_bomb_is_contained(tmp_path):
    question = attack(tmp_path, targets_module("import os\nwhile True:\n    os.fork()"),
                      ["multilabel.targets"])["multilabel.targets"]
    assert question.points == 0 and question.status in ("error", "timeout", "crashed")


def test_100_mb_of_output_is_capped_and_the_answer_still_counts(tmp_path):
    body = "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\nreturn np.c_[y >= 7, y % 2 == 1]"
    question = attack(tmp_path, targets_module(body), ["multilabel.targets"])["multilabel.targets"]
    assert question.points == question.max_points
    assert "more bytes of output dropped" in question.output and len(question.output) < 100_000


def test_huge_reply_is_refused(tmp_path):
    # a minute per call (the floor too): encoding 1.6 GB takes seconds, and this test is about its size
    question = attack(tmp_path, targets_module("return np.zeros(200_000_000)"), ["multilabel.targets"],
                      limits={"timeout": 60, "timeout_floor": 60, "memory_mb": 12288})["multilabel.targets"]
    assert question.points == 0 and question.status == "crashed" and "returned too much data" in question.feedback


@pytest.mark.parametrize("header, message", [
    ("raise RuntimeError('boom at import')", "RuntimeError: boom at import"),
    pytest.param("import solutions.multilabel", "No module named 'solutions", marks=needs_bwrap),
    pytest.param("from solutions.multilabel import large_odd_targets as steal", "No module named 'solutions",
                 marks=needs_bwrap),
])
def test_hostile_import(tmp_path, header, message):
    by_id = attack(tmp_path, targets_module("return None", header=header), ["multilabel"])
    for qid in ("multilabel.targets", "multilabel.average_f1", "multilabel.models"):
        assert by_id[qid].points == 0 and by_id[qid].status == "import_error", by_id[qid]
        assert message in by_id[qid].feedback


@needs_bwrap
def test_overwriting_results_and_the_project_has_no_effect(tmp_path):
    out = tmp_path / "out"
    body = f"""
    for path in [{str(out / 'results.json')!r}, {str(PROJECT / 'autograder' / 'questions.toml')!r},
                 {str(PROJECT / 'solutions' / 'confusion.py')!r}, '/tmp/ch3-attack-marker']:
        try:
            with open(path, 'w') as fh:
                fh.write('{{"score": 1000}}')
        except OSError:
            pass
    return np.c_[y >= 7, y % 2 == 1]
    """
    by_id = attack(tmp_path, targets_module(body), ["multilabel.targets"])
    assert json.loads((out / "results.json").read_text())["score"] == sum(q.points for q in by_id.values())
    assert not os.path.exists("/tmp/ch3-attack-marker")


def test_monkeypatching_metrics_in_the_worker_changes_nothing(tmp_path):
    source = """
    import numpy, sklearn.metrics
    from sklearn.dummy import DummyClassifier
    sklearn.metrics.accuracy_score = lambda *args, **kwargs: 1.0
    numpy.mean = lambda *args, **kwargs: 1.0

    def build_pipeline():
        return DummyClassifier(strategy="constant", constant=1)
    """
    question = attack(tmp_path, {"ex3_titanic.py": source}, ["ex3_titanic.accuracy"])["ex3_titanic.accuracy"]
    assert question.points == 0 and question.status == "failed", question


def test_predictions_of_the_wrong_length(tmp_path):
    source = reference_source("ex3_titanic") + """

class Short:
    def __init__(self):
        self.inner = build_pipeline_honest()
    def fit(self, X, y):
        self.inner.fit(X, y)
        return self
    def predict(self, X):
        return self.inner.predict(X)[:10]

build_pipeline_honest, build_pipeline = build_pipeline, Short
"""
    question = attack(tmp_path, {"ex3_titanic.py": source}, ["ex3_titanic.accuracy"])["ex3_titanic.accuracy"]
    assert question.points == 0 and "returned 10 values for" in question.feedback


def test_a_model_that_looks_up_the_public_test_labels_is_flagged(tmp_path):
    mnist = load_mnist("quick")
    # keyed by a short hash, so that the table stays under the source cap (a full hex key would not)
    table = {hashlib.sha1(bytes(row)).hexdigest()[:16]: int(label) for row, label in zip(mnist.X_test, mnist.y_test)}
    source = f"""
    import hashlib
    import numpy as np
    LABELS = {table!r}

    class Lookup:
        def fit(self, X, y):
            return self
        def predict(self, X):
            return np.array([LABELS.get(hashlib.sha1(bytes(np.asarray(row, dtype=np.uint8))).hexdigest()[:16], 0)
                             for row in X])

    def build_model():
        return Lookup()
    """
    question = attack(tmp_path, {"ex1_knn97.py": source}, ["ex1_knn97.accuracy"])["ex1_knn97.accuracy"]
    assert question.points == 0 and question.status == "failed"
    assert "training on shuffled labels" in question.feedback


# ------------------------------------------------------------------ isolation probes

PROBE = """
import os, socket

def read(paths):
    found = {}
    for path in paths:
        try:
            with open(path, "rb") as fh:
                found[path] = len(fh.read())
        except OSError as exc:
            found[path] = type(exc).__name__
    return found

def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return type(exc).__name__

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__

def environment():
    return sorted(os.environ)
"""


@pytest.fixture
def probe(tmp_path, data_dir_or_none):
    source = write_submission(tmp_path / "probe", files={"probe.py": PROBE})
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    workdir = Path(tempfile.mkdtemp(prefix="ch3-probe-"))
    folder = prepare(source).materialize(workdir)  # the readable private copy grade_path() makes
    submission = Submission(folder)
    submission.start_question(load_spec()[HONEST].limits)
    yield submission.module("probe"), out
    submission.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def data_dir_or_none():
    value = os.environ.get("CH3_DATA_DIR")
    return value if value and os.path.isdir(value) else None


@needs_bwrap
def test_hidden_files_are_invisible(probe, data_dir_or_none):
    module, out = probe
    from autograder.data import cache_dir
    from autograder.data import SAMPLE_DIR
    secrets = [str(SAMPLE_DIR / "mnist.npz"), str(SAMPLE_DIR / "titanic_test_labels.csv"), str(out / "results.json"),
               str(PROJECT / "solutions" / "confusion.py"),
               str(PROJECT / "autograder" / "graders" / "hidden" / "test_exercises_hidden.py")]
    if data_dir_or_none:
        secrets += [os.path.join(data_dir_or_none, "mnist", "mnist.npz"),
                    os.path.join(data_dir_or_none, "titanic", "test_labels.csv")]
    found = module.read(secrets)
    assert all(isinstance(v, str) for v in found.values()), found
    assert module.listing(str(cache_dir())) in ([], "FileNotFoundError", "PermissionError")


@needs_bwrap
def test_no_network_not_even_the_graders_loopback(probe):
    module, _ = probe
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept():  # ends with an OSError when the test closes the socket
        with contextlib.suppress(OSError):
            server.accept()

    threading.Thread(target=accept, daemon=True).start()
    try:
        assert module.connect("127.0.0.1", port) != "connected"
        assert module.connect("1.1.1.1", 80) != "connected"
    finally:
        server.close()


def test_worker_environment_is_clean(probe, monkeypatch):
    module, _ = probe
    names = module.environment()
    assert "CH3_DATA_DIR" not in names and not any(n.startswith(("GITHUB", "AWS", "GRADESCOPE")) for n in names)
    assert set(names) <= {"PATH", "PWD", "HOME", "TMPDIR", "MPLCONFIGDIR", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE",
                          "PYTHONHASHSEED", "LC_ALL", "LANG", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                          "MKL_NUM_THREADS", "LOKY_MAX_CPU_COUNT", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT", "JOBLIB_MULTIPROCESSING",
                          "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}  # the last two: set by scikit-learn's import
