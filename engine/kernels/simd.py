"""16-lane float32 vectors: a numba type whose values are LLVM <16 x float> vectors, and the
handful of operations the kernels need, each one LLVM instruction (or a short fixed sequence).

Loads and stores take a C-contiguous float32 array and a flat element index; like every kernel
they trust it. A 16-lane vector is one zmm register with AVX-512; LLVM splits it elsewhere.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models as datamodels
from numba.extending import intrinsic, register_model

from .layout import LANES

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
