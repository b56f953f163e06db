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


def check_interpolation(name):
    """Return ``name`` if it is a known interpolation method.

    Parameters
    ----------
    name : str

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    ArgumentError
        If it is not, naming the methods that exist.
    """
    if name not in INTERPOLATIONS:
        raise ArgumentError(f"unknown interpolation {name!r}; choose one of {', '.join(INTERPOLATIONS)}")
    return name
