"""What a worker may not do outside itself: a seccomp filter, installed in each worker before any
student code runs (:meth:`autograder.worker.zygote.Zygote.become_worker`).

A worker runs as the same uid as its zygote and the sandbox's other processes, so without it a
worker could lower the zygote's limits, renice it or change its scheduling (the next worker, maybe
another student's, inherits them), or leave data in the sandbox's IPC namespace or the uid's
keyrings for a later worker to find. The filter answers ``EPERM`` (never a kill: a library that
probes gets an error it can handle) to:

- changing the limits or scheduling of any process but the worker itself (pid 0 or its own pid):
  ``prlimit64`` with new limits, ``setpriority`` and ``ioprio_set`` (and for a whole uid),
  ``sched_setaffinity``, ``sched_setscheduler``, ``sched_setparam``, ``sched_setattr``;
  reading them stays allowed;
- kernel keyrings: ``add_key``, ``keyctl``, ``request_key``;
- System V IPC (shared memory, message queues, semaphores) and POSIX message queues: they live in
  the IPC namespace, not in the scratch that is emptied between workers.

Rules name system calls, never numbers: libseccomp resolves them for the machine's architecture
(x86_64 and aarch64 alike); a call through another ABI (32-bit, x32) kills the process.
:func:`why_unavailable` says, once per grader process, whether the filter can be installed here;
where it cannot, the grader keeps no sandbox from one submission to the next.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

#: Changing these for another process would reach the zygote, and through it the next worker.
OTHERS_PID_FIRST = ("sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr")
#: ``(which, who, ...)`` calls: ``who`` is a pid, a process group or a uid; ``which`` names the uid kind.
WHICH_WHO = {"setpriority": 2, "ioprio_set": 3}  # PRIO_USER, IOPRIO_WHO_USER: every process of the uid
#: Refused whatever their arguments: data a later worker could find outside the scratch.
REFUSED = ("add_key", "keyctl", "request_key",
           "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
           "semget", "semop", "semtimedop", "semctl", "ipc",  # ipc: the multiplexer of 32-bit ABIs
           "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr")

_WORD = (1 << 64) - 1


def _other_than(me: int) -> list[tuple[int, int, int]]:
    """Comparisons ``(op, a, b)`` that together match every argument value but 0 and ``me``.

    libseccomp allows one comparison per argument in a rule, so the values 1 .. me-1 are covered by
    aligned blocks (masked equality), and everything above ``me`` (negative values included, seen
    unsigned) by one comparison."""
    import pyseccomp

    found = [(pyseccomp.GT, me, 0)]
    low, high = 1, me - 1
    while low <= high:
        size = low & -low
        while size > high - low + 1:
            size >>= 1
        found.append((pyseccomp.MASKED_EQ, ~(size - 1) & _WORD, low))
        low += size
    return found


def build(me: int):
    """The filter for the worker whose pid (in its pid namespace) is ``me``, not yet loaded."""
    import pyseccomp
    from pyseccomp import Arg

    refuse = pyseccomp.ERRNO(errno.EPERM)
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    rules.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    rules.set_attr(pyseccomp.Attr.CTL_TSYNC, 1)  # threads a library started before it, too
    # The kernel is not asked to force the speculative store bypass mitigation on the worker, as it
    # may for a seccomp filter: it slows student code down, and the worker holds no one else's data.
    rules.set_attr(pyseccomp.Attr.CTL_SSB, 1)
    for name in REFUSED:
        rules.add_rule(refuse, name)
    for op, a, b in _other_than(me):
        rules.add_rule(refuse, "prlimit64", Arg(0, op, a, b), Arg(2, pyseccomp.NE, 0))  # new limits given
        for name in OTHERS_PID_FIRST:
            rules.add_rule(refuse, name, Arg(0, op, a, b))
        for name in WHICH_WHO:
            rules.add_rule(refuse, name, Arg(1, op, a, b))
    for name, every_process_of_the_uid in WHICH_WHO.items():
        rules.add_rule(refuse, name, Arg(0, pyseccomp.EQ, every_process_of_the_uid))
    return rules


def install() -> None:
    """Confine the calling process (and every process and thread it starts) for good.

    Raises
    ------
    OSError, RuntimeError, ImportError
        libseccomp is missing or the kernel refused the filter."""
    build(os.getpid()).load()


def start_probe() -> None:
    """Start trying the filter in a separate process (once per grader process), without waiting."""
    if "answer" not in _PROBE and "process" not in _PROBE:
        try:
            _PROBE["process"] = subprocess.Popen(
                [sys.executable, "-I", "-c", "from autograder.worker import confine; confine.self_test()"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd="/")
        except OSError as exc:
            _PROBE["answer"] = f"{type(exc).__name__}: {exc}"


def why_unavailable() -> str | None:
    """Why workers cannot be confined here (None: they can), tried once in a separate process:
    the filter installed, then a refused call must fail with ``EPERM``."""
    start_probe()
    if "answer" not in _PROBE:
        process = _PROBE.pop("process")
        try:
            _, errors = process.communicate(timeout=60)
            _PROBE["answer"] = None if process.returncode == 0 else (
                errors.strip().splitlines() or [f"exit code {process.returncode}"])[-1][-300:]
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            _PROBE["answer"] = "trying the seccomp filter took over 60 s"
    return _PROBE["answer"]


_PROBE: dict = {}


def self_test() -> None:
    """Install the filter in this (throw-away) process and check that it refuses: exits non-zero,
    saying why, when it does not."""
    try:
        install()
    except (OSError, RuntimeError, ImportError, AttributeError) as exc:
        sys.exit(f"the seccomp filter cannot be installed ({type(exc).__name__}: {exc})")
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    queue = libc.msgget(0, 0o600)  # IPC_PRIVATE: a new queue, removed again if it was made
    if queue >= 0:
        libc.msgctl(queue, 0, None)  # IPC_RMID
        sys.exit("the seccomp filter was installed but did not refuse msgget")
    if ctypes.get_errno() != errno.EPERM:
        sys.exit(f"the seccomp filter was installed but msgget failed with {errno.errorcode.get(ctypes.get_errno())}")
