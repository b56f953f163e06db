"""Live processing: the audio stream and its session, the signal chain it runs, the virtual interface.

- ``devices``: the only module that imports sounddevice (which starts PortAudio): devices and their lookup.
- ``session``: a chain running in an audio stream (LiveSession, the library API): control, stats, status line.
- ``callback``: the compiled audio callback PortAudio calls (a numba cfunc: no Python on the audio thread).
- ``shared``: the memory it shares with Python: the header of addresses, requests, counters, timing ring.
- ``keys``: single key presses from the terminal.
- ``playthrough``: playing a signal through a session on a JACK server and recording it (``--virtual``).
- ``chain``: the live signal chain (model switching, bypass, safety, limiter) without any device.
- ``mixer``: the chain's one compiled call per block.
- ``virtual``: a JACK dummy server, for running without a sound card; ``player``: the client that
  plays a clip into it and records; ``jack_registry``: clearing what dead servers left in /dev/shm.
- ``quiet``: silencing C libraries that print to stderr.

Importing this package imports neither sounddevice nor numba: the names below load their module
on first use.
"""

import importlib

_EXPORTS = {
    "LiveSession": "session", "DeviceLost": "session", "KeyReader": "keys",
    "list_devices": "devices", "has_duplex_device": "devices", "jack_device": "devices", "resolve_device": "devices",
    "terminate_portaudio": "devices", "reinitialize_portaudio": "devices",
    "play_through": "playthrough", "align": "playthrough", "run_virtual": "playthrough",
    "LiveChain": "chain", "load_models": "chain", "JackDummyServer": "virtual", "DEFAULT_PERIOD": "virtual",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    """Load the module that defines ``name`` on first use (PEP 562)."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
