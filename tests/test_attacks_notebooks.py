"""Hostile notebooks: every malformed notebook is a clear "cannot read" message, and the grader's
own memory is bounded by what it agrees to parse (nothing here reaches the sandbox)."""

import ast
import json

import pytest
from typer.testing import CliRunner

from autograder.cli import ExitCode, app
from autograder.grading import CannotGrade, grade_path
from autograder.intake.notebooks import MAX_NOTEBOOK_CODE_CHARS, NotebookError, modules_from_notebook

KERNEL = {"kernelspec": {"name": "python3", "language": "python"}}


def notebook_json(*sources, metadata=KERNEL) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": s} for s in sources],
            "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write(path, data):
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


MALFORMED = {
    "deep JSON (100,000 nested lists)": '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "deep JSON inside a cell's source": json.dumps(notebook_json("x = 1"))[:-1].replace(
        '"source": "x = 1"', '"source": ' + "[" * 50_000 + "]" * 50_000) + "}",
    "not JSON": "{'cells': [",
    "not UTF-8": b'{"cells": [], "x": "\xff\xfe"}',
    "JSON but no cells": '{"worksheets": []}',
    "cells that are not cells": '{"cells": [1, "two", null]}',
    "a source that is not text": json.dumps(notebook_json({"not": "text"})),
    "a source list of numbers": json.dumps(notebook_json([1, 2, 3])),
    "a cell type that is not text": '{"cells": [{"cell_type": ["code"], "source": "x = 1"}]}',
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_notebook_is_a_clear_cannot_read_message(tmp_path, name):
    path = write(tmp_path / "confusion.ipynb", MALFORMED[name])
    with pytest.raises(NotebookError, match=r"cannot read confusion\.ipynb"):
        modules_from_notebook(path)
    with pytest.raises(CannotGrade, match=r"cannot read confusion\.ipynb"):
        grade_path(path)


def test_check_on_a_deep_notebook_exits_cleanly_without_a_traceback(tmp_path):
    path = write(tmp_path / "mywork.ipynb", MALFORMED["deep JSON (100,000 nested lists)"])
    outcome = CliRunner().invoke(app, ["check", str(path), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == ExitCode.CANNOT_GRADE, outcome.output
    assert "cannot read mywork.ipynb" in outcome.output and "Traceback" not in outcome.output
    assert not isinstance(outcome.exception, RecursionError)


def test_metadata_of_the_wrong_types_is_read_as_python(tmp_path):
    path = write(tmp_path / "confusion.ipynb", notebook_json("def precision(y_true, y_pred):\n    return 1",
                                                             metadata={"kernelspec": "python3", "language_info": 7}))
    converted = modules_from_notebook(path)
    assert "def precision" in converted.sources["confusion"]


@pytest.mark.parametrize("cell", ["x = " + "(" * 5_000 + "1" + ")" * 5_000, "x = 1\0", "x = " + "-" * 100_000 + "1",
                                  "def f():\n" + "".join(" " * i + "if x:\n" for i in range(1, 200)) + " " * 200 + "pass"])
def test_a_cell_past_the_parser_limits_is_left_out_with_a_note(tmp_path, cell):
    path = write(tmp_path / "confusion.ipynb", notebook_json(cell, "def precision(y_true, y_pred):\n    return 1"))
    converted = modules_from_notebook(path)
    assert "def precision" in converted.sources["confusion"]
    assert any(note.startswith("cell 1") and "left out" in note for note in converted.notes), converted.notes


def test_code_over_the_bound_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    parsed = []
    monkeypatch.setattr(ast, "parse", lambda *a, **k: parsed.append(1))
    cells = ["x = 1\n" * (MAX_NOTEBOOK_CODE_CHARS // 12 + 1)] * 2  # over the bound only together
    path = write(tmp_path / "mywork.ipynb", notebook_json(*cells))
    with pytest.raises(NotebookError, match=f"more than the {MAX_NOTEBOOK_CODE_CHARS:,}"):
        modules_from_notebook(path)
    assert not parsed


def test_outputs_do_not_count_toward_the_code_bound(tmp_path):
    data = notebook_json("def precision(y_true, y_pred):\n    return 1")
    data["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                    "text": "x" * (MAX_NOTEBOOK_CODE_CHARS * 2)}]
    converted = modules_from_notebook(write(tmp_path / "confusion.ipynb", data))
    assert "def precision" in converted.sources["confusion"]


def test_notes_from_a_notebook_of_many_dropped_lines_stay_small(tmp_path):
    cells = ["\n".join(f"value_{i}_{j} = compute({j})\nprint(value_{i}_{j})" for j in range(5))
             for i in range(1_000)]  # 10,000 statements in 1,000 cells (a notebook has at most 2,000)
    path = write(tmp_path / "confusion.ipynb", notebook_json("def precision(y_true, y_pred):\n    return 1", *cells))
    converted = modules_from_notebook(path)
    assert sum(map(len, converted.notes)) < 5_000, [len(n) for n in converted.notes]
    assert any("10000 top-level statement(s)" in n and "and 9988 more" in n for n in converted.notes)
