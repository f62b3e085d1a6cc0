"""Generated artefacts, all from the same declarations (questions.toml, the stubs, the solutions, the graders).

    notebooks   student notebooks with self-check cells (nbformat)
    otter       an Otter Grader assignment whose tests call the toolkit's checks
    gradescope  Gradescope's autograder.zip, grading with the sandboxed grader
    student     the bundle students download: stubs, notebooks, public graders, check

Each is a function ``build_*(out_dir, ...) -> Path`` and a ``python -m autograder build`` command.
"""
