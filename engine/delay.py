"""The fractional read of the fed-back state (SRC.md), as taps over the state history.

Every method here is a short FIR over past states: ŝ_n = Σ_m taps[m] · s_{n − offset − m}.
The kernels run any such tap set at the same cost whatever R is, so adding an interpolator
means adding a function that returns its taps.
"""

import math

import numpy as np

from .errors import ArgumentError

#: Interpolation methods, the default first.
INTERPOLATIONS = ("linear", "naive")
DEFAULT_INTERPOLATION = "linear"


def check_interpolation(name):
    """Return ``name`` if it is a known interpolation method.

    Raises
    ------
    ArgumentError
        If it is not, naming the methods that exist.
    """
    if name not in INTERPOLATIONS:
        raise ArgumentError(f"unknown interpolation {name!r}; choose one of {', '.join(INTERPOLATIONS)}")
    return name


def read_taps(method, ratio):
    """The taps of the state read for ``method`` at rate ratio R = ``ratio``.

    Parameters
    ----------
    method : str
        "naive" (ŝ_n = s_{n−1}, the uncorrected model) or "linear"
        (ŝ_n = (1 − α)·s_{n−d} + α·s_{n−d−1}, d = ⌊R⌋, α = R − d).
    ratio : float
        R ≥ 1, already snapped to an integer where it is one (see rates.rate_ratio).

    Returns
    -------
    (int, numpy.ndarray)
        The offset e ≥ 1 and float32 taps. For integer R, linear is the single tap [1] at
        e = R: the exact delay, with no rounding from a zero-weight tap.
    """
    check_interpolation(method)
    if method == "naive":
        return 1, np.ones(1, np.float32)
    whole = math.floor(ratio)
    fraction = ratio - whole
    if fraction == 0.0:
        return whole, np.ones(1, np.float32)
    return whole, np.array([1.0 - fraction, fraction], np.float32)


def history_slots(tap_offset, taps):
    """The number of history slots (a power of two) a read reaching back to s_{n − offset − len(taps) + 1} needs."""
    needed = tap_offset + len(taps) + 1
    return 1 << max(2, math.ceil(math.log2(needed)))
