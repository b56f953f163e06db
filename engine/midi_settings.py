"""The MIDI input a config names (``midi:``): which port, which channel, and which control each CC moves.

::

    midi:
      port: virtual          # "virtual": the engine opens its own MIDI input for a controller to be
                             # connected to; else part of an existing MIDI source's name
                             # (engine-live --list-midi)
      api: auto              # auto, alsa or jack (auto: jack when the audio runs on JACK, else alsa)
      channel: null          # 1-16: only messages on that channel; null: any channel
      cc:                    # control change number (0-127) → the control it moves
        20: eq_bass_db                                   # across the control's whole range
        21: {control: gate_threshold_db, min: -90, max: -40}   # across a part of it (min > max: reversed)

A CC value v (0 to 127) sets the control to ``min + (max - min) * v / 127``. The controls and
their ranges are engine.control_table's (the keys engine-live's ``[`` ``]`` select). MIDI is
read by python-rtmidi (the optional ``midi`` extra); engine.live.midi does that.

Nothing here imports rtmidi, numba or numpy: reading a config never loads them.
"""

import re
from dataclasses import dataclass

from .control_table import ALL_KEYS, FIXED_CONTROLS, MAX_KNOBS, control_spec
from .errors import ConfigError, did_you_mean, quote, refuse_unknown
from .errors import fail_at as _fail

MIDI_KEYS = ("port", "api", "channel", "cc")
MIDI_APIS = ("auto", "alsa", "jack")
#: ``port`` value that makes the engine open its own input port.
VIRTUAL_PORT = "virtual"
MAPPING_KEYS = ("control", "min", "max")


@dataclass(frozen=True)
class CcMapping:
    """Control change ``cc`` moves control ``control`` from ``low`` (value 0) to ``high`` (value 127)."""

    cc: int
    control: str
    low: float
    high: float

    def value(self, cc_value):
        """The control's value for a CC value (0 to 127)."""
        return self.low + (self.high - self.low) * min(max(int(cc_value), 0), 127) / 127.0


@dataclass(frozen=True)
class MidiSettings:
    """A validated ``midi:`` section.

    Attributes
    ----------
    port : str
        VIRTUAL_PORT, or part of a MIDI source's name.
    api : str
        "auto", "alsa" or "jack".
    channel : int or None
        1 to 16, or None for any channel.
    mappings : tuple of CcMapping
        One per CC number, in CC order.
    """

    port: str
    api: str = "auto"
    channel: int = None
    mappings: tuple = ()

    def mapping(self, cc):
        """The CcMapping of control change number ``cc``, or None."""
        return next((m for m in self.mappings if m.cc == cc), None)


def _bound(value, key, source, spec):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not spec.low <= value <= spec.high:
        unit = f" {spec.unit}" if spec.unit else ""
        _fail(source, key, f"must be a number from {spec.low:g} to {spec.high:g}{unit} (the range of "
                           f"{spec.key}), got {quote(value)}")
    return float(value)


def _mapping(cc, value, source, where):
    if isinstance(value, dict):
        refuse_unknown(value, MAPPING_KEYS, f"in {where}: ", source)
        if "control" not in value:
            _fail(source, where, f"needs a control key (one of {', '.join(ALL_KEYS)})")
        name = value["control"]
        key = f"{where}.control"
    else:
        name, key = value, where
    spec = control_spec(name)
    if spec is None:
        known = [c.key for c in FIXED_CONTROLS] + [f"knob_{n}" for n in range(1, MAX_KNOBS + 1)]
        hint = did_you_mean(name, known)
        if isinstance(name, str) and re.fullmatch(r"knob_[0-9]+", name):
            hint = f" (knobs are numbered from 1 to {MAX_KNOBS})"
        _fail(source, key, f"names no control: {quote(name)}{hint}; controls: {', '.join(ALL_KEYS)}")
    low, high = spec.low, spec.high
    if isinstance(value, dict):
        low = _bound(value.get("min", spec.low), f"{where}.min", source, spec)
        high = _bound(value.get("max", spec.high), f"{where}.max", source, spec)
        if low == high:
            _fail(source, where, f"has min = max = {low:g}: the CC would move nothing (each bound is optional, "
                                 f"the control's own range by default)")
    return CcMapping(cc, spec.key, low, high)


def parse_midi(document, source="<config>", key="midi"):
    """Validate a config's ``midi:`` mapping.

    Parameters
    ----------
    document : dict or None
        What the config holds under ``midi`` (None: no MIDI input).
    source : str
        The config file, for messages.
    key : str
        Where the mapping sits in the file, for messages.

    Returns
    -------
    MidiSettings or None

    Raises
    ------
    ConfigError
        One line naming the key (``midi.cc.20``, ``midi.channel``): an unknown key with a
        did-you-mean, a missing port or cc map, a CC number outside 0-127, a control that does
        not exist, a min or max outside the control's range.
    """
    if document is None or document is False:
        return None
    if not isinstance(document, dict):
        _fail(source, key, f"must be a mapping ({', '.join(MIDI_KEYS)}), got {quote(document)}")
    refuse_unknown(document, MIDI_KEYS, f"in {key}: ", source)
    port = document.get("port")
    if not isinstance(port, str) or not port.strip():
        _fail(source, f"{key}.port", f"must name a MIDI source (part of its name; engine-live --list-midi) or be "
                                     f"{VIRTUAL_PORT!r} for the engine's own input, got {quote(port)}")
    api = document.get("api", "auto")
    if api not in MIDI_APIS:
        _fail(source, f"{key}.api", f"must be one of {', '.join(MIDI_APIS)}, got {quote(api)}")
    channel = document.get("channel")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16):
        _fail(source, f"{key}.channel", f"must be a MIDI channel from 1 to 16, or null for any, got {quote(channel)}")
    cc_map = document.get("cc")
    if not isinstance(cc_map, dict) or not cc_map:
        _fail(source, f"{key}.cc", f"must map control change numbers (0-127) to controls, e.g. {{20: eq_bass_db}}, "
                                   f"got {quote(cc_map)}")
    mappings = []
    for cc, value in cc_map.items():
        where = f"{key}.cc.{cc}"
        if isinstance(cc, str) and cc.strip().isdigit():
            _fail(source, f"{key}.cc", f"keys must be control change numbers from 0 to 127, got the string {quote(cc)} "
                                       f"(write the number without quotes)")
        if isinstance(cc, bool) or not isinstance(cc, int) or not 0 <= cc <= 127:
            _fail(source, f"{key}.cc", f"keys must be control change numbers from 0 to 127, got {quote(cc)}")
        mappings.append(_mapping(cc, value, source, where))
    return MidiSettings(port=port.strip(), api=api, channel=channel, mappings=tuple(sorted(mappings, key=lambda m: m.cc)))


def check_midi_stages(midi, chain, source):
    """Refuse a CC map that moves a stage the chain lacks (parse_config calls it once the chain is read).

    Parameters
    ----------
    midi : MidiSettings or None
    chain : engine.chain_settings.ChainSettings
    source : str
        The config file, for messages.

    Raises
    ------
    ConfigError
        ``midi.cc.N: eq_bass_db moves the eq stage, which the chain lacks``.
    """
    for mapping in midi.mappings if midi is not None else ():
        stage = control_spec(mapping.control).stage
        if stage is not None and getattr(chain, stage) is None:
            raise ConfigError(f"{source}: midi.cc.{mapping.cc}: {mapping.control} moves the {stage} stage, which "
                              f"the chain lacks (add chain.{stage} to the config)")


def check_midi_knobs(midi, knob_counts, source):
    """Refuse a CC map naming a knob no model of the session has (the models' knob counts are known once loaded).

    Parameters
    ----------
    midi : MidiSettings or None
    knob_counts : sequence of int
        Each model's number of knobs.
    source : str
        The config file, for messages.

    Raises
    ------
    ConfigError
        ``midi.cc.N: knob_2, but no model of this session has 2 knob(s) (the most is 1)``.
    """
    from .control_table import knob_number

    most = max(knob_counts, default=0)
    for mapping in midi.mappings if midi is not None else ():
        number = knob_number(mapping.control)
        if number is not None and number > most:
            raise ConfigError(f"{source}: midi.cc.{mapping.cc}: {mapping.control}, but no model of this session has "
                              f"{number} knob(s) (the most is {most})")
