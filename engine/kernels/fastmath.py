"""tanh and σ of 16 lanes at once, by the rational approximation Eigen (and so RTNeural) uses.

numba's scalar libm calls do not vectorise; this does. Error bounds over every float32 are
TANH_ERROR and SIGMOID_ERROR (tests/test_fast_math.py checks them).
"""

import numpy as np
from numba import njit

from .options import HALF, INLINE, JIT, ONE
from .simd import clamp, fma, reciprocal, splat, vmul

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
