"""One step of each layer kind (LSTM, GRU in both reset conventions, dense, activation) and the
fractional read of the fed-back state, all inlined into the block kernel.

Each function cites the equations it implements; the weight order each one reads is written by
packing.py.
"""

import numpy as np
from numba import njit

from .fastmath import sigmoid, sigmoid16_of_double, tanh16
from .layout import (ACT_ELU, ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_SOFTMAX, ACT_TANH, H_SLOTS, H_STATE,
                     H_TAP_OFFSET, H_TAPS, LANES, M_BLOCKS, M_HALF, M_IN, M_OUT, M_RESET_AFTER, M_STATE,
                     M_WEIGHTS, M_ACT, P_FEEDBACK, P_TAPS)
from .options import HALF, INLINE, ONE, ZERO
from .simd import fma, halves, low_half, splat, swap_halves, vadd, vbroadcast, vload, vmul, vstore, vsub, vsum

#
# The fed-back state ŝ of every recurrent layer lives in two buffers of a channel's work area,
# one per sample parity: sample n (history position p) reads buffer p & 1, and each layer
# computes ŝ_{n+1} for the next sample into the other buffer as soon as its fresh state s_n is
# in registers. That keeps a store and a reload of s_n off the sample-to-sample critical path,
# and keeps ŝ_n from one block to the next, which a recursive read (the allpass:
# ŝ_n = Σ_m taps[m]·s_{n−e−m} + feedback·ŝ_{n−1}) needs. reset_state computes ŝ_0.

@njit(**INLINE)
def read_state(meta, params, hist, base, p, work, shat, previous):
    """ŝ_n = Σ_m taps[m] · s_{n − e − m} + feedback · ŝ_{n−1} (SRC.md) for every layer's state.

    The history of this channel starts at hist[base]; slot (p − k) & (slots − 1) holds s_{n−k}
    (slot p is the one sample n writes). ŝ_{n−1} is read from work[previous:], ŝ_n written to
    work[shat:].
    """
    mask = meta[0, H_SLOTS] - 1
    stride = meta[0, H_STATE]
    first = meta[0, H_TAP_OFFSET]
    n_taps = meta[0, H_TAPS]
    feedback = params[P_FEEDBACK]
    for k in range(0, stride, LANES):
        acc = vmul(vbroadcast(params, P_TAPS), vload(hist, base + ((p - first) & mask) * stride + k))
        for m in range(1, n_taps):
            acc = fma(vbroadcast(params, P_TAPS + m), vload(hist, base + ((p - first - m) & mask) * stride + k), acc)
        if feedback != ZERO:
            acc = fma(splat(feedback), vload(work, previous + k), acc)
        vstore(work, shat + k, acc)


@njit(**INLINE)
def read_next(meta, params, hist, base, p, at, fresh, work, current):
    """ŝ_{n+1} = Σ_m taps[m] · s_{n + 1 − e − m} + feedback · ŝ_n for the 16 state floats at offset
    ``at`` of a slot, given s_n = ``fresh`` and ŝ_n at work[current:] (the same sum read_state
    makes at position p + 1)."""
    mask = meta[0, H_SLOTS] - 1
    stride = meta[0, H_STATE]
    back = meta[0, H_TAP_OFFSET] - 1  # s_{n + 1 − e − m} is back + m samples before s_n
    n_taps = meta[0, H_TAPS]
    newest = fresh if back == 0 else vload(hist, base + ((p - back) & mask) * stride + at)
    acc = vmul(vbroadcast(params, P_TAPS), newest)
    for m in range(1, n_taps):
        acc = fma(vbroadcast(params, P_TAPS + m), vload(hist, base + ((p - back - m) & mask) * stride + at), acc)
    if params[P_FEEDBACK] != ZERO:
        acc = fma(vbroadcast(params, P_FEEDBACK), vload(work, current), acc)
    return acc


@njit(**INLINE)
def lstm_step(meta, l, params, hist, base, p, work, src, dst, shat, shat_next):
    """One LSTM step with the fed-back state read through the delay (PyTorch's equations).

    i, f, g, o = σ(W_i x + U_i ĥ + b_i), σ(…f…), tanh(…g…), σ(…o…)   (b = b_ih + b_hh)
    c_n = f ∘ ĉ + i ∘ g,  h_n = o ∘ tanh(c_n); [h_n; c_n] goes to history slot p, h_n to
    work[dst:], and ŝ_{n+1} to work[shat_next:] (ŝ_n = [ĥ; ĉ] is at work[shat:]).

    Weights, per block of 16 hidden units j…j+15: the bias row, then one row per input k and
    one per recurrent unit k, each row the four gate vectors [i, f, g, o] of those 16 units.
    """
    n_in = meta[l, M_IN]
    hidden = meta[l, M_OUT]
    blocks = meta[l, M_BLOCKS]
    padded = (blocks + meta[l, M_HALF]) * LANES
    stride = (1 + n_in + hidden) * 4 * LANES
    state = meta[l, M_STATE]
    now = base + p * meta[0, H_STATE] + state
    if meta[l, M_HALF]:  # first, so its σ/tanh latency overlaps the full blocks' sums
        lstm_half_block(meta, l, params, hist, base, p, work, src, dst, shat, shat_next,
                        meta[l, M_WEIGHTS] + blocks * stride)
    for b in range(blocks):
        w = meta[l, M_WEIGHTS] + b * stride
        ai = vload(params, w)
        af = vload(params, w + LANES)
        ag = vload(params, w + 2 * LANES)
        ao = vload(params, w + 3 * LANES)
        w += 4 * LANES
        for k in range(n_in):
            xk = vbroadcast(work, src + k)
            ai = fma(vload(params, w), xk, ai)
            af = fma(vload(params, w + LANES), xk, af)
            ag = fma(vload(params, w + 2 * LANES), xk, ag)
            ao = fma(vload(params, w + 3 * LANES), xk, ao)
            w += 4 * LANES
        # U ĥ in two interleaved halves (even and odd k), so eight independent sums are in
        # flight: one sum per gate would wait four cycles on each fused multiply-add.
        zero = splat(ZERO)
        bi = zero
        bf = zero
        bg = zero
        bo = zero
        for k in range(0, hidden - 1, 2):
            hk = vbroadcast(work, shat + k)
            ai = fma(vload(params, w), hk, ai)
            af = fma(vload(params, w + LANES), hk, af)
            ag = fma(vload(params, w + 2 * LANES), hk, ag)
            ao = fma(vload(params, w + 3 * LANES), hk, ao)
            hk = vbroadcast(work, shat + k + 1)
            bi = fma(vload(params, w + 4 * LANES), hk, bi)
            bf = fma(vload(params, w + 5 * LANES), hk, bf)
            bg = fma(vload(params, w + 6 * LANES), hk, bg)
            bo = fma(vload(params, w + 7 * LANES), hk, bo)
            w += 8 * LANES
        if hidden % 2 == 1:
            hk = vbroadcast(work, shat + hidden - 1)
            ai = fma(vload(params, w), hk, ai)
            af = fma(vload(params, w + LANES), hk, af)
            ag = fma(vload(params, w + 2 * LANES), hk, ag)
            ao = fma(vload(params, w + 3 * LANES), hk, ao)
        i = sigmoid16_of_double(vadd(ai, bi))     # i, f, o weights are stored halved
        f = sigmoid16_of_double(vadd(af, bf))
        g = tanh16(vadd(ag, bg))
        o = sigmoid16_of_double(vadd(ao, bo))
        u = b * LANES
        c = fma(f, vload(work, shat + padded + u), vmul(i, g))
        h = vmul(o, tanh16(c))
        vstore(work, dst + u, h)
        vstore(hist, now + u, h)
        vstore(hist, now + padded + u, c)
        vstore(work, shat_next + u, read_next(meta, params, hist, base, p, state + u, h, work, shat + u))
        vstore(work, shat_next + padded + u,
               read_next(meta, params, hist, base, p, state + padded + u, c, work, shat + padded + u))


@njit(**INLINE)
def lstm_half_block(meta, l, params, hist, base, p, work, src, dst, shat, shat_next, w):
    """lstm_step for the last ≤ 8 hidden units, two gates per vector: [i, f] and [g, o].

    Weights at params[w:]: the bias row, then one row per input and per recurrent unit, each
    the two vectors [i, f], [g, o] of those 8 units (zero past the last). Half the work of a
    block of 16 for LSTM-40's last 8 units. Lanes 8–15 of c and h are set to zero: they are the
    padding units of the state.
    """
    n_in = meta[l, M_IN]
    hidden = meta[l, M_OUT]
    blocks = meta[l, M_BLOCKS]
    padded = (blocks + 1) * LANES
    state = meta[l, M_STATE]
    now = base + p * meta[0, H_STATE] + state
    a_if = vload(params, w)
    a_go = vload(params, w + LANES)
    w += 2 * LANES
    for k in range(n_in):
        xk = vbroadcast(work, src + k)
        a_if = fma(vload(params, w), xk, a_if)
        a_go = fma(vload(params, w + LANES), xk, a_go)
        w += 2 * LANES
    zero = splat(ZERO)
    b_if = zero
    b_go = zero
    for k in range(0, hidden - 1, 2):
        hk = vbroadcast(work, shat + k)
        a_if = fma(vload(params, w), hk, a_if)
        a_go = fma(vload(params, w + LANES), hk, a_go)
        hk = vbroadcast(work, shat + k + 1)
        b_if = fma(vload(params, w + 2 * LANES), hk, b_if)
        b_go = fma(vload(params, w + 3 * LANES), hk, b_go)
        w += 4 * LANES
    if hidden % 2 == 1:
        hk = vbroadcast(work, shat + hidden - 1)
        a_if = fma(vload(params, w), hk, a_if)
        a_go = fma(vload(params, w + LANES), hk, a_go)
    i_f = sigmoid16_of_double(vadd(a_if, b_if))                    # [σ(i), σ(f)]: weights halved
    g_o = fma(tanh16(vadd(a_go, b_go)), halves(ONE, HALF), halves(ZERO, HALF))  # [tanh(g), σ(o)]
    u = blocks * LANES
    c = low_half(fma(swap_halves(i_f), vload(work, shat + padded + u), vmul(i_f, g_o)))  # f ĉ + i g
    h = vmul(swap_halves(g_o), tanh16(c))                          # o tanh(c); lanes 8–15: tanh(0) = 0
    vstore(work, dst + u, h)
    vstore(hist, now + u, h)
    vstore(hist, now + padded + u, c)
    vstore(work, shat_next + u, read_next(meta, params, hist, base, p, state + u, h, work, shat + u))
    vstore(work, shat_next + padded + u,
           read_next(meta, params, hist, base, p, state + padded + u, c, work, shat + padded + u))


@njit(**INLINE)
def gru_step(meta, l, params, hist, base, p, work, src, dst, shat, shat_next, scratch):
    """One GRU step with the fed-back state read through the delay.

    reset_after (PyTorch, Keras reset_after=True), gate rows [r, z, n]:
      r = σ(W_r x + b_ir + U_r ĥ + b_hr), z = σ(…z…), n = tanh(W_n x + b_in + r ∘ (U_n ĥ + b_hn))
    Keras reset_after=False: r, z as above without b_h, n = tanh(W_n x + b_in + U_n (r ∘ ĥ)).
    h_n = (1 − z) ∘ n + z ∘ ĥ, written to history slot p and to work[dst:]; ŝ_{n+1} goes to
    work[shat_next:] (ŝ_n = ĥ is at work[shat:]).
    """
    if meta[l, M_RESET_AFTER] != 0:
        gru_step_reset_after(meta, l, params, hist, base, p, work, src, dst, shat, shat_next)
    else:
        gru_step_reset_before(meta, l, params, hist, base, p, work, src, dst, shat, shat_next, scratch)


@njit(**INLINE)
def gru_step_reset_after(meta, l, params, hist, base, p, work, src, dst, shat, shat_next):
    """gru_step, reset gate after the recurrent kernel.

    Weights per block of 16 units: the bias row [b_ir + b_hr, b_iz + b_hz, b_in, b_hn], then one
    row [r, z, n] per input and one [r, z, n] per recurrent unit.
    """
    n_in = meta[l, M_IN]
    hidden = meta[l, M_OUT]
    blocks = meta[l, M_BLOCKS]
    stride = 4 * LANES + (n_in + hidden) * 3 * LANES
    state = meta[l, M_STATE]
    now = base + p * meta[0, H_STATE] + state
    for b in range(blocks):
        w = meta[l, M_WEIGHTS] + b * stride
        ar = vload(params, w)
        az = vload(params, w + LANES)
        an = vload(params, w + 2 * LANES)      # W_n x + b_in
        un = vload(params, w + 3 * LANES)      # U_n ĥ + b_hn
        w += 4 * LANES
        for k in range(n_in):
            xk = vbroadcast(work, src + k)
            ar = fma(vload(params, w), xk, ar)
            az = fma(vload(params, w + LANES), xk, az)
            an = fma(vload(params, w + 2 * LANES), xk, an)
            w += 3 * LANES
        # U ĥ in two interleaved halves, as in lstm_step.
        zero = splat(ZERO)
        br = zero
        bz = zero
        bn = zero
        for k in range(0, hidden - 1, 2):
            hk = vbroadcast(work, shat + k)
            ar = fma(vload(params, w), hk, ar)
            az = fma(vload(params, w + LANES), hk, az)
            un = fma(vload(params, w + 2 * LANES), hk, un)
            hk = vbroadcast(work, shat + k + 1)
            br = fma(vload(params, w + 3 * LANES), hk, br)
            bz = fma(vload(params, w + 4 * LANES), hk, bz)
            bn = fma(vload(params, w + 5 * LANES), hk, bn)
            w += 6 * LANES
        if hidden % 2 == 1:
            hk = vbroadcast(work, shat + hidden - 1)
            ar = fma(vload(params, w), hk, ar)
            az = fma(vload(params, w + LANES), hk, az)
            un = fma(vload(params, w + 2 * LANES), hk, un)
        r = sigmoid16_of_double(vadd(ar, br))     # r, z weights are stored halved
        z = sigmoid16_of_double(vadd(az, bz))
        n = tanh16(fma(r, vadd(un, bn), an))
        u = b * LANES
        h = fma(z, vsub(vload(work, shat + u), n), n)   # (1 − z) n + z ĥ = n + z (ĥ − n)
        vstore(work, dst + u, h)
        vstore(hist, now + u, h)
        vstore(work, shat_next + u, read_next(meta, params, hist, base, p, state + u, h, work, shat + u))


@njit(**INLINE)
def gru_step_reset_before(meta, l, params, hist, base, p, work, src, dst, shat, shat_next, scratch):
    """gru_step, reset gate before the recurrent kernel (Keras reset_after=False).

    n needs U_n (r ∘ ĥ) over every unit's r, so it runs in two passes. Weights per block of 16
    units: the bias row [b_ir, b_iz, b_in], one row [r, z, n] per input, one row [r, z] per
    recurrent unit, then one row [n] per recurrent unit. The first pass parks r ∘ ĥ, z and
    W_n x + b_in in the channel's scratch (3 × the padded hidden size).
    """
    n_in = meta[l, M_IN]
    hidden = meta[l, M_OUT]
    blocks = meta[l, M_BLOCKS]
    padded = blocks * LANES
    stride = 3 * LANES + n_in * 3 * LANES + hidden * 3 * LANES
    for b in range(blocks):
        w = meta[l, M_WEIGHTS] + b * stride
        ar = vload(params, w)
        az = vload(params, w + LANES)
        an = vload(params, w + 2 * LANES)
        w += 3 * LANES
        for k in range(n_in):
            xk = vbroadcast(work, src + k)
            ar = fma(vload(params, w), xk, ar)
            az = fma(vload(params, w + LANES), xk, az)
            an = fma(vload(params, w + 2 * LANES), xk, an)
            w += 3 * LANES
        for k in range(hidden):
            hk = vbroadcast(work, shat + k)
            ar = fma(vload(params, w), hk, ar)
            az = fma(vload(params, w + LANES), hk, az)
            w += 2 * LANES
        u = b * LANES
        vstore(work, scratch + u, vmul(sigmoid16_of_double(ar), vload(work, shat + u)))  # halved weights
        vstore(work, scratch + padded + u, sigmoid16_of_double(az))
        vstore(work, scratch + 2 * padded + u, an)
    state = meta[l, M_STATE]
    now = base + p * meta[0, H_STATE] + state
    for b in range(blocks):
        w = meta[l, M_WEIGHTS] + b * stride + 3 * LANES + n_in * 3 * LANES + hidden * 2 * LANES
        u = b * LANES
        an = vload(work, scratch + 2 * padded + u)
        for k in range(hidden):
            an = fma(vload(params, w), vbroadcast(work, scratch + k), an)
            w += LANES
        n = tanh16(an)
        z = vload(work, scratch + padded + u)
        h = fma(z, vsub(vload(work, shat + u), n), n)
        vstore(work, dst + u, h)
        vstore(hist, now + u, h)
        vstore(work, shat_next + u, read_next(meta, params, hist, base, p, state + u, h, work, shat + u))


@njit(**INLINE)
def dense_step(meta, l, params, work, src, dst):
    """y = activation(W x + b) for a dense layer, into work[dst:].

    Weights: the bias (padded to whole vectors), then W row by row, each row padded with zeros to
    M_BLOCKS vectors; y_j = b_j + Σ over the row's vectors of W_j·x, summed lane-wise then across
    lanes. Inputs past the layer's width are the zero padding every layer writes after its output.
    """
    n_out = meta[l, M_OUT]
    vectors = meta[l, M_BLOCKS]
    bias = meta[l, M_WEIGHTS]
    weights = bias + (n_out + LANES - 1) // LANES * LANES
    vstore(work, dst + n_out // LANES * LANES, splat(ZERO))  # the padding after the last output
    for j in range(n_out):
        w = weights + j * vectors * LANES
        acc = vmul(vload(params, w), vload(work, src))
        for v in range(1, vectors):
            acc = fma(vload(params, w + v * LANES), vload(work, src + v * LANES), acc)
        work[dst + j] = params[bias + j] + vsum(acc)
    if meta[l, M_ACT] != ACT_LINEAR:
        activate(meta[l, M_ACT], work, dst, n_out)


@njit(**INLINE)
def activate(code, work, at, size):
    """work[at : at + size] = activation(work[at : at + size]) in place; the padding after it is left
    alone (zero). Exact libm math: these layers are small. ELU uses α = 1 (Keras' default)."""
    if code == ACT_TANH:
        for j in range(size):
            work[at + j] = np.tanh(work[at + j])
    elif code == ACT_RELU:
        for j in range(size):
            work[at + j] = max(work[at + j], ZERO)
    elif code == ACT_SIGMOID:
        for j in range(size):
            work[at + j] = sigmoid(work[at + j])
    elif code == ACT_ELU:
        for j in range(size):
            v = work[at + j]
            work[at + j] = v if v > ZERO else np.expm1(v)
    elif code == ACT_SOFTMAX:  # exp(x − max) / Σ exp(x − max)
        top = work[at]
        for j in range(1, size):
            top = max(top, work[at + j])
        total = ZERO
        for j in range(size):
            e = np.exp(work[at + j] - top)
            work[at + j] = e
            total += e
        for j in range(size):
            work[at + j] /= total
