"""Knobs turned while playing: one control selected at a time, moved in steps from the keyboard.

engine-live's keys ``[`` and ``]`` select the previous / next control, ``-`` and ``=`` (or ``+``)
move it down / up by one step; the status line shows the control and its value. The controls
are, in this order: input gain, output gain, each knob of the model playing, then the chain's
stages that exist (gate threshold, EQ bass / mid / treble / presence, cabinet mix and level).
Every change goes through the session's request path (LiveSession.set_gains, set_controls,
set_stages): posted to the callback's request seqlock and applied, ramped, at the next block
boundary; a value is kept inside its range (a step past the end stops at the end).
"""

from dataclasses import dataclass

from ..control_table import STAGE_CONTROLS, ControlSpec, control_spec, knob_spec
from ..errors import ControlError
from .shared import V_CONTROLS


@dataclass
class Control:
    """One control: its spec (key, label, unit, step, range), and how to read and set it."""

    spec: ControlSpec
    get: object
    set: object

    def __getattr__(self, name):  # label, unit, step, low, high, key
        return getattr(self.spec, name)


class LiveControls:
    """The controls of a live session and the one selected.

    Parameters
    ----------
    session : LiveSession
        Open (its chain exists).
    """

    def __init__(self, session):
        self.session = session
        self.index = 0
        self.refused = None  # why the last move was refused, if it was

    def controls(self):
        """The controls now (the knobs follow the model playing)."""
        session, chain = self.session, self.session.chain
        found = [Control(control_spec("input_gain_db"), lambda: chain.input_gain_db,
                         lambda v: session.set_gains(input_db=v)),
                 Control(control_spec("output_gain_db"), lambda: chain.output_gain_db,
                         lambda v: session.set_gains(output_db=v))]
        model = chain.incoming if chain.incoming is not None else chain.current
        count = max(chain.processors[model].model.num_controls, 0)

        def knobs():  # what was last asked for this model (the request's values)
            start = V_CONTROLS + model * chain.shared.max_controls
            return [float(v) for v in chain.shared.values[start:start + count]]

        for j in range(count):
            found.append(Control(knob_spec(j + 1), lambda j=j: knobs()[j],
                                 lambda v, j=j: session.set_controls(_with(knobs(), j, v), model=model)))
        for spec in STAGE_CONTROLS:
            if getattr(chain.stages, spec.stage) is not None:
                found.append(Control(spec, lambda key=spec.key: chain.stage_values()[key],
                                     lambda v, key=spec.key: session.set_stages(**{key: v})))
        return found

    def control(self, key):
        """The control named ``key`` (engine.control_table), or None where this session has none now
        (a knob the model playing lacks, a stage the chain lacks)."""
        return next((c for c in self.controls() if c.key == key), None)

    @property
    def selected(self):
        """The selected control."""
        controls = self.controls()
        self.index %= len(controls)
        return controls[self.index]

    def select(self, delta):
        """Select the control ``delta`` places on (wrapping round)."""
        self.index = (self.index + delta) % len(self.controls())

    def move(self, steps):
        """Move the selected control by ``steps`` steps, kept inside its range.

        Returns
        -------
        str or None
            None, or why the change was refused (a knob value the running method is unstable at).
        """
        control = self.selected
        value = min(control.high, max(control.low, control.get() + steps * control.step))
        try:
            control.set(round(value, 6))
        except ControlError as exc:
            return str(exc)
        return None

    def handle(self, key):
        """React to a key: ``[`` / ``]`` select, ``-`` / ``=`` or ``+`` move. Returns whether it was one of those."""
        if key == "[":
            self.select(-1)
        elif key == "]":
            self.select(1)
        elif key == "-":
            self.refused = self.move(-1)
        elif key in ("=", "+"):
            self.refused = self.move(1)
        else:
            return False
        return True

    def line(self):
        """The status line's part: "[knob 1] 0.55" (``[`` ``]`` select, ``-`` ``=`` move)."""
        control = self.selected
        value = control.get()
        shown = f"{value:.2f}" if not control.unit else f"{value:+.1f} {control.unit}"
        return f"[{control.label}] {shown}"


def _with(values, j, value):
    out = list(values)
    out[j] = value
    return out
