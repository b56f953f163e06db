"""The names of the state-read methods (engine/delay.py implements them), free of numpy.

The command-line parsers list them as choices; importing this costs nothing, so ``--help``
and argument errors do not wait for numpy.
"""

import operator

from .errors import ArgumentError, quote

#: The state reads (engine/delay.py), the default first. Each name is its order of Lagrange
#: interpolation except naive (no correction: ŝ_n = s_{n−1}) and the allpass.
LAGRANGE_ORDERS = {"linear": 1, "cubic": 3, "lagrange5": 5}
STATE_READS = ("linear", "naive", "cubic", "lagrange5", "allpass")
#: Not a state read: the model runs at its training rate (R = 1) inside a streaming resampler
#: pair (engine/resampler), at the price of the pair's latency (Processor.latency).
RESAMPLE = "resample"
#: Every value ``interpolation`` takes (Processor, config, command lines).
INTERPOLATIONS = STATE_READS + (RESAMPLE,)
DEFAULT_INTERPOLATION = "linear"
#: ``oversample``: the model runs at this multiple of the stream's rate, inside the resampler pair.
OVERSAMPLE_FACTORS = (1, 2, 4)
#: Not a read of its own: at prepare the engine scores every stable candidate on a short probe
#: and runs the best (engine/auto.py).
AUTO = "auto"
#: What a Processor, the config's ``interpolation`` key and the commands accept: a read, or auto.
CHOICES = INTERPOLATIONS + (AUTO,)


def check_interpolation(name, allow_auto=False):
    """Return ``name`` if it is a known interpolation method.

    Parameters
    ----------
    name : str
    allow_auto : bool
        Also accept "auto" (what a user may ask for, as opposed to a read the kernels run).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    ArgumentError
        If it is not, naming the methods that exist.
    """
    known = CHOICES if allow_auto else INTERPOLATIONS
    if not isinstance(name, str) or name not in known:
        raise ArgumentError(f"unknown interpolation {name!r}; choose one of {', '.join(known)}")
    return name


def check_oversample(value, name="oversample"):
    """Return ``value`` as an int if it is one of OVERSAMPLE_FACTORS (1, 2, 4).

    Parameters
    ----------
    value : int
    name : str
        How to name the value in the message (an argument, a config key or a flag).

    Returns
    -------
    int

    Raises
    ------
    ArgumentError
        If it is not, naming the factors that exist.
    """
    try:
        factor = None if isinstance(value, bool) else operator.index(value)  # int, numpy integer; not 2.0
    except TypeError:
        factor = None
    if factor not in OVERSAMPLE_FACTORS:
        raise ArgumentError(f"{name} must be one of {', '.join(map(str, OVERSAMPLE_FACTORS))} (the model runs at "
                            f"that multiple of the stream's rate), got {quote(value)}")
    return factor
