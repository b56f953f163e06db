"""Streaming invariants: block size never changes the output, reset() replays exactly, channels are independent."""

import numpy as np
import pytest

import engine
from conftest import guitar_like_signal as _signal
from engine.testing import random_model
from reference import run as reference_run


def guitar_like_signal(*args, **kwargs):
    """The shared test signal at full scale: the small RTNeural test models barely react at -6 dBFS."""
    return 2.0 * _signal(*args, **kwargs)


BLOCK_SIZES = [1, 7, 64, 65, 128, 4096, 8193]


def fixture_models(shared):
    return {
        "lstm_torch": engine.load_model(shared / "rtneural/lstm_torch.json"),
        "gru_1d": engine.load_model(shared / "rtneural/gru_1d.json"),
        "nam": engine.load_model(shared / "nam/lstm_1x3.nam"),
        "lstm_controls": random_model("lstm", hidden=16, layers=2, controls=2, skip=True, input_gain_db=-3, seed=3),
    }


def process_in_blocks(processor, x, block):
    return np.concatenate([processor.process(x[i:i + block]) for i in range(0, len(x), block)])


def assert_any_block_size_gives_the_whole_signals_output(processor, x):
    """x in one call, then (after reset) in blocks of every BLOCK_SIZES: the same output bit for bit."""
    if processor.model.num_controls:
        processor.set_controls([0.3, 0.8])
    whole = processor.process(x)
    assert np.std(whole) > 1e-3
    for block in BLOCK_SIZES:
        processor.reset()
        np.testing.assert_array_equal(process_in_blocks(processor, x, block), whole, err_msg=f"block {block}")


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("name", ["lstm_torch", "gru_1d", "nam", "lstm_controls"])
def test_any_block_size_gives_exactly_the_whole_signal_output(shared_fixtures, name, rate):
    model = fixture_models(shared_fixtures)[name]
    rate = max(rate, model.sample_rate)
    x = guitar_like_signal(20000, rate, seed=1)
    processor = engine.Processor(model, sample_rate=rate, max_block_size=4096)
    assert_any_block_size_gives_the_whole_signals_output(processor, x)


def test_reset_then_process_reproduces_the_first_run(shared_fixtures):
    model = fixture_models(shared_fixtures)["lstm_torch"]
    processor = engine.Processor(model, sample_rate=96000)
    x = guitar_like_signal(9000, 96000, seed=2)
    first = processor.process(x)
    second_without_reset = processor.process(x)
    assert not np.array_equal(first, second_without_reset)  # state carried over
    processor.reset()
    np.testing.assert_array_equal(processor.process(x), first)


def test_out_argument_is_filled_in_place(shared_fixtures):
    model = fixture_models(shared_fixtures)["gru_1d"]
    processor = engine.Processor(model, sample_rate=48000)
    x = guitar_like_signal(3000, 48000)
    expected = processor.process(x)
    processor.reset()
    out = np.full_like(x, np.nan)
    assert processor.process(x, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_long_input_is_split_at_max_block_size_without_changing_output(shared_fixtures):
    model = fixture_models(shared_fixtures)["nam"]
    x = guitar_like_signal(5000, 48000)
    small = engine.Processor(model, sample_rate=96000, max_block_size=32).process(x)
    large = engine.Processor(model, sample_rate=96000, max_block_size=8192).process(x)
    np.testing.assert_array_equal(small, large)


@pytest.mark.parametrize("name", ["lstm_torch", "lstm_controls"])
def test_stereo_gives_each_channel_exactly_what_mono_gives_it(shared_fixtures, name):
    model = fixture_models(shared_fixtures)[name]
    left = guitar_like_signal(6000, 48000, seed=4)
    right = guitar_like_signal(6000, 48000, seed=5)[::-1].copy()
    stereo = engine.Processor(model, sample_rate=48000, channels=2)
    mono = engine.Processor(model, sample_rate=48000)
    if model.num_controls:
        stereo.set_controls([0.1, 0.9])
        mono.set_controls([0.1, 0.9])
    both = stereo.process(np.stack([left, right], axis=1))
    np.testing.assert_array_equal(both[:, 0], mono.process(left))
    mono.reset()
    np.testing.assert_array_equal(both[:, 1], mono.process(right))


def test_control_change_ramps_linearly_across_the_next_block():
    model = random_model("gru", hidden=8, controls=1, seed=7)
    processor = engine.Processor(model, sample_rate=44100)
    processor.set_controls([0.2])  # fresh processor: applies at once
    x = guitar_like_signal(600, 44100, seed=6)
    y1 = processor.process(x[:200])
    processor.set_controls([0.8])  # ramps across the next call, sample j of n at 0.2 + 0.6 (j + 1) / n
    y2 = processor.process(x[200:500])
    y3 = processor.process(x[500:])  # holds 0.8
    controls = np.concatenate([np.full(200, 0.2), 0.2 + 0.6 * np.arange(1, 301) / 300, np.full(100, 0.8)])
    expected = reference_run(model, x, controls=controls[:, None])
    np.testing.assert_allclose(np.concatenate([y1, y2, y3]), expected, atol=1e-5)


def test_controls_set_after_reset_apply_at_once():
    model = random_model("lstm", hidden=8, controls=2, seed=8)
    processor = engine.Processor(model, sample_rate=44100)
    x = guitar_like_signal(300, 44100)
    processor.process(x)
    processor.reset()
    processor.set_controls([0.5, 0.25])
    np.testing.assert_allclose(processor.process(x), reference_run(model, x, controls=[0.5, 0.25]), atol=1e-5)


def test_a_ramp_split_across_kernel_blocks_is_one_ramp():
    model = random_model("lstm", hidden=8, controls=1, seed=9)
    split = engine.Processor(model, sample_rate=44100, max_block_size=16)
    whole = engine.Processor(model, sample_rate=44100, max_block_size=4096)
    x = guitar_like_signal(1000, 44100)
    for p in (split, whole):
        p.set_controls([0.0])
        p.process(x[:100])
        p.set_controls([1.0])
    np.testing.assert_array_equal(split.process(x[100:]), whole.process(x[100:]))


def test_read_only_input_gives_the_same_output(shared_fixtures):
    model = fixture_models(shared_fixtures)["nam"]
    processor = engine.Processor(model, sample_rate=48000)
    x = guitar_like_signal(2000, 48000)
    expected = processor.process(x)
    processor.reset()
    frozen = x.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(processor.process(frozen), expected)


#: The modes issue 11 added beside the plain state reads: the resampler pair around the model
#: (resample), oversampling inside it, and auto (its choice, made at prepare, is a state read).
MODES = {"resample": dict(interpolation="resample"), "cubic-x2": dict(interpolation="cubic", oversample=2),
         "linear-x4": dict(interpolation="linear", oversample=4), "auto": dict(interpolation="auto")}


@pytest.fixture
def private_auto_cache(tmp_path, monkeypatch):
    """auto's decisions go to a folder of this test's own (never the user's cache)."""
    from engine import auto_cache

    monkeypatch.setattr(auto_cache, "cache_directory", lambda: str(tmp_path / "engine-auto"))


@pytest.mark.parametrize("rate", [48000, 96000])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", ["lstm_torch", "lstm_controls"])
def test_every_mode_gives_the_whole_signals_output_for_any_block_size(shared_fixtures, private_auto_cache, name,
                                                                      mode, rate):
    model = fixture_models(shared_fixtures)[name]
    x = guitar_like_signal(12000, rate, seed=4)
    processor = engine.Processor(model, sample_rate=rate, max_block_size=4096, **MODES[mode])
    assert_any_block_size_gives_the_whole_signals_output(processor, x)
