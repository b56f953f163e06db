"""Live-session configuration: YAML → a frozen, validated LiveConfig.

Only ``yaml.safe_load`` is used. Every key is checked: an unknown key, a wrong type or an
out-of-range value is a ConfigError naming the file, the key path (``models[1].controls``) and
what is allowed. Paths are resolved relative to the YAML file. configs/README.md documents
every key with its unit and default.
"""

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass

import yaml

from .delay import DEFAULT_INTERPOLATION, INTERPOLATIONS
from .errors import ConfigError

BLOCK_SIZE_RANGE = (16, 8192)
GAIN_DB_RANGE = (-60.0, 40.0)
SAMPLE_RATE_RANGE = (8000.0, 768000.0)
CROSSFADE_MS_RANGE = (1.0, 1000.0)
MAX_CHANNEL = 64


@dataclass(frozen=True)
class ModelEntry:
    """One model the session can play: its file, training rate override and control values."""

    path: str
    model_rate: float = None
    controls: tuple = ()


@dataclass(frozen=True)
class LiveConfig:
    """A validated live configuration (see configs/README.md for every field)."""

    models: tuple
    input_device: object = None
    output_device: object = None
    sample_rate: float = None
    block_size: int = 128
    input_channel: int = 1
    output_channels: tuple = (1, 2)
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    interpolation: str = DEFAULT_INTERPOLATION
    limiter: bool = True
    crossfade_ms: float = 20.0
    demo_clip: str = None
    source: str = "<defaults>"

    def with_models(self, *paths):
        """A copy whose models are ``paths`` (str or ModelEntry), the first one playing at start."""
        entries = tuple(p if isinstance(p, ModelEntry) else ModelEntry(path=os.fspath(p)) for p in paths)
        return dataclasses.replace(self, models=entries)

    def replace(self, **changes):
        """A copy with ``changes`` applied, each validated as if it came from the file."""
        checked = {}
        for key, value in changes.items():
            checked[key] = FIELD_CHECKS[key](value, key, self.source)
        return dataclasses.replace(self, **checked)


def _fail(source, key, message):
    raise ConfigError(f"{source}: {key} {message}")


def _number(value, key, source, low, high, unit):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(source, key, f"must be a number of {unit} from {low:g} to {high:g}, got {value!r}")
    if not low <= value <= high:
        _fail(source, key, f"must be from {low:g} to {high:g} {unit}, got {value!r}")
    return float(value)


def _whole(value, key, source, low, high, what="a whole number"):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(source, key, f"must be {what} from {low} to {high}, got {value!r}")
    return value


def _device(value, key, source):
    """An index, a name substring, or null / "default" for the system default."""
    if value is None or value == "default":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or isinstance(value, int) and value < 0 \
            or isinstance(value, str) and not value.strip():
        _fail(source, key, f"must be a device index (0, 1, …), part of a device name, or default; got {value!r}")
    return value


def _sample_rate(value, key, source):
    if value is None or value == "device":
        return None
    return _number(value, key, source, *SAMPLE_RATE_RANGE, "Hz")


def _channel(value, key, source):
    return _whole(value, key, source, 1, MAX_CHANNEL, "a channel number (1 = the first)")


def _channels(value, key, source):
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not value:
        _fail(source, key, f"must be a list of channel numbers like [1, 2], got {value!r}")
    channels = tuple(_channel(v, f"{key}[{i}]", source) for i, v in enumerate(value))
    if len(set(channels)) != len(channels):
        _fail(source, key, f"lists a channel twice: {list(channels)}")
    return channels


def _interpolation(value, key, source):
    if value not in INTERPOLATIONS:
        _fail(source, key, f"must be one of {', '.join(INTERPOLATIONS)}, got {value!r}")
    return value


def _boolean(value, key, source):
    if not isinstance(value, bool):
        _fail(source, key, f"must be true or false, got {value!r}")
    return value


def _controls(value, key, source):
    if not isinstance(value, list):
        _fail(source, key, f"must be a list of knob values from 0 to 1, like [0.5, 0.7], got {value!r}")
    return tuple(_number(v, f"{key}[{i}]", source, 0.0, 1.0, "(knob position)") for i, v in enumerate(value))


def _path(value, key, source, base):
    if not isinstance(value, str) or not value.strip():
        _fail(source, key, f"must be a file path, got {value!r}")
    resolved = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    if not os.path.isfile(resolved):
        _fail(source, key, f"names {value!r}, which does not exist (resolved to {resolved})")
    return resolved


FIELD_CHECKS = {
    "input_device": _device,
    "output_device": _device,
    "sample_rate": _sample_rate,
    "block_size": lambda v, k, s: _whole(v, k, s, *BLOCK_SIZE_RANGE, "a whole number of frames"),
    "input_channel": _channel,
    "output_channels": _channels,
    "input_gain_db": lambda v, k, s: _number(v, k, s, *GAIN_DB_RANGE, "dB"),
    "output_gain_db": lambda v, k, s: _number(v, k, s, *GAIN_DB_RANGE, "dB"),
    "interpolation": _interpolation,
    "limiter": _boolean,
    "crossfade_ms": lambda v, k, s: _number(v, k, s, *CROSSFADE_MS_RANGE, "ms"),
}
TOP_LEVEL_KEYS = ("model", "model_rate", "controls", "models", "demo_clip", *FIELD_CHECKS)
MODEL_KEYS = ("path", "model_rate", "controls")


def _refuse_unknown(mapping, allowed, where, source):
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown key {where}{key!r}{hint}; valid keys: {', '.join(allowed)}")


def _model_entry(value, key, source, base):
    """One entry of ``models``: a path, or a mapping {path, model_rate, controls}."""
    if isinstance(value, str):
        return ModelEntry(path=_path(value, key, source, base))
    if not isinstance(value, dict):
        _fail(source, key, f"must be a model path or a mapping with keys {', '.join(MODEL_KEYS)}, got {value!r}")
    _refuse_unknown(value, MODEL_KEYS, f"in {key}: ", source)
    if "path" not in value:
        _fail(source, key, "needs a path")
    return _checked_entry(value["path"], value.get("model_rate"), value.get("controls", []),
                          (f"{key}.path", f"{key}.model_rate", f"{key}.controls"), source, base)


def _checked_entry(path, rate, controls, keys, source, base):
    """A ModelEntry from its three values, each checked under its key path in ``keys``."""
    path_key, rate_key, controls_key = keys
    return ModelEntry(
        path=_path(path, path_key, source, base),
        model_rate=None if rate is None else _number(rate, rate_key, source, *SAMPLE_RATE_RANGE, "Hz"),
        controls=_controls(controls, controls_key, source),
    )


def parse_config(document, source="<config>", base_directory="."):
    """Validate a parsed YAML document.

    Parameters
    ----------
    document : dict
        The result of ``yaml.safe_load``.
    source : str
        The file name, for messages.
    base_directory : str
        Where relative paths are resolved from (the YAML file's folder).

    Returns
    -------
    LiveConfig

    Raises
    ------
    ConfigError
        On an unknown key, a wrong type, an out-of-range value or a missing file.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: the file must hold a mapping of keys (model: ..., block_size: ...), "
                          f"got {type(document).__name__}")
    _refuse_unknown(document, TOP_LEVEL_KEYS, "", source)
    if "model" not in document:
        raise ConfigError(f"{source}: needs a model key (the path of the model file, relative to this file)")
    entries = [_checked_entry(document["model"], document.get("model_rate"), document.get("controls", []),
                              ("model", "model_rate", "controls"), source, base_directory)]
    extra = document.get("models", [])
    if not isinstance(extra, list):
        _fail(source, "models", f"must be a list of model paths or mappings, got {extra!r}")
    entries += [_model_entry(v, f"models[{i}]", source, base_directory) for i, v in enumerate(extra)]
    if len(entries) > 9:
        _fail(source, "models", f"lists {len(entries) - 1} extra models; keys 1-9 switch among at most 9 in all")
    fields = {key: check(document[key], key, source) for key, check in FIELD_CHECKS.items() if key in document}
    if document.get("demo_clip") is not None:
        fields["demo_clip"] = _path(document["demo_clip"], "demo_clip", source, base_directory)
    return LiveConfig(models=tuple(entries), source=source, **fields)


def load_config(path):
    """Read and validate a YAML configuration file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    LiveConfig

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or any key is wrong (see :func:`parse_config`).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such config file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc})") from None
    return parse_config(document, source=path, base_directory=os.path.dirname(os.path.abspath(path)))
