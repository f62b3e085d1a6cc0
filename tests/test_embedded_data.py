"""Data carried in a submission's code is reported with its evidence, and honest code is not."""

import base64
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from autograder.embedded_data import (ENCODED_LITERAL, LONG_LITERAL, TABLE_VALUES, scan_source,
                                      scan_submission)

PROJECT = Path(__file__).resolve().parent.parent
HONEST_FOLDERS = [PROJECT / "solutions", PROJECT / "assignments",
                  *sorted(p for p in (PROJECT / "tests" / "fixtures" / "fairness").iterdir()
                          if p.is_dir() and not p.name.startswith("hostile")),
                  *sorted((PROJECT / "tests" / "fixtures" / "similarity").iterdir())]


@pytest.mark.parametrize("folder", HONEST_FOLDERS, ids=lambda p: p.name)
def test_honest_code_is_not_flagged(folder):
    assert scan_submission(folder) == []


def kinds(source):
    return [flag.kind for flag in scan_source(source, "ex3_titanic.py")]


def test_a_passenger_table_by_name_is_a_table_literal():
    names = {f"Passenger, Mr. Number {i}": i % 2 for i in range(TABLE_VALUES)}
    source = f"SURVIVED = {names!r}\n\ndef build_pipeline():\n    return None\n"
    [flag] = scan_source(source, "ex3_titanic.py")
    assert (flag.kind, flag.line) == ("table literal", 1)
    assert f"{2 * TABLE_VALUES:,} constants" in flag.evidence


def test_a_compressed_blob_and_its_decoding_are_both_reported():
    labels = np.random.default_rng(0).integers(0, 10, 5000).astype(np.uint8)
    blob = base64.b64encode(zlib.compress(labels.tobytes())).decode()
    source = ("import base64, zlib\nimport numpy as np\n"
              f"BLOB = {blob!r}\n"
              "LABELS = np.frombuffer(zlib.decompress(base64.b64decode(BLOB)), dtype=np.uint8)\n")
    flags = scan_source(source, "ex1_knn97.py")
    assert [(f.line, f.kind) for f in flags] == [(3, "encoded literal"), (4, "decodes data"), (4, "decodes data"),
                                                 (4, "decodes data")]
    assert "base64/hex alphabet" in flags[0].evidence


def test_a_hex_blob_split_over_comment_lines_and_read_back_is_reported():
    hex_lines = "\n".join("# " + bytes((i + j) % 256 for j in range(32)).hex() for i in range(0, 20 * 32, 32))
    source = ("from pathlib import Path\n"
              "TEXT = Path(__file__).read_text()\n" + hex_lines + "\n")
    flags = {(f.kind, f.line) for f in scan_source(source, "helpers.py")}
    assert flags == {("reads a file", 2), ("encoded comments", 3)}


def test_a_long_string_is_reported_and_prose_of_ordinary_length_is_not():
    assert kinds("TEXT = " + repr("word " * (LONG_LITERAL // 5)) + "\n") == ["long literal"]
    assert kinds('"""' + "A docstring that explains the task. " * 20 + '"""\n') == []
    assert kinds("X = " + repr("ab" * (ENCODED_LITERAL // 2 - 1)) + "\n") == []   # just under the size


def test_reads_are_flagged_only_where_they_can_reach_carried_data():
    assert kinds("import pandas as pd\ndef load():\n    return pd.read_csv('datasets/titanic/train.csv')\n") == []
    assert kinds("def read(path):\n    return open(path).read()\n") == []
    assert kinds("import helper\nDATA = open(helper.__file__).read()\n") == ["reads a file"]
    assert kinds("import inspect, helper\nDATA = inspect.getsource(helper)\n") == []   # no path; the blob it reads is flagged where it lies
    assert kinds("DATA = open('table.py').read()\n") == ["reads a file"]


def test_flags_per_file_are_capped_with_a_count():
    source = "\n".join(f"X{i} = open('t{i}.py')" for i in range(100))
    flags = scan_source(source, "big.py")
    assert flags[-1].kind == "more" and "80 more" in flags[-1].evidence
    assert len(flags) == 21


def test_a_file_that_does_not_parse_has_no_flags_and_flags_are_plain_data():
    assert scan_source("def broken(:\n", "x.py") == []
    flag = scan_source("DATA = open('t.py')\n", "x.py")[0]
    assert json.loads(json.dumps(flag.to_dict())) == {"file": "x.py", "line": 1, "kind": "reads a file",
                                                      "evidence": "calls open()"}
    assert flag.describe() == "x.py, line 1: reads a file: calls open()"


def test_flags_reach_the_staff_record_and_never_the_students_files(tmp_path):
    from autograder.grading import grade_path

    folder = tmp_path / "submission"
    folder.mkdir()
    blob = base64.b64encode(bytes(range(256)) * 4).decode()
    source = (PROJECT / "solutions" / "confusion.py").read_text()
    (folder / "confusion.py").write_text(f"TABLE = {blob!r}\n" + source)
    out = tmp_path / "out"
    result = grade_path(folder, out, questions=["confusion.public_example"])
    assert result.score == result.max_score   # evidence for a person: the score is untouched
    [flag] = result.data_flags
    assert (flag["file"], flag["line"], flag["kind"]) == ("confusion.py", 1, "encoded literal")
    staff = json.loads((out / "grading.json").read_text())
    assert staff["data_flags"] == result.data_flags
    for name in ("results.json", "report.md", "feedback.html"):
        assert "encoded literal" not in (out / name).read_text(), name
