"""The engine's exceptions.

Every error a user can cause is an :class:`EngineError` with a one-line message that names
the file or argument, what was found and what was expected. Each subclass is also the
built-in exception a Python caller would naturally catch (``ValueError`` for bad values,
``OSError`` for files and devices), so ``except ValueError`` keeps working.
"""


import difflib
import math
import reprlib

#: The most characters of a value an error message quotes: a value from an untrusted file or
#: config (a string of megabytes, a YAML alias bomb, an integer of 5000 digits) must not become
#: a message of that size, nor take long to write.
QUOTE_CHARS = 60


class _ShortRepr(reprlib.Repr):
    """reprlib with small limits, and an integer too long to write out (repr refuses over 4300 digits) described."""

    def __init__(self):
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = self.maxdeque = 4
        self.maxstring = self.maxother = self.maxlong = QUOTE_CHARS

    def repr_int(self, x, level):
        if abs(x).bit_length() > 3 * QUOTE_CHARS:
            digits = math.floor(math.log10(abs(x))) + 1  # log10 takes any int; float rounding may add one
            if 10 ** (digits - 1) > abs(x):
                digits -= 1
            return f"<{'a negative' if x < 0 else 'an'} integer of {digits} digits>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()


def quote(value, limit=QUOTE_CHARS):
    """The repr of ``value`` for an error message, at most about ``limit`` characters.

    Bounded in time as well as length: nested containers are cut at depth 3 and 4 items each,
    so a YAML alias bomb (a list holding itself 9 deep, 9 times over) costs microseconds.

    Parameters
    ----------
    value : object
        Usually a value parsed from JSON or YAML, or an argument.
    limit : int
        The most characters returned.

    Returns
    -------
    str
        E.g. ``'48 kHz'``, ``[1, 2, 3, 4, ...]``, ``<an integer of 400 digits>``.
    """
    try:
        text = _SHORT.repr(value)
    except Exception:  # a repr that fails must not replace the error being reported
        text = f"a value of type {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fail_at(source, key, message):
    """Raise the ConfigError ``<source>: <key> <message>`` (a config key's one line).

    Raises
    ------
    ConfigError
        Always.
    """
    raise ConfigError(f"{source}: {key} {message}")


def did_you_mean(value, choices):
    """" (did you mean 'x'?)" for the choice closest to ``value`` (a string), or "" if none is close.

    Parameters
    ----------
    value : object
        What was given; only a string is compared (its first 100 characters, so a huge value costs nothing).
    choices : sequence of str

    Returns
    -------
    str
    """
    close = difflib.get_close_matches(value[:100], choices, n=1) if isinstance(value, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def refuse_unknown(mapping, allowed, where, source):
    """Raise a ConfigError for the first key of ``mapping`` not in ``allowed``, with a did-you-mean.

    Parameters
    ----------
    mapping : dict
        The keys a file (or a call) gave.
    allowed : sequence of str
        The valid keys, listed in the message in this order.
    where : str
        Where the mapping sits, with a trailing space: ``""`` for the top level, ``"in chain.eq: "``.
    source : str
        The file (or caller) named at the start of the message.

    Raises
    ------
    ConfigError
        ``<source>: unknown key <where>'tremble_db' (did you mean 'treble_db'?); valid keys: ...``.
    """
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {where}{quote(key)}{did_you_mean(key, allowed)}; "
                              f"valid keys: {', '.join(allowed)}")


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
