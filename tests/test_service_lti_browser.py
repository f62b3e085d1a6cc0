"""The LTI tool in a real browser inside the mock platform's iframe, against a `serve run`: a
Learner's launch shows their token, `submit` with it is graded, and `serve run`'s outbox posts the
score to the platform; an Instructor's launch shows the class page in the frame."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")
pytest.importorskip("lti_tool", reason="LTI needs django-lti (the serve extra)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright")

from tests.lti_platform import MockPlatform  # noqa: E402
from tests.service_helpers import SOLUTIONS, Server, cli  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium for Playwright (CI installs Debian's)")
def test_a_learner_launches_in_the_frame_submits_and_the_score_reaches_the_platform(tmp_path):
    data = tmp_path / "data"
    cli("serve", "init", str(data))
    with MockPlatform() as platform:
        reg = platform.registration
        cli("serve", "lti", "add-platform", str(data), "--issuer", reg["issuer"], "--client-id", reg["client_id"],
            "--deployment-id", platform.deployment_id, "--auth-url", reg["auth_url"], "--token-url",
            reg["token_url"], "--jwks-url", reg["jwks_url"])
        platform.users = {"ada": {"sub": "ada-sub", "name": "Ada Lovelace", "roles": ("Learner",)},
                          "alan": {"sub": "alan-sub", "name": "Alan Turing", "roles": ("Instructor",)}}
        server = Server(data)
        platform.tool_jwks = lambda: json.loads(urllib.request.urlopen(server.url + "lti/jwks.json", timeout=10).read())
        try:
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(f"{platform.url}/course?user=ada&tool={server.url}")
                frame = page.frame_locator("#tool")
                frame.locator("#token").wait_for(timeout=20_000)
                assert "Signed in as Ada Lovelace" in frame.locator("body").inner_text()
                token = frame.locator("#token").inner_text().strip()
                teacher = browser.new_page()
                teacher.goto(f"{platform.url}/course?user=alan&tool={server.url}")
                teacher.frame_locator("#tool").locator("h1").wait_for(timeout=20_000)
                assert "the class" in teacher.frame_locator("#tool").locator("h1").inner_text()
                browser.close()
            graded = cli("submit", server.url, str(SOLUTIONS / "confusion.py"), "--token", token, "-q", "confusion")
            assert any(line.strip().endswith(": 10 / 10") for line in graded.stdout.splitlines()), graded.stdout
            deadline = time.monotonic() + 60
            while not platform.scores:
                assert time.monotonic() < deadline, server.text()
                time.sleep(0.5)
            [score] = platform.scores
            assert (score["userId"], score["scoreGiven"], score["scoreMaximum"]) == ("ada-sub", 10, 126)
            assert len(platform.line_items) == 1
        finally:
            server.stop()
