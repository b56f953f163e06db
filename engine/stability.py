"""Will a state-read method keep a model stable? The one rule, and the linearised check of SRC.md.

:func:`choose` decides which method runs (Processor, ``set_controls`` and engine-info all ask it):
it judges the requested method with :func:`verdict` and, when that is unsafe, the methods of
FALLBACK_ORDER in turn. :func:`verdict` is the rule, written once:

- naive (the model exactly as trained) is always stable;
- the allpass has no form below the training rate (R < 1);
- the exact delay (integer R) and a centred Lagrange window need no check;
- an extrapolating (R < 1) or off-centre Lagrange read is checked against
  :func:`stability_threshold`, the allpass at fractional 1 < R < 4 against 1 (its published
  criterion); above R = 4 the allpass is not checked (see ALLPASS_CHECKED_BELOW).

The check (Carson et al., ICASSP 2025): linearise each recurrent layer at its zero-input fixed
point s* (Jacobian J = ∂cell(x*, ŝ)/∂ŝ). The corrected recurrence δs_n = J·δŝ_n reads the state
through the filter δŝ = H(z)·δs, H(z) = Σ_m k_m z^−(e+m) / (1 − b·z^−1) (FIR taps at offset e,
plus the allpass feedback b), so its poles are the roots of det(I − J·H(z)). With J = Q·T·Q*
(Schur, T triangular with J's eigenvalues μ_i on its diagonal) that determinant is
Π_i (1 − μ_i·H(z)): the poles are, for each μ_i, the L roots of the small polynomial

    z^L − b·z^(L−1) − μ_i · Σ_m k_m z^(L−e−m),      L = e + len(taps) − 1,

the eigenvalues of the (L·S)² companion matrix of the recurrence (S the state size) for the cost
of one eigendecomposition of J per layer. The method is called unstable at that rate when the
largest root modulus (the spectral radius) exceeds its limit. Layers feed forward into each
other, so the whole network's linearisation is block-triangular and its eigenvalues are those of
the layers: each layer is checked on its own, with the input it sees at the fixed point of the
layers before it. Everything here is float64 numpy on the Model's PyTorch-layout weights, with
analytic Jacobians of the cells; nothing runs in the audio path.

Cost (measured: see tests/test_stability_verdict.py and the figures in the commit that made
this): O(S³) per layer for the eigenvalues, a few Newton steps and a bounded fixed-point
iteration (FIXED_POINT_WORK); LSTM-40 in milliseconds, 8 × LSTM-512 in seconds.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import delay
from .delay import read_filter, read_window
from .errors import ArgumentError
from .model import ActivationLayer, DenseLayer, RecurrentLayer

#: Spectral radii within this margin above their limit count as stable (a pole on the unit
#: circle, as an integrator or an undamped fixed point gives, does not grow).
RADIUS_TOLERANCE = 1e-9
#: The plain fixed-point iteration stops when a step moves the state less than this (max norm).
FIXED_POINT_TOLERANCE = 1e-12
#: At most this many plain steps per layer...
FIXED_POINT_STEPS = 20000
#: ... and at most this many multiply-adds of the recurrent matrix (G·H² per step, G = 4 for an
#: LSTM, 3 for a GRU): LSTM-158 and smaller get all FIXED_POINT_STEPS, LSTM-512 about 1900
#: (~0.5 s here), so that a model that never settles cannot make the check slow. A model that
#: settles is caught long before, by Newton's method (see _fixed_point).
FIXED_POINT_WORK = 2e9
#: Newton steps per attempt (see _fixed_point)...
NEWTON_STEPS = 8
#: ... made once the last this many plain steps are each shorter than the one this many before.
NEWTON_WINDOW = 16
#: A parasitic pole inside this radius decays within about 100 samples (2 ms at 48 kHz).
SAFE_RADIUS = 0.99
#: The allpass is checked only for 1 < R < this (as since it was introduced). Its read has unit
#: gain on the unit circle and less outside it, so 1 − μ·H(z) = 0 has no root outside the unit
#: circle for |μ| ≤ 1: it is as stable as the model at its own rate, at any R; the check can only
#: fail for a model whose own linearisation has ρ(J) > 1 (one that oscillates by itself).
ALLPASS_CHECKED_BELOW = 4

#: Preference when the requested method is predicted unstable: the most accurate first; naive
#: (the model exactly as trained, only at the wrong rate) last, as it is as stable as the model.
FALLBACK_ORDER = ("cubic", "lagrange5", "allpass", "linear", "naive")

#: Why a verdict is what it is (Verdict.reason), and how engine-info says it.
AS_TRAINED = "as trained"
NO_FORM = "no form"
EXACT = "exact delay"
CENTRED = "centred window"
UNIT_GAIN = "unit-gain read"
WITHIN_LIMIT = "within limit"
OVER_LIMIT = "over limit"
_TEXT = {
    AS_TRAINED: "stable (the model as trained)",
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
        One of AS_TRAINED, NO_FORM, EXACT, CENTRED, UNIT_GAIN (no check needed, or none possible),
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
        of FALLBACK_ORDER (naive at worst).
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


def choose(model, method, ratio, controls=None, linearisation=None):
    """The method to run: ``method`` if predicted safe, else the best safe one (naive at worst).

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
            if candidate != method:
                verdicts.append(verdict(candidate, ratio, lazily))
                if verdicts[-1].stable:
                    chosen = candidate
                    break
    return Choice(requested=method, method=chosen, ratio=ratio, verdicts=tuple(verdicts), linearisation=made[0])


def is_stable(linearisation, method, ratio):
    """``verdict(method, ratio, linearisation).stable``: whether the rule lets ``method`` run at R = ``ratio``."""
    return verdict(method, ratio, linearisation).stable


# -- the linearisation -------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class _Cell:
    """One LSTM/GRU layer in float64 at a constant input x: its step and its analytic Jacobian.

    The state is [h; c] for an LSTM (PyTorch gate rows i, f, g, o), h for a GRU (rows r, z, n;
    ``reset_after`` False is the Keras candidate n = tanh(W_n·x + b_n + U_n·(r ∘ h))).
    """

    def __init__(self, layer, x):
        self.lstm = layer.cell == "lstm"
        self.reset_after = layer.reset_after
        self.H = layer.hidden_size
        self.U = layer.weight_hh.astype(np.float64)
        # The input's contribution is the same every step: computed once. The sums keep the order
        # (W·x + b_ih) + U·h + b_hh, so that the plain iteration is bit for bit what it always was:
        # a model whose state wanders chaotically before it settles (some strong random ones do)
        # settles where it did, or not at all as before.
        self.gi = layer.weight_ih.astype(np.float64) @ x + layer.bias_ih.astype(np.float64)
        self.b_hh = layer.bias_hh.astype(np.float64)

    def _gates(self, state):
        H = self.H
        if self.lstm:
            h, c = state[:H], state[H:]
            z = self.gi + self.U @ h + self.b_hh
            i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
            c_new = f * c + i * g
            t = np.tanh(c_new)
            return {"c": c, "i": i, "f": f, "g": g, "o": o, "c_new": c_new, "t": t, "h_new": o * t}
        gi = self.gi
        if self.reset_after:
            gh = self.U @ state + self.b_hh
            r = _sigmoid(gi[:H] + gh[:H])
            z = _sigmoid(gi[H:2 * H] + gh[H:2 * H])
            n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
            extra = {"gh_n": gh[2 * H:]}
        else:
            r = _sigmoid(gi[:H] + self.U[:H] @ state)
            z = _sigmoid(gi[H:2 * H] + self.U[H:2 * H] @ state)
            n = np.tanh(gi[2 * H:] + self.U[2 * H:] @ (r * state))
            extra = {}
        return {"s": state, "r": r, "z": z, "n": n, "h_new": (1.0 - z) * n + z * state, **extra}

    def step(self, state):
        """(output h, new state) from the fed-back state."""
        v = self._gates(state)
        if self.lstm:
            return v["h_new"], np.concatenate([v["h_new"], v["c_new"]])
        return v["h_new"], v["h_new"]

    def jacobian(self, state):
        """∂(new state)/∂(state), analytically (checked against central differences in the tests)."""
        H, U = self.H, self.U
        v = self._gates(state)
        if self.lstm:
            i, f, g, o, t = v["i"], v["f"], v["g"], v["o"], v["t"]
            # c' = f∘c + i∘g with i, f, g functions of h; h' = o∘tanh(c')
            dc_dh = ((v["c"] * f * (1 - f))[:, None] * U[H:2 * H] + (g * i * (1 - i))[:, None] * U[:H]
                     + (i * (1 - g * g))[:, None] * U[2 * H:3 * H])
            q = o * (1 - t * t)
            J = np.empty((2 * H, 2 * H))
            J[:H, :H] = (t * o * (1 - o))[:, None] * U[3 * H:] + q[:, None] * dc_dh
            J[:H, H:] = np.diag(q * f)
            J[H:, :H] = dc_dh
            J[H:, H:] = np.diag(f)
            return J
        s, r, z, n = v["s"], v["r"], v["z"], v["n"]
        dr = (r * (1 - r))[:, None] * U[:H]  # ∂r/∂s
        if self.reset_after:  # n = tanh(gi_n + r∘(U_n·s + b_n))
            dpre = v["gh_n"][:, None] * dr + r[:, None] * U[2 * H:]
        else:  # n = tanh(gi_n + U_n·(r∘s))
            dpre = U[2 * H:] * r[None, :] + (U[2 * H:] * s[None, :]) @ dr
        # h' = (1 − z)∘n + z∘s
        J = ((s - n) * z * (1 - z))[:, None] * U[H:2 * H] + ((1 - z) * (1 - n * n))[:, None] * dpre
        J[np.diag_indices(H)] += z
        return J


def cell_step(layer, x, state):
    """One step of an LSTM/GRU layer in float64: (output h, new state) from input x and fed-back state."""
    return _Cell(layer, np.asarray(x, np.float64)).step(np.asarray(state, np.float64))


def jacobian(layer, x, state):
    """∂cell(x, ŝ)/∂ŝ at ŝ = state, analytically (float64; state [h; c] for an LSTM)."""
    return _Cell(layer, np.asarray(x, np.float64)).jacobian(np.asarray(state, np.float64))


def _activation(name, v):
    if name == "tanh":
        return np.tanh(v)
    if name == "relu":
        return np.maximum(v, 0.0)
    if name == "sigmoid":
        return _sigmoid(v)
    if name == "elu":
        return np.where(v > 0, v, np.expm1(v))
    if name == "softmax":
        e = np.exp(v - v.max())
        return e / e.sum()
    return v


def _initial_state(layer):
    if layer.cell == "lstm":
        return np.concatenate([layer.initial_hidden, layer.initial_cell]).astype(np.float64)
    return layer.initial_hidden.astype(np.float64)


def _fixed_point(cell, state):
    """The state s* = cell(s*) that plain iteration from ``state`` settles to, and J's eigenvalues there.

    Plain iteration converges at the rate of J's spectral radius: thousands of steps for real
    models (ρ ≈ 0.995). Once the steps shrink steadily (each of the last NEWTON_WINDOW smaller than
    the one NEWTON_WINDOW before: a chaotic transient, which some strong random models wander in
    for thousands of steps, does not), Newton's method (s ← s − (J − I)⁻¹(cell(s) − s)) finishes
    in a few steps. Its answer is kept only if it is the point the iteration is heading for: a
    fixed point to FIXED_POINT_TOLERANCE, within ten times the distance the shrinking steps have
    left to go, and attracting (ρ(J) ≤ 1, or the iteration could not settle there); otherwise the
    plain iteration goes on (the next attempt after twice as many steps), up to
    FIXED_POINT_STEPS and FIXED_POINT_WORK.

    Returns
    -------
    (numpy.ndarray, bool, numpy.ndarray or None)
        The state, whether it converged (False: a limit cycle, divergence, or the work cap), and
        the eigenvalues of J there when Newton's method found it (else None).
    """
    gates = 4 if cell.lstm else 3
    steps = int(min(FIXED_POINT_STEPS, max(1, FIXED_POINT_WORK // (gates * cell.H * cell.H))))
    sizes = []
    next_attempt = 2 * NEWTON_WINDOW
    for k in range(steps):
        _, new = cell.step(state)
        if not np.all(np.isfinite(new)):
            return new, False, None
        size = float(np.max(np.abs(new - state)))
        if size < FIXED_POINT_TOLERANCE:
            return new, True, None
        state = new
        sizes.append(size)
        if len(sizes) >= next_attempt:
            recent = np.array(sizes[-2 * NEWTON_WINDOW:])
            if np.all(recent[NEWTON_WINDOW:] < recent[:NEWTON_WINDOW]):
                rate = (recent[-1] / recent[NEWTON_WINDOW - 1]) ** (1.0 / NEWTON_WINDOW)
                found = _newton(cell, state, reach=10 * size / (1 - rate))
                if found is not None:
                    return found[0], True, found[1]
                next_attempt = 2 * len(sizes)
    return state, False, None


def _newton(cell, start, reach):
    """Newton's method from ``start`` for the fixed point; (state, eigenvalues of J) or None (see _fixed_point)."""
    state = start
    identity = np.eye(start.size)
    for _ in range(NEWTON_STEPS):
        _, new = cell.step(state)
        residual = new - state
        if np.max(np.abs(residual)) < FIXED_POINT_TOLERANCE:
            eigenvalues = np.linalg.eigvals(cell.jacobian(state))
            if np.max(np.abs(eigenvalues)) > 1 + RADIUS_TOLERANCE:
                return None  # a repelling fixed point: not where the iteration goes
            return state, eigenvalues
        try:
            state = state - np.linalg.solve(cell.jacobian(state) - identity, residual)
        except np.linalg.LinAlgError:
            return None
        # Left the neighbourhood the iteration is settling in (or overflowed): give up at once.
        if not np.max(np.abs(state - start)) <= reach:
            return None
    return None


def fixed_point(layer, x):
    """The state s* = cell(x, s*) reached from the layer's initial state on constant input x.

    Returns
    -------
    (numpy.ndarray, bool)
        The state and whether the iteration converged (False: a limit cycle, divergence, or the
        work cap FIXED_POINT_WORK of a large layer).
    """
    state, converged, _ = _fixed_point(_Cell(layer, np.asarray(x, np.float64)), _initial_state(layer))
    return state, converged


@dataclass(frozen=True)
class Linearisation:
    """Each recurrent layer's linearisation at the network's zero-input fixed point.

    Attributes
    ----------
    eigenvalues : tuple of numpy.ndarray
        Per recurrent layer, the eigenvalues μ of its Jacobian J (complex).
    converged : bool
        Whether every layer's fixed-point iteration converged (else the check is approximate).
    """

    eigenvalues: tuple
    converged: bool


def linearise(model, controls=None):
    """Linearise every recurrent layer at the zero-audio fixed point, knobs at ``controls``.

    Parameters
    ----------
    model : Model
    controls : sequence of float, optional
        The knob values of a conditioned model (required for one: the tools' default is
        processor.knob_values); ignored without knobs.

    Returns
    -------
    Linearisation

    Raises
    ------
    ArgumentError
        If a conditioned model gets no knob values, or the wrong number.
    """
    v = np.zeros(model.input_size)
    if model.num_controls:
        if controls is None:
            raise ArgumentError(f"{model.name} has {model.num_controls} control input(s): linearise needs their "
                                "values (engine.processor.knob_values gives the tools' default)")
        values = np.asarray(controls, np.float64).reshape(-1)
        if values.size != model.num_controls:
            raise ArgumentError(f"{model.name} takes {model.num_controls} control value(s), got {values.size}")
        v[1:] = values
    eigenvalues = []
    converged = True
    for layer in model.layers:
        if isinstance(layer, RecurrentLayer):
            cell = _Cell(layer, v)
            state, ok, mu = _fixed_point(cell, _initial_state(layer))
            converged &= ok
            eigenvalues.append(np.linalg.eigvals(cell.jacobian(state)) if mu is None else mu)
            v, _ = cell.step(state)
        elif isinstance(layer, DenseLayer):
            v = _activation(layer.activation, layer.weight.astype(np.float64) @ v + layer.bias)
        elif isinstance(layer, ActivationLayer):
            v = _activation(layer.activation, v)
    return Linearisation(eigenvalues=tuple(eigenvalues), converged=converged)


# -- spectral radii ----------------------------------------------------------------------------


def read_radius(eigenvalues, tap_offset, taps, feedback=0.0):
    """Spectral radius of δs_n = J·δŝ_n, δŝ_n = Σ_m taps[m]·δs_{n−e−m} + feedback·δŝ_{n−1}, from J's eigenvalues.

    The largest root modulus, over every eigenvalue μ of J, of
    z^L − feedback·z^(L−1) − μ·Σ_m taps[m]·z^(L−e−m) (L = e + len(taps) − 1): the eigenvalues of
    the recurrence's companion matrix (see the module docstring), all polynomials at once.

    Parameters
    ----------
    eigenvalues : array_like
        The eigenvalues μ of J (complex).
    tap_offset : int
        e ≥ 1.
    taps : array_like
        The FIR taps k_m.
    feedback : float
        The recursive coefficient b of the read (the allpass's −a; 0 for a FIR read).

    Returns
    -------
    float
    """
    mu = np.asarray(eigenvalues, np.complex128).reshape(-1)
    taps = np.asarray(taps, np.float64)
    degree = tap_offset + len(taps) - 1
    # coefficients of z^L, z^(L−1), …, z^0, one row per μ
    coefficients = np.zeros((mu.size, degree + 1), np.complex128)
    coefficients[:, 0] = 1.0
    coefficients[:, 1] -= feedback
    coefficients[:, tap_offset:tap_offset + len(taps)] -= mu[:, None] * taps[None, :]
    if degree == 1:
        roots = -coefficients[:, 1]
    else:
        companion = np.zeros((mu.size, degree, degree), np.complex128)
        companion[:, 0, :] = -coefficients[:, 1:]
        companion[:, np.arange(1, degree), np.arange(degree - 1)] = 1.0
        roots = np.linalg.eigvals(companion)
    return float(np.max(np.abs(roots)))


def spectral_radius(linearisation, method, ratio):
    """The largest spectral radius over the model's layers for ``method`` at R = ``ratio``."""
    offset, taps, feedback = read_filter(method, ratio)
    return max(read_radius(mu, offset, taps.astype(np.float64), feedback) for mu in linearisation.eigenvalues)


def ideal_radius(linearisation, ratio):
    """Where a perfect correction would put the slowest pole: ρ(model at its own rate)^(1/R).

    Running at R times the rate, a pole z of the trained recurrence should become z^(1/R).
    """
    return spectral_radius(linearisation, "naive", 1.0) ** (1.0 / ratio)


def stability_threshold(linearisation, ratio):
    """The largest spectral radius accepted for a Lagrange read at R = ``ratio``: max(SAFE_RADIUS, ρ_ideal + (1 − ρ_ideal)/2), at most 1.

    ρ ≤ 1 alone (the published criterion) let through, in 3 of 132 cases measured (tests and
    benchmarks/below_rate.py), an off-centre cubic read with 0.99 < ρ < 1 that then diverged on
    a loud signal, while linear sat near ρ_ideal: the interpolator had added a slow pole of its
    own. A method may therefore move the slowest pole at most halfway from where correction
    should put it to the unit circle, unless it stays within SAFE_RADIUS.
    """
    ideal = ideal_radius(linearisation, ratio)
    return min(1.0, max(SAFE_RADIUS, ideal + 0.5 * (1.0 - ideal)))
