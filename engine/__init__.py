"""Real-time LSTM/GRU audio models at any sample rate.

>>> import engine
>>> model = engine.load_model("amp.json")                 # any supported format
>>> p = engine.Processor(model, sample_rate=48000)        # corrected for R = 48000 / model rate
>>> y = p.process(x)                                      # float32, streaming, any block size
"""

from .errors import (ArgumentError, AudioFileError, AudioInputError, ConfigError, ControlError, DeviceError, EngineError,
                     ModelFileError, SampleRateError, StabilityWarning, UnsupportedModelError)
from .formats import load_model
from .model import Model
from .processor import INTERPOLATIONS, Processor

__all__ = [
    "load_model", "Model", "Processor", "INTERPOLATIONS",
    "EngineError", "ArgumentError", "ModelFileError", "UnsupportedModelError", "SampleRateError", "AudioInputError",
    "ControlError", "ConfigError", "AudioFileError", "DeviceError", "StabilityWarning",
]
