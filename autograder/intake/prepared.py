"""The value intake hands to grading: a submission's module files and what reading them found."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from autograder.worker.sandbox import open_to_sandbox

#: The folder under a work folder that holds the materialised module files.
SUBMISSION_FOLDER = "submission"


@dataclass(frozen=True)
class PreparedSubmission:
    """One submission as the grader reads it: a flat set of module files, and what preparing it found.

    Attributes
    ----------
    files : mapping of str to bytes
        File name (``confusion.py``; no folders) -> content, as the worker will import it.
    notes : tuple of str
        What was not taken and why (links, large files, other copies), said with the results.
    line_map : dict or None
        Where each module's lines came from, when a notebook or a script provided them (feedback then
        says "cell 12, line 3"); None for plain module files.
    data_flags : tuple of dict
        Places in the code that look like carried data (``embedded_data.DataFlag.to_dict``), for staff.
    """

    files: Mapping[str, bytes]
    notes: tuple[str, ...] = ()
    line_map: dict | None = None
    data_flags: tuple[dict, ...] = field(default_factory=tuple)

    def __post_init__(self):
        for name, content in self.files.items():
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise ValueError(f"The 'files' parameter must map plain file names to bytes. Got the name {name!r}.")
            if not isinstance(content, bytes):
                raise ValueError(f"The 'files' parameter must map file names to bytes. Got {type(content).__name__} "
                                 f"for {name!r}.")
        object.__setattr__(self, "files", MappingProxyType(dict(sorted(self.files.items()))))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "data_flags", tuple(self.data_flags))

    def digests(self) -> dict[str, str]:
        """File name -> SHA-256 of its content."""
        return {name: hashlib.sha256(content).hexdigest() for name, content in self.files.items()}

    def materialize(self, workdir: Path) -> Path:
        """Write the files into ``workdir / "submission"`` (created), readable by the sandbox's uid; return it."""
        target = Path(workdir) / SUBMISSION_FOLDER
        target.mkdir(parents=True)
        for name, content in self.files.items():
            (target / name).write_bytes(content)
        open_to_sandbox(Path(workdir))
        return target

    def without_files(self) -> "PreparedSubmission":
        """The same findings with no files (the files travel another way, e.g. a shared folder)."""
        return PreparedSubmission({}, self.notes, self.line_map, self.data_flags)

    def with_files(self, files: Mapping[str, bytes]) -> "PreparedSubmission":
        return PreparedSubmission(files, self.notes, self.line_map, self.data_flags)

    # -- explicit serialisation: the value crosses processes (a grader pool, a Dask cluster, the service)

    def to_dict(self) -> dict:
        return {"files": {name: base64.b64encode(content).decode("ascii") for name, content in self.files.items()},
                "notes": list(self.notes), "line_map": self.line_map, "data_flags": list(self.data_flags)}

    @classmethod
    def from_dict(cls, data: dict) -> "PreparedSubmission":
        return cls(files={name: base64.b64decode(text) for name, text in data.get("files", {}).items()},
                   notes=tuple(data.get("notes", ())), line_map=data.get("line_map"),
                   data_flags=tuple(data.get("data_flags", ())))

    @classmethod
    def from_folder(cls, folder: Path, findings: "PreparedSubmission | None" = None) -> "PreparedSubmission":
        """The regular files of a flat ``folder`` (a staged copy), with ``findings``' notes, line map and flags."""
        files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())
                 if p.is_file() and not p.is_symlink()}
        return findings.with_files(files) if findings is not None else cls(files)
