"""Sample-rate arguments: validation and the ratio R = F_run / F_model.

The rate-correction state buffer (see delay.py) reads the fed-back state R samples back, so R
fixes the buffer's length. Any R in [MIN_RATIO, MAX_RATIO] runs at a cost per sample that does
not depend on R; only the buffer's memory grows with it.
"""

import math
import numbers

from .errors import SampleRateError, quote

# Below the training rate (R < 1) the state read extrapolates; past R = 0.5 (a 96 kHz model at
# 48 kHz) the extrapolation reaches a whole sample ahead and every model we tried went unstable.
MIN_RATIO = 0.5
MAX_RATIO = 64.0

# Ratios this close to an integer are treated as that integer, so that 88200/44100 and
# 96000/48000 get the exact integer delay (SRC.md's exactness property) rather than an
# interpolation with a vanishing fractional part.
INTEGER_RATIO_TOLERANCE = 1e-9


def check_sample_rate(value, what="sample rate"):
    """Validate a sample rate given by a user or a file.

    Parameters
    ----------
    value : int, float or str
        The rate in Hz. Numeric strings (as AIDA-X files store them) are accepted. Any value
        that is not a finite positive number, including an integer too large for a float, is
        refused with a SampleRateError (never OverflowError or TypeError).
    what : str
        How to name the value in an error message, e.g. ``"amp.json: samplerate"``.

    Returns
    -------
    float
        The rate in Hz.

    Raises
    ------
    SampleRateError
        If the value is not a finite positive number.
    """
    if isinstance(value, bool):
        raise SampleRateError(f"{what} must be a number of Hz, got {quote(value)}")
    if isinstance(value, str):
        try:
            rate = float(value.strip())
        except ValueError:
            raise SampleRateError(f"{what} must be a number of Hz, got {quote(value)}") from None
    elif isinstance(value, numbers.Real):
        try:
            rate = float(value)
        except (OverflowError, ValueError, TypeError):  # an int (or Fraction) beyond float's range
            raise SampleRateError(f"{what} must be a finite positive number of Hz, got {quote(value)}") from None
    else:
        raise SampleRateError(f"{what} must be a number of Hz, got {quote(value)}")
    if not math.isfinite(rate) or rate <= 0:
        raise SampleRateError(f"{what} must be a positive number of Hz, got {quote(value)}")
    return rate


def _hz(rate):
    """A rate in Hz for a message: all its digits, never in exponent form (3072000, 44100.5)."""
    return f"{rate:.10g}" if rate < 1e10 else f"{rate:.4g}"


def rate_ratio(sample_rate, model_sample_rate, model_path=None):
    """Compute R = sample_rate / model_sample_rate and check that the engine can run it.

    Parameters
    ----------
    sample_rate : float
        The rate the engine runs at, in Hz (already validated).
    model_sample_rate : float
        The rate the model was trained at, in Hz (already validated).
    model_path : str, optional
        The model's file, to name in the error message.

    Returns
    -------
    float
        R, snapped to the nearest integer when within ``INTEGER_RATIO_TOLERANCE`` of it.

    Raises
    ------
    SampleRateError
        If R is outside [MIN_RATIO, MAX_RATIO]; the message names the rates that work.
    """
    ratio = sample_rate / model_sample_rate
    if MIN_RATIO - 1 <= ratio <= MAX_RATIO + 1:  # (an overflowing ratio is infinite: no int to snap to)
        nearest = round(ratio)
        if abs(ratio - nearest) <= INTEGER_RATIO_TOLERANCE * max(1.0, ratio):
            ratio = float(nearest)
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        low = model_sample_rate * MIN_RATIO
        high = model_sample_rate * MAX_RATIO
        prefix = f"{model_path}: " if model_path else ""
        raise SampleRateError(
            f"{prefix}cannot run a model trained at {_hz(model_sample_rate)} Hz at sample_rate {_hz(sample_rate)} Hz "
            f"(R = {ratio:.4g}); rates from {_hz(low)} Hz to {_hz(high)} Hz work "
            f"(R from {MIN_RATIO:g} to {MAX_RATIO:g})"
        )
    return ratio
