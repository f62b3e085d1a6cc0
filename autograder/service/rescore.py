"""``serve rescore DIR``: every graded submission rescored under the data folder's ``questions.toml``
after the staff edited it, by :func:`autograder.judge.rescore.rescore_result` (the rescoring
``grade-all --rescore`` uses: the recorded measurements go through :func:`autograder.policy.score`
again). No student code runs, no job is queued and no attempt is counted; a submission whose
result does not change is not written."""

from __future__ import annotations

import json
import os

from django.db import transaction
from django.utils import timezone

from autograder.service.models import Assignment, Submission


def _same(old, new) -> bool:
    return json.dumps(old.to_dict(), sort_keys=True) == json.dumps(new.to_dict(), sort_keys=True)


def rescore_all() -> dict[str, int]:
    """Rescore every graded submission of every assignment; returns the counts (changed, unchanged)."""
    from autograder.judge.rescore import rescore_result
    from autograder.grading import render
    from autograder.results import GradingResult
    from autograder.service.dispatcher import student_result
    from autograder.service.policy import penalised
    from autograder.spec import SPEC_ENV, load_spec

    counts = {"changed": 0, "unchanged": 0}
    before = os.environ.get(SPEC_ENV)
    try:
        for assignment in Assignment.objects.order_by("id"):
            spec = load_spec(assignment.spec_path)
            os.environ[SPEC_ENV] = str(assignment.spec_path)  # the reports' disclosure reads this copy too
            graded = Submission.objects.filter(assignment=assignment, status=Submission.Status.GRADED) \
                .exclude(grading_json="").order_by("id")
            for submission in graded.iterator():
                old = GradingResult.from_dict(json.loads(submission.grading_json))
                new = rescore_result(old, spec)
                if _same(old, new):
                    counts["unchanged"] += 1
                    continue
                reports = render(new)
                with transaction.atomic():
                    Submission.objects.filter(pk=submission.pk, status=Submission.Status.GRADED).update(
                        raw_score=new.score, max_score=new.max_score,
                        score=penalised(new.score, submission.late_days, assignment),
                        student_result=student_result(new, submission.filename, spec),
                        feedback_html=reports["feedback.html"], report_md=reports["report.md"],
                        grading_json=json.dumps(new.to_dict()), rescored=timezone.now())
                counts["changed"] += 1
    finally:
        if before is None:
            os.environ.pop(SPEC_ENV, None)
        else:
            os.environ[SPEC_ENV] = before
    return counts


#: The staff button waits this long for ``serve rescore`` (no student code runs: seconds for a class).
RESCORE_SECONDS = 600


def run_rescore() -> tuple[bool, str]:
    """``serve rescore`` on this data folder in a child process (it renders every changed report
    there, with the folder's questions.toml); (succeeded, its one-line summary or refusal)."""
    import subprocess
    import sys

    from django.conf import settings

    try:
        done = subprocess.run([sys.executable, "-m", "autograder", "serve", "rescore", str(settings.DATA_DIR)],
                              capture_output=True, text=True, timeout=RESCORE_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"rescore did not finish in {RESCORE_SECONDS} s; run: python -m autograder serve rescore DIR"
    lines = (done.stdout if done.returncode == 0 else done.stderr).strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else f"rescore exited with {done.returncode}"
