"""The stages' parameters (noise gate, EQ, cabinet): names, units, defaults, ranges, and their validation.

One place for the checks, so the config loader (a ``chain:`` entry), the Python classes' ``set``
methods and the live controls all refuse the same values with the same one-line
:class:`~engine.errors.ConfigError`, e.g.::

    guitar.yaml: gate.threshold_db must be from -140 to 0 dBFS, got 3
    guitar.yaml: unknown key in eq: 'tremble_db' (did you mean 'treble_db'?); valid keys: bass_db, ...
    guitar.yaml: eq.treble_hz must be below the Nyquist frequency (22050 Hz at 44100 Hz), got 23000

Each stage is described by a table of :class:`Parameter` rows (GATE_PARAMETERS, EQ_PARAMETERS):
the documentation (configs/README.md), the validation and the defaults all read it. A validated
stage is a frozen dataclass (:class:`GateSettings`, :class:`EqSettings`) whose fields are those
keys, in float. The cabinet's keys (an IR file, a mix, a level, a flag) are checked by
:func:`validate_cabinet` into :class:`CabinetSettings`; the IR file itself is read when the stage
is prepared (engine.dsp.cabinet.Cabinet.from_settings).

Nothing here imports numba or numpy: reading a config never loads the kernels.
"""

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass

from ..audiofile import path_problem
from ..errors import ArgumentError, ConfigError, SampleRateError, quote
from ..errors import refuse_unknown as _refuse_unknown

#: The sample rates a stage can be prepared at (as engine.config's sample_rate key).
SAMPLE_RATE_RANGE = (8000.0, 768000.0)


@dataclass(frozen=True)
class Parameter:
    """One key of a stage: its default, allowed range (inclusive) and unit, and what it means."""

    key: str
    default: float
    low: float
    high: float
    unit: str
    meaning: str


GATE_PARAMETERS = (
    Parameter("threshold_db", -70.0, -140.0, 0.0, "dBFS",
              "the gate opens when the detected level reaches this (a sine of peak amplitude A reads 20·log10 A)"),
    Parameter("hysteresis_db", 6.0, 0.0, 40.0, "dB",
              "the gate closes only below threshold_db − hysteresis_db, so a level hovering at the threshold "
              "cannot make it chatter"),
    Parameter("attack_ms", 1.0, 0.1, 500.0, "ms",
              "time constant of the opening gain (it covers 63 % of the way to fully open in attack_ms)"),
    Parameter("hold_ms", 50.0, 0.0, 5000.0, "ms",
              "how long the level must stay below the closing level before the gate starts to close"),
    Parameter("release_ms", 20.0, 1.0, 5000.0, "ms",
              "time constant of the closing gain (8.7 dB of attenuation per release_ms, down to closed_gain_db)"),
    Parameter("closed_gain_db", -80.0, -120.0, 0.0, "dB",
              "the gain of the closed gate (the attenuation of what it mutes)"),
    Parameter("detector_ms", 10.0, 0.1, 1000.0, "ms",
              "time constant of the level detector (a one-pole average of the signal's square)"),
)

#: The EQ's bands in processing order: (name, filter kind, default frequency Hz, default Q).
#: Kinds: "low_shelf", "peaking", "high_shelf" (RBJ Audio EQ Cookbook, see engine.dsp.eq).
EQ_BANDS = (
    ("bass", "low_shelf", 150.0, 0.7071),
    ("mid", "peaking", 425.0, 0.7),
    ("treble", "high_shelf", 1800.0, 0.7071),
    ("presence", "peaking", 4000.0, 0.7),
)
EQ_GAIN_DB_RANGE = (-20.0, 20.0)
EQ_FREQUENCY_RANGE = (10.0, 40000.0)  # and below the running rate's Nyquist frequency (checked at prepare)
EQ_Q_RANGE = (0.1, 10.0)
EQ_RAMP_MS_RANGE = (0.0, 1000.0)


def _eq_parameters():
    rows = []
    for band, kind, hz, q in EQ_BANDS:
        what = kind.replace("_", "-")
        rows += [Parameter(f"{band}_db", 0.0, *EQ_GAIN_DB_RANGE, "dB", f"gain of the {band} {what} band"),
                 Parameter(f"{band}_hz", hz, *EQ_FREQUENCY_RANGE, "Hz",
                           f"{'corner (shelf midpoint)' if 'shelf' in kind else 'centre'} frequency of the {band} "
                           f"band; must be below the Nyquist frequency of the running rate"),
                 Parameter(f"{band}_q", q, *EQ_Q_RANGE, "",
                           f"Q of the {band} band" + (" (0.7071: shelf slope S = 1, the steepest without "
                                                     "overshoot)" if "shelf" in kind else ""))]
    rows.append(Parameter("ramp_ms", 20.0, *EQ_RAMP_MS_RANGE, "ms",
                          "a change of any band glides there in this time (0: at once, which can click)"))
    return tuple(rows)


EQ_PARAMETERS = _eq_parameters()


def _settings_class(name, parameters, doc):
    fields = [(p.key, float, dataclasses.field(default=p.default)) for p in parameters]
    cls = dataclasses.make_dataclass(name, fields, frozen=True)
    cls.__module__ = __name__  # so it pickles and reprs as engine.dsp.settings.<name>
    cls.__doc__ = doc
    return cls


GateSettings = _settings_class("GateSettings", GATE_PARAMETERS,
                               "Validated noise-gate settings (keys: GATE_PARAMETERS; see engine.dsp.gate).")
EqSettings = _settings_class("EqSettings", EQ_PARAMETERS,
                             "Validated EQ settings (keys: EQ_PARAMETERS; see engine.dsp.eq).")


def _validate(document, parameters, cls, source, where):
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: {where} must be a mapping of keys ({', '.join(p.key for p in parameters[:3])}, "
                          f"...), got {quote(document)}")
    keys = tuple(p.key for p in parameters)
    _refuse_unknown(document, keys, f"in {where}: ", source)
    return cls(**{p.key: _checked_number(document[p.key], p, source, where) for p in parameters if p.key in document})


def _checked_number(value, parameter, source, where):
    """A finite number within the parameter's range, as float (engine.config's messages, any unit)."""
    try:
        # float() of an integer too large for a double raises OverflowError: out of range, like inf
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(float(value))
    except OverflowError:
        finite = False
    unit = f" {parameter.unit}" if parameter.unit else ""
    span = f"from {parameter.low:g} to {parameter.high:g}{unit}"
    if not finite:
        raise ConfigError(f"{source}: {where}.{parameter.key} must be a number {span}, got {quote(value)}")
    if not parameter.low <= value <= parameter.high:
        raise ConfigError(f"{source}: {where}.{parameter.key} must be {span}, got {quote(value)}")
    return float(value)


def validate_gate(document, source="<config>", where="gate"):
    """Validate a noise gate's keys.

    Parameters
    ----------
    document : dict or None
        The stage's keys (a subset of GATE_PARAMETERS' keys; missing ones take their defaults).
        None means every default.
    source : str
        The config file's name, for messages.
    where : str
        The stage's key path in the file (``gate``, ``chain[0]``), for messages.

    Returns
    -------
    GateSettings

    Raises
    ------
    ConfigError
        On an unknown key (with a did-you-mean), a value that is not a finite number, or one out
        of its range; the message names ``where.key``, the value given and the allowed range.
    """
    return _validate(document, GATE_PARAMETERS, GateSettings, source, where)


def validate_eq(document, source="<config>", where="eq", sample_rate=None):
    """Validate an EQ's keys.

    Parameters
    ----------
    document : dict or None
        The stage's keys (a subset of EQ_PARAMETERS' keys; missing ones take their defaults).
    source, where : str
        For messages, as in :func:`validate_gate`.
    sample_rate : float, optional
        The running rate, when known: every band's frequency must then be below its Nyquist
        frequency (the EQ checks this again when it is prepared).

    Returns
    -------
    EqSettings

    Raises
    ------
    ConfigError
        On an unknown key, a non-number, a value out of its range, or a frequency at or above
        the Nyquist frequency of ``sample_rate``.
    """
    settings = _validate(document, EQ_PARAMETERS, EqSettings, source, where)
    if sample_rate is not None:
        check_eq_frequencies(settings, sample_rate, source, where)
    return settings


def check_eq_frequencies(settings, sample_rate, source="<config>", where="eq"):
    """Refuse a band frequency at or above the Nyquist frequency of ``sample_rate``.

    Parameters
    ----------
    settings : EqSettings
    sample_rate : float
    source, where : str
        For messages.

    Raises
    ------
    ConfigError
        Naming the first offending key, e.g. ``eq.treble_hz must be below the Nyquist frequency
        (22050 Hz at 44100 Hz), got 23000``.
    """
    nyquist = sample_rate / 2.0
    for band, _, _, _ in EQ_BANDS:
        value = getattr(settings, f"{band}_hz")
        if value >= nyquist:
            raise ConfigError(f"{source}: {where}.{band}_hz must be below the Nyquist frequency "
                              f"({nyquist:g} Hz at {sample_rate:g} Hz), got {value:g}")


def checked_sample_rate(sample_rate):
    """The running rate as a float, or raise.

    Parameters
    ----------
    sample_rate : float

    Returns
    -------
    float

    Raises
    ------
    SampleRateError
        If it is not a finite number within SAMPLE_RATE_RANGE.
    """
    low, high = SAMPLE_RATE_RANGE
    try:
        ok = not isinstance(sample_rate, bool) and low <= float(sample_rate) <= high
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise SampleRateError(f"sample_rate must be a number of Hz from {low:g} to {high:g}, got {quote(sample_rate)}")
    return float(sample_rate)


def replaced(settings, changes, parameters, source, where):
    """``settings`` with ``changes`` applied, each validated (for the classes' ``set`` methods).

    Parameters
    ----------
    settings : GateSettings or EqSettings
    changes : dict
        Keys of ``parameters`` and their new values.
    parameters : tuple of Parameter
    source, where : str
        For messages.

    Returns
    -------
    the same type as ``settings``

    Raises
    ------
    ConfigError
        As :func:`validate_gate`.
    """
    merged = dict(dataclasses.asdict(settings))
    keys = tuple(p.key for p in parameters)
    _refuse_unknown(changes, keys, f"in {where}: ", source)
    merged.update(changes)
    return _validate(merged, parameters, type(settings), source, where)


def parameters_markdown(parameters):
    """The keys of a stage as a Markdown table (key, unit, default, range, meaning), for configs/README.md.

    Parameters
    ----------
    parameters : tuple of Parameter
        GATE_PARAMETERS or EQ_PARAMETERS.

    Returns
    -------
    str
    """
    rows = ["| key | unit | default | range | meaning |", "|---|---|---|---|---|"]
    for p in parameters:
        rows.append(f"| `{p.key}` | {p.unit or '–'} | {p.default:g} | {p.low:g} … {p.high:g} | {p.meaning} |")
    return "\n".join(rows) + "\n"


# ---- the cabinet (engine.dsp.cabinet) --------------------------------------------------------

#: The range of the cabinet's ``level_db``.
MIN_LEVEL_DB = -60.0
MAX_LEVEL_DB = 24.0
#: The keys of a cabinet stage in a config file (see :func:`validate_cabinet`).
CABINET_KEYS = ("ir", "mix", "level_db", "normalize")


def check_mix(mix, name="mix"):
    """Validate a dry/wet mix.

    Parameters
    ----------
    mix : float
    name : str
        How the value is named in the message (an argument, or a config key).

    Returns
    -------
    float
        ``mix``, from 0 (dry) to 1 (cabinet only).

    Raises
    ------
    ArgumentError
        Not a finite number from 0 to 1.
    """
    value = _number(mix, name)
    if not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{name} must lie from 0 (dry) to 1 (cabinet only), got {quote(mix)}")
    return value


def check_level_db(level_db, name="level_db"):
    """Validate the cabinet's level.

    Parameters
    ----------
    level_db : float
    name : str
        How the value is named in the message (an argument, or a config key).

    Returns
    -------
    float
        ``level_db``, from MIN_LEVEL_DB to MAX_LEVEL_DB.

    Raises
    ------
    ArgumentError
        Not a finite number in range.
    """
    value = _number(level_db, name)
    if not MIN_LEVEL_DB <= value <= MAX_LEVEL_DB:
        raise ArgumentError(f"{name} must lie from {MIN_LEVEL_DB:g} to {MAX_LEVEL_DB:g} dB, got {quote(level_db)}")
    return value


def _number(value, name):
    # numbers.Real: int, float and numpy's integer and floating scalars (numpy registers them)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, got {quote(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {quote(value)}")
    return value


@dataclass(frozen=True)
class CabinetSettings:
    """A cabinet stage as a config file describes it (validated by :func:`validate_cabinet`).

    ir : the IR file's resolved path; mix : 0 … 1; level_db : MIN_LEVEL_DB … MAX_LEVEL_DB;
    normalize : bool; label : how the IR is named in messages.
    """

    ir: str
    mix: float = 1.0
    level_db: float = 0.0
    normalize: bool = True
    label: str = None


def validate_cabinet(value, source, base, key="cabinet"):
    """Validate a config's cabinet stage: an IR path, or a mapping of :data:`CABINET_KEYS`.

    (engine.dsp.cabinet calls it ``settings_from_config``.)

    ``cabinet: ir.wav`` or ``cabinet: {ir: ir.wav, mix: 1.0, level_db: 0.0, normalize: true}``:
    ``ir`` (required) a file path relative to the config's folder; ``mix`` 0 (dry) … 1 (default 1);
    ``level_db`` MIN_LEVEL_DB … MAX_LEVEL_DB dB (default 0); ``normalize`` true (default: a 0 dB
    peak magnitude response) or false (the file's own gain). The IR file itself is read when the
    stage is prepared (Cabinet.from_settings), its errors naming ``source: key.ir``.

    Parameters
    ----------
    value : str or dict
        What the config holds under ``key``.
    source : str
        The config file, for messages.
    base : str
        The folder relative paths are resolved from.
    key : str
        Where the stage sits in the config (e.g. ``"chain.cabinet"``), for messages.

    Returns
    -------
    CabinetSettings

    Raises
    ------
    ConfigError
        One line naming the key: an unknown key (with the valid ones), a missing or unreadable
        ``ir``, a value of the wrong type or out of range.
    """
    def fail(name, message):
        raise ConfigError(f"{source}: {name} {message}")

    if isinstance(value, str):
        value = {"ir": value}
    if not isinstance(value, dict):
        fail(key, f"must be an IR file path or a mapping with keys {', '.join(CABINET_KEYS)}, got {quote(value)}")
    _refuse_unknown(value, CABINET_KEYS, f"in {key}: ", source)
    if "ir" not in value:
        fail(key, "needs an ir key (the impulse response file, relative to this file)")
    path = value["ir"]
    if not isinstance(path, str) or not path.strip():
        fail(f"{key}.ir", f"must be a file path, got {quote(path)}")
    resolved = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    problem = path_problem(resolved)
    if problem is not None:
        fail(f"{key}.ir", f"names {quote(path)}, which {problem} (resolved to {resolved})")
    checked = {}
    for name, check in (("mix", check_mix), ("level_db", check_level_db)):
        if name in value:
            try:
                checked[name] = check(value[name], f"{key}.{name}")
            except ArgumentError as exc:
                raise ConfigError(f"{source}: {exc}") from None
    if "normalize" in value:
        if not isinstance(value["normalize"], bool):
            fail(f"{key}.normalize", f"must be true or false, got {quote(value['normalize'])}")
        checked["normalize"] = value["normalize"]
    return CabinetSettings(ir=resolved, label=f"{source}: {key}.ir {path}", **checked)
