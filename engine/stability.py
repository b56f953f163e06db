"""Will a state-read method keep a model stable? The one rule, written once.

:func:`choose` decides which method runs (Processor, ``set_controls`` and engine-info all ask it):
it judges the requested method with :func:`verdict` and, when that is unsafe, the methods of
FALLBACK_ORDER in turn. :func:`verdict` is the rule:

- naive (the model exactly as trained) is always stable, and so is resample (the model as
  trained, at its own rate inside a resampler pair);
- the allpass has no form below the training rate (R < 1);
- the exact delay (integer R) and a centred Lagrange window need no check;
- an extrapolating (R < 1) or off-centre Lagrange read is checked against
  :func:`stability_threshold`, the allpass at fractional 1 < R < 4 against 1 (its published
  criterion); above R = 4 the allpass is not checked (see ALLPASS_CHECKED_BELOW).

"Checked" means: the spectral radius of the recurrence corrected by that read, linearised at the
state silence settles to (engine.linearisation), is at most the limit. A verdict carries the
radius and the limit it applied, so what engine-info prints is what decided.
"""

import math
from dataclasses import dataclass

from . import delay
from .delay import read_window
from .linearisation import Linearisation, linearise, spectral_radius
from .methods import RESAMPLE as RESAMPLE_METHOD

__all__ = ["Verdict", "Choice", "verdict", "choose", "is_stable", "stability_threshold", "ideal_radius",
           "Linearisation", "linearise", "spectral_radius"]

#: Spectral radii within this margin above their limit count as stable (a pole on the unit
#: circle, as an integrator or an undamped fixed point gives, does not grow).
RADIUS_TOLERANCE = 1e-9
#: A parasitic pole inside this radius decays within about 100 samples (2 ms at 48 kHz).
SAFE_RADIUS = 0.99
#: The allpass is checked only for 1 < R < this (as since it was introduced). Its read has unit
#: gain on the unit circle and less outside it, so 1 − μ·H(z) = 0 has no root outside the unit
#: circle for |μ| ≤ 1: it is as stable as the model at its own rate, at any R; the check can only
#: fail for a model whose own linearisation has ρ(J) > 1 (one that oscillates by itself).
ALLPASS_CHECKED_BELOW = 4

#: Preference when the requested method is predicted unstable: the most accurate state reads
#: first; then, where every correcting read is forbidden (below the training rate), resample: the
#: model exactly as trained, at its own rate inside a resampler pair, as stable as the model and
#: more faithful than every read (benchmarks/reports/resample_mode.md), at the pair's latency
#: (Processor.latency). naive (the model as trained at the wrong rate) stays last, as the end
#: of the rule; resample is never unstable, so it is not reached.
FALLBACK_ORDER = ("cubic", "lagrange5", "allpass", "linear", "resample", "naive")

#: Why a verdict is what it is (Verdict.reason), and how engine-info says it.
AS_TRAINED = "as trained"
NO_FORM = "no form"
EXACT = "exact delay"
CENTRED = "centred window"
UNIT_GAIN = "unit-gain read"
RESAMPLED = "resampled"
WITHIN_LIMIT = "within limit"
OVER_LIMIT = "over limit"
_TEXT = {
    AS_TRAINED: "stable (uncorrected: the recurrence as trained, whatever the rate)",
    RESAMPLED: "stable (the model as trained, at its own rate inside a resampler pair)",
    NO_FORM: "no form below the training rate",
    EXACT: "stable (exact delay: no check needed)",
    CENTRED: "stable (centred window: no check needed)",
    UNIT_GAIN: f"stable (allpass at R ≥ {ALLPASS_CHECKED_BELOW}: not checked, as stable as the model)",
}


@dataclass(frozen=True)
class Verdict:
    """What the stability rule says about one method at one rate.

    Attributes
    ----------
    method : str
    ratio : float
        R = F_run / F_model.
    stable : bool
        Whether the method is predicted safe to run.
    reason : str
        One of AS_TRAINED, RESAMPLED, NO_FORM, EXACT, CENTRED, UNIT_GAIN (no check needed, or none possible),
        WITHIN_LIMIT, OVER_LIMIT (the linearised check ran).
    radius : float
        The spectral radius of the linearised corrected recurrence; NaN when not checked.
    limit : float
        The largest radius this method was allowed (stability_threshold for a Lagrange read,
        1 for the allpass); NaN when not checked.
    """

    method: str
    ratio: float
    stable: bool
    reason: str
    radius: float = math.nan
    limit: float = math.nan

    @property
    def checked(self):
        """Whether the linearised check ran (so the verdict depends on the model and its knobs)."""
        return self.reason in (WITHIN_LIMIT, OVER_LIMIT)

    def describe(self):
        """One line for engine-info: the verdict and, when checked, the radius and the limit applied."""
        if not self.checked:
            return _TEXT[self.reason]
        return (f"{'stable' if self.stable else 'UNSTABLE'}, spectral radius {self.radius:.4f} "
                f"(limit {self.limit:.4f})")


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` decided: the method to run and every verdict it took to decide.

    Attributes
    ----------
    requested : str
    method : str
        The method to run: ``requested`` when it is predicted stable, else the first stable one
        of FALLBACK_ORDER (resample at worst).
    ratio : float
    verdicts : tuple of Verdict
        The requested method's first, then each fallback judged, in order.
    linearisation : Linearisation or None
        None when no verdict needed one.
    """

    requested: str
    method: str
    ratio: float
    verdicts: tuple
    linearisation: object = None

    @property
    def replaced(self):
        """Whether another method runs than the one requested."""
        return self.method != self.requested

    @property
    def checked(self):
        """Whether the requested method's verdict came from the linearised check, so knobs can change it."""
        return self.verdicts[0].checked

    @property
    def converged(self):
        """Whether silence settled to a fixed point (None when nothing was linearised)."""
        return None if self.linearisation is None else self.linearisation.converged

    def verdict(self, method):
        """The verdict on ``method``, or None if it was not judged."""
        return next((v for v in self.verdicts if v.method == method), None)

    @property
    def spectral_radius(self):
        """{method: spectral radius} for every method judged (NaN where not checked)."""
        return {v.method: v.radius for v in self.verdicts}

    def explain(self, sample_rate):
        """Why the requested method is replaced, for the StabilityWarning ('' when it is not)."""
        if not self.replaced:
            return ""
        first = self.verdicts[0]
        why = ("has no form below the training rate" if first.reason == NO_FORM
               else f"is predicted unstable at {sample_rate:g} Hz")
        radius = "" if math.isnan(first.radius) else f", spectral radius {first.radius:.4f}"
        return f"{self.requested} {why} (R = {self.ratio:.4g}{radius}); running {self.method} instead"


def verdict(method, ratio, linearisation):
    """The stability rule for ``method`` at R = ``ratio``: the one place it is written.

    Parameters
    ----------
    method : str
        One of engine.INTERPOLATIONS.
    ratio : float
        R, snapped to an integer where it is one (rates.rate_ratio).
    linearisation : Linearisation or callable
        The model's :func:`linearise`, or a function returning it, called only if the method
        needs the check (so that a verdict that needs none costs nothing).

    Returns
    -------
    Verdict

    Raises
    ------
    ArgumentError
        If the method is unknown.
    """
    window = read_window(method, ratio)
    if window == delay.RESAMPLED:
        return Verdict(method, ratio, True, RESAMPLED)
    if window == delay.UNCORRECTED:
        return Verdict(method, ratio, True, AS_TRAINED)
    if window == delay.NO_FORM:
        return Verdict(method, ratio, False, NO_FORM)
    if window == delay.EXACT:
        return Verdict(method, ratio, True, EXACT)
    if window == delay.CENTRED:
        return Verdict(method, ratio, True, CENTRED)
    if window == delay.RECURSIVE and ratio >= ALLPASS_CHECKED_BELOW:
        return Verdict(method, ratio, True, UNIT_GAIN)
    if callable(linearisation):
        linearisation = linearisation()
    if window == delay.RECURSIVE:
        # The published criterion: the allpass's own recursion is a stable filter (pole −a), and
        # with ρ just under 1 it was measured to settle and to score best at 48 kHz on the default
        # model; the margin of stability_threshold was calibrated on off-centre Lagrange reads.
        limit = 1.0
    else:  # EXTRAPOLATING or OFF_CENTRE
        limit = stability_threshold(linearisation, ratio)
    radius = spectral_radius(linearisation, method, ratio)
    stable = radius <= limit + RADIUS_TOLERANCE
    return Verdict(method, ratio, stable, WITHIN_LIMIT if stable else OVER_LIMIT, radius, limit)


def choose(model, method, ratio, controls=None, linearisation=None, resample_possible=True):
    """The method to run: ``method`` if predicted safe, else the best safe one (resample at worst).

    Parameters
    ----------
    model : Model
    method : str
        The requested method.
    ratio : float
        R = F_run / F_model (rates.rate_ratio).
    controls : sequence of float, optional
        The knob values the model will run with; required for a conditioned model when a
        verdict needs the linearisation.
    linearisation : Linearisation, optional
        A linearisation of ``model`` at ``controls`` already made (engine-info judges every method
        with one); made here, once, only if a verdict needs it.
    resample_possible : bool
        Whether the resampler pair can run between the stream's rate and the model's (it needs a
        rate ratio of small integers, engine.resampler.design.rate_fraction); if not, the fallback
        passes over resample (to naive at worst).

    Returns
    -------
    Choice

    Raises
    ------
    ArgumentError
        If the method is unknown, or the knob values are missing or of the wrong count.
    """
    made = [linearisation]

    def lazily():
        if made[0] is None:
            made[0] = linearise(model, controls)
        return made[0]

    verdicts = [verdict(method, ratio, lazily)]
    chosen = method
    if not verdicts[0].stable:
        for candidate in FALLBACK_ORDER:
            if candidate != method and (resample_possible or candidate != RESAMPLE_METHOD):
                verdicts.append(verdict(candidate, ratio, lazily))
                if verdicts[-1].stable:
                    chosen = candidate
                    break
    return Choice(requested=method, method=chosen, ratio=ratio, verdicts=tuple(verdicts), linearisation=made[0])


def is_stable(linearisation, method, ratio):
    """``verdict(method, ratio, linearisation).stable``: whether the rule lets ``method`` run at R = ``ratio``."""
    return verdict(method, ratio, linearisation).stable


def ideal_radius(linearisation, ratio):
    """Where a perfect correction would put the slowest pole: ρ(model at its own rate)^(1/R).

    Running at R times the rate, a pole z of the trained recurrence should become z^(1/R).
    """
    return spectral_radius(linearisation, "naive", 1.0) ** (1.0 / ratio)


def stability_threshold(linearisation, ratio):
    """The largest spectral radius a Lagrange read may have at R = ``ratio``.

    max(SAFE_RADIUS, ρ_ideal + (1 − ρ_ideal)/2), at most 1.

    ρ ≤ 1 alone (the published criterion) let through, in 3 of 132 cases measured (tests and
    benchmarks/below_rate.py), an off-centre cubic read with 0.99 < ρ < 1 that then diverged on
    a loud signal, while linear sat near ρ_ideal: the interpolator had added a slow pole of its
    own. A method may therefore move the slowest pole at most halfway from where correction
    should put it to the unit circle, unless it stays within SAFE_RADIUS.
    """
    ideal = ideal_radius(linearisation, ratio)
    return min(1.0, max(SAFE_RADIUS, ideal + 0.5 * (1.0 - ideal)))
