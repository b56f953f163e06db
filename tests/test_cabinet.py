"""The cabinet stage (engine.dsp): the real FFT, the zero-latency partitioned convolver, IR loading, the Cabinet API.

References are independent of the code under test: numpy.fft for the FFT, scipy.signal.fftconvolve
(float64) for the convolution, scipy.signal.resample_poly for the resampling at load,
scipy.signal.freqz for the normalisation, and the bilinear sections of tools/circuits.py (through
scipy.signal.lfilter) for the shipped IR.
"""

import math
import subprocess
import sys

import numba
import numpy as np
import pytest
import soundfile
from numba import types
from numba.core import errors as numba_errors
from numba.core.typing import signature
from numba.extending import intrinsic
from numba.np.arrayobj import np_cfarray
from scipy import signal

from conftest import REPO
from engine.dsp import convolver
from engine.dsp.cabinet import RAMP_SECONDS, Cabinet, set_mix_level
from engine.dsp.convolver import Plan, convolve_block, levels_for, plan_partitions
from engine.dsp.fft import fft_tables, irfft_split, rfft_split
from engine.errors import ArgumentError, AudioFileError, AudioInputError
from test_allocation import allocations_during, assert_kernel_allocates_nothing

RATE = 48000
SHIPPED_IR = REPO / "models" / "cabinet_4x12.wav"


def random_ir(length, seed=0):
    """A decaying noise IR of unit energy (Σh² = 1), float32."""
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(length) * np.exp(-np.arange(length) / max(length / 4, 1))
    return (ir / np.sqrt(np.sum(ir ** 2))).astype(np.float32)


def noise_signal(n, seed=1):
    """Uniform noise in [-1, 1], float32."""
    return np.random.default_rng(seed).uniform(-1, 1, n).astype(np.float32)


def in_blocks(cabinet, x, sizes):
    """Process x through ``cabinet`` in blocks of the given sizes (cycled), one call each."""
    y = np.empty_like(x)
    start = 0
    index = 0
    while start < len(x):
        size = sizes[index % len(sizes)]
        cabinet.process(x[start:start + size], out=y[start:start + size])
        start += size
        index += 1
    return y


# ---- the FFT -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64, 256, 2048, 2 ** 15])
def test_real_fft_and_its_inverse_match_numpy(n):
    twiddles, swaps = fft_tables(n)
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    re = np.zeros(n // 2 + 1, np.float32)
    im = np.zeros(n // 2 + 1, np.float32)
    re[:n // 2], im[:n // 2] = x[0::2], x[1::2]
    rfft_split(re, im, twiddles, swaps)
    expected = np.fft.rfft(x.astype(np.float64))
    # float32: rounding grows like log2(n) ulps of the largest bin
    tolerance = 2e-7 * math.log2(n) * np.max(np.abs(expected)) + 1e-6
    assert np.max(np.abs(re + 1j * im - expected)) < tolerance
    irfft_split(re, im, twiddles, swaps)
    back = np.empty(n, np.float32)
    back[0::2], back[1::2] = re[:n // 2], im[:n // 2]
    assert np.max(np.abs(back - np.fft.irfft(expected, n))) < 2e-7 * math.log2(n) * np.max(np.abs(x)) + 1e-6


@pytest.mark.parametrize("n", [0, 1, 3, 96, 2 ** 25, 2.0])
def test_fft_tables_refuse_lengths_that_are_not_powers_of_two(n):
    with pytest.raises(ValueError, match="power of two"):
        fft_tables(n)


# ---- the convolution ----------------------------------------------------------------------------

IR_LENGTHS = [1, 127, 128, 129, 8192, 48000]
BLOCK_SIZES = [1, 32, 128, 4096, 8193]


@pytest.mark.parametrize("ir_length", IR_LENGTHS)
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_convolution_equals_fftconvolve(ir_length, block_size):
    """Within 1e-5 of float64 fftconvolve, for a unit-energy IR and input in [-1, 1]; every tap is
    reached (the signal outlasts the IR) and several blocks run (longer signals for long blocks)."""
    ir = random_ir(ir_length)
    n = max(ir_length + 3000, 3 * block_size + 17) if block_size > 1 or ir_length < 48000 else ir_length + 500
    x = noise_signal(n)
    cabinet = Cabinet(ir, RATE, max_block_size=block_size, normalize=False)
    assert np.array_equal(cabinet.ir, ir)
    y = in_blocks(cabinet, x, [block_size])
    expected = signal.fftconvolve(x.astype(np.float64), ir.astype(np.float64))[:n]
    error = np.max(np.abs(y - expected))
    assert error < 1e-5, f"max |y - fftconvolve| = {error:.2e} with plan {cabinet.plan}"


@pytest.mark.parametrize("plan_levels", [
    lambda n: Plan(16, levels_for(n, 16, 4, 4096)),   # five levels: 16, 64, 256, 1024, 4096
    lambda n: Plan(16, levels_for(n, 16, 2, 64)),     # doubling partitions (Gardner's shape)
    lambda n: Plan(512, levels_for(n, 512, 0)),       # uniform after a long head
])
def test_every_partitioning_gives_the_same_convolution(plan_levels):
    ir = random_ir(9000, seed=3)
    x = noise_signal(12000)
    cabinet = Cabinet(ir, RATE, normalize=False, plan=plan_levels(len(ir)))
    y = in_blocks(cabinet, x, [1, 100, 7, 513, 4096, 31])
    expected = signal.fftconvolve(x.astype(np.float64), ir.astype(np.float64))[:len(x)]
    assert np.max(np.abs(y - expected)) < 1e-5


def test_planner_prefers_more_levels_for_longer_irs_and_every_plan_covers_the_ir():
    for length in (1, 15, 16, 17, 1000, 8192, 48000, 480000):
        plan = plan_partitions(length)
        convolver._check_plan(plan, length)  # raises unless every tap is covered exactly once
    assert len(plan_partitions(480000).levels) > len(plan_partitions(8192).levels) >= 1
    with pytest.raises(ValueError, match="ends before the IR does"):
        convolver._check_plan(Plan(128, ((128, 3),)), 1000)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_zero_latency_the_first_output_of_a_block_depends_on_that_blocks_input(block_size):
    ir = random_ir(3000, seed=5)
    n = 3 * block_size + 50
    x = noise_signal(n)
    kicked = x.copy()
    start = block_size * (n // block_size // 2)  # the first sample of a block in the middle
    kicked[start] += 0.5
    outputs = []
    for signal_in in (x, kicked):
        cabinet = Cabinet(ir, RATE, max_block_size=block_size, normalize=False)
        outputs.append(in_blocks(cabinet, signal_in, [block_size]))
    difference = outputs[1] - outputs[0]
    assert np.all(difference[:start] == 0)
    # The block's very first output already holds the kick through h[0], the next through h[1], …
    tail = min(len(ir), n - start)
    np.testing.assert_allclose(difference[start:start + tail], 0.5 * ir[:tail], atol=2e-6)


def test_a_unit_impulse_passes_audio_unchanged_and_a_delayed_one_delays_it():
    x = noise_signal(5000)
    assert np.array_equal(Cabinet(np.array([1.0]), RATE, normalize=False).process(x), x)
    delayed = np.zeros(300)
    delayed[299] = 1.0
    y = in_blocks(Cabinet(delayed, RATE, normalize=False), x, [64, 1, 333])
    np.testing.assert_allclose(y[299:], x[:-299], atol=1e-6)
    assert np.max(np.abs(y[:299])) < 1e-6


def test_any_sequence_of_block_sizes_gives_the_same_samples_bit_for_bit():
    ir = random_ir(20000, seed=7)
    x = noise_signal(60000)
    ramp = round(RAMP_SECONDS * RATE)
    rng = np.random.default_rng(11)
    results = []
    for trial in range(4):
        cabinet = Cabinet(ir, RATE, normalize=False, mix=0.8)
        if trial == 0:
            sizes = [len(x)]
        else:
            sizes = list(rng.integers(0, 3000 if trial < 3 else 40, 400))
        y = np.full_like(x, np.nan)
        start = 0
        index = 0
        change_at = 31111  # a mix and level change lands at this sample, whatever the blocks
        changed = False
        while start < len(x):
            stop = min(start + int(sizes[index % len(sizes)]), len(x))
            index += 1
            if start < change_at < stop:
                stop = change_at
            cabinet.process(x[start:stop], out=y[start:stop])
            if stop == change_at and not changed:
                cabinet.set_mix(0.3)
                cabinet.set_level(-9.0)
                changed = True
            start = stop
        results.append(y)
    for y in results[1:]:
        assert np.array_equal(y, results[0])
    # and the ramp took RAMP_SECONDS: the level is at its target from change_at + ramp on
    wet = signal.fftconvolve(x.astype(np.float64), ir.astype(np.float64))[:len(x)]
    expected = 0.7 * x + 0.3 * 10 ** (-9 / 20) * wet
    after = slice(change_at + ramp, len(x))
    assert np.max(np.abs(results[0][after] - expected[after])) < 1e-5


def test_mix_and_level_ramp_linearly_without_a_step():
    """A jump from mix 1 to mix 0 on a steady signal moves each output sample by at most 1/ramp of the jump."""
    x = np.full(4000, 0.5, np.float32)
    ir = np.zeros(64)
    ir[0] = 2.0  # wet = 2·x = 1.0, dry = 0.5: the mix moves the output from 1.0 to 0.5
    cabinet = Cabinet(ir, RATE, normalize=False)
    before = cabinet.process(x[:1000])
    cabinet.set_mix(0.0)
    after = cabinet.process(x[1000:])
    ramp = round(RAMP_SECONDS * RATE)
    np.testing.assert_allclose(before, 1.0, atol=1e-6)
    steps = np.diff(np.concatenate([before[-1:], after[:ramp]]))  # the ramp's samples reach the target at the last
    np.testing.assert_allclose(steps, -0.5 / ramp, atol=1e-6)
    assert np.array_equal(after[ramp - 1:], x[1000 + ramp - 1:])  # mix 0: the dry signal exactly


def test_non_finite_input_samples_are_processed_as_zero():
    ir = random_ir(5000)
    x = noise_signal(8000)
    bad = x.copy()
    bad[[10, 2000, 7000]] = [np.nan, np.inf, -np.inf]
    clean = x.copy()
    clean[[10, 2000, 7000]] = 0.0
    cabinet = Cabinet(ir, RATE, normalize=False, mix=0.5)
    y = cabinet.process(bad)
    cabinet.reset()
    assert np.array_equal(y, cabinet.process(clean))


def test_the_output_may_overwrite_the_input():
    ir = random_ir(9000)
    x = noise_signal(10000)
    expected = in_blocks(Cabinet(ir, RATE, normalize=False, mix=0.4), x, [300])
    cabinet = Cabinet(ir, RATE, normalize=False, mix=0.4)
    in_place = x.copy()
    for start in range(0, len(x), 300):
        cabinet.process(in_place[start:start + 300], out=in_place[start:start + 300])
    assert np.array_equal(in_place, expected)


def test_reset_forgets_the_past():
    ir = random_ir(9000)
    x = noise_signal(10000)
    cabinet = Cabinet(ir, RATE, normalize=False)
    first = cabinet.process(x)
    cabinet.process(noise_signal(777, seed=9))
    cabinet.reset()
    assert np.array_equal(cabinet.process(x), first)


# ---- real time: no allocation, compiles without numba's runtime -----------------------------------

@numba.njit
def repeat_convolve(calls, x, y, layout, coeffs, state, params):
    for _ in range(calls):
        convolve_block(x, y, layout, coeffs, state, params)
        set_mix_level(layout, params, 0.5, -3.0)


def test_the_kernel_allocates_nothing_and_process_with_out_allocates_nothing():
    cabinet = Cabinet(random_ir(48000), RATE, normalize=False)
    assert len(cabinet.plan.levels) >= 2, "the allocation check must cover several FFT levels"
    x = noise_signal(4096)
    y = np.empty_like(x)
    assert_kernel_allocates_nothing(lambda calls: repeat_convolve(calls, x, y, *cabinet.arrays))
    assert np.all(np.isfinite(y)) and np.std(y) > 0
    cabinet.process(x, out=y)
    assert allocations_during(lambda: cabinet.process(x[:32], out=y[:32])) == 0
    assert allocations_during(lambda: cabinet.process(x, out=y)) == 0


@intrinsic
def _view(typingctx, address, length, dtype):
    """The C-contiguous 1-D array of ``length`` ``dtype`` at the int64 ``address`` (engine.live.callback.view's codegen)."""
    if not (isinstance(address, types.Integer) and isinstance(length, types.Integer)
            and isinstance(dtype, types.DTypeSpec)):
        raise numba_errors.TypingError("_view(int64 address, int length, dtype)")
    result = types.Array(dtype.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(args[0], context.get_value_type(types.voidptr))
        return np_cfarray(context, builder, signature(result, types.voidptr, sig.args[1]), (pointer, args[1]))
    return signature(result, address, length, dtype), codegen


def _live_like(x_at, y_at, n, layout_at, layout_n, coeffs_at, coeffs_n, state_at, state_n, params_at, mix, level):
    """What the live callback does: arrays from addresses, a mix/level request, one block."""
    layout = _view(layout_at, layout_n, np.int64)
    params = _view(params_at, convolver.PARAMS_SIZE, np.float32)
    if mix >= 0.0:
        set_mix_level(layout, params, mix, level)
    convolve_block(_view(x_at, n, np.float32), _view(y_at, n, np.float32), layout,
                   _view(coeffs_at, coeffs_n, np.float32), _view(state_at, state_n, np.float32), params)


def test_the_kernel_compiles_and_runs_inside_a_cfunc_without_numbas_runtime():
    i64 = types.int64
    sig = types.void(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, types.float64, types.float64)
    compiled = numba.cfunc(sig, nopython=True, _nrt=False, error_model="numpy", cache=False)(_live_like)
    assert "NRT_" not in compiled.inspect_llvm()
    ir = random_ir(9000)
    x = noise_signal(6000)
    live = Cabinet(ir, RATE, normalize=False)
    offline = Cabinet(ir, RATE, normalize=False)
    y = np.zeros_like(x)
    layout, coeffs, state, params = live.arrays
    for start in range(0, len(x), 128):
        block = slice(start, start + 128)
        n = len(x[block])
        mix, level = (0.25, -6.0) if start == 2048 else (-1.0, 0.0)  # a request before one block
        compiled.ctypes(x[block].ctypes.data, y[block].ctypes.data, n, layout.ctypes.data, len(layout),
                        coeffs.ctypes.data, len(coeffs), state.ctypes.data, len(state), params.ctypes.data, mix, level)
    expected = np.concatenate([offline.process(x[:2048]), _after(offline, x[2048:])])
    assert np.array_equal(y, expected)


def _after(cabinet, x):
    cabinet.set_mix(0.25)
    cabinet.set_level(-6.0)
    return cabinet.process(x)


# ---- IR files: loading, resampling, normalisation, bad input -------------------------------------

def write(path, samples, rate, subtype="FLOAT"):
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def test_an_ir_at_another_rate_is_resampled_band_limited_at_load(tmp_path):
    from tools import circuits

    impulse_in = np.zeros(3763)
    impulse_in[0] = 1.0
    ir_44k = circuits.cabinet(impulse_in, 44100)
    path = write(tmp_path / "cab44.wav", ir_44k, 44100)
    cabinet = Cabinet(path, 48000, normalize=False)
    expected = signal.resample_poly(ir_44k.astype(np.float64), 160, 147, window=("kaiser", 14.0)) * (147 / 160)
    assert len(cabinet.ir) == math.ceil(3763 * 48000 / 44100)
    n = min(len(expected), len(cabinet.ir))
    error = np.max(np.abs(cabinet.ir[:n] - expected[:n]))
    assert error < 1e-4 * np.max(np.abs(expected)), error
    # the same response in Hz: magnitude within 0.05 dB where the cabinet passes sound (< 10 kHz)
    f = np.linspace(50, 10000, 200)
    _, at_44k = signal.freqz(ir_44k, worN=f, fs=44100)
    _, at_48k = signal.freqz(cabinet.ir, worN=f, fs=48000)
    assert np.max(np.abs(20 * np.log10(np.abs(at_48k) / np.abs(at_44k)))) < 0.05


def test_normalisation_puts_the_peak_of_the_magnitude_response_at_0_db_at_any_rate(tmp_path):
    path = SHIPPED_IR
    responses = {}
    for rate in (44100, 48000, 96000):
        cabinet = Cabinet(path, rate)
        _, h = signal.freqz(cabinet.ir, worN=2 ** 17, fs=rate)
        assert abs(20 * np.log10(np.max(np.abs(h)))) < 0.01
        _, at = signal.freqz(cabinet.ir, worN=[100.0, 1000.0, 2500.0, 8000.0], fs=rate)
        responses[rate] = 20 * np.log10(np.abs(at))
    for rate in (44100, 96000):
        np.testing.assert_allclose(responses[rate], responses[48000], atol=0.02)


def test_a_ten_second_ir_works(tmp_path):
    rate = 48000
    ir = random_ir(10 * rate, seed=21)
    path = write(tmp_path / "hall.wav", ir, rate)
    cabinet = Cabinet(path, rate, normalize=False)
    assert len(cabinet.ir) == 10 * rate
    x = np.zeros(10 * rate + 2000, np.float32)
    x[:3000] = noise_signal(3000)
    x[-2000:] = noise_signal(2000, seed=4)
    y = in_blocks(cabinet, x, [4096])
    expected = signal.fftconvolve(x.astype(np.float64), ir.astype(np.float64))[:len(x)]
    assert np.max(np.abs(y - expected)) < 1e-5


def test_the_shipped_cabinet_is_small_regenerates_identically_and_has_a_4x12_response(tmp_path):
    assert SHIPPED_IR.stat().st_size < 50_000
    again = tmp_path / "again.wav"
    subprocess.run([sys.executable, str(REPO / "tools" / "make_cabinet_ir.py"), "--out", str(again)],
                   check=True, capture_output=True)
    assert again.read_bytes() == SHIPPED_IR.read_bytes()
    ir, rate = soundfile.read(str(SHIPPED_IR))
    assert rate == 48000 and 0.02 <= len(ir) / rate <= 0.1
    # Against tools/circuits.py's own sections, run through scipy's lfilter on an impulse.
    from tools import circuits

    impulse_in = np.zeros(1 << 16)
    impulse_in[0] = 1.0
    exact = circuits._cabinet(impulse_in, float(rate), **circuits.CABINET)
    f = np.array([40, 80, 105, 300, 1000, 2500, 4000, 6000, 8000, 10000.0])
    _, ours = signal.freqz(ir, worN=f, fs=rate)
    _, theirs = signal.freqz(exact, worN=f, fs=rate)
    ours, theirs = 20 * np.log10(np.abs(ours)), 20 * np.log10(np.abs(theirs))
    peak = 20 * np.log10(np.max(np.abs(np.fft.rfft(exact))))
    np.testing.assert_allclose(ours, theirs - peak, atol=0.1)
    db = dict(zip(f, ours))
    assert db[40] < db[105] - 12 and db[105] > db[300]  # the low resonance, a high-pass below it
    assert db[2500] > db[1000] + 3 and db[2500] > -0.5     # the presence peak
    assert db[8000] < db[4000] - 15 and db[10000] < -30    # the steep roll-off


BAD_FILES = {
    "not audio": (lambda p: p.write_text("this is a text file, not audio\n"), "not an audio file"),
    "empty": (lambda p: write(p, np.zeros(0), 48000), "holds no audio"),
    "non-finite": (lambda p: write(p, np.array([0.5, np.nan, 0.1]), 48000), "sample 1 of channel 0 is nan"),
    "ten minutes": (lambda p: write(p, np.full(600 * 8000, 0.1), 8000, "PCM_16"), "longer than the 20 s"),
    "silent": (lambda p: write(p, np.zeros(4800), 48000), "silent"),
    "too quiet to normalise": (lambda p: write(p, np.full(100, 1e-9), 48000), "silent"),
    "absurd rate": (lambda p: write(p, np.ones(10) * 0.1, 1000), "1000 Hz, expected 8000"),
    "missing": (lambda p: None, "no such audio file"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_ir_file_is_one_line_naming_it(tmp_path, case):
    make, expected = BAD_FILES[case]
    path = tmp_path / f"{case.replace(' ', '_')}.wav"
    make(path)
    with pytest.raises(AudioFileError) as caught:
        Cabinet(path, RATE)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and expected in message, message


@pytest.mark.parametrize("ir, expected", [
    (np.zeros((10, 2)), "must be 1-D"),
    (np.zeros(0), "holds no samples"),
    (np.array([1.0, np.inf]), "sample 1 of the IR is inf"),
    (np.zeros(10), "silent"),
    (np.ones(21 * 48000), "longer than the 20 s"),
    ("not/a/file.wav", "no such audio file"),
])
def test_a_bad_ir_array_is_one_line(ir, expected):
    with pytest.raises((ArgumentError, AudioFileError), match=expected):
        Cabinet(ir, RATE)


@pytest.mark.parametrize("keyword, value, expected", [
    ("mix", 1.5, "mix must lie from 0"), ("mix", float("nan"), "finite"), ("mix", True, "must be a number"),
    ("level_db", 30.0, "level_db must lie from -60 to 24 dB"), ("level_db", "loud", "must be a number"),
    ("max_block_size", 0, "max_block_size must be a whole number"),
])
def test_bad_parameters_are_refused(keyword, value, expected):
    with pytest.raises(ArgumentError, match=expected):
        Cabinet(np.array([1.0]), RATE, **{keyword: value})
    cabinet = Cabinet(np.array([1.0]), RATE)
    setter = {"mix": cabinet.set_mix, "level_db": cabinet.set_level}.get(keyword)
    if setter:
        with pytest.raises(ArgumentError, match=expected):
            setter(value)


def test_bad_audio_is_refused():
    cabinet = Cabinet(np.array([1.0]), RATE)
    with pytest.raises(AudioInputError, match="float32"):
        cabinet.process(np.zeros(8))
    with pytest.raises(AudioInputError, match=r"expected \(n,\)"):
        cabinet.process(np.zeros((8, 2), np.float32))
    with pytest.raises(AudioInputError, match="out must be a float32 array of shape"):
        cabinet.process(np.zeros(8, np.float32), out=np.zeros(7, np.float32))
    strided = np.arange(16, dtype=np.float32)[::2]
    assert np.array_equal(cabinet.process(strided), strided)  # copied, then processed


# ---- the config stage ------------------------------------------------------------------------------

def test_a_config_stage_gives_the_cabinet_it_describes(tmp_path):
    from engine.dsp.cabinet import settings_from_config

    settings = settings_from_config({"ir": str(SHIPPED_IR), "mix": 0.5, "level_db": -3}, "rig.yaml", str(tmp_path),
                                    "chain.cabinet")
    cabinet = Cabinet.from_settings(settings, RATE, 128)
    assert (cabinet.mix, cabinet.level_db, cabinet.normalize) == (0.5, -3.0, True)
    assert settings_from_config(str(SHIPPED_IR), "rig.yaml", str(tmp_path)).mix == 1.0  # a bare path
    # a relative path is resolved from the config's folder, and a bad file is named as the config names it
    write(tmp_path / "silent.wav", np.zeros(100), RATE)
    settings = settings_from_config({"ir": "silent.wav"}, "rig.yaml", str(tmp_path), "chain.cabinet")
    with pytest.raises(AudioFileError, match=r"^rig.yaml: chain.cabinet.ir silent.wav: the IR is silent"):
        Cabinet.from_settings(settings, RATE)


@pytest.mark.parametrize("value, expected", [
    ({"ir": "missing.wav"}, r"chain.cabinet.ir names 'missing.wav', which does not exist"),
    ({"ir": str(SHIPPED_IR), "mix": 2}, r"chain.cabinet.mix must lie from 0"),
    ({"ir": str(SHIPPED_IR), "level_db": -100}, r"chain.cabinet.level_db must lie from -60 to 24 dB"),
    ({"ir": str(SHIPPED_IR), "normalize": "yes"}, r"chain.cabinet.normalize must be true or false"),
    ({"ir": str(SHIPPED_IR), "levle_db": 0}, r"unknown key in chain.cabinet: 'levle_db' \(did you mean 'level_db'\?\)"),
    ({"mix": 1.0}, r"chain.cabinet needs an ir key"),
    (7, r"chain.cabinet must be an IR file path or a mapping"),
])
def test_a_bad_config_stage_is_one_config_error_naming_the_key(tmp_path, value, expected):
    from engine.dsp.cabinet import settings_from_config
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^rig.yaml: " + expected) as caught:
        settings_from_config(value, "rig.yaml", str(tmp_path), "chain.cabinet")
    assert "\n" not in str(caught.value)
