"""The audio callback as compiled code: a numba @cfunc that PortAudio calls directly.

``callback`` has PortAudio's PaStreamCallback signature::

    int callback(const void *input, void *output, unsigned long frames,
                 const PaStreamCallbackTimeInfo *time_info, PaStreamCallbackFlags status, void *user_data)

and is handed to PortAudio as a bare C function pointer (sounddevice's low-level stream with
``wrap_callback=None``), so PortAudio's real-time thread never enters the interpreter: a Python
thread holding the GIL for half a second (a long C call, an import, a garbage collection) no
longer stops the audio. userData is the address of a SharedState header (engine.live.shared):
int64 addresses and sizes of preallocated arrays, which the callback views in place.

It is compiled without numba's runtime (``_nrt=False``): it cannot allocate (numba refuses to
compile an allocation without the runtime, see tests/test_live_callback.py) and counts no
references. It is cached on disk like the kernels (no ctypes function pointer is baked in: the
clock is ``clock_gettime`` resolved by name when the code is linked).

Per callback: read the clock; detect a late host cycle (a timing gap); count PortAudio's xrun
flags; then per block of at most ``block_size`` frames: take a new request if Python posted one
(a seqlock read, see engine.live.shared), apply what it asks at this block boundary (gains and
knobs ramp across the block; a model switch or bypass starts a crossfade), run the chain
(engine.live.mixer.live_block: input channel and gain, the models, NaN/Inf safety, output gain,
limiter, output channels, level meters) and record the first frames if asked to; finally write
the block's time, flags and peaks into the timing ring and publish the callback count.

``numba.carray`` does not compile without the runtime (it is a jitted function that returns a
new array, which numba only allows with the runtime), so ``view`` below builds the same array
structure as an @intrinsic, which is inlined code generation rather than a compiled function.
"""

import time

import numpy as np
from llvmlite import ir
from numba import cfunc, njit, types
from numba.core import cgutils, errors
from numba.core.typing import signature
from numba.extending import intrinsic
from numba.np.arrayobj import np_cfarray

from ..kernels import INLINE, JIT, ONE, P_CONTROLS, ZERO
from ..kernels.layout import H_CONTROLS, H_RAMP_DONE, H_RAMP_LENGTH
from . import mixer
from ..dsp import eq, gate
from ..dsp.cabinet import set_mix_level
from .shared import (H_CAB_COEFFS, H_CAB_COEFFS_SIZE, H_CAB_LAYOUT, H_CAB_LAYOUT_SIZE, H_CAB_PARAMS,
                     H_CAB_PARAMS_SIZE, H_CAB_STATE, H_CAB_STATE_SIZE, H_EQ_PARAMS, H_EQ_STATE, H_GATE_PARAMS,
                     H_GATE_STATE, H_STAGES, H_WET, H_XG, R_STAGES, S_STAGES, STAGE_CABINET, STAGE_EQ, STAGE_GATE,
                     V_CABINET_LEVEL, V_CABINET_MIX, V_EQ_GAINS, V_GATE_THRESHOLD)
from .shared import (C_CALLBACKS, C_BUSY, C_FLAGGED, C_FRAMES, C_GAPS, C_INPUT_OVERFLOW,
                     C_INPUT_UNDERFLOW, C_MAX_BUSY, C_MAX_GAP, C_OUTPUT_OVERFLOW, C_OUTPUT_UNDERFLOW, C_PRIMING,
                     C_REQUESTS, C_TORN, C_XRUN_BLOCKS, COUNTERS_SIZE, CYCLE_IDLE_FRACTION, EVENT_COLUMNS,
                     EVENT_FRAME, EVENT_SEQ, LOST_CYCLES, CLOCK_SKEW, C_LOST_FRAMES, S_FIRST_START, S_FIRST_FRAME,
                     S_BASELINE, S_LAG, H_ACCEPTED, H_ACCEPTED_VALUES, H_BLOCK, H_CAPTURE_FRAMES,
                     H_CAPTURE_IN, H_CAPTURE_OUT, H_COUNTERS, H_EVENT_SLOTS, H_EVENTS, H_GAP_DETECT, H_IN_CHANNELS,
                     H_IN_INDEX, H_LEVELS, H_LIMITER, H_MAGIC, H_MAX_CONTROLS, H_MIX, H_MIXED, H_MODELS,
                     H_NS_PER_FRAME, H_OUT_CHANNELS, H_OUT_COUNT, H_OUT_LIST, H_PEAKS, H_REQUEST, H_RING,
                     H_RING_PEAKS, H_RING_SIZE, H_SCRATCH, H_SCRATCH_VALUES, H_SETTINGS, H_SLOTS, H_SPARE_OUT,
                     H_STATE, H_TIMESPEC, H_VALUES, H_VALUES_SIZE, H_X, H_YA, H_YB, H_ZERO_IN, HEADER_SIZE,
                     INPUT_OVERFLOW, INPUT_UNDERFLOW, MAGIC, OUTPUT_OVERFLOW, OUTPUT_UNDERFLOW,
                     PRIMING_OUTPUT, R_BYPASS, R_CONTROLS, R_GAINS, R_MODEL, R_SEQ, REQUEST_SIZE, RING_COLUMNS,
                     RING_DURATION, RING_FRAMES, RING_GAP, RING_START, RING_STATUS, S_BYPASSED, S_CHANGES,
                     S_CONTROLS, S_CURRENT, S_CYCLE_FRAMES, S_CYCLE_START, S_FADING, S_GAINS, S_INCOMING,
                     S_PREV_END, S_CYCLE_FLAGS, S_RAMPING_A, S_RAMPING_B, S_SEEN, SET_CEILING, SET_RELEASE,
                     SETTINGS_SIZE,
                     SL_META, SL_META_COLUMNS, SL_META_ROWS, SL_PARAMS, SL_PARAMS_SIZE, SL_HIST, SL_HIST_SIZE,
                     SL_POS, SL_POS_COLUMNS, SL_POS_ROWS, SL_RS, SL_WORK, SL_WORK_SIZE, SLOT_FIELDS, STATE_SIZE,
                     V_CONTROLS, V_INPUT_GAIN, V_OUTPUT_GAIN, XRUN_FLAG_BITS)

#: PortAudio's PaStreamCallback: (input, output, frameCount, timeInfo, statusFlags, userData) → int.
PA_CALLBACK = types.int32(types.voidptr, types.voidptr, types.uint64, types.voidptr, types.uint64, types.voidptr)
PA_CONTINUE = 0
PA_ABORT = 2
#: No runtime (it cannot allocate); no division checks; cached on disk like the kernels.
CALLBACK_OPTIONS = dict(nopython=True, _nrt=False, error_model="numpy", cache=True)
CLOCK_MONOTONIC = time.CLOCK_MONOTONIC


# ---- intrinsics: raw memory as arrays, fences -----------------------------------------------------

@intrinsic
def view(typingctx, address, shape, dtype):
    """The C-contiguous array of ``shape`` and ``dtype`` at ``address`` (an int64 or a void*), not owned.

    Typed exactly as a C-contiguous numpy array argument (array(dtype, ndim, 'C')), so it can be
    passed to a jitted function compiled for one. The codegen is numba's own carray's.
    """
    if not (isinstance(address, types.Integer) or address is types.voidptr):
        raise errors.TypingError("view: the address must be an integer or a void*")
    if isinstance(shape, types.Integer):
        ndim = 1
    elif isinstance(shape, types.BaseTuple) and all(isinstance(t, types.Integer) for t in shape):
        ndim = len(shape)
    else:
        raise errors.TypingError("view: the shape must be an integer or a tuple of integers")
    if not isinstance(dtype, types.DTypeSpec):
        raise errors.TypingError("view: the dtype must be a numpy dtype (np.float32, np.int64, …)")
    result = types.Array(dtype.dtype, ndim, "C")

    def codegen(context, builder, sig, args):
        pointer = args[0] if sig.args[0] is types.voidptr else builder.inttoptr(args[0], cgutils.voidptr_t)
        return np_cfarray(context, builder, signature(result, types.voidptr, sig.args[1]), (pointer, args[1]))
    return signature(result, address, shape, dtype), codegen


@intrinsic
def address(typingctx, pointer):
    """A void* as an int64 (0 for NULL)."""
    if pointer is not types.voidptr:
        raise errors.TypingError("address: expected a void*")

    def codegen(context, builder, sig, args):
        return builder.ptrtoint(args[0], ir.IntType(64))
    return types.int64(pointer), codegen


def _fence(ordering):
    def typer(typingctx):
        def codegen(context, builder, sig, args):
            builder.fence(ordering)
            return context.get_dummy_value()
        return types.none(), codegen
    typer.__name__ = typer.__qualname__ = f"fence_{ordering}"
    return intrinsic(typer)


#: Loads before it are not moved after later loads and stores (LLVM ``fence acquire``).
fence_acquire = _fence("acquire")
#: Loads and stores before it are not moved after later stores (LLVM ``fence release``).
fence_release = _fence("release")

# int clock_gettime(clockid_t, struct timespec *): resolved by name at link time (the process
# has libc), so, unlike a ctypes function pointer, it leaves the compiled code cacheable.
_clock_gettime = types.ExternalFunction("clock_gettime", types.int32(types.int32, types.voidptr))


@intrinsic
def _as_voidptr(typingctx, value):
    """An int64 address as a void*."""
    if not isinstance(value, types.Integer):
        raise errors.TypingError("expected an integer address")

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(value), codegen


@njit(**INLINE)
def now_ns(timespec_address):
    """CLOCK_MONOTONIC in ns, through the preallocated struct timespec (int64[2]) at timespec_address."""
    _clock_gettime(np.int32(CLOCK_MONOTONIC), _as_voidptr(timespec_address))
    timespec = view(timespec_address, 2, np.int64)
    return timespec[0] * 1_000_000_000 + timespec[1]


# ---- the Python side of the request seqlock (see engine.live.shared) ------------------------------

@njit(**JIT)
def seqlock_open(request):
    """Mark the request as being written (R_SEQ odd); the field writes that follow stay after it."""
    request[R_SEQ] += 1
    fence_release()


@njit(**JIT)
def seqlock_close(request):
    """Publish the request (R_SEQ even again), after every field write before it."""
    fence_release()
    request[R_SEQ] += 1


# ---- the chain, on views of the header's arrays ---------------------------------------------------

@njit(**INLINE)
def model_slot(h, k):
    """Model k's arrays (meta, params, hist, pos, work, then the resampler pair's eight), as Processor.kernel_slot gives them."""
    b = H_SLOTS + k * SLOT_FIELDS
    r = b + SL_RS
    return (view(h[b + SL_META], (h[b + SL_META_ROWS], h[b + SL_META_COLUMNS]), np.int64),
            view(h[b + SL_PARAMS], h[b + SL_PARAMS_SIZE], np.float32),
            view(h[b + SL_HIST], h[b + SL_HIST_SIZE], np.float32),
            view(h[b + SL_POS], (h[b + SL_POS_ROWS], h[b + SL_POS_COLUMNS]), np.int64),
            view(h[b + SL_WORK], h[b + SL_WORK_SIZE], np.float32),
            view(h[r], h[r + 1], np.int64),
            view(h[r + 2], h[r + 3], np.float32), view(h[r + 4], h[r + 5], np.float32),
            view(h[r + 6], h[r + 7], np.float32), view(h[r + 8], h[r + 9], np.float32),
            view(h[r + 10], h[r + 11], np.float32), view(h[r + 12], h[r + 13], np.float32),
            view(h[r + 14], h[r + 15], np.float32))


@njit(**INLINE)
def accept_request(h, state, counters, frame):
    """Copy a newly posted request into ``accepted`` if it can be read whole (seqlock); log it."""
    request = view(h[H_REQUEST], REQUEST_SIZE, np.int64)
    seq = request[R_SEQ]
    if seq & 1 or seq == state[S_SEEN]:
        return
    fence_acquire()  # the fields are read after R_SEQ
    values = view(h[H_VALUES], h[H_VALUES_SIZE], np.float32)
    scratch = view(h[H_SCRATCH], REQUEST_SIZE, np.int64)
    scratch_values = view(h[H_SCRATCH_VALUES], h[H_VALUES_SIZE], np.float32)
    for i in range(REQUEST_SIZE):
        scratch[i] = request[i]
    for i in range(values.shape[0]):
        scratch_values[i] = values[i]
    fence_acquire()  # … and before R_SEQ is read again
    if request[R_SEQ] != seq:
        counters[C_TORN] += 1  # Python was writing meanwhile: take it at the next block
        return
    accepted = view(h[H_ACCEPTED], REQUEST_SIZE, np.int64)
    accepted_values = view(h[H_ACCEPTED_VALUES], h[H_VALUES_SIZE], np.float32)
    for i in range(REQUEST_SIZE):
        accepted[i] = scratch[i]
    for i in range(values.shape[0]):
        accepted_values[i] = scratch_values[i]
    state[S_SEEN] = seq
    events = view(h[H_EVENTS], (h[H_EVENT_SLOTS], EVENT_COLUMNS), np.int64)
    e = counters[C_REQUESTS] % h[H_EVENT_SLOTS]
    events[e, EVENT_FRAME] = frame
    events[e, EVENT_SEQ] = seq
    counters[C_REQUESTS] += 1


@njit(**INLINE)
def apply_stage_values(h, values):
    """New gate threshold, EQ gains, cabinet mix and level, from this block on.

    Each stage glides by itself (engine.dsp: the gate's gain, the EQ's coefficients over its
    ramp_ms, the cabinet's dry/wet over 5 ms); values were checked against each stage's range
    by the Python side (LiveChain.set_stages) before they were posted.
    """
    stages = h[H_STAGES]
    if stages & STAGE_GATE:
        view(h[H_GATE_PARAMS], gate.GATE_PARAMS_SIZE, np.float64)[gate.GP_THRESHOLD_DB] = values[V_GATE_THRESHOLD]
    if stages & STAGE_EQ:
        eq_params = view(h[H_EQ_PARAMS], eq.EQ_PARAMS_SIZE, np.float64)
        for b in range(eq.NUM_BANDS):
            eq_params[eq.EP_BANDS + eq.BAND_PARAMS * b + eq.EB_GAIN_DB] = values[V_EQ_GAINS + b]
    if stages & STAGE_CABINET:
        set_mix_level(view(h[H_CAB_LAYOUT], h[H_CAB_LAYOUT_SIZE], np.int64),
                      view(h[H_CAB_PARAMS], h[H_CAB_PARAMS_SIZE], np.float32),
                      np.float64(values[V_CABINET_MIX]), np.float64(values[V_CABINET_LEVEL]))


@njit(**INLINE)
def apply_request(h, state, mix, frames):
    """Move the chain towards the accepted request at this block boundary.

    Gains: ramp across this block to the new values (mixer.live_block). Knobs of model k: a
    model that plays ramps from its current values to the new ones across this block (the
    kernel's control ramp); any other model takes them at once. Routing, while no crossfade
    runs: a bypass change starts the fade to or from the dry signal; a model change resets the
    new model (Processor.reset's state) and starts the crossfade to it, or, while bypassed and
    once the model is silent, swaps at once (nothing of it is audible). While a crossfade runs,
    routing changes wait for its end (one change at a time); the latest request wins.
    """
    accepted = view(h[H_ACCEPTED], REQUEST_SIZE, np.int64)
    values = view(h[H_ACCEPTED_VALUES], h[H_VALUES_SIZE], np.float32)
    if accepted[R_GAINS] != state[S_GAINS]:
        mix[mixer.MIX_INPUT_TARGET] = values[V_INPUT_GAIN]
        mix[mixer.MIX_OUTPUT_TARGET] = values[V_OUTPUT_GAIN]
        state[S_GAINS] = accepted[R_GAINS]
    if accepted[R_STAGES] != state[S_STAGES]:
        apply_stage_values(h, values)
        state[S_STAGES] = accepted[R_STAGES]
    current = state[S_CURRENT]
    fading = state[S_FADING] != 0
    incoming = state[S_INCOMING]
    max_controls = h[H_MAX_CONTROLS]
    for k in range(h[H_MODELS]):
        if accepted[R_CONTROLS + k] == state[S_CONTROLS + k]:
            continue
        state[S_CONTROLS + k] = accepted[R_CONTROLS + k]
        slot = model_slot(h, k)
        meta, params = slot[0], slot[1]
        count = meta[0, H_CONTROLS]
        playing = k == current or fading and k == incoming
        for j in range(count):
            value = values[V_CONTROLS + k * max_controls + j]
            params[P_CONTROLS + j] = params[P_CONTROLS + count + j] if playing else value  # from
            params[P_CONTROLS + count + j] = value                                            # to
        if playing:
            meta[0, H_RAMP_DONE] = 0
            meta[0, H_RAMP_LENGTH] = frames
            state[S_RAMPING_A if k == current else S_RAMPING_B] = k + 1  # which model, for end_ramp
    if fading:
        return
    bypass = accepted[R_BYPASS]
    if bypass != state[S_BYPASSED]:
        state[S_BYPASSED] = bypass
        mix[mixer.MIX_TARGET_DRY] = ONE if bypass else ZERO
        mix[mixer.MIX_TARGET_A] = ZERO if bypass else ONE
        state[S_CHANGES] += 1
    wanted = accepted[R_MODEL]
    if wanted == current or not 0 <= wanted < h[H_MODELS]:
        return
    if state[S_BYPASSED] and mix[mixer.MIX_GAIN_A] > ZERO:
        return  # the bypass fade still carries the old model: swap once it is silent
    mixer.reset_slot(model_slot(h, wanted))
    state[S_CHANGES] += 1
    if state[S_BYPASSED]:
        state[S_CURRENT] = wanted
    else:
        mix[mixer.MIX_TARGET_A] = ZERO
        mix[mixer.MIX_TARGET_B] = ONE
        state[S_INCOMING] = wanted
        state[S_FADING] = 1


@njit(**INLINE)
def end_ramp(h, k):
    """Model k's knobs hold at their new values from the next block on."""
    slot = model_slot(h, k)
    meta, params = slot[0], slot[1]
    count = meta[0, H_CONTROLS]
    for j in range(count):
        params[P_CONTROLS + j] = params[P_CONTROLS + count + j]
    meta[0, H_RAMP_DONE] = 0
    meta[0, H_RAMP_LENGTH] = 1


@njit(**INLINE)
def chain_block(h, state, counters, indata, outdata, frames, frame):
    """One block of the chain: take and apply a request, run the mixer, finish ramps and fades."""
    accept_request(h, state, counters, frame)
    mix = view(h[H_MIX], mixer.MIX_SIZE, np.float32)
    apply_request(h, state, mix, frames)
    block = h[H_BLOCK]
    current = state[S_CURRENT]
    fading = state[S_FADING] != 0
    settings = view(h[H_SETTINGS], SETTINGS_SIZE, np.float32)
    mixer.live_block(indata, outdata, h[H_IN_INDEX], view(h[H_OUT_LIST], h[H_OUT_COUNT], np.int64),
                     view(h[H_X], (block, 1), np.float32), view(h[H_YA], (block, 1), np.float32),
                     view(h[H_YB], (block, 1), np.float32), model_slot(h, current),
                     model_slot(h, state[S_INCOMING] if fading else current), fading, mix,
                     view(h[H_LEVELS], 2, np.float32), view(h[H_MIXED], mixer.COUNTERS_SIZE, np.int64),
                     h[H_LIMITER] != 0, settings[SET_CEILING], settings[SET_RELEASE], h[H_STAGES],
                     view(h[H_GATE_PARAMS], gate.GATE_PARAMS_SIZE, np.float64),
                     view(h[H_GATE_STATE], gate.GATE_STATE_SIZE, np.float64),
                     view(h[H_EQ_PARAMS], eq.EQ_PARAMS_SIZE, np.float64),
                     view(h[H_EQ_STATE], eq.EQ_STATE_SIZE, np.float64),
                     view(h[H_CAB_LAYOUT], h[H_CAB_LAYOUT_SIZE], np.int64),
                     view(h[H_CAB_COEFFS], h[H_CAB_COEFFS_SIZE], np.float32),
                     view(h[H_CAB_STATE], h[H_CAB_STATE_SIZE], np.float32),
                     view(h[H_CAB_PARAMS], h[H_CAB_PARAMS_SIZE], np.float32),
                     view(h[H_XG], (block, 1), np.float32), view(h[H_WET], (block, 1), np.float32))
    for ramping in (S_RAMPING_A, S_RAMPING_B):
        if state[ramping]:
            end_ramp(h, state[ramping] - 1)
            state[ramping] = 0
    if fading and mix[mixer.MIX_GAIN_A] <= ZERO:
        # The incoming model has faded in: it becomes model A.
        state[S_CURRENT] = state[S_INCOMING]
        state[S_INCOMING] = -1
        mix[mixer.MIX_GAIN_A] = mix[mixer.MIX_GAIN_B]
        mix[mixer.MIX_TARGET_A] = mix[mixer.MIX_TARGET_B]
        mix[mixer.MIX_GAIN_B] = ZERO
        mix[mixer.MIX_TARGET_B] = ZERO
        state[S_FADING] = 0


@njit(**INLINE)
def capture(h, indata, outdata, frames, frame):
    """Record the raw input channel and the first output channel of stream frames [frame, frame + frames)."""
    limit = h[H_CAPTURE_FRAMES]
    if frame + frames > limit:
        return
    captured_in = view(h[H_CAPTURE_IN], limit, np.float32)
    captured_out = view(h[H_CAPTURE_OUT], limit, np.float32)
    in_index = h[H_IN_INDEX]
    out_index = view(h[H_OUT_LIST], h[H_OUT_COUNT], np.int64)[0]
    for i in range(frames):
        captured_in[frame + i] = indata[i, in_index]
        captured_out[frame + i] = outdata[i, out_index]


def _callback(input_pointer, output_pointer, frame_count, time_info, status_flags, user_data):
    if address(user_data) == 0:
        return PA_ABORT
    h = view(user_data, HEADER_SIZE, np.int64)
    if h[H_MAGIC] != MAGIC:
        return PA_ABORT
    start = now_ns(h[H_TIMESPEC])
    counters = view(h[H_COUNTERS], COUNTERS_SIZE, np.int64)
    state = view(h[H_STATE], STATE_SIZE, np.int64)
    frames = np.int64(frame_count)
    block = h[H_BLOCK]
    ns_per_frame = view(h[H_NS_PER_FRAME], 1, np.float64)[0]

    # Lost host cycles (timing gaps). PortAudio runs the callbacks of one host buffer back to
    # back, so a callback that starts well after the previous one ended begins a host cycle. At
    # each cycle start, lag = clock time since the first callback − the audio time processed
    # since then; it stays at its baseline (up to jitter) while every cycle arrives, and a
    # missed cycle raises it for good by one cycle of audio, which never arrives. A cycle that is
    # only late raises it once, and the next on-time one brings it back: so the smaller lag of
    # two cycle starts in a row is what counts. PortAudio's statusFlags under-count these (a
    # 0.5 s stall gives one flagged callback, or none). The baseline follows the lag down at
    # once and up by at most CLOCK_SKEW (a sound card's clock runs slightly off the system's).
    gap = False
    previous_end = state[S_PREV_END]
    first_frame = counters[C_FRAMES]
    if previous_end == 0:
        state[S_FIRST_START] = start
        state[S_FIRST_FRAME] = first_frame
        state[S_BASELINE] = 0
        state[S_LAG] = 0
        state[S_CYCLE_START] = start
        state[S_CYCLE_FRAMES] = 0
    elif start - previous_end > CYCLE_IDLE_FRACTION * block * ns_per_frame:
        interval = start - state[S_CYCLE_START]
        cycle = state[S_CYCLE_FRAMES] * ns_per_frame  # one host cycle of audio (ns)
        if h[H_GAP_DETECT] != 0 and cycle > 0:
            if interval > counters[C_MAX_GAP]:
                counters[C_MAX_GAP] = interval
            lag = np.int64(start - state[S_FIRST_START] - (first_frame - state[S_FIRST_FRAME]) * ns_per_frame)
            baseline = min(state[S_BASELINE] + np.int64(CLOCK_SKEW * interval), lag)
            lost = min(lag, state[S_LAG]) - baseline
            if lost > LOST_CYCLES * cycle:
                cycles = max(np.int64(1), np.int64(lost / cycle + 0.5))
                counters[C_GAPS] += 1
                counters[C_LOST_FRAMES] += cycles * state[S_CYCLE_FRAMES]
                baseline += np.int64(cycles * cycle)
                gap = True
            state[S_BASELINE] = baseline
            state[S_LAG] = lag
        state[S_CYCLE_START] = start
        state[S_CYCLE_FRAMES] = 0
    state[S_CYCLE_FRAMES] += frames

    # PortAudio's flags, counted once per host cycle: it hands one host buffer's flags to every
    # callback it splits that buffer into (8 callbacks of 128 frames in a 1024-frame JACK cycle).
    status = np.int64(status_flags)
    if state[S_CYCLE_FRAMES] == frames:  # this callback began a host cycle
        state[S_CYCLE_FLAGS] = 0
    fresh = status & ~state[S_CYCLE_FLAGS]
    state[S_CYCLE_FLAGS] |= status
    if fresh & XRUN_FLAG_BITS and not (state[S_CYCLE_FLAGS] & ~fresh & XRUN_FLAG_BITS):
        counters[C_FLAGGED] += 1
    if fresh & INPUT_UNDERFLOW:
        counters[C_INPUT_UNDERFLOW] += 1
    if fresh & INPUT_OVERFLOW:
        counters[C_INPUT_OVERFLOW] += 1
    if fresh & OUTPUT_UNDERFLOW:
        counters[C_OUTPUT_UNDERFLOW] += 1
    if fresh & OUTPUT_OVERFLOW:
        counters[C_OUTPUT_OVERFLOW] += 1
    if fresh & PRIMING_OUTPUT:
        counters[C_PRIMING] += 1
    if fresh & XRUN_FLAG_BITS and not (state[S_CYCLE_FLAGS] & ~fresh & XRUN_FLAG_BITS) or gap:
        counters[C_XRUN_BLOCKS] += 1

    in_channels = h[H_IN_CHANNELS]
    out_channels = h[H_OUT_CHANNELS]
    in_address = address(input_pointer)
    out_address = address(output_pointer)
    levels = view(h[H_LEVELS], 2, np.float32)
    levels[0] = ZERO
    levels[1] = ZERO
    done = np.int64(0)
    while done < frames:
        n = min(block, frames - done)
        source = h[H_ZERO_IN] if in_address == 0 else in_address + done * in_channels * 4
        target = h[H_SPARE_OUT] if out_address == 0 else out_address + done * out_channels * 4
        indata = view(source, (n, in_channels), np.float32)
        outdata = view(target, (n, out_channels), np.float32)
        chain_block(h, state, counters, indata, outdata, n, first_frame + done)
        capture(h, indata, outdata, n, first_frame + done)
        done += n
    counters[C_FRAMES] = first_frame + frames

    peaks = view(h[H_PEAKS], 2, np.float32)
    peaks[0] = max(peaks[0], levels[0])
    peaks[1] = max(peaks[1], levels[1])
    end = now_ns(h[H_TIMESPEC])
    busy = end - start
    counters[C_BUSY] += busy
    if busy > counters[C_MAX_BUSY]:
        counters[C_MAX_BUSY] = busy
    size = h[H_RING_SIZE]
    ring = view(h[H_RING], (size, RING_COLUMNS), np.int64)
    ring_peaks = view(h[H_RING_PEAKS], (size, 2), np.float32)
    k = counters[C_CALLBACKS] & (size - 1)
    ring[k, RING_START] = start
    ring[k, RING_DURATION] = busy
    ring[k, RING_STATUS] = status
    ring[k, RING_FRAMES] = frames
    ring[k, RING_GAP] = 1 if gap else 0
    ring_peaks[k, 0] = levels[0]
    ring_peaks[k, 1] = levels[1]
    state[S_PREV_END] = end
    fence_release()  # everything above is visible before the count that announces it
    counters[C_CALLBACKS] += 1
    return PA_CONTINUE


#: The compiled callback: ``callback.address`` is the C function pointer PortAudio calls;
#: ``callback.ctypes`` calls the same machine code from Python (LiveChain.process, offline).
callback = cfunc(PA_CALLBACK, **CALLBACK_OPTIONS)(_callback)
#: The same code as a jitted function that other compiled callbacks call (engine.live.jack_native).
callback_body = njit(**INLINE)(_callback)
