"""Impulse responses for the cabinet: read, checked, resampled once to the running rate, normalised.

What a loaded IR is
-------------------
* **Source**: any file libsndfile reads (WAV, FLAC, AIFF, OGG, …), through
  :func:`engine.audiofile.read_clip` (so a missing file, a directory, a FIFO, a file that is not
  audio, an empty one or one holding NaN or infinity is refused with one line naming it). Only
  the first channel is used: a stereo IR's left channel.
* **Length**: at most :data:`MAX_IR_SECONDS` (20 s: a 10 s hall reverb works; a 10-minute
  recording given by mistake is refused after reading 20 s of it, never loaded whole). Trailing
  exact zeros (the padding many IR files carry) are dropped: they cost work and add nothing.
* **Rate**: the file's rate must lie in [:data:`MIN_IR_RATE`, :data:`MAX_IR_RATE`]. At another
  running rate the IR is resampled once, at load, with engine.resample's band-limited (FFT)
  resampler, scaled by F_file / F_run so that the filter's gain in Hz is unchanged (a sum of
  twice as many taps would otherwise double it). See :func:`resample_ir` for how the lengths are
  made exact.
* **Normalisation** (``normalize=True``, the default): the IR is scaled so that the peak of its
  magnitude response is 0 dB: max_f |H(f)| = 1, evaluated on a zero-padded FFT grid of at least
  8 points per tap (:func:`peak_gain`). So a sine at the cabinet's loudest frequency passes at
  unity and no frequency is boosted; and, unlike unit energy (Σh² = 1), the result does not
  depend on the running rate (at twice the rate a band-limited IR has half the energy per tap
  for the same response in Hz). ``normalize=False`` keeps the file's own gain.
* **Silence**: an IR whose peak gain is below :data:`SILENT_GAIN` (−120 dB; all zeros
  included) is refused: normalising it would turn rounding noise into a loud filter.

Uses numpy only (runtime dependency): nothing here runs in the audio path.
"""

import math
import os
from collections import namedtuple
from fractions import Fraction

import numpy as np

from ..audiofile import read_clip
from ..errors import ArgumentError, AudioFileError, quote
from ..rates import check_sample_rate
from ..resample import resample

#: The longest impulse response accepted, in seconds (at the file's rate).
MAX_IR_SECONDS = 20.0
#: The range of file sample rates accepted (Hz): below 8 kHz no cabinet IR is usable, above 768 kHz
#: the header is wrong.
MIN_IR_RATE = 8000.0
MAX_IR_RATE = 768000.0
#: Below this peak gain (−120 dB) an IR counts as silent and is refused.
SILENT_GAIN = 1e-6
#: The magnitude response is evaluated on at least this many FFT points per tap (and 2**16 in all).
GRID_POINTS_PER_TAP = 8

ImpulseResponse = namedtuple("ImpulseResponse", "taps sample_rate source_rate source gain")
ImpulseResponse.__doc__ = """A prepared IR.

taps : float32 array, the filter at ``sample_rate``; source_rate : the file's (or array's) rate;
source : the file's path or "<array>"; gain : the linear factor normalisation applied (1.0 without).
"""


def peak_gain(taps):
    """max_f |H(f)| of the FIR ``taps``, on a zero-padded FFT grid.

    Parameters
    ----------
    taps : numpy.ndarray
        1-D.

    Returns
    -------
    float
        The largest magnitude over a grid of max(2**16, 8·len(taps)) points (rounded up to a
        power of two), which is within a few hundredths of a dB of the true peak for a smooth
        response such as a cabinet's. Past half a million taps (a long reverb, whose response is
        a dense forest of narrow peaks anyway) the grid stops growing at max(2**22, 2·len(taps))
        points, so the transform stays within a few hundred MB.
    """
    wanted = min(GRID_POINTS_PER_TAP * len(taps), max(1 << 22, 2 * len(taps)))
    points = 1 << max(16, math.ceil(math.log2(max(wanted, 1))))
    return float(np.max(np.abs(np.fft.rfft(np.asarray(taps, np.float64), points))))


def resample_ir(taps, from_rate, to_rate):
    """The IR ``taps`` at ``from_rate`` as an IR at ``to_rate``: band-limited, the same gain in Hz.

    engine.resample.resample (FFT: the spectrum is truncated or zero-padded, an ideal low-pass at
    the lower Nyquist frequency) works on one period of a periodic signal, and keeps
    round(n·to/from) samples. So the taps are first padded with zeros to a length N that is at
    least twice theirs plus 64 (the circular wrap then folds only the padding onto the IR) and a
    multiple of q, where to/from = p/q in lowest terms: N·p/q is then a whole number and the
    ratio exact (with an arbitrary N it is rounded, stretching the IR by up to half a sample).
    Rates whose ratio has no denominator up to 10**6 are approximated at 1e-12 or better.

    Parameters
    ----------
    taps : numpy.ndarray
        1-D.
    from_rate, to_rate : float
        Hz.

    Returns
    -------
    numpy.ndarray
        float32, ceil(len(taps)·to/from) taps, scaled by from/to.
    """
    taps = np.asarray(taps, np.float64)
    if from_rate == to_rate:
        return taps.astype(np.float32)
    ratio = (Fraction(to_rate) / Fraction(from_rate)).limit_denominator(10 ** 6)
    q = ratio.denominator
    n_out = math.ceil(len(taps) * to_rate / from_rate - 1e-9)
    padded_length = -(-(2 * len(taps) + 64) // q) * q
    padded = np.zeros(padded_length)
    padded[:len(taps)] = taps
    out = resample(padded, from_rate, to_rate)[:n_out].astype(np.float64)
    return (out * (from_rate / to_rate)).astype(np.float32)


def prepare_taps(samples, source_rate, sample_rate, normalize=True, name="<array>", error=ArgumentError):
    """Check, trim, resample and normalise an IR held in memory (the steps after reading a file).

    Parameters
    ----------
    samples : array_like
        1-D real samples.
    source_rate : float
        Their rate in Hz.
    sample_rate : float
        The running rate in Hz.
    normalize : bool
        Scale to a peak magnitude response of 0 dB (module docstring).
    name : str
        How the IR is named in messages (a file's path, or "<array>").
    error : type
        The EngineError raised for a bad IR (AudioFileError for a file, ArgumentError for an array).

    Returns
    -------
    ImpulseResponse

    Raises
    ------
    ArgumentError or AudioFileError (``error``)
        Not 1-D, empty, not finite, too long, silent, or a source rate out of range.
    SampleRateError
        If ``sample_rate`` is not a positive number.
    """
    sample_rate = check_sample_rate(sample_rate, "sample_rate")
    try:
        source_rate = float(source_rate)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name}: the IR's sample rate must be a number of Hz, got {quote(source_rate)}") from None
    if not MIN_IR_RATE <= source_rate <= MAX_IR_RATE:
        raise error(f"{name}: the IR's sample rate is {source_rate:g} Hz, expected {MIN_IR_RATE:g} to "
                    f"{MAX_IR_RATE:g} Hz")
    try:
        taps = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError):
        raise error(f"{name}: an IR must be an array of numbers, got {type(samples).__name__}") from None
    if taps.ndim != 1:
        raise error(f"{name}: an IR must be 1-D (one channel), got shape {taps.shape}")
    if len(taps) == 0:
        raise error(f"{name}: the IR holds no samples")
    bad = np.flatnonzero(~np.isfinite(taps))
    if len(bad):
        raise error(f"{name}: sample {bad[0]} of the IR is {taps[bad[0]]} (an IR must hold finite samples)")
    if len(taps) > MAX_IR_SECONDS * source_rate:
        raise error(f"{name}: the IR is {len(taps) / source_rate:g} s long ({len(taps)} samples at "
                    f"{source_rate:g} Hz), longer than the {MAX_IR_SECONDS:g} s accepted "
                    f"(engine.dsp.impulse.MAX_IR_SECONDS)")
    nonzero = np.flatnonzero(taps)
    if len(nonzero) == 0:
        raise error(f"{name}: the IR is silent (all {len(taps)} samples are 0)")
    taps = taps[:nonzero[-1] + 1]  # trailing exact zeros do nothing but cost
    taps = resample_ir(taps, source_rate, sample_rate).astype(np.float64)
    peak = peak_gain(taps)
    if not peak >= SILENT_GAIN:
        raise error(f"{name}: the IR is silent (its loudest frequency is at {20 * math.log10(max(peak, 1e-300)):.0f} dB, "
                    f"below the {20 * math.log10(SILENT_GAIN):.0f} dB an IR needs)")
    gain = 1.0 / peak if normalize else 1.0
    return ImpulseResponse((taps * gain).astype(np.float32), sample_rate, source_rate, name, gain)


def load_ir(path, sample_rate, normalize=True, label=None):
    """Read an impulse response file and prepare it for ``sample_rate`` (module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        Any audio file libsndfile reads; its first channel is the IR.
    sample_rate : float
        The running rate in Hz.
    normalize : bool
        Scale to a peak magnitude response of 0 dB.
    label : str, optional
        How the file is named in messages (default: its path), e.g. ``"guitar.yaml: ir x.wav"``.

    Returns
    -------
    ImpulseResponse

    Raises
    ------
    AudioFileError
        The file is missing, not a regular file, not audio, empty, holds NaN or infinity, is
        longer than MAX_IR_SECONDS, is silent, or has a sample rate outside MIN_IR_RATE … MAX_IR_RATE.
    SampleRateError
        If ``sample_rate`` is not a positive number.
    """
    name = label or os.fspath(path)
    samples, rate = read_clip(path, label=name, max_seconds=MAX_IR_SECONDS,
                              hint=f"an impulse response is at most {MAX_IR_SECONDS:g} s of audio")
    return prepare_taps(samples, rate, sample_rate, normalize=normalize, name=name, error=AudioFileError)
