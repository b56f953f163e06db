"""The only nopython code: per-sample LSTM/GRU networks run over a whole block per call.

The kernels trust their inputs (the Processor validates and allocates everything) and never
allocate, raise or touch Python objects. A network is a table of layers (``meta``, one row per
layer, columns M_*) over one flat float32 parameter array (``params``):

- recurrent layers store the input kernel transposed, (in, G·H) row-major, the recurrent kernel
  transposed, (H, G·H), then bias_ih and bias_hh (G·H each), so the innermost loops run over
  contiguous gate rows and vectorise;
- dense layers store the kernel transposed, (in, out), then the bias (out).

Rate correction (SRC.md): each recurrent layer's fresh state s_n = [h_n; c_n] (LSTM) or h_n
(GRU) is written to slot ``pos`` of a circular history ``hist[ch, slot, state_offset:…]``; the
state fed back into the cell is the fractional read ŝ_n = Σ_m taps[m] · s_{n − e − m} with
e = ``tap_offset`` (naive: e = 1, taps [1]; linear: e = ⌊R⌋, taps [1 − α, α]). The layer outputs
h_n itself, so the correction adds no latency. A read costs len(taps) passes whatever R is.
"""

import numpy as np
from numba import njit

KIND_LSTM = 0
KIND_GRU = 1
KIND_DENSE = 2
KIND_ACTIVATION = 3

ACT_LINEAR = 0
ACT_TANH = 1
ACT_RELU = 2
ACT_SIGMOID = 3
ACT_ELU = 4
ACT_SOFTMAX = 5
ACTIVATION_CODES = {"linear": ACT_LINEAR, "tanh": ACT_TANH, "relu": ACT_RELU,
                    "sigmoid": ACT_SIGMOID, "elu": ACT_ELU, "softmax": ACT_SOFTMAX}

# Columns of the layer table.
M_KIND = 0
M_IN = 1
M_OUT = 2
M_ACT = 3
M_KERNEL = 4
M_RECURRENT = 5
M_BIAS = 6
M_STATE = 7
M_RESET_AFTER = 8
META_COLUMNS = 9

ONE = np.float32(1.0)
ZERO = np.float32(0.0)

JIT = dict(cache=True, nogil=True, error_model="numpy")


@njit(**JIT)
def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), in float32."""
    return ONE / (ONE + np.exp(-x))


@njit(**JIT)
def read_state(hist, ch, pos, mask, offset, size, tap_offset, taps, feedback, memory, shat):
    """ŝ_n = Σ_m taps[m] · s_{n − tap_offset − m} + feedback · ŝ_{n−1} (SRC.md), for one layer's ``size`` floats.

    Slot ``pos`` is being written for sample n, so slot (pos − k) & mask holds s_{n−k}. The
    recursive term serves the first-order Thiran allpass, v_n = a·(s_{n−d} − v_{n−1}) + s_{n−d−1}
    (taps [a, 1] at d, feedback −a); ŝ_{n−1} is kept in ``memory``. FIR methods pass feedback 0.
    """
    slot = (pos - tap_offset) & mask
    t = taps[0]
    for k in range(size):
        shat[k] = t * hist[ch, slot, offset + k]
    for m in range(1, taps.shape[0]):
        slot = (pos - tap_offset - m) & mask
        t = taps[m]
        for k in range(size):
            shat[k] += t * hist[ch, slot, offset + k]
    if feedback != ZERO:
        for k in range(size):
            v = shat[k] + feedback * memory[ch, offset + k]
            shat[k] = v
            memory[ch, offset + k] = v


@njit(**JIT)
def affine_transposed(params, kernel, bias, n_in, n_out, x, acc):
    """acc = bias + Kᵀ·x for a kernel stored transposed, (n_in, n_out) row-major, at params[kernel:]."""
    for j in range(n_out):
        acc[j] = params[bias + j]
    for k in range(n_in):
        xk = x[k]
        base = kernel + k * n_out
        for j in range(n_out):
            acc[j] += params[base + j] * xk


@njit(**JIT)
def accumulate_transposed(params, kernel, n_in, n_out, row_stride, x, acc):
    """acc[0:n_out] += Kᵀ·x, with kernel rows of length ``row_stride`` stored at params[kernel:]."""
    for k in range(n_in):
        xk = x[k]
        base = kernel + k * row_stride
        for j in range(n_out):
            acc[j] += params[base + j] * xk


@njit(**JIT)
def lstm_step(params, row, x, out, gates, shat, hist, ch, pos, mask, tap_offset, taps, feedback, memory):
    """One LSTM step with the fed-back state read through the delay (PyTorch's equations).

    i, f, g, o = σ(W_i x + b_i + U_i ĥ), σ(…f…), tanh(…g…), σ(…o…)   (b = b_ih + b_hh)
    c_n = f ∘ ĉ + i ∘ g,  h_n = o ∘ tanh(c_n); [h_n; c_n] is written to the history, h_n is output.
    """
    n_in = row[M_IN]
    hidden = row[M_OUT]
    rows = 4 * hidden
    state = row[M_STATE]
    read_state(hist, ch, pos, mask, state, 2 * hidden, tap_offset, taps, feedback, memory, shat)
    bias = row[M_BIAS]
    for j in range(rows):
        gates[j] = params[bias + j] + params[bias + rows + j]
    accumulate_transposed(params, row[M_KERNEL], n_in, rows, rows, x, gates)
    accumulate_transposed(params, row[M_RECURRENT], hidden, rows, rows, shat, gates)
    for j in range(hidden):
        i = sigmoid(gates[j])
        f = sigmoid(gates[hidden + j])
        g = np.tanh(gates[2 * hidden + j])
        o = sigmoid(gates[3 * hidden + j])
        c = f * shat[hidden + j] + i * g
        h = o * np.tanh(c)
        hist[ch, pos, state + j] = h
        hist[ch, pos, state + hidden + j] = c
        out[j] = h


@njit(**JIT)
def gru_step(params, row, x, out, gates_in, gates_rec, shat, hist, ch, pos, mask, tap_offset, taps, feedback,
             memory):
    """One GRU step with the fed-back state read through the delay.

    reset_after (PyTorch, Keras reset_after=True), gate rows [r, z, n]:
      r = σ(W_r x + b_ir + U_r ĥ + b_hr), z = σ(…z…), n = tanh(W_n x + b_in + r ∘ (U_n ĥ + b_hn))
    Keras reset_after=False: n = tanh(W_n x + b_in + U_n (r ∘ ĥ)).
    h_n = (1 − z) ∘ n + z ∘ ĥ, written to the history and output.
    """
    n_in = row[M_IN]
    hidden = row[M_OUT]
    rows = 3 * hidden
    state = row[M_STATE]
    read_state(hist, ch, pos, mask, state, hidden, tap_offset, taps, feedback, memory, shat)
    bias = row[M_BIAS]
    affine_transposed(params, row[M_KERNEL], bias, n_in, rows, x, gates_in)
    recurrent = row[M_RECURRENT]
    if row[M_RESET_AFTER] != 0:
        affine_transposed(params, recurrent, bias + rows, hidden, rows, shat, gates_rec)
        for j in range(hidden):
            r = sigmoid(gates_in[j] + gates_rec[j])
            z = sigmoid(gates_in[hidden + j] + gates_rec[hidden + j])
            n = np.tanh(gates_in[2 * hidden + j] + r * gates_rec[2 * hidden + j])
            h = (ONE - z) * n + z * shat[j]
            hist[ch, pos, state + j] = h
            out[j] = h
    else:
        # r and z first (only their 2H columns), then U_n·(r ∘ ĥ) into gates_rec[2H:3H],
        # with r ∘ ĥ parked in gates_rec[3H:4H] (the buffer holds 4H floats).
        for j in range(2 * hidden):
            gates_rec[j] = ZERO
        accumulate_transposed(params, recurrent, hidden, 2 * hidden, rows, shat, gates_rec)
        for j in range(hidden):
            gates_rec[3 * hidden + j] = sigmoid(gates_in[j] + gates_rec[j]) * shat[j]
            gates_rec[2 * hidden + j] = ZERO
        accumulate_transposed(params, recurrent + 2 * hidden, hidden, hidden, rows,
                              gates_rec[3 * hidden:4 * hidden], gates_rec[2 * hidden:3 * hidden])
        for j in range(hidden):
            z = sigmoid(gates_in[hidden + j] + gates_rec[hidden + j])
            n = np.tanh(gates_in[2 * hidden + j] + gates_rec[2 * hidden + j])
            h = (ONE - z) * n + z * shat[j]
            hist[ch, pos, state + j] = h
            out[j] = h


@njit(**JIT)
def activate(code, x, out, size):
    """out = activation(x) element-wise (softmax over the vector); ELU uses α = 1 (Keras' default)."""
    if code == ACT_LINEAR:
        for j in range(size):
            out[j] = x[j]
    elif code == ACT_TANH:
        for j in range(size):
            out[j] = np.tanh(x[j])
    elif code == ACT_RELU:
        for j in range(size):
            out[j] = max(x[j], ZERO)
    elif code == ACT_SIGMOID:
        for j in range(size):
            out[j] = sigmoid(x[j])
    elif code == ACT_ELU:
        for j in range(size):
            v = x[j]
            out[j] = v if v > ZERO else np.expm1(v)
    else:  # ACT_SOFTMAX: exp(x − max) / Σ exp(x − max)
        top = x[0]
        for j in range(1, size):
            top = max(top, x[j])
        total = ZERO
        for j in range(size):
            e = np.exp(x[j] - top)
            out[j] = e
            total += e
        for j in range(size):
            out[j] /= total


@njit(**JIT)
def process_block(x, y, meta, params, hist, pos, act, gates, shat,
                  tap_offset, taps, feedback, memory, ctrl_from, ctrl_to, ramp_done, ramp_length,
                  input_gain, output_gain, skip):
    """Run the network over one block of every channel: one call per block from Python.

    Parameters as :func:`process_channel`, without ``ch``.
    """
    for ch in range(x.shape[1]):
        process_channel(x, y, ch, meta, params, hist, pos, act, gates, shat, tap_offset, taps, feedback, memory,
                        ctrl_from, ctrl_to, ramp_done, ramp_length, input_gain, output_gain, skip)


@njit(**JIT)
def process_channel(x, y, ch, meta, params, hist, pos, act, gates, shat,
                    tap_offset, taps, feedback, memory, ctrl_from, ctrl_to, ramp_done, ramp_length,
                    input_gain, output_gain, skip):
    """Run the network over one block of one channel.

    Parameters (all preallocated by the Processor; nothing is allocated here)
    x, y : float32 (n, channels) — input audio and output; column ``ch`` is used.
    meta : int64 (layers, META_COLUMNS); params : float32 flat weights.
    hist : float32 (channels, slots, state floats) — state history, slots a power of two.
    pos : int64 (channels,) — the slot sample n writes; advanced per sample.
    act : float32 (channels, 2, width) — ping-pong layer activations.
    gates : float32 (channels, 2, 4·H_max); shat : float32 (channels, 2·H_max).
    tap_offset, taps, feedback : the state read ŝ_n = Σ_m taps[m] s_{n−tap_offset−m} + feedback·ŝ_{n−1}.
    memory : float32 (channels, state floats) — ŝ_{n−1} per layer, for the recursive (allpass) read.
    ctrl_from, ctrl_to : float32 (controls,) — the knob ramp of this process() call:
        control k at the call's sample j is from + (to − from)·(j + 1)/ramp_length;
        this block starts at j = ramp_done.
    input_gain, output_gain : linear gains; skip : 1 adds the (gained) audio to the output.
    """
    n = x.shape[0]
    layers = meta.shape[0]
    mask = hist.shape[1] - 1
    n_controls = ctrl_from.shape[0]
    p = pos[ch]
    for i in range(n):
        audio = x[i, ch] * input_gain
        act[ch, 0, 0] = audio
        fraction = np.float32(ramp_done + i + 1) / np.float32(ramp_length)
        for k in range(n_controls):
            act[ch, 0, 1 + k] = ctrl_from[k] + (ctrl_to[k] - ctrl_from[k]) * fraction
        cur = 0
        for l in range(layers):
            row = meta[l]
            kind = row[M_KIND]
            src = act[ch, cur]
            dst = act[ch, 1 - cur]
            if kind == KIND_LSTM:
                lstm_step(params, row, src, dst, gates[ch, 0], shat[ch], hist, ch, p, mask, tap_offset, taps,
                          feedback, memory)
            elif kind == KIND_GRU:
                gru_step(params, row, src, dst, gates[ch, 0], gates[ch, 1], shat[ch], hist, ch, p, mask,
                         tap_offset, taps, feedback, memory)
            elif kind == KIND_DENSE:
                affine_transposed(params, row[M_KERNEL], row[M_BIAS], row[M_IN], row[M_OUT], src, gates[ch, 0])
                activate(row[M_ACT], gates[ch, 0], dst, row[M_OUT])
            else:
                activate(row[M_ACT], src, dst, row[M_OUT])
            cur = 1 - cur
        out = act[ch, cur, 0]
        if skip != 0:
            out += audio
        y[i, ch] = out * output_gain
        p = (p + 1) & mask
    pos[ch] = p


# -- the live audio callback's one call per block ----------------------------------------------

# Slots of the ``mix`` array shared between the callback and the kernel.
MIX_GAIN_A = 0        # current gain of model A (the playing model)
MIX_GAIN_B = 1        # current gain of model B (the model being faded in)
MIX_GAIN_DRY = 2      # current gain of the dry input (bypass)
MIX_TARGET_A = 3      # where each gain is heading …
MIX_TARGET_B = 4
MIX_TARGET_DRY = 5
MIX_STEP = 6          # … by this much per sample (1 / crossfade length)
MIX_LIMITER_GAIN = 7  # the limiter's current gain
MIX_SIZE = 8

# Slots of the ``counters`` array.
COUNT_BAD_INPUT = 0   # blocks muted because the input held NaN or infinity
COUNT_BAD_OUTPUT = 1  # blocks muted because a network produced NaN or infinity (its state was reset)
COUNT_LIMITED = 2     # samples the limiter turned down
COUNTERS_SIZE = 3

# Slots of the ``levels`` array (peaks since the main thread last cleared them).
LEVEL_INPUT_PEAK = 0
LEVEL_OUTPUT_PEAK = 1


# A model slot (Processor.kernel_slot): (meta, params, hist, pos, act, gates, shat, tap_offset, taps,
# feedback, memory, ctrl_from, ctrl_to, input_gain, output_gain, skip, initial_state).
SLOT_HIST, SLOT_POS, SLOT_MEMORY, SLOT_INITIAL = 2, 3, 10, 16


@njit(**JIT)
def reset_slot(slot):
    """Return a model slot to its initial state, in place."""
    hist = slot[SLOT_HIST]
    memory = slot[SLOT_MEMORY]
    initial = slot[SLOT_INITIAL]
    for ch in range(hist.shape[0]):
        for s in range(hist.shape[1]):
            for k in range(initial.shape[0]):
                hist[ch, s, k] = initial[k]
        for k in range(initial.shape[0]):
            memory[ch, k] = initial[k]
    slot[SLOT_POS][:] = 0


@njit(**JIT)
def run_slot(slot, x, y):
    """process_block over one model slot with its controls held (no ramp)."""
    process_block(x, y, slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], slot[6], slot[7], slot[8],
                  slot[9], slot[10], slot[11], slot[12], 0, 1, slot[13], slot[14], slot[15])


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


# The audio callback holds the GIL for the whole block on purpose: a kernel that released it
# would have to win it back from whatever thread took it meanwhile before the callback can
# return, and a normal-priority thread preempted while holding it stalls the real-time thread.
@njit(cache=True, nogil=False, error_model="numpy")
def live_block(indata, outdata, in_channel, out_channels, x, ya, yb, slot_a, slot_b, run_b,
               mix, levels, counters, input_gain, output_gain, limiter_on, ceiling, release):
    """Everything the audio callback does to one block, in one call.

    1. x = input_gain · indata[:, in_channel]; a non-finite input mutes the block and resets
       the models (counted in COUNT_BAD_INPUT).
    2. y_a = model A(x) and, while a crossfade runs (run_b), y_b = model B(x); a network whose
       output is not finite has its state reset and mutes the block (COUNT_BAD_OUTPUT).
    3. y = output_gain · (g_a·y_a + g_b·y_b + g_dry·x), each gain moving linearly towards its
       target by MIX_STEP per sample (crossfades for model switches and bypass).
    4. With the limiter on, y is scaled by a gain that drops at once to ceiling/|y| when |y|
       would exceed the ceiling and recovers as g ← g + (1 − g)·release: |y| ≤ ceiling always.
    5. y goes to every channel in out_channels; the others are silent.
    """
    n = indata.shape[0]
    outdata[:, :] = 0
    peak_in = levels[LEVEL_INPUT_PEAK]
    finite = True
    for i in range(n):
        v = indata[i, in_channel]
        if np.isfinite(v):
            peak_in = max(peak_in, abs(v))
        else:
            finite = False
        x[i, 0] = v * input_gain
    levels[LEVEL_INPUT_PEAK] = peak_in
    if not finite:
        counters[COUNT_BAD_INPUT] += 1
        reset_slot(slot_a)
        if run_b:
            reset_slot(slot_b)
        return
    xs = x[:n]
    ys_a = ya[:n]
    ys_b = yb[:n]
    run_slot(slot_a, xs, ys_a)
    ok = all_finite(ys_a)
    if not ok:
        reset_slot(slot_a)
    if run_b:
        run_slot(slot_b, xs, ys_b)
        if not all_finite(ys_b):
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
    for i in range(n):
        gain_a = step_towards(gain_a, mix[MIX_TARGET_A], step)
        gain_b = step_towards(gain_b, mix[MIX_TARGET_B], step)
        gain_dry = step_towards(gain_dry, mix[MIX_TARGET_DRY], step)
        y = gain_a * ys_a[i, 0] + gain_dry * xs[i, 0]
        if run_b:
            y += gain_b * ys_b[i, 0]
        y *= output_gain
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
