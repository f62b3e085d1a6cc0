"""Reading untrusted files: regular files only, never through a link, never more than a cap.

A submission folder may hold a symlink to ``/etc/shadow`` or a hidden grader, a FIFO that
blocks for ever, or a link to ``/dev/zero``. Every file the grader reads from a submission
goes through :func:`read_regular_file`, so what is read is what was checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotARegularFile(OSError):
    """The path is a link, a special file, a folder, unreadable, or over the size cap; ``str`` says which."""


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    Raises
    ------
    NotARegularFile
        With a reason a student can read, e.g. "a symbolic link (only regular files are graded)".
    """
    try:  # O_NOFOLLOW + fstat: a link or FIFO is never opened through, and never blocks
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if Path(path).is_symlink():
            raise NotARegularFile("a symbolic link (only regular files are graded)") from exc
        raise NotARegularFile(f"could not be read ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFile(f"{_kind(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        content = handle.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise NotARegularFile(f"more than the {max_bytes:,} bytes allowed")
    return content


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"
