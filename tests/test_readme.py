"""Figures in the README that a command in the repository computes, held to that command."""

import re
import subprocess
import sys

from conftest import REPO

BAD_INPUT_FILES = ("tests/test_failures.py", "tests/test_hostile_models.py", "tests/test_fuzz_models.py",
                   "tests/test_api_misuse.py", "tests/test_process_cli.py", "tests/test_cli_hostile.py",
                   "tests/test_non_finite.py")


def test_the_bad_input_count_is_what_pytest_collects():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"is tested in (\d+) cases\s*\(`pytest --co -q ([^`]+)`", readme)
    assert stated, "the README's bad-input sentence is gone"
    assert tuple(stated.group(2).split()) == BAD_INPUT_FILES
    collected = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
                                *BAD_INPUT_FILES], capture_output=True, text=True, cwd=REPO, timeout=300)
    count = re.search(r"(\d+) tests? collected", collected.stdout)
    assert count, collected.stdout + collected.stderr
    assert int(stated.group(1)) == int(count.group(1))
