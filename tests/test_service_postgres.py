"""The service's schema and queue on a real PostgreSQL (a throwaway server in a temporary folder);
skipped where no PostgreSQL binaries exist. The same concurrent-claim check runs on SQLite too."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the service needs the serve extra")

from tests.service_helpers import PROJECT_ROOT, cli  # noqa: E402


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1:]), None)
    return Path(os.path.realpath(found)).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgresql_url():
    """A PostgreSQL server on 127.0.0.1 (initdb + pg_ctl; as the postgres user when the tests run as root)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries (pg_ctl): CI installs the postgresql package")
    pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg (the serve extra)")
    prefix = []
    folder = Path(tempfile.mkdtemp(prefix="ch3-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no postgres user to run PostgreSQL as")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"

    def run(*args):
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120, cwd=folder)
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


def queue_check(data_dir: Path) -> dict:
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests" / "service_queue_check.py"), str(data_dir)],
                            capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def _assert_each_job_once(outcome: dict) -> None:
    assert outcome["claimed"] == outcome["distinct"] == outcome["jobs"]
    assert outcome["reclaimed"] and not outcome["old_holder_stores"] and outcome["new_holder_stores"]


def test_the_queue_on_postgresql_claims_each_job_once_with_skip_locked(postgresql_url, tmp_path):
    init = cli("serve", "init", str(tmp_path / "data"), "--database", postgresql_url)
    assert "database PostgreSQL" in init.stdout
    outcome = queue_check(tmp_path / "data")
    assert outcome["vendor"] == "postgresql" and outcome["skip_locked"]
    _assert_each_job_once(outcome)


def test_the_queue_on_sqlite_claims_each_job_once_with_one_update(tmp_path):
    cli("serve", "init", str(tmp_path / "data"))
    outcome = queue_check(tmp_path / "data")
    assert outcome["vendor"] == "sqlite" and not outcome["skip_locked"]
    _assert_each_job_once(outcome)


def test_a_database_that_is_not_postgresql_is_refused(tmp_path):
    refused = cli("serve", "init", str(tmp_path / "data"), "--database", "mysql://x@y/z", check=False)
    assert refused.returncode == 2 and refused.stderr.strip().startswith("serve: --database takes a postgresql://")
    assert not (tmp_path / "data" / "service.json").exists()
