"""Noise gate: a level detector, a threshold with hysteresis and hold, and a smoothed gain.

Where it goes: before the model, on the guitar's direct signal, where the noise floor is lowest
and steadiest. NeuralAmpModeler's plugin does the same: its trigger listens to the input before
the model (it then applies the gain to the model's output; :func:`gate_gain_block` and
:func:`apply_gain_block` allow that arrangement too). Design facts taken from NAM's gate
(AudioDSPTools ``dsp/NoiseGate.cpp``): the detector is a one-pole average of x² (NAM: a 10 ms
half-life), levels are compared in the power domain with a floor, a hold keeps the gate open
for a while after the level drops, and opening is much faster than closing (NAM: 5 ms open,
10 ms hold, 50 ms close). NAM has no hysteresis (it is an expander whose reduction follows the
level, ratio 0.1); this gate is a two-state gate with hysteresis instead, which is what makes a
decaying note close it exactly once.

Equations (per sample n, f_s the running rate; all in float64)

Level detector, mean square with time constant τ_d = detector_ms / 1000::

    p[n] = c_d · p[n−1] + (1 − c_d) · x[n]²,        c_d = exp(−1 / (τ_d · f_s))
    L[n] = 10 · log10(2 · p[n])  dBFS

so a steady sine of peak amplitude A reads L = 20·log10(A) (AES17's full-scale sine is 0 dBFS).
L is never computed: thresholds are turned into powers once per block,
P_open = ½·10^(T/10) and P_close = ½·10^((T − H)/10), T = threshold_db, H = hysteresis_db.
p is floored at P_FLOOR (−297 dBFS, below every allowed threshold) so that silence never
drives it into subnormal numbers, which cost ~100× more per operation on x86.

State (open o, hold count h), with N_hold = round(hold_ms · f_s / 1000)::

    closed:  p[n] ≥ P_open                  →  open, h = 0
    open:    p[n] < P_close                 →  h += 1; when h > N_hold: closed
             p[n] ≥ P_close                 →  h = 0

so the gate opens on the sample where the level reaches T, stays fully open while the level is
above T − H and for N_hold samples after it falls below, and starts closing on the next one. A
closed gate reopens only when the level climbs back up to T, H dB above where it closed.

Gain, a one-pole glide to the target (no step, so no click)::

    g[n] = t + (g[n−1] − t) · c,   t = 1, c = c_a = exp(−1/(τ_a·f_s)) while open,
                                   t = g_c = 10^(closed_gain_db/20), c = c_r = exp(−1/(τ_r·f_s)) while closed
    y[n] = g[n] · x[n]

with τ_a = attack_ms/1000, τ_r = release_ms/1000: after opening at n₀ the gain has covered
1 − e⁻¹ = 63 % of the way up by n₀ + τ_a·f_s; after closing at n₁, g − g_c = (g₁ − g_c)·c_r^(n−n₁+1)
(8.69 dB per τ_r while g ≫ g_c).

Why a decaying note cannot make it chatter: on a note whose envelope keeps falling, p carries
a ripple at twice the note's frequency of relative size 1/√(1 + (4π f τ_d)²) (±0.4 dB for a low
E, 82 Hz, at τ_d = 10 ms); once the gate has closed below T − H it reopens only at T, H dB
higher (6 dB by default), which a falling envelope never climbs back to.

Parameters are read from the ``params`` array at the start of every block, so a change (a new
threshold, say) takes effect at the next block, and the kernel allocates nothing.

Use from compiled code (the live callback): allocate ``params`` (GATE_PARAMS_SIZE) and ``state``
(GATE_STATE_SIZE) as float64 arrays, fill params with :func:`write_params`, call
:func:`gate_reset` once, then :func:`gate_block` per block; write a new value into its params
slot (GATE_PARAM_INDEX) between blocks to change it. Values must be valid
(engine.dsp.settings.validate_gate): the kernels trust them.

Array layouts (float64; the lead's compiled callback can hold them)::

    params[GP_RATE]            sample rate, Hz
    params[GP_THRESHOLD_DB]    T, dBFS
    params[GP_HYSTERESIS_DB]   H, dB
    params[GP_ATTACK_MS]       τ_a, ms
    params[GP_HOLD_MS]         hold, ms
    params[GP_RELEASE_MS]      τ_r, ms
    params[GP_CLOSED_GAIN_DB]  gain when closed, dB
    params[GP_DETECTOR_MS]     τ_d, ms
    state[GS_POWER]            p (mean square)
    state[GS_GAIN]             g (linear)
    state[GS_OPEN]             1.0 open, 0.0 closed
    state[GS_HELD]             h, samples held below P_close
"""

import math

import numpy as np
from numba import njit

from ..kernels.options import INLINE, JIT
from .blocks import run_stage
from .settings import GATE_PARAMETERS, GateSettings, checked_sample_rate, replaced, validate_gate

GP_RATE = 0
GP_THRESHOLD_DB = 1
GP_HYSTERESIS_DB = 2
GP_ATTACK_MS = 3
GP_HOLD_MS = 4
GP_RELEASE_MS = 5
GP_CLOSED_GAIN_DB = 6
GP_DETECTOR_MS = 7
GATE_PARAMS_SIZE = 8
#: Which params slot holds each settings key.
GATE_PARAM_INDEX = {"threshold_db": GP_THRESHOLD_DB, "hysteresis_db": GP_HYSTERESIS_DB, "attack_ms": GP_ATTACK_MS,
                    "hold_ms": GP_HOLD_MS, "release_ms": GP_RELEASE_MS, "closed_gain_db": GP_CLOSED_GAIN_DB,
                    "detector_ms": GP_DETECTOR_MS}

GS_POWER = 0
GS_GAIN = 1
GS_OPEN = 2
GS_HELD = 3
GATE_STATE_SIZE = 4

#: The detector's floor (mean square): −297 dBFS, far below the lowest threshold (−140 dBFS).
P_FLOOR = 1e-30

MODE_APPLY = 0  # y = g · x
MODE_GAIN = 1   # y = g

# The signatures the kernels are compiled for, given up front (as engine.kernels.block does): numba
# compiles (or loads) them at import, and a call from Python only matches these types, in well under
# a microsecond, instead of the ~1 µs of a dispatcher that may have to compile.
BLOCK_SIGNATURE = "void(float32[::1], float32[::1], int64, float64[::1], float64[::1])"
APPLY_SIGNATURE = "void(float32[::1], float32[::1], float32[::1], int64)"
RESET_SIGNATURE = "void(float64[::1], float64[::1])"


@njit(**INLINE)
def _gate_run(x, y, frames, params, state, mode):
    """The gate over x[:frames] (module docstring's equations); writes g·x or g to y[:frames]."""
    rate = params[GP_RATE]
    c_d = math.exp(-1000.0 / (params[GP_DETECTOR_MS] * rate))
    c_a = math.exp(-1000.0 / (params[GP_ATTACK_MS] * rate))
    c_r = math.exp(-1000.0 / (params[GP_RELEASE_MS] * rate))
    threshold = params[GP_THRESHOLD_DB]
    p_open = 0.5 * math.pow(10.0, 0.1 * threshold)
    p_close = 0.5 * math.pow(10.0, 0.1 * (threshold - params[GP_HYSTERESIS_DB]))
    g_closed = math.pow(10.0, 0.05 * params[GP_CLOSED_GAIN_DB])
    hold = math.floor(params[GP_HOLD_MS] * rate / 1000.0 + 0.5)
    p = state[GS_POWER]
    g = state[GS_GAIN]
    is_open = state[GS_OPEN] != 0.0
    held = state[GS_HELD]
    for n in range(frames):
        v = np.float64(x[n])
        if not np.isfinite(v):  # as the model kernel: a NaN or Inf input sample is processed as 0
            v = 0.0
        p = c_d * p + (1.0 - c_d) * (v * v)
        if p < P_FLOOR:
            p = P_FLOOR
        if is_open:
            if p < p_close:
                held += 1.0
                if held > hold:
                    is_open = False
            else:
                held = 0.0
        elif p >= p_open:
            is_open = True
            held = 0.0
        if is_open:
            g = 1.0 + (g - 1.0) * c_a
        else:
            g = g_closed + (g - g_closed) * c_r
        if mode == MODE_APPLY:
            y[n] = g * v
        else:
            y[n] = g
    state[GS_POWER] = p
    state[GS_GAIN] = g
    state[GS_OPEN] = 1.0 if is_open else 0.0
    state[GS_HELD] = held


@njit(BLOCK_SIGNATURE, **JIT)
def gate_block(x, y, frames, params, state):
    """Gate x[:frames] into y[:frames] (y may be x).

    Parameters
    ----------
    x : float32[::1]
        Input, at least ``frames`` samples.
    y : float32[::1]
        Output, at least ``frames`` samples.
    frames : int
    params : float64[::1]
        GATE_PARAMS_SIZE values, layout in the module docstring.
    state : float64[::1]
        GATE_STATE_SIZE values, updated.
    """
    _gate_run(x, y, frames, params, state, MODE_APPLY)


@njit(BLOCK_SIGNATURE, **JIT)
def gate_gain_block(x, gains, frames, params, state):
    """The gate's gain for x[:frames] into gains[:frames], x untouched (to apply it elsewhere, e.g. after the model).

    Parameters
    ----------
    x : float32[::1]
        The signal the detector listens to.
    gains : float32[::1]
        The linear gain per sample.
    frames : int
    params, state : float64[::1]
        As in :func:`gate_block`.
    """
    _gate_run(x, gains, frames, params, state, MODE_GAIN)


@njit(APPLY_SIGNATURE, **JIT)
def apply_gain_block(x, gains, y, frames):
    """y[:frames] = gains[:frames] · x[:frames] (y may be x).

    Parameters
    ----------
    x, gains, y : float32[::1]
    frames : int
    """
    for n in range(frames):
        y[n] = gains[n] * x[n]


@njit(RESET_SIGNATURE, **JIT)
def gate_reset(params, state):
    """A closed gate in silence: p = P_FLOOR, g = the closed gain, hold count 0.

    Parameters
    ----------
    params, state : float64[::1]
        As in :func:`gate_block`; ``state`` is overwritten.
    """
    state[GS_POWER] = P_FLOOR
    state[GS_GAIN] = math.pow(10.0, 0.05 * params[GP_CLOSED_GAIN_DB])
    state[GS_OPEN] = 0.0
    state[GS_HELD] = 0.0


def write_params(settings, sample_rate, params):
    """Write ``settings`` and the rate into a params array in place.

    Parameters
    ----------
    settings : GateSettings
    sample_rate : float
    params : numpy.ndarray
        float64, GATE_PARAMS_SIZE values.
    """
    params[GP_RATE] = sample_rate
    for key, index in GATE_PARAM_INDEX.items():
        params[index] = getattr(settings, key)


class NoiseGate:
    """A mono noise gate (module docstring): ``prepare(rate)``, ``reset()``, ``process(block)``, ``set(...)``.

    Parameters
    ----------
    settings : GateSettings or dict, optional
        Validated settings, or the stage's keys (validated here; see engine.dsp.settings).

    Raises
    ------
    ConfigError
        If a key is unknown or a value out of its range.

    Attributes
    ----------
    params, state : numpy.ndarray
        The kernel's arrays (layouts in the module docstring), allocated once here; ``set``
        and ``reset`` write them in place.
    """

    def __init__(self, settings=None):
        self.settings = settings if isinstance(settings, GateSettings) else validate_gate(settings, "<NoiseGate>")
        self.params = np.zeros(GATE_PARAMS_SIZE, np.float64)
        self.state = np.zeros(GATE_STATE_SIZE, np.float64)
        self.sample_rate = None

    def prepare(self, sample_rate):
        """Set the running rate, clear the state and compile (or load) the kernel.

        Parameters
        ----------
        sample_rate : float

        Raises
        ------
        SampleRateError
            If the rate is not a number from 8 kHz to 768 kHz.
        """
        self.sample_rate = checked_sample_rate(sample_rate)
        write_params(self.settings, self.sample_rate, self.params)
        silence = np.zeros(1, np.float32)
        gate_block(silence, silence, 1, self.params, self.state)  # compiles with the live types
        self.reset()

    def reset(self):
        """Clear the state (a closed gate in silence); no allocation."""
        gate_reset(self.params, self.state)

    def process(self, x, out=None):
        """Gate one block.

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
        return run_stage(gate_block, x, out, self.params, self.state, self.sample_rate is not None, "NoiseGate.process")

    def set(self, **changes):
        """Change settings; they take effect at the next block.

        Parameters
        ----------
        **changes : float
            Keys of GATE_PARAMETERS (threshold_db=-60, hold_ms=100, ...).

        Raises
        ------
        ConfigError
            On an unknown key or an out-of-range value (nothing is changed then).
        """
        self.settings = replaced(self.settings, changes, GATE_PARAMETERS, "<NoiseGate>", "gate")
        write_params(self.settings, self.sample_rate or 0.0, self.params)

    def set_threshold_db(self, value):
        """``set(threshold_db=value)``."""
        self.set(threshold_db=value)

    @property
    def is_open(self):
        """Whether the gate was open at the end of the last block."""
        return bool(self.state[GS_OPEN])

    @property
    def gain(self):
        """The linear gain at the end of the last block."""
        return float(self.state[GS_GAIN])

    def __repr__(self):
        s = self.settings
        return (f"NoiseGate(threshold {s.threshold_db:g} dBFS, hysteresis {s.hysteresis_db:g} dB, attack "
                f"{s.attack_ms:g} ms, hold {s.hold_ms:g} ms, release {s.release_ms:g} ms)")
