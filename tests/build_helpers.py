"""Helpers for the build tests: a fresh virtual environment that sees this environment's libraries."""

import site
import subprocess
import sys
import sysconfig
from pathlib import Path


def fresh_venv(path: Path) -> Path:
    """A new venv whose own site-packages comes first, then this interpreter's (numpy, scikit-learn, ...).

    ``--system-site-packages`` alone is not enough when the tests themselves run in a venv (as in CI):
    the libraries are in that venv, not in the system's.  Returns the venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    parents = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (Path(own) / "zz_parent_environment.pth").write_text("\n".join(parents) + "\n")
    return python
