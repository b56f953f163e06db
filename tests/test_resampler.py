"""The streaming resampler pair (engine/resampler): against scipy, exact latency, block-size
invariance, no allocation after prepare, and compiled inside a cfunc without numba's runtime."""

import math

import numba
import numpy as np
import pytest
from numba import types

import engine
from conftest import guitar_like_signal
from engine.errors import SampleRateError
from engine.resampler import design, layout
from engine.resampler.kernels import resampled_block, stage_block
from engine.resampler.pair import ResamplerPair
from engine.testing import random_model
from test_allocation import allocations_during, assert_kernel_allocates_nothing

signal = pytest.importorskip("scipy.signal")

RATE_PAIRS = [(48000, 44100), (44100, 48000), (48000, 96000), (96000, 48000), (48000, 192000), (8000, 44100),
              (44100, 88200)]
#: The pairs a Processor runs (R = outer / inner from 0.5 to 64, engine.rates).
PROCESSOR_PAIRS = [(outer, inner) for outer, inner in RATE_PAIRS if 0.5 <= outer / inner <= 64]


def pass_through_model(sample_rate):
    """A model whose output is its input exactly (skip connection, zero network output): the pair alone."""
    model = random_model("lstm", hidden=8, skip=True, sample_rate=sample_rate, seed=3)
    head = model.layers[-1]
    object.__setattr__(head, "weight", np.zeros_like(head.weight))
    object.__setattr__(head, "bias", np.zeros_like(head.bias))
    return model


def noise(n, channels=1, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32) * 0.3
    return x[:, 0].copy() if channels == 1 else x


@pytest.mark.parametrize("outer,inner", RATE_PAIRS)
@pytest.mark.parametrize("channels", [1, 2])
def test_each_stage_is_scipys_upfirdn_with_the_same_filter(outer, inner, channels):
    """Equation (1) of engine/resampler/design.py, streamed in random blocks, is upfirdn(h, x, U, V)."""
    plan = design.plan(outer, inner)
    pair = ResamplerPair(plan, channels)
    rs, table_in, table_back, hist_in, hist_back = pair.arguments[:5]
    pos = np.zeros((channels, 4), np.int64)
    x = noise(3000, channels)
    rng = np.random.default_rng(1)
    for base, stage, table, hist in ((layout.IN, plan.into, table_in, hist_in),
                                     (layout.BACK, plan.back, table_back, hist_back)):
        made, start = [], 0
        while start < len(x):
            n = int(rng.integers(1, 300))
            block = np.ascontiguousarray(x[start:start + n]).reshape(-1)
            out = np.zeros((n * stage.up // stage.down + 2) * channels, np.float32)
            count = stage_block(block, out, rs, base, table, hist, channels, pos)
            made.append(out[:count * channels].reshape(count, channels))
            start += n
        got = np.concatenate(made)
        for ch in range(channels):
            column = x if channels == 1 else x[:, ch]
            expected = signal.upfirdn(stage.prototype.astype(np.float64), column.astype(np.float64), stage.up,
                                      stage.down)
            np.testing.assert_allclose(got[:, ch], expected[:len(got)], atol=2e-6, rtol=0)
        assert len(got) == -(-len(x) * stage.up // stage.down)


@pytest.mark.parametrize("outer,inner", RATE_PAIRS)
def test_the_filters_meet_their_design(outer, inner):
    """DC gain 1, −6 dB at the lower Nyquist frequency (centred), stopband ≥ 78 dB beyond the transition band
    (Kaiser's formula for its width), and, with the stopband below the Nyquist frequency, ≥ 78 dB from it up."""
    for transition in design.TRANSITIONS:
        plan = design.plan(outer, inner, back_transition=transition)
        high = plan.fraction.numerator * inner
        nyquist = 0.5 * min(outer, inner)
        for stage, placed in ((plan.into, design.CENTRED), (plan.back, transition)):
            h = stage.prototype.astype(np.float64) / stage.up
            width = design.transition_width(len(h)) * high
            edge = nyquist + (0.5 * width if placed == design.CENTRED else 0.0)
            frequencies = np.concatenate([[0.0, nyquist], np.linspace(edge + 1.0, min(high / 2, edge + 4 * nyquist),
                                                                      400)])
            _, response = signal.freqz(h, worN=frequencies, fs=high)
            gain = 20 * np.log10(np.abs(response) + 1e-300)
            assert abs(gain[0]) < 1e-5
            if placed == design.CENTRED:
                assert abs(gain[1] + 6.02) < 0.2, gain[1]
            assert gain[2:].max() < -78, (placed, gain[2:].max())  # Kaiser: A ≈ 81 dB, to his formula's accuracy


def test_the_round_trip_is_the_two_upfirdns_and_its_latency_is_exact():
    """The pair (through a pass-through model) against an independent offline chain: upfirdn in, the first D
    inner samples silenced (the model starts with the stream), upfirdn back. An impulse at a multiple of P
    comes back symmetric about its own time + latency, to rounding."""
    for outer, inner in PROCESSOR_PAIRS:
        processor = engine.Processor(pass_through_model(inner), outer, interpolation="resample")
        plan = processor._resampler.plan
        x = noise(4000, seed=4)
        y = processor.process(x)
        inner_x = signal.upfirdn(plan.into.prototype.astype(np.float64), x.astype(np.float64), plan.into.up,
                                 plan.into.down)
        inner_x[:plan.inner_delay] = 0
        expected = signal.upfirdn(plan.back.prototype.astype(np.float64), inner_x, plan.back.up, plan.back.down)
        np.testing.assert_allclose(y, expected[:len(y)], atol=3e-6, rtol=0)
        # The impulse: at sample s = k·P, after the leading inner samples.
        p = plan.fraction.numerator
        s = p * math.ceil(4 * plan.latency / p)
        impulse = np.zeros(s + 4 * plan.latency + 1, np.float32)
        impulse[s] = 1
        processor.reset()
        h = processor.process(impulse).astype(np.float64)
        centre, reach = s + processor.latency, 2 * processor.latency
        assert int(np.argmax(np.abs(h))) == centre
        np.testing.assert_allclose(h[centre - reach:centre + reach + 1], h[centre - reach:centre + reach + 1][::-1],
                                   atol=1e-6 * abs(h[centre]))


def test_latency_is_within_the_acceptance_at_48_khz():
    """1.5 ms at 48 kHz = 72 samples, both ways round 44.1 ↔ 48 kHz."""
    assert design.plan(48000, 44100).latency <= 72
    assert design.plan(44100, 48000).latency / 44100 <= 1.5e-3


CASES = [("resample-48-44.1", 44100.0, 48000, dict(interpolation="resample"), 1),
         ("resample-44.1-48", 48000.0, 44100, dict(interpolation="resample"), 1),
         ("resample-stereo", 44100.0, 96000, dict(interpolation="resample"), 2),
         ("cubic-x2", 44100.0, 48000, dict(interpolation="cubic", oversample=2), 1),
         ("linear-x4-stereo", 44100.0, 48000, dict(interpolation="linear", oversample=4), 2),
         ("resample-x2", 44100.0, 48000, dict(interpolation="resample", oversample=2), 1)]


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_any_block_sizes_give_the_one_long_blocks_output(case):
    _, model_rate, rate, kwargs, channels = next(c for c in CASES if c[0] == case)
    model = random_model("lstm", hidden=12, sample_rate=model_rate, seed=7)
    x = np.repeat(2 * guitar_like_signal(9000, rate)[:, None], channels, axis=1)
    x = np.ascontiguousarray(x[:, 0] if channels == 1 else x)
    processor = engine.Processor(model, rate, channels=channels, **kwargs)
    whole = processor.process(x)
    sizes = [[1] * 300, [7] * 300, [128] * 40, [4096, 4096], list(np.random.default_rng(5).integers(1, 700, 60))]
    for pattern in sizes:
        processor.reset()
        pieces, start = [], 0
        for n in pattern:
            pieces.append(processor.process(x[start:start + n]))
            start += n
        pieces.append(processor.process(x[start:]))
        np.testing.assert_array_equal(np.concatenate(pieces), whole, err_msg=f"{case}: blocks {pattern[:3]}…")


def test_a_block_longer_than_max_block_size_is_the_same_as_short_ones():
    model = random_model("gru", hidden=8, sample_rate=44100.0, seed=2)
    x = guitar_like_signal(5000, 48000)
    short = engine.Processor(model, 48000, interpolation="resample", max_block_size=64).process(x)
    long = engine.Processor(model, 48000, interpolation="resample", max_block_size=8192).process(x)
    np.testing.assert_array_equal(short, long)


@numba.njit
def repeat_pair_kernel(calls, *arguments):
    for _ in range(calls):
        resampled_block(*arguments)


@pytest.mark.parametrize("case", ["resample-48-44.1", "resample-stereo", "linear-x4-stereo"])
def test_the_pair_allocates_nothing_after_prepare(case):
    _, model_rate, rate, kwargs, channels = next(c for c in CASES if c[0] == case)
    processor = engine.Processor(random_model("lstm", hidden=8, sample_rate=model_rate), rate, channels=channels,
                                 **kwargs)
    x = np.ascontiguousarray(np.repeat(guitar_like_signal(512, rate)[:, None], channels, axis=1).reshape(-1))
    y = np.empty_like(x)
    arguments = (x, y) + processor._arguments
    assert processor._kernel is resampled_block
    assert_kernel_allocates_nothing(lambda calls: repeat_pair_kernel(calls, *arguments))
    assert np.all(np.isfinite(y)) and np.std(y) > 0
    mono = engine.Processor(random_model("lstm", hidden=8, sample_rate=44100.0), 48000, interpolation="resample")
    x, out = guitar_like_signal(4096, 48000), np.empty(4096, np.float32)
    mono.process(x, out=out)
    assert allocations_during(lambda: mono.process(x[:64], out=out[:64])) == 0
    assert allocations_during(lambda: mono.process(x, out=out)) == 0


# The cfunc: a C function taking one pointer to a table of (address, rows, columns) per array, viewing each
# array in place and calling the pair's block kernel, as the live callback does with its model slots.
ENTRY = 3
ARRAYS = 15  # x, y, 8 resampler arrays, meta, params, hist, pos, work


def pair_cfunc():
    from engine.live.callback import view

    def call(table_address):
        t = view(table_address, (ARRAYS, ENTRY), np.int64)

        def f32(k):
            return view(t[k, 0], t[k, 1], np.float32)

        resampled_block(f32(0), f32(1), view(t[2, 0], t[2, 1], np.int64), f32(3), f32(4), f32(5), f32(6), f32(7),
                        f32(8), f32(9), view(t[10, 0], (t[10, 1], t[10, 2]), np.int64), f32(11), f32(12),
                        view(t[13, 0], (t[13, 1], t[13, 2]), np.int64), f32(14))
        return 0

    return numba.cfunc(types.int32(types.int64), nopython=True, _nrt=False, error_model="numpy", cache=False)(call)


def test_the_pair_compiles_inside_a_cfunc_without_numbas_runtime_and_runs_the_same():
    compiled = pair_cfunc()
    assert "NRT_" not in compiled.inspect_llvm()
    assert resampled_block.targetoptions.get("_nrt") is False and stage_block.targetoptions.get("_nrt") is False
    model = random_model("lstm", hidden=8, sample_rate=44100.0, seed=9)
    reference = engine.Processor(model, 48000, interpolation="resample")
    processor = engine.Processor(model, 48000, interpolation="resample")
    x = guitar_like_signal(300, 48000)
    y = np.zeros_like(x)
    arrays = (x, y) + processor._arguments
    table = np.zeros((ARRAYS, ENTRY), np.int64)
    for k, array in enumerate(arrays):
        table[k] = (array.ctypes.data, array.shape[0], array.shape[1] if array.ndim == 2 else 0)
    for _ in range(3):
        assert compiled.ctypes(table.ctypes.data) == 0
        np.testing.assert_array_equal(y, reference.process(x))


def test_impossible_rate_pairs_are_one_line_errors():
    with pytest.raises(SampleRateError, match=r"^cannot resample between 44100\.5 Hz and 48000 Hz exactly: their "
                                              r"ratio is 88201/96000, .* up to 4096 .*160/147\)$") as excinfo:
        design.plan(44100.5, 48000)
    assert "\n" not in str(excinfo.value)
    assert design.rate_fraction(44100, 192000) == design.rate_fraction(147, 640)
