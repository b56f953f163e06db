"""The controls a player moves while playing: their keys, labels, units, steps and ranges.

engine-live's keys (engine.live.knobs) and MIDI control change (engine.midi_settings,
engine.live.midi) move the same controls, named by the same keys:

    input_gain_db, output_gain_db        the chain's input and output gain (dB)
    knob_1 ... knob_63                   the knobs of the model playing (0 to 1)
    gate_threshold_db                    the noise gate's threshold (dBFS)
    eq_bass_db, eq_mid_db,
    eq_treble_db, eq_presence_db         the EQ's band gains (dB)
    cabinet_mix, cabinet_level_db        the cabinet's dry/wet mix (0 to 1) and level (dB)

Nothing here imports numba or numpy: reading a config never loads the kernels.
"""

import re
from dataclasses import dataclass

from .dsp.settings import EQ_GAIN_DB_RANGE, GATE_PARAMETERS, MAX_LEVEL_DB, MIN_LEVEL_DB

#: Input and output gain range, dB (config keys input_gain_db / output_gain_db, and live).
GAIN_DB_RANGE = (-60.0, 40.0)
#: The most knobs a model can have (engine.model.MAX_INPUT_SIZE − 1; knob_1 … knob_63).
MAX_KNOBS = 63
KNOB_STEP = 0.05
_KNOB = re.compile(r"knob_([1-9][0-9]?)$")


@dataclass(frozen=True)
class ControlSpec:
    """One control: its key, what the status line calls it, unit, keyboard step and range.

    ``stage`` is the chain stage it belongs to ("gate", "eq", "cabinet"), or None (gains, knobs).
    """

    key: str
    label: str
    unit: str
    step: float
    low: float
    high: float
    stage: str = None


def _threshold_range():
    row = next(p for p in GATE_PARAMETERS if p.key == "threshold_db")
    return row.low, row.high


#: The gains, then the stages' live values (engine.live.shared.ChainStages.LIVE_KEYS order).
FIXED_CONTROLS = (
    ControlSpec("input_gain_db", "input gain", "dB", 1.0, *GAIN_DB_RANGE),
    ControlSpec("output_gain_db", "output gain", "dB", 1.0, *GAIN_DB_RANGE),
    ControlSpec("gate_threshold_db", "gate threshold", "dBFS", 2.0, *_threshold_range(), stage="gate"),
    ControlSpec("eq_bass_db", "bass", "dB", 1.0, *EQ_GAIN_DB_RANGE, stage="eq"),
    ControlSpec("eq_mid_db", "mid", "dB", 1.0, *EQ_GAIN_DB_RANGE, stage="eq"),
    ControlSpec("eq_treble_db", "treble", "dB", 1.0, *EQ_GAIN_DB_RANGE, stage="eq"),
    ControlSpec("eq_presence_db", "presence", "dB", 1.0, *EQ_GAIN_DB_RANGE, stage="eq"),
    ControlSpec("cabinet_mix", "cabinet mix", "", 0.05, 0.0, 1.0, stage="cabinet"),
    ControlSpec("cabinet_level_db", "cabinet level", "dB", 1.0, MIN_LEVEL_DB, MAX_LEVEL_DB, stage="cabinet"),
)
#: The stages' controls alone, in the same order.
STAGE_CONTROLS = tuple(c for c in FIXED_CONTROLS if c.stage is not None)
_BY_KEY = {c.key: c for c in FIXED_CONTROLS}


def knob_spec(number):
    """The spec of knob ``number`` (1-based) of the model playing."""
    return ControlSpec(f"knob_{number}", f"knob {number}", "", KNOB_STEP, 0.0, 1.0)


def control_spec(key):
    """The ControlSpec named ``key``, or None if no control has that key.

    Parameters
    ----------
    key : str
        A key listed in this module's docstring.

    Returns
    -------
    ControlSpec or None
    """
    if not isinstance(key, str):
        return None
    if key in _BY_KEY:
        return _BY_KEY[key]
    match = _KNOB.match(key)
    if match and 1 <= int(match[1]) <= MAX_KNOBS:
        return knob_spec(int(match[1]))
    return None


def knob_number(key):
    """The 1-based knob number of a ``knob_N`` key, or None for any other control."""
    match = _KNOB.match(key) if isinstance(key, str) else None
    return int(match[1]) if match else None


#: Every key, for messages (knobs shown as a range).
ALL_KEYS = ("input_gain_db", "output_gain_db", f"knob_1 … knob_{MAX_KNOBS}") + tuple(c.key for c in STAGE_CONTROLS)
