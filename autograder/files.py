"""Reading untrusted files: regular files only, never through a link, never more than a cap.

A submission folder may hold a symlink to ``/etc/shadow``, a hidden grader, the installed
reference solutions or a classmate's folder, a FIFO that blocks for ever, or a link to
``/dev/zero``. Every file the grader reads from a submission goes through
:func:`read_regular_file` or :func:`walk_tree`: folders are opened from descriptors with
``O_NOFOLLOW``, every entry is checked with ``lstat`` before use, and a link anywhere is
skipped with a note (:class:`SkipNotes` caps and summarises them).

:func:`choose_module_folder` is the one rule for a submission holding several copies of the
assignment's modules (``attempt1/`` and ``attempt2/``), for folders and zips alike.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: Notes shown one by one; the rest are counted by kind in one summary line.
MAX_SKIP_NOTES = 10
#: Entries walked in one submission folder (a class's LMS upload is a few dozen files).
MAX_FOLDER_ENTRIES = 100_000
#: Folder depth walked below a submission folder.
MAX_FOLDER_DEPTH = 8
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class NotARegularFile(OSError):
    """The path is a link, a special file, a folder, unreadable, or over the size cap; ``str`` says which."""


def read_regular_file(path: Path, max_bytes: int, *, dir_fd: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    ``dir_fd``: ``path`` is a single name inside that open folder (see :func:`walk_tree`).

    Raises
    ------
    NotARegularFile
        With a reason a student can read, e.g. "a symbolic link (only regular files are graded)".
    """
    try:  # O_NOFOLLOW + fstat: a link or FIFO is never opened through, and never blocks
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        try:
            is_link = stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode)
        except OSError:
            is_link = False
        if is_link:
            raise NotARegularFile("a symbolic link (only regular files are graded)") from exc
        raise NotARegularFile(f"could not be read ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFile(f"{kind(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        content = handle.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise NotARegularFile(f"more than the {max_bytes:,} bytes allowed")
    return content


def kind(mode: int) -> str:
    """What a non-regular file is, in words ("a symbolic link", "a FIFO", ...)."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


_kind = kind  # the name other modules used before


# ------------------------------------------------------------------ skip notes

@dataclass
class SkipNotes:
    """Skipped entries: the first ``limit`` as notes, the rest counted by kind in one line.

    Sixty thousand links in a submission are one summary line, not megabytes in every report.
    """

    limit: int = MAX_SKIP_NOTES
    shown: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)

    def add(self, name: str, reason: str, what: str = "") -> None:
        self.kinds[what or reason] += 1
        if len(self.shown) < self.limit:
            self.shown.append(f"skipped {name}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def lines(self) -> list[str]:
        if self.total <= len(self.shown):
            return list(self.shown)
        counts = ", ".join(f"{n:,} {_plural(what, n)}" for what, n in self.kinds.most_common())
        return [*self.shown, f"skipped {self.total:,} entries in all ({counts}); the first {len(self.shown)} "
                             "are listed above"]


def _plural(what: str, n: int) -> str:
    what = re.sub(r"^an? ", "", what)
    return what if n == 1 or what.endswith("s") else f"{what}s"


# --------------------------------------------------------------- folder walks

@dataclass
class Tree:
    """What a folder holds, found without following a link: regular files by relative path."""

    root: Path
    files: dict[PurePosixPath, str] = field(default_factory=dict)   # relative path -> name
    entries: int = 0


class TooManyEntries(OSError):
    """A submission folder with more entries than :data:`MAX_FOLDER_ENTRIES`."""


def open_folder(path: Path, parts=(), dir_fd: int | None = None) -> int:
    """A descriptor of ``path / parts...`` opened component by component, never through a link."""
    fd = os.open(path, _DIRECTORY_FLAGS, dir_fd=dir_fd)
    try:
        for part in parts:
            inner = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError:
        os.close(fd)
        raise
    return fd


def walk_tree(root: Path, skipped: SkipNotes, *, wanted=lambda name: True, note_links=True,
              max_entries: int = MAX_FOLDER_ENTRIES, max_depth: int = MAX_FOLDER_DEPTH) -> Tree:
    """Every regular file under ``root`` whose name ``wanted`` accepts, walked from descriptors.

    ``root`` itself must be a real folder (a link there raises ``NotARegularFile``). Links,
    FIFOs, devices and sockets anywhere below are skipped with a note in ``skipped``
    (``note_links``: every one; otherwise only those ``wanted`` would have taken); a folder
    named like a wanted file is noted and not entered; hidden entries and ``__MACOSX`` are ignored.

    Raises
    ------
    NotARegularFile
        ``root`` is a link or not a folder.
    TooManyEntries
        More than ``max_entries`` entries below ``root``.
    """
    try:
        fd = open_folder(root)
    except OSError as exc:
        try:
            mode = os.lstat(root).st_mode
        except OSError:
            raise NotARegularFile(f"could not be read ({exc.strerror})") from exc
        raise NotARegularFile(f"{kind(mode)}, not a folder of files" if not stat.S_ISDIR(mode)
                              else f"could not be read ({exc.strerror})") from exc
    tree = Tree(Path(root))
    try:
        _walk(fd, PurePosixPath(), tree, skipped, wanted, note_links, max_entries, max_depth)
    finally:
        os.close(fd)
    return tree


def _walk(fd, here: PurePosixPath, tree, skipped, wanted, note_links, max_entries, max_depth) -> None:
    with os.scandir(fd) as listing:
        children = sorted(listing, key=lambda e: e.name)
    folders = []
    for entry in children:
        tree.entries += 1
        if tree.entries > max_entries:
            raise TooManyEntries(f"more than {max_entries:,} entries in the submission folder")
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        relative = here / entry.name
        # the entry's own type (follow_symlinks=False: never a link's target); files are opened with
        # O_NOFOLLOW and folders with O_NOFOLLOW | O_DIRECTORY, so a swap after this check is refused there
        if entry.is_file(follow_symlinks=False):
            if wanted(entry.name):
                tree.files[relative] = entry.name
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            if wanted(entry.name):
                skipped.add(str(relative), "a folder, not a regular file", "folder")
            elif len(here.parts) + 1 >= max_depth:
                skipped.add(f"{relative}/", f"deeper than {max_depth} folders", "folder too deep")
            else:
                folders.append(entry.name)
        elif note_links or wanted(entry.name):
            what = kind(mode)
            reason = ("a symbolic link (only regular files are graded)" if stat.S_ISLNK(mode)
                      else f"{what}, not a regular file")
            skipped.add(str(relative), reason, what)
    for name in folders:
        try:
            inner = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
        except OSError as exc:  # replaced by a link since it was listed, or unreadable
            skipped.add(f"{here / name}/", f"could not be opened ({exc.strerror})", "unreadable folder")
            continue
        try:
            _walk(inner, here / name, tree, skipped, wanted, note_links, max_entries, max_depth)
        finally:
            os.close(inner)


def read_tree_files(root: Path, folder: PurePosixPath, names, max_bytes: int, skipped: SkipNotes) -> dict[str, bytes]:
    """Read files that :func:`walk_tree` found in one of its folders, again through descriptors and
    ``O_NOFOLLOW`` (the folder is opened once); one that cannot be read is a note in ``skipped``."""
    fd = open_folder(root, folder.parts)
    try:
        found = {}
        for name in sorted(names):
            try:
                found[name] = read_regular_file(name, max_bytes, dir_fd=fd)
            except NotARegularFile as exc:
                skipped.add(str(folder / name), str(exc), "unreadable file")
        return found
    finally:
        os.close(fd)


# ------------------------------------------------------- several candidate copies

def _natural(text: str) -> tuple:
    """attempt2 < attempt10: digits compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
                 for part in re.split(r"(\d+)", text) if part)


def choose_module_folder(files, is_module) -> tuple[PurePosixPath | None, list[PurePosixPath]]:
    """The folder to grade among those holding module files, and the other candidates.

    The rule, for a folder or a zip alike: among the folders holding at least one of the
    assignment's modules (any ``.py`` file if none does), the shallowest; then the one
    holding the most of the assignment's modules; then the name that sorts last in natural
    order (``attempt2`` over ``attempt1``, ``attempt10`` over ``attempt9``, ``v2`` over ``v1``).

    Parameters
    ----------
    files : iterable of PurePosixPath
        Relative paths of the ``.py`` files found.
    is_module : callable
        True for a file name that is one of the assignment's modules.

    Returns
    -------
    (PurePosixPath or None, list of PurePosixPath)
        The chosen folder (None when there are no files) and the candidates not graded, best first.
    """
    by_folder: dict[PurePosixPath, set[str]] = {}
    for path in files:
        by_folder.setdefault(PurePosixPath(path).parent, set()).add(PurePosixPath(path).name)
    if not by_folder:
        return None, []
    with_modules = {f: names for f, names in by_folder.items() if any(is_module(n) for n in names)}
    candidates = with_modules or by_folder

    def rank(folder):
        modules = sum(is_module(n) for n in candidates[folder])
        return (-len(folder.parts), modules, _natural(str(folder)))
    ordered = sorted(candidates, key=rank, reverse=True)
    return ordered[0], ordered[1:]


# ------------------------------------------------------------------ zip archives

_END_RECORD = struct.Struct("<4s4H2LH")          # end of central directory (APPNOTE.TXT 4.3.16)
_ZIP64_LOCATOR = struct.Struct("<4sLQL")         # zip64 end of central directory locator (4.3.15)
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record (4.3.14)


@dataclass
class ZipDirectory:
    """A zip's own account of its central directory: entries and bytes."""

    entries: int
    size: int


def zip_directory(handle) -> ZipDirectory:
    """Read the end-of-central-directory record (zip64 too) of an open zip, per PKWARE's APPNOTE.

    ``ZipFile`` builds one object per central-directory entry before anything can be
    checked, reading until the directory's *size* is consumed: both the count and the size are
    returned so that a caller can bound the work before opening the archive.

    Raises
    ------
    ValueError
        No end-of-central-directory record (not a zip).
    """
    handle.seek(0, os.SEEK_END)
    length = handle.tell()
    tail_length = min(length, _END_RECORD.size + 0xFFFF)  # the record, then a comment of at most 64 KiB
    handle.seek(length - tail_length)
    tail = handle.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0 and at + _END_RECORD.size > len(tail):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise ValueError("no end of central directory record")
    _, _, _, _, entries, size, _, _ = _END_RECORD.unpack_from(tail, at)
    if entries == 0xFFFF or size == 0xFFFFFFFF:  # the zip64 record holds the real figures
        locator_at = length - tail_length + at - _ZIP64_LOCATOR.size
        if locator_at >= 0:
            handle.seek(locator_at)
            signature, _, record_at, _ = _ZIP64_LOCATOR.unpack(handle.read(_ZIP64_LOCATOR.size))
            if signature == b"PK\x06\x07":
                handle.seek(record_at)
                record = handle.read(_ZIP64_END_RECORD.size)
                if len(record) == _ZIP64_END_RECORD.size and record[:4] == b"PK\x06\x06":
                    fields = _ZIP64_END_RECORD.unpack(record)
                    entries, size = fields[7], fields[8]
    return ZipDirectory(entries=entries, size=size)
