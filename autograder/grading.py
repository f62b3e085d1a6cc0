"""The grading pipeline: prepare the submission, run the graders, write the reports.

    prepare_submission  folder or .zip -> a private flat copy of the student's .py files
    run_graders         pytest + GradingPlugin over graders/public (+ graders/hidden) -> GradingResult
    write_reports       results.json (Gradescope), report.md, feedback.html, grading.json (full model)
                        (render_reports makes their text)

``grade`` chains the three; the CLI's ``grade`` and ``check`` are thin wrappers.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from autograder.files import NotARegularFile
from autograder.lock import lock_record
from autograder.notebooks import MAX_NOTEBOOK_CODE_CHARS, line_map, translate_result
from autograder.plugin import GradingPlugin
from autograder.reporters import to_gradescope, to_markdown
from autograder.results import GradingResult
from autograder.spec import VISIBILITIES
from autograder.worker.sandbox import SandboxUnavailable

PACKAGE_DIR = Path(__file__).resolve().parent
GRADERS_DIR = PACKAGE_DIR / "graders"
SOLUTIONS_DIR = PACKAGE_DIR.parent / "solutions"
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


class CannotGrade(RuntimeError):
    """The grader could not grade at all (a missing submission, a broken zip, a grader bug)."""


# ------------------------------------------------------------------- stage 1: load

def prepare_submission(path: Path, workdir: Path, notes: list[str] | None = None) -> Path:
    """Copy the submission's ``.py`` module files into a private flat folder the worker can read.

    Parameters
    ----------
    path : Path
        A folder of module files (as ``assignments/``) or a ``.zip`` of one (the files may
        sit in a sub-folder), or a notebook or a folder holding notebooks (converted by
        :mod:`autograder.notebooks`).
    workdir : Path
        A private folder; the copy goes to ``workdir / "submission"``.
    notes : list of str, optional
        Receives one line per entry that was not copied and why (reported with the results).

    Returns
    -------
    Path
        The flat folder of module files.

    Only regular files are copied, never through a link: ``path`` itself must not be a
    link, folders are walked from descriptors opened with ``O_NOFOLLOW``, and a symlink
    anywhere (to ``/etc/shadow``, a hidden grader, the reference solutions, a classmate's
    folder), a FIFO, a device or a folder named ``x.py`` is skipped with a note, and so is a
    file over ``MAX_FILE_BYTES``; past ``files.MAX_SKIP_NOTES`` the notes are summarised.
    When several folders hold the modules (``attempt1/``, ``attempt2/``), one is graded by
    :func:`autograder.files.choose_module_folder`'s rule and the others are named in a note.
    Plain scripts (``.py`` files not named like a module) are searched for the contract's names like
    notebooks; a module file of the same name wins, and a note says so.
    """
    path = Path(path)
    notes = [] if notes is None else notes
    try:
        info = os.lstat(path)
    except OSError:
        raise CannotGrade(f"submission {path} does not exist") from None
    if stat.S_ISLNK(info.st_mode):
        raise CannotGrade(f"{path.name} is a symbolic link: only regular files and folders are graded "
                          "(links are never followed)")
    target = workdir / "submission"
    target.mkdir(parents=True)
    if path.suffix == ".ipynb" or (stat.S_ISDIR(info.st_mode) and any(path.glob("*.ipynb"))):
        sources = _notebook_sources(path, workdir)
    elif stat.S_ISDIR(info.st_mode):
        sources = _scripts_searched(_python_files_in_folder(path, notes), workdir, notes)
    elif stat.S_ISREG(info.st_mode) and zipfile.is_zipfile(path):
        sources = _scripts_searched(_python_files_in_zip(path, notes), workdir, notes)
    else:
        raise CannotGrade(f"{path} is neither a folder nor a .zip archive of module files")
    for name, content in sources.items():
        (target / name).write_bytes(content)
        (target / name).chmod(0o644)
    for folder in (workdir, target):
        folder.chmod(0o755)  # readable by the sandbox's own uid
    return target


def preparation_record(workdir: Path, notes: list[str]) -> dict:
    """What preparing a submission found that its results must say, as plain data (it can travel
    with the files to another process): the skipped files, a notebook's line map, and the places
    in the code that look like carried data (for the staff)."""
    from autograder.embedded_data import scan_submission

    return {"notes": list(notes), "notebook_lines": line_map(workdir),
            "data_flags": [flag.to_dict() for flag in scan_submission(workdir / "submission")]}


def apply_preparation(result: GradingResult, preparation: dict) -> None:
    """Add the preparation's notes to ``result``; notebook submissions' feedback says "cell 12, line 3"."""
    result.notes[:0] = preparation.get("notes", [])
    result.data_flags = list(preparation.get("data_flags", []))
    from autograder.policy import apply_review
    from autograder.spec import load_spec

    apply_review(result, load_spec())  # a figure no honest answer reaches, on flagged code, waits for staff
    translate_result(result, preparation.get("notebook_lines"))


def _is_module(name: str) -> bool:
    from autograder.contract import CONTRACT

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
    from autograder.files import SkipNotes, TooManyEntries, choose_module_folder, read_tree_files, walk_tree

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


def _scripts_searched(sources: dict[str, bytes], workdir: Path, notes: list[str]) -> dict[str, bytes]:
    """Plain scripts among the files (``chapter3.py``) are searched for the contract's names like notebooks
    (:func:`autograder.notebooks.script_sources`); what was found, and what was not used, is noted."""
    from autograder.notebooks import script_sources

    sources, found = script_sources(sources, workdir)
    notes += found
    return sources


def _notebook_sources(path: Path, workdir: Path) -> dict[str, bytes]:
    """Notebooks become module files (autograder.notebooks); the line map stays in ``workdir``."""
    from autograder.notebooks import NotebookError, notebook_sources

    try:
        return notebook_sources(path, workdir)
    except NotebookError as exc:
        raise CannotGrade(str(exc)) from exc


def _python_files_in_zip(path: Path, notes: list[str]) -> dict[str, bytes]:
    """The ``.py`` members of the chosen module folder in the archive; members stored as links are skipped.

    The archive's own end record is read first: its entry count and central-directory size are
    bounded before ``ZipFile`` builds an object per entry.
    """
    from autograder.files import SkipNotes, choose_module_folder, zip_directory

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


# -------------------------------------------------------------------- stage 2: run

def run_graders(submission_dir: Path, *, source: Path, profile: str = "quick", visibilities=VISIBILITIES,
                questions=(), out_dir: Path | None = None, data_dir=None, isolation=None, limits=None,
                on_result=None) -> GradingResult:
    try:
        plugin = GradingPlugin(submission_dir, profile=profile, visibilities=visibilities, questions=questions,
                               data_dir=data_dir, isolation=isolation,
                               limits=limits, on_result=on_result)
    except SandboxUnavailable as exc:
        raise CannotGrade(str(exc)) from None
    folders = [str(GRADERS_DIR / v) for v in visibilities if (GRADERS_DIR / v).is_dir()]
    args = [*folders, "-c", str(GRADERS_DIR / "pytest.ini"), "--rootdir", str(GRADERS_DIR),
            "--confcutdir", str(GRADERS_DIR), "-p", "no:cacheprovider", "-q", "--tb=short", "--assert=plain"]
    log = io.StringIO()
    with contextlib.redirect_stdout(log), _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin])
    if code == pytest.ExitCode.INTERRUPTED:
        plugin.student.close()
        raise CannotGrade("interrupted (Ctrl-C) before every question was graded; no report was written")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        plugin.student.close()
        raise CannotGrade(f"the graders could not run (pytest exit code {int(code)}):\n{log.getvalue()[-3000:]}")
    result = plugin.result(str(source))
    result.environment = lock_record()
    return result


@contextlib.contextmanager
def _no_plugin_autoload():
    """The graders need only our plugin: installed pytest plugins (hypothesis, ...) cost a second each run."""
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = before


# ----------------------------------------------------------------- stage 3: report

def render_reports(result: GradingResult, *, staff_page: bool = False) -> dict[str, str]:
    """The report files, name -> text. Student files show what each question's ``disclosure``
    allows; grading.json keeps everything (staff), and so does the staff feedback page
    (``staff_page``: a bulk student's folder, which only the staff reads).

    Plain strings, so that ``grade-all`` renders them in the grader process that graded the
    submission (the feedback pages' plots are most of the cost) and the batch only writes them."""
    from autograder.disclosure import for_students
    from autograder.reporters.html import STAFF_PAGE, to_html

    students = for_students(result)
    reports = {"results.json": json.dumps(to_gradescope(for_students(result, keep_points=True)), indent=2),
               "report.md": to_markdown(students),
               "feedback.html": to_html(students),
               "grading.json": json.dumps(result.to_dict(), indent=2)}
    if staff_page:
        reports[STAFF_PAGE] = to_html(result, staff=True)
    return reports


def write_reports(result: GradingResult, out_dir: Path, rendered: dict[str, str] | None = None, *,
                  staff_page: bool = False) -> None:
    """Write :func:`render_reports`' files into ``out_dir`` (``rendered``: already rendered ones)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (rendered or render_reports(result, staff_page=staff_page)).items():
        (out_dir / name).write_text(text, encoding="utf-8")


def grade(source: Path, out_dir: Path | None = None, **options) -> GradingResult:
    """Grade one submission (folder or .zip); write reports into ``out_dir`` if given."""
    workdir = Path(tempfile.mkdtemp(prefix="ch3-grade-"))
    try:
        if out_dir is not None:
            out_dir = Path(out_dir).resolve()
            out_dir.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []
        submission_dir = prepare_submission(Path(source), workdir, notes)
        preparation = preparation_record(workdir, notes)
        result = run_graders(submission_dir, source=Path(source).resolve(), out_dir=out_dir, **options)
        apply_preparation(result, preparation)
        if out_dir is not None:
            write_reports(result, out_dir)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop("PYTEST_CURRENT_TEST", None)
