"""Checks of the audio blocks a stage's Python ``process`` is given (the kernels trust their arrays)."""

import numpy as np

from ..errors import AudioInputError


def input_block(x):
    """x as a C-contiguous 1-D float32 array (x itself when it already is one).

    Parameters
    ----------
    x : numpy.ndarray
        Mono audio, float32, shape (n,).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    AudioInputError
        If x is not a numpy array, not float32, or not 1-D.
    """
    if type(x) is np.ndarray and x.dtype == np.float32 and x.ndim == 1:
        flags = x.flags
        if flags.c_contiguous and flags.aligned and flags.writeable:
            return x
    if not isinstance(x, np.ndarray):
        raise AudioInputError(f"the block must be a numpy float32 array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise AudioInputError(f"the block must be float32 audio, got dtype {x.dtype} "
                              f"(convert with x.astype(np.float32))")
    if x.ndim != 1:
        raise AudioInputError(f"the block has shape {x.shape}, expected (n,): these stages are mono")
    # Read-only, strided or unaligned: a different numba type, which the kernel (compiled for one
    # signature) refuses. Copy it.
    return np.array(x, np.float32, order="C")


def output_block(out, frames):
    """A writeable C-contiguous float32 array of ``frames`` samples: ``out``, or a new one when out is None.

    Parameters
    ----------
    out : numpy.ndarray or None
    frames : int

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    AudioInputError
        If out is not a writeable C-contiguous float32 array of shape (frames,).
    """
    if out is None:
        return np.empty(frames, np.float32)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != (frames,):
        shown = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise AudioInputError(f"out must be a float32 array of shape ({frames},), got a {shown}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise AudioInputError("out must be a writeable, C-contiguous, aligned array")
    return out


def run_stage(kernel, x, out, params, state, prepared, who):
    """One stage's ``process``: ``kernel(x, y, n, params, state)`` on checked blocks; returns y.

    The common case goes without a single check in Python (~1 µs less per call): numba's
    dispatcher matches the kernel's one compiled signature (1-D C-contiguous writeable float32
    arrays) and raises TypeError for anything else, which then gets the checks.

    Raises
    ------
    ArgumentError
        If the stage is not prepared (``who`` names it: "NoiseGate.process").
    AudioInputError
        If x or out is not a float32 mono block.
    """
    if out is not None and prepared:
        try:
            if len(out) == len(x):
                kernel(x, out, len(x), params, state)
                return out
        except TypeError:
            pass
    if not prepared:
        from ..errors import ArgumentError

        raise ArgumentError(f"{who}: call prepare(sample_rate) first")
    x = input_block(x)
    y = output_block(out, len(x))
    kernel(x, y, len(x), params, state)
    return y
