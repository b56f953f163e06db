"""An in-place real FFT and its inverse in nopython code, allocation-free, for power-of-two lengths.

numba has no FFT, and numpy's cannot be called from code compiled without numba's runtime (the
live callback's), so the cabinet convolver uses this one. Everything that depends only on the
length (twiddle factors, the bit-reversal swaps) is computed once by :func:`fft_tables`, in
float64 and rounded to float32 (no trigonometric recurrence, so no drift with the length); the
transforms then only read those tables and work in the caller's array.

Algorithm
---------
A real sequence x of even length N = 2M is read as M complex numbers z[m] = x[2m] + i·x[2m+1]
(the "real-to-complex half-size trick": Cooley, Lewis & Welch 1970; Sorensen, Jones, Heideman &
Burrus, "Real-valued fast Fourier transform algorithms", IEEE Trans. ASSP 35(6), 1987;
Numerical Recipes §12.3, ``realft``). Z = DFT_M(z) by the iterative radix-2 decimation-in-time
Cooley–Tukey FFT (Cooley & Tukey 1965: bit-reversal permutation, then log2 M stages of
butterflies). With E[k] = (Z[k] + conj Z[M-k]) / 2 and O[k] = (Z[k] - conj Z[M-k]) / 2i (the
transforms of the even and the odd samples) and W = exp(-2πik/N):

    X[k] = E[k] + W·O[k],    X[M-k] = conj(E[k] - W·O[k]),    k = 1 … M/2
    X[0] = Re Z[0] + Im Z[0],    X[M] = Re Z[0] - Im Z[0]

The inverse runs the same steps backwards: E = (X[k] + conj X[M-k]) / 2,
O = conj(W)·(X[k] - conj X[M-k]) / 2, Z[k] = E + i·O, Z[M-k] = conj E + i·conj O, then the
inverse complex FFT and a factor 1/M.

Packed format (numpy's ``rfft`` in N real numbers): ``a[0] = X[0]`` and ``a[1] = X[N/2]`` (both
real), ``a[2k], a[2k+1] = Re X[k], Im X[k]`` for k = 1 … N/2 - 1. :func:`rfft_inplace` is
numpy.fft.rfft (unnormalised), :func:`irfft_inplace` is numpy.fft.irfft (normalised by 1/N).
"""

import numpy as np
from numba import njit

from ..kernels.options import JIT

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
        ``twiddles``: float32 of length 2·(M//2) + 2·(M//2 + 1), M = n/2: cos then sin of 2πj/M for
        j < M/2 (the complex FFT's), then cos then sin of 2πk/n for k ≤ M/2 (the real split's).
        ``swaps``: int64 pairs (i, j), i < j, of the bit-reversal permutation of M points, flat.

    Raises
    ------
    ValueError
        If ``n`` is not a power of two in range (a programming error: the convolver chooses n).
    """
    if not (isinstance(n, (int, np.integer)) and 2 <= n <= MAX_FFT_SIZE and n & (n - 1) == 0):
        raise ValueError(f"the FFT length must be a power of two from 2 to {MAX_FFT_SIZE}, got {n!r}")
    m = n // 2
    j = np.arange(m // 2)
    k = np.arange(m // 2 + 1)
    parts = [np.cos(2 * np.pi * j / m), np.sin(2 * np.pi * j / m),
             np.cos(2 * np.pi * k / n), np.sin(2 * np.pi * k / n)]
    twiddles = np.concatenate(parts)
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
def _complex_fft(a, m, cos_table, sin_table, swaps, sign):
    """In-place radix-2 DIT FFT of the m complex numbers interleaved in a[0:2m] (Cooley & Tukey 1965).

    sign = 1: X[k] = Σ z[j] exp(-2πijk/m); sign = -1: the unnormalised inverse (exp(+2πijk/m)).
    """
    for p in range(0, len(swaps), 2):
        i = 2 * swaps[p]
        j = 2 * swaps[p + 1]
        re = a[i]
        im = a[i + 1]
        a[i] = a[j]
        a[i + 1] = a[j + 1]
        a[j] = re
        a[j + 1] = im
    size = 2
    while size <= m:
        half = size // 2
        step = m // size
        for j in range(half):
            # The butterfly of stage `size`: twiddle w = exp(-sign·2πi·j/size) = table[j·m/size].
            wr = cos_table[j * step]
            wi = sin_table[j * step]
            if sign > 0:
                wi = -wi
            for start in range(0, m, size):
                p = 2 * (start + j)
                q = p + size  # 2 * (start + j + half)
                tr = wr * a[q] - wi * a[q + 1]
                ti = wr * a[q + 1] + wi * a[q]
                a[q] = a[p] - tr
                a[q + 1] = a[p + 1] - ti
                a[p] = a[p] + tr
                a[p + 1] = a[p + 1] + ti
        size *= 2


@njit(**JIT)
def rfft_inplace(a, twiddles, swaps):
    """Replace the real signal in ``a`` by its spectrum in packed format (numpy.fft.rfft, unnormalised).

    Parameters
    ----------
    a : float32[:]
        A power-of-two length n ≥ 2; overwritten with X[0], X[n/2], Re X[1], Im X[1], …
    twiddles, swaps : arrays
        ``fft_tables(n)``.
    """
    m = len(a) // 2
    quarter = m // 2
    cos_c = twiddles[0:quarter]
    sin_c = twiddles[quarter:2 * quarter]
    cos_r = twiddles[2 * quarter:3 * quarter + 1]
    sin_r = twiddles[3 * quarter + 1:4 * quarter + 2]
    _complex_fft(a, m, cos_c, sin_c, swaps, 1)
    z0r = a[0]
    z0i = a[1]
    a[0] = z0r + z0i
    a[1] = z0r - z0i
    for k in range(1, quarter + 1):
        mk = m - k
        zkr = a[2 * k]
        zki = a[2 * k + 1]
        zmr = a[2 * mk]
        zmi = a[2 * mk + 1]
        er = np.float32(0.5) * (zkr + zmr)  # E = (Z[k] + conj Z[M-k]) / 2
        ei = np.float32(0.5) * (zki - zmi)
        o_r = np.float32(0.5) * (zki + zmi)  # O = (Z[k] - conj Z[M-k]) / 2i
        o_i = np.float32(-0.5) * (zkr - zmr)
        wr = cos_r[k]  # W = exp(-2πik/N)
        wi = -sin_r[k]
        tr = wr * o_r - wi * o_i
        ti = wr * o_i + wi * o_r
        a[2 * k] = er + tr  # X[k] = E + W·O
        a[2 * k + 1] = ei + ti
        a[2 * mk] = er - tr  # X[M-k] = conj(E - W·O)
        a[2 * mk + 1] = ti - ei


@njit(**JIT)
def irfft_inplace(a, twiddles, swaps):
    """Replace the packed spectrum in ``a`` by its real signal (numpy.fft.irfft, normalised by 1/n).

    Parameters
    ----------
    a : float32[:]
        A power-of-two length n ≥ 2, in the packed format :func:`rfft_inplace` writes.
    twiddles, swaps : arrays
        ``fft_tables(n)``.
    """
    m = len(a) // 2
    quarter = m // 2
    cos_c = twiddles[0:quarter]
    sin_c = twiddles[quarter:2 * quarter]
    cos_r = twiddles[2 * quarter:3 * quarter + 1]
    sin_r = twiddles[3 * quarter + 1:4 * quarter + 2]
    x0 = a[0]
    xm = a[1]
    a[0] = np.float32(0.5) * (x0 + xm)  # Z[0] = E[0] + i·O[0], E[0] = (X[0] + X[M])/2, O[0] = (X[0] - X[M])/2
    a[1] = np.float32(0.5) * (x0 - xm)
    for k in range(1, quarter + 1):
        mk = m - k
        xkr = a[2 * k]
        xki = a[2 * k + 1]
        xmr = a[2 * mk]
        xmi = a[2 * mk + 1]
        er = np.float32(0.5) * (xkr + xmr)  # E = (X[k] + conj X[M-k]) / 2
        ei = np.float32(0.5) * (xki - xmi)
        dr = np.float32(0.5) * (xkr - xmr)  # W·O = (X[k] - conj X[M-k]) / 2
        di = np.float32(0.5) * (xki + xmi)
        cr = cos_r[k]  # conj W = exp(+2πik/N)
        ci = sin_r[k]
        o_r = cr * dr - ci * di
        o_i = cr * di + ci * dr
        a[2 * k] = er - o_i  # Z[k] = E + i·O
        a[2 * k + 1] = ei + o_r
        a[2 * mk] = er + o_i  # Z[M-k] = conj E + i·conj O
        a[2 * mk + 1] = o_r - ei
    _complex_fft(a, m, cos_c, sin_c, swaps, -1)
    scale = np.float32(1.0) / np.float32(m)
    for i in range(len(a)):
        a[i] *= scale
