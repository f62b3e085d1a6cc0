"""Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/).

Students see this file's text: submission text is stripped of control sequences, and the
hidden graders' tracebacks never appear (they stay in grading.json).
"""

from __future__ import annotations

from autograder.policy import status_for
from autograder.reporters.text import plain
from autograder.results import GradingResult

#: Our visibility -> Gradescope's: public results show at once, hidden ones once grades are published.
GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}


def _test_output(q) -> str:
    parts = [q.feedback or q.status.replace("_", " ")]
    if q.status not in ("passed", "held") and q.hint:
        parts.append(f"Hint: {q.hint}")
    if q.output:
        parts.append(f"Your code printed:\n{q.output}")
    return plain("\n\n".join(parts))


def _test(number: int, q) -> dict:
    test = {
        "name": q.name,
        "number": str(number),
        "score": round(q.points, 4),
        "max_score": q.max_points,
        "status": "passed" if status_for(q.points, q.max_points) == "passed" else "failed",  # Gradescope's two
        "visibility": GRADESCOPE_VISIBILITY[q.visibility],
        "output": _test_output(q),
        "extra_data": {"question": q.id, "status": q.status, "seconds": round(q.seconds, 3)},
    }
    if q.status == "held":  # pending review: no score and no pass/fail until a person has looked
        del test["score"], test["status"]
    return test


def to_gradescope(result: GradingResult) -> dict:
    tests = [_test(number, q) for number, q in enumerate(result.questions, start=1)]
    output = f"Isolation: {result.isolation}\nData profile: {result.profile}"
    output += "".join(f"\nNote: {plain(note)}" for note in result.notes)
    if result.held:
        output += (f"\nPending review: {result.held_points:g} points are held for review by the course staff and "
                   "are not in this score yet (neither earned nor lost).")
    if result.grader_errors:
        output += (f"\nThe grader itself failed on {len(result.grader_errors)} question(s); they score 0 for now "
                   "and your instructor has the details.")
    return {"score": result.score, "execution_time": round(result.seconds, 1), "output": output,
            "stdout_visibility": "hidden", "tests": tests}
