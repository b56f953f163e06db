"""Silencing C libraries that print to stderr (PortAudio's device probing, libjack's connection attempts)."""

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level stderr (PortAudio's ALSA and JACK probing is noisy) for the block's duration."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
