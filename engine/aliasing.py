"""Aliasing-to-signal ratio (ASR): how much of a model's response to a loud sine lands off its harmonics.

A nonlinear model fed a sine at f0 makes harmonics k·f0; at a sampling rate F those above F/2
fold back to |k·f0 − m·F|, which are not harmonics of f0: aliasing, heard as inharmonic tones
that move against the note. Following the literature (Carson, Wright, Chowdhury, Välimäki,
Bilbao, DAFx 2024; Carson, Välimäki, Wright, Bilbao, IEEE/ACM TASLP 2025), each sine gives

    ASR = 10·log10(Σ_{bins off the harmonics} |Y_b|² / Σ_{harmonic bins} |Y_b|²)   (dB, lower is better)

over the output's steady state. The sine is placed on bin c of an N-sample window (f0 = c·F/N,
coherent sampling) with c coprime to N, and N is a multiple of the resampler's P (F/F_model =
P/Q), so the input is periodic over N samples at the run rate and at the model's rate alike and
the settled output is too: every harmonic lands exactly on a bin k·c, every aliased component
|k·f0 − m·F_model| on another whole bin (k·c ≢ ±j·c mod N for coprime c), with no window and no
leakage. DC (bin 0) counts as neither. The frequencies are high enough that their harmonics fold
within the first few dozen (1–4.2 kHz at 48 kHz: the 6th to 23rd harmonic is the first to fold).
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import StabilityWarning
from .processor import Processor, knob_values

#: The sines (Hz, before snapping to a bin): C6, G6, C7, G7, C8.
ASR_FREQUENCIES = (1046.5, 1568.0, 2093.0, 3136.0, 4186.0)
#: Their peak level: −6 dBFS, loud enough to drive a model into its nonlinearity, as a hot pickup does.
ASR_AMPLITUDE = 0.5
#: The analysis window: at least this long (s), a whole multiple of the resampler's P.
WINDOW_SECONDS = 0.4
#: Settling time before the window (s): the slowest LSTM-40 state (ρ ≈ 0.995 at 44.1 kHz) decays
#: by 10^−8 in 3700 samples, well within it.
SETTLE_SECONDS = 0.5


@dataclass
class AliasingScore:
    """The ASR of one method and oversampling factor at one rate, per sine and their mean."""

    model: str
    rate: float
    method: str
    oversample: int
    ran: str
    latency: int
    frequencies: tuple
    asr_db: tuple

    @property
    def mean_db(self):
        """The mean of the per-sine ASRs, in dB."""
        return float(np.mean(self.asr_db))


def window_frames(processor, seconds=WINDOW_SECONDS):
    """N: at least ``seconds`` at processor.sample_rate and a whole multiple of the resampler's P."""
    resampler = processor._resampler
    step = 1 if resampler is None else resampler.plan.fraction.numerator
    return step * math.ceil(seconds * processor.sample_rate / step)


def coherent_bin(frequency, rate, frames):
    """The bin c nearest ``frequency`` Hz in an N = ``frames`` window at ``rate``, coprime to N."""
    c = max(1, round(frequency * frames / rate))
    for offset in range(frames):
        for candidate in (c + offset, c - offset):
            if 0 < candidate < frames // 2 and math.gcd(candidate, frames) == 1:
                return candidate
    raise AssertionError("unreachable: 1 is coprime to every N")


def asr_db(window, fundamental_bin):
    """ASR (dB) of one settled, N-periodic output window whose input sat on bin ``fundamental_bin``.

    Parameters
    ----------
    window : numpy.ndarray
        N output samples.
    fundamental_bin : int
        c, coprime to N.

    Returns
    -------
    float
        10·log10(off-harmonic power / harmonic power); −inf for a perfectly harmonic output, nan
        for a silent one.
    """
    power = np.abs(np.fft.rfft(np.asarray(window, np.float64))) ** 2
    harmonic = np.zeros(len(power), bool)
    harmonic[fundamental_bin::fundamental_bin] = True
    harmonic[0] = False
    on, off = power[harmonic].sum(), power[1:][~harmonic[1:]].sum()
    if on == 0:
        return math.nan
    return -math.inf if off == 0 else 10 * math.log10(off / on)


def measure(model, rate, method, oversample=1, frequencies=ASR_FREQUENCIES, amplitude=ASR_AMPLITUDE, controls=None):
    """The ASR of ``method`` with ``oversample`` at ``rate`` for each sine.

    Parameters
    ----------
    model : Model
    rate : float
        The run (stream) rate, Hz.
    method : str
        One of engine.INTERPOLATIONS (a method predicted unstable is replaced, as Processor does).
    oversample : int
    frequencies : sequence of float
        Hz, each snapped to its coherent bin.
    amplitude : float
    controls : sequence of float, optional

    Returns
    -------
    AliasingScore
        ``frequencies`` holds the snapped frequencies.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabilityWarning)  # reported through the method that ran
        processor = Processor(model, sample_rate=rate, interpolation=method, oversample=oversample,
                              controls=knob_values(model, controls))
    frames = window_frames(processor)
    settle = int(SETTLE_SECONDS * rate) + processor.latency
    snapped, scores = [], []
    n = np.arange(settle + frames)
    for frequency in frequencies:
        c = coherent_bin(frequency, rate, frames)
        # sin(2π·c·n/N) with the phase reduced exactly (c·n mod N), so the period is exact in float64.
        x = (amplitude * np.sin(2 * np.pi * ((c * n) % frames) / frames)).astype(np.float32)
        processor.reset()
        y = processor.process(x)
        snapped.append(c * rate / frames)
        scores.append(asr_db(y[-frames:], c))
    return AliasingScore(model=model.name, rate=float(rate), method=method, oversample=int(oversample),
                         ran=processor.interpolation, latency=processor.latency, frequencies=tuple(snapped),
                         asr_db=tuple(scores))


def aliasing(model, rates, methods, oversamples=(1,), frequencies=ASR_FREQUENCIES, amplitude=ASR_AMPLITUDE,
             controls=None, progress=None):
    """:func:`measure` for every rate, method and oversampling factor.

    Returns
    -------
    list of AliasingScore
    """
    scores = []
    total = len(rates) * len(methods) * len(oversamples)
    for rate in rates:
        for method in methods:
            for factor in oversamples:
                scores.append(measure(model, rate, method, factor, frequencies, amplitude, controls))
                if progress is not None:
                    progress(len(scores), total)
    return scores


def format_aliasing_table(scores):
    """A text table: one row per rate and oversampling factor, one column per method, mean ASR in dB."""
    methods = list(dict.fromkeys(s.method for s in scores))
    rows = list(dict.fromkeys((s.rate, s.oversample) for s in scores))
    lines = [f"{'rate (Hz)':>10} {'×':>2} " + " ".join(f"{m:>12}" for m in methods)]
    for rate, factor in rows:
        cells = []
        for m in methods:
            s = next(s for s in scores if s.rate == rate and s.oversample == factor and s.method == m)
            text = f"{s.mean_db:.1f}"
            if s.ran != s.method:
                text += f"({s.ran[:3]})"
            cells.append(f"{text:>12}")
        lines.append(f"{rate:>10.0f} {factor:>2} " + " ".join(cells))
    return "\n".join(lines)
