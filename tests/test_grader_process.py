"""A grade-all grader process's own start: it keeps a sandbox, and a SIGTERM removes the kept
sandbox's folder and ends the process."""

import signal
import subprocess
import sys
from pathlib import Path

START = """
import sys, time
from autograder.bulk.grader_process import keep_sandboxes
from autograder.judge import client

keep_sandboxes()
print(client.keep_sandboxes().home, flush=True)
time.sleep(60)
"""


def test_a_sigterm_removes_the_kept_sandboxs_folder_and_ends_the_grader_process():
    process = subprocess.Popen([sys.executable, "-c", START], stdout=subprocess.PIPE, text=True)
    try:
        home = Path(process.stdout.readline().strip())
        assert home.is_dir()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not home.exists()
    finally:
        process.kill()
        process.wait()


def test_importing_the_judge_installs_no_signal_handler():
    done = subprocess.run([sys.executable, "-c", "import signal\nimport autograder.judge.client as c\n"
                           "c.keep_sandboxes()\nprint(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
