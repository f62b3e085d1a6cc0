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
import threading
import traceback

from autograder.worker import protocol

TRACEBACK_CHARS = 4000
#: Distinct library functions a reply names at most (the record of one call).
MAX_RECORDED_CALLS = 20


class CallRecorder:
    """What a request's code calls in the library modules ``modules``, through any path.

    A trace hook (``sys.settrace``, and ``threading.settrace`` for threads started during the
    request) sees every Python function entered, however it was reached (an import in a helper
    module, ``importlib``, ``getattr``); it asks for no line events, so its cost is one check per
    Python call. A function whose code lives in one of the modules' files, entered from code
    outside them, is recorded by its public name where the module exports it
    (``sklearn.metrics.confusion_matrix``); calls the library makes internally are not recorded
    separately. Switching the hook off or replacing it (``sys.settrace``, ``sys.setprofile``,
    ``threading.settrace``) during the request is recorded too: an audit hook, which cannot be
    removed, sees those calls.
    """

    active: CallRecorder | None = None   # the recorder of the request running now
    _audit_installed = False

    def __init__(self, modules):
        self.modules = [m for m in modules if isinstance(m, str)]
        self.folders = tuple(f for name in self.modules for f in _library_folders(name))
        self.found: dict[str, None] = {}
        self.previous = None
        self.hook = self.trace   # one bound method: the hook installed, compared after the call
        self.paused = False      # an installed library being imported: not traced (see _find_and_load)

    def _inside(self, code) -> bool:
        return code.co_filename.startswith(self.folders)

    def trace(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code is _THREAD_SETTRACE:
                self._note("threading.settrace")
            elif code.co_name != "<module>" and self._inside(code) and not self._library_on_stack(frame.f_back):
                self._note(self._public_name(frame))
        return None  # no line events

    def _library_on_stack(self, frame) -> bool:
        """A frame of the library below this one: a call the library makes itself (or its import)."""
        for _ in range(200):
            if frame is None:
                return False
            if self._inside(frame.f_code):
                return True
            frame = frame.f_back
        return False

    @staticmethod
    def _audit(event, args):
        recorder = CallRecorder.active
        if recorder is not None and not recorder.paused and event in ("sys.settrace", "sys.setprofile"):
            recorder._note(event)

    def _note(self, name: str) -> None:
        if len(self.found) < MAX_RECORDED_CALLS:
            self.found.setdefault(name, None)

    def _public_name(self, frame) -> str:
        code = frame.f_code
        qualname = getattr(code, "co_qualname", code.co_name)
        for name in self.modules:
            exported = getattr(sys.modules.get(name), qualname.split(".")[0], None)
            for _ in range(4):  # a decorated function: the code is the innermost one's
                if getattr(exported, "__code__", None) is code:
                    return f"{name}.{qualname}"
                exported = getattr(exported, "__wrapped__", None)
        return f"{frame.f_globals.get('__name__', '?')}.{qualname}"

    def __enter__(self):
        if self.folders:
            if not CallRecorder._audit_installed:
                sys.addaudithook(CallRecorder._audit)
                importlib._bootstrap._find_and_load = _find_and_load
                CallRecorder._audit_installed = True
            self.previous = sys.gettrace()
            threading.settrace(self.hook)
            sys.settrace(self.hook)
            CallRecorder.active = self
        return self

    def __exit__(self, *exc):
        if self.folders:
            CallRecorder.active = None
            if sys.gettrace() is not self.hook:
                self._note("sys.settrace")
            sys.settrace(self.previous)
            threading.settrace(None)
        return False

    @property
    def calls(self) -> list[str]:
        return list(self.found)


_THREAD_SETTRACE = threading.settrace.__code__
_FOLDERS: dict[str, tuple[str, ...]] = {}
_SUBMISSION = [""]   # the submission's folder, set by serve()
_ORIGINAL_FIND_AND_LOAD = importlib._bootstrap._find_and_load
_IMPORT_SYSTEM = [(tuple(sys.meta_path), tuple(sys.path_hooks))]   # as serve() found it


def _find_and_load(name, import_):
    """Importing an installed library is not traced (tracing doubles the cost of importing
    scikit-learn, and its import is no call): the trace pauses for that import in this thread
    unless the module is the submission's, or the import system (``sys.meta_path``,
    ``sys.path_hooks``) has been changed, which could run the student's code under a library's name."""
    recorder = CallRecorder.active
    top = name.partition(".")[0]
    if (recorder is None or recorder.paused or sys.gettrace() is not recorder.hook
            or (tuple(sys.meta_path), tuple(sys.path_hooks)) != _IMPORT_SYSTEM[0]
            or os.path.exists(os.path.join(_SUBMISSION[0], top + ".py")) or not _library_folders(top)):
        return _ORIGINAL_FIND_AND_LOAD(name, import_)
    recorder.paused = True
    sys.settrace(None)
    try:
        return _ORIGINAL_FIND_AND_LOAD(name, import_)
    finally:
        sys.settrace(recorder.hook)
        recorder.paused = False


def _library_folders(name: str) -> tuple[str, ...]:
    """Where the installed library module ``name`` (``sklearn.metrics``) keeps its files, found
    without importing it (an import would cost the first call of every worker); the submission's
    folder, first on ``sys.path``, is not searched, so a student's ``sklearn.py`` changes nothing."""
    if name not in _FOLDERS:
        from importlib.machinery import PathFinder

        top, *rest = name.split(".")
        path = [p for p in sys.path if p and os.path.isdir(p) and p != _SUBMISSION[0]]
        spec = PathFinder.find_spec(top, path)
        found = ()
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                target = os.path.join(folder, *rest)
                if os.path.isdir(target):
                    found += (os.path.join(target, ""),)
                elif os.path.isfile(target + ".py"):
                    found += (target + ".py",)
        elif spec is not None and spec.origin and not rest:
            found = (spec.origin,)
        _FOLDERS[name] = found
    return _FOLDERS[name]


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

    def reply(self, value, keep: bool, calls=()) -> bytes:
        """Plain data goes back as it is; anything else (or everything, with ``keep``) stays here.
        ``calls``: the recorded library calls, when the request asked for a record."""
        answer = {"ok": self.keep(value) if keep else self.portable(value)}
        if calls:
            answer["calls"] = list(calls)
        return protocol.encode(answer)

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


def _error(exc: BaseException, calls=()) -> bytes:
    if isinstance(exc, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(exc, (SystemExit, KeyboardInterrupt)):
        kind = "exit"
    else:
        kind = "exception"
    text = "".join(traceback.format_exception(exc))[-TRACEBACK_CHARS:]
    answer = {"error": {"kind": kind, "type": type(exc).__name__, "message": str(exc)[:2000], "traceback": text}}
    if calls:
        answer["calls"] = list(calls)
    return protocol.encode(answer)


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
    _SUBMISSION[0] = submission_dir
    _IMPORT_SYSTEM[0] = (tuple(sys.meta_path), tuple(sys.path_hooks))
    os.environ.setdefault("MPLBACKEND", "Agg")
    worker = Worker()
    me = os.getpid()
    while True:
        try:
            request = protocol.decode(protocol.read_message(request_fd))
        except EOFError:
            return
        recorder = CallRecorder(request.get("record") or ()) if isinstance(request, dict) else CallRecorder(())
        try:
            with recorder:
                value, keep = worker.handle(request)
            reply = worker.reply(value, keep, recorder.calls)
        except BaseException as exc:  # student code may raise anything, SystemExit included
            reply = _error(exc, recorder.calls)
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
