"""Grade a whole class: ``grade_all`` (parallel, cached, resumable, on a Dask cluster) and ``rescore_batch``.

Built on the one-submission pipeline (``autograder.grading``): each submission is prepared by
``intake.prepare``, graded by ``grading.grade`` in a grader process, and reported by ``write_reports``.
"""

from autograder.bulk.batch import BatchEvent, BatchOutcome, grade_all
from autograder.bulk.inputs import Entry, LayoutError, discover
from autograder.bulk.rescore import rescore_batch
from autograder.judge.rescore import rescore_result

__all__ = ["BatchEvent", "BatchOutcome", "Entry", "LayoutError", "discover", "grade_all", "rescore_batch",
           "rescore_result"]
