"""The on-disk cache of interpolation="auto" decisions: one small JSON file per decision.

A decision depends on the model's content (its weights and everything else that shapes its
output, not its file name), the run rate, the knob values and the probe itself, so the key is a
SHA-256 over all of them (:func:`entry_key`). A changed model file, rate, knob setting or probe
(PROBE_VERSION in engine.auto, or the engine's version) simply misses.

The files live beside numba's kernel caches (:func:`cache_directory`), are safe to delete at any
time (the next prepare probes again), are written atomically (a temporary file in the same folder,
then ``os.replace``), and an entry that cannot be read or does not hold what it should is ignored,
never an error: the cache only ever saves time.
"""

import hashlib
import json
import os
import tempfile

import numpy as np

#: The folder under the cache root; ``rm -r`` it any time.
FOLDER = "engine-auto"
#: The entry format; an entry of another format is ignored.
FORMAT = 1
#: An entry is a few hundred bytes; anything larger is not one of ours and is not read.
MAX_ENTRY_BYTES = 64 * 1024


def cache_directory():
    """Where the decisions are kept: beside numba's on-disk cache of the kernels.

    Numba's own rule, followed here: ``$NUMBA_CACHE_DIR`` if set; else the ``__pycache__`` folder
    beside the kernel sources if it can be written; else numba's user-wide cache folder
    (``~/.cache/numba`` on Linux).

    Returns
    -------
    str
        ``<that folder>/engine-auto`` (it may not exist yet).
    """
    root = os.environ.get("NUMBA_CACHE_DIR")
    if not root:
        in_tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels", "__pycache__")
        if _writable(in_tree):
            root = in_tree
        else:
            try:
                from numba.misc.appdirs import AppDirs

                root = AppDirs(appname="numba", appauthor=False).user_cache_dir
            except ImportError:  # numba moved its helper: the same folder on Linux
                root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numba")
    return os.path.join(root, FOLDER)


def _writable(folder):
    """Whether ``folder`` exists (or can be made) and takes a file."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def model_digest(model):
    """The SHA-256 of what a model computes: its layers' weights, shapes and settings, gains, skip, rate.

    The same network read from two formats (or built in memory) has the same digest; the file's
    name, format and metadata do not enter it.

    Parameters
    ----------
    model : Model

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256()
    digest.update(repr((model.input_size, float(model.sample_rate), bool(model.skip), float(model.input_gain_db),
                        float(model.output_gain_db), len(model.layers))).encode())
    for layer in model.layers:
        digest.update(type(layer).__name__.encode())
        for name, value in sorted(vars(layer).items()):
            digest.update(name.encode())
            if isinstance(value, np.ndarray):
                digest.update(repr((str(value.dtype), value.shape)).encode())
                digest.update(np.ascontiguousarray(value).tobytes())
            else:
                digest.update(repr(value).encode())
    return digest.hexdigest()


def entry_key(model, sample_rate, controls, probe_version):
    """The cache key of one decision.

    Parameters
    ----------
    model : Model
    sample_rate : float
        The run rate (Hz).
    controls : sequence of float or None
        The knob values the model runs with (float32, as the kernel holds them).
    probe_version : str
        What identifies the probe and the engine that scored it (engine.auto.probe_version()).

    Returns
    -------
    str
        Hex SHA-256.
    """
    knobs = None if controls is None else [float(v) for v in np.asarray(controls, np.float32)]
    text = json.dumps({"format": FORMAT, "model": model_digest(model), "rate": float(sample_rate), "controls": knobs,
                       "probe": probe_version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_path(key):
    """The file of the entry ``key``."""
    return os.path.join(cache_directory(), f"{key}.json")


def load(key):
    """The record stored under ``key``, or None if there is none or it cannot be trusted.

    Never raises: a missing, unreadable, oversized, non-JSON or foreign entry is a miss.

    Returns
    -------
    dict or None
        The record :func:`store` wrote (its ``key`` and ``format`` checked).
    """
    try:
        with open(entry_path(key), "rb") as handle:
            data = handle.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            return None
        record = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("key") != key:
        return None
    return record


def store(key, record):
    """Write ``record`` under ``key`` atomically; silently do nothing where the folder cannot be written.

    Parameters
    ----------
    key : str
    record : dict
        JSON-serialisable; ``key`` and ``format`` are added.

    Returns
    -------
    bool
        Whether the entry was written.
    """
    folder = cache_directory()
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump({**record, "key": key, "format": FORMAT}, stream, indent=1)
        os.replace(temporary, entry_path(key))  # readers see the old entry or the new one, never half of one
        return True
    except (OSError, TypeError, ValueError):
        try:
            os.remove(temporary)
        except OSError:
            pass
        return False
