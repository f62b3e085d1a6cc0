"""Accepting an upload: the rules (:mod:`.policy`), the pipeline's own readers, storage by hash.

An upload is one ``.zip``, one ``.ipynb``, or ``.py`` files (packed into a zip here). It is read
by :func:`autograder.intake.prepare`, the reader ``grade`` uses, with its limits
(entries, directory size, module size, the .py total), and refused whole when that reader
refuses it, when it holds no module of the assignment, or when a zip member is a link or a path
outside the archive (``..``, absolute). Only then is the file stored, under its sha256, and the
submission and its job created in one transaction.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from autograder.service import jobs
from autograder.service.models import Assignment, Student, Submission
from autograder.service.policy import Refused, check_allowed

SUFFIXES = (".zip", ".ipynb", ".py")


def read_limited(stream, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; a longer one is refused without reading it all."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"the upload is larger than the {limit / 2**20:g} MB allowed for this assignment", 413)
    return data


def safe_name(name: str) -> str:
    """The upload's own name, kept (a notebook named after a module grades as that module) but
    reduced to letters, digits, ``._-`` and stripped of any folder."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(name.replace("\\", "/")).name).lstrip(".")
    return name[-100:] or "upload"


def pack(files: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """One upload from the files sent: a zip or a notebook as is, ``.py`` files packed into a zip."""
    if not files:
        raise Refused("no file was uploaded: send a .zip, a .ipynb or .py files")
    names = [safe_name(name) for name, _ in files]
    for name in names:
        if not name.endswith(SUFFIXES):
            raise Refused(f"{name}: only .zip, .ipynb and .py files are accepted")
    if len(files) == 1 and not names[0].endswith(".py"):
        return names[0], files[0][1]
    if any(not n.endswith(".py") for n in names):
        raise Refused("send one .zip or one .ipynb, or only .py files")
    if len(set(names)) != len(names):
        raise Refused("two uploaded files have the same name")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (_, content) in sorted(zip(names, files)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return "submission.zip", buffer.getvalue()


def _check_members(path: Path) -> None:
    """Refuse an archive with a link, or a member outside it (``..``, an absolute path)."""
    from autograder.files import zip_directory
    from autograder.intake import MAX_ZIP_DIRECTORY_BYTES, MAX_ZIP_ENTRIES

    with open(path, "rb") as handle:
        try:
            directory = zip_directory(handle)
        except ValueError as exc:
            raise Refused(f"not a readable .zip archive: {exc}") from None
        if directory.entries > MAX_ZIP_ENTRIES or directory.size > MAX_ZIP_DIRECTORY_BYTES:
            raise Refused(f"the archive lists more than the {MAX_ZIP_ENTRIES:,} entries allowed")
        handle.seek(0)
        try:
            members = zipfile.ZipFile(handle).infolist()
        except zipfile.BadZipFile as exc:
            raise Refused(f"not a readable .zip archive: {exc}") from None
    for member in members:
        name = member.filename
        if name.startswith("/") or "\\" in name or ".." in PurePosixPath(name).parts:
            raise Refused(f"the archive member {name!r} points outside the archive")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise Refused(f"the archive member {name!r} is a symbolic link (only regular files are accepted)")


def validate(filename: str, content: bytes, questions: list[str], spec_path: Path | None = None) -> None:
    """Read the upload as ``grade`` would; refuse it with the reader's reason."""
    from autograder.intake import prepare
    from autograder.results import CannotGrade
    from autograder.spec import load_spec, unknown

    wrong = unknown(load_spec(spec_path), questions)
    if wrong:
        raise Refused(f"-q {wrong[0]}: no such question or module")
    workdir = Path(tempfile.mkdtemp(prefix="ch3-intake-"))
    try:
        upload = workdir / filename
        upload.write_bytes(content)
        if upload.suffix == ".zip":
            if not zipfile.is_zipfile(upload):
                raise Refused(f"{filename} is not a readable .zip archive")
            _check_members(upload)
        try:
            prepared = prepare(upload)
        except CannotGrade as exc:
            raise Refused(str(exc).replace(str(upload), filename).replace(upload.name, filename)) from None
        if not prepared.files:
            from autograder.contract import CONTRACT

            raise Refused(f"{filename} holds no module of the assignment (expected files such as "
                          f"{', '.join(sorted(CONTRACT)[:3])}.py)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def store(content: bytes, suffix: str) -> tuple[str, str]:
    """Write the upload under ``blobs/<sha[:2]>/<sha><suffix>`` durably; returns (sha256, relative path)."""
    digest = hashlib.sha256(content).hexdigest()
    relative = Path("blobs") / digest[:2] / (digest + suffix)
    target = settings.DATA_DIR / relative
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return digest, str(relative)


def accept(student: Student, assignment: Assignment, files: list[tuple[str, bytes]], *,
           kind: str = Submission.Kind.GRADE, questions: list[str] | None = None) -> Submission:
    """Validate, store and queue one upload; raises :class:`Refused` and stores nothing on refusal."""
    received = timezone.now()
    if kind not in Submission.Kind.values:
        raise Refused(f"kind must be one of {', '.join(Submission.Kind.values)}")
    questions = [q for q in (questions or []) if q]
    total = sum(len(content) for _, content in files)
    if total > assignment.max_upload_bytes:
        raise Refused(f"the upload is larger than the {assignment.max_upload_bytes / 2**20:g} MB allowed "
                      "for this assignment", 413)
    check_allowed(student, assignment, kind, timezone.now())
    filename, content = pack(files)
    validate(filename, content, questions, assignment.spec_path)
    digest, blob = store(content, Path(filename).suffix)
    with transaction.atomic():
        now = timezone.now()
        days = check_allowed(student, assignment, kind, now)  # again in the transaction: the hour and deadline as stored
        submission = Submission.objects.create(student=student, assignment=assignment, kind=kind, created=now,
                                               sha256=digest, blob=blob, filename=filename,
                                               questions=questions, late_days=days, received=received)
        jobs.enqueue(submission)
    return submission
