"""Starting at rest (engine.settle): the chain paths start, and reset, at the state silence leads to.

The reference is independent of engine.settle's fixed-point search: the plain model (zero
initial state, as the training framework starts) fed seconds of silence, whose output has by
then stopped moving.
"""

import dataclasses

import numpy as np
import pytest
import soundfile

from conftest import REPO, guitar_like_signal
from engine import Chain, Processor, load_model
from engine.settle import BLOCK, rest_state, settled
from engine.testing import random_model

TORCH = REPO / "tests/fixtures/torch"
MODELS = [REPO / "models/overdrive_lstm20.json", TORCH / "lstm_1x40_in1_skip1.guitarml.json",
          TORCH / "gru_3x16_in3_skip0.guitarml.json", TORCH / "lstm_2x16_in1_skip0.nam",
          TORCH / "lstm_1x16_in2_skip1.guitarml.json", TORCH / "gru_2x16_in2_skip0.aidax.json"]
RATE = 48000


def knobs_of(model):
    return [0.5] * model.num_controls if model.num_controls else None


def resting_output(model, knobs, seconds=3.0):
    """The plain model's output after ``seconds`` of silence at its own rate (its last value)."""
    y = Processor(model, model.sample_rate, controls=knobs).process(np.zeros(int(seconds * model.sample_rate),
                                                                               np.float32))
    assert np.ptp(y[-1000:]) < 1e-6, "the reference has not come to rest"
    return float(y[-1])


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_a_settled_model_starts_at_the_output_silence_brings_it_to(path):
    model = load_model(path)
    knobs = knobs_of(model)
    rest = resting_output(model, knobs)
    plain = Processor(model, RATE, controls=knobs).process(np.zeros(RATE // 10, np.float32))
    for rate, method in ((RATE, "linear"), (96000, "cubic"), (44100, "lagrange5")):
        start = Processor(settled(model, knobs), rate, interpolation=method, controls=knobs).process(
            np.zeros(rate // 10, np.float32))
        np.testing.assert_allclose(start, rest, atol=2e-5, err_msg=f"{method} at {rate}")
    # (the plain model does glide there: what a listener hears as a click or thump)
    if path.name == "overdrive_lstm20.json":
        assert np.max(np.abs(plain - rest)) > 0.1


def test_settling_leaves_the_weights_and_only_replaces_the_initial_state():
    model = load_model(MODELS[0])
    rested = settled(model)
    assert rested is not model and rested.name == model.name and rested.sample_rate == model.sample_rate
    for before, after in zip(model.layers, rested.layers):
        for field in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight", "bias"):
            if hasattr(before, field):
                assert np.array_equal(getattr(before, field), getattr(after, field)), field
    x = guitar_like_signal(RATE, RATE)
    # Past the first moments the two play the same (the start is all that differs).
    a = Processor(model, RATE).process(x)
    b = Processor(rested, RATE).process(x)
    assert np.max(np.abs(a[RATE // 2:] - b[RATE // 2:])) < 1e-4 < np.max(np.abs(a[:500] - b[:500]))


def test_a_model_that_never_comes_to_rest_keeps_its_own_initial_state():
    model = random_model("lstm", hidden=8, seed=0)
    layer = model.layers[0]
    loud = dataclasses.replace(model, layers=(dataclasses.replace(layer, weight_hh=layer.weight_hh * 8),
                                              *model.layers[1:]))
    y = Processor(loud, loud.sample_rate).process(np.zeros(2 * int(loud.sample_rate), np.float32))
    assert np.ptp(y[-4000:]) > 0.1  # it oscillates on silence (independent of engine.settle)
    assert rest_state(loud) is None and settled(loud) is loud
    assert rest_state(load_model(MODELS[1]), max_seconds=BLOCK / 44100) is None  # one block: no verdict yet


def test_the_chain_and_engine_process_start_at_rest_and_no_settle_is_the_framework_start(tmp_path):
    import subprocess
    import sys

    model = load_model(MODELS[0])
    silence = np.zeros(RATE // 5, np.float32)
    rest = resting_output(model, None)
    np.testing.assert_allclose(Chain(model, RATE).process(silence), rest, atol=2e-5)
    assert np.max(np.abs(Chain(model, RATE, settle=False).process(silence) - rest)) > 0.1
    source = tmp_path / "silence.wav"
    soundfile.write(source, silence, RATE, subtype="FLOAT")
    for flags, expected in (([], Processor(settled(model), RATE).process(silence)),
                            (["--no-settle"], Processor(model, RATE).process(silence))):
        out = tmp_path / f"out{len(flags)}.wav"
        subprocess.run([sys.executable, "-m", "engine.cli_run", "process", "--model", str(MODELS[0]), str(source),
                        str(out), "--quiet", *flags], check=True, timeout=300)
        np.testing.assert_array_equal(soundfile.read(out, dtype="float32")[0], expected)


def test_the_live_chain_starts_at_rest_and_returns_to_rest_after_a_non_finite_block():
    from engine.config import LiveConfig, ModelEntry
    from engine.live.chain import LiveChain

    model = load_model(MODELS[0])
    config = LiveConfig(models=(ModelEntry(path=str(MODELS[0])),), block_size=128, limiter=False)
    chain = LiveChain(config, [model], RATE, 1, 2)
    x = np.zeros(40 * 128, np.float32)
    x[10 * 128 + 5] = np.nan  # block 10 is muted and the model reset
    y = chain.render(x)[:, 0]
    rest = resting_output(model, None)
    np.testing.assert_allclose(y[:10 * 128], rest, atol=2e-5)
    assert np.all(y[10 * 128:11 * 128] == 0)  # the muted block
    np.testing.assert_allclose(y[11 * 128:], rest, atol=2e-5)  # no glide after the reset
