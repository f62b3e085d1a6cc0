"""The upload page in a real browser (Playwright driving Debian's chromium; skipped without either)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright")

from autograder.service.client import submit  # noqa: E402
from tests.service_helpers import SOLUTIONS, Server, cli  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _served_course(tmp_path, name: str):
    """A course server with one student called ``name``; (the running server, the student's token)."""
    data = tmp_path / "data"
    cli("serve", "init", str(data))
    roster = tmp_path / "roster.csv"
    roster.write_text(f"id,name,email\ns1,{name},ann@example.org\n")
    token = next(csv.DictReader(io.StringIO(cli("serve", "students", str(data), str(roster)).stdout)))["token"]
    return Server(data), token


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium for Playwright (CI installs Debian's)")
def test_a_student_without_javascript_signs_in_uploads_and_reloads_for_the_feedback(tmp_path):
    server, token = _served_course(tmp_path, "Ann <b>Lee</b>")
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            # without JavaScript: the page says to reload it, and only the server's page changes
            # (with it, the event stream may mark the page graded between two reloads)
            page = browser.new_page(java_script_enabled=False)
            page.goto(server.url)
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            assert "Signed in as Ann <b>Lee</b>" in page.inner_text("body")  # the name is text, not markup
            page.set_input_files("input[name=file]", str(SOLUTIONS / "confusion.py"))
            page.fill("input[name=questions]", "confusion")
            page.click("form[action^='/submit'] button[type=submit]")
            assert "/submissions/" in page.url
            deadline = time.monotonic() + 90
            while page.inner_text("#status") != "graded":
                assert page.inner_text("#status") in ("queued", "running") and time.monotonic() < deadline
                time.sleep(0.5)
                page.reload()
            assert page.inner_text("#score").startswith("10 / 10")
            feedback = page.frame_locator("iframe[title=feedback]")
            assert "confusion" in feedback.locator("body").inner_text()
            browser.close()
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium for Playwright (CI installs Debian's)")
def test_the_results_stream_into_the_open_page(tmp_path):
    server, token = _served_course(tmp_path, "Ann Lee")
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            errors = []
            page.on("console", lambda message: errors.append((message.text, message.location.get("url")))
                    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")
                    else None)
            page.goto(server.url)
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.set_input_files("input[name=file]", str(SOLUTIONS / "confusion.py"))
            page.fill("input[name=questions]", "confusion")
            page.click("form[action^='/submit'] button[type=submit]")
            assert "/submissions/" in page.url
            # no reload from here: the rows, the score and the feedback arrive through the event stream
            page.wait_for_selector("#live-feedback iframe[title=feedback]", timeout=90_000)
            rows = page.locator("#live-rows tr.question")
            assert rows.count() == 3 and all("passed" in rows.nth(i).inner_text() for i in range(3))
            assert page.inner_text("#status") == "graded"
            assert page.inner_text("#live-score") == "score: 10 / 10"
            feedback = page.frame_locator("#live-feedback iframe[title=feedback]")
            assert "confusion" in feedback.locator("body").inner_text()
            assert errors == []  # no script or CSP error
            browser.close()
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium for Playwright (CI installs Debian's)")
def test_staff_sign_in_watch_the_class_page_update_and_rescore(tmp_path):
    data = tmp_path / "data"
    password = re.search(r"staff login: user staff, password (\S+)", cli("serve", "init", str(data)).stdout).group(1)
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\ns1,Ann Lee,ann@example.org\n")
    token = next(csv.DictReader(io.StringIO(cli("serve", "students", str(data), str(roster)).stdout)))["token"]
    server = Server(data)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(server.url + "staff/")  # staff pages send a visitor to the staff login first
            assert "/admin/login/" in page.url
            page.fill("input[name=username]", "staff")
            page.fill("input[name=password]", password)
            page.click("input[type=submit]")
            assert page.url.endswith("/staff/") and "the class" in page.inner_text("h1")
            row = page.locator("tr", has_text="Ann Lee")
            assert "no submission" in row.inner_text()

            receipt = submit(server.url, token, SOLUTIONS / "confusion.py", questions=["confusion"])
            deadline = time.monotonic() + 90
            latest = f"#{receipt['id']} grade graded"  # the student's grading as the class page shows it
            while latest not in row.inner_text():
                assert time.monotonic() < deadline and "failed" not in row.inner_text(), row.inner_text()
                time.sleep(0.5)
                page.reload()
            assert "10 / 126 (graded: 10 points of it)" in row.inner_text()  # out of the assignment's total
            assert "finished" in row.locator("td.phases").inner_text()

            spec = data / "questions.toml"  # the staff raise the hidden question's points, then rescore
            hidden = 'title = "matrix, precision, recall, F1 equal scikit-learn on hidden inputs"\npoints = 6'
            assert hidden in spec.read_text()
            spec.write_text(spec.read_text().replace(hidden, hidden.replace("points = 6", "points = 12")))
            page.click("text=Rescore all graded submissions")
            assert page.url.endswith("/staff/")
            assert "rescored: 1 changed, 0 unchanged" in page.inner_text("body")
            assert "16 / 132 (graded: 16 points of it)" in page.locator("tr", has_text="Ann Lee").inner_text()
            browser.close()
    finally:
        server.stop()
