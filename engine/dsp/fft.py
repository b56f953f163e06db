"""An in-place real FFT and its inverse in nopython code, allocation-free, for power-of-two lengths.

numba has no FFT, and numpy's cannot be called from code compiled without numba's runtime (the
live callback's), so the cabinet convolver uses this one. Everything that depends only on the
length (twiddle factors, the bit-reversal swaps) is computed once by :func:`fft_tables`, in
float64 and rounded to float32 (no trigonometric recurrence, so no drift with the length); the
transforms then only read those tables and work in the caller's two arrays.

Algorithm
---------
A real sequence x of even length N = 2M is read as M complex numbers z[m] = x[2m] + i·x[2m+1]
(the "real-to-complex half-size trick": Cooley, Lewis & Welch 1970; Sorensen, Jones, Heideman &
Burrus, "Real-valued fast Fourier transform algorithms", IEEE Trans. ASSP 35(6), 1987;
Numerical Recipes §12.3, ``realft``). Z = DFT_M(z) by the iterative radix-2 decimation-in-time
Cooley–Tukey FFT (Cooley & Tukey 1965): the bit-reversal permutation, then log2 M stages of
butterflies, the first two without multiplications (twiddles 1 and -i), those of half-size 16
and more on explicit 16-lane vectors (engine.kernels.simd). With
E[k] = (Z[k] + conj Z[M-k]) / 2 and O[k] = (Z[k] - conj Z[M-k]) / 2i (the transforms of the even
and of the odd samples) and W = exp(-2πik/N):

    X[k] = E[k] + W·O[k],    X[M-k] = conj(E[k] - W·O[k]),    k = 1 … M/2
    X[0] = Re Z[0] + Im Z[0],    X[M] = Re Z[0] - Im Z[0]

The inverse runs the same steps backwards: E = (X[k] + conj X[M-k]) / 2,
O = conj(W)·(X[k] - conj X[M-k]) / 2, Z[k] = E + i·O, Z[M-k] = conj E + i·conj O; then
z = conj(DFT_M(conj Z)) / M.

Split format: the complex numbers live in two float32 arrays ``re`` and ``im`` of M + 1
elements (real parts, imaginary parts), so that every loop runs over contiguous floats and
vectorises. :func:`rfft_split` takes re[m] = x[2m], im[m] = x[2m+1] (m < M) and leaves
re[k] + i·im[k] = X[k] for k = 0 … M, X = numpy.fft.rfft(x) (unnormalised);
:func:`irfft_split` undoes it exactly (numpy.fft.irfft, normalised by 1/N).
"""

import numpy as np
from numba import njit

from ..kernels.layout import LANES
from ..kernels.options import JIT
from ..kernels.simd import fma, vadd, vload, vmul, vstore, vsub

#: The longest transform the tables are made for: 2**24 points (the cabinet's partitions stop far below).
MAX_FFT_SIZE = 2 ** 24


def fft_tables(n):
    """The twiddle factors and bit-reversal swaps of a real FFT of length ``n``.

    Parameters
    ----------
    n : int
        A power of two from 2 to :data:`MAX_FFT_SIZE`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``twiddles``, float32: for the complex FFT of M = n/2 points, cos then sin of πj/h for
        each stage's half-size h = 1, 2, …, M/2 and j < h (M - 1 values each, stage h at offset
        h - 1); then cos then sin of 2πk/n for k ≤ M/2 (the real split's), M//2 + 1 values each.
        ``swaps``, int64: the pairs (i, j), i < j, of the bit-reversal permutation of M points, flat.

    Raises
    ------
    ValueError
        If ``n`` is not a power of two in range (a programming error: the convolver chooses n).
    """
    if not (isinstance(n, (int, np.integer)) and 2 <= n <= MAX_FFT_SIZE and n & (n - 1) == 0):
        raise ValueError(f"the FFT length must be a power of two from 2 to {MAX_FFT_SIZE}, got {n!r}")
    n = int(n)
    m = n // 2
    halves = [np.arange(h) * np.pi / h for h in (1 << b for b in range(max(m.bit_length() - 1, 0)))]
    stage = np.concatenate(halves) if halves else np.zeros(0)
    split = np.arange(m // 2 + 1) * 2 * np.pi / n
    twiddles = np.concatenate([np.cos(stage), np.sin(stage), np.cos(split), np.sin(split)])
    twiddles[np.abs(twiddles) < 1e-12] = 0.0  # cos(π/2) exactly 0: the middle bin's two formulas then agree
    bits = max(m.bit_length() - 1, 0)
    index = np.arange(m)
    reversed_index = np.zeros(m, np.int64)
    for b in range(bits):
        reversed_index |= ((index >> b) & 1) << (bits - 1 - b)
    first = index[index < reversed_index]
    swaps = np.stack([first, reversed_index[first]], axis=1).reshape(-1).astype(np.int64)
    return twiddles.astype(np.float32), swaps


@njit(**JIT)
def _complex_fft(re, im, m, cos_table, sin_table, swaps):
    """In place: re + i·im ← DFT_m(re + i·im), X[k] = Σ z[j]·exp(-2πijk/m), radix-2 DIT (Cooley & Tukey 1965)."""
    for p in range(0, len(swaps), 2):
        i = swaps[p]
        j = swaps[p + 1]
        t = re[i]
        re[i] = re[j]
        re[j] = t
        t = im[i]
        im[i] = im[j]
        im[j] = t
    if m >= 2:  # stage h = 1: twiddle 1
        for p in range(0, m, 2):
            ar = re[p]
            ai = im[p]
            br = re[p + 1]
            bi = im[p + 1]
            re[p] = ar + br
            im[p] = ai + bi
            re[p + 1] = ar - br
            im[p + 1] = ai - bi
    if m >= 4:  # stage h = 2: twiddles 1 and -i
        for p in range(0, m, 4):
            ar = re[p]
            ai = im[p]
            br = re[p + 2]
            bi = im[p + 2]
            re[p] = ar + br
            im[p] = ai + bi
            re[p + 2] = ar - br
            im[p + 2] = ai - bi
            ar = re[p + 1]
            ai = im[p + 1]
            br = re[p + 3]
            bi = im[p + 3]
            re[p + 1] = ar + bi  # a + (-i)·b
            im[p + 1] = ai - br
            re[p + 3] = ar - bi
            im[p + 3] = ai + br
    half = 4
    while half < m:  # stage h: b ← b·exp(-iπj/h), then (a + b, a - b)
        size = 2 * half
        c = cos_table[half - 1:size - 1]
        s = sin_table[half - 1:size - 1]
        if half >= LANES:  # whole 16-lane vectors (h is a power of two)
            for start in range(0, m, size):
                for j in range(start, start + half, LANES):
                    w = j - start
                    wr = vload(c, w)
                    wi = vload(s, w)
                    br = vload(re, j + half)
                    bi = vload(im, j + half)
                    tr = fma(wr, br, vmul(wi, bi))
                    ti = vsub(vmul(wr, bi), vmul(wi, br))
                    ar = vload(re, j)
                    ai = vload(im, j)
                    vstore(re, j + half, vsub(ar, tr))
                    vstore(im, j + half, vsub(ai, ti))
                    vstore(re, j, vadd(ar, tr))
                    vstore(im, j, vadd(ai, ti))
            half = size
            continue
        for start in range(0, m, size):
            ar = re[start:start + half]
            ai = im[start:start + half]
            br = re[start + half:start + size]
            bi = im[start + half:start + size]
            for j in range(half):
                tr = c[j] * br[j] + s[j] * bi[j]
                ti = c[j] * bi[j] - s[j] * br[j]
                br[j] = ar[j] - tr
                bi[j] = ai[j] - ti
                ar[j] = ar[j] + tr
                ai[j] = ai[j] + ti
        half = size


@njit(**JIT)
def _split_tables(twiddles, m):
    stages = max(m - 1, 0)
    quarter = m // 2
    return (twiddles[0:stages], twiddles[stages:2 * stages],
            twiddles[2 * stages:2 * stages + quarter + 1], twiddles[2 * stages + quarter + 1:2 * stages + 2 * quarter + 2])


@njit(**JIT)
def rfft_split(re, im, twiddles, swaps):
    """In place: the real signal x held as re[m] = x[2m], im[m] = x[2m+1] becomes X = rfft(x), split.

    Parameters
    ----------
    re, im : float32[::1]
        M + 1 elements each (N = 2M a power of two); on entry the first M hold the even and the
        odd samples; on return re[k] + i·im[k] = X[k], k = 0 … M (unnormalised, as numpy.fft.rfft).
    twiddles, swaps : arrays
        ``fft_tables(2 * M)``.
    """
    m = len(re) - 1
    cos_c, sin_c, cos_r, sin_r = _split_tables(twiddles, m)
    _complex_fft(re, im, m, cos_c, sin_c, swaps)
    z0r = re[0]
    z0i = im[0]
    re[0] = z0r + z0i
    im[0] = 0.0
    re[m] = z0r - z0i
    im[m] = 0.0
    for k in range(1, m // 2 + 1):
        mk = m - k
        zkr = re[k]
        zki = im[k]
        zmr = re[mk]
        zmi = im[mk]
        er = np.float32(0.5) * (zkr + zmr)  # E = (Z[k] + conj Z[M-k]) / 2
        ei = np.float32(0.5) * (zki - zmi)
        o_r = np.float32(0.5) * (zki + zmi)  # O = (Z[k] - conj Z[M-k]) / 2i
        o_i = np.float32(-0.5) * (zkr - zmr)
        wr = cos_r[k]  # W = exp(-2πik/N) = wr - i·ws
        ws = sin_r[k]
        tr = wr * o_r + ws * o_i
        ti = wr * o_i - ws * o_r
        re[k] = er + tr  # X[k] = E + W·O
        im[k] = ei + ti
        re[mk] = er - tr  # X[M-k] = conj(E - W·O)
        im[mk] = ti - ei


@njit(**JIT)
def irfft_split(re, im, twiddles, swaps):
    """In place: the spectrum X[k] = re[k] + i·im[k], k = 0 … M, becomes x = irfft(X) as re[m] = x[2m], im[m] = x[2m+1].

    Parameters
    ----------
    re, im : float32[::1]
        M + 1 elements each, as :func:`rfft_split` leaves them (im[0] and im[M] are ignored);
        on return the first M hold the even and the odd samples (normalised, as numpy.fft.irfft).
    twiddles, swaps : arrays
        ``fft_tables(2 * M)``.
    """
    m = len(re) - 1
    cos_c, sin_c, cos_r, sin_r = _split_tables(twiddles, m)
    x0 = re[0]
    xm = re[m]
    re[0] = np.float32(0.5) * (x0 + xm)  # Z[0] = E[0] + i·O[0]
    im[0] = np.float32(0.5) * (x0 - xm)
    for k in range(1, m // 2 + 1):
        mk = m - k
        xkr = re[k]
        xki = im[k]
        xmr = re[mk]
        xmi = im[mk]
        er = np.float32(0.5) * (xkr + xmr)  # E = (X[k] + conj X[M-k]) / 2
        ei = np.float32(0.5) * (xki - xmi)
        dr = np.float32(0.5) * (xkr - xmr)  # W·O = (X[k] - conj X[M-k]) / 2
        di = np.float32(0.5) * (xki + xmi)
        cr = cos_r[k]  # conj W = exp(+2πik/N)
        ci = sin_r[k]
        o_r = cr * dr - ci * di
        o_i = cr * di + ci * dr
        re[k] = er - o_i  # Z[k] = E + i·O
        im[k] = ei + o_r
        re[mk] = er + o_i  # Z[M-k] = conj E + i·conj O
        im[mk] = o_r - ei
    for k in range(m):  # z = conj(DFT(conj Z)) / M
        im[k] = -im[k]
    _complex_fft(re, im, m, cos_c, sin_c, swaps)
    scale = np.float32(1.0) / np.float32(m)
    for k in range(m):
        re[k] *= scale
        im[k] *= -scale
