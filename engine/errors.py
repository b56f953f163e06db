"""The engine's exceptions.

Every error a user can cause is an :class:`EngineError` with a one-line message that names
the file or argument, what was found and what was expected. Each subclass is also the
built-in exception a Python caller would naturally catch (``ValueError`` for bad values,
``OSError`` for files and devices), so ``except ValueError`` keeps working.
"""


class EngineError(Exception):
    """Base class of every error the engine raises on bad input."""


class ModelFileError(EngineError, ValueError):
    """A model file is missing, unreadable, malformed or inconsistent."""


class UnsupportedModelError(ModelFileError):
    """A model file is well formed but describes an architecture the engine does not run."""


class SampleRateError(EngineError, ValueError):
    """A sample rate is not a positive number, or the rate ratio is out of the supported range."""


class ArgumentError(EngineError, ValueError):
    """An argument to the engine's API is out of range or of the wrong kind."""


class AudioInputError(EngineError, ValueError):
    """Audio given to the processor has the wrong dtype, shape or channel count."""


class ControlError(EngineError, ValueError):
    """Control values (knobs of a conditioned model) are of the wrong count or not finite."""


class ConfigError(EngineError, ValueError):
    """A configuration file has an unknown key, a wrong type or an out-of-range value."""


class AudioFileError(EngineError, OSError):
    """An audio file cannot be read or written."""


class DeviceError(EngineError, OSError):
    """An audio device cannot be opened or went away."""


class ConcurrencyError(EngineError, RuntimeError):
    """A Processor was called from a second thread while another call on it was running."""


class StabilityWarning(UserWarning):
    """The requested interpolation was predicted unstable at this rate; a stable one runs instead."""
