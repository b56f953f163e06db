"""The EQ (engine.dsp.eq) against the RBJ Audio EQ Cookbook, written out again here, and scipy.

The magnitude responses are measured from the running code (an impulse through
Equalizer.process, then its FFT) and compared with scipy.signal.freqz of the cookbook biquad
computed in this file, so both the coefficient formulas and the filter loop are under test.
"""

import math

import numpy as np
import pytest
import scipy.signal

from conftest import guitar_like_signal
from engine.dsp.eq import RAMP_STEP, Equalizer, eq_block
from engine.dsp.settings import EQ_BANDS
from engine.errors import ArgumentError, ConfigError

KIND = {name: kind for name, kind, _, _ in EQ_BANDS}
DEFAULT_HZ = {name: hz for name, _, hz, _ in EQ_BANDS}
DEFAULT_Q = {name: q for name, _, _, q in EQ_BANDS}


def cookbook(kind, gain_db, f0, q, rate):
    """(b, a) normalised by a0, from the W3C Audio EQ Cookbook's formulas."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / rate
    alpha = math.sin(w0) / (2 * q)
    cos = math.cos(w0)
    if kind == "peaking":
        b = [1 + alpha * A, -2 * cos, 1 - alpha * A]
        a = [1 + alpha / A, -2 * cos, 1 - alpha / A]
    elif kind == "low_shelf":
        b = [A * ((A + 1) - (A - 1) * cos + 2 * math.sqrt(A) * alpha),
             2 * A * ((A - 1) - (A + 1) * cos),
             A * ((A + 1) - (A - 1) * cos - 2 * math.sqrt(A) * alpha)]
        a = [(A + 1) + (A - 1) * cos + 2 * math.sqrt(A) * alpha,
             -2 * ((A - 1) + (A + 1) * cos),
             (A + 1) + (A - 1) * cos - 2 * math.sqrt(A) * alpha]
    else:
        b = [A * ((A + 1) + (A - 1) * cos + 2 * math.sqrt(A) * alpha),
             -2 * A * ((A - 1) + (A + 1) * cos),
             A * ((A + 1) + (A - 1) * cos - 2 * math.sqrt(A) * alpha)]
        a = [(A + 1) - (A - 1) * cos + 2 * math.sqrt(A) * alpha,
             2 * ((A - 1) - (A + 1) * cos),
             (A + 1) - (A - 1) * cos - 2 * math.sqrt(A) * alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


def band_setting(settings, band):
    return (KIND[band], getattr(settings, f"{band}_db"), getattr(settings, f"{band}_hz"), getattr(settings, f"{band}_q"))


def impulse_response(eq, n=1 << 16, block=128):
    x = np.zeros(n, np.float32)
    x[0] = 1.0
    y = np.empty_like(x)
    for start in range(0, n, block):
        eq.process(x[start:start + block], out=y[start:start + block])
    return y.astype(np.float64)


@pytest.mark.parametrize("rate", [44100.0, 48000.0, 96000.0])
def test_coefficients_equal_the_cookbook_formulas(rate):
    eq = Equalizer(dict(bass_db=7.5, mid_db=-13, mid_q=2.5, treble_db=4, treble_hz=2500, presence_db=-20,
                        presence_hz=3200, presence_q=0.4))
    eq.prepare(rate)
    for row, (band, _, _, _) in zip(eq.coefficients(), EQ_BANDS):
        b, a = cookbook(*band_setting(eq.settings, band), rate)
        np.testing.assert_allclose(row, [b[0], b[1], b[2], a[1], a[2]], rtol=1e-13, atol=1e-15)


CASES = [(band, gain, rate) for band in KIND for gain in (-20.0, -6.0, 3.0, 20.0) for rate in (44100.0, 96000.0)]


@pytest.mark.parametrize("band,gain_db,rate", CASES)
def test_each_bands_magnitude_response_matches_freqz_within_a_hundredth_of_a_db(band, gain_db, rate):
    q = DEFAULT_Q[band] if gain_db != 3.0 else 3.0  # a narrow band too
    eq = Equalizer({f"{band}_db": gain_db, f"{band}_q": q})
    eq.prepare(rate)
    h = impulse_response(eq)
    assert abs(h[-200:]).max() < 1e-12  # decayed: the FFT sees the whole response
    measured = 20 * np.log10(np.abs(np.fft.rfft(h)))
    frequencies = np.fft.rfftfreq(len(h), 1 / rate)
    b, a = cookbook(KIND[band], gain_db, DEFAULT_HZ[band], q, rate)
    _, expected = scipy.signal.freqz(b, a, worN=frequencies, fs=rate)
    expected = 20 * np.log10(np.abs(expected))
    assert np.abs(measured - expected).max() < 0.01
    # and the band does what its name says: the full gain where it acts
    where = {"low_shelf": 1.0, "high_shelf": rate / 2, "peaking": DEFAULT_HZ[band]}[KIND[band]]
    assert expected[np.argmin(abs(frequencies - where))] == pytest.approx(gain_db, abs=0.05)


def test_all_four_bands_in_series_match_the_product_of_their_responses():
    rate = 48000.0
    eq = Equalizer(dict(bass_db=9, mid_db=-7, mid_hz=700, treble_db=5, presence_db=-4, presence_hz=3500))
    eq.prepare(rate)
    h = impulse_response(eq, block=97)
    frequencies = np.fft.rfftfreq(len(h), 1 / rate)
    expected = np.ones(len(frequencies), complex)
    for band in KIND:
        b, a = cookbook(*band_setting(eq.settings, band), rate)
        expected *= scipy.signal.freqz(b, a, worN=frequencies, fs=rate)[1]
    measured = np.fft.rfft(h)
    assert np.abs(20 * np.log10(np.abs(measured) / np.abs(expected))).max() < 0.01
    np.testing.assert_allclose(measured, expected, rtol=1e-5, atol=1e-6)  # the phase too


def test_the_flat_eq_passes_the_signal_unchanged():
    x = guitar_like_signal(48000, 48000.0)
    eq = Equalizer()
    eq.prepare(48000.0)
    np.testing.assert_allclose(eq.process(x), x, rtol=0, atol=2e-7 * abs(x).max())


# ---- changes: glided, click-free, at the next block, landing exactly on the new setting ----------

AMPLITUDE = 0.5
RATE = 48000.0
BLOCK = 128


def render_change(key, before, after, frequency, ramp_ms, fixed=None, seconds=0.25):
    """A sine through the EQ; ``key`` goes from ``before`` to ``after`` at a block start mid-signal."""
    n = int(seconds * RATE)
    x = (AMPLITUDE * np.sin(2 * np.pi * frequency * np.arange(n) / RATE)).astype(np.float32)
    eq = Equalizer({key: before, "ramp_ms": ramp_ms, **(fixed or {})})
    eq.prepare(RATE)
    change_at = n // 2 // BLOCK * BLOCK
    y = np.empty_like(x)
    for start in range(0, n, BLOCK):
        if start == change_at:
            eq.set(**{key: after})
        eq.process(x[start:start + BLOCK], out=y[start:start + BLOCK])
    return y.astype(np.float64), change_at, eq


def glide_path(eq, key, before, after, steps):
    """The documented glide: the setting at each of its steps (dB linear, Hz and Q log-linear)."""
    band, what = key.rsplit("_", 1)
    settings = []
    for k in range(steps + 1):
        if what == "db":
            value = before + (after - before) * k / steps
        else:
            value = math.exp(math.log(before) + (math.log(after) - math.log(before)) * k / steps)
        kind, gain_db, hz, q = band_setting(eq.settings, band)
        settings.append((kind, *{"db": (value, hz, q), "hz": (gain_db, value, q), "q": (gain_db, hz, value)}[what]))
    return settings


CHANGES = [  # key, before, after, test frequency, other settings
    ("bass_db", -12.0, 12.0, 150.0, None), ("bass_db", 12.0, -12.0, 150.0, None),
    ("mid_db", -10.0, 10.0, 425.0, None), ("mid_db", 10.0, -10.0, 425.0, None),
    ("treble_db", -20.0, 20.0, 1000.0, None), ("treble_db", 20.0, -20.0, 1000.0, None),
    ("presence_db", -10.0, 10.0, 2500.0, None), ("presence_db", 10.0, -10.0, 2500.0, None),
    ("mid_hz", 300.0, 900.0, 500.0, {"mid_db": 10.0}), ("mid_hz", 900.0, 300.0, 500.0, {"mid_db": 10.0}),
    ("bass_hz", 60.0, 300.0, 150.0, {"bass_db": 12.0}), ("presence_q", 0.3, 4.0, 3000.0, {"presence_db": 12.0}),
]
#: The glide the bound is designed for: the default 20 ms.
DESIGN_RAMP_MS = 20.0
#: Broadband residue allowed, relative to the size of the change.
CLICK_DB = -60.0
#: Overshoot allowed above the largest steady-state amplitude along the glide.
OVERSHOOT = 1.10


def click_measures(key, before, after, frequency, fixed, ramp_ms):
    """(peak / largest steady-state amplitude on the glide, broadband residue in dB re the change).

    The bound "no discontinuity beyond what the filter's own response allows", designed here:
    a linear filter turns a sine into a sine of the same frequency; with a setting that moves,
    the output may take any amplitude the filter has at the settings it passes through (its
    steady-state responses |H(f; setting)| along the documented glide, from the cookbook here)
    plus a small overshoot while it moves (OVERSHOOT: a DF-I gliding slowly compared with its
    own decay stays near its quasi-static response), and whatever new frequencies the motion
    makes stay near f. A click is a broadband burst: measured as the peak of the output above
    f_c = 8·f (8th-order Butterworth high-pass, which leaves −144 dB of the sine itself),
    relative to AMPLITUDE·|H(f; after) − H(f; before)|, the size of the change. Each glide step
    is 1/N of the change (N = 60 at 20 ms), so its broadband transient is ~20·log10 N = 36 dB
    below that of the instant change (−40 to −64 dB here), and CLICK_DB = −60 dB leaves room for
    the steps' transients to overlap.
    """
    y, change_at, eq = render_change(key, before, after, frequency, ramp_ms, fixed)
    steps = round(DESIGN_RAMP_MS * RATE / 1000 / RAMP_STEP)
    responses = [scipy.signal.freqz(*cookbook(*s, RATE), worN=[frequency], fs=RATE)[1][0]
                 for s in glide_path(eq, key, before, after, steps)]
    largest = AMPLITUDE * max(abs(h) for h in responses)
    change = AMPLITUDE * abs(responses[-1] - responses[0])
    window = slice(change_at, change_at + steps * RAMP_STEP + 4000)
    peak = np.abs(y[window]).max() / largest
    highpass = scipy.signal.butter(8, min(8 * frequency, 20000.0), "highpass", fs=RATE, output="sos")
    residue = np.abs(scipy.signal.sosfilt(highpass, y)[window]).max()
    return peak, 20 * np.log10(residue / change)


@pytest.mark.parametrize("key,before,after,frequency,fixed", CHANGES)
def test_a_change_mid_signal_glides_without_a_click(key, before, after, frequency, fixed):
    peak, residue_db = click_measures(key, before, after, frequency, fixed, DESIGN_RAMP_MS)
    assert peak <= OVERSHOOT
    assert residue_db <= CLICK_DB


def test_the_click_bound_catches_an_instant_change():
    """The same changes applied at once (ramp_ms = 0) break the bound: it can fail."""
    failures = 0
    for key, before, after, frequency, fixed in CHANGES:
        peak, residue_db = click_measures(key, before, after, frequency, fixed, 0.0)
        failures += peak > OVERSHOOT or residue_db > CLICK_DB
    assert failures >= len(CHANGES) - 2


def test_why_direct_form_one_the_same_glide_through_a_transposed_direct_form_two_clicks():
    """The structure choice (engine.dsp.eq docstring), checked: the same coefficient steps, the
    same tone, run here through both structures in plain Python (float64)."""
    n, change_at, frequency = 12000, 6000, 1000.0
    x = AMPLITUDE * np.sin(2 * np.pi * frequency * np.arange(n) / RATE)
    steps = round(DESIGN_RAMP_MS * RATE / 1000 / RAMP_STEP)
    gains = [-20.0 if i < change_at else -20.0 + 40.0 * min((i - change_at) // RAMP_STEP + 1, steps) / steps
             for i in range(n)]

    def run(transposed):
        y = np.empty(n)
        x1 = x2 = y1 = y2 = s1 = s2 = 0.0
        for i in range(n):
            if i == 0 or gains[i] != gains[i - 1]:
                b, a = cookbook("high_shelf", gains[i], DEFAULT_HZ["treble"], DEFAULT_Q["treble"], RATE)
            v = x[i]
            if transposed:
                w = b[0] * v + s1
                s1 = b[1] * v - a[1] * w + s2
                s2 = b[2] * v - a[2] * w
            else:
                w = b[0] * v + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
                x2, x1, y2, y1 = x1, v, y1, w
            y[i] = w
        return y

    responses = [scipy.signal.freqz(*cookbook("high_shelf", g, DEFAULT_HZ["treble"], DEFAULT_Q["treble"], RATE),
                                    worN=[frequency], fs=RATE)[1][0] for g in (-20.0, 20.0)]
    change = AMPLITUDE * abs(responses[1] - responses[0])
    highpass = scipy.signal.butter(8, 8 * frequency, "highpass", fs=RATE, output="sos")
    residue = {form: 20 * np.log10(np.abs(scipy.signal.sosfilt(highpass, run(form == "tdf2"))[change_at:]).max()
                                   / change) for form in ("df1", "tdf2")}
    assert residue["df1"] <= CLICK_DB < residue["tdf2"] - 20


def test_a_change_starts_at_the_next_block_and_lands_exactly_on_the_new_setting():
    rate = 48000.0
    x = guitar_like_signal(9600, rate)
    eq = Equalizer(dict(treble_db=-6, ramp_ms=10))
    eq.prepare(rate)
    reference = Equalizer(dict(treble_db=-6, ramp_ms=10))
    reference.prepare(rate)
    first = eq.process(x[:1000])
    np.testing.assert_array_equal(first, reference.process(x[:1000]))
    eq.set(treble_db=8, treble_hz=2500)
    changed = eq.process(x[1000:1001])
    assert changed[0] != reference.process(x[1000:1001])[0]  # the first sample of the next block glides
    steps = round(10 * rate / 1000 / RAMP_STEP)  # the k-th step at sample 1000 + (k − 1)·RAMP_STEP
    target_b, target_a = cookbook("high_shelf", 8, 2500, DEFAULT_Q["treble"], rate)
    target = np.r_[target_b, target_a[1:]]
    eq.process(x[1001:1000 + (steps - 1) * RAMP_STEP])
    assert not np.allclose(eq.coefficients()[2], target, rtol=1e-6)  # one step short
    eq.process(x[1000 + (steps - 1) * RAMP_STEP:1000 + steps * RAMP_STEP])
    np.testing.assert_allclose(eq.coefficients()[2], target, rtol=1e-13, atol=1e-15)


def test_a_new_target_during_a_glide_glides_on_from_where_it_is():
    rate = 48000.0
    x = guitar_like_signal(9600, rate)
    eq = Equalizer(dict(ramp_ms=20))
    eq.prepare(rate)
    eq.set(bass_db=12)
    eq.process(x[:320])  # part of the way
    halfway = eq.coefficients()[0].copy()
    eq.set(bass_db=-12)
    eq.process(x[320:336])
    step = eq.coefficients()[0]
    target = cookbook("low_shelf", -12, 150, DEFAULT_Q["bass"], rate)
    # one step from the halfway point towards −12 dB: moved, but nowhere near there yet
    assert not np.allclose(step, halfway) and not np.allclose(step[:3], target[0][:3], rtol=1e-2)
    eq.process(x[336:336 + 60 * RAMP_STEP])
    np.testing.assert_allclose(eq.coefficients()[0], np.r_[target[0], target[1][1:]], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_block_sizes_give_the_output_of_one_block_also_during_a_glide(seed):
    rng = np.random.default_rng(seed)
    rate = 44100.0
    x = guitar_like_signal(30000, rate, seed=seed)

    def run(split):
        eq = Equalizer(dict(bass_db=5, mid_db=-8, ramp_ms=50))
        eq.prepare(rate)
        head = eq.process(x[:100]).copy()
        eq.set(mid_db=6, treble_db=10, presence_hz=3000)  # a glide of 2205 samples starts at sample 100
        parts, start = [head], 100
        while start < len(x):
            size = len(x) if not split else int(rng.integers(1, 700))
            parts.append(eq.process(x[start:start + size]).copy())
            start += size
        return np.concatenate(parts)

    np.testing.assert_array_equal(run(split=True), run(split=False))


def test_in_place_reset_and_non_finite_input():
    rate = 48000.0
    x = guitar_like_signal(4800, rate)
    eq = Equalizer(dict(bass_db=6, presence_db=-3))
    eq.prepare(rate)
    expected = eq.process(x)
    eq.reset()
    buffer = x.copy()
    assert eq.process(buffer, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)
    eq.reset()
    bad = x.copy()
    bad[50:60] = np.nan
    bad[70] = -np.inf
    y = eq.process(bad)
    zeroed = x.copy()
    zeroed[50:60] = 0
    zeroed[70] = 0
    eq.reset()
    np.testing.assert_array_equal(y, eq.process(zeroed))  # processed as 0, the history never poisoned
    assert np.all(np.isfinite(eq.state))


def test_a_long_silence_decays_to_exact_zero_without_subnormals():
    rate = 48000.0
    eq = Equalizer(dict(bass_db=20, mid_db=20, mid_q=10))
    eq.prepare(rate)
    eq.process(guitar_like_signal(4800, rate))
    silence = np.zeros(4096, np.float32)
    for _ in range(400):  # 34 s
        eq.process(silence, out=silence)
    history = eq.state[[2 + 18 * b + k for b in range(4) for k in range(4)]]
    assert np.all((history == 0) | (np.abs(history) > 1e-150))


def test_frequencies_at_or_above_nyquist_are_refused_at_prepare_and_set():
    eq = Equalizer(dict(presence_hz=23000))
    eq.prepare(48000.0)  # 23 kHz < 24 kHz
    with pytest.raises(ConfigError, match=r"eq\.presence_hz must be below the Nyquist frequency \(22050 Hz at "
                                          r"44100 Hz\), got 23000"):
        Equalizer(dict(presence_hz=23000)).prepare(44100.0)
    with pytest.raises(ConfigError, match=r"eq\.treble_hz must be below the Nyquist frequency"):
        eq.set(treble_hz=24000)
    assert eq.settings.treble_hz == DEFAULT_HZ["treble"]  # a refused change changes nothing
    with pytest.raises(ArgumentError, match="band must be one of bass, mid, treble, presence"):
        eq.set_gain_db("tremble", 3)
    assert eq_block is not None
