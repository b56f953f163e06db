"""Live-session configuration: YAML → a frozen, validated LiveConfig.

Only PyYAML's SafeLoader is used (plain data). Every key is checked: an unknown key, a wrong
type or an out-of-range value is a ConfigError naming the file, the key path
(``models[1].controls``) and what is allowed. Paths are resolved relative to the YAML file.
configs/README.md documents every key with its unit and default (tests/test_config.py holds
its allowed values to these checks).

Hostile files cost nothing: the file is refused past MAX_CONFIG_BYTES or MAX_DEPTH before or
while it is read, and a message quotes at most QUOTE_CHARS of a value (``quote``), so a YAML
alias bomb (a billion elements in a few hundred bytes) is refused in microseconds instead of
being printed.
"""

import dataclasses
import math
import os
from dataclasses import dataclass

import yaml

from .audiofile import path_problem
from .chain_settings import ChainSettings, parse_chain
from .control_table import GAIN_DB_RANGE
from .errors import QUOTE_CHARS, ArgumentError, ConfigError, did_you_mean, quote, refuse_unknown  # noqa: F401  (QUOTE_CHARS: documented here)
from .errors import fail_at as _fail
from .midi_settings import MidiSettings, check_midi_stages, parse_midi
from .methods import CHOICES, DEFAULT_INTERPOLATION, OVERSAMPLE_FACTORS, check_oversample

BLOCK_SIZE_RANGE = (16, 8192)
SAMPLE_RATE_RANGE = (8000.0, 768000.0)
CROSSFADE_MS_RANGE = (1.0, 1000.0)
CONTROL_RANGE = (0.0, 1.0)
MAX_CHANNEL = 64
MAX_MODELS = 9  # keys 1-9

#: A config is a page of keys (the shipped one is 1.5 kB): anything larger is not one, and is
#: refused before it is read.
MAX_CONFIG_BYTES = 256 * 1024
#: The deepest nesting a valid config has is 4 (mapping → models → entry → controls); past this
#: the YAML is refused while it is composed, long before Python's recursion limit.
MAX_DEPTH = 32


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
    oversample: int = 1
    limiter: bool = True
    crossfade_ms: float = 20.0
    audio_api: str = "portaudio"
    demo_clip: str = None
    chain: ChainSettings = ChainSettings()
    midi: MidiSettings = None
    source: str = "<defaults>"

    def with_models(self, *paths):
        """A copy whose models are ``paths`` (str or ModelEntry), the first one playing at start."""
        entries = tuple(p if isinstance(p, ModelEntry) else ModelEntry(path=os.fspath(p)) for p in paths)
        return dataclasses.replace(self, models=entries)

    def replace(self, **changes):
        """A copy with ``changes`` applied, each validated as if it came from the file.

        ``chain`` takes a ChainSettings (engine.chain_settings: parse_chain makes one from a
        config's ``chain:`` mapping; ``ChainSettings()`` is the model alone); ``midi`` a
        MidiSettings or None (engine.midi_settings.parse_midi).
        """
        checked = {}
        for key, value in changes.items():
            if key == "chain":
                if not isinstance(value, ChainSettings):
                    raise ConfigError(f"{self.source}: chain must be a ChainSettings (engine.chain_settings), "
                                      f"got {type(value).__name__}")
                checked[key] = value
                continue
            if key == "midi":
                if value is not None and not isinstance(value, MidiSettings):
                    raise ConfigError(f"{self.source}: midi must be a MidiSettings (engine.midi_settings) or None, "
                                      f"got {type(value).__name__}")
                checked[key] = value
                continue
            checked[key] = FIELD_CHECKS[key](value, key, self.source)
        changed = dataclasses.replace(self, **checked)
        check_midi_stages(changed.midi, changed.chain, self.source)
        return changed


def _number(value, key, source, low, high, unit):
    try:
        # float() of an integer too large for a double raises OverflowError: out of range, like inf
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite:
        _fail(source, key, f"must be a number of {unit} from {low:g} to {high:g}, got {quote(value)}")
    if not low <= value <= high:
        _fail(source, key, f"must be from {low:g} to {high:g} {unit}, got {quote(value)}")
    return float(value)


def _whole(value, key, source, low, high, what="a whole number"):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(source, key, f"must be {what} from {low} to {high}, got {quote(value)}")
    return value


def _device(value, key, source):
    """An index, a name substring, or null / "default" for the system default."""
    if value is None or value == "default":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or isinstance(value, int) and value < 0 \
            or isinstance(value, str) and not value.strip():
        _fail(source, key, f"must be a device index (0, 1, …), part of a device name, or default; got {quote(value)}")
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
        _fail(source, key, f"must be a list of channel numbers like [1, 2], got {quote(value)}")
    channels = tuple(_channel(v, f"{key}[{i}]", source) for i, v in enumerate(value))
    if len(set(channels)) != len(channels):
        _fail(source, key, f"lists a channel twice: {list(channels)}")
    return channels


def _interpolation(value, key, source):
    if not isinstance(value, str) or value not in CHOICES:
        _fail(source, key, f"must be one of {', '.join(CHOICES)}, got {quote(value)}")
    return value


def _oversample(value, key, source):
    try:
        return check_oversample(value, key)
    except ArgumentError:
        _fail(source, key, f"must be one of {', '.join(map(str, OVERSAMPLE_FACTORS))}, got {quote(value)}")


def _boolean(value, key, source):
    if not isinstance(value, bool):
        _fail(source, key, f"must be true or false, got {quote(value)}")
    return value


def _controls(value, key, source):
    if not isinstance(value, list):
        _fail(source, key, f"must be a list of knob values from 0 to 1, like [0.5, 0.7], got {quote(value)}")
    return tuple(_number(v, f"{key}[{i}]", source, *CONTROL_RANGE, "(knob position)") for i, v in enumerate(value))


def _path(value, key, source, base):
    if not isinstance(value, str) or not value.strip():
        _fail(source, key, f"must be a file path, got {quote(value)}")
    resolved = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    problem = path_problem(resolved)
    if problem is not None:
        shown = resolved if len(resolved) <= 120 else resolved[:60] + "..." + resolved[-57:]
        _fail(source, key, f"names {quote(value)}, which {problem} (resolved to {shown})")
    return resolved


AUDIO_APIS = ("portaudio", "jack")


def _audio_api(value, key, source):
    if value not in AUDIO_APIS:
        _fail(source, key, f"must be one of {', '.join(AUDIO_APIS)}, got {quote(value)}"
                           f"{did_you_mean(value, AUDIO_APIS)}")
    return value


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
    "oversample": _oversample,
    "limiter": _boolean,
    "crossfade_ms": lambda v, k, s: _number(v, k, s, *CROSSFADE_MS_RANGE, "ms"),
    "audio_api": _audio_api,
}
TOP_LEVEL_KEYS = ("model", "model_rate", "controls", "models", "demo_clip", "chain", "midi", *FIELD_CHECKS)
MODEL_KEYS = ("path", "model_rate", "controls")


_refuse_unknown = refuse_unknown  # the name engine.dsp.settings and older code import


def _model_entry(value, key, source, base):
    """One entry of ``models``: a path, or a mapping {path, model_rate, controls}."""
    if isinstance(value, str):
        return ModelEntry(path=_path(value, key, source, base))
    if not isinstance(value, dict):
        _fail(source, key, f"must be a model path or a mapping with keys {', '.join(MODEL_KEYS)}, got {quote(value)}")
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
    extra = document.get("models", [])
    if not isinstance(extra, list):
        _fail(source, "models", f"must be a list of model paths or mappings, got {quote(extra)}")
    if len(extra) + 1 > MAX_MODELS:  # before any entry is checked: a long list costs nothing
        _fail(source, "models", f"lists {len(extra)} extra models; keys 1-9 switch among at most "
                                f"{MAX_MODELS} in all")
    entries = [_checked_entry(document["model"], document.get("model_rate"), document.get("controls", []),
                              ("model", "model_rate", "controls"), source, base_directory)]
    entries += [_model_entry(v, f"models[{i}]", source, base_directory) for i, v in enumerate(extra)]
    fields = {key: check(document[key], key, source) for key, check in FIELD_CHECKS.items() if key in document}
    if document.get("demo_clip") is not None:
        fields["demo_clip"] = _path(document["demo_clip"], "demo_clip", source, base_directory)
    fields["chain"] = parse_chain(document.get("chain"), source, base_directory)  # the stages around the model
    fields["midi"] = parse_midi(document.get("midi"), source)
    check_midi_stages(fields["midi"], fields["chain"], source)
    return LiveConfig(models=tuple(entries), source=source, **fields)


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than MAX_DEPTH while composing, and names the
    line of a value Python cannot build (a date like 2001-02-30, an integer of 5000 digits)."""

    def __init__(self, stream, source):
        super().__init__(stream)
        self.source = source
        self.depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(f"{self.source}: nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}, "
                                  f"column {mark.column + 1}; a config nests at most 4 (models[i].controls[j])")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except ConfigError:
            raise
        except (ValueError, OverflowError) as exc:
            # e.g. "day is out of range for month", "Exceeds the limit (4300 digits) for integer string
            # conversion: ... use sys.set_int_max_str_digits()": the part before the advice
            reason = (str(exc).split(":")[0] or type(exc).__name__)[:100]
            shown = quote(node.value) if isinstance(node.value, str) else "a value"
            raise ConfigError(f"{self.source}: {shown} at line {node.start_mark.line + 1}, column "
                              f"{node.start_mark.column + 1} cannot be read ({reason})") from None

    def construct_mapping(self, node, deep=False):
        """A mapping, refusing a key written twice (YAML would keep the last one silently)."""
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # a merge key (<<) or a complex key: left to PyYAML
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(f"{self.source}: {quote(key)} is given twice in one mapping (lines {seen[key]} "
                                      f"and {line}); keep one")
                seen[key] = line
        return super().construct_mapping(node, deep)


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
        If the file is missing, not a regular file (a directory, a FIFO), larger than
        MAX_CONFIG_BYTES, not UTF-8 YAML, nested deeper than MAX_DEPTH, or any key is wrong
        (see :func:`parse_config`).
    """
    path = os.fspath(path)
    problem = path_problem(path)
    if problem == "does not exist":
        raise ConfigError(f"{path}: no such config file")
    if problem is not None:
        raise ConfigError(f"{path}: {problem}; give the YAML config file (see configs/README.md)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # never more: the size on disk may be wrong (/proc)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a config is a page of keys "
                          f"(see configs/README.md)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start} is {data[exc.start]:#04x})") from None
    loader = _ConfigLoader(text, path)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {quote(problem, 120)}") from None
    except RecursionError:  # MAX_DEPTH stops nesting first; this is the last line of defence
        raise ConfigError(f"{path}: nested too deeply to read; a config nests at most 4 levels") from None
    finally:
        loader.dispose()
    return parse_config(document, source=path, base_directory=os.path.dirname(os.path.abspath(path)))
