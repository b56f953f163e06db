"""numba compile options and the float32 constants every kernel module shares."""

import numpy as np

ONE = np.float32(1.0)
ZERO = np.float32(0.0)
HALF = np.float32(0.5)

#: No runtime (``_nrt=False``): a kernel cannot allocate (numba refuses to compile an allocation)
#: and pays no reference count when it passes an array on. ``error_model="numpy"``: numba would
#: otherwise test every float division for zero so it could raise, which stops vectorisation.
JIT = dict(cache=True, nogil=True, error_model="numpy", _nrt=False)
INLINE = dict(JIT, inline="always")
