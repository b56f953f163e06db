"""The live signal chain run offline: the exact block-by-block code the audio callback runs."""

import numpy as np
import pytest

from conftest import REPO, guitar_like_signal
from engine import Processor, load_model
from engine.live.chain import LiveChain
from engine.config import LiveConfig, ModelEntry
from engine.settle import settled
from engine.testing import exploding_model

LSTM8 = REPO / "tests/fixtures/torch/lstm_1x8_in1_skip0.guitarml.json"
GRU8 = REPO / "tests/fixtures/torch/gru_1x8_in1_skip0.guitarml.json"
RATE = 48000


def chain_for(*paths, models=None, **settings):
    config = LiveConfig(models=tuple(ModelEntry(path=str(p)) for p in paths), **{"limiter": False, **settings})
    models = models or [load_model(p) for p in paths]
    return LiveChain(config, models, RATE, in_channels=2, out_channels=2)


def test_without_limiter_or_gains_the_chain_is_the_model_on_every_output():
    chain = chain_for(LSTM8, output_channels=(1, 2))
    x = guitar_like_signal(5000, RATE)
    out = chain.render(x, in_channels=2)
    expected = Processor(settled(load_model(LSTM8)), sample_rate=RATE).process(x)
    np.testing.assert_array_equal(out[:, 0], expected)
    np.testing.assert_array_equal(out[:, 1], expected)


def test_input_channel_and_gains_are_applied():
    chain = chain_for(LSTM8, input_channel=2, output_channels=(2,), input_gain_db=6, output_gain_db=-6)
    x = guitar_like_signal(3000, RATE)
    indata = np.zeros((len(x), 2), np.float32)
    indata[:, 1] = x
    outdata = np.zeros((len(x), 2), np.float32)
    for start in range(0, len(x), chain.block_size):
        chain.process(indata[start:start + chain.block_size], outdata[start:start + chain.block_size])
    expected = Processor(settled(load_model(LSTM8)), sample_rate=RATE).process(x * np.float32(10 ** (6 / 20)))
    np.testing.assert_allclose(outdata[:, 1], expected * np.float32(10 ** (-6 / 20)), rtol=1e-6, atol=1e-7)
    assert not outdata[:, 0].any()  # an output channel not listed stays silent


def test_limiter_keeps_every_sample_under_the_ceiling_and_counts():
    chain = chain_for(LSTM8, limiter=True, output_gain_db=30)
    out = chain.render(guitar_like_signal(20000, RATE))[:, 0]
    assert np.max(np.abs(out)) <= chain.ceiling
    assert chain.counters()["limited_samples"] > 0
    unlimited = chain_for(LSTM8, limiter=False, output_gain_db=30).render(guitar_like_signal(20000, RATE))[:, 0]
    assert np.max(np.abs(unlimited)) > 1.5  # so the limiter had work to do


def test_non_finite_input_mutes_the_block_resets_and_recovers():
    chain = chain_for(LSTM8)
    block = chain.block_size
    x = guitar_like_signal(10 * block, RATE)
    x[3 * block + 5] = np.nan
    out = chain.render(x)[:, 0]
    assert np.all(np.isfinite(out))
    assert not out[3 * block:4 * block].any()  # the poisoned block is silent
    assert chain.counters()["muted_bad_input"] == 1
    # The state was reset at that block: from the next block on, the chain equals a fresh model
    # fed the rest of the input from its initial state.
    fresh = Processor(settled(load_model(LSTM8)), sample_rate=RATE).process(x[4 * block:])
    np.testing.assert_array_equal(out[4 * block:], fresh)


def test_nan_arising_inside_the_network_never_reaches_the_output():
    model = exploding_model()
    chain = chain_for(LSTM8, models=[model])
    x = np.zeros(8 * chain.block_size, np.float32)
    x[2 * chain.block_size:3 * chain.block_size] = 0.9  # drives the state up: the head overflows to NaN
    processor = Processor(settled(model), sample_rate=RATE)
    offline = processor.process(x)
    # The kernel's guard: the NaN the network makes is written as 0 and counted, never output.
    assert np.all(np.isfinite(offline))
    assert processor.repairs["state_resets"] >= 1, "the model must really produce NaN for this test to mean anything"
    out = chain.render(x)[:, 0]
    assert np.all(np.isfinite(out))
    assert chain.counters()["muted_bad_output"] >= 1
    assert not out[2 * chain.block_size:3 * chain.block_size].any()  # the block that overflowed is silent
    # Its state was reset, so the silence after it is what a fresh model makes of silence.
    fresh = Processor(settled(model), sample_rate=RATE).process(np.zeros(4 * chain.block_size, np.float32))
    np.testing.assert_array_equal(out[4 * chain.block_size:], fresh)


def crossfade_bound(sources, n):
    steepest = max(np.abs(np.diff(s)).max() for s in sources)
    widest = max(np.abs(u - v).max() for i, u in enumerate(sources) for v in sources[i + 1:])
    return steepest + widest / n, widest


def test_model_switch_crossfades_linearly_and_completes():
    chain = chain_for(LSTM8, GRU8, crossfade_ms=10)
    n = chain.crossfade_samples
    x = (0.4 * np.sin(2 * np.pi * 110 * np.arange(12000) / RATE)).astype(np.float32)
    first = chain.render(x[:4096])[:, 0]
    chain.select_model(1)
    rest = chain.render(x[4096:])[:, 0]
    out = np.concatenate([first, rest])
    assert chain.current == 1 and not chain.busy
    a = Processor(settled(load_model(LSTM8)), sample_rate=RATE).process(x)
    b = Processor(settled(load_model(GRU8)), sample_rate=RATE).process(x[4096:])  # B starts from reset at the switch
    allowed, widest = crossfade_bound([a[4096:], b], n)
    assert np.abs(np.diff(out)).max() <= allowed + 1e-6 < 0.5 * widest
    # Exactly the linear fade: y = (1 − w)·a + w·b with w = (k + 1) / n for the k-th sample.
    # (The kernel adds 1/n per sample in float32, so w drifts from (k + 1)/n by rounding.)
    w = np.minimum(np.arange(1, len(b) + 1) / n, 1.0).astype(np.float32)
    np.testing.assert_allclose(rest, (1 - w) * a[4096:] + w * b, atol=5e-5)


def test_bypass_fades_to_the_exact_dry_signal_and_back():
    chain = chain_for(LSTM8, crossfade_ms=5)
    x = guitar_like_signal(20000, RATE)
    chain.render(x[:2048])
    chain.set_bypass(True)
    bypassed = chain.render(x[2048:12048])[:, 0]
    np.testing.assert_array_equal(bypassed[chain.crossfade_samples + 1:], x[2048 + chain.crossfade_samples + 1:12048])
    chain.set_bypass(False)
    back = chain.render(x[12048:])[:, 0]
    model = Processor(settled(load_model(LSTM8)), sample_rate=RATE).process(x)  # the model kept running while bypassed
    np.testing.assert_array_equal(back[chain.crossfade_samples + 1:], model[12048 + chain.crossfade_samples + 1:])


def test_switch_while_bypassed_is_immediate_and_requests_wait_for_a_running_fade():
    chain = chain_for(LSTM8, GRU8, crossfade_ms=20)
    chain.set_bypass(True)
    chain.render(np.zeros(4096, np.float32))
    chain.select_model(1)
    chain.render(np.zeros(chain.block_size, np.float32))
    assert chain.current == 1 and not chain.busy  # nothing audible to fade
    chain.set_bypass(False)
    chain.render(np.zeros(chain.block_size, np.float32))
    chain.select_model(0)  # posted while the bypass fade still runs: applied after it
    chain.render(np.zeros(chain.block_size, np.float32))
    assert chain.busy
    chain.render(np.zeros(8 * chain.crossfade_samples, np.float32))
    assert chain.current == 0 and not chain.busy and not chain.bypassed


def test_select_model_out_of_range():
    chain = chain_for(LSTM8)
    with pytest.raises(IndexError, match="model 3 does not exist; there are 1"):
        chain.select_model(2)
