"""Rate correction as SRC.md defines it: exact at integer R, and equal to a float64 reference otherwise."""

import numpy as np
import pytest

import engine
from conftest import guitar_like_signal as _signal
from engine.testing import random_model
from reference import run as reference_run



def guitar_like_signal(*args, **kwargs):
    """The shared test signal at full scale: the small RTNeural test models barely react at -6 dBFS."""
    return 2.0 * _signal(*args, **kwargs)


def models(shared):
    return {
        "lstm_torch": engine.load_model(shared / "rtneural/lstm_torch.json"),
        "gru_torch": engine.load_model(shared / "rtneural/gru_torch.json"),
        "gru_1d": engine.load_model(shared / "rtneural/gru_1d.json"),
        "nam": engine.load_model(shared / "nam/lstm_1x3.nam"),
        "lstm16_controls": random_model("lstm", hidden=16, layers=2, controls=1, skip=True, seed=11),
        "keras_gru_reset_before": random_model("gru", hidden=12, reset_after=False, seed=12),
    }


CONTROLS = {"lstm16_controls": [0.6]}


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("name", ["lstm_torch", "gru_torch", "gru_1d", "nam", "lstm16_controls", "keras_gru_reset_before"])
def test_integer_ratio_with_sample_and_hold_input_repeats_the_training_rate_output(shared_fixtures, name, factor):
    model = models(shared_fixtures)[name]
    x = guitar_like_signal(3000, model.sample_rate, seed=factor)
    at_model_rate = engine.Processor(model, sample_rate=model.sample_rate)
    at_run_rate = engine.Processor(model, sample_rate=model.sample_rate * factor)
    assert at_run_rate.ratio == factor
    for p in (at_model_rate, at_run_rate):
        if name in CONTROLS:
            p.set_controls(CONTROLS[name])
    y = at_model_rate.process(x)
    held = at_run_rate.process(np.repeat(x, factor))
    error = np.abs(held.reshape(-1, factor) - y[:, None])
    assert error.max() <= 1e-6, f"max error {error.max():.3g}"


@pytest.mark.parametrize("ratio", [48000 / 44100, 96000 / 44100, 1.75, 7.3])
@pytest.mark.parametrize("name", ["lstm_torch", "gru_torch", "gru_1d", "nam", "lstm16_controls", "keras_gru_reset_before"])
def test_linear_matches_the_float64_definition_at_fractional_ratios(shared_fixtures, name, ratio):
    model = models(shared_fixtures)[name]
    rate = model.sample_rate * ratio
    x = guitar_like_signal(2500, rate, seed=7)
    processor = engine.Processor(model, sample_rate=rate, interpolation="linear")
    if name in CONTROLS:
        processor.set_controls(CONTROLS[name])
    y = processor.process(x)
    expected = reference_run(model, x, sample_rate=rate, method="linear", controls=CONTROLS.get(name))
    error = np.abs(y - expected)
    assert error.max() <= 1e-5, f"max error {error.max():.3g} at sample {error.argmax()}"
    assert np.std(y) > 1e-3


def test_linear_is_the_default_and_changes_the_sound_only_off_the_training_rate(shared_fixtures):
    model = models(shared_fixtures)["keras_gru_reset_before"]
    x = guitar_like_signal(4000, 48000)
    linear = engine.Processor(model, sample_rate=48000)
    naive = engine.Processor(model, sample_rate=48000, interpolation="naive")
    assert linear.interpolation == "linear"
    assert np.max(np.abs(linear.process(x) - naive.process(x))) > 1e-3
    own_rate = [engine.Processor(model, sample_rate=model.sample_rate, interpolation=m).process(x) for m in ("linear", "naive")]
    np.testing.assert_array_equal(own_rate[0], own_rate[1])


def test_naive_at_any_rate_is_the_uncorrected_model(shared_fixtures):
    model = models(shared_fixtures)["gru_torch"]
    x = guitar_like_signal(3000, 96000)
    naive = engine.Processor(model, sample_rate=96000, interpolation="naive").process(x)
    uncorrected = engine.Processor(model, sample_rate=model.sample_rate).process(x)
    np.testing.assert_array_equal(naive, uncorrected)


@pytest.mark.parametrize("ratio", [16, 16.5, 64])
def test_large_ratios_run_and_stay_exact(shared_fixtures, ratio):
    model = models(shared_fixtures)["nam"]
    rate = model.sample_rate * ratio
    x = guitar_like_signal(1500, rate)
    y = engine.Processor(model, sample_rate=rate).process(x)
    np.testing.assert_allclose(y, reference_run(model, x, sample_rate=rate), atol=1e-5)
