"""Shared test set-up.

ENGINE_FAIL_ON_SKIP=1 (set by .ci/run) turns every skipped test into a failure: in CI a
claimed feature must be exercised, never silently skipped because something is missing.
"""

import os
from pathlib import Path

# numba reads this when first imported: it makes the runtime count its allocations, which
# test_allocation.py checks. Nothing before this line imports numba.
os.environ.setdefault("NUMBA_NRT_STATS", "1")

import pytest

from engine.testing import guitar_like_signal  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ENGINE_SHARED_DIR", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"
FAIL_ON_SKIP = os.environ.get("ENGINE_FAIL_ON_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if FAIL_ON_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and ENGINE_FAIL_ON_SKIP=1 forbids skips: {reason}"


SHARED_MISSING = (f"../shared/fixtures not found beside the checkout (looked in {FIXTURES}): these tests need "
                  "the third-party model files of RTNeural, KlonCentaur and NeuralAmpModelerCore (README, "
                  "Tests); put the shared folder beside the checkout or set ENGINE_SHARED_DIR to the folder "
                  "that holds fixtures/")


@pytest.fixture(scope="session")
def shared_fixtures():
    """The folder of real model files beside the checkout (../shared/fixtures, or $ENGINE_SHARED_DIR/fixtures).

    A fresh clone has nothing beside it: the tests that need these files skip with one reason
    saying where they go. In CI (ENGINE_FAIL_ON_SKIP=1, where ../shared is present) that skip is
    a failure, like any other.
    """
    if not FIXTURES.is_dir():
        pytest.skip(SHARED_MISSING)
    return FIXTURES
