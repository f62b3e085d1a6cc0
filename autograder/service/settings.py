"""Django settings read from the data folder named by ``$CH3_SERVICE_DIR`` (see ``service.json``)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from autograder.service import CONFIG, DIR_ENV

DATA_DIR = Path(os.environ[DIR_ENV]).resolve()
_config = json.loads((DATA_DIR / CONFIG).read_text())

SECRET_KEY = _config["secret_key"]
DEBUG = False
ALLOWED_HOSTS = _config.get("allowed_hosts", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = _config.get("csrf_trusted_origins", [])
#: The address students are told (receipts carry request URLs; exports use this one).
BASE_URL = _config.get("base_url", "http://127.0.0.1:8000/")
ALLOW_WEAK_SANDBOX = bool(_config.get("allow_weak_sandbox", False))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "autograder.service.apps.ServiceConfig",
]
#: LTI 1.3 (django-lti, in the serve extra): its apps where it is installed.
LTI = importlib.util.find_spec("lti_tool") is not None
if LTI:
    INSTALLED_APPS += ["lti_tool", "autograder.service.lti.apps.LtiConfig"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "autograder.service.views.ContentSecurityPolicy",
]
ROOT_URLCONF = "autograder.service.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "autograder.service.frame.context",
    ]},
}]
WSGI_APPLICATION = None


def _database(url: str | None) -> dict:
    if url:
        import dj_database_url

        return dj_database_url.parse(url, conn_max_age=0)
    # WAL: readers never wait for the writer; synchronous=FULL: a committed row (an acknowledged
    # submission) survives a power cut; IMMEDIATE: writers queue for the lock instead of failing.
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
                        "transaction_mode": "IMMEDIATE", "timeout": 30}}


DATABASES = {"default": _database(_config.get("database"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
LOGIN_URL = "/admin/login/"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
if BASE_URL.startswith("https://"):  # the LMS shows the tool in a cross-site iframe: its cookies must be SameSite=None
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
X_FRAME_OPTIONS = "SAMEORIGIN"
#: Uploads larger than this go to a temporary file; the assignment's own limit refuses big ones.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler"}},
           "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"},
                       "autograder.service": {"handlers": ["stderr"], "level": "INFO"}}}
