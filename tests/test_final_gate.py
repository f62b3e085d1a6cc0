"""The final gate: every output (grades.csv, Canvas, Moodle, the summary, report, rescore) shows a
correct grade or an honest blank with the reason, whatever happened to the stored files.

The class is stored by the batch's own code (``batch._settle``: the per-student folder with its digest
and grader hash, batch.json) from made-up results, so no student code runs; ``grade_all`` runs with
its job runner replaced by one that returns those results.
"""

import csv
import json
from pathlib import Path

import pytest

from autograder.bulk import batch, rescore_batch, store as store_module
from autograder.intake import PreparedSubmission
from autograder.bulk.batch import MANIFEST_VERSION, _settle, write_outputs
from autograder.bulk.final import final_results
from autograder.bulk.store import BatchStore, grader_hash
from autograder.results import GradingResult, QuestionResult

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
CANVAS_EXPORT = FIXTURES / "canvas_gradebook_export.csv"
MOODLE_WORKSHEET = FIXTURES / "moodle_grading_worksheet.csv"
QUESTION = "confusion.public_example"  # declared in questions.toml: rescoring keeps it
#: id -> (points of QUESTION out of 2, Canvas ID, Moodle participant)
CLASS = {"ann": (2.0, "1001", "2345671"), "bo": (1.0, "1002", "2345672"), "sean": (0.0, "1003", "2345673")}


def made_result(points: float, outcome: str = "measured", status: str = "passed") -> GradingResult:
    return GradingResult(submission="s", profile="quick", isolation="bubblewrap", questions=[
        QuestionResult(QUESTION, "confusion: public example", "public", points, 2.0, status, outcome=outcome)])


def graded_reply(result: GradingResult) -> dict:
    """A job's reply as a grader process of the installed grader sends it."""
    return {"result": result.to_dict(), "log": "", "grader": grader_hash()}


def store_class(out: Path, replies: dict | None = None) -> BatchStore:
    """The class stored as grade-all stores it (folders, digests, grader hash), with a roster and a worksheet."""
    store = BatchStore(out)
    records = []
    for sid, (points, canvas_id, participant) in CLASS.items():
        record = {"id": sid, "name": sid.title(), "email": f"{sid}@example.edu", "source": sid,
                  "moodle_participant": participant, "roster": {"ID": canvas_id}, "status": "pending",
                  "error": "", "result": None}
        reply = (replies or {}).get(sid) or graded_reply(made_result(points))
        _settle(store, record, reply, {"confusion.py": b"# work\n"}, {}, rewrite=True)
        records.append(record)
    settings = {"roster": str(CANVAS_EXPORT), "moodle_worksheet": str(MOODLE_WORKSHEET), "questions": [],
                "assignment": None, "partial_export": True, "profile": "quick"}
    store.write_manifest({"version": MANIFEST_VERSION, "settings": settings, "complete": True, "entries": records})
    return store


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def exported(out: Path) -> dict[str, dict]:
    """What each output says of each student: grades.csv's total/status/error, Canvas's and Moodle's grade."""
    grades = {r["id"]: r for r in read_csv(out / "grades.csv")}
    canvas = {r["ID"]: r["Chapter 3 Classification (4242)"] for r in read_csv(out / "canvas_import.csv")}
    moodle = {r["Identifier"].removeprefix("Participant "): r["Grade"] for r in read_csv(out / "moodle_grading_worksheet.csv")}
    return {sid: {"total": grades[sid]["total"], "status": grades[sid]["status"], "error": grades[sid]["error"],
                  "canvas": canvas[CLASS[sid][1]], "moodle": moodle[CLASS[sid][2]]} for sid in CLASS}


def assert_honest(out: Path, broken: str, reason: str) -> None:
    """``broken`` is blank everywhere with ``reason``; every other student has their own grade."""
    seen = exported(out)
    for sid, (points, _, _) in CLASS.items():
        if sid == broken:
            assert seen[sid] == {"total": "", "status": "not_final", "error": seen[sid]["error"],
                                 "canvas": "", "moodle": ""}, seen[sid]
            assert reason in seen[sid]["error"]
        else:
            assert (seen[sid]["total"], seen[sid]["status"], seen[sid]["canvas"], seen[sid]["moodle"]) == (
                f"{points:g}", "graded", f"{points:g}", f"{points:.2f}"), (sid, seen[sid])  # --partial-export: raw points
    notes = {r["id"]: r for r in read_csv(out / "not_final.csv")}
    assert set(notes) == {broken} and reason in notes[broken]["reason"]


def _edit_grading(store, sid):
    path = store.student_dir(sid) / "grading.json"
    data = json.loads(path.read_text())
    data["questions"][0]["points"] = 2.0
    path.write_text(json.dumps(data, indent=2))


def _truncate(store, sid):
    path = store.student_dir(sid) / "grading.json"
    path.write_text(path.read_text()[:200])


def _flip_entry_digest(store, sid):
    path = store.student_dir(sid) / "entry.json"
    entry = json.loads(path.read_text())
    entry["result_sha256"] = entry["result_sha256"][::-1]
    path.write_text(json.dumps(entry))


def _flip_manifest_digest(store, sid):
    manifest = store.read_manifest()
    next(e for e in manifest["entries"] if e["id"] == sid)["result_sha256"] = "0" * 64
    store.write_manifest(manifest)


def _edit_both_digests(store, sid):  # a consistent forgery of the record still does not match the file
    _flip_entry_digest(store, sid)
    manifest = store.read_manifest()
    entry = json.loads((store.student_dir(sid) / "entry.json").read_text())
    next(e for e in manifest["entries"] if e["id"] == sid)["result_sha256"] = entry["result_sha256"]
    store.write_manifest(manifest)


def _other_grader(store, sid):
    for path in (store.student_dir(sid) / "entry.json",):
        entry = json.loads(path.read_text())
        entry["grader"] = "0123456789abcdef"
        path.write_text(json.dumps(entry))
    manifest = store.read_manifest()
    next(e for e in manifest["entries"] if e["id"] == sid)["grader"] = "0123456789abcdef"
    store.write_manifest(manifest)


CORRUPTIONS = {
    "grading.json edited": (_edit_grading, "not the file the grader wrote"),
    "grading.json truncated": (_truncate, "not the file the grader wrote"),
    "grading.json deleted": (lambda s, sid: (s.student_dir(sid) / "grading.json").unlink(), "missing"),
    "student folder deleted": (lambda s, sid: __import__("shutil").rmtree(s.student_dir(sid)), "missing"),
    "entry.json deleted": (lambda s, sid: (s.student_dir(sid) / "entry.json").unlink(), "disagree or are missing"),
    "entry.json digest flipped": (_flip_entry_digest, "disagree"),
    "batch.json digest flipped": (_flip_manifest_digest, "disagree"),
    "both digests forged": (_edit_both_digests, "not the file the grader wrote"),
    "graded by another grader": (_other_grader, "graded by grader 0123456789abcdef"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_each_corrupted_store_file_exports_an_honest_blank_and_no_wrong_number(tmp_path, corruption):
    corrupt, reason = CORRUPTIONS[corruption]
    store = store_class(tmp_path / "out")
    corrupt(store, "bo")
    heard = {}

    def not_final(held):  # told before any class-level file is written
        heard.update(held)
        assert not (tmp_path / "out" / "grades.csv").exists()
    manifest = rescore_batch(store.out, on_not_final=not_final)
    assert set(heard) == {"bo"} and reason in heard["bo"].reason and heard["bo"].regrade
    bo = next(e for e in manifest["entries"] if e["id"] == "bo")
    assert bo["status"] == "not_final" and bo["score"] is None and "--retry-failed" in bo["error"]
    assert_honest(store.out, "bo", reason)
    summary = {r["question"]: r for r in read_csv(store.out / "summary.csv")}
    assert summary[QUESTION]["graded"] == "2"  # bo's result is not counted in the class figures
    assert reason in (store.out / "summary.html").read_text()  # the dashboard names it, with why


def test_an_infrastructure_failure_is_blank_never_zero(tmp_path):
    failed = made_result(0.0, outcome="infrastructure", status="grader_error")
    store = store_class(tmp_path / "out", {"bo": graded_reply(failed)})
    write_outputs(store, store.read_manifest())
    assert_honest(store.out, "bo", "the grader or the machine failed on confusion.public_example")


def test_a_result_held_for_review_is_blank_and_not_regraded(tmp_path):
    store = store_class(tmp_path / "out")
    manifest = store.read_manifest()
    manifest["entries"][1]["review"] = "similar to ann's code"
    store.write_manifest(manifest)
    results, held = final_results(store, manifest)
    assert set(results) == {"ann", "sean"} and not held["bo"].regrade
    write_outputs(store, manifest)
    assert_honest(store.out, "bo", "held for review: similar to ann's code")


def test_a_question_the_policy_held_for_review_keeps_the_whole_result_out_of_every_export(tmp_path):
    held = made_result(0.0, status="held")
    store = store_class(tmp_path / "out", {"bo": graded_reply(held)})
    results, not_final = final_results(store, store.read_manifest())
    assert "bo" not in results and not not_final["bo"].regrade
    write_outputs(store, store.read_manifest())
    assert_honest(store.out, "bo", "held for review: confusion.public_example scored above its review ceiling")


def test_an_intact_class_is_exported_whole_and_an_old_notes_file_goes(tmp_path):
    store = store_class(tmp_path / "out")
    (store.out / "not_final.csv").write_text("id,reason\nbo,old\n")
    rescore_batch(store.out)
    assert {sid: v["total"] for sid, v in exported(store.out).items()} == {"ann": "2", "bo": "1", "sean": "0"}
    assert not (store.out / "not_final.csv").exists()




# ------------------------------------------------ grade-all repairs what regrading can fix

@pytest.fixture
def fake_grader(monkeypatch, tmp_path):
    """grade_all with its job runner replaced: each job's 'grading' is made_result(points in the file)."""
    graded = []

    def execute(jobs, options, **kwargs):
        for entry_id, payload, source in jobs:
            graded.append(entry_id)
            files = PreparedSubmission.from_dict(payload).files
            points = float(files["confusion.py"].decode().split("=")[1].split()[0])
            yield entry_id, graded_reply(made_result(points))
    monkeypatch.setattr(batch, "execute", execute)
    monkeypatch.setattr(batch, "_isolation_mode", lambda grading: "fake")
    root = tmp_path / "class"
    for sid, (points, _, _) in CLASS.items():
        (root / sid).mkdir(parents=True)
        (root / sid / "confusion.py").write_text(f"POINTS={points}\n")
    return root, graded


def grades(out: Path) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["total"], r["status"]) for r in read_csv(out / "grades.csv")}


GOOD = {"ann": ("2", "graded"), "bo": ("1", "graded"), "sean": ("0", "graded")}


def test_retry_failed_repairs_a_flipped_digest_and_later_rescores_accept_the_file(fake_grader, tmp_path):
    root, graded = fake_grader
    out = tmp_path / "out"
    batch.grade_all(root, out, workers=1)
    _flip_entry_digest(BatchStore(out), "bo")
    outcome = batch.grade_all(None, out, workers=1, resume=True)  # --resume copies nothing unverified
    assert set(outcome.not_final) == set() and grades(out) == GOOD
    _flip_manifest_digest(BatchStore(out), "bo")
    rescore_batch(out)
    assert grades(out)["bo"] == ("", "not_final")
    outcome = batch.grade_all(None, out, workers=1, retry_failed=True)
    assert not outcome.not_final and grades(out) == GOOD
    rescore_batch(out)  # the genuine file is accepted again
    assert grades(out) == GOOD and not (out / "not_final.csv").exists()
    assert sorted(graded) == ["ann", "bo", "sean"]  # all of it from the verified cache: nobody ran twice


def test_an_edited_cache_entry_is_regraded_not_used(fake_grader, tmp_path):
    root, graded = fake_grader
    out = tmp_path / "out"
    batch.grade_all(root, out, workers=1)
    record = next(e for e in BatchStore(out).read_manifest()["entries"] if e["id"] == "sean")
    entry = out / "cache" / f"{record['cache_key']}.json"
    cached = json.loads(entry.read_text())
    cached["reply"]["result"]["questions"][0]["points"] = 2.0
    entry.write_text(json.dumps(cached))
    assert BatchStore(out).cached(record["cache_key"]) is None
    (out / "students" / "sean" / "grading.json").unlink()  # so that the cache would be the only source
    graded.clear()
    batch.grade_all(None, out, workers=1, retry_failed=True)
    assert graded == ["sean"] and grades(out) == GOOD


def test_a_changed_grader_is_refused_by_rescore_and_regraded_by_retry_failed(fake_grader, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from autograder.cli import app

    root, graded = fake_grader
    out = tmp_path / "out"
    batch.grade_all(root, out, workers=1)
    old = store_module.grader_hash()
    inputs = json.loads(store_module._installed_inputs())
    monkeypatch.setattr(store_module, "_installed_inputs", lambda: json.dumps({**inputs, "code": "edited"}))
    store_module.grader_hash.cache_clear()
    try:
        new = store_module.grader_hash()
        run = CliRunner().invoke(app, ["rescore", str(out)])
        assert run.exit_code == 4, run.output
        said = " ".join(run.output.split())
        assert f"graded by grader {old}; the installed grader is {new}" in said and "--retry-failed" in said
        assert {sid: total for sid, (total, _) in grades(out).items()} == {"ann": "", "bo": "", "sean": ""}
        graded.clear()
        batch.grade_all(None, out, workers=1, retry_failed=True)
        assert sorted(graded) == ["ann", "bo", "sean"] and grades(out) == GOOD
        assert CliRunner().invoke(app, ["rescore", str(out)]).exit_code == 0
    finally:
        store_module.grader_hash.cache_clear()


def test_report_renders_no_edited_result_and_says_so(tmp_path):
    from typer.testing import CliRunner

    from autograder.cli import app

    store = store_class(tmp_path / "out")
    write_outputs(store, store.read_manifest())
    _edit_grading(store, "bo")
    page = (store.student_dir("bo") / "report.md").read_text()
    run = CliRunner().invoke(app, ["report", str(store.out), "--no-similarity"])
    assert run.exit_code == 4 and "bo: students/bo/grading.json is not the file" in " ".join(run.output.split())
    assert (store.student_dir("bo") / "report.md").read_text() == page  # not rendered from the edit
    assert rescore_batch(store.out)["entries"][0]["status"] == "graded"  # ann's report rewrite kept her digest


def test_grade_all_names_a_failed_result_before_writing_and_exports_it_blank(fake_grader, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from autograder.cli import app

    root, _ = fake_grader
    out = tmp_path / "out"
    (root / "bo" / "confusion.py").write_text("POINTS=1.0\n# the machine fails on this one\n")
    real = batch.execute

    def failing(jobs, options, **kwargs):
        for entry_id, reply in real(jobs, options, **kwargs):
            if entry_id == "bo":
                reply = graded_reply(made_result(0.0, "infrastructure", "grader_error"))
            yield entry_id, reply
    monkeypatch.setattr(batch, "execute", failing)
    run = CliRunner().invoke(app, ["grade-all", str(root), "--out", str(out), "-j", "1", "--quiet"])
    said = " ".join(run.output.split())
    assert run.exit_code == 3, run.output
    assert "1 result(s) are not final" in said and "bo: the grader or the machine failed" in said
    assert grades(out) == {**GOOD, "bo": ("", "not_final")}
    monkeypatch.setattr(batch, "execute", real)
    assert CliRunner().invoke(app, ["grade-all", "--retry-failed", "--out", str(out), "-j", "1"]).exit_code == 0
    assert grades(out) == GOOD and not (out / "not_final.csv").exists()


def test_a_submission_with_no_result_has_a_blank_total_in_grades_csv():
    from autograder.bulk.exports import grades_table

    entries = [{"id": "bo", "status": "grader_error", "error": "the grader process died twice"},
               {"id": "cy", "status": "cannot_grade", "error": "no module of the assignment"}]
    header, rows = grades_table(entries, {})
    for row in rows:
        record = dict(zip(header, row))
        assert (record["total"], record["max_score"], record["percent"]) == ("", "", ""), record
        assert record["status"] in ("grader_error", "cannot_grade") and record["error"]


def test_a_result_graded_by_other_code_than_the_installed_is_not_final_and_not_cached(fake_grader, tmp_path,
                                                                                      monkeypatch):
    """A grader process that imported another copy of the grader (a checkout beside an installed copy)
    reports its own hash: the batch does not take its result as final, nor cache it."""
    root, graded = fake_grader
    real = batch.execute

    def other_copy(jobs, options, **kwargs):
        for entry_id, reply in real(jobs, options, **kwargs):
            yield entry_id, {**reply, "grader": "0" * 16} if entry_id == "bo" else reply
    monkeypatch.setattr(batch, "execute", other_copy)
    out = tmp_path / "out"
    batch.grade_all(root, out, workers=1)
    bo = {r["id"]: r for r in read_csv(out / "grades.csv")}["bo"]
    assert (bo["total"], bo["status"]) == ("", "not_final")
    assert f"graded by grader {'0' * 16}; the installed grader is {grader_hash()}" in bo["error"]
    graded.clear()
    monkeypatch.setattr(batch, "execute", real)
    batch.grade_all(None, out, workers=1, retry_failed=True)
    assert graded == ["bo"] and grades(out) == GOOD  # not taken from the cache: graded again, now final
