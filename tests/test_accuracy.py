"""Over ten seconds of audio the engine stays within 1e-5 of exact float64 arithmetic.

The kernels trade exact libm calls for a rational tanh (test_fast_math.py bounds it) and sum in
float32 with fused multiply-adds. Errors that small could still add up in a recurrence over a
long signal; this runs ten seconds through real models at the training rate and corrected to
48 and 96 kHz and compares every sample with fast_reference.py (float64, libm), itself checked
against the slow reference.py first.
"""

from pathlib import Path

import numpy as np
import pytest

import engine
import fast_reference
from conftest import REPO, guitar_like_signal
from engine.testing import random_model
from reference import run as reference_run

SECONDS = 10.0
TORCH_FIXTURES = Path(__file__).parent / "fixtures" / "torch"


def models():
    return {
        "lstm40": engine.load_model(TORCH_FIXTURES / "lstm_1x40_in1_skip1.guitarml.json"),
        "gru64": engine.load_model(TORCH_FIXTURES / "gru_1x64_in1_skip1.guitarml.json"),
        "lstm3x8": engine.load_model(TORCH_FIXTURES / "lstm_3x8_in1_skip0.guitarml.json"),
        "gru3x16-controls": engine.load_model(TORCH_FIXTURES / "gru_3x16_in3_skip0.guitarml.json"),
        "keras-gru-reset-before": random_model("gru", hidden=20, reset_after=False, seed=5),
        "lstm20-default": engine.load_model(REPO / "models" / "overdrive_lstm20.json"),
    }


CONTROLS = {"gru3x16-controls": (0.3, 0.8)}


def loud(n, rate, seed):
    """The shared test signal at full scale (the fixtures' models barely react at −6 dBFS)."""
    return 2.0 * guitar_like_signal(n, rate, seed=seed)


@pytest.mark.parametrize("name", ["lstm40", "gru64", "keras-gru-reset-before"])
def test_the_fast_reference_is_the_reference(name):
    model = models()[name]
    x = loud(1500, 48000, seed=1)
    for rate in (model.sample_rate, 48000 * 2.1):
        np.testing.assert_allclose(fast_reference.run(model, x, rate), reference_run(model, x, sample_rate=rate),
                                   rtol=0, atol=1e-12)


CASES = [(name, 48000) for name in models()] + [(name, rate) for name in ("lstm40", "gru64") for rate in (44100, 96000)]


@pytest.mark.parametrize("name,rate", CASES, ids=[f"{name}-{rate}" for name, rate in CASES])
def test_ten_seconds_within_1e_5_of_float64(name, rate):
    model = models()[name]
    rate = max(rate, model.sample_rate)
    controls = CONTROLS.get(name, ())
    x = loud(int(SECONDS * rate), rate, seed=3)
    processor = engine.Processor(model, sample_rate=rate)
    if controls:
        processor.set_controls(controls)
    y = processor.process(x)
    expected = fast_reference.run(model, x, rate, controls=controls)
    error = np.abs(y - expected)
    assert np.std(expected) > 1e-2, "the model should do something to the signal"
    assert error.max() <= 1e-5, f"max |engine − float64| = {error.max():.3g} at sample {error.argmax()} of {len(x)}"


@pytest.mark.parametrize("hidden", [1, 5, 8, 9, 16, 17, 24, 25, 33])
def test_every_block_shape_matches_float64(hidden):
    """Hidden sizes around the 16-unit blocks and the 8-unit half block of an LSTM (and GRUs)."""
    for cell in ("lstm", "gru"):
        model = random_model(cell, hidden=hidden, layers=2, seed=hidden)
        x = loud(3000, 48000, seed=hidden)
        y = engine.Processor(model, sample_rate=48000).process(x)
        error = np.abs(y - fast_reference.run(model, x, 48000))
        assert error.max() <= 1e-5, f"{cell}-{hidden}: max error {error.max():.3g}"
