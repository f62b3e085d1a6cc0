"""The grading process's own trust boundary: where it runs, what it decodes, what it prints, how it installs.

Each test builds a hostile (or realistic) submission and checks that the grader
itself is untouched: it imports nothing from the submission, decodes replies within
a budget, never reads through links or special files, never shows a student's text
as markup or terminal control, keeps hidden tracebacks to staff, and installs whole.
"""

import io
import json
import os
import resource
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from typer.testing import CliRunner

from autograder.cli import app
from autograder.grading import CannotGrade, grade_path
from autograder.intake import MAX_FILE_BYTES, MAX_ZIP_ENTRIES, prepare
from autograder.reporters import print_table, to_gradescope, to_markdown
from autograder.results import GradingResult, QuestionResult
from autograder.worker import protocol
from submissions import PROJECT, reference_source, tree_digest, write_submission

HONEST = "confusion.public_example"
FAST = {"timeout": 10}


def grade_hostile(tmp_path, files, questions, honest=("confusion",)):
    """Grade ``files`` beside the honest confusion module; the honest question keeps its marks."""
    folder = write_submission(tmp_path / "submission", honest=honest, files=files)
    before = tree_digest(PROJECT)
    result = grade_path(folder, tmp_path / "out", questions=[HONEST, *questions], limits=FAST)
    assert tree_digest(PROJECT) == before
    by_id = {q.id: q for q in result.questions}
    assert by_id[HONEST].points == by_id[HONEST].max_points, by_id[HONEST]
    return result, by_id


# ------------------------------------------- 1. the grader imports nothing from where it runs

SHADOWS = ("numpy", "pytest", "rich", "typer", "sklearn", "pandas", "json", "sitecustomize", "usercustomize")


def _shadowing_submission(tmp_path) -> Path:
    """A submission folder whose extra modules shadow the grader's imports and leave a marker if run."""
    marker = tmp_path / "markers"
    marker.mkdir()
    files = {f"{name}.py": f"open({str(marker / name)!r}, 'w').write('ran in the grader')\n" for name in SHADOWS}
    return write_submission(tmp_path / "SUB", honest=["confusion"], files=files)


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "autograder"],
    [str(Path(sys.executable).with_name("ch3-grader"))],
], ids=["python -m autograder", "ch3-grader"])
def test_grading_from_inside_the_submission_runs_none_of_its_files(tmp_path, command):
    if not Path(command[0]).exists():
        pytest.skip("the ch3-grader script is not installed next to this interpreter")
    folder = _shadowing_submission(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([*command, "grade", ".", "--out", "../o", "-q", HONEST, "--timeout", "20"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=180)
    assert sorted(os.listdir(tmp_path / "markers")) == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "o" / "results.json").read_text())["score"] == 2


# ----------------------------------------------------------- 2. replies decoded within a budget

def _frame(header: bytes, blobs=()) -> bytes:
    parts = [len(header).to_bytes(8, "little"), header, len(blobs).to_bytes(8, "little")]
    for blob in blobs:
        parts += [len(blob).to_bytes(8, "little"), blob]
    return b"".join(parts)


FLOOD_EXPR = 'b\'{"ok": [\' + b"0," * (6 << 20) + b\'0]}\''   # 12 MB of JSON: ~100 MB of Python objects
DEEP_EXPR = 'b\'{"ok": \' + b"[" * 100_000 + b"]" * 100_000 + b"}"'  # RecursionError in json / the decoder
SMALL_FLOOD_EXPR = 'b\'{"ok": [\' + b"0," * (1 << 20) + b\'0]}\''  # just over the value budget
FLOOD, DEEP = eval(FLOOD_EXPR), eval(DEEP_EXPR)
NPY_BOMB_HEADER = b'{"ok": {"__array__": 0}}'


def _npy_claiming(shape) -> bytes:
    """An .npy header that claims ``shape`` of float64, followed by no data at all."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = shape
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


@pytest.mark.parametrize("message, words", [
    (_frame(FLOOD), "values, more than"),
    (_frame(b'{"ok": ' + b" " * (20 << 20) + b"1}"), "bytes, more than"),
    (_frame(DEEP), "nested more than"),
    (_frame(NPY_BOMB_HEADER, [_npy_claiming((1 << 40,))]), "bytes follow"),
], ids=["json flood", "json over the size cap", "deep nesting", ".npy header lies about its size"])
def test_a_hostile_reply_is_refused_before_it_is_built(message, words):
    tracemalloc.start()
    try:
        with pytest.raises(protocol.ProtocolError, match=words):
            protocol.decode(bytearray(message))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(message) + (1 << 20), f"decoding cost {peak:,} bytes for a {len(message):,}-byte reply"


def test_a_large_array_reply_costs_its_size_once():
    message = bytearray(protocol.encode({"ok": np.arange(5_000_000, dtype=np.float64)}))
    tracemalloc.start()
    try:
        value = protocol.decode(message)["ok"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert value[-1] == 4_999_999 and value.flags.aligned
    assert peak < len(message) // 10, f"decoding a {len(message):,}-byte array allocated {peak:,} bytes"


def _hand_made_reply(header_expr: str, blobs=()) -> dict:
    """A multilabel.py whose large_odd_targets writes a forged reply straight to the grader's pipe."""
    return {"multilabel.py": f"""
        import os, sys

        def frame(header, blobs):
            parts = [len(header).to_bytes(8, "little"), header, len(blobs).to_bytes(8, "little")]
            for blob in blobs:
                parts += [len(blob).to_bytes(8, "little"), blob]
            return b"".join(parts)

        def large_odd_targets(y):
            message = frame({header_expr}, {list(blobs)!r})
            data = len(message).to_bytes(8, "little") + message
            caller = sys._getframe()  # the worker's reply pipe, from the serving loop's locals
            while caller.f_code.co_name != "serve":
                caller = caller.f_back
            fd = caller.f_locals["response_fd"]
            while data:
                data = data[os.write(fd, data):]
            os._exit(0)
        """}


@pytest.mark.parametrize("header_expr, blobs, words", [
    (SMALL_FLOOD_EXPR, (), "values, more than"),
    (DEEP_EXPR, (), "nested more than"),
    (repr(NPY_BOMB_HEADER), [_npy_claiming((1 << 40,))], "bytes follow"),
], ids=["json flood", "deep nesting", ".npy header lies"])
def test_a_worker_that_forges_its_reply_fails_only_its_question(tmp_path, header_expr, blobs, words):
    result, by_id = grade_hostile(tmp_path, _hand_made_reply(header_expr, blobs), ["multilabel.targets"])
    question = by_id["multilabel.targets"]
    assert question.points == 0 and question.status == "crashed", question
    assert words in question.feedback
    assert not result.grader_errors


# ------------------------------------------------ 3. links, special files and archives

def _prepare_in_a_child(source: Path, workdir: Path) -> dict:
    """intake.prepare in a child with 1 GB of memory and 60 s: /dev/zero or a FIFO cannot take the test down."""
    code = ("import json, sys; from pathlib import Path; from autograder.intake import prepare\n"
            "prepared = prepare(Path(sys.argv[1])); folder = prepared.materialize(Path(sys.argv[2]))\n"
            "print(json.dumps({'files': sorted(p.name for p in folder.iterdir()), 'notes': list(prepared.notes)}))")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    done = subprocess.run([sys.executable, "-c", code, str(source), str(workdir)], capture_output=True, text=True,
                          timeout=60, preexec_fn=limit)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


SPECIAL_FILES = {  # name -> (how to make it, why it is skipped)
    "shadow.py": (lambda p: p.symlink_to("/etc/shadow"), "symbolic link"),
    "stolen.py": (lambda p: p.symlink_to(PROJECT / "autograder/graders/hidden/test_exercises_hidden.py"),
                  "symbolic link"),
    "zero.py": (lambda p: p.symlink_to("/dev/zero"), "symbolic link"),
    "fifo.py": (lambda p: os.mkfifo(p), "FIFO"),
    "x.py": (lambda p: p.mkdir(), "folder"),
    "huge.py": (lambda p: p.write_bytes(b"#" * (MAX_FILE_BYTES + 1)), "more than"),
}


def test_only_regular_files_are_copied_and_the_rest_is_reported(tmp_path):
    source = write_submission(tmp_path / "sub", honest=["confusion"])
    for name, (make, _) in SPECIAL_FILES.items():
        make(source / name)
    # should the grader open the FIFO, a writer appears after 20 s so that the test ends
    unblock = threading.Timer(20, lambda: os.close(os.open(source / "fifo.py", os.O_WRONLY | os.O_NONBLOCK)))
    unblock.start()
    try:
        prepared = _prepare_in_a_child(source, tmp_path / "work")
    finally:
        unblock.cancel()
    assert prepared["files"] == ["confusion.py"], prepared
    assert len(prepared["notes"]) == len(SPECIAL_FILES), prepared["notes"]
    for name, (_, why) in SPECIAL_FILES.items():
        (note,) = [n for n in prepared["notes"] if f"skipped {name}:" in n]
        assert why in note, note


def test_skipped_files_are_reported_with_the_results(tmp_path):
    folder = write_submission(tmp_path / "submission", honest=["confusion"])
    (folder / "x.py").mkdir()
    (folder / "shadow.py").symlink_to("/etc/shadow")
    result = grade_path(folder, tmp_path / "out2", questions=[HONEST], limits=FAST)
    assert result.score == 2 and len(result.notes) == 2
    assert "x.py" in (tmp_path / "out2" / "report.md").read_text()
    assert "shadow.py" in json.loads((tmp_path / "out2" / "results.json").read_text())["output"]


def test_a_zip_with_too_many_entries_is_refused_before_it_is_read(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("confusion.py", reference_source("confusion"))
        for i in range(MAX_ZIP_ENTRIES + 1):
            handle.writestr(f"junk/{i}", b"")
    with pytest.raises(CannotGrade, match="entries, more than"):
        prepare(archive).materialize(tmp_path / "work")


# ------------------------------------- 4. students cannot raise "grader error" nor see the graders

@pytest.mark.parametrize("files, question", [
    ({"multilabel.py": "def large_odd_targets(y):\n    return [[1], [1, 2], [3], [4]]\n"}, "multilabel.targets"),
    ({"confusion.py": reference_source("confusion") + "\n\ndef precision(y_true, y_pred):\n    return 10 ** 400\n"},
     HONEST),
], ids=["ragged list", "integer too large for a float"])
def test_unusual_return_values_fail_the_question_not_the_grader(tmp_path, files, question):
    folder = write_submission(tmp_path / "submission", files=files, honest=["confusion"] if question != HONEST else [])
    result = grade_path(folder, tmp_path / "out", questions=[question], limits=FAST)
    (graded,) = result.questions
    assert graded.status in ("failed", "partial") and graded.points < graded.max_points, graded
    assert not result.grader_errors, result.grader_errors


def _result_with_a_grader_error() -> GradingResult:
    return GradingResult(submission="sub", profile="quick", isolation="strong", questions=[QuestionResult(
        id="ex1_knn97.accuracy", name="ex1: accuracy", visibility="hidden", points=0, max_points=10,
        status="grader_error", feedback="The grader itself failed on this question; it is not your fault.")],
        grader_errors=['ex1_knn97.accuracy: Traceback: File "graders/hidden/test_exercises_hidden.py", '
                       "line 42, SEED = 1234"])


def test_hidden_grader_tracebacks_reach_staff_only(tmp_path):
    result = _result_with_a_grader_error()
    students_see = json.dumps(to_gradescope(result)) + to_markdown(result)
    assert "test_exercises_hidden" not in students_see and "SEED" not in students_see
    assert "grader itself failed on 1 question" in to_gradescope(result)["output"]
    result.save(tmp_path / "grading.json")
    assert "SEED = 1234" in (tmp_path / "grading.json").read_text()


def test_what_a_module_prints_at_import_is_kept(tmp_path):
    source = "print('debug: imported my confusion module')\n" + reference_source("confusion")
    result, by_id = grade_hostile(tmp_path, {"confusion.py": source}, [])
    assert "debug: imported my confusion module" in by_id[HONEST].output


# ------------------------------------------------------------- 5. student text is only text

INJECTION = ("[/] [bold red]markup[/] \x1b[2J\x1b]52;c;cHduZWQ=\x07 \x1b[31mred \u202egnp.exe\n"
             "````\n# Grading report: 126 / 126\n<img src=x onerror=alert(1)>\n```")


def _result_quoting(text: str) -> GradingResult:
    return GradingResult(submission="sub", profile="quick", isolation="strong", questions=[QuestionResult(
        id=HONEST, name="confusion: example", visibility="public", points=0, max_points=2, status="error",
        feedback=f"confusion.precision() raised ValueError: {text}", hint="Check the docstring.", output=text)])


def test_markdown_report_cannot_be_broken_out_of():
    _assert_renders_safely(to_markdown(_result_quoting(INJECTION)), "Grading report: 0 / 2")


def _assert_renders_safely(report: str, title: str):
    """Parsed as a renderer reads it: one title, no HTML, links or images, no control characters."""
    tokens = MarkdownIt("commonmark").enable("table").parse(report)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [h for h in headings if "Grading report" in h] == [title], headings
    assert not [t for t in tokens if t.type.startswith("html")]
    assert not [c for t in tokens for c in (t.children or []) if c.type.startswith(("html", "link", "image"))]
    assert "\x1b" not in report and "\u202e" not in report and "\x07" not in report


def test_console_prints_student_text_as_text():
    console = Console(record=True, force_terminal=True, width=200, color_system="truecolor")
    print_table(_result_quoting(INJECTION), console, hints=True)
    text = console.export_text(styles=False)
    assert "[/] [bold red]markup[/]" in text
    raw = console.export_text(styles=True)
    assert "\x1b]52" not in raw and "\x1b[2J" not in raw and "\u202e" not in raw


def test_html_text_is_inert():
    from autograder.reporters.text import html_text

    assert html_text('<img src=x onerror="alert(1)">\x1b[2J') == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"


def test_results_json_has_no_control_sequences():
    data = to_gradescope(_result_quoting(INJECTION))
    text = "".join(test["output"] for test in data["tests"])
    assert "[/] [bold red]markup[/]" in text and not any(c in text for c in ("\x1b", "\x07", "\u202e"))


def test_cli_survives_markup_and_escapes_from_a_submission(tmp_path):
    # raised at import, so that the student's text is the headline the table shows
    source = reference_source("confusion") + f"\n\nprint({INJECTION!r})\nraise ValueError({INJECTION!r})\n"
    folder = write_submission(tmp_path / "submission", files={"confusion.py": source})
    out = tmp_path / "out"
    invoked = CliRunner().invoke(app, ["grade", str(folder), "--out", str(out), "-q", HONEST, "--timeout", "10"],
                                 env={"COLUMNS": "300"})
    assert invoked.exit_code == 0, invoked.output
    assert "\x1b" not in invoked.output
    # shown as typed, not applied (the table may wrap the cell between "[bold" and "red]")
    assert "[/] [bold" in invoked.output and "red]markup[/]" in invoked.output, invoked.output
    _assert_renders_safely((out / "report.md").read_text(), "Grading report: 0 / 2")


# ------------------------------------------------------------------ 6. what a wheel carries

@pytest.mark.slow
def test_the_wheel_carries_everything_grading_needs(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(PROJECT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("ch3_autograder-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {"autograder/graders/pytest.ini", "autograder/questions.toml", "autograder/graders/hidden/__init__.py",
              "autograder/graders/hidden/test_exercises_hidden.py", "autograder/graders/public/__init__.py",
              "autograder/data/sample/mnist.npz", "autograder/data/sample/titanic_test_labels.csv",
              "solutions/confusion.py", "solutions/ex4_spam.py", "assignments/confusion.py"}
    assert needed <= names, sorted(needed - names)


# ------------------------------------------------------------ 7. feedback says what failed first

def test_check_shows_the_failure_before_the_hint_and_writes_the_full_report(tmp_path):
    source = "import numpy as np\nfrom no_such_helper import thing\n"
    folder = write_submission(tmp_path / "submission", files={"confusion.py": source})
    out = tmp_path / "check-report"
    invoked = CliRunner().invoke(app, ["check", str(folder), "-q", HONEST, "--out", str(out)],
                                 env={"COLUMNS": "200"})
    assert invoked.exit_code == 0, invoked.output
    flat = " ".join(invoked.output.split())
    assert "could not be imported" in flat and "Hint:" in flat
    assert flat.index("could not be imported") < flat.index("Hint:")
    report = (out / "report.md").read_text()
    assert "No module named 'no_such_helper'" in report and "Hint:" in report


def test_report_shows_every_line_of_every_question():
    result = GradingResult(submission="sub", profile="quick", isolation="strong", questions=[QuestionResult(
        id="ex1_knn97.accuracy", name="ex1: accuracy", visibility="hidden", points=10, max_points=10,
        status="passed", feedback="accuracy 0.9714 on 10,000 held-out samples\nshuffled labels: 0.10 (chance)")])
    report = to_markdown(result)
    assert "accuracy 0.9714" in report and "shuffled labels: 0.10 (chance)" in report
