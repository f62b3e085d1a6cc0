"""The batch's output folder: per-student results written atomically, the cache, the manifest.

    DIR/batch.json                 the manifest: options + one entry per submission (see ``Entry``)
    DIR/students/<id>/             results.json, report.md, grading.json (``grading.write_reports``),
                                   log.txt, entry.json, submission/ (the prepared module files)
    DIR/cache/<key>.json           a finished grading, keyed by what decides its result

Every file is written to a temporary name and moved into place with ``os.replace``, and a
student's folder is assembled aside and swapped in whole: a kill at any moment leaves each
student either with a complete, consistent folder or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from autograder.results import GradingResult

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = PACKAGE_DIR.parent / "solutions"
MANIFEST = "batch.json"
#: What decides a grade: everything but the reporters, the CLI and this package.
GRADER_PARTS = ("*.py", "questions.toml", "judge/**/*.py", "worker/**/*.py", "graders/**/*.py",
                "graders/pytest.ini", "data/**/*.py")
NOT_GRADER = {"cli.py", "__main__.py"}


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=None)
def grader_version() -> str:
    """A digest of the grader's code, questions.toml and the reference solutions, plus library versions."""
    import numpy
    import sklearn

    h = hashlib.sha256(f"{platform.python_version()} numpy {numpy.__version__} sklearn {sklearn.__version__}".encode())
    files = {p for pattern in GRADER_PARTS for p in PACKAGE_DIR.glob(pattern) if p.name not in NOT_GRADER}
    files |= set(SOLUTIONS_DIR.glob("*.py"))
    for path in sorted(files):
        h.update(str(path.relative_to(PACKAGE_DIR.parent)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def data_version(profile: str) -> str:
    """The quick profile: a digest of the embedded sample. Full: its pinned checksums (in the grader's code)."""
    from autograder.data._locations import SAMPLE_DIR

    if profile != "quick":
        return profile
    h = hashlib.sha256()
    for path in sorted(SAMPLE_DIR.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"quick-{h.hexdigest()[:12]}"


def cache_key(files: dict[str, bytes], options: dict) -> str:
    """What decides the result: the prepared files, the grader version, the options, the data version."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    decided_by = {"grader": grader_version(), "data": data_version(options["profile"]),
                  "questions": sorted(options.get("questions") or ()), "limits": options.get("limits") or {},
                  "profile": options["profile"]}
    h.update(json.dumps(decided_by, sort_keys=True).encode())
    return h.hexdigest()[:24]


class BatchStore:
    """Reads and writes one batch's output folder ``out``."""

    def __init__(self, out: Path):
        self.out = Path(out).resolve()
        self.students = self.out / "students"
        self.cache = self.out / "cache"

    # ------------------------------------------------------------------ cache
    def cached(self, key: str) -> dict | None:
        """The stored job reply for ``key`` (``{"result": ..., "log": ...}``), or None."""
        try:
            return json.loads((self.cache / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def remember(self, key: str, reply: dict) -> None:
        atomic_write(self.cache / f"{key}.json", json.dumps(reply))

    # --------------------------------------------------------------- students
    def student_dir(self, student_id: str) -> Path:
        return self.students / student_id

    def stored_entry(self, student_id: str) -> dict | None:
        try:
            return json.loads((self.student_dir(student_id) / "entry.json").read_text())
        except (OSError, ValueError):
            return None

    def write_student(self, entry: dict, result: GradingResult | None, log: str,
                      files: dict[str, bytes] | None, reports: dict[str, str] | None = None) -> None:
        """Assemble the student's folder aside, then swap it in whole; ``reports``: the report files
        already rendered by the grader process (else they are rendered here)."""
        from autograder.grading import write_reports

        self.students.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.students, prefix=f".{entry['id']}.", suffix=".tmp"))
        try:
            if result is not None:
                write_reports(result, staging, reports)
            (staging / "log.txt").write_text(log, encoding="utf-8")
            if files:
                (staging / "submission").mkdir()
                for name, content in files.items():
                    (staging / "submission" / name).write_bytes(content)
            (staging / "entry.json").write_text(json.dumps(entry, indent=2))
            self._swap_in(staging, self.student_dir(entry["id"]))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def rewrite_reports(self, student_id: str, result: GradingResult, entry: dict) -> None:
        """Rescoring: the same folder with new reports (the log and submission files are kept)."""
        folder = self.student_dir(student_id)
        staging = Path(tempfile.mkdtemp(dir=self.students, prefix=f".{student_id}.", suffix=".tmp"))
        try:
            for kept in ("log.txt", "submission"):
                if (folder / kept).is_dir():
                    shutil.copytree(folder / kept, staging / kept)
                elif (folder / kept).is_file():
                    shutil.copy2(folder / kept, staging / kept)
            from autograder.grading import write_reports

            write_reports(result, staging)
            (staging / "entry.json").write_text(json.dumps(entry, indent=2))
            self._swap_in(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @staticmethod
    def _swap_in(staging: Path, target: Path) -> None:
        staging.chmod(0o755)
        if target.exists():
            old = target.with_name(f".{target.name}.old.tmp")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)

    def clean_leftovers(self, keep: set[str]) -> None:
        """Remove half-written staging folders, and the folders of students no longer in the batch."""
        if not self.students.is_dir():
            return
        for path in self.students.iterdir():
            if path.name.endswith(".tmp") or (path.is_dir() and path.name not in keep):
                shutil.rmtree(path, ignore_errors=True)

    # --------------------------------------------------------------- manifest
    def read_manifest(self) -> dict | None:
        try:
            return json.loads((self.out / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write(self.out / MANIFEST, json.dumps(manifest, indent=2))

    def load_result(self, entry: dict) -> GradingResult | None:
        if not entry.get("result"):
            return None
        try:
            return GradingResult.load(self.out / entry["result"])
        except (OSError, ValueError, TypeError):
            return None
