"""After prepare, the kernels allocate nothing: checked with numba's runtime allocation counters.

Calling a jitted function that uses numba's runtime from Python makes the dispatcher wrap each
array argument in a small runtime record (one counted allocation per array per call, freed on
return): that is the call boundary, not the kernel. To count only the kernel, a jitted harness
calls it N times in a loop: the boundary costs the same for N = 1 and N = 50, so any difference
is the kernel's.
"""

import numba
import numpy as np
import pytest
from numba.core.runtime import rtsys

import engine
from conftest import guitar_like_signal
from engine import kernels
from engine.testing import random_model


def allocation_count():
    stats = rtsys.get_allocation_stats()
    return stats.alloc + stats.mi_alloc


def allocations_during(action):
    assert numba.config.NRT_STATS, "NUMBA_NRT_STATS=1 must be set before numba is imported (see conftest.py)"
    before = allocation_count()
    action()
    return allocation_count() - before


@numba.njit
def repeat_block_kernel(calls, *arguments):
    for _ in range(calls):
        kernels.process_block(*arguments)


@numba.njit
def allocating_block_kernel(x, y):
    """A kernel that makes one scratch array per call: what a real-time kernel must never do."""
    scratch = np.empty_like(x)
    scratch[:] = x
    y[:] = scratch


@numba.njit
def repeat_allocating_kernel(calls, x, y):
    for _ in range(calls):
        allocating_block_kernel(x, y)


def assert_kernel_allocates_nothing(run_calls):
    """``run_calls(n)`` runs the kernel n times inside one jitted call; fail if the count grows with n."""
    run_calls(1)  # compile outside the measurement
    once = allocations_during(lambda: run_calls(1))
    many = allocations_during(lambda: run_calls(50))
    assert many == once, f"the kernel allocated {(many - once) / 49:g} time(s) per call"


def test_the_check_catches_a_kernel_that_allocates():
    x = np.ones((64, 1), np.float32)
    y = np.empty_like(x)
    with pytest.raises(AssertionError, match=r"the kernel allocated [1-9]"):
        assert_kernel_allocates_nothing(lambda calls: repeat_allocating_kernel(calls, x, y))


CASES = {
    "lstm-2layer-linear-R1.09": (dict(cell="lstm", hidden=16, layers=2), 48000, "linear", 1),
    "gru-reset-after-R2.18": (dict(cell="gru", hidden=12), 96000, "linear", 1),
    "gru-keras-reset-before-R7.3": (dict(cell="gru", hidden=8, reset_after=False), 44100 * 7.3, "linear", 1),
    "lstm-softmax-head-naive": (dict(cell="lstm", hidden=8, head_activation="softmax"), 48000, "naive", 1),
    "lstm-elu-head-stereo": (dict(cell="lstm", hidden=8, head_activation="elu"), 88200, "linear", 2),
    "lstm-tanh-head-controls-ramp-skip-gains":
        (dict(cell="lstm", hidden=8, controls=2, skip=True, input_gain_db=3, head_activation="tanh"), 48000, "linear", 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_block_kernel_allocates_nothing_after_prepare(case):
    spec, rate, method, channels = CASES[case]
    model = random_model(**spec)
    processor = engine.Processor(model, sample_rate=rate, interpolation=method, channels=channels)
    x = np.repeat(guitar_like_signal(256, rate)[:, None], channels, axis=1)
    y = np.empty_like(x)
    if model.num_controls:
        processor.set_controls([0.2, 0.9])
        processor.process(x[:, 0] if channels == 1 else x)
        processor.set_controls([0.7, 0.1])  # the next call ramps inside the kernel
    if model.num_controls:  # as process() sets up a call that ramps
        processor._header[kernels.H_RAMP_LENGTH] = len(x)
    arguments = processor._kernel_arguments(x.reshape(-1), y.reshape(-1))
    assert_kernel_allocates_nothing(lambda calls: repeat_block_kernel(calls, *arguments))
    assert np.all(np.isfinite(y)) and np.std(y) > 0


def test_processor_call_allocates_nothing_at_all():
    """The kernels are compiled without numba's reference-counting runtime (_nrt=False: they cannot
    allocate, numba would refuse to compile it), so a process(x, out=) call makes no counted
    allocation at all, not even the dispatcher's per-argument records, for 64 samples or 4096."""
    processor = engine.Processor(random_model("lstm", hidden=8), sample_rate=48000, max_block_size=4096)
    x = guitar_like_signal(4096, 48000)
    out = np.empty_like(x)
    processor.process(x, out=out)
    assert allocations_during(lambda: processor.process(x[:64], out=out[:64])) == 0
    assert allocations_during(lambda: processor.process(x, out=out)) == 0


@pytest.mark.parametrize("settings", [dict(interpolation="resample"), dict(interpolation="cubic", oversample=2),
                                      dict(interpolation="linear", oversample=4), dict(interpolation="auto")],
                         ids=["resample", "cubic-x2", "linear-x4", "auto"])
def test_every_mode_allocates_nothing_after_prepare(settings, tmp_path, monkeypatch):
    """The resampler pair, oversampling and auto's choice: a process(x, out=) call allocates neither in
    numba's runtime nor, once warm, in Python (numpy's buffers are traced by tracemalloc)."""
    import tracemalloc

    from engine import auto_cache

    monkeypatch.setattr(auto_cache, "cache_directory", lambda: str(tmp_path / "engine-auto"))
    processor = engine.Processor(random_model("lstm", hidden=8, seed=2), sample_rate=48000, max_block_size=4096,
                                 **settings)
    x = guitar_like_signal(4096, 48000)
    out = np.empty_like(x)
    processor.process(x, out=out)
    assert allocations_during(lambda: processor.process(x[:64], out=out[:64])) == 0
    assert allocations_during(lambda: processor.process(x, out=out)) == 0
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for block in (64, 4096, 1, 333):
            processor.process(x[:block], out=out[:block])
        after = tracemalloc.take_snapshot()
        own = [tracemalloc.Filter(False, tracemalloc.__file__)]  # the snapshots themselves
        grown = sum(stat.size_diff for stat in after.filter_traces(own).compare_to(before.filter_traces(own), "filename")
                    if stat.size_diff > 0)
    finally:
        tracemalloc.stop()
    assert grown < 1024, f"{grown} bytes allocated by process(x, out=) calls"  # no audio-sized buffer
    assert np.all(np.isfinite(out)) and np.std(out) > 0
