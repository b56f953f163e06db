"""The resampler pair's nopython code: two polyphase stages around the model's block kernel.

Compiled like every kernel (engine.kernels.options.JIT: no runtime, so nothing here can allocate;
nogil; cached), over arrays engine.resampler.pair allocates at prepare. The pair's block
function ``resampled_block`` is also what a compiled audio callback would call.

One stage (engine/resampler/design.py, equation (1): y_j = Σ_i x_i · h[j·V − i·U]) runs per
input sample: the sample goes into a history written twice (slots k and k + span), so the last
``taps`` inputs are always one contiguous run; then every output whose newest input this is gets
made. With ``ahead`` = (high-rate index of the next output) − (high-rate index of the next
input), an input lowers it by U, an output raises it by V, and an output is due while
ahead < 0; its phase is φ = ahead + U ∈ [0, U), and its taps are h[φ + t·U] over the inputs
t samples back (the table row φ, reversed). Every output is computed from the same inputs by
the same instructions whatever the block sizes, so the result is block-size invariant, bit for
bit.
"""

import numpy as np
from numba import njit

from ..kernels.block import process_block
from ..kernels.layout import H_RAMP_DONE, H_RAMP_LENGTH, LANES, POS_BAD_INPUT, POS_BAD_OUTPUT
from ..kernels.options import INLINE, JIT, ZERO
from ..kernels.simd import fma, splat, vload, vsum
from .layout import (BACK, COUNTERS, IN, R_CHUNK, R_LEAD, R_FIFO_MASK, R_FIFO_READ, R_FIFO_WRITE, R_INNER, R_SKIP, S_AHEAD, S_DOWN,
                     S_SPAN, S_TAPS, S_UP, S_WRITE)


@njit(**INLINE)
def dot(table, row, hist, start, taps):
    """Σ_{t < taps} table[row + t] · hist[start + t], taps a multiple of 16: two vector sums in flight, then a fixed-order tree."""
    even = splat(ZERO)
    odd = splat(ZERO)
    k = 0
    while k + 2 * LANES <= taps:
        even = fma(vload(table, row + k), vload(hist, start + k), even)
        odd = fma(vload(table, row + k + LANES), vload(hist, start + k + LANES), odd)
        k += 2 * LANES
    if k < taps:
        even = fma(vload(table, row + k), vload(hist, start + k), even)
    return vsum(even) + vsum(odd)


@njit(**INLINE)
def run_stage(rs, base, table, hist, src, n, channels, dst, dst_start, dst_mask, pos, clean_input, clean_output):
    """Feed ``n`` interleaved frames of ``src`` through the stage at rs[base:]; return how many frames it made.

    Output frame e (counting from ``dst_start``) goes to dst[(e & dst_mask) · channels + ch]:
    a linear buffer with dst_mask = −1, a ring with dst_mask = its length − 1.
    ``clean_input``: a non-finite input sample is fed as 0 and counted (pos[ch, POS_BAD_INPUT]).
    ``clean_output``: an output that is not finite (a float32 overflow) is written as 0 and
    counted (pos[ch, POS_BAD_OUTPUT]).
    """
    up = rs[base + S_UP]
    down = rs[base + S_DOWN]
    taps = rs[base + S_TAPS]
    span = rs[base + S_SPAN]
    wrap = span - 1
    ahead = rs[base + S_AHEAD]
    write = rs[base + S_WRITE]
    e = dst_start
    for i in range(n):
        for ch in range(channels):
            value = src[i * channels + ch]
            if clean_input and not np.isfinite(value):
                value = ZERO
                pos[ch, POS_BAD_INPUT] += 1
            at = ch * 2 * span + write
            hist[at] = value
            hist[at + span] = value
        write = (write + 1) & wrap
        ahead -= up
        start = (write - taps) & wrap  # the oldest of the last ``taps`` inputs
        while ahead < 0:
            row = (ahead + up) * taps
            for ch in range(channels):
                value = dot(table, row, hist, ch * 2 * span + start, taps)
                if clean_output and not np.isfinite(value):
                    value = ZERO
                    pos[ch, POS_BAD_OUTPUT] += 1
                dst[(e & dst_mask) * channels + ch] = value
            e += 1
            ahead += down
    rs[base + S_AHEAD] = ahead
    rs[base + S_WRITE] = write
    return e - dst_start


STAGE_SIGNATURE = ("int64(float32[::1], float32[::1], int64[::1], int64, float32[::1], float32[::1], int64, "
                   "int64[:, ::1])")


@njit(STAGE_SIGNATURE, **JIT)
def stage_block(x, y, rs, base, table, hist, channels, pos):
    """One stage alone over a block (for tests and tools): y receives the frames made, linearly; returns their count.

    y must hold every frame the block makes (at most ⌈n·U/V⌉ + 1 per channel).
    """
    n = x.shape[0] // channels
    return run_stage(rs, base, table, hist, x, n, channels, y, 0, -1, pos, True, False)


PAIR_SIGNATURE = ("void(float32[::1], float32[::1], int64[::1], float32[::1], float32[::1], float32[::1], "
                  "float32[::1], float32[::1], float32[::1], float32[::1], int64[:, ::1], float32[::1], float32[::1], "
                  "int64[:, ::1], float32[::1])")


@njit(PAIR_SIGNATURE, **JIT)
def resampled_block(x, y, rs, table_in, table_back, hist_in, hist_back, queue, inner_x, inner_y, meta, params, hist,
                    pos, work):
    """Run one block of outer-rate audio through the way in, the model at its own rate, and the way back.

    Parameters (all preallocated by engine.resampler.pair and the Processor; nothing is allocated)
    x, y : float32 (n · channels,) — input and output frames at the outer rate, channels interleaved.
    rs : int64 (RS_SIZE,) — the stages' settings and counters (engine.resampler.layout).
    table_in, table_back : float32 — each stage's polyphase table (design.Stage.table).
    hist_in, hist_back : float32 (channels · 2 · span,) — each stage's doubled input history.
    queue : float32 ((mask + 1) · channels,) — outer-rate outputs made but not yet delivered.
    inner_x, inner_y : float32 (≥ (⌈chunk·Q/P⌉ + 1) · channels,) — the model's input and output.
    meta, params, hist, pos, work : the model's arrays, as engine.kernels.process_block takes them.

    The block is cut into chunks of at most rs[R_CHUNK] frames (the inner buffers' size); per
    chunk: the way in makes m inner frames, process_block runs the model over them once, the way
    back turns its m outputs into outer frames, queued; the chunk's frames are then taken from
    the queue.

    The model starts where the stream starts: inner frame k stands for inner time k − D (the way
    in delays by D inner frames), so after a reset the first D inner frames (times before the
    first input sample: only the filter's pre-ringing of it) are not run through the model, and
    the way back takes silence for them. The model's first sample is then the one at the
    stream's first instant, from its initial state, as a model-rate recording of the same
    signal would have it. The way back has always made frame j by the time input frame j has arrived (the
    latency L covers both filters), so the queue never runs dry; it holds at most ⌈P/Q⌉ + 1
    frames between chunks. A control ramp (meta[0, H_RAMP_LENGTH] > 1) counts in inner frames:
    H_RAMP_DONE advances by m per chunk.
    """
    channels = pos.shape[0]
    n = min(x.shape[0], y.shape[0]) // channels
    chunk = rs[R_CHUNK]
    mask = rs[R_FIFO_MASK]
    made = 0
    for first in range(0, n, chunk):
        frames = min(chunk, n - first)
        m = run_stage(rs, IN, table_in, hist_in, x[first * channels:(first + frames) * channels], frames, channels,
                      inner_x, 0, -1, pos, True, False)
        skip = min(rs[R_SKIP], m)
        if skip > 0:
            for k in range(skip * channels):
                inner_y[k] = ZERO
            rs[R_SKIP] -= skip
        if m > skip:
            process_block(inner_x[skip * channels:m * channels], inner_y[skip * channels:m * channels], meta, params,
                          hist, pos, work, 0, channels)
            if meta[0, H_RAMP_LENGTH] > 1:
                meta[0, H_RAMP_DONE] += m - skip
        made += m - skip
        write = rs[R_FIFO_WRITE]
        write += run_stage(rs, BACK, table_back, hist_back, inner_y, m, channels, queue, write, mask, pos, False,
                           True)
        read = rs[R_FIFO_READ]
        for i in range(frames):
            at = ((read + i) & mask) * channels
            out = (first + i) * channels
            if read + i < write:
                for ch in range(channels):
                    y[out + ch] = queue[at + ch]
            else:  # cannot happen (see above); silence rather than stale samples if it ever did
                for ch in range(channels):
                    y[out + ch] = ZERO
        rs[R_FIFO_READ] = read + frames
        rs[R_FIFO_WRITE] = write
    rs[R_INNER] = made


@njit(**JIT)
def reset_pair(rs, hist_in, hist_back, queue):
    """Silence before the first sample, in place: counters cleared, the lead to pass over restored, histories and queue zeroed."""
    for field in COUNTERS:
        rs[field] = 0
    rs[R_SKIP] = rs[R_LEAD]
    for i in range(hist_in.shape[0]):
        hist_in[i] = ZERO
    for i in range(hist_back.shape[0]):
        hist_back[i] = ZERO
    for i in range(queue.shape[0]):
        queue[i] = ZERO
