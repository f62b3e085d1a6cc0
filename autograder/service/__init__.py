"""A self-hosted submission service: one more frontend over the grading pipeline.

Students upload a zip, a notebook or ``.py`` files (web form or ``python -m autograder submit``);
the upload is validated with the pipeline's own readers (:mod:`autograder.grading`), stored by
content hash and queued in a database table (:mod:`autograder.service.jobs`); the dispatcher in
``serve run`` claims jobs with a lease and grades each one by calling
:func:`autograder.grading.grade` in a child process (:mod:`autograder.service.gradejob`).

The service's data folder DIR holds ``service.json`` (secret key, database URL, base URL), the
SQLite database (unless PostgreSQL is named), ``questions.toml`` (the assignment's copy) and
``blobs/`` (the uploads by sha256). :func:`setup` points Django at it.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_ENV = "CH3_SERVICE_DIR"
CONFIG = "service.json"


class ServiceUnavailable(RuntimeError):
    """Django (the ``serve`` extra) is missing, or DIR is not a service data folder."""


def setup(data_dir: Path) -> None:
    """Configure Django for the data folder ``data_dir`` (once per process)."""
    data_dir = Path(data_dir).resolve()
    try:
        import django
    except ImportError:
        raise ServiceUnavailable("the service needs the serve extra: pip install 'ch3-autograder[serve]'") from None
    if not (data_dir / CONFIG).is_file():
        raise ServiceUnavailable(f"{data_dir} is not a service data folder (no {CONFIG}); "
                                 "create one with: python -m autograder serve init DIR")
    current = os.environ.get(DIR_ENV)
    from django.conf import settings

    if settings.configured and current and Path(current).resolve() != data_dir:
        raise ServiceUnavailable(f"this process already serves {current}")
    os.environ[DIR_ENV] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autograder.service.settings")
    django.setup()
