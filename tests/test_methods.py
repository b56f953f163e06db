"""Interpolation methods beyond linear, and running below the training rate (SRC.md)."""

import warnings

import numpy as np
import pytest

import engine
from conftest import guitar_like_signal as _signal
from engine.stability import is_stable, linearise, spectral_radius
from engine.testing import random_model
from reference import run as reference_run

METHODS = ["linear", "cubic", "lagrange5", "allpass"]


def signal(*args, **kwargs):
    return 2.0 * _signal(*args, **kwargs)


def models(shared):
    return {
        "gru_1d": engine.load_model(shared / "rtneural/gru_1d.json"),
        "nam": engine.load_model(shared / "nam/lstm_1x3.nam"),
        "lstm16x2_controls": random_model("lstm", hidden=16, layers=2, controls=1, skip=True, seed=11),
        "keras_gru_reset_before": random_model("gru", hidden=12, reset_after=False, seed=12),
    }


CONTROLS = {"lstm16x2_controls": [0.6]}


def processor(model, rate, method, name, **kwargs):
    p = engine.Processor(model, sample_rate=rate, interpolation=method, **kwargs)
    if name in CONTROLS:
        p.set_controls(CONTROLS[name])
    return p


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("name", ["gru_1d", "nam", "lstm16x2_controls", "keras_gru_reset_before"])
def test_integer_ratio_is_exact_for_every_method(shared_fixtures, name, factor, method):
    model = models(shared_fixtures)[name]
    x = signal(2000, model.sample_rate, seed=factor)
    y = processor(model, model.sample_rate, method, name).process(x)
    held = processor(model, model.sample_rate * factor, method, name).process(np.repeat(x, factor))
    error = np.abs(held.reshape(-1, factor) - y[:, None])
    assert error.max() <= 1e-6, f"max error {error.max():.3g}"


@pytest.mark.filterwarnings("ignore::engine.StabilityWarning")  # some off-centre cases fall back, on purpose
@pytest.mark.parametrize("ratio", [44100 / 48000, 0.75, 48000 / 44100, 1.75, 96000 / 44100, 7.3])
@pytest.mark.parametrize("method", ["cubic", "lagrange5", "linear", "allpass"])
@pytest.mark.parametrize("name", ["gru_1d", "nam", "lstm16x2_controls", "keras_gru_reset_before"])
def test_method_matches_the_float64_definition(shared_fixtures, name, method, ratio):
    """Cubic and Lagrange-5 against a reference that fits the interpolating polynomial itself;
    below R = 1 the same reads extrapolate (δ = R − 1 < 0)."""
    model = models(shared_fixtures)[name]
    rate = model.sample_rate * ratio
    x = signal(1500, rate, seed=7)
    p = processor(model, rate, method, name)
    if not is_stable(linearise(model, CONTROLS.get(name)), method, ratio):
        assert p.interpolation != method  # never run (allpass below R = 1 has no form): see the fallback tests
        return
    assert p.interpolation == method
    expected = reference_run(model, x, sample_rate=rate, method=method, controls=CONTROLS.get(name))
    error = np.abs(p.process(x) - expected)
    assert error.max() <= 1e-5, f"max error {error.max():.3g} at sample {error.argmax()}"


def unstable_below_rate_model():
    """An LSTM whose recurrence is strong enough that extrapolating with cubic taps at R = 44.1/48 diverges."""
    model = random_model("lstm", hidden=16, seed=1, sample_rate=48000.0)
    layer = model.layers[0]
    object.__setattr__(layer, "weight_hh", (4 * layer.weight_hh).astype(np.float32))
    return model


def test_check_predicts_the_unstable_choice_and_the_engine_falls_back_once():
    model = unstable_below_rate_model()
    ratio = 44100 / 48000
    linearisation = linearise(model)
    assert not is_stable(linearisation, "cubic", ratio)
    assert is_stable(linearisation, "linear", ratio) and is_stable(linearisation, "naive", ratio)
    with pytest.warns(engine.StabilityWarning, match=r"cubic is predicted unstable at 44100 Hz \(R = 0\.9187, "
                                                     r"spectral radius 1\.\d+\); running linear instead"):
        p = engine.Processor(model, sample_rate=44100, interpolation="cubic")
    assert (p.requested_interpolation, p.interpolation) == ("cubic", "linear")
    assert p.stability.verdict("cubic").radius > 1 and p.stability.replaced
    x = signal(44100, 44100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, at prepare: processing does not repeat it
        y = p.process(x)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 10


def settles(processor, rate):
    """Whether the output comes to rest in silence after a signal (what a stable recurrence does).

    An unstable LSTM cannot blow up (tanh bounds h): it oscillates on its own instead. A network
    that goes non-finite is muted and restarted by the kernel's guard: that is no settling either.
    """
    x = np.concatenate([signal(int(rate / 2), rate), np.zeros(int(rate), np.float32)])
    restarts = processor.repairs["state_resets"]
    y = processor.process(x)
    tail = y[-int(rate / 10):]
    return bool(np.all(np.isfinite(y)) and processor.repairs["state_resets"] == restarts and np.std(tail) < 1e-3)


def test_what_the_check_forbids_really_misbehaves_and_what_it_allows_settles():
    """Run the forbidden choices anyway (evaluation only): the predictions were right."""
    model = unstable_below_rate_model()
    linearisation = linearise(model)
    for method in ("naive", "linear", "cubic", "lagrange5"):
        forced = engine.Processor(model, sample_rate=44100, interpolation=method, check_stability=False)
        assert settles(forced, 44100) == is_stable(linearisation, method, 44100 / 48000), method


def test_centred_windows_are_not_replaced():
    model = unstable_below_rate_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = engine.Processor(model, sample_rate=96000, interpolation="cubic")  # R = 2: the exact delay
        q = engine.Processor(model, sample_rate=48000 * 2.5, interpolation="cubic")  # centred window
    assert (p.interpolation, q.interpolation) == ("cubic", "cubic")
    # the rule needed no linearisation: nothing was checked, so knobs could not change it either
    assert (p.stability.verdicts[0].reason, q.stability.verdicts[0].reason) == ("exact delay", "centred window")
    assert p.stability.linearisation is None and q.stability.linearisation is None


def test_off_centre_cubic_above_the_training_rate_is_checked_too(shared_fixtures):
    """Cubic's window for 1 < R < 2 starts at s_{n−1} (SRC.md): at R = 1.75 it destabilises the NAM model."""
    model = engine.load_model(shared_fixtures / "nam/lstm_1x3.nam")
    with pytest.warns(engine.StabilityWarning, match="cubic is predicted unstable at 84000 Hz"):
        p = engine.Processor(model, sample_rate=84000, interpolation="cubic")
    assert p.interpolation in ("allpass", "linear")  # the next safe method in the fallback order
    assert is_stable(linearise(model), p.interpolation, 1.75)
    forced = engine.Processor(model, sample_rate=84000, interpolation="cubic", check_stability=False)
    assert not settles(forced, 84000)
    assert settles(p, 84000)


def test_linearisation_matches_the_layer_behaviour():
    """The Jacobian predicts how a small state perturbation evolves at R = 1: ρ(J) < 1 decays."""
    model = random_model("gru", hidden=8, seed=3, sample_rate=48000.0)
    linearisation = linearise(model)
    radius = spectral_radius(linearisation, "naive", 1.0)
    assert 0 < radius < 1
    assert linearisation.converged
