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

from autograder.lock import library_versions
from autograder.paths import PACKAGE_DIR, SOLUTIONS_DIR
from autograder.results import GradingResult

MANIFEST = "batch.json"
#: Code and data files that decide what a question measures: everything but the reporters, the CLI,
#: this package and the scoring policy (points, bands and weights are applied to cached measurements).
GRADER_PARTS = ("*.py", "judge/**/*.py", "judge/reference_figures.json", "worker/**/*.py", "graders/**/*.py",
                "graders/pytest.ini", "data/**/*.py")
NOT_GRADER = {"cli.py", "__main__.py", "disclosure.py"}
#: Fields of a question in questions.toml that only decide how measurements are scored (the policy):
#: editing them rescores the stored measurements instead of regrading the class.
POLICY_FIELDS = {"points", "title", "hint", "disclosure", "weights", "permuted_limit", "perturbed_drop_limit",
                 "review_above"}


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


def _measurement_spec(spec_path: Path) -> list:
    """questions.toml without its policy fields; of each band only what it is relative to (a relative
    band makes the grader measure the reference figure; the band's numbers are policy)."""
    import tomllib

    try:
        declared = tomllib.loads(spec_path.read_text()) if spec_path.is_file() else {}
    except (OSError, ValueError):
        return [spec_path.read_bytes().hex()] if spec_path.is_file() else []

    def strip(node):
        if isinstance(node, dict):
            return {key: strip(value) for key, value in node.items()
                    if key not in POLICY_FIELDS and key not in ("full_at", "zero_at")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return [strip(declared)]


def _files_digest(package_dir: Path, solutions_dir: Path) -> str:
    files = {p for pattern in GRADER_PARTS for p in package_dir.glob(pattern) if p.name not in NOT_GRADER}
    files = {p for p in files if "policy" not in p.relative_to(package_dir).parts[:1]}
    files |= set(solutions_dir.glob("*.py"))
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path.relative_to(package_dir.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def measurement_inputs(package_dir: Path = PACKAGE_DIR, solutions_dir: Path = SOLUTIONS_DIR) -> dict:
    """Everything but the graded files and the run's options that decides what grading measures:
    the grader's code, the reference solutions and their shipped figures, the measuring part of
    questions.toml, Python and the libraries that compute figures."""
    spec = json.dumps(_measurement_spec(Path(package_dir) / "questions.toml"), sort_keys=True)
    return {"code": _files_digest(Path(package_dir), Path(solutions_dir)),
            "spec": hashlib.sha256(spec.encode()).hexdigest(),
            "python": platform.python_version(), "libraries": library_versions()}


@lru_cache(maxsize=None)
def _installed_inputs() -> str:
    return json.dumps(measurement_inputs(), sort_keys=True)


@lru_cache(maxsize=None)
def grader_hash() -> str:
    """A content hash of the installed grader: its code (the grading package, the graders, the judge and
    its ``reference_figures.json``), the reference solutions and the measuring part of questions.toml.
    Recorded with every result; a result graded by another grader is not final (see ``bulk.final``)."""
    inputs = json.loads(_installed_inputs())
    return hashlib.sha256(f"{inputs['code']}\0{inputs['spec']}".encode()).hexdigest()[:16]


def grader_version() -> str:
    """A digest of :func:`measurement_inputs` for the installed grader (recorded in batch.json)."""
    return hashlib.sha256(_installed_inputs().encode()).hexdigest()[:16]


@lru_cache(maxsize=None)
def data_version(profile: str) -> str:
    """A digest of the profile's pinned data checksums (the embedded sample's files for quick)."""
    from autograder.data import SAMPLE_DIR
    from autograder.judge.reference import data_version as pinned

    if profile != "quick":
        return f"{profile}-{pinned(profile)}"
    h = hashlib.sha256()
    for path in sorted(SAMPLE_DIR.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"quick-{h.hexdigest()[:12]}"


def cache_key(prepared, options: dict, *, inputs: dict | None = None) -> str:
    """What decides the measurements: the prepared submission (its files, and what reading them found:
    notes, a notebook's line map, data flags), :func:`measurement_inputs` (default: the installed
    grader's), the data version, the options that change a run (profile, questions, limits) and the
    isolation mode. Never the scoring policy: a cached result is rescored."""
    h = hashlib.sha256()
    for name, digest in prepared.digests().items():
        h.update(name.encode() + b"\0" + bytes.fromhex(digest))
    findings = prepared.without_files().to_dict()
    h.update(json.dumps(findings, sort_keys=True).encode())
    decided_by = {"inputs": inputs if inputs is not None else json.loads(_installed_inputs()),
                  "data": data_version(options["profile"]),
                  "questions": sorted(options.get("questions") or ()), "limits": options.get("limits") or {},
                  "profile": options["profile"], "isolation": options.get("isolation") or ""}
    h.update(json.dumps(decided_by, sort_keys=True).encode())
    return h.hexdigest()[:24]


class StoredResultChanged(ValueError):
    """A stored ``grading.json`` is not the file the grader wrote (its digest differs from the record's)."""


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reply_digest(reply: dict) -> str:
    return text_digest(json.dumps(reply, sort_keys=True))


class BatchStore:
    """Reads and writes one batch's output folder ``out``."""

    def __init__(self, out: Path):
        self.out = Path(out).resolve()
        self.students = self.out / "students"
        self.cache = self.out / "cache"

    # ------------------------------------------------------------------ cache
    def cached(self, key: str) -> dict | None:
        """The stored job reply for ``key`` (``{"result": ..., "log": ...}``), or None: also when the
        entry is unreadable or not what :meth:`remember` wrote (its digest differs), so it is regraded."""
        try:
            stored = json.loads((self.cache / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        reply = stored.get("reply") if isinstance(stored, dict) else None
        if not isinstance(reply, dict) or stored.get("sha256") != _reply_digest(reply):
            return None
        return reply

    def remember(self, key: str, reply: dict) -> None:
        """Keep ``reply`` for ``key``, with a digest of its content (an edited entry is never used)."""
        atomic_write(self.cache / f"{key}.json", json.dumps({"reply": reply, "sha256": _reply_digest(reply)}))

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
                write_reports(result, staging, reports, audience="staff")
                entry["result_sha256"] = text_digest((staging / "grading.json").read_text(encoding="utf-8"))
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

            write_reports(result, staging, audience="staff")
            entry["result_sha256"] = text_digest((staging / "grading.json").read_text(encoding="utf-8"))
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
        """batch.json, or None when it is missing, unreadable or not a manifest."""
        try:
            manifest = json.loads((self.out / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("entries"), list):
            return None
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        atomic_write(self.out / MANIFEST, json.dumps(manifest, indent=2))

    def load_result(self, entry: dict, *, verify: bool = False) -> GradingResult | None:
        """The entry's stored result (None if missing or unreadable).

        With ``verify``, the file must match the digest written with it (in the student's
        ``entry.json``, which the batch's own ``batch.json`` must agree with); else
        :class:`StoredResultChanged`.
        """
        if not entry.get("result"):
            return None
        path = self.out / entry["result"]
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
        if verify:
            stored = self.stored_entry(entry["id"]) or {}
            expected = {entry.get("result_sha256"), stored.get("result_sha256")}
            if len(expected) != 1 or None in expected or text_digest(text) not in expected:
                raise StoredResultChanged(
                    f"{entry['result']} is not the file the grader wrote (its digest differs from the one "
                    "recorded with it); it was not rescored. Regrade this submission: "
                    "python -m autograder grade-all --retry-failed --out <this folder>")
        try:
            return GradingResult.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
