"""Reading a short audio clip (engine-eval's test signal, engine-live's demo_clip) with one-line errors.

Every way a clip can be wrong is an :class:`~engine.errors.AudioFileError` naming the file and
what it is instead: missing, not a regular file (a directory, a FIFO, a device: opening one would
block or read without end), not audio libsndfile reads, empty, holding NaN or infinity, or longer
than :data:`MAX_CLIP_SECONDS`. The clip is read in blocks and only its first channel is kept, so
memory stays bounded by the cap whatever the file's header claims.
"""

import os
import stat

from .errors import AudioFileError

#: The longest clip read whole into memory. engine-eval runs the model over it once per
#: (rate, method) pair and the live demo plays it in real time: five minutes is far past either use.
MAX_CLIP_SECONDS = 300.0
#: The most frames read whatever the rate: five minutes at 192 kHz (230 MB as float32), so a
#: header claiming a huge rate cannot turn the duration cap into gigabytes.
MAX_CLIP_FRAMES = int(MAX_CLIP_SECONDS * 192000)
#: Frames per read: a few hundred kilobytes at a time.
READ_BLOCK_FRAMES = 1 << 16

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def path_problem(path):
    """What stops ``path`` from being read as a file, or None when it is an existing regular file.

    Used wherever a user names a file (a config, a model, a clip) so the message says what the
    path is rather than "does not exist" for a directory or a FIFO.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str or None
        ``"does not exist"``, ``"is a directory, not a file"``, ``"is a FIFO (named pipe), not a
        regular file"`` (and likewise for devices and sockets), ``"cannot be read (<reason>)"``,
        or None.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a parent in the path is a file, not a folder)"
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return f"is {kind}, not a regular file" if kind != "a directory" else "is a directory, not a file"
    return "is not a regular file"


def read_clip(path, label=None, hint=None, max_seconds=MAX_CLIP_SECONDS):
    """Read the first channel of an audio file as float32, refusing anything that is not a usable clip.

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG, AIFF, ...).
    label : str, optional
        How the file is named in messages (default: the path), e.g. ``"guitar.yaml: demo_clip x.wav"``.
    hint : str, optional
        How to fix it, appended to every message after a semicolon.
    max_seconds : float
        The longest clip accepted (default :data:`MAX_CLIP_SECONDS`); :data:`MAX_CLIP_FRAMES` also applies.

    Returns
    -------
    (numpy.ndarray, float)
        The first channel (1-D, float32, finite, at least one sample) and the file's sample rate in Hz.

    Raises
    ------
    AudioFileError
        If the file is missing, not a regular file, not audio, empty, too long, or its first
        channel holds NaN or infinite samples (the first one's position is named).
    """
    import numpy as np  # here, not at the top: engine-eval --help reads MAX_CLIP_SECONDS only

    import soundfile

    path = os.fspath(path)
    name = label or path

    def refuse(problem):
        raise AudioFileError(f"{name}: {problem}" + (f"; {hint}" if hint else ""))

    problem = path_problem(path)
    if problem == "does not exist":
        refuse("no such audio file")
    if problem is not None:
        refuse(problem)
    try:
        handle = soundfile.SoundFile(path)
    except (RuntimeError, TypeError, ValueError, OSError) as exc:  # LibsndfileError is a RuntimeError
        refuse(f"not an audio file libsndfile can read ({_first_line(exc)})")
    with handle:
        rate = float(handle.samplerate)
        if not rate > 0:
            refuse(f"the file's header gives a sample rate of {handle.samplerate} Hz")
        limit = min(int(max_seconds * rate), MAX_CLIP_FRAMES)
        blocks = []
        frames = 0
        while True:
            try:
                block = handle.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (RuntimeError, ValueError, OSError) as exc:
                refuse(f"cannot read audio after frame {frames} ({_first_line(exc)})")
            if not len(block):
                break
            first = block[:, 0]  # the channel the engine plays: a bad sample elsewhere is never used
            bad = np.flatnonzero(~np.isfinite(first))
            if len(bad):
                refuse(f"sample {frames + bad[0]} of channel 0 is {first[bad[0]]} (the clip must hold finite samples)")
            frames += len(block)
            if frames > limit:
                refuse(f"longer than the {min(max_seconds, MAX_CLIP_FRAMES / rate):g} s this reads "
                       f"({handle.frames} frames at {rate:g} Hz); use a shorter excerpt")
            blocks.append(first.copy())
    if frames == 0:
        refuse("holds no audio (0 frames)")
    return np.concatenate(blocks), rate


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
