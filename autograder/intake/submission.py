"""Read a submission as handed in (a folder, a .zip, notebooks, scripts) into a PreparedSubmission.

Every limit of reading lives here: archive sizes and entry counts (bounded before ``ZipFile``
builds an object per entry), one module's size, links never followed. The notebook and script
conversion is :mod:`autograder.intake.notebooks`; the data-in-code scan, :mod:`autograder.embedded_data`.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from autograder.contract import CONTRACT
from autograder.embedded_data import scan_source
from autograder.files import (NotARegularFile, SkipNotes, TooManyEntries, choose_module_folder, read_tree_files,
                              walk_tree, zip_directory)
from autograder.intake.notebooks import MAX_NOTEBOOK_CODE_CHARS, NotebookError, notebook_sources, script_sources
from autograder.intake.prepared import PreparedSubmission
from autograder.results import CannotGrade

#: All the ``.py`` members of a submission archive together.
MAX_ZIP_BYTES = 50 * 1024 * 1024
#: One module's size (the largest reference module is ~10 KB; a lookup table of the public labels is MBs).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: One module file (``.py``) the grader reads: the code bound of a notebook, for the same reason. The
#: grader parses every module (the data-in-code scan, the zygote's import list, the similarity check)
#: at about 1 KB of memory per character of the densest code, so a file under MAX_FILE_BYTES cost
#: GBs; no question's module may hold more than ``source_kb`` (at most a few hundred KB) anyway.
MAX_MODULE_BYTES = MAX_NOTEBOOK_CODE_CHARS
#: Entries in a submission archive: ZipFile builds one object per entry before anything is read.
MAX_ZIP_ENTRIES = 10_000
#: A central-directory entry is 46 bytes and its name; ZipFile reads the directory by size, not by count.
MIN_ZIP_ENTRY_BYTES = 46
#: The central directory of MAX_ZIP_ENTRIES entries with names of about 200 characters.
MAX_ZIP_DIRECTORY_BYTES = MAX_ZIP_ENTRIES * (MIN_ZIP_ENTRY_BYTES + 210)



def prepare(path: Path) -> PreparedSubmission:
    """Read a submission as handed in into one :class:`PreparedSubmission` (nothing is written anywhere).

    Parameters
    ----------
    path : Path
        A folder of module files (as ``assignments/``) or a ``.zip`` of one (the files may
        sit in a sub-folder), or a notebook or a folder holding notebooks (converted by
        :mod:`autograder.intake.notebooks`).

    Returns
    -------
    PreparedSubmission
        The flat module files, the notes (each entry that was not taken and why), a notebook's
        or a script's line map, and the data-in-code flags.

    Only regular files are read, never through a link: ``path`` itself must not be a
    link, folders are walked from descriptors opened with ``O_NOFOLLOW``, and a symlink
    anywhere (to ``/etc/shadow``, a hidden grader, the reference solutions, a classmate's
    folder), a FIFO, a device or a folder named ``x.py`` is skipped with a note, and so is a
    file over ``MAX_MODULE_BYTES``; past ``files.MAX_SKIP_NOTES`` the notes are summarised.
    When several folders hold the modules (``attempt1/``, ``attempt2/``), one is graded by
    :func:`autograder.files.choose_module_folder`'s rule and the others are named in a note.
    Plain scripts (``.py`` files not named like a module) are searched for the contract's names like
    notebooks; a module file of the same name wins, and a note says so.

    Raises
    ------
    CannotGrade
        The path is missing, a link, unreadable, or neither a folder, an archive nor a notebook.
    """
    path = Path(path)
    notes: list[str] = []
    try:
        info = os.lstat(path)
    except OSError:
        raise CannotGrade(f"submission {path} does not exist") from None
    if stat.S_ISLNK(info.st_mode):
        raise CannotGrade(f"{path.name} is a symbolic link: only regular files and folders are graded "
                          "(links are never followed)")
    if path.suffix == ".ipynb" or (stat.S_ISDIR(info.st_mode) and any(path.glob("*.ipynb"))):
        sources, lines = _notebook_sources(path)
    elif stat.S_ISDIR(info.st_mode):
        sources, lines = _scripts_searched(_python_files_in_folder(path, notes), notes)
    elif stat.S_ISREG(info.st_mode) and zipfile.is_zipfile(path):
        sources, lines = _scripts_searched(_python_files_in_zip(path, notes), notes)
    else:
        raise CannotGrade(f"{path} is neither a folder nor a .zip archive of module files")
    flags = [flag.to_dict() for name in sorted(sources) if name.endswith(".py")
             for flag in scan_source(sources[name], name)]
    return PreparedSubmission(sources, tuple(notes), lines, tuple(flags))


def _is_module(name: str) -> bool:
    return name.endswith(".py") and name[:-3] in CONTRACT


def _choice_note(chosen, others, describe) -> list[str]:
    """One line naming the graded folder and the candidates left out (none when there was one)."""
    if not others:
        return []
    def label(folder):
        return "the top folder" if str(folder) == "." else f"{folder}/"
    left_out = ", ".join(f"{label(f)} ({describe(f)})" for f in others)
    return [f"several copies of the modules: graded {label(chosen)} ({describe(chosen)}); not graded: {left_out}. "
            "Rule: the shallowest folder, then the most modules, then the last name in natural order"]


def _python_files_in_folder(folder: Path, notes: list[str]) -> dict[str, bytes]:
    """The ``.py`` regular files of the chosen module folder (see ``prepare_submission``), read through
    descriptors; links and special files anywhere are skipped with a note."""
    skipped = SkipNotes()
    try:
        tree = walk_tree(folder, skipped, wanted=lambda name: name.endswith(".py"))
    except NotARegularFile as exc:
        raise CannotGrade(f"{folder.name}: {exc}") from None
    except TooManyEntries as exc:
        raise CannotGrade(f"{folder.name}: {exc}") from None
    chosen, others = choose_module_folder(tree.files, _is_module)
    sources = {}
    if chosen is not None:
        try:
            sources = read_tree_files(folder, chosen, [p.name for p in tree.files if p.parent == chosen],
                                      MAX_MODULE_BYTES, skipped)
        except OSError as exc:  # the folder was replaced (by a link) after the walk
            raise CannotGrade(f"{folder.name}: {chosen} could not be read ({exc.strerror})") from None

    def describe(f):
        return _count(sum(_is_module(p.name) for p in tree.files if p.parent == f), "module")
    notes += _choice_note(chosen, others, describe) + skipped.lines()
    return sources


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _scripts_searched(sources: dict[str, bytes], notes: list[str]) -> tuple[dict[str, bytes], dict | None]:
    """Plain scripts among the files (``chapter3.py``) are searched for the contract's names like notebooks
    (:func:`autograder.intake.notebooks.script_sources`); what was found, and what was not used, is noted."""
    sources, found, lines = script_sources(sources)
    notes += found
    return sources, lines


def _notebook_sources(path: Path) -> tuple[dict[str, bytes], dict]:
    """Notebooks become module files (:mod:`autograder.intake.notebooks`), with their line map."""
    try:
        return notebook_sources(path)
    except NotebookError as exc:
        raise CannotGrade(str(exc)) from exc


def _python_files_in_zip(path: Path, notes: list[str]) -> dict[str, bytes]:
    """The ``.py`` members of the chosen module folder in the archive; members stored as links are skipped.

    The archive's own end record is read first: its entry count and central-directory size are
    bounded before ``ZipFile`` builds an object per entry.
    """
    try:
        with open(path, "rb", opener=_no_follow) as handle:
            try:
                directory = zip_directory(handle)
            except ValueError as exc:
                raise zipfile.BadZipFile(str(exc)) from None
            if directory.entries > MAX_ZIP_ENTRIES:
                raise CannotGrade(f"{path.name}: {directory.entries:,} entries, more than the {MAX_ZIP_ENTRIES:,} "
                                  "allowed in a submission archive")
            if directory.size > MAX_ZIP_DIRECTORY_BYTES:  # an end record that understates its entries
                raise CannotGrade(f"{path.name}: a list of entries of {directory.size:,} bytes, more than the "
                                  f"{MAX_ZIP_DIRECTORY_BYTES:,} bytes that {MAX_ZIP_ENTRIES:,} entries take")
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                skipped = SkipNotes()
                members = {}
                for member in archive.infolist():
                    if member.is_dir() or not member.filename.endswith(".py"):
                        continue
                    relative = PurePosixPath(member.filename)
                    if any(part.startswith(".") or part == "__MACOSX" for part in relative.parts):
                        continue
                    if stat.S_ISLNK(member.external_attr >> 16):
                        skipped.add(member.filename, "a symbolic link (only regular files are graded)",
                                    "symbolic link")
                        continue
                    members[relative] = member
                if sum(m.file_size for m in members.values()) > MAX_ZIP_BYTES:
                    raise CannotGrade(f"{path}: the .py files add up to more than {MAX_ZIP_BYTES // 2**20} MB")
                chosen, others = choose_module_folder(members, _is_module)
                sources = {}
                for relative in sorted(p for p in members if p.parent == chosen):
                    member = members[relative]
                    if member.file_size > MAX_MODULE_BYTES:
                        skipped.add(member.filename, f"{member.file_size:,} bytes, more than the "
                                                     f"{MAX_MODULE_BYTES:,} allowed for one module", "file too large")
                        continue
                    sources[relative.name] = archive.read(member)

                def describe(f):
                    return _count(sum(_is_module(p.name) for p in members if p.parent == f), "module")
                notes += _choice_note(chosen, others, describe) + skipped.lines()
                return sources
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CannotGrade(f"{path} is not a readable .zip archive: {exc}") from exc


def _no_follow(path, flags):
    return os.open(path, flags | os.O_NOFOLLOW)
