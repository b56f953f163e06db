"""The signal chain a config describes (``chain:``): which stages run around the model, in what order.

Stages, by name, in their default order::

    gate     the noise gate (engine.dsp.gate), before the model, on the guitar's direct signal
    model    the amp model (always there; the config's ``model`` key, not a key of ``chain``)
    eq       the tone stack (engine.dsp.eq), after the model
    cabinet  the speaker cabinet's impulse response (engine.dsp.cabinet), last

A stage is on when ``chain`` holds its key with settings (a mapping, possibly empty: every key at
its default; ``true`` means the same; a cabinet needs at least its IR), off when the key is
absent, ``null`` or ``false``. ``order`` (optional) may spell the order out: the stage names in
the default order, ``model`` included (a stage it names that is off is skipped, so the full
default order can be written out and a stage switched off by removing its settings). A config
allows **only the default order**: the live callback (engine.live.callback) runs its stages in
that fixed order, and an offline render of a config must be what engine-live plays; another order
is refused with one line. The Python API (engine.Chain, offline only) takes any order of distinct
stages that includes the model (``check_order(..., any_order=True)``): each stage is a causal,
mono, zero-latency filter with its own state, so every permutation is well defined (e.g. an EQ
before the model, as a boost that drives it).

This module reads settings only (numba-free, no file is opened but checked for existence); the
stages are built from them by engine.signal_chain.Chain.
"""

import dataclasses
from dataclasses import dataclass

from .dsp.settings import CabinetSettings, EqSettings, GateSettings, validate_cabinet, validate_eq, validate_gate
from .errors import ArgumentError, ConfigError, did_you_mean, quote, refuse_unknown

#: Every stage, in the default order.
STAGES = ("gate", "model", "eq", "cabinet")
DEFAULT_ORDER = STAGES
#: The keys of ``chain:``.
CHAIN_KEYS = ("order", "gate", "eq", "cabinet")
_SETTINGS_TYPES = {"gate": GateSettings, "eq": EqSettings, "cabinet": CabinetSettings}


@dataclass(frozen=True)
class ChainSettings:
    """A validated signal chain: the stages that are on, in order, and each one's settings.

    Attributes
    ----------
    order : tuple of str
        The stages that run, in processing order: ``"model"`` and each stage whose settings are
        given, every one exactly once (default: the model alone).
    gate : GateSettings or None
    eq : EqSettings or None
    cabinet : CabinetSettings or None
        None: the stage is off.
    source : str
        The config file (or caller) named in messages about these settings.

    Raises
    ------
    ArgumentError
        If ``order`` and the settings disagree (made by hand; parse_chain never makes such a one).
    """

    order: tuple = ("model",)
    gate: GateSettings = None
    eq: EqSettings = None
    cabinet: CabinetSettings = None
    source: str = "<chain>"

    def __post_init__(self):
        order = tuple(self.order)
        object.__setattr__(self, "order", order)
        for name, kind in _SETTINGS_TYPES.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ArgumentError(f"ChainSettings.{name} must be a {kind.__name__} or None, got {quote(value)}")
        on = {"model"} | {name for name in _SETTINGS_TYPES if getattr(self, name) is not None}
        if sorted(order) != sorted(on) or len(set(order)) != len(order):
            raise ArgumentError(f"ChainSettings.order must list model and each stage that is on "
                                f"({', '.join(s for s in STAGES if s in on)}) once, got {quote(list(order))}")

    @property
    def stages(self):
        """The stages that are on besides the model, in order (an empty tuple: the model alone)."""
        return tuple(name for name in self.order if name != "model")

    def with_stage(self, name, settings):
        """A copy with stage ``name`` set to ``settings`` (None: off).

        A stage that was off is put where the default order puts it relative to the stages
        already there (a gate before the model, an eq or cabinet after it).

        Parameters
        ----------
        name : str
            "gate", "eq" or "cabinet".
        settings : GateSettings, EqSettings, CabinetSettings or None

        Returns
        -------
        ChainSettings
        """
        if name not in _SETTINGS_TYPES:
            raise ArgumentError(f"ChainSettings.with_stage: name must be one of {', '.join(_SETTINGS_TYPES)}, "
                                f"got {quote(name)}")
        order = [stage for stage in self.order if stage != name]
        if settings is not None:
            order = insert_in_default_place(order, name) if name not in self.order else list(self.order)
        return dataclasses.replace(self, order=tuple(order), **{name: settings})

    def describe(self):
        """The order as text, e.g. ``"gate → model → eq → cabinet"``."""
        return " → ".join(self.order)


def insert_in_default_place(order, name):
    """``order`` (a list of stage names) with ``name`` inserted after every stage the default order puts before it.

    Parameters
    ----------
    order : list of str
    name : str

    Returns
    -------
    list of str
    """
    rank = DEFAULT_ORDER.index(name)
    position = 0
    for i, stage in enumerate(order):
        if DEFAULT_ORDER.index(stage) < rank:
            position = i + 1
    return order[:position] + [name] + order[position:]


def check_order(order, on, source="<chain>", key="chain.order", error=ConfigError, any_order=False):
    """Validate an ``order`` list against the stages that are on; return the order that runs.

    Parameters
    ----------
    order : list of str or None
        None: the default order.
    on : set of str
        The stages whose settings are given (besides the model).
    source, key : str
        For messages.
    error : type
        ConfigError for a file, ArgumentError for a Python argument.
    any_order : bool
        Accept any permutation (engine.Chain); False (a config) accepts only the default order.

    Returns
    -------
    tuple of str
        The stages of ``order`` that are on (and the model), in its order.

    Raises
    ------
    ConfigError (``error``)
        ``order`` is not a list of stage names, names one that does not exist (with a
        did-you-mean) or one twice, leaves out the model or a stage that is on, or (without
        ``any_order``) is not the default order.
    """
    if order is None:
        return tuple(s for s in DEFAULT_ORDER if s == "model" or s in on)
    if isinstance(order, tuple):
        order = list(order)
    if not isinstance(order, list):
        raise error(f"{source}: {key} must be a list of stages like [{', '.join(STAGES)}], got {quote(order)}")
    for i, name in enumerate(order):
        if name not in STAGES:
            raise error(f"{source}: {key}[{i}] is {quote(name)}, not a stage{did_you_mean(name, STAGES)}; "
                        f"stages: {', '.join(STAGES)}")
        if name in order[:i]:
            raise error(f"{source}: {key} lists {name} twice; each stage runs once")
    if "model" not in order:
        raise error(f"{source}: {key} leaves out model; the model is always in the chain "
                    f"(e.g. [{', '.join(STAGES)}])")
    missing = [name for name in STAGES if name in on and name not in order]
    if missing:
        raise error(f"{source}: {key} leaves out {', '.join(missing)}, which is on; list every stage that is on "
                    f"(or switch it off)")
    running = tuple(name for name in order if name == "model" or name in on)
    default = tuple(name for name in DEFAULT_ORDER if name in running)
    if not any_order and running != default:
        raise error(f"{source}: {key} runs {' → '.join(running)}; a config's stages run in the order "
                    f"{' → '.join(DEFAULT_ORDER)} (engine-live's), so give them in that order or leave order out")
    return running


def parse_chain(document, source="<config>", base_directory=".", key="chain"):
    """Validate a config's ``chain:`` mapping.

    Parameters
    ----------
    document : dict or None
        What the config holds under ``chain`` (None: the model alone).
    source : str
        The config file, for messages.
    base_directory : str
        The folder a relative IR path is resolved from (the config's).
    key : str
        Where the mapping sits in the file, for messages.

    Returns
    -------
    ChainSettings

    Raises
    ------
    ConfigError
        One line naming the key path (``chain.eq.bass_db``, ``chain.order[1]``, ``chain.cabinet.ir``):
        an unknown key with a did-you-mean and the valid keys, a value of the wrong kind or out
        of range, an IR path that is missing or not a file, an order that is not the default
        order of the model and every stage that is on.
    """
    if document is None:
        return ChainSettings(source=source)
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: {key} must be a mapping of stages ({', '.join(CHAIN_KEYS)}), "
                          f"got {quote(document)}")
    if "model" in document:  # not a typo of another key: say where the model goes
        raise ConfigError(f"{source}: {key}.model is not a key: the model is the top-level model (and models); "
                          f"{key} holds the stages around it ({', '.join(CHAIN_KEYS)})")
    refuse_unknown(document, CHAIN_KEYS, f"in {key}: ", source)
    stages = {}
    for name, validate in (("gate", validate_gate), ("eq", validate_eq), ("cabinet", None)):
        value = document.get(name)
        if value is None or value is False:
            continue
        where = f"{key}.{name}"
        if name == "cabinet":
            if value is True:
                raise ConfigError(f"{source}: {where} needs an ir (the impulse response file), got true")
            stages[name] = validate_cabinet(value, source, base_directory, where)
        else:
            stages[name] = validate({} if value is True else value, source, where)
    order = check_order(document.get("order"), set(stages), source, f"{key}.order")
    return ChainSettings(order=order, source=source, **stages)
