"""``python -m autograder submit``: upload to a course server, print the receipt, wait for the grade.

Standard library only (students need not install the serve extra). A folder is zipped (its
``.py`` and ``.ipynb`` files); a ``.zip``, ``.ipynb`` or ``.py`` file is sent as it is.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

FINAL = ("graded", "failed", "replaced")


class SubmitError(RuntimeError):
    """A refusal or a failure, as one line."""


def payload(path: Path) -> tuple[str, bytes]:
    """(file name, bytes) of what is uploaded for ``path``."""
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                parts = file.relative_to(path).parts
                if (file.is_file() and not file.is_symlink() and file.suffix in (".py", ".ipynb")
                        and not any(p.startswith(".") or p == "__pycache__" for p in parts)):
                    archive.write(file, "/".join(parts))
        return f"{path.name or 'submission'}.zip", buffer.getvalue()
    if not path.is_file():
        raise SubmitError(f"{path} does not exist")
    return path.name, path.read_bytes()


def _request(url: str, token: str, data: bytes | None = None, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET", headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error")
        except (ValueError, AttributeError):
            reason = None
        raise SubmitError(f"refused ({exc.code}): {reason or exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SubmitError(f"cannot reach {url}: {exc.reason}") from None
    except ValueError:
        raise SubmitError(f"{url} did not answer JSON: is it a course server?") from None


def submit(server: str, token: str, path: Path, *, check: bool = False, questions=(),
           assignment: str | None = None) -> dict:
    """Upload and return the receipt (id, time, sha256, url); ``assignment``: its slug (default: the first)."""
    name, data = payload(path)
    token = token.strip()
    query = urllib.parse.urlencode([("kind", "check" if check else "grade"), *[("q", q) for q in questions],
                                    *([("assignment", assignment)] if assignment else [])])
    url = urllib.parse.urljoin(server if server.endswith("/") else server + "/", "api/submissions") + "?" + query
    return _request(url, token, data, {"Content-Type": "application/octet-stream",
                                       "X-Filename": urllib.parse.quote(name)})


def wait(url: str, token: str, *, poll: float = 1.0, timeout: float = 3600.0) -> dict:
    """The submission's JSON once it is graded, failed or replaced."""
    deadline = time.monotonic() + timeout
    while True:
        state = _request(url, token.strip())
        if state["status"] in FINAL:
            return state
        if time.monotonic() > deadline:
            raise SubmitError(f"still {state['status']} after {timeout:g} s; see {url}")
        time.sleep(poll)


def _events(response):
    """(event, id, data) of a ``text/event-stream`` response, as they arrive."""
    name, event_id, data = "message", None, []
    for raw in response:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield name, event_id, "\n".join(data)
            name, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)


def watch(url: str, token: str, *, on_question=None, timeout: float = 3600.0) -> dict:
    """The submission's JSON once it is final, calling ``on_question(result)`` for each question as
    the server grades it (its Server-Sent Events; reconnects resume after the last one seen). A
    server without the events stream is polled (:func:`wait`)."""
    deadline = time.monotonic() + timeout
    events = url if url.endswith("/") else url + "/"
    after = "0"
    while time.monotonic() < deadline:
        request = urllib.request.Request(events + "events", headers={
            "Authorization": f"Bearer {token.strip()}", "Accept": "text/event-stream", "Last-Event-ID": after})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                for name, event_id, data in _events(response):
                    if name == "question":
                        after = event_id or after
                        if on_question:
                            on_question(json.loads(data))
                    elif name == "done":
                        return _request(url, token.strip())
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and _request(url, token.strip()):  # the submission exists: an older server
                return wait(url, token, timeout=max(1.0, deadline - time.monotonic()))
            raise SubmitError(f"refused ({exc.code}): {exc.reason}") from None
        except (urllib.error.URLError, OSError):
            time.sleep(1.0)  # the stream broke (a restart, a proxy's timeout): reconnect and resume
    raise SubmitError(f"not graded after {timeout:g} s; see {url}")
