"""The fractional read of the fed-back state (SRC.md), as taps over the state history.

Every FIR method is ŝ_n = Σ_m taps[m] · s_{n − offset − m}; the kernels run any tap set at the
same cost whatever R is, so an interpolator is a function returning (offset, taps).

Lagrange interpolation of order N (N + 1 taps) places the read point at fractional position δ
in the window s_{n−e}, …, s_{n−e−N}, with k_m = Π_{j≠m} (δ − j)/(m − j):
- linear is order 1, cubic order 3 (SRC.md), lagrange5 order 5;
- the window is centred on the read point when it fits (δ ∈ [p, p + 1), p = (N − 1)/2, so
  e = ⌊R⌋ − p), else it starts at s_{n−1} (e = 1, δ = R − 1): for cubic that is SRC.md's rule
  "1 ≤ R < 2: e = 1, δ = R − 1; R ≥ 2: e = d − 1, δ = α + 1";
- below the training rate (R < 1) δ = R − 1 is negative and the same taps extrapolate;
- at integer R, δ is an integer and the taps are exactly one 1 and zeros: the exact delay.

The first-order Thiran allpass (SRC.md) is recursive: v_n = a·(s_{n−d} − v_{n−1}) + s_{n−d−1},
a = (1 − α)/(1 + α), i.e. taps [a, 1] at offset d plus feedback −a on the previous read; at
integer R it is the exact delay. It needs s_{n−d} with d ≥ 1, so it has no form below the
training rate.
"""

import math

import numpy as np

from .errors import ArgumentError

# The method names live in engine/methods.py (no numpy, so the commands' --help stays fast).
from .methods import (DEFAULT_INTERPOLATION, INTERPOLATIONS, LAGRANGE_ORDERS, RESAMPLE, STATE_READS,  # noqa: E402,F401
                      check_interpolation)


def lagrange_weights(order, delta):
    """k_m = Π_{j≠m} (δ − j)/(m − j) for m = 0..order, in float64.

    Exact at integer δ in 0..order: a single 1 at m = δ and exact zeros elsewhere.
    """
    weights = np.ones(order + 1)
    for m in range(order + 1):
        for j in range(order + 1):
            if j != m:
                weights[m] *= (delta - j) / (m - j)
    return weights


def read_filter(method, ratio):
    """The state read for ``method`` at R = ``ratio``: ŝ_n = Σ_m taps[m]·s_{n−offset−m} + feedback·ŝ_{n−1}.

    Returns
    -------
    (int, numpy.ndarray, float)
        Offset, float32 taps and the recursive coefficient (0 for every FIR method).

    Raises
    ------
    ArgumentError
        If the method is unknown, or is the allpass below the training rate.
    """
    if method != "allpass":
        offset, taps = read_taps(method, ratio)
        return offset, taps, 0.0
    whole = math.floor(ratio)
    fraction = ratio - whole
    if whole < 1:
        raise ArgumentError(f"allpass has no form below the training rate (R = {ratio:.4g} < 1)")
    if fraction == 0.0:
        return whole, np.ones(1, np.float32), 0.0
    a = (1.0 - fraction) / (1.0 + fraction)
    return whole, np.array([a, 1.0], np.float32), -a


def read_taps(method, ratio):
    """The taps of the state read for ``method`` at rate ratio R = ``ratio``.

    Parameters
    ----------
    method : str
        One of INTERPOLATIONS.
    ratio : float
        R > 0, already snapped to an integer where it is one (see rates.rate_ratio).

    Returns
    -------
    (int, numpy.ndarray)
        The offset e ≥ 1 and float32 taps, with zero taps at either end trimmed (so integer R
        is the single tap [1] at e = R: the exact delay, with no rounding from zero weights).

    Raises
    ------
    ArgumentError
        If the method is unknown.
    """
    check_interpolation(method)
    if method == RESAMPLE:
        raise ArgumentError("resample is not a state read: the model runs at its own rate (R = 1) inside a "
                            "resampler pair (engine.resampler)")
    if method == "naive":
        return 1, np.ones(1, np.float32)
    if method == "allpass":
        raise ArgumentError("allpass is recursive: use read_filter")
    order = LAGRANGE_ORDERS[method]
    half = (order - 1) // 2
    whole = math.floor(ratio)
    offset = whole - half
    delta = ratio - whole + half
    if offset < 1:
        offset, delta = 1, ratio - 1.0
    weights = lagrange_weights(order, delta)
    nonzero = np.flatnonzero(weights)
    first, last = nonzero[0], nonzero[-1]
    return offset + int(first), weights[first:last + 1].astype(np.float32)


#: What ``read_window`` can say about a read (engine.stability judges each).
UNCORRECTED = "uncorrected"      # naive: ŝ_n = s_{n−1}, the model exactly as trained
EXACT = "exact"                  # a single tap at integer R: the exact delay
CENTRED = "centred"              # a Lagrange window centred on the read point
OFF_CENTRE = "off-centre"        # a Lagrange window starting at s_{n−1} because R is too small to centre it
EXTRAPOLATING = "extrapolating"  # below the training rate: δ = R − 1 < 0, the taps extrapolate
RECURSIVE = "recursive"          # the allpass at fractional R ≥ 1: taps [a, 1] and feedback −a
NO_FORM = "no form"              # the allpass below the training rate (it needs d ≥ 1)
RESAMPLED = "resampled"          # resample: no read to correct, the model runs at its own rate (R = 1)


def read_window(method, ratio):
    """Where ``method``'s read at R = ``ratio`` sits in the state history: one of the constants above.

    A fact about the read, not a judgement: engine.stability decides which of these can
    destabilise a model (the Lagrange reads off the centre of their window have large weights of
    both signs; below R = 1 they extrapolate).

    Raises
    ------
    ArgumentError
        If the method is unknown.
    """
    check_interpolation(method)
    if method == RESAMPLE:
        return RESAMPLED
    if method == "naive":
        return UNCORRECTED
    if method == "allpass":
        if ratio < 1:
            return NO_FORM
        return EXACT if ratio == math.floor(ratio) else RECURSIVE
    _, taps = read_taps(method, ratio)
    if len(taps) == 1:
        return EXACT
    if ratio < 1:
        return EXTRAPOLATING
    # read_taps centres the window when it fits (e = ⌊R⌋ − p ≥ 1), else starts it at s_{n−1}
    half = (LAGRANGE_ORDERS[method] - 1) // 2
    return CENTRED if math.floor(ratio) - half >= 1 else OFF_CENTRE


def history_slots(tap_offset, taps):
    """The number of history slots (a power of two) a read reaching back to s_{n − offset − len(taps) + 1} needs."""
    needed = tap_offset + len(taps) + 1
    return 1 << max(2, math.ceil(math.log2(needed)))
