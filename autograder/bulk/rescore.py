"""Rescore a graded batch under a changed ``questions.toml`` without running any student code.

Every question records what it measured (``QuestionResult.measurements``) and its typed
``outcome``. Rescoring hands the measurements to the one scoring step, :func:`autograder.policy.score`,
the same function that scored them when they were graded:

- ``measured``: the policy recomputes the fraction from the spec's current points, bands (re-resolved
  against the recorded reference figure when relative), check weights and integrity limits, so a
  looser limit gives back what a stricter one took, and a stricter one takes it;
- ``student`` (the student's code raised, timed out, did not import): 0 stays 0;
- ``infrastructure`` (the grader or the machine failed): the result is not final: not rescored,
  exported blank; ``grade-all --retry-failed`` regrades it.

Stored files are not trusted: only a final result (``bulk.final``: its digest verifies, the grader
that graded it is the installed one, nothing failed) is rescored; any other is refused, its entry
saying why, and points never leave [0, max].
"""

from __future__ import annotations

from pathlib import Path

from autograder.judge.rescore import (  # noqa: F401 (the per-result rescoring, used here and re-exported)
    SCORED, STUDENT_FAILURES, TOLERANCE, measured_fraction, rescore_question, rescore_result)
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
                      percent=round(100 * result.score / result.max_score, 2) if result.max_score else 0.0)
        store.rewrite_reports(record["id"], result, record)
        if on_event:
            on_event(record, result)
    manifest["rescored"] = True
    store.write_manifest(manifest)
    write_outputs(store, manifest, on_not_final=on_not_final)
    return manifest
