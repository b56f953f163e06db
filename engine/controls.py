"""The control inputs (knobs) of a conditioned model: their default values and their checks."""

from collections.abc import Sequence

import numpy as np

from .errors import ControlError, quote

def knob_values(model, controls=None):
    """The knob values the tools run a model with: ``controls``, or 0.5 per knob; None without knobs.

    engine-process, engine-eval, engine-info and the live configuration all default to mid-travel.
    This is the one place that default is written: the stability check (engine.stability) has
    none of its own and is always told the values.

    Parameters
    ----------
    model : Model
    controls : sequence of float, optional

    Returns
    -------
    list of float or None
        None for a model without control inputs (``controls`` is then ignored, as it always was).
    """
    if not model.num_controls:
        return None
    return [0.5] * model.num_controls if controls is None else list(controls)


def check_controls(model, values):
    """``values`` as the control inputs of ``model``: one finite, float32-sized number per knob.

    Parameters
    ----------
    model : Model
    values : sequence of float or 1-D numpy array
        Real numbers only (int, float or a numpy number; not bool, not text), one per knob.

    Returns
    -------
    numpy.ndarray
        float64, shape (model.num_controls,).

    Raises
    ------
    ControlError
        If ``values`` is not a sequence or 1-D array of real numbers, the count is wrong, or a
        value is not finite or beyond float32.
    """
    # np.asarray(values, float64) alone would read "0.7" and True as numbers, and raise
    # OverflowError on an int too large for a float: check the kinds first.
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            raise ControlError(f"controls must be numbers in a sequence or 1-D array, got an array of dtype "
                               f"{values.dtype}, shape {values.shape}")
        items = values.tolist()
    elif isinstance(values, (str, bytes, bytearray)) or not isinstance(values, Sequence):
        if isinstance(values, (str, bytes, bytearray)):
            found = f"the text {quote(values)}"
        elif _is_real(values):
            found = f"the single number {quote(values)} (write [{quote(values)}])"
        else:
            found = f"a {type(values).__name__}"
        raise ControlError(f"controls must be a sequence of numbers, one per knob, got {found}")
    else:
        items = list(values)
        if not all(_is_real(value) for value in items):
            raise ControlError(f"controls must be numbers, got {quote(values)}")
    count = max(model.num_controls, 0)
    if len(items) != count:
        raise ControlError(f"{model.name} takes {count} control value(s), got {len(items)}")
    limit = float(np.finfo(np.float32).max)
    numbers = []
    for value in items:
        try:
            number = float(value)
        except OverflowError:  # an int beyond float64
            raise ControlError(f"control values must fit in float32 (±{limit:.4g}), got {quote(values)}") from None
        numbers.append(number)
    array = np.array(numbers, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ControlError(f"control values must be finite, got {quote(values)}")
    if np.any(np.abs(array) > limit):
        raise ControlError(f"control values must fit in float32 (±{limit:.4g}), got {quote(values)}")
    return array


def _is_real(value):
    """Whether value is a real number: int, float or a numpy integer/float, and not bool."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))
