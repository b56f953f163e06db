"""Shared test set-up.

ENGINE_FAIL_ON_SKIP=1 (set by .ci/run) turns every skipped test into a failure: in CI a
claimed feature must be exercised, never silently skipped because something is missing.
"""

import os
from pathlib import Path

# numba reads this when first imported: it makes the runtime count its allocations, which
# test_allocation.py checks. Nothing before this line imports numba.
os.environ.setdefault("NUMBA_NRT_STATS", "1")

import numpy as np
import pytest

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


def guitar_like_signal(n, sample_rate=44100.0, seed=0):
    """A deterministic plucked-string-like test signal: decaying harmonics with a little noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    for start, f0 in ((0.0, 110.0), (0.25, 196.0), (0.5, 146.8), (0.75, 329.6)):
        active = t >= start
        tau = t[active] - start
        for harmonic in range(1, 8):
            y[active] += 0.5 / harmonic * np.exp(-tau * (3.0 + harmonic)) * np.sin(2 * np.pi * f0 * harmonic * tau)
    y += 0.01 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


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
