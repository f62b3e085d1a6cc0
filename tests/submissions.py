"""Build test submissions: flat copies of reference modules, and hostile ones."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SOLUTIONS = PROJECT / "solutions"


def reference_source(module: str) -> str:
    """A reference module as a student would submit it (each reference module stands alone)."""
    return (SOLUTIONS / f"{module}.py").read_text()


def write_submission(folder: Path, honest=(), files: dict[str, str] | None = None) -> Path:
    """A submission folder with the honest reference modules ``honest`` and the given extra files."""
    folder.mkdir(parents=True, exist_ok=True)
    for module in honest:
        (folder / f"{module}.py").write_text(reference_source(module))
    for name, source in (files or {}).items():
        (folder / name).write_text(textwrap.dedent(source))
    return folder


def tree_digest(*roots: Path) -> str:
    """A digest of every file under ``roots`` (minus caches): 'nothing changed' is 'same digest'."""
    h = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if any(part in (".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis") for part in path.parts):
                continue
            if path.is_file():
                h.update(str(path).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()
