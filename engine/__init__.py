"""Real-time LSTM/GRU audio models at any sample rate.

>>> import engine
>>> model = engine.load_model("amp.json")                 # any supported format
>>> p = engine.Processor(model, sample_rate=48000)        # corrected for R = 48000 / model rate
>>> y = p.process(x)                                      # float32, streaming, any block size
>>> chain = engine.Chain(model, 48000, gate={"threshold_db": -65}, cabinet="models/cabinet_4x12.wav")
>>> y = chain.process(x)                                  # gate → model → cabinet, mono
>>> with engine.LiveSession("configs/guitar.yaml") as live:  # on the audio interface (engine.live)
...     live.start(); live.switch(1); print(live.stats())

The package is laid out along the data's one-way path: ``formats`` (files) → ``model`` (the
validated network) → ``packing`` and ``kernels`` (the compiled per-sample networks) with
``delay`` and ``stability`` (the rate correction) → ``processor`` (prepare / reset / process),
with ``dsp`` (gate, EQ, cabinet) around it in ``signal_chain`` (Chain) →
``render``, ``evaluate`` and ``live`` (offline files, the quality report, the audio interface) →
``cli``. Importing ``engine`` loads only the exceptions; everything else loads on first use
(PEP 562), so a command's ``--help`` does not wait for numba.
"""

import importlib

from .errors import (ArgumentError, AudioFileError, AudioInputError, ConcurrencyError, ConfigError, ControlError,
                     DeviceError, EngineError, ModelFileError, SampleRateError, StabilityWarning, UnsupportedModelError)

_LAZY = {"load_model": "formats", "Model": "model", "Processor": "processor", "INTERPOLATIONS": "delay",
         "LiveSession": "live", "Chain": "signal_chain", "load_config": "config"}
#: Submodules reachable as attributes after a plain ``import engine`` (engine.config.load_config, ...).
_SUBMODULES = ("config", "live", "dsp", "evaluate", "render", "auto", "testing")

__all__ = [
    "load_model", "load_config", "Model", "Processor", "Chain", "INTERPOLATIONS", "LiveSession",
    "EngineError", "ArgumentError", "ModelFileError", "UnsupportedModelError", "SampleRateError", "AudioInputError",
    "ControlError", "ConfigError", "AudioFileError", "DeviceError", "ConcurrencyError", "StabilityWarning",
]


def __getattr__(name):
    """Import the module behind a public name on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
