"""Rescore a graded batch under a changed ``questions.toml`` without running any student code.

Each result is rescored by :func:`autograder.judge.rescore.rescore_result` (what each outcome keeps
is described there). Stored files are not trusted: only a final result (``bulk.final``: its digest
verifies, the grader that graded it is the installed one, nothing failed) is rescored; any other is
refused, its entry saying why, exported blank, and ``grade-all --retry-failed`` regrades it.
"""

from __future__ import annotations

from pathlib import Path

from autograder.judge.rescore import rescore_result
from autograder.results import percent
from autograder.spec import Question, load_spec


def rescore_batch(out: Path, spec: dict[str, Question] | None = None, on_event=None, on_not_final=None) -> dict:
    """Rewrite every output of the batch in ``out`` under the current questions.toml; runs no student code.

    Only final results are rescored (``bulk.final``): one whose file is missing, truncated or
    edited, that the grader or the machine failed on, or that another grader graded is refused,
    its entry saying why (status ``not_final``), and exported blank. ``on_not_final`` (id -> Verdict)
    hears of them before any class-level file is written.

    Returns
    -------
    dict
        The rewritten manifest.
    """
    from autograder.bulk.batch import write_outputs
    from autograder.bulk.final import advice, judge
    from autograder.bulk.store import BatchStore, grader_hash

    store = BatchStore(out)
    manifest = store.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{Path(out) / 'batch.json'} does not exist or is not a batch.json written by "
                                "grade-all: rescore needs a folder written by grade-all (grade-all --resume "
                                "--out rewrites it from the students' folders).")
    spec = spec if spec is not None else load_spec()
    installed = grader_hash()
    for record in manifest["entries"]:
        verdict = judge(store, record, installed)
        if verdict is None:
            continue
        if not verdict.final:  # never rescore what is not final: regrade it
            record.update(status="not_final", error=f"not rescored: {verdict.reason}; {advice(verdict, store.out)}",
                          score=None, max_score=None, percent=None)
            if on_event:
                on_event(record, None)
            continue
        result = rescore_result(verdict.result, spec)
        record.update(status="graded", error="", score=result.score, max_score=result.max_score,
                      percent=percent(result.score, result.max_score))
        store.rewrite_reports(record["id"], result, record)
        if on_event:
            on_event(record, result)
    manifest["rescored"] = True
    store.write_manifest(manifest)
    write_outputs(store, manifest, on_not_final=on_not_final)
    return manifest
