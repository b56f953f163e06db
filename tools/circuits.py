"""Simulated analog guitar circuits: the targets the project's own models are trained on.

Every circuit is a function ``process(x, sample_rate, **parameters) -> y``: ``x`` is a mono
signal in volts (a guitar DI at its usual level peaks around 0.3-0.7 V), converted to float64;
``y`` is float32 of the same length. Nonlinear stages run at ``OVERSAMPLING`` times the rate
(band-limited up- and down-sampling with :func:`scipy.signal.resample_poly` and a Kaiser-window
FIR of ~100 dB stop-band) so that the target is a faithful, alias-free picture of the circuit,
not of a discretisation. Linear stages are discretised with the bilinear transform, pre-warped
at their characteristic frequency.

============================  ================================================================
name (in :data:`CIRCUITS`)    what it models
============================  ================================================================
``overdrive``                 the default target: ``tone(diode_clipper(drive·x))``
``diode_clipper``             RC low-pass into antiparallel silicon diodes (trapezoidal + Newton)
``tone``                      a pedal's passive tone control: 2nd-order low-pass + coupling high-pass
``asymmetric_clipper``        RC low-pass into one diode one way, two in series the other way
``transistor_fuzz``           one-transistor common-emitter fuzz: coupling caps, bias, cutoff/saturation
``hard_clipper``              op-amp rail clipping between pre-emphasis and de-emphasis filters
``tone_stack``                the '59 Fender Bassman treble/mid/bass stack (Yeh & Smith 2006)
``crunch_amp``                ``tone_stack(asymmetric_clipper(x))``: a crunchy amp-like chain
``high_gain_amp``             ``tone_stack(hard_clipper(x))`` at 32 dB of drive: a high-gain amp
``cabinet``                   a guitar speaker cabinet's response: low resonance, presence peak,
                              steep treble roll-off (linear)
``<name>_cab``                the pedal or amp ``<name>`` into :func:`cabinet`, as a capture of an
                              amp through its speaker (most real amp captures) hears it: for
                              ``diode_clipper``, ``asymmetric_clipper``, ``transistor_fuzz``,
                              ``hard_clipper``, ``tone_stack`` (with 12 dB make-up), ``crunch_amp``
                              and ``high_gain_amp``
``miked_cabinet``             :func:`cabinet` with a sharper box resonance and a real speaker's cone
                              break-up peaks and notches (1–5 kHz), as a close microphone hears it
``<name>_mic``                ``<name>`` into :func:`miked_cabinet`: as rate-sensitive as the
                              published GuitarML captures; for ``crunch_amp``, ``high_gain_amp``,
                              ``transistor_fuzz``, ``tone_stack`` (12 dB make-up), ``asymmetric_clipper``
============================  ================================================================

Only numpy, scipy and numba are used (no torch): the tests import this module. The per-sample
implicit solvers are module-level ``@njit(cache=True)`` functions that trust their arguments;
the public functions check them.
"""

import functools

import numpy as np
from numba import njit
from scipy import signal

#: Oversampling factor of every nonlinear stage.
OVERSAMPLING = 8

#: Thermal voltage kT/q at 300 K (V).
THERMAL_VOLTAGE = 25.85e-3

#: 1N4148 small-signal silicon diode: saturation current (A) and emission coefficient
#: (the values of Yeh, Abel & Smith, "Simplified, physically-informed models of distortion and
#: overdrive guitar effects pedals", DAFx 2007).
DIODE_SATURATION_CURRENT = 2.52e-9
DIODE_EMISSION = 1.752

#: The RC low-pass in front of the diodes (Yeh et al. 2007): 2.2 kΩ and 10 nF, corner ≈ 7.2 kHz.
CLIPPER_RESISTANCE = 2.2e3
CLIPPER_CAPACITANCE = 10e-9

#: The default target: drive (dB) before the clipper, tone corner (Hz) and output level.
OVERDRIVE_DRIVE_DB = 20.0
OVERDRIVE_TONE_HZ = 4000.0
OVERDRIVE_LEVEL = 1.0

#: Newton stopping rule of the implicit solvers (V) and its iteration cap.
NEWTON_TOLERANCE = 1e-13
NEWTON_MAX_ITERATIONS = 60


# -- argument checks and resampling ----------------------------------------------------------

def _signal(x):
    """x as a contiguous float64 1-D array, or ValueError."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if x.ndim != 1:
        raise ValueError(f"x must be a mono signal of shape (n,), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or infinite values")
    return x


def _rate(sample_rate):
    rate = float(sample_rate)
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return rate


def _out(y):
    return np.ascontiguousarray(y, dtype=np.float32)


@functools.lru_cache(maxsize=None)
def _resampling_filter(factor):
    """Linear-phase FIR for ×factor resampling: flat to 0.42·F, ≥ 95 dB down from 0.49·F (F: the low rate).

    Odd length, so resample_poly keeps the signal time-aligned.
    """
    half_len = 48 * factor
    return signal.firwin(2 * half_len + 1, 0.91 / factor, window=("kaiser", 10.0))


def upsample(x, factor=OVERSAMPLING):
    """Band-limited ×factor interpolation (same start time, factor·n samples)."""
    return signal.resample_poly(x, factor, 1, window=_resampling_filter(factor))


def downsample(x, factor=OVERSAMPLING):
    """Band-limited ÷factor decimation: the inverse of :func:`upsample` for band-limited signals."""
    return signal.resample_poly(x, 1, factor, window=_resampling_filter(factor))


def _bilinear(b, a, sample_rate, warp_hz):
    """Digital (b, a) of the analog H(s) = b(s)/a(s) (highest power first), pre-warped at warp_hz.

    The bilinear transform s = K·(1 − z⁻¹)/(1 + z⁻¹) with K = ω/tan(ω/(2F)) maps the analog
    response at warp_hz exactly onto the digital response at warp_hz.
    """
    omega = 2 * np.pi * warp_hz
    k = omega / np.tan(omega / (2 * sample_rate))
    return signal.bilinear(b, a, fs=k / 2)


def _one_pole_high_pass(x, sample_rate, corner_hz):
    """First-order high-pass s/(s + ω) (a coupling capacitor into a resistor)."""
    omega = 2 * np.pi * corner_hz
    b, a = _bilinear([1.0, 0.0], [1.0, omega], sample_rate, corner_hz)
    return signal.lfilter(b, a, x)


# -- the RC-diode clipper: C dV/dt = (Vin − V)/R − i_D(V) --------------------------------------

@njit(cache=True)
def _diode_current(v, is_forward, nvt_forward, is_reverse, nvt_reverse):
    """i_D(V) = Is_f·(exp(V/nVt_f) − 1) − Is_r·(exp(−V/nVt_r) − 1) and its derivative dI/dV."""
    e_forward = np.exp(v / nvt_forward)
    e_reverse = np.exp(-v / nvt_reverse)
    current = is_forward * (e_forward - 1.0) - is_reverse * (e_reverse - 1.0)
    slope = is_forward / nvt_forward * e_forward + is_reverse / nvt_reverse * e_reverse
    return current, slope


@njit(cache=True)
def _rc_diode_solve(vin, dt, resistance, capacitance, is_forward, nvt_forward, is_reverse, nvt_reverse,
                    tolerance, max_iterations, v_out, iterations_out):
    """Trapezoidal-rule solution of C dV/dt = (Vin − V)/R − i_D(V), from V = 0 and Vin = 0 before.

    With F(V, Vin) = ((Vin − V)/R − i_D(V))/C the rule is
        V_n = V_{n−1} + (T/2)·(F(V_n, Vin_n) + F(V_{n−1}, Vin_{n−1})),
    i.e. g(V_n) = a·V_n + k·i_D(V_n) − b_n = 0 with k = T/(2C), a = 1 + k/R and
    b_n = V_{n−1} + k·Vin_n/R + (T/2)·F(V_{n−1}, Vin_{n−1}).

    i_D increases with the sign of V, so g increases and its root V* lies between 0 and b/a. The
    diode law tightens that bracket: for b > 0, i_D(V) ≥ Is_f·(exp(V/nVt_f) − 1) gives
    V* ≤ nVt_f·log1p((b − a·lo)/(k·Is_f)) for any lower bound lo (mirrored for b < 0). Newton's
    method starts from V_{n−1}; every evaluated point narrows the bracket; a Newton step that would
    leave it goes to the freshly tightened far end instead (where the exponential is bounded, so
    Newton converges fast), or bisects. Writes V_n to v_out and the steps used to iterations_out.
    """
    k = dt / (2.0 * capacitance)
    a = 1.0 + k / resistance
    v = 0.0
    half_step_slope = 0.0  # (T/2)·F(V_{n−1}, Vin_{n−1}); zero for the rest state
    for n in range(vin.shape[0]):
        b = v + k * vin[n] / resistance + half_step_slope
        if b >= 0.0:
            lo = 0.0
            hi = min(b / a, nvt_forward * np.log1p(b / (k * is_forward)))
        else:
            lo = max(b / a, -nvt_reverse * np.log1p(-b / (k * is_reverse)))
            hi = 0.0
        lo_seen = False  # whether g has been evaluated at lo / hi
        hi_seen = False
        guess = min(max(v, lo), hi)
        count = 0
        current = slope = step = 0.0
        converged = False
        for count in range(1, max_iterations + 1):
            current, slope = _diode_current(guess, is_forward, nvt_forward, is_reverse, nvt_reverse)
            g = a * guess + k * current - b
            if g == 0.0:
                step = 0.0
                converged = True
                break
            if g > 0.0:
                hi, hi_seen = guess, True
                if b < 0.0:
                    bound = -nvt_reverse * np.log1p((a * hi - b) / (k * is_reverse))
                    if bound > lo:
                        lo, lo_seen = bound, False
            else:
                lo, lo_seen = guess, True
                if b >= 0.0:
                    bound = nvt_forward * np.log1p((b - a * lo) / (k * is_forward))
                    if bound < hi:
                        hi, hi_seen = bound, False
            step = -g / (a + k * slope)
            if abs(step) <= tolerance:  # converged (checked first: the root may sit on a bound)
                guess += step
                converged = True
                break
            proposal = guess + step
            if proposal >= hi:
                proposal = 0.5 * (lo + hi) if hi_seen else hi
            elif proposal <= lo:
                proposal = 0.5 * (lo + hi) if lo_seen else lo
            guess = proposal
        v = guess
        if converged:
            # The last evaluation is one converged step away: correct it to first order (the
            # error, ~i''·step², is far below rounding) rather than evaluate the exponentials again.
            current += slope * step
        else:  # not reached in practice: the bracket guarantees convergence long before the cap
            current, slope = _diode_current(v, is_forward, nvt_forward, is_reverse, nvt_reverse)
        half_step_slope = k * ((vin[n] - v) / resistance - current)
        v_out[n] = v
        iterations_out[n] = count


def rc_diode_states(vin, sample_rate, resistance=CLIPPER_RESISTANCE, capacitance=CLIPPER_CAPACITANCE,
                    saturation_current=DIODE_SATURATION_CURRENT, emission=DIODE_EMISSION,
                    reverse_saturation_current=None, reverse_emission=None):
    """Capacitor voltage of the RC-diode clipper, solved at ``sample_rate`` itself (no resampling).

    Solves C dV/dt = (Vin − V)/R − i_D(V) with the implicit trapezoidal rule and Newton
    iterations per sample (see :func:`_rc_diode_solve`). For identical diodes both ways,
    i_D(V) = 2·Is·sinh(V/(n·Vt)). The reverse diode string defaults to the forward one.

    Parameters
    ----------
    vin : array_like
        Input voltage (V), one value per sample.
    sample_rate : float
        The rate (Hz) of ``vin``; use an oversampled rate for accuracy.
    resistance, capacitance : float
        R (Ω) and C (F) of the low-pass.
    saturation_current, emission : float
        Is (A) and n of the diode(s) conducting for V > 0.
    reverse_saturation_current, reverse_emission : float, optional
        Is and n of the string conducting for V < 0 (two diodes in series: n doubled).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        V (float64, volts) and the Newton steps taken per sample (int64).
    """
    vin = _signal(vin)
    rate = _rate(sample_rate)
    is_reverse = saturation_current if reverse_saturation_current is None else reverse_saturation_current
    n_reverse = emission if reverse_emission is None else reverse_emission
    for name, value in (("resistance", resistance), ("capacitance", capacitance), ("saturation_current",
                        saturation_current), ("emission", emission), ("reverse_saturation_current", is_reverse),
                        ("reverse_emission", n_reverse)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    v = np.empty_like(vin)
    iterations = np.empty(vin.shape, np.int64)
    _rc_diode_solve(vin, 1.0 / rate, float(resistance), float(capacitance), float(saturation_current),
                    float(emission * THERMAL_VOLTAGE), float(is_reverse), float(n_reverse * THERMAL_VOLTAGE),
                    NEWTON_TOLERANCE, NEWTON_MAX_ITERATIONS, v, iterations)
    return v, iterations


def diode_clipper(x, sample_rate, drive_db=0.0, resistance=CLIPPER_RESISTANCE, capacitance=CLIPPER_CAPACITANCE,
                  saturation_current=DIODE_SATURATION_CURRENT, emission=DIODE_EMISSION):
    """The classic diode clipper: a drive gain, an RC low-pass, antiparallel silicon diodes to ground.

    The capacitor voltage obeys

        C·dV/dt = (Vin − V)/R − 2·Is·sinh(V/(n·Vt)),     Vin = 10^(drive_db/20)·x,

    (D. T. Yeh, J. S. Abel, J. O. Smith, "Simplified, physically-informed models of distortion and
    overdrive guitar effects pedals", DAFx 2007, eq. for the RC-diode clipper), solved with the
    implicit trapezoidal rule and Newton iterations per sample at ``OVERSAMPLING``× the rate.
    Small signals see the RC low-pass (corner 1/(2πRC) ≈ 7.2 kHz); large ones are held near the
    diodes' forward voltage (about ±0.6-0.7 V).

    Parameters
    ----------
    x : array_like
        Input (V), shape (n,).
    sample_rate : float
        Hz.
    drive_db : float
        Gain before the clipper.
    resistance, capacitance, saturation_current, emission : float
        R (Ω), C (F), Is (A), n.

    Returns
    -------
    numpy.ndarray
        float32 (n,): the capacitor voltage V.
    """
    return _out(_diode_clipper(_signal(x), _rate(sample_rate), drive_db, resistance, capacitance,
                               saturation_current, emission))


def _diode_clipper(x, rate, drive_db, *circuit):
    vin = upsample(x * 10.0 ** (drive_db / 20.0))
    v, _ = rc_diode_states(vin, rate * OVERSAMPLING, *circuit)
    return downsample(v)


def asymmetric_clipper(x, sample_rate, drive_db=20.0, coupling_hz=20.0):
    """RC low-pass into one 1N4148 for positive voltages and two in series for negative ones.

    C·dV/dt = (Vin − V)/R − Is·(exp(V/(n·Vt)) − 1) + Is·(exp(−V/(2n·Vt)) − 1): the negative half
    clips at about twice the voltage, which adds even harmonics (and a DC shift under drive,
    removed by an output coupling capacitor, a first-order high-pass at ``coupling_hz``).
    Solved like :func:`diode_clipper` (trapezoidal rule, Newton per sample, oversampled).
    """
    return _out(_asymmetric_clipper(_signal(x), _rate(sample_rate), drive_db, coupling_hz))


def _asymmetric_clipper(x, rate, drive_db, coupling_hz):
    vin = upsample(x * 10.0 ** (drive_db / 20.0))
    v, _ = rc_diode_states(vin, rate * OVERSAMPLING, reverse_emission=2.0 * DIODE_EMISSION)
    return _one_pole_high_pass(downsample(v), rate, coupling_hz)


# -- linear stages ---------------------------------------------------------------------------

def tone(x, sample_rate, cutoff_hz=OVERDRIVE_TONE_HZ, q=0.707, coupling_hz=30.0):
    """A pedal's tone/output section: second-order low-pass and a coupling high-pass.

    H(s) = ω₀² / (s² + (ω₀/Q)·s + ω₀²) · s / (s + ω_c), ω₀ = 2π·cutoff_hz, ω_c = 2π·coupling_hz,
    each discretised by the bilinear transform pre-warped at its corner.
    """
    return _out(_tone(_signal(x), _rate(sample_rate), cutoff_hz, q, coupling_hz))


def _tone(x, rate, cutoff_hz, q, coupling_hz):
    if not 0 < cutoff_hz < rate / 2:
        raise ValueError(f"cutoff_hz must lie between 0 and the Nyquist frequency {rate / 2:g} Hz, got {cutoff_hz!r}")
    omega = 2 * np.pi * cutoff_hz
    b, a = _bilinear([omega ** 2], [1.0, omega / q, omega ** 2], rate, cutoff_hz)
    y = signal.lfilter(b, a, x)
    if coupling_hz:
        y = _one_pole_high_pass(y, rate, coupling_hz)
    return y


#: '59 Fender Bassman 5F6-A tone stack components (Ω, F).
BASSMAN = dict(r1=250e3, r2=1e6, r3=25e3, r4=56e3, c1=250e-12, c2=20e-9, c3=20e-9)


def tone_stack_coefficients(treble=0.5, middle=0.5, bass=0.5, r1=BASSMAN["r1"], r2=BASSMAN["r2"],
                            r3=BASSMAN["r3"], r4=BASSMAN["r4"], c1=BASSMAN["c1"], c2=BASSMAN["c2"],
                            c3=BASSMAN["c3"]):
    """Analog H(s) = (b3·s³ + b2·s² + b1·s)/(a3·s³ + a2·s² + a1·s + 1) of the Fender treble/mid/bass stack.

    From the nodal analysis of D. T. Yeh and J. O. Smith, "Discretization of the '59 Fender
    Bassman tone stack", DAFx 2006 (t, m, l: pot positions 0-1, all pots linear here). The
    circuit, driven by Vi from a low source impedance and read at the treble wiper Vo unloaded:
    Vi –C1– top of the treble pot R1; the wiper (Vo) splits R1 into (1−t)·R1 above and t·R1 below;
    the bottom of R1 –bass pot l·R2 (a variable resistor)– top of the mid pot R3, whose wiper
    splits it into (1−m)·R3 above and m·R3 to ground; Vi –R4– a node that reaches the bottom of
    R1 through C2 and the mid wiper through C3.

    Returns
    -------
    (list, list)
        b and a, highest power of s first.
    """
    t, m, l = float(treble), float(middle), float(bass)
    for name, value in (("treble", t), ("middle", m), ("bass", l)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in 0..1, got {value!r}")
    R1, R2, R3, R4, C1, C2, C3 = r1, r2, r3, r4, c1, c2, c3
    b1 = t * C1 * R1 + m * C3 * R3 + l * (C1 * R2 + C2 * R2) + (C1 * R3 + C2 * R3)
    b2 = (t * (C1 * C2 * R1 * R4 + C1 * C3 * R1 * R4) - m ** 2 * (C1 * C3 * R3 ** 2 + C2 * C3 * R3 ** 2)
          + m * (C1 * C3 * R1 * R3 + C1 * C3 * R3 ** 2 + C2 * C3 * R3 ** 2)
          + l * (C1 * C2 * R1 * R2 + C1 * C2 * R2 * R4 + C1 * C3 * R2 * R4)
          + l * m * (C1 * C3 * R2 * R3 + C2 * C3 * R2 * R3)
          + (C1 * C2 * R1 * R3 + C1 * C2 * R3 * R4 + C1 * C3 * R3 * R4))
    b3 = (l * m * (C1 * C2 * C3 * R1 * R2 * R3 + C1 * C2 * C3 * R2 * R3 * R4)
          - m ** 2 * (C1 * C2 * C3 * R1 * R3 ** 2 + C1 * C2 * C3 * R3 ** 2 * R4)
          + m * (C1 * C2 * C3 * R1 * R3 ** 2 + C1 * C2 * C3 * R3 ** 2 * R4)
          + t * C1 * C2 * C3 * R1 * R3 * R4 - t * m * C1 * C2 * C3 * R1 * R3 * R4
          + t * l * C1 * C2 * C3 * R1 * R2 * R4)
    a1 = (C1 * R1 + C1 * R3 + C2 * R3 + C2 * R4 + C3 * R4) + m * C3 * R3 + l * (C1 * R2 + C2 * R2)
    a2 = (m * (C1 * C3 * R1 * R3 - C2 * C3 * R3 * R4 + C1 * C3 * R3 ** 2 + C2 * C3 * R3 ** 2)
          + l * m * (C1 * C3 * R2 * R3 + C2 * C3 * R2 * R3) - m ** 2 * (C1 * C3 * R3 ** 2 + C2 * C3 * R3 ** 2)
          + l * (C1 * C2 * R2 * R4 + C1 * C2 * R1 * R2 + C1 * C3 * R2 * R4 + C2 * C3 * R2 * R4)
          + (C1 * C2 * R1 * R4 + C1 * C3 * R1 * R4 + C1 * C2 * R3 * R4 + C1 * C2 * R1 * R3
             + C1 * C3 * R3 * R4 + C2 * C3 * R3 * R4))
    a3 = (l * m * (C1 * C2 * C3 * R1 * R2 * R3 + C1 * C2 * C3 * R2 * R3 * R4)
          - m ** 2 * (C1 * C2 * C3 * R1 * R3 ** 2 + C1 * C2 * C3 * R3 ** 2 * R4)
          + m * (C1 * C2 * C3 * R3 ** 2 * R4 + C1 * C2 * C3 * R1 * R3 ** 2 - C1 * C2 * C3 * R1 * R3 * R4)
          + l * C1 * C2 * C3 * R1 * R2 * R4 + C1 * C2 * C3 * R1 * R3 * R4)
    return [b3, b2, b1, 0.0], [a3, a2, a1, 1.0]


def tone_stack(x, sample_rate, treble=0.5, middle=0.5, bass=0.5, makeup_db=0.0):
    """The passive '59 Fender Bassman tone stack (a third-order filter with the amp's mid scoop).

    Yeh & Smith's analog transfer function (:func:`tone_stack_coefficients`), discretised by the
    bilinear transform pre-warped at 1 kHz; ``makeup_db`` can make up the stack's insertion loss
    (about −2 dB in the bass and −12 dB at 1 kHz with the knobs at noon), as the next tube stage would.
    """
    return _out(_tone_stack(_signal(x), _rate(sample_rate), treble, middle, bass, makeup_db))


def _tone_stack(x, rate, treble, middle, bass, makeup_db):
    b, a = tone_stack_coefficients(treble, middle, bass)
    bz, az = _bilinear(b, a, rate, 1000.0)
    return 10.0 ** (makeup_db / 20.0) * signal.lfilter(bz, az, x)


# -- vectorised nonlinear stages -------------------------------------------------------------

def transistor_fuzz(x, sample_rate, drive_db=6.0, bias=0.45, coupling_hz=80.0, output_hz=15.0, softness=4.0,
                    level=0.5):
    """A one-transistor common-emitter fuzz: input coupling cap, bias, cutoff and saturation.

    The guitar (after ``drive_db``) reaches the base through a coupling capacitor (first-order
    high-pass at ``coupling_hz``) on top of a DC bias V_B0. With emitter degeneration R_E and the
    Ebers-Moll junction, the collector current solves I_C = Is·exp((V_B − R_E·I_C)/Vt), whose
    closed form is I_C = (Vt/R_E)·ω(ln(Is·R_E/Vt) + V_B/Vt) with ω the Wright omega function.
    The current is cut off below the junction's knee and limited in saturation at
    I_max = (Vcc − V_CE,sat)/(R_C + R_E) (a smooth minimum of order ``softness``); the collector
    swing R_C·I_C leaves through an output coupling capacitor (high-pass at ``output_hz``).
    ``bias`` sets the quiescent current as a fraction of I_max: 0.5 is symmetric-ish, lower
    values starve the transistor (gated, sputtery), higher ones clip the top first. The
    nonlinearity runs at ``OVERSAMPLING``× the rate; the output is scaled by ``level``/(R_C·I_max).
    """
    from scipy.special import wrightomega

    x = _signal(x)
    rate = _rate(sample_rate)
    if not 0.0 < bias < 1.0:
        raise ValueError(f"bias must lie strictly between 0 and 1, got {bias!r}")
    vcc, r_c, r_e, i_s, v_sat, vt = 9.0, 4.7e3, 100.0, 1e-14, 0.1, THERMAL_VOLTAGE
    i_max = (vcc - v_sat) / (r_c + r_e)
    i_q = bias * i_max
    v_b0 = vt * np.log(i_q / i_s) + r_e * i_q  # the base voltage that gives I_C = i_q
    base = v_b0 + upsample(_one_pole_high_pass(x * 10.0 ** (drive_db / 20.0), rate, coupling_hz))
    i_c = (vt / r_e) * wrightomega(np.log(i_s * r_e / vt) + base / vt)
    i_c = i_c / (1.0 + (i_c / i_max) ** softness) ** (1.0 / softness)  # smooth min(I_C, I_max)
    swing = -r_c * downsample(i_c)  # collector voltage minus Vcc
    return _out(level / (r_c * i_max) * _one_pole_high_pass(swing, rate, output_hz))


def hard_clipper(x, sample_rate, drive_db=12.0, clip_level=0.5, emphasis_low_hz=600.0, emphasis_high_hz=6000.0):
    """Op-amp rail clipping between a pre-emphasis and the matching de-emphasis filter.

    Pre-emphasis is the first-order high shelf P(s) = (1 + s/ω₁)/(1 + s/ω₂) (ω₁ = 2π·600 Hz,
    ω₂ = 2π·6 kHz: +20 dB of treble), the signal is clipped hard at ±``clip_level`` (the rails),
    and 1/P(s) restores the balance: small signals pass unchanged, large ones distort more in the
    treble (like a Rat/MXR-style pedal with frequency-dependent gain). Filters and clipper all run
    at ``OVERSAMPLING``× the rate, the filters by the bilinear transform.
    """
    x = _signal(x)
    rate = _rate(sample_rate) * OVERSAMPLING
    w1, w2 = 2 * np.pi * emphasis_low_hz, 2 * np.pi * emphasis_high_hz
    b, a = _bilinear([1.0 / w1, 1.0], [1.0 / w2, 1.0], rate, emphasis_low_hz)
    up = upsample(x * 10.0 ** (drive_db / 20.0))
    clipped = np.clip(signal.lfilter(b, a, up), -clip_level, clip_level)
    return _out(downsample(signal.lfilter(a, b, clipped)))


# -- chains ----------------------------------------------------------------------------------

def overdrive(x, sample_rate, drive_db=OVERDRIVE_DRIVE_DB, tone_hz=OVERDRIVE_TONE_HZ, level=OVERDRIVE_LEVEL):
    """The default target: ``level · tone(diode_clipper(drive·x))``, a simple overdrive pedal.

    20 dB of drive into the RC-diode clipper (:func:`diode_clipper`), then the tone section
    (:func:`tone`: 4 kHz second-order low-pass, 30 Hz coupling high-pass).
    """
    x, rate = _signal(x), _rate(sample_rate)
    clipped = _diode_clipper(x, rate, drive_db, CLIPPER_RESISTANCE, CLIPPER_CAPACITANCE, DIODE_SATURATION_CURRENT,
                             DIODE_EMISSION)
    return _out(level * _tone(clipped, rate, tone_hz, 0.707, 30.0))


def crunch_amp(x, sample_rate, drive_db=20.0, treble=0.5, middle=0.5, bass=0.5):
    """An amp-like chain: :func:`asymmetric_clipper` into the Bassman :func:`tone_stack` (knobs at noon)."""
    x, rate = _signal(x), _rate(sample_rate)
    return _out(_tone_stack(_asymmetric_clipper(x, rate, drive_db, 20.0), rate, treble, middle, bass, 0.0))


def high_gain_amp(x, sample_rate, drive_db=32.0, treble=0.5, middle=0.5, bass=0.5):
    """A high-gain amp-like chain: :func:`hard_clipper` with 32 dB of drive (every note clips, even
    its decay), into the Bassman :func:`tone_stack` (knobs at noon, +6 dB make-up).

    Real high-gain captures are among the most rate-sensitive models (dense harmonics through
    sharp filtering): the LSTMs trained on this into the cabinets (``high_gain_amp_cab``,
    ``high_gain_amp_mic``) are the project's stand-ins for them.
    """
    x, rate = _signal(x), _rate(sample_rate)
    clipped = hard_clipper(x, rate, drive_db=drive_db)
    return _out(_tone_stack(np.asarray(clipped, np.float64), rate, treble, middle, bass, 6.0))


# -- the speaker cabinet -----------------------------------------------------------------------

#: A closed-back 4×12" cabinet's response, in the broad strokes every such speaker shares: the
#: cone's resonance in its box at ~90 Hz (below it the response falls at 12 dB/octave), a presence
#: peak around 2.5 kHz, and a steep roll-off above ~4.5 kHz (two second-order low-passes: 24 dB/octave).
CABINET = dict(low_hz=90.0, low_q=1.4, presence_hz=2500.0, presence_db=6.0, presence_q=1.5,
               high_hz=4500.0, high_q=1.0, high2_hz=6500.0, high2_q=0.6)


def cabinet(x, sample_rate, **parameters):
    """A guitar speaker cabinet as a cascade of second-order sections (linear, no oscillator of its own).

    H(s) = s²/(s² + (ω_l/Q_l)s + ω_l²) · (s² + A(ω_p/Q_p)s + ω_p²)/(s² + (ω_p/(A·Q_p))s + ω_p²)
    · Π_{k=1,2} ω_k²/(s² + (ω_k/Q_k)s + ω_k²), A = 10^(presence_db/40) (the RBJ peaking section),
    with the frequencies and Q of :data:`CABINET` (any of them can be passed to override), each
    section discretised by the bilinear transform pre-warped at its own frequency. Captures of an
    amp through its speaker carry such sharp features, which is why a model of one is far more
    sensitive to running at the wrong rate than a model of a pedal.

    Parameters
    ----------
    x : array_like
        Mono signal, shape (n,).
    sample_rate : float
        Its rate in Hz; every cabinet frequency must lie below its Nyquist frequency.
    **parameters
        Overrides of :data:`CABINET` (e.g. ``presence_db=3.0``).

    Returns
    -------
    numpy.ndarray
        float32, shape (n,).

    Raises
    ------
    ValueError
        An unknown parameter, a frequency at or above Nyquist, or a bad signal or rate.
    """
    unknown = set(parameters) - set(CABINET)
    if unknown:
        raise ValueError(f"unknown cabinet parameter(s) {', '.join(sorted(unknown))}; choose from {', '.join(CABINET)}")
    return _out(_cabinet(_signal(x), _rate(sample_rate), **{**CABINET, **parameters}))


def _cabinet(x, rate, low_hz, low_q, presence_hz, presence_db, presence_q, high_hz, high_q, high2_hz, high2_q):
    for hz in (low_hz, presence_hz, high_hz, high2_hz):
        if not 0 < hz < rate / 2:
            raise ValueError(f"cabinet frequencies must lie between 0 and the Nyquist frequency {rate / 2:g} Hz, "
                             f"got {hz!r}")
    w = 2 * np.pi * low_hz
    sections = [([1.0, 0.0, 0.0], [1.0, w / low_q, w * w], low_hz)]
    sections.append(_peaking(presence_hz, presence_db, presence_q))
    for hz, q in ((high_hz, high_q), (high2_hz, high2_q)):
        w = 2 * np.pi * hz
        sections.append(([w * w], [1.0, w / q, w * w], hz))
    return _run_sections(x, rate, sections)


def _peaking(hz, gain_db, q):
    """The RBJ peaking section (s² + A(ω/Q)s + ω²)/(s² + (ω/(A·Q))s + ω²), A = 10^(gain_db/40), as
    (b, a, warp_hz) for :func:`_run_sections`."""
    w, gain = 2 * np.pi * hz, 10.0 ** (gain_db / 40.0)
    return [1.0, gain * w / q, w * w], [1.0, w / (gain * q), w * w], hz


def _run_sections(x, rate, sections):
    """x through analog sections (b, a, warp_hz), each discretised by the bilinear transform pre-warped at warp_hz."""
    for b, a, warp_hz in sections:
        bz, az = _bilinear(b, a, rate, warp_hz)
        x = signal.lfilter(bz, az, x)
    return x


#: A close-miked 4×12" cabinet: the box resonance higher and sharper (110 Hz, Q 2) and, on top of
#: :data:`CABINET`'s broad shape, the peaks and notches of a real speaker's cone break-up and the
#: microphone's comb, as (frequency Hz, gain dB, Q) RBJ peaking sections: a 12" guitar speaker's
#: response is far from smooth between 1 and 5 kHz, with peaks and dips of several dB. Chosen (before
#: any training) so that the chains' own naive error at 48 kHz is the published GuitarML captures'
#: (≈ 10 dB, see models/README.md): sharp features are what make a capture rate-sensitive.
MIKED_CABINET = dict(low_hz=110.0, low_q=2.0)
CONE_BREAKUP = ((400.0, -4.0, 1.5), (1200.0, 6.0, 4.0), (2000.0, -6.0, 4.0), (3000.0, 6.0, 5.0),
                (3800.0, -10.0, 5.0), (5000.0, 6.0, 4.0))


def miked_cabinet(x, sample_rate):
    """A close-miked guitar cabinet: :func:`cabinet` with :data:`MIKED_CABINET`, then :data:`CONE_BREAKUP`.

    H(s) = H_cabinet(s) · Π_k (s² + A_k(ω_k/Q_k)s + ω_k²)/(s² + (ω_k/(A_k·Q_k))s + ω_k²),
    A_k = 10^(gain_k/40), each section discretised by the bilinear transform pre-warped at its own
    frequency (linear, no oscillator of its own).

    Parameters
    ----------
    x : array_like
        Mono signal, shape (n,).
    sample_rate : float
        Its rate in Hz (above 13 kHz: every section lies below the Nyquist frequency).

    Returns
    -------
    numpy.ndarray
        float32, shape (n,).

    Raises
    ------
    ValueError
        A bad signal, or a rate at which a section would reach the Nyquist frequency.
    """
    return _out(_miked_cabinet(_signal(x), _rate(sample_rate)))


def _miked_cabinet(x, rate):
    x = _cabinet(x, rate, **{**CABINET, **MIKED_CABINET})
    return _run_sections(x, rate, [_peaking(hz, gain_db, q) for hz, gain_db, q in CONE_BREAKUP])


def _into_cabinet(name, circuit, miked=False, **settings):
    """``cabinet(circuit(x, rate, **settings))`` (``miked_cabinet`` if miked) as a circuit named ``name``."""
    def process(x, sample_rate):
        x, rate = _signal(x), _rate(sample_rate)
        y = np.asarray(circuit(x, rate, **settings), np.float64)
        return _out(_miked_cabinet(y, rate) if miked else _cabinet(y, rate, **CABINET))
    process.__name__ = name
    process.__doc__ = (f"``{'miked_cabinet' if miked else 'cabinet'}({circuit.__name__}(x"
                       f"{''.join(f', {k}={v!r}' for k, v in settings.items())}))``: "
                       f"the {circuit.__name__.replace('_', ' ')} heard through the "
                       f"{'close-miked ' if miked else ''}speaker cabinet.")
    return process


#: Every circuit by name, each ``process(x, sample_rate) -> float32 y``.
CIRCUITS = {
    "overdrive": overdrive,
    "diode_clipper": diode_clipper,
    "tone": tone,
    "asymmetric_clipper": asymmetric_clipper,
    "transistor_fuzz": transistor_fuzz,
    "hard_clipper": hard_clipper,
    "tone_stack": tone_stack,
    "crunch_amp": crunch_amp,
    "high_gain_amp": high_gain_amp,
    "cabinet": cabinet,
}
CIRCUITS.update({
    f"{name}_cab": _into_cabinet(f"{name}_cab", CIRCUITS[name], **settings)
    for name, settings in (("diode_clipper", dict(drive_db=20.0)), ("asymmetric_clipper", {}),
                           ("transistor_fuzz", {}), ("hard_clipper", {}), ("tone_stack", dict(makeup_db=12.0)),
                           ("crunch_amp", {}), ("high_gain_amp", {}))
})
CIRCUITS["miked_cabinet"] = miked_cabinet
CIRCUITS.update({
    f"{name}_mic": _into_cabinet(f"{name}_mic", CIRCUITS[name], miked=True, **settings)
    for name, settings in (("crunch_amp", {}), ("high_gain_amp", {}), ("transistor_fuzz", {}),
                           ("tone_stack", dict(makeup_db=12.0)), ("asymmetric_clipper", {}))
})


def get(name):
    """The circuit called ``name`` (see :data:`CIRCUITS`), or ValueError listing the valid names."""
    try:
        return CIRCUITS[name]
    except KeyError:
        raise ValueError(f"unknown circuit {name!r}; choose one of {', '.join(CIRCUITS)}") from None
