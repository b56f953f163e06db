"""The simulated circuits and the guitar synthesiser behind the project's own model, and that model.

tools/circuits.py is checked against independent references (the trapezoidal-rule equations
evaluated in numpy, the analytic response of the linear RC low-pass, a nodal solve of the tone
stack), tools/synth.py for determinism, and the committed models/overdrive_lstm20.json for what
models/README.md claims about it. No torch needed.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import engine
from tools import circuits, synth
from conftest import guitar_like_signal

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
RATE = 44100



NVT = circuits.DIODE_EMISSION * circuits.THERMAL_VOLTAGE
R, C, IS = circuits.CLIPPER_RESISTANCE, circuits.CLIPPER_CAPACITANCE, circuits.DIODE_SATURATION_CURRENT


def _drive_signal(seconds=0.5, peak=5.0):
    """A guitar-like DI clip (decaying plucks) scaled to ``peak`` volts, plus a loud 2 kHz burst."""
    x = guitar_like_signal(int(seconds * RATE)).astype(np.float64)
    x *= peak / np.max(np.abs(x))
    t = np.arange(x.size) / RATE
    x[: RATE // 20] += peak * np.sin(2 * np.pi * 2000 * t[: RATE // 20])
    return x


# -- the diode clipper -------------------------------------------------------------------------

@pytest.mark.parametrize("reverse_emission", [None, 2 * circuits.DIODE_EMISSION], ids=["symmetric", "asymmetric"])
def test_newton_solution_satisfies_trapezoidal_rule(reverse_emission):
    """V_n − V_{n−1} = (T/2)(F(V_n, Vin_n) + F(V_{n−1}, Vin_{n−1})), F = ((Vin − V)/R − i_D(V))/C."""
    rate = RATE * circuits.OVERSAMPLING
    vin = circuits.upsample(_drive_signal())
    v, iterations = circuits.rc_diode_states(vin, rate, reverse_emission=reverse_emission)
    if reverse_emission is None:
        current = 2 * IS * np.sinh(v / NVT)  # the textbook form, independent of the solver's
    else:
        current = IS * np.expm1(v / NVT) - IS * np.expm1(-v / (reverse_emission * circuits.THERMAL_VOLTAGE))
    f = ((vin - v) / R - current) / C
    v_before = np.concatenate([[0.0], v[:-1]])
    f_before = np.concatenate([[0.0], f[:-1]])
    residual = v - v_before - (0.5 / rate) * (f + f_before)
    assert np.max(np.abs(v)) > 0.5, "the test signal must drive the diodes into conduction"
    assert np.max(np.abs(residual)) < 1e-12, f"trapezoidal residual {np.max(np.abs(residual)):.3g} V"
    assert iterations.max() <= 8, f"Newton needed up to {iterations.max()} steps per sample"


def test_diode_clipper_is_odd_symmetric():
    x = _drive_signal(peak=0.5)
    for process in (lambda s: circuits.diode_clipper(s, RATE, drive_db=20.0), lambda s: circuits.overdrive(s, RATE)):
        y = process(x)
        np.testing.assert_array_equal(process(-x), -y)
        assert np.max(np.abs(y)) > 0.3


@pytest.mark.parametrize("frequency", [100.0, 1000.0, 3000.0, 6000.0])
def test_small_signals_see_the_rc_low_pass(frequency):
    """At 1 mV the diodes are a tiny conductance G_d = 2·Is/(n·Vt): |H| = (1/R)/|1/R + G_d + jωC|."""
    t = np.arange(RATE // 2) / RATE
    amplitude = 1e-3
    y = circuits.diode_clipper(amplitude * np.sin(2 * np.pi * frequency * t), RATE).astype(np.float64)
    steady = slice(RATE // 8, 3 * RATE // 8)
    basis = np.stack([np.sin(2 * np.pi * frequency * t[steady]), np.cos(2 * np.pi * frequency * t[steady])], axis=1)
    fit = np.linalg.lstsq(basis, y[steady], rcond=None)[0]
    gain = np.hypot(*fit) / amplitude
    conductance = 2 * IS / NVT
    expected = (1 / R) / abs(1 / R + conductance + 2j * np.pi * frequency * C)
    # Trapezoidal frequency warping at 8× is below 4e-4 up to 6 kHz; float32 output adds ~1e-6.
    assert gain == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("peak", [0.7, 5.0, 50.0])
def test_clipper_output_is_bounded_by_the_diode_voltage(peak):
    """Equilibrium bound: 2·Is·sinh(V/nVt) = Vin_max/R ⇒ |V| ≤ nVt·asinh(Vin_max/(2·Is·R)) ≈ 0.6-0.73 V."""
    x = _drive_signal(peak=peak)
    vin = circuits.upsample(x)
    bound = NVT * np.arcsinh(np.max(np.abs(vin)) / (2 * IS * R))
    v, _ = circuits.rc_diode_states(vin, RATE * circuits.OVERSAMPLING)
    assert np.max(np.abs(v)) <= bound * (1 + 1e-9)
    assert bound < 0.8  # even 50 V peaks are held near one diode drop
    y = circuits.diode_clipper(x, RATE)
    # Band-limiting back to 44.1 kHz adds a little Gibbs overshoot to the clipped edges (≈ 5 % at 50 V).
    assert np.max(np.abs(y)) < 1.1 * bound


def test_tone_stack_matches_a_nodal_solve():
    """Yeh & Smith's coefficients against a direct nodal (MNA) solve of the circuit in the docstring."""
    parts = circuits.BASSMAN
    for treble, middle, bass in ((0.5, 0.5, 0.5), (0.9, 0.2, 0.7), (0.1, 0.8, 0.3)):
        b, a = circuits.tone_stack_coefficients(treble, middle, bass)
        for frequency in (40.0, 300.0, 1000.0, 6000.0):
            s = 2j * np.pi * frequency
            # Nodes: 1 top of R1, 2 wiper (out), 3 bottom of R1, 4 top of the mid pot, 5 mid wiper, 6 R4/C2/C3.
            y = np.zeros((7, 7), complex)

            def link(i, j, admittance):
                y[i, i] += admittance
                y[j, j] += admittance
                y[i, j] -= admittance
                y[j, i] -= admittance

            link(0, 1, s * parts["c1"])
            link(1, 2, 1 / ((1 - treble) * parts["r1"]))
            link(2, 3, 1 / (treble * parts["r1"]))
            link(3, 4, 1 / (bass * parts["r2"]))
            link(4, 5, 1 / ((1 - middle) * parts["r3"]))
            y[5, 5] += 1 / (middle * parts["r3"])
            link(0, 6, 1 / parts["r4"])
            link(6, 3, s * parts["c2"])
            link(6, 5, s * parts["c3"])
            voltages = np.linalg.solve(y[1:, 1:], -y[1:, 0])  # input node 0 held at 1 V
            expected = voltages[1]
            got = np.polyval(b, s) / np.polyval(a, s)
            assert abs(got - expected) <= 1e-9 * abs(expected)


def _cabinet_analog_gain_db(frequency_hz, **overrides):
    """|H(j2πf)| of the cabinet's analog prototype, written out from the formula in its docstring."""
    p = {**circuits.CABINET, **overrides}
    s = 2j * np.pi * frequency_hz
    wl, wp, gain = 2 * np.pi * p["low_hz"], 2 * np.pi * p["presence_hz"], 10 ** (p["presence_db"] / 40)
    h = s ** 2 / (s ** 2 + wl / p["low_q"] * s + wl ** 2)
    h *= (s ** 2 + gain * wp / p["presence_q"] * s + wp ** 2) / (s ** 2 + wp / (gain * p["presence_q"]) * s + wp ** 2)
    for hz, q in ((p["high_hz"], p["high_q"]), (p["high2_hz"], p["high2_q"])):
        w = 2 * np.pi * hz
        h *= w ** 2 / (s ** 2 + w / q * s + w ** 2)
    return 20 * np.log10(np.abs(h))


def test_cabinet_response_follows_its_analog_prototype():
    """Sines through the cabinet: gain within 0.25 dB of the analog H(s) up to the presence peak.

    The bilinear transform bends frequencies by tan(πf/F)/(πf/F) (each section pre-warped at its own
    corner), under 0.25 dB here below 3 kHz; above that the digital and analog curves part, as they must.
    """
    rate = 4 * RATE  # a higher rate keeps the frequency warping small, so the comparison is tight
    t = np.arange(rate) / rate
    for frequency in (60.0, 90.0, 200.0, 1000.0, 2500.0, 3000.0):
        y = circuits.cabinet(np.sin(2 * np.pi * frequency * t), rate).astype(np.float64)
        steady = y[rate // 2:]
        measured = 20 * np.log10(np.sqrt(2) * np.std(steady))
        assert abs(measured - _cabinet_analog_gain_db(frequency)) < 0.25, frequency
    # the shape a speaker cabinet has: the presence peak stands above the mids, the treble falls steeply
    assert _cabinet_analog_gain_db(2500) > _cabinet_analog_gain_db(1000) + 3
    assert _cabinet_analog_gain_db(12000) < _cabinet_analog_gain_db(6000) - 20


def _miked_cabinet_analog_gain_db(frequency_hz):
    """|H(j2πf)| of the close-miked cabinet's analog prototype: the cabinet's, times each peaking section's."""
    s = 2j * np.pi * frequency_hz
    gain_db = _cabinet_analog_gain_db(frequency_hz, **circuits.MIKED_CABINET)
    for hz, section_db, q in circuits.CONE_BREAKUP:
        w, a = 2 * np.pi * hz, 10 ** (section_db / 40)
        h = (s ** 2 + a * w / q * s + w ** 2) / (s ** 2 + w / (a * q) * s + w ** 2)
        gain_db += 20 * np.log10(np.abs(h))
    return gain_db


def test_miked_cabinet_response_follows_its_analog_prototype():
    """Sines through the close-miked cabinet: within 0.3 dB of its analog H(s) at the box resonance and
    at every break-up peak and notch (each section is exact at its own centre; the others bend a little)."""
    rate = 4 * RATE
    t = np.arange(rate) / rate
    for frequency in [60.0, 110.0] + [hz for hz, _, _ in circuits.CONE_BREAKUP]:
        y = circuits.miked_cabinet(np.sin(2 * np.pi * frequency * t), rate).astype(np.float64)
        measured = 20 * np.log10(np.sqrt(2) * np.std(y[rate // 2:]))
        assert abs(measured - _miked_cabinet_analog_gain_db(frequency)) < 0.3, frequency
    # the break-up's shape: each notch lies well below the peaks beside it
    assert _miked_cabinet_analog_gain_db(3800) < _miked_cabinet_analog_gain_db(3000) - 12
    assert _miked_cabinet_analog_gain_db(2000) < _miked_cabinet_analog_gain_db(1200) - 6


def test_miked_chains_are_the_circuit_then_the_miked_cabinet():
    x = _drive_signal(seconds=0.25, peak=0.5)
    expected = circuits.miked_cabinet(circuits.crunch_amp(x, RATE), RATE)
    np.testing.assert_allclose(circuits.get("crunch_amp_mic")(x, RATE), expected, rtol=0, atol=1e-6)


def test_the_miked_cabinet_is_more_rate_sensitive_than_the_plain_one():
    """benchmarks/circuit_rate_sensitivity.py's score: a pass-through barely changes at 48 kHz (only the
    protocol's resampling), the plain cabinet does, the close-miked one (its sharp break-up) much more."""
    from benchmarks.circuit_rate_sensitivity import naive_snr_db

    x = guitar_like_signal(RATE, RATE, seed=6)
    through = naive_snr_db(lambda signal, rate: np.asarray(signal, np.float32), x, 48000.0)
    plain = naive_snr_db(circuits.cabinet, x, 48000.0)
    miked = naive_snr_db(circuits.miked_cabinet, x, 48000.0)
    assert through > 60 and plain < 30 and miked < plain - 2, (through, plain, miked)


def test_cabinet_chains_are_the_circuit_then_the_cabinet():
    x = _drive_signal(seconds=0.25, peak=0.5)
    expected = circuits.cabinet(circuits.transistor_fuzz(x, RATE), RATE)
    np.testing.assert_allclose(circuits.get("transistor_fuzz_cab")(x, RATE), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown cabinet parameter"):
        circuits.cabinet(x, RATE, presence_gain=3.0)
    with pytest.raises(ValueError, match="Nyquist"):
        circuits.cabinet(x, 8000.0)


@pytest.mark.parametrize("name", sorted(circuits.CIRCUITS))
def test_every_circuit_returns_float32_of_the_input_length(name):
    x = _drive_signal(seconds=0.25, peak=0.5)
    y = circuits.get(name)(x, RATE)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.all(np.isfinite(y)) and 0.01 < np.max(np.abs(y)) < 5.0


def test_unknown_circuit_lists_the_valid_names():
    with pytest.raises(ValueError, match="overdrive"):
        circuits.get("fuzzz")


# -- the synthesiser ---------------------------------------------------------------------------

def test_synth_is_deterministic_for_a_seed():
    first = synth.performance(6.0, seed=3)
    np.testing.assert_array_equal(first, synth.performance(6.0, seed=3))
    assert not np.array_equal(first, synth.performance(6.0, seed=4))
    assert first.dtype == np.float32 and first.size == 6 * RATE
    assert 0.2 < np.max(np.abs(first)) < 0.75  # DI level


def test_demo_clip_file_is_the_synthesised_riff():
    audio, rate = soundfile.read(MODELS / "demo_di.wav", dtype="float32")
    assert rate == RATE and audio.ndim == 1 and 4 * RATE <= audio.size <= 8 * RATE
    np.testing.assert_array_equal(audio, synth.demo_clip())
    assert (MODELS / "demo_di.wav").stat().st_size < 1.5e6


def test_the_tool_scripts_run_after_the_tests_cached_their_kernels(tmp_path):
    """tools/make_demo_clip.py as a script, after this process compiled synth's kernel as ``tools.synth``.

    numba's on-disk cache records the module's name: a script that imported ``synth`` by its bare
    name failed to load that cache (ModuleNotFoundError: No module named 'tools'), as train.py did
    after a test run. The scripts now import the tools as the package ``tools``, as the tests do.
    """
    synth.demo_clip()  # compiles (and caches) synth's kernel under this module's name
    out = tmp_path / "demo.wav"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "make_demo_clip.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    again, rate = soundfile.read(out, dtype="float32")
    np.testing.assert_array_equal(again, synth.demo_clip())


# -- the committed model -----------------------------------------------------------------------

def _readme_value(label):
    text = (MODELS / "README.md").read_text(encoding="utf-8")
    match = re.search(re.escape(label) + r":\s*\**([0-9]*\.[0-9]+)", text)
    assert match, f"models/README.md has no line '{label}: <number>'"
    return float(match.group(1))


def test_committed_model_matches_its_readme():
    path = MODELS / "overdrive_lstm20.json"
    assert path.stat().st_size < 200e3
    model = engine.load_model(str(path))
    (layer,) = model.recurrent_layers
    assert (layer.cell, layer.hidden_size, bool(model.skip), model.sample_rate) == ("lstm", 20, True, RATE)
    audio, _ = soundfile.read(MODELS / "demo_di.wav", dtype="float32")
    output = engine.Processor(model, RATE).process(audio)
    target = circuits.overdrive(audio, RATE).astype(np.float64)
    measured = np.sum((target - output) ** 2) / np.sum(target ** 2)
    reported = _readme_value("Demo-clip ESR through the engine")
    assert measured <= reported * 1.05 + 1e-5, f"demo-clip ESR {measured:.5f}, README says {reported}"
