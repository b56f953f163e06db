"""The only nopython code: per-sample LSTM/GRU networks run over a whole block per call.

The kernels trust their inputs (the Processor validates and allocates everything) and never
allocate, raise or touch Python objects. A network is a table of layers (``meta``: a header row of
run settings, then one row per layer, columns M_*) over one flat, 64-byte aligned float32 array
(``params``: a header of gains, taps and control values, then the weights).

Speed comes from these choices, each measured (engine-bench; LSTM-40 at 48 kHz went from ~7600
to ~220 ns per sample on a 2-core AVX-512 Xeon):

1. Explicit 16-lane vectors. Each recurrent layer is cut into blocks of 16 hidden units; a block's
   gates (LSTM: i, f, g, o) live in vector registers while the whole matrix-vector product for the
   block runs, one fused multiply-add per gate and input, over weights stored in exactly the order
   they are read (no gathers, no stores of partial sums), split over even and odd inputs so eight
   sums are in flight. When an LSTM's last block would hold 8 units or fewer (LSTM-20, -40), two
   gates share each of its vectors (lstm_half_block). LLVM's vectorisers cannot do this from plain
   loops: they keep partial sums in memory and, on AVX-512 machines, stop at 256 bits. A 16-lane
   vector is one zmm register with AVX-512; LLVM splits it on other machines.
2. A rational tanh (the one Eigen uses, so RTNeural's): odd degree-13 over even degree-6
   polynomial, clamped to ±7.9988; σ(x) = ½ + ½·tanh(x/2), with the σ gates' weights stored
   halved. It vectorises, where numba's scalar libm calls do not. Over every float32 it is within
   3.6e-7 of tanh (σ: 2.1e-7); the bound is tested (tests/test_fast_math.py), and whole models
   stay within 1e-5 of float64 arithmetic over ten seconds of audio (tests/test_accuracy.py).
3. No runtime: the kernels are compiled without numba's reference-counting runtime (``_nrt=False``),
   so they cannot allocate (numba refuses to compile an allocation) and pay no atomic reference
   count each time an array is passed on, and the layer functions are inlined into the block
   loop. ``error_model="numpy"``: numba would otherwise test every division for zero.
4. 64-byte aligned weights, state and work area: a 64-byte load that straddles two cache lines
   costs twice as much.
5. One signature: process_block is compiled (or loaded) at import for the one set of argument
   types the Processor passes, and never again, so the Processor can leave type checks to numba's
   dispatcher and a call costs well under a microsecond.

Rate correction (SRC.md): each recurrent layer's fresh state s_n = [h_n; c_n] (LSTM) or h_n
(GRU) is written to slot ``pos`` of a circular history; the state fed back into the cell is the
fractional read ŝ_n = Σ_m taps[m] · s_{n − e − m} + feedback · ŝ_{n−1} with e = the tap offset
(naive: e = 1, taps [1]; linear: e = ⌊R⌋, taps [1 − α, α]; the allpass alone has feedback; see
delay.py). The layer outputs h_n itself, so the correction adds no latency. A read costs
len(taps) vector passes over the state whatever R is.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.datamodel import models as datamodels
from numba.extending import intrinsic, register_model

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

LANES = 16  # floats per vector; every offset into params, the history and the work area is a multiple

# Columns of a layer row of ``meta`` (rows HEADER_ROWS…).
M_KIND = 0
M_IN = 1           # inputs (real, unpadded)
M_OUT = 2          # outputs: hidden units of a recurrent layer, units of a dense layer
M_ACT = 3          # activation code (dense and activation layers)
M_WEIGHTS = 4      # offset of the layer's weights in params
M_STATE = 5        # offset of the layer's state in one history slot (recurrent layers)
M_RESET_AFTER = 6  # GRU: 1 = reset gate after the recurrent kernel (PyTorch), 0 = before (Keras)
M_BLOCKS = 7       # recurrent: full blocks of LANES hidden units; dense: vectors per input row
M_HALF = 8         # LSTM: 1 if a half block (≤ LANES/2 more units, two gates per vector) ends it
META_COLUMNS = 13  # (the header row uses them all)

# The header row of ``meta``: the processor's run settings (written by the Processor).
HEADER_ROWS = 1
H_TAP_OFFSET = 0   # e: ŝ_n reads s_{n−e}, s_{n−e−1}, …
H_TAPS = 1         # number of taps
H_SKIP = 2         # 1 adds the (gained) input audio to the output
H_CONTROLS = 3     # control inputs after the audio
H_RAMP_DONE = 4    # controls ramp over this process() call: samples already done …
H_RAMP_LENGTH = 5  # … of this many (1 when the controls hold)
H_SLOTS = 6        # history slots (a power of two)
H_STATE = 7        # floats per history slot (all layers, padded)
H_WORK = 8         # floats of work area per channel
H_WIDTH = 9        # floats per activation vector in the work area
H_ACT = 10         # offset of the two activation vectors in a channel's work area (after the input)
H_SHAT = 11        # offset of ŝ in a channel's work area
H_SCRATCH = 12     # offset of the GRU (reset before) scratch in a channel's work area

# The header of ``params`` (floats), before the weights.
P_INPUT_GAIN = 0
P_OUTPUT_GAIN = 1
P_FEEDBACK = 2              # the recursive term of the state read (allpass); 0 for FIR reads
P_TAPS = LANES              # up to LANES taps
P_CONTROLS = 2 * LANES      # ctrl_from[n], then ctrl_to[n] at P_CONTROLS + n
MAX_TAPS = LANES

ONE = np.float32(1.0)
ZERO = np.float32(0.0)
HALF = np.float32(0.5)

JIT = dict(cache=True, nogil=True, error_model="numpy", _nrt=False)
INLINE = dict(JIT, inline="always")


# -- 16-lane float32 vectors ---------------------------------------------------------------------
#
# A numba type whose values are LLVM <16 x float> vectors, and the handful of operations the
# kernels need, each one LLVM instruction (or a short fixed sequence). Loads and stores take a
# C-contiguous float32 array and a flat element index; like every kernel here they trust it.

class Vector(types.Type):
    """16 float32 lanes in one register."""

    def __init__(self):
        super().__init__(name="float32x16")


vector = Vector()
_VECTOR = ir.VectorType(ir.FloatType(), LANES)
_INT32 = ir.IntType(32)


@register_model(Vector)
class _VectorModel(datamodels.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _is_float32_c_array(t):
    return isinstance(t, types.Array) and t.dtype == types.float32 and t.layout == "C"


def _splat_ir(builder, scalar):
    """LLVM IR for the vector whose 16 lanes are the float ``scalar`` (insert, then broadcast)."""
    one = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), scalar, ir.Constant(_INT32, 0))
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(_INT32, LANES), [0] * LANES))


def _vector_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), _VECTOR.as_pointer())


@intrinsic
def vload(typingctx, array, index):
    """The vector array.flat[index : index + 16]."""
    if not (_is_float32_c_array(array) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_vector_pointer(context, builder, signature.args[0], args[0], args[1]), align=4)
    return vector(array, index), codegen


@intrinsic
def vstore(typingctx, array, index, value):
    """array.flat[index : index + 16] = value."""
    if not (_is_float32_c_array(array) and isinstance(index, types.Integer) and value == vector):
        return None

    def codegen(context, builder, signature, args):
        builder.store(args[2], _vector_pointer(context, builder, signature.args[0], args[0], args[1]), align=4)
    return types.void(array, index, value), codegen


@intrinsic
def vbroadcast(typingctx, array, index):
    """The vector with every lane equal to array.flat[index] (one load; no negative-index wrap)."""
    if not (_is_float32_c_array(array) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return _splat_ir(builder, builder.load(builder.gep(data, [args[1]]), align=4))
    return vector(array, index), codegen


@intrinsic
def splat(typingctx, value):
    """The vector with every lane equal to ``value`` (converted to float32)."""
    if not isinstance(value, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return _splat_ir(builder, context.cast(builder, args[0], signature.args[0], types.float32))
    return vector(value), codegen


def _elementwise(instruction, doc):
    def typer(typingctx, a, b):
        if a != vector or b != vector:
            return None

        def codegen(context, builder, signature, args):
            return getattr(builder, instruction)(args[0], args[1])
        return vector(a, b), codegen
    typer.__doc__ = doc
    typer.__name__ = typer.__qualname__ = "v" + instruction[1:]
    return intrinsic(typer)


vadd = _elementwise("fadd", "a + b, lane by lane.")
vsub = _elementwise("fsub", "a − b, lane by lane.")
vmul = _elementwise("fmul", "a · b, lane by lane.")


@intrinsic
def fma(typingctx, a, b, c):
    """a · b + c, lane by lane, rounded once (llvm.fma)."""
    if a != vector or b != vector or c != vector:
        return None

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3),
                                            "llvm.fma.v16f32")
        return builder.call(fn, args)
    return vector(a, b, c), codegen


@intrinsic
def clamp(typingctx, a, bound):
    """a clamped to [−bound, bound], lane by lane (bound > 0); NaN stays NaN."""
    if a != vector or not isinstance(bound, types.Float):
        return None

    def codegen(context, builder, signature, args):
        hi = _splat_ir(builder, context.cast(builder, args[1], signature.args[1], types.float32))
        lo = builder.fneg(hi)
        # Comparisons with NaN are false, so NaN passes through (and the live chain sees it).
        x = builder.select(builder.fcmp_ordered("<", args[0], lo), lo, args[0])
        return builder.select(builder.fcmp_ordered(">", x, hi), hi, x)
    return vector(a, bound), codegen


def _has_avx512(context):
    # The features numba's target machine was created with (the host's, or NUMBA_CPU_FEATURES).
    features = getattr(context.codegen(), "_tm_features", "") or ""
    return "+avx512f" in features.split(",")


@intrinsic
def reciprocal(typingctx, a):
    """1 / a, lane by lane, to within 2 ulp.

    With AVX-512: the hardware estimate (rcp14, relative error < 2⁻¹⁴) refined by one Newton
    step r ← r·(2 − a·r), which squares the error to below float32's rounding: three cheap
    instructions instead of a division that blocks the divider for ~10 cycles. Elsewhere: a
    division.
    """
    if a != vector:
        return None

    def codegen(context, builder, signature, args):
        (d,) = args
        if not _has_avx512(context):
            return builder.fdiv(ir.Constant(_VECTOR, [1.0] * LANES), d)
        rcp = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR, _VECTOR, ir.IntType(16)]),
            "llvm.x86.avx512.rcp14.ps.512")
        r = builder.call(rcp, [d, ir.Constant(_VECTOR, None), ir.Constant(ir.IntType(16), -1)])
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3),
                                            "llvm.fma.v16f32")
        error = builder.call(fn, [builder.fneg(d), r, ir.Constant(_VECTOR, [2.0] * LANES)])
        return builder.fmul(r, error)
    return vector(a), codegen


@intrinsic
def swap_halves(typingctx, a):
    """Lanes 8–15 then lanes 0–7 of a."""
    if a != vector:
        return None

    def codegen(context, builder, signature, args):
        order = [(j + LANES // 2) % LANES for j in range(LANES)]
        return builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(_INT32, LANES), order))
    return vector(a), codegen


@intrinsic
def low_half(typingctx, a):
    """Lanes 0–7 of a, then eight zeros."""
    if a != vector:
        return None

    def codegen(context, builder, signature, args):
        zeros = ir.Constant(_VECTOR, [0.0] * LANES)
        order = list(range(LANES // 2)) + list(range(LANES, LANES + LANES // 2))
        return builder.shuffle_vector(args[0], zeros, ir.Constant(ir.VectorType(_INT32, LANES), order))
    return vector(a), codegen


@intrinsic
def halves(typingctx, low, high):
    """The vector of eight ``low`` then eight ``high`` (converted to float32)."""
    if not (isinstance(low, types.Float) and isinstance(high, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        a = _splat_ir(builder, context.cast(builder, args[0], signature.args[0], types.float32))
        b = _splat_ir(builder, context.cast(builder, args[1], signature.args[1], types.float32))
        order = list(range(LANES // 2)) + list(range(LANES + LANES // 2, 2 * LANES))
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_INT32, LANES), order))
    return vector(low, high), codegen


@intrinsic
def vsum(typingctx, a):
    """Σ of the 16 lanes, as a pairwise tree (lanes 0–7 + 8–15, then 0–3 + 4–7, …): a fixed order."""
    if a != vector:
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        width = LANES
        while width > 1:
            width //= 2
            mask = ir.Constant(ir.VectorType(_INT32, LANES), [width + (j % width) for j in range(LANES)])
            v = builder.fadd(v, builder.shuffle_vector(v, v, mask))
        return builder.extract_element(v, ir.Constant(_INT32, 0))
    return types.float32(a), codegen


# -- tanh and σ ----------------------------------------------------------------------------------

# tanh(x) ≈ x·P(x²)/Q(x²) on |x| ≤ TANH_CLAMP (Eigen's generic_fast_tanh_float, with FMA). Past
# the clamp the true tanh is within 2.3e-7 of ±1, which the clamped value also is.
TANH_CLAMP = np.float32(7.99881172180175781)
TANH_P = tuple(np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                       5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                       -2.76076847742355e-16))
TANH_Q = tuple(np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                       1.19825839466702e-06))
#: |tanh16(x) − tanh(x)| ≤ TANH_ERROR and |sigmoid16(x) − σ(x)| ≤ SIGMOID_ERROR for every float32 x:
#: the largest errors over all of them (3.59e-7 and 2.09e-7, where tanh nears ±1), rounded up.
#: Nearly all of it is float32 rounding in the polynomials (the rational function itself is within
#: 3.5e-8 of tanh). tests/test_fast_math.py checks the bounds.
TANH_ERROR = 3.6e-7
SIGMOID_ERROR = 2.1e-7


@njit(**INLINE)
def tanh16(x):
    """tanh of each lane, by the clamped rational approximation above (error ≤ TANH_ERROR)."""
    x = clamp(x, TANH_CLAMP)
    x2 = vmul(x, x)
    p = fma(x2, splat(TANH_P[6]), splat(TANH_P[5]))
    p = fma(x2, p, splat(TANH_P[4]))
    p = fma(x2, p, splat(TANH_P[3]))
    p = fma(x2, p, splat(TANH_P[2]))
    p = fma(x2, p, splat(TANH_P[1]))
    p = fma(x2, p, splat(TANH_P[0]))
    q = fma(x2, splat(TANH_Q[3]), splat(TANH_Q[2]))
    q = fma(x2, q, splat(TANH_Q[1]))
    q = fma(x2, q, splat(TANH_Q[0]))
    return vmul(vmul(x, p), reciprocal(q))


@njit(**INLINE)
def sigmoid16(x):
    """σ(x) = 1 / (1 + e^(−x)) = ½ + ½·tanh(x/2) of each lane (error ≤ SIGMOID_ERROR)."""
    half = splat(HALF)
    return fma(half, tanh16(vmul(half, x)), half)


@njit(**INLINE)
def sigmoid16_of_double(x):
    """σ(2x) = ½ + ½·tanh(x) of each lane: σ of a gate whose weights are stored halved.

    The packer stores the weights and biases of every σ gate multiplied by ½, which is exact in
    binary floating point (barring subnormals), so the kernels get a/2 for the price of a and
    σ costs one tanh and one fused multiply-add. Same error bound as sigmoid16.
    """
    half = splat(HALF)
    return fma(half, tanh16(x), half)


@njit(**JIT)
def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)) of a float32 scalar, exactly as libm's exp rounds (activation layers)."""
    return ONE / (ONE + np.exp(-x))


# -- layers --------------------------------------------------------------------------------------
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


# -- the block kernel ----------------------------------------------------------------------------

# The one signature process_block is compiled for, given up front: numba then compiles (or loads)
# it at import and never compiles another, so a call with any other argument types (a read-only,
# strided, float64 or 2-D audio array) raises TypeError at once instead of compiling for seconds
# on the audio path. That lets Processor.process leave the type checks to numba's dispatcher.
BLOCK_SIGNATURE = ("void(float32[::1], float32[::1], int64[:, ::1], float32[::1], float32[::1], int64[::1], "
                   "float32[::1], int64, int64)")


@njit(BLOCK_SIGNATURE, **JIT)
def process_block(x, y, meta, params, hist, pos, work, first_channel, stop_channel):
    """Run the network over one block of audio, for channels first_channel … stop_channel − 1.

    Parameters (all preallocated by the Processor; nothing is allocated here)
    x, y : float32 (n · channels,) — input and output frames, channels interleaved.
    meta : int64 (HEADER_ROWS + layers, META_COLUMNS) — run settings (H_*), then the layer table.
    params : float32 — gains, taps and controls (P_*), then the weights (64-byte aligned).
    hist : float32 (channels · slots · state,) — each channel's circular state history.
    pos : int64 (channels,) — the slot sample n writes, per channel; advanced per sample.
    work : float32 (channels · work,) — per channel: the input vector, two activation vectors,
        two ŝ buffers (ŝ_n of the next sample is in buffer pos & 1; see reset_state) and scratch,
        each padded with zeros to whole vectors.
    first_channel, stop_channel : the channels to run (threads take disjoint ranges).

    Controls: control k at sample j of the process() call is from + (to − from)·(j + 1)/length,
    this block starting at j = meta[0, H_RAMP_DONE]; a held control has length 1.
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
        p = pos[ch]
        for i in range(n):
            audio = x[i * channels + ch] * input_gain
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
            if skip:
                out += audio
            y[i * channels + ch] = out * output_gain
            p = (p + 1) & mask
        pos[ch] = p


@njit(**JIT)
def reset_state(meta, params, hist, pos, work, initial):
    """Every channel back to the model's initial state, as process_block expects it.

    Each history slot holds ``initial`` (the state after reset, per layer [h0; c0] or h0), the
    position is 0, and ŝ_0, the first sample's read of that history, is computed as every other
    read is (a recursive read takes ŝ_{−1} = initial: a history at rest).
    """
    slots = meta[0, H_SLOTS]
    state = meta[0, H_STATE]
    for ch in range(pos.shape[0]):
        base = ch * slots * state
        for s in range(slots):
            for k in range(state):
                hist[base + s * state + k] = initial[k]
        shat = ch * meta[0, H_WORK] + meta[0, H_SHAT]
        for k in range(state):
            work[shat + state + k] = initial[k]  # buffer 1: ŝ_{−1}
        read_state(meta, params, hist, base, 0, work, shat, shat + state)  # buffer 0: ŝ_0
        pos[ch] = 0


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

# A model slot (Processor.kernel_slot): (meta, params, hist, pos, work, initial_state).
SLOT_META = 0
SLOT_PARAMS = 1
SLOT_HIST = 2
SLOT_POS = 3
SLOT_WORK = 4
SLOT_INITIAL = 5


@njit(**JIT)
def reset_slot(slot):
    """Return a model slot (see Processor.kernel_slot) to its initial state, in place."""
    reset_state(slot[SLOT_META], slot[SLOT_PARAMS], slot[SLOT_HIST], slot[SLOT_POS], slot[SLOT_WORK],
                slot[SLOT_INITIAL])


@njit(**JIT)
def run_slot(slot, x, y):
    """process_block over one mono model slot with its controls held (no ramp); x, y (n, 1)."""
    n = x.shape[0]
    process_block(x.reshape(n), y.reshape(n), slot[SLOT_META], slot[SLOT_PARAMS], slot[SLOT_HIST],
                  slot[SLOT_POS], slot[SLOT_WORK], 0, 1)


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
