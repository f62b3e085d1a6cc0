"""The documentation: the README stays a short entry, the site builds with warnings as errors,
and every command shown in a ```bash block of the README or of a docs page runs as written.

A block that must not run here (it needs the network, is the test suite itself, or changes the
machine) carries a marker on the line before it, with the reason: ``% docs-test: skip (why)``
(a MyST comment) or, in the README that GitHub renders, ``<!-- docs-test: skip (why) -->``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
README_MAX_LINES = 200
#: The README's test command, which CI runs as written.
TEST_COMMAND = "python -m pytest"
COMMAND_TIMEOUT_S = 900

FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<lang>[^`\s]*)")
SKIP_MARKER = re.compile(r"^\s*(?:%|<!--)\s*docs-test:\s*skip\b\s*(?P<reason>\(.*\))?")


@dataclass(frozen=True)
class Block:
    """One fenced ```bash block: where it is, its commands, and why it is skipped (or None)."""

    page: str
    line: int
    code: str
    skip_reason: str | None


def pages() -> list[Path]:
    """The README and every Markdown page of the site (not the build output)."""
    found = sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.relative_to(DOCS).parts)
    return [PROJECT / "README.md", *found]


def page_name(path: Path, root: Path = PROJECT) -> str:
    return str(path.relative_to(root))


def bash_blocks(path: Path, root: Path = PROJECT) -> tuple[list[Block], list[str]]:
    """The page's ```bash blocks in order, and the problems found (a marker without its block)."""
    name = page_name(path, root)
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, problems = [], []
    pending_marker: tuple[int, str | None] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = SKIP_MARKER.match(line)
        opening = FENCE_OPEN.match(line)
        if marker:
            if pending_marker:
                problems.append(f"{name}:{pending_marker[0]}: a docs-test marker not followed by a bash block")
            reason = marker.group("reason")
            pending_marker = (index + 1, reason[1:-1].strip() if reason else None)
            index += 1
            continue
        if opening:
            fence, indent = opening.group("fence"), opening.group("indent")
            end = index + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            body = "\n".join(text[len(indent):] if text.startswith(indent) else text for text in lines[index + 1:end])
            if opening.group("lang") == "bash":
                reason = None
                if pending_marker:
                    reason = pending_marker[1]
                    if not reason:
                        problems.append(f"{name}:{pending_marker[0]}: docs-test: skip needs a reason in ()")
                        reason = "no reason given"
                blocks.append(Block(name, index + 1, body, reason))
            elif pending_marker:
                problems.append(f"{name}:{pending_marker[0]}: a docs-test marker before a "
                                f"```{opening.group('lang')} block (only bash blocks run)")
            pending_marker = None
            index = end + 1
            continue
        if line.strip() and pending_marker:
            problems.append(f"{name}:{pending_marker[0]}: a docs-test marker not directly before a bash block")
            pending_marker = None
        index += 1
    if pending_marker:
        problems.append(f"{name}:{pending_marker[0]}: a docs-test marker at the end of the page")
    return blocks, problems


def runnable_pages() -> list[Path]:
    return [path for path in pages() if any(block.skip_reason is None for block in bash_blocks(path)[0])]


def missing_modules(code: str) -> list[str]:
    """Modules run as ``python -m NAME`` that this environment lacks (an extra not installed)."""
    names = re.findall(r"(?:^|[;&|]\s*)python3? -m ([\w.]+)", code, flags=re.M)
    return sorted({name for name in names if importlib.util.find_spec(name.split(".")[0]) is None})


def scratch_checkout(folder: Path) -> Path:
    """A folder that sees the repository's tracked top-level files (as links) and keeps what commands write."""
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True, check=True).stdout
        names = {line.split("/", 1)[0] for line in tracked.splitlines() if line}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but hidden files
        names = {path.name for path in PROJECT.iterdir() if not path.name.startswith(".")}
    for name in sorted(names):
        if (PROJECT / name).exists():
            (folder / name).symlink_to(PROJECT / name)
    return folder


# -- the README ---------------------------------------------------------------------------------------

def test_readme_is_a_short_entry():
    lines = (PROJECT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, f"README.md has {len(lines)} lines; the rest belongs in docs/"


def test_readme_shows_the_test_command_ci_runs():
    readme_commands = [line.strip() for block in bash_blocks(PROJECT / "README.md")[0] for line in block.code.splitlines()]
    assert TEST_COMMAND in readme_commands
    ci_lines = [line.strip() for line in (PROJECT / ".ci" / "run").read_text().splitlines()]
    assert TEST_COMMAND in ci_lines, ".ci/run no longer runs the README's test command as written"


def test_docs_markers_sit_on_bash_blocks_with_a_reason():
    problems = [problem for path in pages() for problem in bash_blocks(path)[1]]
    assert not problems, "\n".join(problems)


#: Commands that change the environment they run in: a block holding one must be marked skip.
ENVIRONMENT_CHANGING = re.compile(r"\bpip3? install\b|\bpython3? -m (?:pip install|venv)\b|\bapt(?:-get)? install\b")


def test_environment_changing_blocks_are_marked_skip():
    """Installing (pip, venv, apt) from a test would change the environment the suite runs in."""
    unmarked = [f"{block.page}:{block.line}" for path in pages() for block in bash_blocks(path)[0]
                if block.skip_reason is None and ENVIRONMENT_CHANGING.search(block.code)]
    assert not unmarked, "mark these blocks with '% docs-test: skip (why)': " + ", ".join(unmarked)


def test_marker_parser_reads_both_comment_forms(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("% docs-test: skip (needs the network)\n```bash\npip download x\n```\n\n"
                    "<!-- docs-test: skip (destructive) -->\n```bash\nrm -rf build\n```\n\n"
                    "```bash\necho runs\n```\n\n% docs-test: skip\n```bash\necho no reason\n```\n")
    blocks, problems = bash_blocks(page, root=tmp_path)
    assert [block.skip_reason for block in blocks] == ["needs the network", "destructive", None, "no reason given"]
    assert [block.code for block in blocks][2] == "echo runs"
    assert len(problems) == 1 and "needs a reason" in problems[0]


# -- the site -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    for module in ("sphinx", "myst_parser", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason='the docs extra is not installed: pip install -e ".[docs]"')
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        cwd=PROJECT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, f"sphinx exited {done.returncode}:\n{done.stderr[-6000:]}"
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api" / "index.html").is_file()


#: Runs that passed: each page's blocks up to and including one. A page whose blocks are all the
#: opening blocks of a page that passed (the README's grading command, say) already ran as written.
PASSED_RUNS: set[tuple[str, ...]] = set()


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable_pages(), ids=page_name)
def test_commands_run_as_written(page, tmp_path):
    """Each page's runnable blocks, in order, in one scratch folder that sees the repository."""
    blocks = [block for block in bash_blocks(page)[0] if block.skip_reason is None]
    assert not any(ENVIRONMENT_CHANGING.search(block.code) for block in blocks), "an install would run here"
    missing = sorted({name for block in blocks for name in missing_modules(block.code)})
    if missing:
        pytest.skip(f"{page_name(page)} runs {', '.join(missing)}, not installed here (an extra)")
    if tuple(block.code for block in blocks) in PASSED_RUNS:
        return
    folder = scratch_checkout(tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for count, block in enumerate(blocks, start=1):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        assert done.returncode == 0, (f"{block.page}:{block.line} exited {done.returncode}\n{block.code}\n"
                                      f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
        PASSED_RUNS.add(tuple(earlier.code for earlier in blocks[:count]))
