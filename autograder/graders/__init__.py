"""Grader tests: ``public/`` runs in the student's self-check, ``hidden/`` only in ``grade``.

Each test is marked with the question it grades; points, limits and tolerances
live in ``autograder/questions.toml``.  Helpers shared by graders are in
``autograder.graders.common``.
"""
