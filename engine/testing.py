"""Helpers for tests and benchmarks: models with random weights, and a guitar-like test signal.

Not used by the engine's audio path; engine.auto builds its probe from ``guitar_like_signal``. ``random_model`` builds the shapes no fixture file has
(controls, gains, Keras GRUs, any size); its weights are deterministic for a given seed.
"""

import numpy as np

from .formats.common import make_recurrent_layer
from .model import DenseLayer, Model, validate_model



def random_model(cell="lstm", hidden=16, layers=1, controls=0, skip=False, sample_rate=44100.0,
                 input_gain_db=0.0, output_gain_db=0.0, reset_after=True, seed=0, head_activation="linear"):
    """A validated Model with PyTorch-like random weights (U(−1/√H, 1/√H), a bit louder for the input).

    Parameters
    ----------
    cell : str
        "lstm" or "gru".
    hidden, layers, controls : int
        Hidden size, recurrent layers, control inputs (knobs) after the audio.
    skip : bool
        Add the input to the output.
    sample_rate : float
        The training rate the model records.
    input_gain_db, output_gain_db : float
        Gains around the network (as AIDA-X files carry).
    reset_after : bool
        GRU convention (False: Keras reset_after=False).
    seed : int
        The weights' random seed.
    head_activation : str
        Not "linear": a dense layer of 8 units with this activation before the output layer.

    Returns
    -------
    Model
    """
    rng = np.random.default_rng(seed)
    gates = 4 if cell == "lstm" else 3
    scale = 1.0 / np.sqrt(hidden)
    stack = []
    width = 1 + controls
    for _ in range(layers):
        def u(*shape, s=scale):
            return rng.uniform(-s, s, shape).astype(np.float32)
        bias_hh = u(gates * hidden) if reset_after else np.zeros(gates * hidden, np.float32)
        stack.append(make_recurrent_layer(cell, width, hidden, u(gates * hidden, width, s=2.0),
                                          u(gates * hidden, hidden, s=2.5 * scale), u(gates * hidden), bias_hh,
                                          reset_after=reset_after))
        width = hidden
    if head_activation != "linear":
        stack.append(DenseLayer(weight=rng.uniform(-1, 1, (8, hidden)).astype(np.float32),
                                bias=rng.uniform(-0.1, 0.1, 8).astype(np.float32), activation=head_activation))
        width = 8
    stack.append(DenseLayer(weight=rng.uniform(-1, 1, (1, width)).astype(np.float32),
                            bias=rng.uniform(-0.1, 0.1, 1).astype(np.float32)))
    return validate_model(Model(layers=tuple(stack), input_size=1 + controls, sample_rate=sample_rate,
                                sample_rate_source="user", format="test", path=f"<random {cell}>", skip=skip,
                                input_gain_db=input_gain_db, output_gain_db=output_gain_db))


def guitar_like_signal(n, sample_rate=44100.0, seed=0, noise=0.01, noise_band_hz=None, peak=0.5):
    """A deterministic plucked-string-like test signal: decaying harmonics with a little noise.

    Four notes (110, 196, 146.8, 329.6 Hz, one every 0.25 s), seven harmonics each at 1/h,
    decaying faster the higher they are; then noise; then scaled to ``peak``. The defaults are
    the signal the tests have always used; engine.auto's probe asks for more noise, band-limited
    the way a guitar pickup's output is.

    Parameters
    ----------
    n : int
        Samples.
    sample_rate : float
        Hz.
    seed : int
        The noise's seed.
    noise : float
        The noise's standard deviation before the scaling to ``peak`` (the harmonics alone peak
        near 1.08).
    noise_band_hz : float, optional
        Band-limit the noise (by FFT) to |H(f)|² = 1/(1 + (f/f_c)^24): flat below f_c, −72 dB per
        octave above it. None: white noise.
    peak : float
        The result's peak.

    Returns
    -------
    numpy.ndarray
        float32 (n,), peak ``peak``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    for start, f0 in ((0.0, 110.0), (0.25, 196.0), (0.5, 146.8), (0.75, 329.6)):
        active = t >= start
        tau = t[active] - start
        for harmonic in range(1, 8):
            y[active] += 0.5 / harmonic * np.exp(-tau * (3.0 + harmonic)) * np.sin(2 * np.pi * f0 * harmonic * tau)
    white = rng.standard_normal(n)
    if noise_band_hz is not None:
        spectrum = np.fft.rfft(white) / np.sqrt(1.0 + (np.fft.rfftfreq(n, 1.0 / sample_rate) / noise_band_hz) ** 24)
        white = np.fft.irfft(spectrum, n)
        white /= max(float(np.std(white)), 1e-30)
    y += noise * white
    return (peak * y / np.max(np.abs(y))).astype(np.float32)


def exploding_model():
    """An LSTM-8 whose dense head overflows to inf − inf = NaN once its hidden state is large.

    Valid weights at float32's limit (Σ 3e38·h over 8 units with h ≈ 0.7 overflows in both
    rows of the head; their difference is NaN): for testing the non-finite guard.

    Returns
    -------
    Model
    """
    hidden = 8
    lstm = make_recurrent_layer("lstm", 1, hidden, np.full((4 * hidden, 1), 3.0, np.float32),
                                np.zeros((4 * hidden, hidden), np.float32),
                                np.zeros(4 * hidden, np.float32), np.zeros(4 * hidden, np.float32))
    huge = DenseLayer(weight=np.full((2, hidden), 3e38, np.float32), bias=np.zeros(2, np.float32))
    difference = DenseLayer(weight=np.array([[1.0, -1.0]], np.float32), bias=np.zeros(1, np.float32))
    return validate_model(Model(layers=(lstm, huge, difference), input_size=1, sample_rate=44100.0,
                                sample_rate_source="user", format="test", path="<exploding>"))
