"""The noise gate (engine.dsp.gate) against its documented equations, computed here independently.

The test signals have a designed envelope: x[n] = A(n)·(−1)^n, so x² is exactly A² and the
detector's mean square follows the closed form p[n] = A² + (p₀ − A²)·c_d^(k+1) within each
segment of constant A; every expected index (opening, end of hold) and gain value comes from
those formulas, not from the gate's own output. "Silence" is −140 dBFS, not 0, so that the
gain y/x stays observable on every sample.
"""

import math

import numpy as np
import pytest

from conftest import guitar_like_signal
from engine.dsp.gate import GS_GAIN, GS_OPEN, GS_POWER, NoiseGate, gate_block, gate_gain_block
from engine.errors import ArgumentError, AudioInputError

RATE = 48000.0
QUIET = 1e-7  # −140 dBFS: "silence" with an observable gain


def envelope_signal(segments):
    """x = A·(−1)^n over [(samples, A), ...]; also the A² per sample."""
    amplitude = np.concatenate([np.full(n, a, np.float64) for n, a in segments])
    sign = np.where(np.arange(len(amplitude)) % 2 == 0, 1.0, -1.0)
    return (amplitude * sign).astype(np.float32), amplitude.astype(np.float32).astype(np.float64) ** 2


def detector_closed_form(squares, tau_ms, p_start):
    """p[n] of the documented one-pole mean square, segment by segment in closed form."""
    c = math.exp(-1.0 / (tau_ms / 1000.0 * RATE))
    p = np.empty(len(squares))
    start = 0
    previous = p_start
    boundaries = list(np.flatnonzero(np.diff(squares) != 0) + 1) + [len(squares)]
    for stop in boundaries:
        s = squares[start]
        k = np.arange(stop - start)
        p[start:stop] = s + (previous - s) * c ** (k + 1)
        previous = p[stop - 1]
        start = stop
    return p


def gains_of(gate, x):
    y = gate.process(x)
    return y.astype(np.float64) / x.astype(np.float64)


def level_power(db):
    """The mean square the documented level L = 10·log10(2p) reads as ``db``."""
    return 0.5 * 10.0 ** (db / 10.0)


def at_level(db):
    """The A of x = ±A whose level reads ``db`` (x² = A² = p: 3 dB above a sine of peak A)."""
    return math.sqrt(level_power(db))


SETTINGS = dict(threshold_db=-50.0, hysteresis_db=6.0, attack_ms=2.0, hold_ms=10.0, release_ms=30.0,
                closed_gain_db=-60.0, detector_ms=5.0)


def test_opening_holding_and_release_follow_the_documented_equations():
    s = SETTINGS
    x, squares = envelope_signal([(4800, QUIET), (9600, at_level(-43)), (14400, QUIET)])
    gate = NoiseGate(s)
    gate.prepare(RATE)
    g = gains_of(gate, x)

    g_closed = 10 ** (s["closed_gain_db"] / 20)
    p = detector_closed_form(squares, s["detector_ms"], 1e-30)
    # The gate is closed in "silence": exactly the closed gain (it starts closed).
    np.testing.assert_allclose(g[:4800], g_closed, rtol=1e-6)
    # It opens on the first sample whose mean square reaches the threshold's ...
    n_open = int(np.argmax(p >= level_power(s["threshold_db"])))
    assert 4800 < n_open < 4800 + 480  # (a step to −43 dBFS reaches −50 within a fraction of τ_d)
    assert g[n_open - 1] == pytest.approx(g_closed, rel=1e-6) and g[n_open] > 1.5 * g_closed
    # ... and glides up as g = 1 − (1 − g_c)·c_a^(k+1).
    c_a = math.exp(-1.0 / (s["attack_ms"] / 1000 * RATE))
    k = np.arange(4800 + 9600 - n_open)
    np.testing.assert_allclose(g[n_open:4800 + 9600], 1 - (1 - g_closed) * c_a ** (k + 1), rtol=1e-6, atol=1e-7)
    # "Open time ≈ attack": 63 % of the way up after attack_ms (to the sample).
    n63 = int(np.argmax(g >= 1 - (1 - g_closed) / math.e))
    assert abs((n63 + 1 - n_open) - s["attack_ms"] / 1000 * RATE) <= 1

    # After the note stops, the gate stays fully open while the level is above T − H and for
    # hold_ms after it falls below, and starts closing on the next sample.
    n_below = int(np.argmax((p < level_power(s["threshold_db"] - s["hysteresis_db"])) & (np.arange(len(p)) > n_open)))
    n_hold = round(s["hold_ms"] / 1000 * RATE)
    n_release = n_below + n_hold  # the (N_hold + 1)-th sample below the closing level
    assert 4800 + 9600 < n_below < len(x) - 2 * n_hold
    np.testing.assert_allclose(g[n_open + 2000:n_release], 1.0, rtol=1e-6)
    assert g[n_release] < 1 - 1e-4  # 1 − (1 − g_c)(1 − c_r): the first step down
    # Release: g − g_c = (1 − g_c)·c_r^(k+1); the measured time constant is the documented one.
    k = np.arange(len(x) - n_release)
    c_r = math.exp(-1.0 / (s["release_ms"] / 1000 * RATE))
    np.testing.assert_allclose(g[n_release:], g_closed + (1 - g_closed) * c_r ** (k + 1), rtol=1e-5)
    fit = slice(n_release, n_release + int(3 * s["release_ms"] / 1000 * RATE))
    slope = np.polyfit(np.arange(fit.stop - fit.start), np.log(g[fit] - g_closed), 1)[0]
    assert -1.0 / (slope * RATE) * 1000 == pytest.approx(s["release_ms"], rel=2e-3)


def test_a_steady_level_passes_or_is_attenuated_by_exactly_the_closed_gain():
    for closed_db in (-80.0, -20.0):
        gate = NoiseGate(dict(SETTINGS, closed_gain_db=closed_db))
        gate.prepare(RATE)
        below, _ = envelope_signal([(9600, at_level(-60))])  # 10 dB under the threshold
        np.testing.assert_allclose(gains_of(gate, below), 10 ** (closed_db / 20), rtol=1e-6)
        gate.reset()
        above, _ = envelope_signal([(9600, at_level(-30))])
        np.testing.assert_allclose(gains_of(gate, above)[4800:], 1.0, rtol=1e-6)


def test_hysteresis_a_level_between_the_two_thresholds_keeps_the_state():
    """Between T − H and T an open gate stays open and a closed one stays closed."""
    between = at_level(-53)  # T = −50, T − H = −56
    gate = NoiseGate(SETTINGS)
    gate.prepare(RATE)
    x, _ = envelope_signal([(9600, between)])
    np.testing.assert_allclose(gains_of(gate, x), 10 ** (SETTINGS["closed_gain_db"] / 20), rtol=1e-6)
    gate.reset()
    x, _ = envelope_signal([(4800, at_level(-30)), (48000, between)])
    g = gains_of(gate, x)
    np.testing.assert_allclose(g[9600:], 1.0, rtol=1e-6)
    assert gate.is_open


def decaying_note(seconds=5.0, frequency=82.41, tau=0.6, peak=0.5, seed=1):
    """A low E string: an exponential decay through every level, over a −100 dBFS noise floor."""
    t = np.arange(int(seconds * RATE)) / RATE
    note = peak * np.exp(-t / tau) * np.sin(2 * np.pi * frequency * t)
    noise = 1e-5 * np.random.default_rng(seed).standard_normal(len(t))
    return (note + noise).astype(np.float32)


def reopenings(gains):
    """How many times the gain rose again (by more than float32 rounding) after it had started to fall."""
    opened = int(np.argmax(gains > 1 - 1e-6))
    start = opened + int(np.argmax(gains[opened:] < 1 - 1e-4))
    count, low, rising = 0, gains[start], False
    for g in gains[start:]:
        if g > low * (1 + 1e-3):
            if not rising:
                count += 1
            rising = True
        else:
            rising = False
        low = min(low, g)
    return count


def observed_gains(gate, x):
    y = gate.process(x).astype(np.float64)
    gains = np.full(len(x), np.nan)
    usable = np.abs(x) > 1e-6
    gains[usable] = y[usable] / x[usable].astype(np.float64)
    return gains[usable]


@pytest.mark.parametrize("threshold_db,frequency", [(-40.0, 82.41), (-30.0, 82.41), (-55.0, 196.0)])
def test_a_decaying_note_closes_the_gate_exactly_once(threshold_db, frequency):
    x = decaying_note(frequency=frequency)
    gate = NoiseGate(dict(threshold_db=threshold_db))  # defaults: hysteresis 6 dB, hold 50 ms, detector 10 ms
    gate.prepare(RATE)
    g = observed_gains(gate, x)
    assert g.max() == pytest.approx(1.0, abs=1e-6)  # it opened on the attack
    assert reopenings(g) == 0
    assert not gate.is_open and gate.gain < 1e-3


def test_the_chatter_check_catches_a_gate_without_hysteresis_or_hold():
    """The same note through a gate with no hysteresis and no hold reopens on the detector's ripple."""
    x = decaying_note()
    gate = NoiseGate(dict(threshold_db=-40.0, hysteresis_db=0.0, hold_ms=0.0))
    gate.prepare(RATE)
    assert reopenings(observed_gains(gate, x)) >= 2


def test_a_new_threshold_takes_effect_at_the_next_block():
    s = dict(SETTINGS, threshold_db=-60.0)
    gate = NoiseGate(s)
    gate.prepare(RATE)
    x, _ = envelope_signal([(24000, at_level(-40))])
    first = gains_of(gate, x[:12000])
    np.testing.assert_allclose(first[4800:], 1.0, rtol=1e-6)
    gate.set_threshold_db(-20.0)  # now the level is under T − H from the next block's first sample
    g = gains_of(gate, x[12000:])
    n_hold = round(s["hold_ms"] / 1000 * RATE)
    np.testing.assert_allclose(g[:n_hold], 1.0, rtol=1e-6)
    c_r = math.exp(-1.0 / (s["release_ms"] / 1000 * RATE))
    g_closed = 10 ** (s["closed_gain_db"] / 20)
    k = np.arange(len(g) - n_hold)
    np.testing.assert_allclose(g[n_hold:], g_closed + (1 - g_closed) * c_r ** (k + 1), rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_block_sizes_give_the_output_of_one_block(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([guitar_like_signal(48000, RATE, seed=seed), decaying_note(1.0)]) * np.float32(0.3)
    gate = NoiseGate(dict(threshold_db=-45.0, hold_ms=5.0))
    gate.prepare(RATE)
    whole = gate.process(x)
    gate.reset()
    parts, start = [], 0
    while start < len(x):
        size = int(rng.integers(1, 700))
        parts.append(gate.process(x[start:start + size]).copy())
        start += size
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # The gain-only kernel (for applying the gain after the model) gives the same gains.
    gate.reset()
    gains = np.empty_like(x)
    gate_gain_block(x, gains, len(x), gate.params, gate.state)
    np.testing.assert_allclose(gains * x, whole, rtol=2e-7, atol=1e-30)  # the gains are rounded to float32


def test_in_place_processing_and_reset():
    x = guitar_like_signal(9600, RATE)
    gate = NoiseGate(dict(threshold_db=-30.0))
    gate.prepare(RATE)
    expected = gate.process(x)
    gate.reset()
    assert not gate.is_open and gate.state[GS_GAIN] == pytest.approx(10 ** (-80 / 20))
    buffer = x.copy()
    assert gate.process(buffer, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)


def test_non_finite_input_is_processed_as_silence_and_the_state_stays_finite():
    x = guitar_like_signal(4800, RATE)
    x[100:110] = np.nan
    x[200] = np.inf
    gate = NoiseGate(dict(threshold_db=-30.0))
    gate.prepare(RATE)
    y = gate.process(x)
    assert np.all(y[100:110] == 0) and y[200] == 0
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(gate.state))
    assert gate.state[GS_POWER] > 0 and gate.state[GS_OPEN] in (0.0, 1.0)


def test_process_refuses_what_it_cannot_run():
    gate = NoiseGate()
    with pytest.raises(ArgumentError, match="call prepare"):
        gate.process(np.zeros(4, np.float32))
    gate.prepare(RATE)
    with pytest.raises(AudioInputError, match="float32"):
        gate.process(np.zeros(4))
    with pytest.raises(AudioInputError, match="mono"):
        gate.process(np.zeros((4, 2), np.float32))
    with pytest.raises(AudioInputError, match="shape"):
        gate.process(np.zeros(4, np.float32), out=np.zeros(5, np.float32))
    assert gate_block is not None


def test_read_only_strided_and_list_inputs():
    gate = NoiseGate(dict(threshold_db=-30.0))
    gate.prepare(RATE)
    x = guitar_like_signal(2000, RATE)
    expected = gate.process(x)
    read_only = x.copy()
    read_only.flags.writeable = False
    for variant in (np.repeat(x, 2)[::2], read_only):  # other numba types than the compiled one: copied
        gate.reset()
        np.testing.assert_array_equal(gate.process(variant), expected)
        gate.reset()
        np.testing.assert_array_equal(gate.process(variant, out=np.empty_like(x)), expected)
    with pytest.raises(AudioInputError, match="numpy float32 array, got list"):
        gate.process([0.0, 1.0], out=np.empty(2, np.float32))
    with pytest.raises(AudioInputError, match="float32 audio, got dtype float64"):
        gate.process(np.zeros(2), out=np.empty(2, np.float32))
    with pytest.raises(AudioInputError, match="out must be a writeable"):
        gate.process(x, out=np.empty(4000, np.float32)[::2])
