"""The chain's one call per block: input, the playing model and the one being faded in, bypass,
NaN/Inf safety, output gain, limiter and output channels.

Compiled without numba's runtime like the kernels (``JIT``): it cannot allocate, and the compiled
audio callback (engine.live.callback) calls it on views of preallocated memory.
"""

import numpy as np
from numba import njit

from ..kernels import JIT, ONE, POS_BAD_OUTPUT, ZERO, process_block, reset_state
from ..dsp.convolver import convolve_block
from ..dsp.eq import eq_block
from ..dsp.gate import gate_block
from ..resampler.kernels import reset_pair, resampled_block
from .shared import STAGE_CABINET, STAGE_EQ, STAGE_GATE

# Slots of the ``mix`` array (the chain's gains and limiter state; only the callback writes it while a stream runs).
MIX_GAIN_A = 0        # current gain of model A (the playing model)
MIX_GAIN_B = 1        # current gain of model B (the model being faded in)
MIX_GAIN_DRY = 2      # current gain of the dry input (bypass)
MIX_TARGET_A = 3      # where each gain is heading …
MIX_TARGET_B = 4
MIX_TARGET_DRY = 5
MIX_STEP = 6          # … by this much per sample (1 / crossfade length)
MIX_LIMITER_GAIN = 7  # the limiter's current gain
MIX_INPUT_GAIN = 8    # the input gain (linear) at the end of the last block …
MIX_INPUT_TARGET = 9  # … and where it ramps to across the next one
MIX_OUTPUT_GAIN = 10
MIX_OUTPUT_TARGET = 11
MIX_SIZE = 12

# Slots of the ``counters`` array.
COUNT_BAD_INPUT = 0   # blocks muted because the input held NaN or infinity
COUNT_BAD_OUTPUT = 1  # blocks muted because a network produced NaN or infinity (its state was reset)
COUNT_LIMITED = 2     # samples the limiter turned down
COUNTERS_SIZE = 3

# Slots of the ``levels`` array (peaks since the callback last cleared them: each callback).
LEVEL_INPUT_PEAK = 0
LEVEL_OUTPUT_PEAK = 1

# A model slot (Processor.kernel_slot): (meta, params, hist, pos, work, and the resampler pair's eight arrays).
SLOT_META = 0
SLOT_PARAMS = 1
SLOT_HIST = 2
SLOT_POS = 3
SLOT_WORK = 4
# Then the resampler pair's arrays (ResamplerPair.arguments), empty for a model at the stream's rate.
SLOT_RS = 5
SLOT_TABLE_IN = 6
SLOT_TABLE_BACK = 7
SLOT_HIST_IN = 8
SLOT_HIST_BACK = 9
SLOT_QUEUE = 10
SLOT_INNER_X = 11
SLOT_INNER_Y = 12


@njit(**JIT)
def reset_slot(slot):
    """Return a model slot (see Processor.kernel_slot) to its initial state, in place, as Processor.reset does.

    The work area is cleared first (as Processor.reset clears it): after a non-finite output its
    padding lanes may hold NaN, which a later layer would multiply by its zero weights.
    """
    work = slot[SLOT_WORK]
    for i in range(work.shape[0]):
        work[i] = ZERO
    reset_state(slot[SLOT_META], slot[SLOT_PARAMS], slot[SLOT_HIST], slot[SLOT_POS], work)
    if slot[SLOT_RS].shape[0] > 0:
        reset_pair(slot[SLOT_RS], slot[SLOT_HIST_IN], slot[SLOT_HIST_BACK], slot[SLOT_QUEUE])


@njit(**JIT)
def run_slot(slot, x, y):
    """process_block over one mono model slot with its controls held (no ramp); x, y (n, 1).

    Returns whether the network's output stayed finite: False when the kernel's non-finite guard
    muted a sample of it (and restarted the state there), or y is not finite.
    """
    n = x.shape[0]
    pos = slot[SLOT_POS]
    muted = pos[0, POS_BAD_OUTPUT]
    if slot[SLOT_RS].shape[0] > 0:  # the model at its own (or an oversampled) rate, inside the pair
        resampled_block(x.reshape(n), y.reshape(n), slot[SLOT_RS], slot[SLOT_TABLE_IN], slot[SLOT_TABLE_BACK],
                        slot[SLOT_HIST_IN], slot[SLOT_HIST_BACK], slot[SLOT_QUEUE], slot[SLOT_INNER_X],
                        slot[SLOT_INNER_Y], slot[SLOT_META], slot[SLOT_PARAMS], slot[SLOT_HIST], pos, slot[SLOT_WORK])
    else:
        process_block(x.reshape(n), y.reshape(n), slot[SLOT_META], slot[SLOT_PARAMS], slot[SLOT_HIST],
                      pos, slot[SLOT_WORK], 0, 1)
    return pos[0, POS_BAD_OUTPUT] == muted and all_finite(y)


@njit(**JIT)
def all_finite(y):
    for i in range(y.shape[0]):
        if not np.isfinite(y[i, 0]):
            return False
    return True


@njit(**JIT)
def step_towards(value, target, step):
    if value < target:
        return min(value + step, target)
    return max(value - step, target)


@njit(**JIT)
def live_block(indata, outdata, in_channel, out_channels, x, ya, yb, slot_a, slot_b, run_b,
               mix, levels, counters, limiter_on, ceiling, release, stages, gate_params, gate_state, eq_params,
               eq_state, cab_layout, cab_coeffs, cab_state, cab_params, xg, wet):
    """Everything the chain does to one block (n ≤ len(x) frames), in one call.

    1. x = g_in · indata[:, in_channel]; a non-finite input mutes the block and resets the
       models (counted in COUNT_BAD_INPUT). g_in ramps linearly across the block from
       mix[MIX_INPUT_GAIN] to mix[MIX_INPUT_TARGET] (reaching it at the last sample).
    2. With the gate on (stages & STAGE_GATE), the models play x_g = gate(x) (engine.dsp.gate),
       else x_g = x.
    3. y_a = model A(x_g) and, while a crossfade runs (run_b), y_b = model B(x_g); a network whose
       output is not finite has its state reset and mutes the block (COUNT_BAD_OUTPUT).
    4. w = g_a·y_a + g_b·y_b, then w = cabinet(eq(w)) for the stages that are on
       (engine.dsp.eq, engine.dsp.convolver), and y = g_out · (w + g_dry·x): each of g_a, g_b,
       g_dry moves linearly towards its target by MIX_STEP per sample (crossfades for model
       switches and bypass; bypass is the plain input, no stage on it), g_out ramps across the
       block as g_in does.
    5. With the limiter on, y is scaled by a gain that drops at once to ceiling/|y| when |y|
       would exceed the ceiling and recovers as g ← g + (1 − g)·release: |y| ≤ ceiling always.
    6. y goes to every channel in out_channels; the others are silent.
    """
    n = indata.shape[0]
    outdata[:, :] = 0
    peak_in = levels[LEVEL_INPUT_PEAK]
    finite = True
    input_from = mix[MIX_INPUT_GAIN]
    input_change = mix[MIX_INPUT_TARGET] - input_from
    output_from = mix[MIX_OUTPUT_GAIN]
    output_change = mix[MIX_OUTPUT_TARGET] - output_from
    length = np.float32(n)
    for i in range(n):
        v = indata[i, in_channel]
        if np.isfinite(v):
            peak_in = max(peak_in, abs(v))
        else:
            finite = False
        x[i, 0] = v * (input_from + input_change * (np.float32(i + 1) / length))
    levels[LEVEL_INPUT_PEAK] = peak_in
    mix[MIX_INPUT_GAIN] = mix[MIX_INPUT_TARGET]
    mix[MIX_OUTPUT_GAIN] = mix[MIX_OUTPUT_TARGET]
    if not finite:
        counters[COUNT_BAD_INPUT] += 1
        reset_slot(slot_a)
        if run_b:
            reset_slot(slot_b)
        return
    xs = x[:n]
    ys_a = ya[:n]
    ys_b = yb[:n]
    played = xs
    if stages & STAGE_GATE:
        played = xg[:n]
        gate_block(xs.reshape(n), played.reshape(n), n, gate_params, gate_state)
    ok = run_slot(slot_a, played, ys_a)
    if not ok:
        reset_slot(slot_a)
    if run_b:
        if not run_slot(slot_b, played, ys_b):
            reset_slot(slot_b)
            ok = False
    if not ok:
        counters[COUNT_BAD_OUTPUT] += 1
        return
    step = mix[MIX_STEP]
    gain_a = mix[MIX_GAIN_A]
    gain_b = mix[MIX_GAIN_B]
    gain_dry = mix[MIX_GAIN_DRY]
    limiter = mix[MIX_LIMITER_GAIN]
    peak_out = levels[LEVEL_OUTPUT_PEAK]
    ws = wet[:n]
    for i in range(n):
        gain_a = step_towards(gain_a, mix[MIX_TARGET_A], step)
        gain_b = step_towards(gain_b, mix[MIX_TARGET_B], step)
        w = gain_a * ys_a[i, 0]
        if run_b:
            w += gain_b * ys_b[i, 0]
        ws[i, 0] = w
    if stages & STAGE_EQ:
        eq_block(ws.reshape(n), ws.reshape(n), n, eq_params, eq_state)
    if stages & STAGE_CABINET:
        convolve_block(ws.reshape(n), ws.reshape(n), cab_layout, cab_coeffs, cab_state, cab_params)
    for i in range(n):
        gain_dry = step_towards(gain_dry, mix[MIX_TARGET_DRY], step)
        y = ws[i, 0] + gain_dry * xs[i, 0]
        y *= output_from + output_change * (np.float32(i + 1) / length)
        if limiter_on:
            magnitude = abs(y)
            limiter += (ONE - limiter) * release
            if magnitude * limiter > ceiling:
                limiter = ceiling / magnitude
                counters[COUNT_LIMITED] += 1
            y *= limiter
            if abs(y) > ceiling:  # y·(ceiling/|y|) can round one ulp above the ceiling
                y = ceiling if y > ZERO else -ceiling
        peak_out = max(peak_out, abs(y))
        for c in range(out_channels.shape[0]):
            outdata[i, out_channels[c]] = y
    mix[MIX_GAIN_A] = gain_a
    mix[MIX_GAIN_B] = gain_b
    mix[MIX_GAIN_DRY] = gain_dry
    mix[MIX_LIMITER_GAIN] = limiter
    levels[LEVEL_OUTPUT_PEAK] = peak_out
