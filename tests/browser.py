"""Render a page in headless Chromium: console messages, images that failed to load, a screenshot.

Test-only: the page is copied with one extra script (allowed by a nonce added to its
Content-Security-Policy, which otherwise stays as written) that checks every image
after the load event and writes the outcome into the DOM that ``--dump-dom`` prints.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]

CHECK = """<script nonce="pagecheck">
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  %s
  var out = document.createElement("pre");
  out.id = "pagecheck";
  out.textContent = "images=" + images.length + " broken=" + broken + " errors=" + window.__errors.length + " extra=" + extra;
  document.body.appendChild(out);
});
</script>"""


def render(page: Path, *, extra_js: str = "var extra = '';", screenshot: Path | None = None,
           height: int = 3000, timeout: float = 60) -> dict:
    """Load ``page`` in Chromium; returns {"images", "broken", "errors", "extra", "console": [lines]}."""
    html = Path(page).read_text(encoding="utf-8")
    if "script-src" not in html:  # a page without script: allow only this one (a page with scripts allows inline)
        html = html.replace("default-src 'none';", "default-src 'none'; script-src 'nonce-pagecheck';", 1)
    html = html.replace("<head>", "<head>" + CHECK % extra_js, 1)
    with tempfile.TemporaryDirectory(prefix="ch3-chromium-") as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(html, encoding="utf-8")
        profile = Path(tmp) / "profile"
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                   "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()]
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if screenshot is not None:
            subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                            f"--window-size=1100,{height}", Path(page).resolve().as_uri()],
                           capture_output=True, text=True, timeout=timeout)
    found = re.search(r'<pre id="pagecheck">images=(\d+) broken=(\d+) errors=(\d+) extra=(.*?)</pre>', run.stdout)
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    if not found:
        raise AssertionError(f"the page check did not run; chromium said:\n{run.stderr[-2000:]}")
    return {"images": int(found[1]), "broken": int(found[2]), "errors": int(found[3]), "extra": found[4],
            "console": console}
