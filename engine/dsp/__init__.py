"""Signal-chain stages around the model (noise gate, EQ, cabinet convolution), each a module of its own.

Empty of imports on purpose: every stage is imported from its own module (``engine.dsp.cabinet``,
``engine.dsp.gate``, ``engine.dsp.eq``), so importing one stage never compiles another's kernels.
"""
