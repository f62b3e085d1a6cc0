"""The HTTP session the tool's service calls use: pylti1p3 sends no timeout of its own."""

from __future__ import annotations

import requests

TIMEOUT_SECONDS = 10.0


class TimeoutSession(requests.Session):
    """A requests session whose every call gives up after ``timeout`` seconds."""

    def __init__(self, timeout: float | None = None):
        super().__init__()
        self.timeout = timeout if timeout is not None else TIMEOUT_SECONDS
        self.headers["User-Agent"] = "ch3-autograder LTI tool"

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)
