"""Shared fixtures: the full-data gate and a non-interactive matplotlib."""

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from autograder.data import DATA_DIR_ENV  # noqa: E402
from autograder.warm import WARM_ENV  # noqa: E402
from autograder.worker import sandbox  # noqa: E402

# The suite's commands run cold and start no warm grader: a developer's running one would serve
# them, and a first `check` would leave one behind. The warm grader's tests turn it on for theirs.
os.environ[WARM_ENV] = "0"

#: Set (CI sets it) to fail the run where bubblewrap cannot start, instead of skipping its tests.
REQUIRE_SANDBOX_ENV = "CH3_REQUIRE_SANDBOX"
SANDBOX_WORKS = sandbox.bwrap_works()

if not SANDBOX_WORKS:  # the suite on a machine without bubblewrap: the opt-in weak mode
    os.environ.setdefault(sandbox.ISOLATION_ENV, "rlimits")

pytest_plugins = ["pytester"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def full_data_dir() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV)
    if value and (Path(value) / "mnist" / "mnist.npz").is_file():
        return Path(value).resolve()
    return None


def pytest_configure(config):
    if not SANDBOX_WORKS and os.environ.get(REQUIRE_SANDBOX_ENV, "") not in ("", "0"):
        raise pytest.UsageError(f"{REQUIRE_SANDBOX_ENV} is set but the bubblewrap sandbox cannot start here, so its "
                                f"tests would be skipped: {sandbox.why_no_sandbox()}")


def pytest_report_header(config):
    if SANDBOX_WORKS:
        return "sandbox: bubblewrap starts; its tests run"
    return (f"sandbox: bubblewrap cannot start here; its tests are SKIPPED and the rest run in the weak mode "
            f"(set {REQUIRE_SANDBOX_ENV}=1 to fail instead, as CI does)")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``full_data`` when $CH3_DATA_DIR does not point at the data kit."""
    if full_data_dir() is not None:
        return
    skip = pytest.mark.skip(reason=f"needs the full data: set {DATA_DIR_ENV} to the data kit (see README)")
    for item in items:
        if "full_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = full_data_dir()
    if path is None:
        pytest.skip(f"needs the full data: set {DATA_DIR_ENV}")
    return path


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Path:
    """The submission service's data folder, made by `serve init` in this process, with Django set up
    on it once (Django keeps its settings for the process: every in-process service test shares it)."""
    pytest.importorskip("django", reason="the service needs the serve extra")
    from tests.service_helpers import service_folder

    return service_folder(tmp_path_factory)


@pytest.fixture
def kept():
    """This process keeps one sandbox from submission to submission, as a grade-all grader process does."""
    from autograder.judge import client

    with client.keeping(client.KeptSandbox()) as keeper:
        yield keeper
    keeper.close()
