"""Dropping numba's on-disk kernel caches when any kernel source changed.

numba keys a cached function on the source file that defines it (its modification time and
size), not on the files it calls into. The block kernel inlines cells, fastmath and simd, and the
live mixer inlines the block kernel (and the live callback inlines the mixer and bakes in the
layout constants of live/shared.py): editing cells.py alone would leave process_block's cache
valid and running the old code (the resampler pair's kernel, engine/resampler/kernels.py, calls
the block kernel and bakes in its own layout's constants). So the sources of every kernel module are hashed together, and
when the digest differs from the one stored beside the caches, every kernel cache is removed
and numba compiles afresh (once).
"""

import glob
import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
#: Modules whose compiled code ends up inside another module's cached functions.
SOURCES = [os.path.join(_HERE, name) for name in
           ("layout.py", "options.py", "simd.py", "fastmath.py", "cells.py", "block.py")] + \
          [os.path.join(os.path.dirname(_HERE), "live", name) for name in ("mixer.py", "shared.py", "callback.py", "jack_native.py")] + \
          [os.path.join(os.path.dirname(_HERE), "dsp", name) for name in ("fft.py", "convolver.py", "cabinet.py", "gate.py", "eq.py")] + \
          [os.path.join(os.path.dirname(_HERE), "resampler", name) for name in ("layout.py", "kernels.py")]
_STAMP = "kernel-sources.sha256"


def source_digest():
    """The SHA-256 of every kernel module's source, in a fixed order.

    Returns
    -------
    str
        Hex digest; a missing file counts as empty.
    """
    digest = hashlib.sha256()
    for path in SOURCES:
        try:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            pass
        digest.update(b"\0")
    return digest.hexdigest()


def drop_stale_caches():
    """Remove the numba caches of every kernel module if the kernel sources changed since they were written.

    Best effort and silent: where the cache folders cannot be written, numba keeps its caches
    elsewhere (its user-wide cache directory) and this does nothing.
    """
    folders = sorted({os.path.join(os.path.dirname(path), "__pycache__") for path in SOURCES})
    stamp = os.path.join(folders[0], _STAMP)
    digest = source_digest()
    try:
        with open(stamp) as handle:
            if handle.read().strip() == digest:
                return
    except OSError:
        pass
    stems = [os.path.splitext(os.path.basename(path))[0] for path in SOURCES]
    try:
        for folder in folders:
            for stem in stems:
                for cached in glob.glob(os.path.join(folder, f"{stem}.*.nb[ic]")):
                    os.remove(cached)
        os.makedirs(folders[0], exist_ok=True)
        with open(stamp, "w") as handle:
            handle.write(digest + "\n")
    except OSError:
        pass
