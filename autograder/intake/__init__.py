"""Intake: a submission as handed in -> one typed :class:`PreparedSubmission`.

    prepare(path)           a folder, .zip, notebook(s) or scripts -> PreparedSubmission
    PreparedSubmission      the flat module files, notes, a notebook's line map, data flags;
                            ``materialize`` writes the files for the sandbox, ``to_dict`` crosses processes
    notebooks               notebook and script conversion, and the line map's translation of feedback

Nothing here runs student code, and nothing travels through side files: what reading found is
part of the value.
"""

from autograder.intake.prepared import PreparedSubmission
from autograder.intake.submission import (MAX_FILE_BYTES, MAX_MODULE_BYTES, MAX_ZIP_BYTES, MAX_ZIP_DIRECTORY_BYTES,
                                          MAX_ZIP_ENTRIES, prepare)

__all__ = ["MAX_FILE_BYTES", "MAX_MODULE_BYTES", "MAX_ZIP_BYTES", "MAX_ZIP_DIRECTORY_BYTES", "MAX_ZIP_ENTRIES",
           "PreparedSubmission", "prepare"]
