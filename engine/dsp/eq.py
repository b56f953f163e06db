"""EQ after the model: a bass / mid / treble tone stack plus presence, four RBJ biquads in series.

Bands (engine.dsp.settings.EQ_BANDS; every one's gain, frequency and Q is a setting)::

    bass      low shelf   150 Hz   Q 0.7071 (shelf slope S = 1)   gain −20 … +20 dB
    mid       peaking     425 Hz   Q 0.7                          gain −20 … +20 dB
    treble    high shelf 1800 Hz   Q 0.7071                       gain −20 … +20 dB
    presence  peaking    4000 Hz   Q 0.7                          gain −20 … +20 dB

The bass, mid and treble frequencies and Qs are NeuralAmpModeler's tone stack's (bass 150 Hz
Q 0.707, mid 425 Hz, treble 1800 Hz Q 0.707; NAM's knobs span ±20, ±15, ±10 dB); presence is
a broad bell in the 3–5 kHz region a power amp's presence control lifts. At 0 dB a band's
numerator equals its denominator, so the flat EQ passes the signal unchanged.

Coefficients: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients",
as published in W3C's *Audio EQ Cookbook* (Working Group Note, 8 June 2021,
https://www.w3.org/TR/audio-eq-cookbook/). With G the gain in dB, f₀ the frequency, Q, and
f_s the running rate::

    A = 10^(G/40),   w₀ = 2π·f₀/f_s,   α = sin(w₀) / (2Q)

    peaking:    b₀ = 1 + α·A        b₁ = −2·cos w₀        b₂ = 1 − α·A
                a₀ = 1 + α/A        a₁ = −2·cos w₀        a₂ = 1 − α/A
    low shelf:  b₀ =    A·((A+1) − (A−1)·cos w₀ + 2√A·α)
                b₁ =  2·A·((A−1) − (A+1)·cos w₀)
                b₂ =    A·((A+1) − (A−1)·cos w₀ − 2√A·α)
                a₀ =       (A+1) + (A−1)·cos w₀ + 2√A·α
                a₁ =   −2·((A−1) + (A+1)·cos w₀)
                a₂ =       (A+1) + (A−1)·cos w₀ − 2√A·α
    high shelf: b₀ =    A·((A+1) + (A−1)·cos w₀ + 2√A·α)
                b₁ = −2·A·((A−1) + (A+1)·cos w₀)
                b₂ =    A·((A+1) + (A−1)·cos w₀ − 2√A·α)
                a₀ =       (A+1) − (A−1)·cos w₀ + 2√A·α
                a₁ =    2·((A−1) − (A+1)·cos w₀)
                a₂ =       (A+1) − (A−1)·cos w₀ − 2√A·α

and every coefficient is divided by a₀ (stored: b₀, b₁, b₂, a₁, a₂ over a₀). The shelves' Q is
the cookbook's Q form of the slope: Q = 1/√2 is S = 1, the steepest shelf without overshoot.

Filter structure: Direct Form I, y[n] = b₀x[n] + b₁x[n−1] + b₂x[n−2] − a₁y[n−1] − a₂y[n−2]
(cookbook Eq 4), state and arithmetic in float64, audio in and out float32. Why DF-I and not
the transposed DF-II: DF-I's state is the filter's own past input and output, which mean the
same thing whatever the coefficients, so when the coefficients change the recursion simply
continues from the true signal history. A DF-II state (transposed or not) holds partial sums
formed with the old coefficients; after a change they correspond to no input history of the
new filter, which adds a transient of its own to every coefficient change, and a glide is a
stream of such changes. Measured (tests/test_eq.py): the treble band gliding from −20 to +20 dB
under a 1 kHz tone leaves a broadband residue of −64 dB (re the size of the change) in DF-I,
−20 dB in a transposed DF-II following the same coefficient steps. DF-I costs four state values per band instead of two, nothing at this
size; in float64 its rounding is far below float32 output resolution.

Click-free changes: a new setting does not jump. At the start of the block after a change
each changed band glides, linearly in gain (dB), log-frequency and log-Q, from where it is to
the new setting in N = round(ramp_ms · f_s / 1000 / RAMP_STEP) steps, one every RAMP_STEP (16)
samples, its coefficients recomputed at each step (only while it glides: a settled EQ runs the
four sections and nothing else; benchmarks/gate_eq_cost.py measured the kernel at ~11 ns per
sample settled and ~17 with a band gliding through every block, beside ~230–340 for LSTM-40). 16 samples is 0.33 ms at 48 kHz, so a 20 ms glide is 60
steps each 1/60 of the change: the broadband residue of a full-range change stays below
−60 dB of the change's size (the bound tests/test_eq.py designs and checks; an instant change
reaches −40 dB), at 1/16 of the cost of recomputing every sample. A new target during a
glide starts a new glide from the current point. The step grid counts samples from the last
change, never from the block start, so the output is the same for any split of the audio
into blocks. ramp_ms = 0 applies a change at once (which can click), and a change of a band's
filter kind (not a setting today) always does.

Non-finite input samples are processed as 0, like the model kernel; a non-finite output
(only an input near float32's limit can overflow) is written as 0 and clears the history.
History values below 1e-150 are flushed to 0 at the end of each block, so a decaying tail
never reaches subnormal numbers (which cost ~100× per operation on x86).

Use from compiled code (the live callback): allocate ``params`` (EQ_PARAMS_SIZE) and ``state``
(EQ_STATE_SIZE) as float64 arrays, fill params with :func:`write_params`, call :func:`eq_reset`
once, then :func:`eq_block` per block; write a new gain, frequency or Q into params between
blocks (slot EP_BANDS + BAND_PARAMS·b + EB_*) and the band glides there. Values must be valid
(engine.dsp.settings.validate_eq, with the running rate): the kernels trust them.

Array layouts (float64; the lead's compiled callback can hold them)::

    params[EP_RATE]                 sample rate, Hz
    params[EP_RAMP_MS]              glide time, ms
    params[EP_BANDS + 4·b + EB_KIND]      band b's filter kind (KIND_*), b = 0 bass … 3 presence
    params[EP_BANDS + 4·b + EB_GAIN_DB]   gain, dB
    params[EP_BANDS + 4·b + EB_HZ]        frequency, Hz
    params[EP_BANDS + 4·b + EB_Q]         Q
    state[ES_PHASE]                 samples since the last glide step (0 … RAMP_STEP − 1)
    state[ES_BANDS + BAND_STATE·b + k], k =
        BS_X1, BS_X2, BS_Y1, BS_Y2           x[n−1], x[n−2], y[n−1], y[n−2] of band b
        BS_B0, BS_B1, BS_B2, BS_A1, BS_A2    its normalised coefficients
        BS_GAIN_DB, BS_LOG_HZ, BS_LOG_Q      the setting its coefficients are for now
        BS_TARGET_DB, BS_TARGET_HZ, BS_TARGET_Q   the setting it glides to (the params it last saw)
        BS_STEPS                             glide steps left
        BS_KIND                              the filter kind its coefficients are for
"""

import math

import numpy as np
from numba import njit

from ..errors import ArgumentError
from ..kernels.options import INLINE, JIT
from .blocks import run_stage
from .settings import (EQ_BANDS, EQ_PARAMETERS, EqSettings, check_eq_frequencies, checked_sample_rate, replaced,
                       validate_eq)

KIND_PEAKING = 0
KIND_LOW_SHELF = 1
KIND_HIGH_SHELF = 2
KINDS = {"peaking": KIND_PEAKING, "low_shelf": KIND_LOW_SHELF, "high_shelf": KIND_HIGH_SHELF}
BAND_NAMES = tuple(name for name, _, _, _ in EQ_BANDS)
NUM_BANDS = 4
assert len(EQ_BANDS) == NUM_BANDS  # the kernel's band loop is written out for four

#: Samples between two glide steps.
RAMP_STEP = 16

EP_RATE = 0
EP_RAMP_MS = 1
EP_BANDS = 2
EB_KIND = 0
EB_GAIN_DB = 1
EB_HZ = 2
EB_Q = 3
BAND_PARAMS = 4
EQ_PARAMS_SIZE = EP_BANDS + BAND_PARAMS * NUM_BANDS

ES_PHASE = 0
ES_BANDS = 2
BS_X1, BS_X2, BS_Y1, BS_Y2 = 0, 1, 2, 3
BS_B0, BS_B1, BS_B2, BS_A1, BS_A2 = 4, 5, 6, 7, 8
BS_GAIN_DB, BS_LOG_HZ, BS_LOG_Q = 9, 10, 11
BS_TARGET_DB, BS_TARGET_HZ, BS_TARGET_Q = 12, 13, 14
BS_STEPS = 15
BS_KIND = 16
BAND_STATE = 18
EQ_STATE_SIZE = ES_BANDS + BAND_STATE * NUM_BANDS

# The signatures the kernels are compiled for, given up front (see engine.dsp.gate).
BLOCK_SIGNATURE = "void(float32[::1], float32[::1], int64, float64[::1], float64[::1])"
RESET_SIGNATURE = "void(float64[::1], float64[::1])"

#: History values smaller than this are flushed to 0 at the end of a block (no subnormals).
FLUSH_BELOW = 1e-150


@njit(**INLINE)
def rbj_coefficients(kind, gain_db, hz, q, rate, out, at):
    """The cookbook biquad (module docstring) normalised by a₀, written to out[at:at+5] as b₀, b₁, b₂, a₁, a₂."""
    a = math.pow(10.0, gain_db / 40.0)
    w0 = 2.0 * math.pi * hz / rate
    cosw = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * q)
    if kind == KIND_PEAKING:
        b0 = 1.0 + alpha * a
        b1 = -2.0 * cosw
        b2 = 1.0 - alpha * a
        a0 = 1.0 + alpha / a
        a1 = -2.0 * cosw
        a2 = 1.0 - alpha / a
    else:
        root = 2.0 * math.sqrt(a) * alpha
        if kind == KIND_LOW_SHELF:
            b0 = a * ((a + 1.0) - (a - 1.0) * cosw + root)
            b1 = 2.0 * a * ((a - 1.0) - (a + 1.0) * cosw)
            b2 = a * ((a + 1.0) - (a - 1.0) * cosw - root)
            a0 = (a + 1.0) + (a - 1.0) * cosw + root
            a1 = -2.0 * ((a - 1.0) + (a + 1.0) * cosw)
            a2 = (a + 1.0) + (a - 1.0) * cosw - root
        else:
            b0 = a * ((a + 1.0) + (a - 1.0) * cosw + root)
            b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cosw)
            b2 = a * ((a + 1.0) + (a - 1.0) * cosw - root)
            a0 = (a + 1.0) - (a - 1.0) * cosw + root
            a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cosw)
            a2 = (a + 1.0) - (a - 1.0) * cosw - root
    out[at] = b0 / a0
    out[at + 1] = b1 / a0
    out[at + 2] = b2 / a0
    out[at + 3] = a1 / a0
    out[at + 4] = a2 / a0


@njit(**INLINE)
def _snap_band(params, state, b):
    """Band b takes its params' setting at once: targets, current setting and coefficients, no glide."""
    p = EP_BANDS + BAND_PARAMS * b
    s = ES_BANDS + BAND_STATE * b
    kind = params[p + EB_KIND]
    gain_db = params[p + EB_GAIN_DB]
    hz = params[p + EB_HZ]
    q = params[p + EB_Q]
    state[s + BS_KIND] = kind
    state[s + BS_TARGET_DB] = gain_db
    state[s + BS_TARGET_HZ] = hz
    state[s + BS_TARGET_Q] = q
    state[s + BS_GAIN_DB] = gain_db
    state[s + BS_LOG_HZ] = math.log(hz)
    state[s + BS_LOG_Q] = math.log(q)
    state[s + BS_STEPS] = 0.0
    rbj_coefficients(kind, gain_db, hz, q, params[EP_RATE], state, s + BS_B0)


@njit(**INLINE)
def _glide_step(params, state):
    """One glide step of every band that has steps left; returns whether any still has steps left after it."""
    rate = params[EP_RATE]
    gliding = False
    for b in range(NUM_BANDS):
        s = ES_BANDS + BAND_STATE * b
        steps = state[s + BS_STEPS]
        if steps <= 0.0:
            continue
        target_db = state[s + BS_TARGET_DB]
        target_hz = state[s + BS_TARGET_HZ]
        target_q = state[s + BS_TARGET_Q]
        if steps <= 1.0:  # the last step lands exactly on the target
            gain_db, hz, q = target_db, target_hz, target_q
            log_hz, log_q = math.log(target_hz), math.log(target_q)
        else:
            gain_db = state[s + BS_GAIN_DB] + (target_db - state[s + BS_GAIN_DB]) / steps
            log_hz = state[s + BS_LOG_HZ] + (math.log(target_hz) - state[s + BS_LOG_HZ]) / steps
            log_q = state[s + BS_LOG_Q] + (math.log(target_q) - state[s + BS_LOG_Q]) / steps
            hz, q = math.exp(log_hz), math.exp(log_q)
            gliding = True
        state[s + BS_GAIN_DB] = gain_db
        state[s + BS_LOG_HZ] = log_hz
        state[s + BS_LOG_Q] = log_q
        state[s + BS_STEPS] = steps - 1.0
        rbj_coefficients(state[s + BS_KIND], gain_db, hz, q, rate, state, s + BS_B0)
    return gliding


@njit(**INLINE)
def _take_changes(params, state):
    """At a block start: bands whose params differ from the targets they last saw start a glide (or snap).

    Returns whether any band glides now (then the step grid restarts at this block's first sample).
    """
    ramp_ms = params[EP_RAMP_MS]
    steps = math.floor(ramp_ms * params[EP_RATE] / 1000.0 / RAMP_STEP + 0.5)
    if ramp_ms > 0.0 and steps < 1.0:
        steps = 1.0
    started = False
    for b in range(NUM_BANDS):
        p = EP_BANDS + BAND_PARAMS * b
        s = ES_BANDS + BAND_STATE * b
        if params[p + EB_KIND] != state[s + BS_KIND] or steps == 0.0:
            if (params[p + EB_KIND] != state[s + BS_KIND] or params[p + EB_GAIN_DB] != state[s + BS_TARGET_DB]
                    or params[p + EB_HZ] != state[s + BS_TARGET_HZ] or params[p + EB_Q] != state[s + BS_TARGET_Q]):
                _snap_band(params, state, b)
            continue
        if (params[p + EB_GAIN_DB] != state[s + BS_TARGET_DB] or params[p + EB_HZ] != state[s + BS_TARGET_HZ]
                or params[p + EB_Q] != state[s + BS_TARGET_Q]):
            state[s + BS_TARGET_DB] = params[p + EB_GAIN_DB]
            state[s + BS_TARGET_HZ] = params[p + EB_HZ]
            state[s + BS_TARGET_Q] = params[p + EB_Q]
            state[s + BS_STEPS] = steps
            started = True
    return started


@njit(**INLINE)
def _run_biquads(x, y, start, stop, state):
    """The four DF-I sections in series over x[start:stop] → y[start:stop], coefficients fixed meanwhile."""
    s0 = ES_BANDS
    s1 = ES_BANDS + BAND_STATE
    s2 = ES_BANDS + 2 * BAND_STATE
    s3 = ES_BANDS + 3 * BAND_STATE
    # Coefficients and history in locals (registers) for the whole segment.
    b00, b01, b02, a01, a02 = state[s0 + BS_B0], state[s0 + BS_B1], state[s0 + BS_B2], state[s0 + BS_A1], state[s0 + BS_A2]
    b10, b11, b12, a11, a12 = state[s1 + BS_B0], state[s1 + BS_B1], state[s1 + BS_B2], state[s1 + BS_A1], state[s1 + BS_A2]
    b20, b21, b22, a21, a22 = state[s2 + BS_B0], state[s2 + BS_B1], state[s2 + BS_B2], state[s2 + BS_A1], state[s2 + BS_A2]
    b30, b31, b32, a31, a32 = state[s3 + BS_B0], state[s3 + BS_B1], state[s3 + BS_B2], state[s3 + BS_A1], state[s3 + BS_A2]
    x01, x02, y01, y02 = state[s0 + BS_X1], state[s0 + BS_X2], state[s0 + BS_Y1], state[s0 + BS_Y2]
    x11, x12, y11, y12 = state[s1 + BS_X1], state[s1 + BS_X2], state[s1 + BS_Y1], state[s1 + BS_Y2]
    x21, x22, y21, y22 = state[s2 + BS_X1], state[s2 + BS_X2], state[s2 + BS_Y1], state[s2 + BS_Y2]
    x31, x32, y31, y32 = state[s3 + BS_X1], state[s3 + BS_X2], state[s3 + BS_Y1], state[s3 + BS_Y2]
    for n in range(start, stop):
        v = np.float64(x[n])
        if not np.isfinite(v):  # as the model kernel: a NaN or Inf input sample is processed as 0
            v = 0.0
        w0 = b00 * v + b01 * x01 + b02 * x02 - a01 * y01 - a02 * y02
        x02, x01, y02, y01 = x01, v, y01, w0
        w1 = b10 * w0 + b11 * x11 + b12 * x12 - a11 * y11 - a12 * y12
        x12, x11, y12, y11 = x11, w0, y11, w1
        w2 = b20 * w1 + b21 * x21 + b22 * x22 - a21 * y21 - a22 * y22
        x22, x21, y22, y21 = x21, w1, y21, w2
        w3 = b30 * w2 + b31 * x31 + b32 * x32 - a31 * y31 - a32 * y32
        x32, x31, y32, y31 = x31, w2, y31, w3
        out = np.float32(w3)
        if not np.isfinite(out):  # only an input near float32's limit overflows: mute, restart
            out = np.float32(0.0)
            x01 = x02 = y01 = y02 = x11 = x12 = y11 = y12 = 0.0
            x21 = x22 = y21 = y22 = x31 = x32 = y31 = y32 = 0.0
        y[n] = out
    state[s0 + BS_X1], state[s0 + BS_X2], state[s0 + BS_Y1], state[s0 + BS_Y2] = x01, x02, y01, y02
    state[s1 + BS_X1], state[s1 + BS_X2], state[s1 + BS_Y1], state[s1 + BS_Y2] = x11, x12, y11, y12
    state[s2 + BS_X1], state[s2 + BS_X2], state[s2 + BS_Y1], state[s2 + BS_Y2] = x21, x22, y21, y22
    state[s3 + BS_X1], state[s3 + BS_X2], state[s3 + BS_Y1], state[s3 + BS_Y2] = x31, x32, y31, y32


@njit(BLOCK_SIGNATURE, **JIT)
def eq_block(x, y, frames, params, state):
    """Equalise x[:frames] into y[:frames] (y may be x); settings changed in params glide from this block on.

    Parameters
    ----------
    x : float32[::1]
        Input, at least ``frames`` samples.
    y : float32[::1]
        Output, at least ``frames`` samples.
    frames : int
    params : float64[::1]
        EQ_PARAMS_SIZE values, layout in the module docstring.
    state : float64[::1]
        EQ_STATE_SIZE values, updated (prepared by :func:`eq_reset`).
    """
    if _take_changes(params, state):
        state[ES_PHASE] = 0.0
    phase = int(state[ES_PHASE])
    gliding = False
    for b in range(NUM_BANDS):
        if state[ES_BANDS + BAND_STATE * b + BS_STEPS] > 0.0:
            gliding = True
    n = 0
    while n < frames:
        if gliding:
            if phase == 0:
                gliding = _glide_step(params, state)
            stop = min(frames, n + RAMP_STEP - phase)
        else:
            stop = frames
        _run_biquads(x, y, n, stop, state)
        phase = (phase + stop - n) % RAMP_STEP
        n = stop
    state[ES_PHASE] = phase
    for b in range(NUM_BANDS):
        s = ES_BANDS + BAND_STATE * b
        for k in range(BS_X1, BS_Y2 + 1):
            if abs(state[s + k]) < FLUSH_BELOW:
                state[s + k] = 0.0


@njit(RESET_SIGNATURE, **JIT)
def eq_reset(params, state):
    """Clear the history and give every band its params' setting at once (no glide).

    Parameters
    ----------
    params, state : float64[::1]
        As in :func:`eq_block`; ``state`` is overwritten.
    """
    for i in range(EQ_STATE_SIZE):
        state[i] = 0.0
    for b in range(NUM_BANDS):
        _snap_band(params, state, b)


def write_params(settings, sample_rate, params):
    """Write ``settings`` and the rate into a params array in place.

    Parameters
    ----------
    settings : EqSettings
    sample_rate : float
    params : numpy.ndarray
        float64, EQ_PARAMS_SIZE values.
    """
    params[EP_RATE] = sample_rate
    params[EP_RAMP_MS] = settings.ramp_ms
    for b, (name, kind, _, _) in enumerate(EQ_BANDS):
        p = EP_BANDS + BAND_PARAMS * b
        params[p + EB_KIND] = KINDS[kind]
        params[p + EB_GAIN_DB] = getattr(settings, f"{name}_db")
        params[p + EB_HZ] = getattr(settings, f"{name}_hz")
        params[p + EB_Q] = getattr(settings, f"{name}_q")


class Equalizer:
    """The four-band tone stack (module docstring): ``prepare(rate)``, ``reset()``, ``process(block)``, ``set(...)``.

    Parameters
    ----------
    settings : EqSettings or dict, optional
        Validated settings, or the stage's keys (validated here; see engine.dsp.settings).

    Raises
    ------
    ConfigError
        If a key is unknown or a value out of its range.

    Attributes
    ----------
    params, state : numpy.ndarray
        The kernel's arrays (layouts in the module docstring), allocated once here.
    """

    def __init__(self, settings=None):
        self.settings = settings if isinstance(settings, EqSettings) else validate_eq(settings, "<Equalizer>")
        self.params = np.zeros(EQ_PARAMS_SIZE, np.float64)
        self.state = np.zeros(EQ_STATE_SIZE, np.float64)
        self.sample_rate = None

    def prepare(self, sample_rate):
        """Set the running rate, clear the state (every band at its setting) and compile (or load) the kernel.

        Parameters
        ----------
        sample_rate : float

        Raises
        ------
        SampleRateError
            If the rate is not a number from 8 kHz to 768 kHz.
        ConfigError
            If a band's frequency is at or above this rate's Nyquist frequency.
        """
        rate = checked_sample_rate(sample_rate)
        check_eq_frequencies(self.settings, rate, "<Equalizer>")
        self.sample_rate = rate
        write_params(self.settings, rate, self.params)
        self.reset()
        silence = np.zeros(1, np.float32)
        eq_block(silence, silence, 1, self.params, self.state)  # compiles with the live types
        self.reset()

    def reset(self):
        """Clear the history; every band takes its setting at once. No allocation."""
        eq_reset(self.params, self.state)

    def process(self, x, out=None):
        """Equalise one block.

        Parameters
        ----------
        x : numpy.ndarray
            float32 mono block, any length.
        out : numpy.ndarray, optional
            float32 array of x's shape to write into (may be x).

        Returns
        -------
        numpy.ndarray
            ``out``, or a new array.

        Raises
        ------
        ArgumentError
            If prepare() was not called.
        AudioInputError
            If x or out is not a float32 mono block.
        """
        return run_stage(eq_block, x, out, self.params, self.state, self.sample_rate is not None, "Equalizer.process")

    def set(self, **changes):
        """Change settings; from the next block on, the changed bands glide there in ramp_ms.

        Parameters
        ----------
        **changes : float
            Keys of EQ_PARAMETERS (bass_db=4, presence_hz=3500, ramp_ms=50, ...).

        Raises
        ------
        ConfigError
            On an unknown key, an out-of-range value, or (once prepared) a frequency at or above
            the Nyquist frequency; nothing is changed then.
        """
        settings = replaced(self.settings, changes, EQ_PARAMETERS, "<Equalizer>", "eq")
        if self.sample_rate is not None:
            check_eq_frequencies(settings, self.sample_rate, "<Equalizer>")
        self.settings = settings
        write_params(settings, self.sample_rate or 0.0, self.params)

    def set_gain_db(self, band, value):
        """``set(<band>_db=value)`` for band "bass", "mid", "treble" or "presence"."""
        if band not in BAND_NAMES:
            raise ArgumentError(f"Equalizer.set_gain_db: band must be one of {', '.join(BAND_NAMES)}, got {band!r}")
        self.set(**{f"{band}_db": value})

    def coefficients(self):
        """The coefficients running now, one row per band: b₀, b₁, b₂, a₁, a₂ (normalised by a₀).

        Returns
        -------
        numpy.ndarray
            float64, shape (4, 5), a copy.
        """
        rows = [self.state[ES_BANDS + BAND_STATE * b + BS_B0:ES_BANDS + BAND_STATE * b + BS_A2 + 1]
                for b in range(NUM_BANDS)]
        return np.array(rows)

    def __repr__(self):
        s = self.settings
        return (f"Equalizer(bass {s.bass_db:+g} dB, mid {s.mid_db:+g} dB, treble {s.treble_db:+g} dB, "
                f"presence {s.presence_db:+g} dB)")
