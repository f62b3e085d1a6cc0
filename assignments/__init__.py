"""Student stubs for the Classification chapter: fill in every ``NotImplementedError``.

Check your work with ``python -m autograder check assignments`` (public tests on
the embedded sample); the hidden tests run when your instructor grades.
"""
