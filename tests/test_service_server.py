"""The service's commands in child processes: init, students, run, submit, export, and a `serve run`
killed with -9 in the middle of a grading."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.service_helpers import SOLUTIONS, Server, cli  # noqa: E402


@pytest.fixture
def course(tmp_path):
    """`serve init` and `serve students` through the CLI: (data folder, {id: token}, init's output)."""
    data = tmp_path / "data"
    init = cli("serve", "init", str(data), "--url", "http://127.0.0.1:8000/")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\ns1,Ann <b>Lee</b>,ann@example.org\ns2,Bo,bo@example.org\n")
    listing = cli("serve", "students", str(data), str(roster)).stdout
    rows = list(csv.DictReader(io.StringIO(listing)))
    assert listing.splitlines()[0] == "id,name,email,token"
    return data, {row["id"]: row["token"] for row in rows}, init.stdout


def get_json(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_init_students_run_and_refusals_through_the_cli(course, tmp_path):
    data, tokens, init = course
    assert "staff login: user staff, password " in init
    assert cli("serve", "init", str(data), check=False).stderr.strip() == f"serve: {data} is already a service data folder"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\ns9,X\n")
    refused = cli("serve", "students", str(data), str(bad), check=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and "email" in refused.stderr
    server = Server(data)
    try:
        with urllib.request.urlopen(server.url, timeout=30) as page:
            assert page.status == 200 and "Content-Security-Policy" in page.headers
        assert "another `serve run`" in cli("serve", "run", str(data), "--port", "0", check=False).stderr
        wrong = cli("submit", server.url, str(SOLUTIONS / "confusion.py"), "--token", "nope", check=False)
        assert wrong.returncode == 2
        assert wrong.stderr.strip() == "Cannot submit: refused (401): the token is wrong or was revoked"
        queued = cli("submit", server.url, str(SOLUTIONS / "confusion.py"), "--token", tokens["s1"], "--no-wait",
                     "--check")
        url = queued.stdout.split()[-1]
        assert url.startswith(server.url + "submissions/")
        assert get_json(url, tokens["s2"])[0] == 404
        status, state = get_json(url, tokens["s1"])
        assert status == 200 and state["kind"] == "check"
    finally:
        server.stop()
    assert server.process.returncode == 0, server.text()


@pytest.mark.slow
def test_submit_waits_for_the_score_and_a_killed_server_loses_and_repeats_nothing(course):
    data, tokens, _ = course
    server = Server(data, "--lease", "30")
    try:
        graded = cli("submit", server.url, str(SOLUTIONS), "--token", tokens["s1"], "-q", "confusion")
        lines = graded.stdout.splitlines()
        title = next(n for n, line in enumerate(lines) if line.strip().endswith(" / 10"))
        assert lines[title].strip() == "solutions.zip: 10 / 10"
        streamed = [line.strip() for line in lines[:title] if line.startswith("  confusion.")]
        assert streamed == ["confusion.public_example: passed (2 / 2)", "confusion.hidden_inputs: passed (6 / 6)",
                            "confusion.validation: passed (2 / 2)"]  # each question as it was graded
        # acknowledged, then killed while grading: the next start grades it (once)
        receipt = cli("submit", server.url, str(SOLUTIONS / "confusion.py"), "--token", tokens["s2"],
                      "--no-wait", "-q", "confusion").stdout.split()[-1]
        deadline = time.monotonic() + 60
        while get_json(receipt, tokens["s2"])[1]["status"] != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert get_json(receipt, tokens["s2"])[1]["status"] == "running"
        server.kill()
    finally:
        server.stop()
    restarted = Server(data, "--lease", "30")
    try:
        url = receipt.replace(server.url, restarted.url)
        deadline = time.monotonic() + 120
        while (state := get_json(url, tokens["s2"])[1])["status"] not in ("graded", "failed"):
            assert time.monotonic() < deadline, restarted.text()
            time.sleep(0.3)
        assert (state["status"], state["score"], state["attempts"]) == ("graded", 10, 2)
    finally:
        restarted.stop()
    export = list(csv.DictReader(io.StringIO(cli("serve", "export", str(data), "--format", "submissions").stdout)))
    assert [(r["student"], r["status"], r["attempts"], r["score"]) for r in export] == [
        ("s1", "graded", "1", "10"), ("s2", "graded", "2", "10")]
    book = cli("serve", "export", str(data), "--format", "csv").stdout.splitlines()
    assert book[0] == "id,name,email,score,max_score,late_days,submission,status,url" and len(book) == 3
