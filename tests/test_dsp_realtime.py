"""The gate and EQ kernels are fit for the audio thread: no allocation, and they compile into a
numba @cfunc built without numba's runtime (_nrt=False), as the live callback is.

The cfunc here gets raw addresses and makes arrays of them with a small intrinsic, the same
codegen as engine.live.callback.view (kept local so this test does not compile the whole live
callback).
"""

import numba
import numpy as np
import pytest
from numba import types
from numba.core import cgutils
from numba.core.typing import signature
from numba.extending import intrinsic
from numba.np.arrayobj import np_cfarray

from conftest import guitar_like_signal
from engine.dsp.eq import EQ_PARAMS_SIZE, EQ_STATE_SIZE, Equalizer, eq_block, eq_reset
from engine.dsp.gate import (GATE_PARAMS_SIZE, GATE_STATE_SIZE, NoiseGate, apply_gain_block, gate_block,
                             gate_gain_block, gate_reset)
from test_allocation import allocations_during, assert_kernel_allocates_nothing

RATE = 48000.0


@numba.njit
def repeat_gate(calls, x, y, gains, params, state):
    for _ in range(calls):
        gate_block(x, y, len(x), params, state)
        gate_gain_block(x, gains, len(x), params, state)
        apply_gain_block(y, gains, y, len(x))


@numba.njit
def repeat_eq(calls, x, y, params, state):
    for i in range(calls):
        params[3] = 6.0 if i % 2 else -6.0  # the bass gain changes every call: every call glides
        eq_block(x, y, len(x), params, state)


@numba.njit
def repeat_eq_reset(calls, params, state):
    for _ in range(calls):
        eq_reset(params, state)


@numba.njit
def repeat_gate_reset(calls, params, state):
    for _ in range(calls):
        gate_reset(params, state)


def test_the_gate_kernels_allocate_nothing():
    gate = NoiseGate(dict(threshold_db=-40.0))
    gate.prepare(RATE)
    x = guitar_like_signal(512, RATE)
    y, gains = np.empty_like(x), np.empty_like(x)
    assert_kernel_allocates_nothing(lambda calls: repeat_gate(calls, x, y, gains, gate.params, gate.state))
    assert_kernel_allocates_nothing(lambda calls: repeat_gate_reset(calls, gate.params, gate.state))
    assert np.all(np.isfinite(y))


def test_the_eq_kernels_allocate_nothing_also_while_gliding():
    eq = Equalizer(dict(mid_db=4.0))
    eq.prepare(RATE)
    assert eq.params[3] == eq.settings.bass_db  # the slot repeat_eq writes is the bass gain
    x = guitar_like_signal(512, RATE)
    y = np.empty_like(x)
    assert_kernel_allocates_nothing(lambda calls: repeat_eq(calls, x, y, eq.params, eq.state))
    assert_kernel_allocates_nothing(lambda calls: repeat_eq_reset(calls, eq.params, eq.state))
    assert np.all(np.isfinite(y)) and np.std(y) > 0


def test_process_and_set_make_no_numba_allocation():
    """Like the Processor: the kernels have no runtime, so even a call from Python counts nothing."""
    x = guitar_like_signal(4096, RATE)
    out = np.empty_like(x)
    gate, eq = NoiseGate(), Equalizer()
    gate.prepare(RATE)
    eq.prepare(RATE)
    gate.process(x, out=out)
    eq.process(x, out=out)

    def run():
        gate.set_threshold_db(-50.0)
        gate.process(x, out=out)
        eq.set_gain_db("treble", 5.0)
        eq.process(out, out=out)

    assert allocations_during(run) == 0


@intrinsic
def view(typingctx, address, shape, dtype):
    """The C-contiguous 1-D array of ``shape`` elements of ``dtype`` at the int64 ``address`` (not owned)."""
    result = types.Array(dtype.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(args[0], cgutils.voidptr_t)
        return np_cfarray(context, builder, signature(result, types.voidptr, sig.args[1]), (pointer, args[1]))
    return signature(result, address, shape, dtype), codegen


#: void chain(int64 x, int64 y, int64 frames, int64 gate_params, int64 gate_state, int64 eq_params, int64 eq_state)
CHAIN = types.void(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64, types.int64)


def chain(x_address, y_address, frames, gate_params, gate_state, eq_params, eq_state):
    """gate → EQ over one block, as a live callback would run them; a 0-frame call resets the EQ
    and runs the gain-only gate kernels (so that every kernel is compiled into the cfunc)."""
    x = view(x_address, frames, np.float32)
    y = view(y_address, frames, np.float32)
    gp = view(gate_params, GATE_PARAMS_SIZE, np.float64)
    gs = view(gate_state, GATE_STATE_SIZE, np.float64)
    ep = view(eq_params, EQ_PARAMS_SIZE, np.float64)
    es = view(eq_state, EQ_STATE_SIZE, np.float64)
    if frames == 0:
        eq_reset(ep, es)
        gate_reset(gp, gs)
        gate_gain_block(x, y, frames, gp, gs)
        apply_gain_block(x, y, y, frames)
        return
    gate_block(x, y, frames, gp, gs)
    eq_block(y, y, frames, ep, es)


def test_the_kernels_compile_into_a_cfunc_without_numbas_runtime_and_run_there():
    compiled = numba.cfunc(CHAIN, nopython=True, _nrt=False, error_model="numpy", cache=False)(chain)
    assert "NRT_" not in compiled.inspect_llvm()
    gate, eq = NoiseGate(dict(threshold_db=-40.0)), Equalizer(dict(bass_db=6.0, presence_db=-4.0))
    gate.prepare(RATE)
    eq.prepare(RATE)
    x = guitar_like_signal(2048, RATE)
    expected = eq.process(gate.process(x))
    gate.reset()
    eq.reset()
    y = np.empty_like(x)
    for start in range(0, len(x), 128):
        compiled.ctypes(x[start:].ctypes.data, y[start:].ctypes.data, min(128, len(x) - start),
                        gate.params.ctypes.data, gate.state.ctypes.data, eq.params.ctypes.data, eq.state.ctypes.data)
    np.testing.assert_array_equal(y, expected)


def test_an_allocating_stage_would_not_compile_there():
    """The check above can fail: an allocation inside such a cfunc is refused by numba."""
    def allocating(x_address, y_address, frames, a, b, c, d):
        y = view(y_address, frames, np.float32)
        scratch = np.zeros(frames, np.float32)
        for i in range(frames):
            y[i] = scratch[i]

    with pytest.raises(numba.core.errors.TypingError):
        numba.cfunc(CHAIN, nopython=True, _nrt=False, cache=False)(allocating)
