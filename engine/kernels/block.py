"""The block kernel: the whole network over one block of audio per call, and the state reset."""

import numpy as np
from numba import njit

from .cells import activate, dense_step, gru_step, lstm_step, read_state
from .layout import (H_ACT, H_CONTROLS, H_INITIAL, H_RAMP_DONE, H_RAMP_LENGTH, H_SCRATCH, H_SHAT, H_SKIP, H_SLOTS,
                     H_STATE, H_WIDTH, H_WORK, HEADER_ROWS, KIND_DENSE, KIND_GRU, KIND_LSTM, LANES, M_ACT, M_KIND,
                     M_OUT, M_STATE, P_CONTROLS, P_INPUT_GAIN, P_OUTPUT_GAIN, POS_BAD_INPUT, POS_BAD_OUTPUT,
                     POS_SLOT, POS_STATE_RESETS)
from .options import INLINE, JIT, ZERO
from .simd import splat, vstore

@njit(**INLINE)
def reset_channel(meta, params, hist, pos, work, ch):
    """Channel ``ch`` back to the model's initial state, as process_block expects it.

    Each of its history slots holds the initial state (params[meta[0, H_INITIAL]:], per layer
    [h0; c0] or h0), its position is 0, and ŝ_0, the first sample's read of that history, is
    computed as every other read is (a recursive read takes ŝ_{−1} = initial: a history at rest).
    The non-finite counters are kept.
    """
    slots = meta[0, H_SLOTS]
    state = meta[0, H_STATE]
    initial = meta[0, H_INITIAL]
    base = ch * slots * state
    for s in range(slots):
        for k in range(state):
            hist[base + s * state + k] = params[initial + k]
    shat = ch * meta[0, H_WORK] + meta[0, H_SHAT]
    for k in range(state):
        work[shat + state + k] = params[initial + k]  # buffer 1: ŝ_{−1}
    read_state(meta, params, hist, base, 0, work, shat, shat + state)  # buffer 0: ŝ_0
    pos[ch, POS_SLOT] = 0


# The one signature process_block is compiled for, given up front: numba then compiles (or loads)
# it at import and never compiles another, so a call with any other argument types (a read-only,
# strided, float64 or 2-D audio array) raises TypeError at once instead of compiling for seconds
# on the audio path. That lets Processor.process leave the type checks to numba's dispatcher.
BLOCK_SIGNATURE = ("void(float32[::1], float32[::1], int64[:, ::1], float32[::1], float32[::1], int64[:, ::1], "
                   "float32[::1], int64, int64)")


@njit(BLOCK_SIGNATURE, **JIT)
def process_block(x, y, meta, params, hist, pos, work, first_channel, stop_channel):
    """Run the network over one block of audio, for channels first_channel … stop_channel − 1.

    Parameters (all preallocated by the Processor; nothing is allocated here)
    x, y : float32 (n · channels,) — input and output frames, channels interleaved.
    meta : int64 (HEADER_ROWS + layers, META_COLUMNS) — run settings (H_*), then the layer table.
    params : float32 — gains, taps and controls (P_*), then the weights (64-byte aligned).
    hist : float32 (channels · slots · state,) — each channel's circular state history.
    pos : int64 (channels, CHANNEL_COLUMNS) — per channel: the slot sample n writes (POS_SLOT,
        advanced per sample) and the non-finite counters (POS_BAD_*, POS_STATE_RESETS).
    work : float32 (channels · work,) — per channel: the input vector, two activation vectors,
        two ŝ buffers (ŝ_n of the next sample is in buffer pos & 1; see reset_state) and scratch,
        each padded with zeros to whole vectors.
    first_channel, stop_channel : the channels to run (threads take disjoint ranges).

    Controls: control k at sample j of the process() call is from + (to − from)·(j + 1)/length,
    this block starting at j = meta[0, H_RAMP_DONE]; a held control has length 1.

    Non-finite safety (the output is always finite and the state never stays poisoned): an input
    sample that is not finite after the input gain (NaN, ±Inf, or a gain overflow) is processed
    as 0; a network output that is not finite (weights near float32's limit can do that from any
    input) is written as 0 and the channel restarts from its initial state at the next sample,
    since the state that produced it is no longer trustworthy; an output the output gain takes
    past float32's range is written as 0. Each is counted in ``pos``.
    """
    channels = pos.shape[0]
    n = min(x.shape[0], y.shape[0]) // channels
    layers = meta.shape[0]
    mask = meta[0, H_SLOTS] - 1
    state = meta[0, H_STATE]
    n_controls = meta[0, H_CONTROLS]
    ramp_done = meta[0, H_RAMP_DONE]
    ramp_length = np.float32(meta[0, H_RAMP_LENGTH])
    width = meta[0, H_WIDTH]
    input_gain = params[P_INPUT_GAIN]
    output_gain = params[P_OUTPUT_GAIN]
    skip = meta[0, H_SKIP] != 0
    for ch in range(first_channel, stop_channel):
        base = ch * meta[0, H_SLOTS] * state
        area = ch * meta[0, H_WORK]      # the input vector (audio, controls) is at work[area:]
        act_a = area + meta[0, H_ACT]    # layers write alternately to act_a and act_b
        act_b = act_a + width
        shat_buffers = area + meta[0, H_SHAT]
        scratch = area + meta[0, H_SCRATCH]
        p = pos[ch, POS_SLOT]
        for i in range(n):
            audio = x[i * channels + ch] * input_gain
            if not np.isfinite(audio):
                audio = ZERO
                pos[ch, POS_BAD_INPUT] += 1
            work[area] = audio
            if n_controls:
                fraction = np.float32(ramp_done + i + 1) / ramp_length
                for k in range(n_controls):
                    start = params[P_CONTROLS + k]
                    work[area + 1 + k] = start + (params[P_CONTROLS + n_controls + k] - start) * fraction
            shat = shat_buffers + (p & 1) * state          # ŝ_n, every layer
            shat_next = shat_buffers + (~p & 1) * state    # ŝ_{n+1}, written as each layer ends
            src = area
            dst = act_a
            for l in range(HEADER_ROWS, layers):
                kind = meta[l, M_KIND]
                at = meta[l, M_STATE]
                if kind == KIND_LSTM:
                    lstm_step(meta, l, params, hist, base, p, work, src, dst, shat + at, shat_next + at)
                elif kind == KIND_GRU:
                    gru_step(meta, l, params, hist, base, p, work, src, dst, shat + at, shat_next + at, scratch)
                elif kind == KIND_DENSE:
                    dense_step(meta, l, params, work, src, dst)
                else:
                    size = meta[l, M_OUT]
                    vstore(work, dst + size // LANES * LANES, splat(ZERO))  # the padding after it
                    for j in range(size):
                        work[dst + j] = work[src + j]
                    activate(meta[l, M_ACT], work, dst, size)
                src = dst
                dst = act_b if dst == act_a else act_a
            out = work[src]
            if not np.isfinite(out):
                pos[ch, POS_BAD_OUTPUT] += 1
                pos[ch, POS_STATE_RESETS] += 1
                reset_channel(meta, params, hist, pos, work, ch)
                y[i * channels + ch] = ZERO
                p = mask  # so the next sample is sample 0 of the restarted history
            else:
                if skip:
                    out += audio
                out *= output_gain
                if not np.isfinite(out):
                    pos[ch, POS_BAD_OUTPUT] += 1
                    out = ZERO
                y[i * channels + ch] = out
            p = (p + 1) & mask
        pos[ch, POS_SLOT] = p


@njit(**JIT)
def reset_state(meta, params, hist, pos, work):
    """Every channel back to the model's initial state (reset_channel); the counters are kept."""
    for ch in range(pos.shape[0]):
        reset_channel(meta, params, hist, pos, work, ch)
