"""A grading job's reply: the one shape every executor (local grader processes, Dask) gives back.

It crosses processes and machines as plain data (``to_dict``), and is read back with ``from_dict``
wherever a reply arrives, so a reply built by a grader process, by the pool when a process died,
by the cluster when a worker was lost, or by merging a split submission's parts has the same keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class JobReply:
    """What one job (or one part of a split submission) gave.

    Attributes
    ----------
    result : dict or None
        ``GradingResult.to_dict()``; None when there is no result.
    error : str or None
        Why there is no result (the submission cannot be graded, or the grader or machine failed).
    log : str
        Where and how it ran, each question's status, the student's output (staff only).
    host : str
        The machine and process that graded it.
    reports : dict or None
        The rendered report files (``grading.render``), or None (not rendered, or not yet: a part).
    grader : str or None
        The content hash of the grader code that graded it (``bulk.store.grader_hash``).
    infrastructure : bool
        The grader process or the cluster failed: not the student's; listed, never cached, regraded.
    """

    result: dict | None = None
    error: str | None = None
    log: str = ""
    host: str = ""
    reports: dict | None = None
    grader: str | None = None
    infrastructure: bool = False

    @classmethod
    def failure(cls, error: str, *, infrastructure: bool = False, log: str = "", host: str = "") -> "JobReply":
        """No result, and why."""
        return cls(error=error, infrastructure=infrastructure, log=log, host=host)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "JobReply":
        """A reply as it arrived; unknown keys are refused (a reply from another version of the grader)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"a job reply with unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


def normalized(data: dict) -> dict:
    """``data`` as a reply of the one shape (every key present), as plain data."""
    return JobReply.from_dict(data).to_dict()
