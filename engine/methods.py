"""The names of the state-read methods (engine/delay.py implements them), free of numpy.

The command-line parsers list them as choices; importing this costs nothing, so ``--help``
and argument errors do not wait for numpy.
"""

from .errors import ArgumentError

#: Interpolation methods, the default first. Each name is its order of Lagrange interpolation
#: except naive (no correction: ŝ_n = s_{n−1}).
LAGRANGE_ORDERS = {"linear": 1, "cubic": 3, "lagrange5": 5}
INTERPOLATIONS = ("linear", "naive", "cubic", "lagrange5", "allpass")
DEFAULT_INTERPOLATION = "linear"
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
