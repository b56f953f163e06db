"""The nopython code: per-sample LSTM/GRU networks run over a whole block per call.

One module per job: ``layout`` (the meta/params tables the packer writes), ``options`` (compile
options), ``simd`` (16-lane vector intrinsics), ``fastmath`` (tanh and σ), ``cells`` (one step of
each layer kind and the state read), ``block`` (the block kernel and the reset). The live audio
callback's mixer is in engine.live.mixer.

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

import importlib

from . import _cache
from .layout import *  # noqa: F401,F403  (the table columns: numba-free, for the packer and the processor)

# Before numba loads any cached kernel: numba invalidates a cache only when the file defining the
# function changes, but these kernels inline functions from their sibling modules.
_cache.drop_stale_caches()

# The compiled parts load on first use (PEP 562): ``import engine`` and the packer need only the
# layout, and importing block.py compiles (or loads) process_block.
_EXPORTS = {
    "BLOCK_SIGNATURE": "block", "process_block": "block", "reset_state": "block",
    "SIGMOID_ERROR": "fastmath", "TANH_ERROR": "fastmath", "sigmoid": "fastmath", "sigmoid16": "fastmath",
    "sigmoid16_of_double": "fastmath", "tanh16": "fastmath",
    "HALF": "options", "INLINE": "options", "JIT": "options", "ONE": "options", "ZERO": "options",
    "reciprocal": "simd", "vload": "simd", "vstore": "simd",
}


def __getattr__(name):
    """Load the kernel module that defines ``name`` on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
