"""Signal-chain stages around the model (cabinet convolution, gate, EQ), each a module of its own.

Empty of imports on purpose: every stage is imported from its own module (``engine.dsp.cabinet``,
...), so importing one stage never compiles another's kernels.
"""
