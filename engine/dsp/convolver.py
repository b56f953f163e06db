"""Zero-latency partitioned FFT convolution in nopython code: the cabinet's kernel.

The scheme (Gardner, "Efficient convolution without input-output delay", JAES 43(3), 1995;
Wefers, "Partitioned convolution algorithms for real-time auralization", PhD thesis, RWTH
Aachen 2015, ch. 5-6: non-uniformly partitioned overlap-save with frequency-domain delay lines)
splits the impulse response h of length L into

* a **head** h[0:P1], run as a direct-form FIR, sample by sample: y[n] = Σ_{t<P1} h[t]·x[n-t];
* **levels** ℓ = 1 … m of uniformly partitioned overlap-save convolution (UPOLS) with partition
  size P_ℓ (powers of two, P_1 = P1, each a multiple of the one before). Level ℓ covers the taps
  [P_ℓ, P_ℓ+1) in K_ℓ = P_ℓ+1/P_ℓ - 1 partitions (the last level covers [P_m, L)). Every P_ℓ
  samples it transforms its last 2·P_ℓ inputs, X_b = FFT([x_b-1, x_b]), keeps X_b in a ring of K_ℓ
  spectra (the frequency-domain delay line), and forms Y = Σ_k H_k·X_b-k with H_k = FFT([g_k, 0]),
  g_k = h[P_ℓ + k·P_ℓ : P_ℓ + (k+1)·P_ℓ]; the last P_ℓ samples of IFFT(Y) are z[bP_ℓ + i] =
  Σ_{u ≥ 0} h[P_ℓ + u]·x[bP_ℓ + i - u], which is exactly this level's share of the *next* P_ℓ
  outputs: y_ℓ[(b+1)·P_ℓ + i] = Σ_{t ≥ P_ℓ} h[t]·x[(b+1)·P_ℓ + i - t]. So every tap is covered
  once, and nothing waits: output sample n depends on input sample n through the head.

Why this shape. The host's block size plays no part: the state advances sample by sample (a
call's samples are cut at the P1 boundaries), so the output is the same, bit for bit, for any
sequence of block sizes, including 1, and a block longer than anything prepared for is simply
more chunks. Uniformly partitioned overlap-save with the partition equal to the block (the other
classic zero-latency answer) needs one fixed block size and an FFT per block, which at blocks of
1 or 32 costs far more than a direct head (and cannot follow a host whose block size varies).
Costs per sample: the head P1 multiply-adds (16-lane vectors); each level one forward and one
inverse real FFT of 2·P_ℓ points per P_ℓ samples (about 10 + 0.6·log2 P_ℓ ns per sample here,
nearly flat in P_ℓ) and K_ℓ complex multiply-adds (~0.3 ns each). So a short IR (a cabinet:
4,096-8,192 taps) is cheapest with one level after a head of 128-256, and a long one (a 10 s
hall: 480,000 taps) with a second level of 4,096 (Gardner's growing partitions: 31×128 then
117×4096 cost ~17× less than 3,749×128). :func:`plan_partitions` picks the cheapest plan by a cost
model with those unit costs (:data:`UNIT_COSTS_NS`, measured by ``benchmarks/cabinet_cost.py
--fit``; benchmarks/reports/cabinet_cost.md has the measured figures), under a cap on the largest
partition (:data:`MAX_PARTITION`): one level step does all its work in the call that crosses its
boundary, so the cap bounds the worst call.

Arrays (all made by :func:`build`; the kernel only reads and writes them):

* ``layout`` int64: a header (``L_*``), one row of ``LEVEL_FIELDS`` per level (``F_*``), then
  each level's bit-reversal swaps. Offsets of every region below; the sample counter, the ramp
  counter and each level's ring position are the only entries the kernel writes.
* ``coeffs`` float32, constant: the head taps reversed, then per level its FFT twiddles and its
  partition spectra (split: P+1 real parts, then P+1 imaginary parts, per partition).
* ``state`` float32, cleared by reset: the head's input (2·P1: the previous and the current
  partition; level 1 reads it too), the wet scratch (P1), per level its input (2·P_ℓ, from level 2
  on), its spectrum ring (the FFT runs in place in the slot it fills), its accumulator Y and its
  output for the current period (P_ℓ).
* ``params`` float32: the dry and wet gains, target and current (``P_*``). A new target is
  reached by a linear ramp over ``layout[L_RAMP_LENGTH]`` samples, also independent of the blocks.

Output: y[n] = dry[n]·x[n] + wet[n]·(h * x)[n].
"""

import math
from collections import namedtuple

import numpy as np
from numba import njit

from ..kernels.layout import LANES
from ..kernels.options import JIT
from ..kernels.simd import fma, splat, vadd, vload, vsum
from ..packing import aligned_zeros
from .fft import fft_tables, irfft_split, rfft_split

#: The largest finite float32: an input sample beyond it (or NaN) is processed as 0.
FLOAT32_MAX = np.float32(np.finfo(np.float32).max)
#: Floats per 64-byte line: every region starts on one, so vector loads never straddle two.
ALIGN = 16

# -- layout: the header ------------------------------------------------------------------------
L_HEAD = 0          # P1: taps of the direct head, the finest period (a power of two)
L_LEVELS = 1        # the number of FFT levels (0 when L ≤ P1)
L_PERIOD = 2        # the largest period (P_m, or P1): the counter runs modulo it
L_COUNT = 3         # samples processed, modulo L_PERIOD (written by the kernel)
L_RAMP_LEFT = 4     # samples left in the dry/wet ramp (written by the kernel and by set_gains)
L_RAMP_LENGTH = 5   # samples a dry/wet change ramps over
L_HEAD_TAPS = 6     # coeffs offset of h[P1-1], …, h[0]
L_HEAD_INPUT = 7    # state offset of the head's input, 2·P1 samples
L_WET = 8           # state offset of the wet scratch, P1 samples
L_IR_LENGTH = 9     # L
L_LEVEL0 = 16       # the first level's row
#: The most FFT levels a plan may have.
MAX_LEVELS = 6
# -- layout: one row per level -----------------------------------------------------------------
F_SIZE = 0          # P: partition size; FFT length 2P
F_PARTS = 1         # K: partitions (and spectra in the ring)
F_TWIDDLES = 2      # coeffs offset of fft_tables(2P)[0]
F_TWIDDLES_LEN = 3
F_SWAPS = 4         # layout offset of fft_tables(2P)[1]
F_SWAPS_LEN = 5
F_SPECTRA = 6       # coeffs offset of H_0 … H_K-1, 2·(P+1) floats each
F_INPUT = 7         # state offset of the level's last 2P inputs (the head's own for level 1)
F_RING = 8          # state offset of the K input spectra, 2·(P+1) floats each
F_RING_POS = 9      # the ring slot the next spectrum goes to (written by the kernel)
F_WORK = 10         # state offset of the accumulator Y (split: P+1 real parts, then P+1 imaginary parts)
F_OUTPUT = 11       # state offset of the level's share of the current period's output (P)
LEVEL_FIELDS = 12
LAYOUT_HEADER = L_LEVEL0 + MAX_LEVELS * LEVEL_FIELDS
# -- params ------------------------------------------------------------------------------------
P_DRY_TARGET = 0
P_WET_TARGET = 1
P_DRY = 2
P_WET = 3
PARAMS_SIZE = 4

#: Unit costs in ns measured on the development machine (2-core AVX-512 Xeon at 2.6 GHz, shared)
#: by ``python benchmarks/cabinet_cost.py --fit``: per sample (``sample``), per head tap and
#: sample (``head_tap``), per chunk of a call (``chunk``), per FFT level and sample (``level``
#: plus ``level_log``·log2 P: a forward and an inverse FFT of 2P points every P samples) and per
#: complex multiply-add of a delay line (``cmac``). Only their ratios matter: they choose the plan,
#: never the result.
UNIT_COSTS_NS = dict(sample=2.4, head_tap=0.037, chunk=31.0, level=9.8, level_log=0.62, cmac=0.32)
#: Head sizes (P1) the planner considers.
HEAD_SIZES = (16, 32, 64, 128, 256, 512)
#: Ratios P_ℓ+1 / P_ℓ the planner considers.
GROWTHS = (4, 8, 16, 32)
#: The largest partition a plan may use. One step of a level of P costs two FFTs of 2P points and
#: K·(P+1) multiply-adds in a single call: at 4096, for a 10 s IR at 48 kHz, a few hundred µs
#: once every 4096 samples (benchmarks/reports/cabinet_cost.md, "One call").
MAX_PARTITION = 4096

Plan = namedtuple("Plan", "head levels")
Plan.__doc__ = """A partitioning: ``head`` = P1, ``levels`` = ((P_1, K_1), …, (P_m, K_m))."""

ConvolverArrays = namedtuple("ConvolverArrays", "layout coeffs state params")
ConvolverArrays.__doc__ = """The four arrays of :func:`convolve_block`, made by :func:`build`."""


def _next_power_of_two(n):
    return 1 << max(int(n) - 1, 0).bit_length()


def plan_cost(ir_length, plan, costs=None):
    """The modelled cost (ns per sample) of running an IR of ``ir_length`` taps with ``plan``.

    cost = sample + P1·head_tap + chunk/P1 + Σ_ℓ [level + level_log·log2 P_ℓ + K_ℓ·(P_ℓ+1)/P_ℓ·cmac]
    (unit costs :data:`UNIT_COSTS_NS`; chunk/P1 holds for blocks of P1 samples or more).

    Parameters
    ----------
    ir_length : int
        Unused by the model (the plan fixes the work); kept so a model may weigh it.
    plan : Plan
    costs : dict, optional
        Unit costs (default :data:`UNIT_COSTS_NS`).

    Returns
    -------
    float
    """
    c = UNIT_COSTS_NS if costs is None else costs
    total = c["sample"] + plan.head * c["head_tap"] + c["chunk"] / plan.head
    for size, parts in plan.levels:
        total += c["level"] + c["level_log"] * math.log2(size) + parts * (size + 1) / size * c["cmac"]
    return total


def levels_for(ir_length, head, growth, max_partition=MAX_PARTITION):
    """The levels of a plan with head ``head`` whose partitions grow by ``growth`` up to ``max_partition``.

    Parameters
    ----------
    ir_length, head, growth, max_partition : int
        growth = 0 keeps one level of partition ``head`` (uniform partitioning after the head).

    Returns
    -------
    tuple of (int, int)
        ((P_1, K_1), …): empty when the head holds the whole IR.
    """
    if ir_length <= head:
        return ()
    sizes = [head]
    while growth and sizes[-1] * growth <= max_partition and ir_length > sizes[-1] * growth:
        sizes.append(sizes[-1] * growth)
    levels = []
    for i, size in enumerate(sizes):
        end = sizes[i + 1] if i + 1 < len(sizes) else ir_length
        levels.append((size, -(-(end - size) // size)))
    return tuple(levels)


def plan_partitions(ir_length, head=None, growth=None, max_partition=MAX_PARTITION, costs=None):
    """The cheapest partitioning of an IR of ``ir_length`` taps under the cost model :func:`plan_cost`.

    Parameters
    ----------
    ir_length : int
        At least 1.
    head : int, optional
        Force P1 (a power of two, at least 16: the head runs on whole 16-lane vectors); by
        default every size in :data:`HEAD_SIZES` up to the IR's length rounded up to a power of
        two is tried.
    growth : int, optional
        Force the ratio between levels (0: a single level, uniform partitions after the head);
        by default every ratio in :data:`GROWTHS` and 0 are tried.
    max_partition : int
        The largest partition allowed (a power of two, at least ``head``).
    costs : dict, optional
        Unit costs (default :data:`UNIT_COSTS_NS`).

    Returns
    -------
    Plan
    """
    ir_length = int(ir_length)
    whole = _next_power_of_two(ir_length)
    heads = [head] if head is not None else sorted({max(min(h, whole), HEAD_SIZES[0]) for h in HEAD_SIZES})
    growths = [growth] if growth is not None else (0,) + GROWTHS
    best = None
    for h in heads:
        for g in growths:
            plan = Plan(int(h), levels_for(ir_length, int(h), int(g), max(int(max_partition), int(h))))
            if len(plan.levels) > MAX_LEVELS:
                continue
            cost = plan_cost(ir_length, plan, costs)
            if best is None or cost < best[0]:
                best = (cost, plan)
    return best[1]


def _check_plan(plan, length):
    """ValueError unless ``plan`` covers every tap of an IR of ``length`` once (a programming error)."""
    head, levels = plan.head, plan.levels
    sizes = [size for size, _ in levels]
    problem = None
    if head < LANES or head & (head - 1):
        problem = f"the head is not a power of two of at least {LANES} taps (whole vectors)"
    elif len(levels) > MAX_LEVELS:
        problem = f"more than {MAX_LEVELS} levels"
    elif not levels:
        problem = None if length <= head else "the head is shorter than the IR and there are no levels"
    elif sizes[0] != head or any(b % a or b < 2 * a for a, b in zip(sizes, sizes[1:])):
        problem = "the partitions do not start at the head's size and double at least from level to level"
    elif any(size * (1 + parts) != following for (size, parts), following in zip(levels, sizes[1:])):
        problem = "a level does not end where the next begins"
    elif sizes[-1] * (1 + levels[-1][1]) < length or levels[-1][1] < 1:
        problem = "the last level ends before the IR does"
    if problem:
        raise ValueError(f"plan {plan} cannot run an IR of {length} taps: {problem}")


def _aligned(size):
    return -(-int(size) // ALIGN) * ALIGN


def build(ir, plan=None, ramp_samples=1):
    """The kernel's arrays for the impulse response ``ir`` (after :func:`reset`-like clearing).

    Parameters
    ----------
    ir : numpy.ndarray
        1-D, finite, at least one tap (the caller validates: engine.dsp.impulse does).
    plan : Plan, optional
        Default :func:`plan_partitions` (len(ir)).
    ramp_samples : int
        Samples a dry/wet change ramps over (at least 1).

    Returns
    -------
    ConvolverArrays
        Dry 0 and wet 1, reached without a ramp.

    Raises
    ------
    ValueError
        If ``plan`` does not cover the IR exactly (a programming error: plans come from plan_partitions).
    """
    h = np.asarray(ir, np.float64).reshape(-1)
    length = len(h)
    plan = plan_partitions(length) if plan is None else plan
    head = plan.head
    levels = plan.levels
    if len(levels) > MAX_LEVELS:
        raise ValueError(f"a plan has at most {MAX_LEVELS} levels, got {len(levels)}")
    _check_plan(plan, length)

    tables = [fft_tables(2 * size) for size, _ in levels]
    # coeffs: head taps, then per level twiddles and spectra.
    coeff_size = _aligned(head)
    layout_size = LAYOUT_HEADER
    rows = []
    for (size, parts), (twiddles, swaps) in zip(levels, tables):
        bins = size + 1
        row = {"twiddles": coeff_size}
        coeff_size += _aligned(len(twiddles))
        row["spectra"] = coeff_size
        coeff_size += 2 * _aligned(bins) * parts
        row["swaps"] = layout_size
        layout_size += len(swaps)
        rows.append(row)
    layout = np.zeros(layout_size, np.int64)
    coeffs = aligned_zeros(coeff_size)
    # state: head input, wet scratch, then per level.
    offset = 0
    layout[L_HEAD_INPUT] = offset
    offset += _aligned(2 * head)
    layout[L_WET] = offset
    offset += _aligned(head)
    for index, ((size, parts), row) in enumerate(zip(levels, rows)):
        bins = size + 1
        if index == 0:
            row["input"] = layout[L_HEAD_INPUT]
        else:
            row["input"] = offset
            offset += _aligned(2 * size)
        row["ring"] = offset
        offset += 2 * _aligned(bins) * parts
        row["work"] = offset
        offset += 2 * _aligned(bins)
        row["output"] = offset
        offset += _aligned(size)
    state = aligned_zeros(max(offset, 1))

    layout[L_HEAD] = head
    layout[L_LEVELS] = len(levels)
    layout[L_PERIOD] = levels[-1][0] if levels else head
    layout[L_RAMP_LENGTH] = max(int(ramp_samples), 1)
    layout[L_HEAD_TAPS] = 0
    layout[L_IR_LENGTH] = length
    taps = np.zeros(head)
    taps[:min(head, length)] = h[:head]
    coeffs[0:head] = taps[::-1]
    for index, ((size, parts), row, (twiddles, swaps)) in enumerate(zip(levels, rows, tables)):
        base = L_LEVEL0 + index * LEVEL_FIELDS
        bins = size + 1
        stride = 2 * _aligned(bins)
        layout[base + F_SIZE] = size
        layout[base + F_PARTS] = parts
        layout[base + F_TWIDDLES] = row["twiddles"]
        layout[base + F_TWIDDLES_LEN] = len(twiddles)
        layout[base + F_SWAPS] = row["swaps"]
        layout[base + F_SWAPS_LEN] = len(swaps)
        layout[base + F_SPECTRA] = row["spectra"]
        layout[base + F_INPUT] = row["input"]
        layout[base + F_RING] = row["ring"]
        layout[base + F_WORK] = row["work"]
        layout[base + F_OUTPUT] = row["output"]
        coeffs[row["twiddles"]:row["twiddles"] + len(twiddles)] = twiddles
        layout[row["swaps"]:row["swaps"] + len(swaps)] = swaps
        for k in range(parts):
            start = size + k * size
            segment = np.zeros(2 * size)
            piece = h[start:start + size]
            segment[:len(piece)] = piece
            spectrum = np.fft.rfft(segment)  # float64, rounded once
            at = row["spectra"] + k * stride
            coeffs[at:at + bins] = spectrum.real
            coeffs[at + _aligned(bins):at + _aligned(bins) + bins] = spectrum.imag
    params = np.zeros(PARAMS_SIZE, np.float32)
    params[P_DRY_TARGET] = params[P_DRY] = 0.0
    params[P_WET_TARGET] = params[P_WET] = 1.0
    return ConvolverArrays(layout, coeffs, state, params)


# -- the kernels ---------------------------------------------------------------------------------

@njit(**JIT)
def _dot(a, b):
    """Σ a[i]·b[i] for a length that is a multiple of 16, on two 16-lane accumulators (a fixed order)."""
    n = len(a)
    low = splat(0.0)
    high = splat(0.0)
    k = 0
    while k + 2 * LANES <= n:
        low = fma(vload(a, k), vload(b, k), low)
        high = fma(vload(a, k + LANES), vload(b, k + LANES), high)
        k += 2 * LANES
    if k < n:
        low = fma(vload(a, k), vload(b, k), low)
    return vsum(vadd(low, high))


@njit(**dict(JIT, fastmath={"contract"}))
def _multiply_add(acc_re, acc_im, h_re, h_im, x_re, x_im):
    """acc += H·X over the bins, in split complex form (one partition of the delay line)."""
    for j in range(len(acc_re)):
        acc_re[j] += h_re[j] * x_re[j] - h_im[j] * x_im[j]
        acc_im[j] += h_re[j] * x_im[j] + h_im[j] * x_re[j]


@njit(**JIT)
def _level_step(layout, coeffs, state, row):
    """One UPOLS step of the level at layout[row:]: its share of the next P outputs (module docstring)."""
    size = layout[row + F_SIZE]
    parts = layout[row + F_PARTS]
    bins = size + 1
    half = (bins + 15) // 16 * 16  # the imaginary parts start on the next 64-byte line
    stride = 2 * half
    at = layout[row + F_TWIDDLES]
    twiddles = coeffs[at:at + layout[row + F_TWIDDLES_LEN]]
    at = layout[row + F_SWAPS]
    swaps = layout[at:at + layout[row + F_SWAPS_LEN]]
    source = layout[row + F_INPUT]
    slot = layout[row + F_RING_POS]
    ring = layout[row + F_RING]
    at = ring + slot * stride
    x_re = state[at:at + bins]
    x_im = state[at + half:at + half + bins]
    for m in range(size):  # X_b = FFT([x_b-1, x_b]), straight into the ring
        x_re[m] = state[source + 2 * m]
        x_im[m] = state[source + 2 * m + 1]
    rfft_split(x_re, x_im, twiddles, swaps)
    at = layout[row + F_WORK]
    acc_re = state[at:at + bins]
    acc_im = state[at + half:at + half + bins]
    for j in range(bins):
        acc_re[j] = 0.0
        acc_im[j] = 0.0
    spectra = layout[row + F_SPECTRA]
    for k in range(parts):  # Y = Σ_k H_k · X_b-k
        s = slot - k
        if s < 0:
            s += parts
        h_at = spectra + k * stride
        x_at = ring + s * stride
        _multiply_add(acc_re, acc_im, coeffs[h_at:h_at + bins], coeffs[h_at + half:h_at + half + bins],
                      state[x_at:x_at + bins], state[x_at + half:x_at + half + bins])
    irfft_split(acc_re, acc_im, twiddles, swaps)
    out = layout[row + F_OUTPUT]
    quarter = size // 2
    for j in range(quarter):  # the last P samples of the circular convolution are the linear ones
        state[out + 2 * j] = acc_re[quarter + j]
        state[out + 2 * j + 1] = acc_im[quarter + j]
    slot += 1
    if slot == parts:
        slot = 0
    layout[row + F_RING_POS] = slot


@njit(**JIT)
def convolve_block(x, y, layout, coeffs, state, params):
    """y = dry·x + wet·(h * x) for the next len(x) samples; zero latency, any len(x).

    Parameters
    ----------
    x : float32[::1]
        Input samples (any length, 0 included); a NaN or infinite one is processed as 0.
    y : float32[::1]
        Output, len(x) samples; may be ``x`` itself (each input sample is read before its
        output is written), but must not overlap it otherwise.
    layout, coeffs, state, params : arrays
        From :func:`build` (engine.dsp.cabinet.Cabinet holds them).
    """
    n = len(x)
    p1 = layout[L_HEAD]
    levels = layout[L_LEVELS]
    period = layout[L_PERIOD]
    head_in = layout[L_HEAD_INPUT]
    wet_at = layout[L_WET]
    taps = coeffs[layout[L_HEAD_TAPS]:layout[L_HEAD_TAPS] + p1]
    done = 0
    while done < n:
        count = layout[L_COUNT]
        phase = count & (p1 - 1)
        chunk = min(p1 - phase, n - done)
        # 1. this chunk's input into the head's buffer (a NaN or infinity as 0: it would stay in
        #    the spectra for the IR's whole length) and into each coarser level's
        dry_in = state[head_in + p1 + phase:head_in + p1 + phase + chunk]
        for i in range(chunk):
            value = x[done + i]
            dry_in[i] = value if abs(value) <= FLOAT32_MAX else np.float32(0.0)
        for level in range(1, levels):
            row = L_LEVEL0 + level * LEVEL_FIELDS
            size = layout[row + F_SIZE]
            at = layout[row + F_INPUT] + size + (count & (size - 1))
            for i in range(chunk):
                state[at + i] = dry_in[i]
        # 2. the head: y[n] = Σ_t<P1 h[t]·x[n-t], taps stored reversed
        wet = state[wet_at:wet_at + chunk]
        for i in range(chunk):
            start = head_in + phase + i + 1
            wet[i] = _dot(taps, state[start:start + p1])
        # 3. each level's share, computed at its last boundary
        for level in range(levels):
            row = L_LEVEL0 + level * LEVEL_FIELDS
            size = layout[row + F_SIZE]
            at = layout[row + F_OUTPUT] + (count & (size - 1))
            for i in range(chunk):
                wet[i] += state[at + i]
        # 4. dry/wet, ramped linearly to their targets
        ramp = layout[L_RAMP_LEFT]
        dry = params[P_DRY]
        gain = params[P_WET]
        if ramp == 0:
            for i in range(chunk):
                y[done + i] = dry * dry_in[i] + gain * wet[i]
        else:
            dry_target = params[P_DRY_TARGET]
            wet_target = params[P_WET_TARGET]
            for i in range(chunk):
                if ramp > 1:
                    dry += (dry_target - dry) / np.float32(ramp)
                    gain += (wet_target - gain) / np.float32(ramp)
                    ramp -= 1
                elif ramp == 1:
                    dry = dry_target
                    gain = wet_target
                    ramp = 0
                y[done + i] = dry * dry_in[i] + gain * wet[i]
            params[P_DRY] = dry
            params[P_WET] = gain
            layout[L_RAMP_LEFT] = ramp
        # 5. advance; every level whose period ends here computes its share of the next one
        count = (count + chunk) & (period - 1)
        layout[L_COUNT] = count
        for level in range(levels):
            row = L_LEVEL0 + level * LEVEL_FIELDS
            size = layout[row + F_SIZE]
            if count & (size - 1) == 0:
                _level_step(layout, coeffs, state, row)
                if level > 0:
                    source = layout[row + F_INPUT]
                    for i in range(size):
                        state[source + i] = state[source + size + i]
        if count & (p1 - 1) == 0:
            for i in range(p1):
                state[head_in + i] = state[head_in + p1 + i]
        done += chunk


@njit(**JIT)
def reset_state(layout, state, params):
    """Silence: clear every input, ring, work area and output; dry/wet jump to their targets.

    Parameters
    ----------
    layout, state, params : arrays
        From :func:`build`.
    """
    for i in range(len(state)):
        state[i] = 0.0
    layout[L_COUNT] = 0
    layout[L_RAMP_LEFT] = 0
    for level in range(layout[L_LEVELS]):
        layout[L_LEVEL0 + level * LEVEL_FIELDS + F_RING_POS] = 0
    params[P_DRY] = params[P_DRY_TARGET]
    params[P_WET] = params[P_WET_TARGET]


@njit(**JIT)
def set_gains(layout, params, dry, wet):
    """Make ``dry`` and ``wet`` the new targets, reached by a linear ramp starting at the next sample.

    Real-time safe (the live callback can call it between blocks). A change during a ramp
    ramps afresh from wherever the gains are.

    Parameters
    ----------
    layout, params : arrays
        From :func:`build`.
    dry, wet : float
        Linear gains of the input and of the convolution.
    """
    params[P_DRY_TARGET] = dry
    params[P_WET_TARGET] = wet
    layout[L_RAMP_LEFT] = layout[L_RAMP_LENGTH]
