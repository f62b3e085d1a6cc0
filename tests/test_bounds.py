"""Every input the grader itself parses has a bound before it is parsed, and every message built
from a student's value is bounded: module files, notebooks (bytes, structure, cells), feedback."""

import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from autograder.embedded_data import MAX_SCANNED_CHARS, scan_source
from autograder.intake import MAX_MODULE_BYTES
from autograder.graders.explain import nan_rows
from autograder.judge.scoring import Check, Credit
from autograder.messages import MAX_MESSAGE_CHARS, bounded, listed
from autograder.intake.notebooks import (MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_CELLS, MAX_NOTEBOOK_CONTAINERS, NotebookError,
                                  read_notebook)
from submissions import write_submission


def _peak_mb(code: str) -> tuple[float, dict]:
    """Run ``code`` in a fresh interpreter: its extra peak resident memory (MB) and what it printed as JSON."""
    script = textwrap.dedent("""
        import json, resource, sys
        import autograder.grading, autograder.embedded_data, autograder.intake.notebooks
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = {}
        exec(sys.argv[1], globals())
        print(json.dumps({"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, **out}))
    """)
    done = subprocess.run([sys.executable, "-c", script, textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result.pop("peak_mb"), result


# ------------------------------------------------------------------ module files

def test_a_module_file_over_the_bound_is_skipped_with_a_note_and_never_parsed(tmp_path):
    folder = write_submission(tmp_path / "sub", honest=["confusion"])
    (folder / "helper.py").write_text("x=1\n" * (MAX_MODULE_BYTES // 4 + 1))  # dense code: costly to parse
    peak, out = _peak_mb(f"""
        from pathlib import Path
        from autograder.intake import prepare
        prepared = prepare(Path({str(folder)!r}))
        out["files"] = sorted(name for name in prepared.files if name.endswith(".py"))
        out["notes"] = list(prepared.notes)
        out["flags"] = list(prepared.data_flags)
    """)
    assert out["files"] == ["confusion.py"], out
    (note,) = [n for n in out["notes"] if "helper.py" in n]
    assert f"more than the {MAX_MODULE_BYTES:,}" in note and "allowed" in note, note
    assert peak < 100, f"preparing and scanning cost {peak:.0f} MB"


def test_the_scan_reports_a_file_over_its_bound_without_parsing_it():
    source = "x=1\n" * (MAX_SCANNED_CHARS // 4 + 1)
    tracemalloc.start()
    try:
        flags = scan_source(source, "big.py")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(f.kind, f.file) for f in flags] == [("too large to scan", "big.py")]
    assert f"more than the {MAX_SCANNED_CHARS:,}" in flags[0].evidence
    assert peak < 1 << 20


# ------------------------------------------------------------------ notebooks

def _notebook(cells) -> bytes:
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"language": "python"}},
                       "nbformat": 4, "nbformat_minor": 5}).encode()


def test_a_notebook_of_many_empty_cells_is_refused_before_its_json_is_parsed(tmp_path):
    path = tmp_path / "empty.ipynb"
    empty = {"cell_type": "code", "source": [], "metadata": {}, "outputs": [], "execution_count": None}
    path.write_bytes(_notebook([empty] * 60_000))  # about 5 MB
    tracemalloc.start()
    try:
        with pytest.raises(NotebookError, match=f"more than the {MAX_NOTEBOOK_CONTAINERS:,} entries") as error:
            read_notebook(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "clear its outputs" in str(error.value)
    # the read itself takes a buffer of MAX_NOTEBOOK_BYTES; the structure count copies nothing more
    assert peak < MAX_NOTEBOOK_BYTES + 2 * path.stat().st_size, f"{peak / 2**20:.1f} MB"


def test_a_notebook_with_more_cells_than_the_bound_says_so(tmp_path):
    path = tmp_path / "long.ipynb"
    path.write_bytes(_notebook([{"cell_type": "markdown", "source": "x"}] * (MAX_NOTEBOOK_CELLS + 1)))
    with pytest.raises(NotebookError, match=f"has {MAX_NOTEBOOK_CELLS + 1:,} cells, more than the "
                                            f"{MAX_NOTEBOOK_CELLS:,} a notebook may have"):
        read_notebook(path)


def test_strings_do_not_count_as_structure(tmp_path):
    """Braces, brackets and commas inside strings (code, outputs) are not entries."""
    path = tmp_path / "code.ipynb"
    source = "d = {'a': [1, 2, 3]}, {\"b\": [4]}\n" * 2000
    path.write_bytes(_notebook([{"cell_type": "code", "source": source, "metadata": {}, "outputs": []}]))
    notebook, _ = read_notebook(path)
    assert len(notebook.cells) == 1


# ------------------------------------------------------------------ messages

def test_listed_shows_the_first_items_and_counts_the_rest():
    assert listed(range(3)) == "0, 1, 2"
    assert listed(list(range(1_000_000)), 3) == "0, 1, 2 … 999,997 more"
    assert listed(["a", "b"], 1, "; ") == "a … 1 more"


def test_bounded_cuts_and_says_how_much():
    assert bounded("short") == "short"
    text = bounded("x" * (MAX_MESSAGE_CHARS + 123))
    assert text.endswith("… 123 more characters (cut by the grader)") and len(text) < MAX_MESSAGE_CHARS + 60


def test_a_mistake_naming_every_nan_row_of_a_large_matrix_stays_short():
    got = np.full((1_000_000, 2), np.nan)
    mistake = nan_rows("samples")
    assert mistake.matches(got)
    assert "row 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 … 999,990 more of the result" in mistake.message
    assert len(mistake.message) < 400


def test_every_feedback_line_and_check_detail_is_bounded():
    credit = Credit()
    credit.checks([Check("huge", False, detail="v" * 10_000_000)])
    credit.note("n" * 10_000_000)
    assert all(len(line) <= MAX_MESSAGE_CHARS + 60 for line in credit.lines)
    assert len(credit.measurements["checks"][0]["detail"]) <= MAX_MESSAGE_CHARS + 60
