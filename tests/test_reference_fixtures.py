"""Every real model file in ../shared/fixtures loads, and matches the outputs TensorFlow and PyTorch made."""

import numpy as np
import pytest

import engine
from conftest import guitar_like_signal
from reference import run as reference_run

# (model file, reference stem, tolerance, expected format, expected description)
REFERENCE_CASES = [
    ("rtneural/lstm_1d.json", "lstm_1d", 1e-6, "keras", "LSTM(1→8) → Dense(8→1)"),
    ("rtneural/gru_1d.json", "gru_1d", 1e-6, "keras", "GRU(1→8) → Dense(8→8, sigmoid) → Dense(8→1)"),
    ("rtneural/lstm_torch.json", "lstm_torch", 1e-6, "torch-state-dict",
     "LSTM(1→8) → LSTM(8→8) → LSTM(8→8) → LSTM(8→8) → Dense(8→1)"),
    ("rtneural/gru_torch.json", "gru_torch", 1e-6, "torch-state-dict",
     "GRU(1→8) → GRU(8→8) → GRU(8→8) → GRU(8→8) → Dense(8→1)"),
]


@pytest.mark.parametrize("name,stem,tolerance,fmt,description", REFERENCE_CASES, ids=[c[1] for c in REFERENCE_CASES])
def test_matches_framework_reference_at_every_sample(shared_fixtures, name, stem, tolerance, fmt, description):
    model = engine.load_model(shared_fixtures / name)
    assert model.format == fmt
    assert model.describe() == description
    x = np.loadtxt(shared_fixtures / f"rtneural/{stem}_x_python.csv", dtype=np.float32)
    expected = np.loadtxt(shared_fixtures / f"rtneural/{stem}_y_python.csv", dtype=np.float32)
    y = engine.Processor(model, sample_rate=model.sample_rate).process(x)
    error = np.abs(y - expected)
    assert error.max() <= tolerance, f"max error {error.max():.3g} at sample {error.argmax()}"


def test_klon_centaur_gru_loads_and_runs(shared_fixtures):
    model = engine.load_model(shared_fixtures / "kloncentaur/centaur_0_gru8.json")
    assert model.describe() == "GRU(1→8) → Dense(8→1)"
    assert model.recurrent_layers[0].reset_after  # bias shape (2, 24)
    assert (model.sample_rate, model.sample_rate_source) == (44100.0, "format-default")
    x = guitar_like_signal(2000)
    y = engine.Processor(model, sample_rate=44100).process(x)
    # No framework reference ships with it: compare with the independent float64 reference.
    np.testing.assert_allclose(y, reference_run(model, x), atol=1e-5)
    assert np.std(y) > 1e-3


def test_klon_centaur_rate_from_user_wins(shared_fixtures):
    model = engine.load_model(shared_fixtures / "kloncentaur/centaur_0_gru8.json", sample_rate=48000)
    assert (model.sample_rate, model.sample_rate_source) == (48000.0, "user")


def test_nam_lstm_loads_with_its_rate_and_initial_state(shared_fixtures):
    model = engine.load_model(shared_fixtures / "nam/lstm_1x3.nam")
    assert model.format == "nam"
    assert model.describe() == "LSTM(1→3) → Dense(3→1)"
    assert (model.sample_rate, model.sample_rate_source) == (48000.0, "file")
    assert model.parameter_count == 70  # every flat weight, the initial state (h0, c0) included
    layer = model.recurrent_layers[0]
    assert np.any(layer.initial_hidden != 0) and np.any(layer.initial_cell != 0)
    x = guitar_like_signal(2000, 48000)
    y = engine.Processor(model, sample_rate=48000).process(x)
    np.testing.assert_allclose(y, reference_run(model, x), atol=1e-5)


def test_nam_initial_state_is_the_silence_fixed_point(shared_fixtures):
    """FORMATS.md: NAM's stored (h0, c0) is the state reached after 48,000 zero samples.

    If the loader put h0/c0 (or the weights around them) in the wrong place, silence would move
    the state and the output would drift; read correctly, it stays put from the first sample.
    """
    model = engine.load_model(shared_fixtures / "nam/lstm_1x3.nam")
    y = engine.Processor(model, sample_rate=48000).process(np.zeros(48000, np.float32))
    assert np.max(np.abs(y - y[-1])) < 1e-4
