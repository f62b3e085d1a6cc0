"""ch3-autograder: exercises, reference solutions and an isolated grader for HOML chapter 3.

Kept import-light on purpose: the sandboxed worker imports ``autograder.worker``
and must not pull in the judge or the data layer.
"""

__version__ = "0.1.0"
