"""The upload page in a real browser (Playwright driving Debian's chromium; skipped without either)."""

from __future__ import annotations

import csv
import io
import shutil
import time

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright")

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
