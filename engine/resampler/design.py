"""The resampler pair's filters: an exact rational ratio, Kaiser-windowed sinc prototypes, polyphase tables.

No numba here (engine.resampler.kernels runs the tables). See engine/resampler/__init__.py for
the design and the figures behind each constant.

Notation (one stage): the input at rate F_a is zero-stuffed by U to the high rate F_h = U·F_a,
filtered by the prototype h (2H + 1 taps, linear phase, centred on tap H), and every V-th sample
is kept, giving F_b = F_h / V. Output j is

    y_j = Σ_i x_i · h[j·V − i·U]                                                  (1)

(scipy.signal.upfirdn(h, x, U, V) computes exactly this). Its value stands for the input at
high-rate time j·V − H. The pair runs two stages on one high rate: with F_outer / F_inner = P/Q
in lowest terms, F_h = P·F_inner = Q·F_outer; the way in has (U, V) = (Q, P), the way back
(P, Q). Their delays add: H_in + H_back = L·Q high-rate samples is the round trip, L whole
samples at the outer rate (the latency), and H_in = D·P is a whole number D of inner samples, so
the model's samples fall on the very instants a model-rate recording of the same signal would
have (its own aliasing is reproduced, not smeared), and the round trip's impulse response is
exactly symmetric about L.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import SampleRateError
from ..kernels.layout import LANES

#: Kaiser window β: side lobes and passband ripple ≈ 81 dB down (A = β/0.1102 + 8.7). β = 6
#: (≈ 63 dB) cost 6.8 dB of mean SNR on the LSTM-40 set, β = 10 gained 0.7 dB (see the package doc).
KAISER_BETA = 8.0
#: Half the length of each filter of the pair, in periods of the lower of its two rates (the
#: windowed sinc's zero crossings on each side), so the design is the same at every rate pair:
#: each stage delays by 22 / F_low (0.5 ms at 44.1 kHz), the round trip 44.1 ↔ 48 kHz is
#: 48 samples at 48 kHz (1.0 ms).
INTO_CROSSINGS = 22
BACK_CROSSINGS = 22
#: With oversampling, the way back's half length: its stopband starts at the stream's Nyquist
#: frequency (BELOW), which takes a longer filter for the same passband.
OVERSAMPLED_BACK_CROSSINGS = 33
#: The most filter phases one stage may have: the numerator and denominator of the rate ratio
#: in lowest terms. Every standard pair is far below (44.1 ↔ 48 kHz: 147/160; 44.1 ↔ 192 kHz: 147/640).
MAX_PHASES = 4096
#: Where a filter's transition band sits relative to the lower of its two rates' Nyquist frequency.
CENTRED = "centred"   # −6 dB at the Nyquist frequency, as a half-band filter: the widest passband
BELOW = "below"       # the stopband starts at the Nyquist frequency: nothing folds back
TRANSITIONS = (CENTRED, BELOW)


def kaiser_attenuation(beta=KAISER_BETA):
    """The stopband attenuation (dB) a Kaiser window of shape ``beta`` gives: A = β/0.1102 + 8.7 (Kaiser, A > 50)."""
    return beta / 0.1102 + 8.7


def transition_width(taps, beta=KAISER_BETA):
    """Kaiser's transition width, as a fraction of the sampling rate, of a ``taps``-long windowed sinc.

    Δf / F = (A − 7.95) / (14.36 · (taps − 1)) (Kaiser's order formula N − 1 = (A − 7.95)/(2.285·Δω)).
    """
    return (kaiser_attenuation(beta) - 7.95) / (14.36 * (taps - 1))


def rate_fraction(outer_rate, inner_rate):
    """F_outer / F_inner as an exact fraction P/Q in lowest terms.

    Parameters
    ----------
    outer_rate, inner_rate : float
        Rates in Hz (already validated positive).

    Returns
    -------
    fractions.Fraction

    Raises
    ------
    SampleRateError
        If P or Q exceeds MAX_PHASES (the filters would need that many phases).
    """
    ratio = Fraction(float(outer_rate)) / Fraction(float(inner_rate))
    if ratio.numerator > MAX_PHASES or ratio.denominator > MAX_PHASES:
        shown = f"{ratio.numerator}/{ratio.denominator}" if max(ratio.numerator, ratio.denominator) < 10 ** 12 \
            else "a fraction of huge whole numbers"
        raise SampleRateError(
            f"cannot resample between {outer_rate:.10g} Hz and {inner_rate:.10g} Hz exactly: their ratio is "
            f"{shown}, and the resampler takes ratios of whole numbers up to {MAX_PHASES} (every standard "
            f"rate pair does: 48000/44100 = 160/147)")
    return ratio


def can_resample(outer_rate, inner_rate):
    """Whether the pair can run between ``outer_rate`` and ``inner_rate`` (:func:`rate_fraction` accepts them).

    Returns
    -------
    bool
    """
    try:
        rate_fraction(outer_rate, inner_rate)
    except SampleRateError:
        return False
    return True


@dataclass(frozen=True)
class Stage:
    """One polyphase stage of equation (1): zero-stuff by ``up``, filter, keep every ``down``-th sample.

    Attributes
    ----------
    up, down : int
        U and V.
    half_width : int
        H: the prototype has 2H + 1 taps and delays by H high-rate samples.
    cutoff : float
        The prototype's cutoff (its −6 dB point) in cycles per high-rate sample.
    prototype : numpy.ndarray
        float32 (2H + 1,): h, including the gain U and the per-phase normalisation; what the
        kernel runs (the tables below are this, rearranged).
    taps : int
        Taps per phase, rounded up to whole 16-lane vectors.
    table : numpy.ndarray
        float32 (up · taps,): phase φ's taps h[φ + t·U] at row φ, in reverse order (the oldest
        input first, as the history buffer holds them), zero-padded at the front.
    """

    up: int
    down: int
    half_width: int
    cutoff: float
    prototype: np.ndarray
    taps: int
    table: np.ndarray


def design_stage(up, down, half_width, cutoff, beta=KAISER_BETA):
    """The Kaiser-windowed sinc prototype of one stage and its polyphase table.

    h[n] = U · 2f_c · sinc(2f_c·(n − H)) · w_β[n], n = 0 … 2H (w_β: Kaiser window); each phase
    h[φ + t·U] is then scaled to sum to exactly 1 (the stage passes DC exactly, with no ripple
    from phase to phase; a phase and its mirror image share a scale, so h stays symmetric).

    Parameters
    ----------
    up, down, half_width : int
        U, V, H (see Stage).
    cutoff : float
        f_c in cycles per high-rate sample (0 < f_c ≤ 0.5/U).
    beta : float
        The Kaiser window's shape.

    Returns
    -------
    Stage
    """
    n = np.arange(2 * half_width + 1)
    h = up * 2.0 * cutoff * np.sinc(2.0 * cutoff * (n - half_width)) * np.kaiser(2 * half_width + 1, beta)
    for phase in range(min(up, len(h))):
        h[phase::up] /= h[phase::up].sum()
    prototype = h.astype(np.float32)
    raw_taps = -(-len(h) // up)
    taps = -(-raw_taps // LANES) * LANES
    table = np.zeros((up, taps), np.float32)
    for phase in range(up):
        branch = prototype[phase::up]
        table[phase, taps - len(branch):] = branch[::-1]
    return Stage(up=up, down=down, half_width=half_width, cutoff=cutoff, prototype=prototype, taps=taps,
                 table=table.reshape(-1))


@dataclass(frozen=True)
class Plan:
    """A resampler pair: outer rate → inner (model) rate → outer rate, with its exact latency.

    Attributes
    ----------
    outer_rate, inner_rate : float
        Hz.
    fraction : fractions.Fraction
        F_outer / F_inner = P/Q in lowest terms.
    into, back : Stage
        The way in (U, V) = (Q, P) and the way back (P, Q).
    latency : int
        L: the round trip delays the signal by exactly L samples at the outer rate.
    inner_delay : int
        D: the way in alone delays by D inner samples (H_in = D·P).
    """

    outer_rate: float
    inner_rate: float
    fraction: Fraction
    into: Stage
    back: Stage
    latency: int
    inner_delay: int

    @property
    def latency_seconds(self):
        """L / F_outer."""
        return self.latency / self.outer_rate


def _cutoff(stage_taps, high_rate, nyquist, transition, beta):
    """f_c (cycles per high-rate sample) for a filter of ``stage_taps`` taps whose edge sits at ``nyquist`` Hz."""
    if transition == CENTRED:
        return nyquist / high_rate
    return max(nyquist / high_rate - 0.5 * transition_width(stage_taps, beta), 0.25 * nyquist / high_rate)


def plan(outer_rate, inner_rate, into_crossings=INTO_CROSSINGS, back_crossings=BACK_CROSSINGS,
         into_transition=CENTRED, back_transition=CENTRED, beta=KAISER_BETA):
    """Design the pair for ``outer_rate`` ↔ ``inner_rate``.

    Parameters
    ----------
    outer_rate : float
        The stream's rate (Hz).
    inner_rate : float
        The rate the model runs at (Hz).
    into_crossings, back_crossings : float
        Half the length of each stage's filter (its delay), in periods of the lower rate.
    into_transition, back_transition : str
        CENTRED or BELOW: where each filter's transition band sits against the lower rate's
        Nyquist frequency.
    beta : float
        Kaiser window shape.

    Returns
    -------
    Plan

    Raises
    ------
    SampleRateError
        If the ratio of the rates is not a fraction of whole numbers up to MAX_PHASES.
    """
    fraction = rate_fraction(outer_rate, inner_rate)
    p, q = fraction.numerator, fraction.denominator
    high_rate = p * float(inner_rate)
    low = min(float(outer_rate), float(inner_rate))
    nyquist = 0.5 * low
    inner_delay = max(1, round(into_crossings / low * inner_rate))
    into_half = inner_delay * p
    # The round trip in whole outer samples, leaving the way back at least one tap per phase each side.
    latency = max(round((into_crossings + back_crossings) / low * outer_rate), -(-(into_half + p) // q))
    back_half = latency * q - into_half
    into = design_stage(q, p, into_half, _cutoff(2 * into_half + 1, high_rate, nyquist, into_transition, beta), beta)
    back = design_stage(p, q, back_half, _cutoff(2 * back_half + 1, high_rate, nyquist, back_transition, beta), beta)
    return Plan(outer_rate=float(outer_rate), inner_rate=float(inner_rate), fraction=fraction, into=into, back=back,
                latency=int(latency), inner_delay=int(inner_delay))


def history_span(taps):
    """The history length per channel for a stage of ``taps`` taps: the next power of two ≥ taps."""
    return 1 << max(4, math.ceil(math.log2(taps)))
