"""Band-limited resampling by FFT (the resampler of the published quality protocol, SRC.md)."""

import numpy as np


def resample(signal, from_rate, to_rate, pad_seconds=0.0):
    """Resample a 1-D signal from ``from_rate`` to ``to_rate`` Hz by zero-padding or truncating its spectrum.

    Parameters
    ----------
    signal : numpy.ndarray
        1-D samples.
    from_rate, to_rate : float
        Rates in Hz.
    pad_seconds : float
        Silence added at both ends before the transform and removed after, so the FFT's
        circular wrap-around does not fold the end of the signal onto its start.

    Returns
    -------
    numpy.ndarray
        float32 samples at ``to_rate``: round(len(signal) · to_rate / from_rate) of them.
    """
    signal = np.asarray(signal, np.float64)
    if from_rate == to_rate:
        return signal.astype(np.float32)
    pad = int(round(pad_seconds * from_rate))
    padded = np.concatenate([np.zeros(pad), signal, np.zeros(pad)]) if pad else signal
    n_out = int(round(len(padded) * to_rate / from_rate))
    spectrum = np.fft.rfft(padded)
    bins = n_out // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins].copy()
        if n_out % 2 == 0:
            spectrum[-1] *= 0.5 if len(padded) > n_out else 1.0  # the new Nyquist bin is shared by ±f
    else:
        if len(padded) % 2 == 0:
            spectrum = spectrum.copy()
            spectrum[-1] *= 0.5  # the old Nyquist bin stood for ±f: split it, half now above the fold
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), spectrum.dtype)])
    out = np.fft.irfft(spectrum, n_out) * (n_out / len(padded))
    if pad:
        out_pad = int(round(pad * to_rate / from_rate))
        out = out[out_pad:out_pad + int(round(len(signal) * to_rate / from_rate))]
    return out.astype(np.float32)
