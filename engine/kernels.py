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
def read_state(hist, ch, pos, mask, offset, size, tap_offset, taps, shat):
    """ŝ = Σ_m taps[m] · s_{n − tap_offset − m} (SRC.md), for one layer's ``size`` state floats.

    Slot ``pos`` is being written for sample n, so slot (pos − k) & mask holds s_{n−k}.
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
def lstm_step(params, row, x, out, gates, shat, hist, ch, pos, mask, tap_offset, taps):
    """One LSTM step with the fed-back state read through the delay (PyTorch's equations).

    i, f, g, o = σ(W_i x + b_i + U_i ĥ), σ(…f…), tanh(…g…), σ(…o…)   (b = b_ih + b_hh)
    c_n = f ∘ ĉ + i ∘ g,  h_n = o ∘ tanh(c_n); [h_n; c_n] is written to the history, h_n is output.
    """
    n_in = row[M_IN]
    hidden = row[M_OUT]
    rows = 4 * hidden
    state = row[M_STATE]
    read_state(hist, ch, pos, mask, state, 2 * hidden, tap_offset, taps, shat)
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
def gru_step(params, row, x, out, gates_in, gates_rec, shat, hist, ch, pos, mask, tap_offset, taps):
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
    read_state(hist, ch, pos, mask, state, hidden, tap_offset, taps, shat)
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
                  tap_offset, taps, ctrl_from, ctrl_to, ramp_done, ramp_length,
                  input_gain, output_gain, skip):
    """Run the network over one block of every channel: one call per block from Python.

    Parameters as :func:`process_channel`, without ``ch``.
    """
    for ch in range(x.shape[1]):
        process_channel(x, y, ch, meta, params, hist, pos, act, gates, shat, tap_offset, taps,
                        ctrl_from, ctrl_to, ramp_done, ramp_length, input_gain, output_gain, skip)


@njit(**JIT)
def process_channel(x, y, ch, meta, params, hist, pos, act, gates, shat,
                    tap_offset, taps, ctrl_from, ctrl_to, ramp_done, ramp_length,
                    input_gain, output_gain, skip):
    """Run the network over one block of one channel.

    Parameters (all preallocated by the Processor; nothing is allocated here)
    x, y : float32 (n, channels) — input audio and output; column ``ch`` is used.
    meta : int64 (layers, META_COLUMNS); params : float32 flat weights.
    hist : float32 (channels, slots, state floats) — state history, slots a power of two.
    pos : int64 (channels,) — the slot sample n writes; advanced per sample.
    act : float32 (channels, 2, width) — ping-pong layer activations.
    gates : float32 (channels, 2, 4·H_max); shat : float32 (channels, 2·H_max).
    tap_offset, taps : the state read ŝ_n = Σ_m taps[m] s_{n−tap_offset−m}.
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
                lstm_step(params, row, src, dst, gates[ch, 0], shat[ch], hist, ch, p, mask, tap_offset, taps)
            elif kind == KIND_GRU:
                gru_step(params, row, src, dst, gates[ch, 0], gates[ch, 1], shat[ch], hist, ch, p, mask,
                         tap_offset, taps)
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
