"""The worker: runs inside the sandbox, imports the student's modules and answers requests.

Forked from the submission's zygote (:mod:`autograder.worker.zygote`), which
calls :func:`serve`, or in the weak mode started by :mod:`autograder.worker.sandbox`
as ``python -I -m autograder.worker.entry REQUEST_FD RESPONSE_FD SUBMISSION_DIR``.
It reads requests, calls student code, and writes back plain data
(:mod:`autograder.worker.protocol`).  Objects that are not plain data
(estimators, figures, ...) stay here; the grader gets a *handle* (an id, the
type's name and its MRO) and can call methods on it later.

Everything this process says is an observation, never a verdict: scores are
computed in the grader, which never sees a Python object from here.  This
module imports nothing from the judge.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback

from autograder.worker import protocol

TRACEBACK_CHARS = 4000


class Worker:
    def __init__(self):
        self.objects: dict[int, object] = {}   # handle -> object
        self.ids: dict[int, int] = {}          # id(object) -> handle

    # --------------------------------------------------------------- handles
    def keep(self, obj) -> dict:
        handle = self.ids.get(id(obj))
        if handle is None or self.objects.get(handle) is not obj:
            handle = len(self.objects) + 1
            self.objects[handle], self.ids[id(obj)] = obj, handle
        cls = type(obj)
        return {"__handle__": handle, "type": f"{cls.__module__}.{cls.__qualname__}",
                "mro": [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]}

    def resolve(self, value):
        """Replace handle references in decoded arguments by the objects they name."""
        if isinstance(value, dict):
            if set(value) == {"__ref__"}:
                return self.objects[value["__ref__"]]
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        return value

    def portable(self, value):
        """Containers are sent element by element: plain leaves as they are, other objects as handles."""
        if type(value) in (list, tuple):
            return type(value)(self.portable(v) for v in value)
        if type(value) is dict and all(isinstance(k, str) for k in value):
            return {k: self.portable(v) for k, v in value.items()}
        return value if protocol.is_plain_leaf(value) else self.keep(value)

    def reply(self, value, keep: bool) -> bytes:
        """Plain data goes back as it is; anything else (or everything, with ``keep``) stays here."""
        return protocol.encode({"ok": self.keep(value) if keep else self.portable(value)})

    # -------------------------------------------------------------- requests
    def module(self, name: str):
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a module name: {name!r}")
        return importlib.import_module(name)

    def target(self, request):
        if "handle" in request:
            return getattr(self.objects[request["handle"]], request["attr"])
        return getattr(self.module(request["module"]), request["attr"])

    def handle(self, request: dict):
        """Run one request; returns ``(value, keep)``."""
        op = request["op"]
        keep = request.get("keep", False)
        if op == "import":
            return {"file": getattr(self.module(request["module"]), "__file__", None)}, False
        if op == "library":  # a library object the grader passes to student code, e.g. SGDClassifier
            if request["module"].split(".")[0] not in ("sklearn", "numpy", "scipy"):
                raise ValueError(f"library objects come from sklearn, numpy or scipy, not {request['module']}")
            factory = getattr(importlib.import_module(request["module"]), request["attr"])
            return factory(**self.resolve(request.get("kwargs", {}))), True
        if op == "call":
            func = self.target(request)
            return func(*self.resolve(request.get("args", [])), **self.resolve(request.get("kwargs", {}))), keep
        if op == "getattr":
            return getattr(self.objects[request["handle"]], request["attr"]), keep
        if op == "getitem":
            return self.objects[request["handle"]][self.resolve(request["key"])], keep
        raise ValueError(f"unknown request {op!r}")


def _error(exc: BaseException) -> bytes:
    if isinstance(exc, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(exc, (SystemExit, KeyboardInterrupt)):
        kind = "exit"
    else:
        kind = "exception"
    text = "".join(traceback.format_exception(exc))[-TRACEBACK_CHARS:]
    return protocol.encode({"error": {
        "kind": kind, "type": type(exc).__name__, "message": str(exc)[:2000], "traceback": text}})


def note_own_signals() -> None:
    """Say on the output when the code sends a signal (``os.kill(os.getpid(), 9)``, a kill of its
    process group, of the zygote, ...), just before it goes: a death in the sandbox by a signal that
    nobody inside noted is not put on the code (the grader calls it the machine's)."""

    def hook(event, args):
        if event in ("os.kill", "os.killpg", "signal.pthread_kill") and args[1] != 0:
            with contextlib.suppress(OSError):
                os.write(2, b"\n" + protocol.SELF_SIGNAL_NOTE + f" ({event}{tuple(args)})\n".encode())

    sys.addaudithook(hook)


def serve(request_fd: int, response_fd: int, submission_dir: str) -> None:
    note_own_signals()
    sys.path.insert(0, submission_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")
    worker = Worker()
    me = os.getpid()
    while True:
        try:
            request = protocol.decode(protocol.read_message(request_fd))
        except EOFError:
            return
        try:
            value, keep = worker.handle(request)
            reply = worker.reply(value, keep)
        except BaseException as exc:  # student code may raise anything, SystemExit included
            reply = _error(exc)
        if os.getpid() != me:
            os._exit(0)  # a child the student forked: only the worker itself may answer
        with contextlib.suppress(Exception):  # output is block-buffered on a pipe: it goes out before the reply
            sys.__stdout__.flush(), sys.__stderr__.flush()
        protocol.write_message(response_fd, reply)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    request_fd, response_fd, submission_dir = int(argv[0]), int(argv[1]), argv[2]
    serve(request_fd, response_fd, submission_dir)
    os._exit(0)  # skip interpreter teardown: student atexit hooks and threads get no say


if __name__ == "__main__":
    main()
