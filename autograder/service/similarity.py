"""Similarity flags for the class page: ``grade-all``'s (:func:`autograder.integrity.similar_pairs`),
over each student's counted submission.

Each counted upload is read as a grading reads it (:func:`autograder.intake.prepare`:
a zip's module files, a notebook's cells placed in modules; nothing runs) into a temporary folder,
and the folders are compared as ``grade-all`` compares its students' ``submission/`` folders: the
stub and the reference solution are code everyone had, not evidence. The flags are evidence for a
person and change no score. The last answer is kept for the same set of counted uploads, so the
page is compared again only when one of them changes.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from django.conf import settings

from autograder.service.models import Submission

_lock = threading.Lock()
_last: tuple[tuple, tuple[list, int]] = ((), ([], 0))


def similar_counted(counted: dict[str, Submission]) -> tuple[list, int]:
    """The flagged pairs (:class:`autograder.integrity.SimilarPair`, most similar first) among
    ``counted`` (student id -> counted submission), and how many uploads were compared (one that
    cannot be read is left out)."""
    global _last
    from autograder.intake import prepare
    from autograder.integrity import similar_pairs
    from autograder.results import CannotGrade

    key = tuple(sorted((sid, s.pk, s.sha256) for sid, s in counted.items()))
    with _lock:
        if _last[0] == key:
            return _last[1]
        with tempfile.TemporaryDirectory(prefix="ch3-similarity-") as scratch:
            folders = {}
            for n, (sid, submission) in enumerate(sorted(counted.items())):
                work = Path(scratch) / str(n)
                work.mkdir()
                suffix = Path(submission.blob).suffix  # as the grading names it: the upload's own name
                name = Path(submission.filename).name
                upload = work / (name if name.endswith(suffix) else "submission" + suffix)
                try:
                    shutil.copyfile(settings.DATA_DIR / submission.blob, upload)
                    folders[sid] = prepare(upload).materialize(work / "prepared")
                except (CannotGrade, OSError, ValueError):
                    continue
            found = (similar_pairs(folders), len(folders))
        _last = (key, found)
        return found
