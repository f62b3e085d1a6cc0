"""The LTI tool in a real browser inside the mock platform's iframe, against a `serve run`: a
Learner's launch shows their token, `submit` with it is graded, and `serve run`'s outbox posts the
score to the platform; an Instructor's launch shows the class page in the frame."""

from __future__ import annotations

import json
import re
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


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium for Playwright (CI installs Debian's)")
def test_without_third_party_cookies_the_launch_keeps_its_state_in_the_platforms_storage(tmp_path):
    """The platform on another site than the tool, third-party cookies blocked: a login without
    lti_storage_target fails on its missing state cookie, and one with it succeeds through the
    platform's postMessage storage; the student then uploads in the frame and sees the submission
    graded there, with no cookie of the tool's (the launch's credential carries them through); an
    Instructor then goes from the class page to that submission's feedback and rescores, in the
    same frame, carried by a staff credential."""
    data = tmp_path / "data"
    cli("serve", "init", str(data))
    with MockPlatform(browser_host="platform.test") as platform:
        reg = platform.registration
        cli("serve", "lti", "add-platform", str(data), "--issuer", reg["issuer"], "--client-id", reg["client_id"],
            "--deployment-id", platform.deployment_id, "--auth-url", reg["auth_url"], "--token-url",
            reg["token_url"], "--jwks-url", reg["jwks_url"])
        platform.users = {"ada": {"sub": "ada-sub", "name": "Ada Lovelace", "roles": ("Learner",)},
                          "grace": {"sub": "grace-sub", "name": "Grace Hopper", "roles": ("Learner",)},
                "alan": {"sub": "alan-sub", "name": "Alan Turing", "roles": ("Instructor",)}}
        server = Server(data)
        platform.tool_jwks = lambda: json.loads(urllib.request.urlopen(server.url + "lti/jwks.json", timeout=10).read())
        try:
            with sync_api.sync_playwright() as playwright:
                # Third-party cookies are blocked by the top-level site, whatever the processes; the
                # tool's frame stays in the page's process, so that Playwright follows it through
                # its cross-site navigations (a frame swapped into another process was lost).
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--host-resolver-rules=MAP platform.test 127.0.0.1",
                    "--test-third-party-cookie-phaseout", "--disable-site-isolation-trials",
                    "--disable-features=IsolateOrigins,site-per-process"])
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{platform.browser_url}/course?user=grace&tool={server.url}")
                cookies_only = page.frame_locator("#tool").locator("h1")
                cookies_only.wait_for(timeout=20_000)
                assert cookies_only.inner_text() == "This launch was refused"
                assert "cookies blocked?" in page.frame_locator("#tool").locator("body").inner_text()

                page.goto(f"{platform.browser_url}/course?user=ada&tool={server.url}&storage=post_message_forwarding")
                frame = page.frame_locator("#tool")
                frame.locator("#token").wait_for(timeout=20_000)
                assert "Signed in as Ada Lovelace" in frame.locator("body").inner_text()
                assert not [c for c in context.cookies() if c["name"].startswith("lti1p3-")]  # none was kept

                # The pages after the launch, in the frame, with no cookie of the tool's: the upload
                # form, the submission page following the grading, the feedback.
                frame.locator("#upload").click()
                frame.locator("input[type=file]").set_input_files(str(SOLUTIONS / "confusion.py"))
                frame.locator("input[name=questions]").fill("confusion")
                frame.locator("button", has_text="Submit").click()
                sync_api.expect(frame.locator("#status")).to_have_text("graded", timeout=120_000)
                sync_api.expect(frame.locator("body")).to_contain_text("score: 10 / 10")
                feedback = frame.frame_locator("iframe[title=feedback]").locator("body")
                sync_api.expect(feedback).to_contain_text("confusion", timeout=20_000)
                assert page.url.startswith(platform.browser_url) and not context.cookies(server.url)

                # An Instructor's launch in the same cookieless frame: the class page, a student's
                # feedback from it, and the rescore button, each carried by the staff credential.
                page.goto(f"{platform.browser_url}/course?user=alan&tool={server.url}&storage=post_message_forwarding")
                staff = page.frame_locator("#tool")
                row = staff.locator("tr", has_text="Ada Lovelace")
                sync_api.expect(row).to_contain_text("graded", timeout=20_000)
                assert "the class" in staff.locator("h1").inner_text()
                page.screenshot(path=str(tmp_path / "class_in_frame.png"), full_page=True)
                row.locator("a", has_text="grade graded").click()
                sync_api.expect(staff.locator("h1")).to_have_text(re.compile(r"Submission \d+"), timeout=20_000)
                feedback = staff.frame_locator("iframe[title=feedback]").locator("body")
                sync_api.expect(feedback).to_contain_text("confusion", timeout=20_000)
                staff.locator("a", has_text="the class").click()
                staff.locator("button", has_text="Rescore all graded submissions").click()
                sync_api.expect(staff.locator("[role=status]")).to_contain_text("rescored: ", timeout=60_000)
                assert "the class" in staff.locator("h1").inner_text()
                assert page.url.startswith(platform.browser_url) and not context.cookies(server.url)

                page.goto(f"{platform.browser_url}/course?user=grace&tool={server.url}&storage=_parent")
                page.frame_locator("#tool").locator("#token").wait_for(timeout=20_000)
                assert "Signed in as Grace Hopper" in page.frame_locator("#tool").locator("body").inner_text()
                browser.close()
        finally:
            server.stop()
