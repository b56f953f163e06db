"""A model linearised at the state silence settles to, and the spectral radius of a state read (SRC.md).

The check of Carson et al. (ICASSP 2025), which engine.stability's rule applies: linearise each
recurrent layer at its zero-input fixed point s* (Jacobian J = ∂cell(x*, ŝ)/∂ŝ). The corrected
recurrence δs_n = J·δŝ_n reads the state through the filter δŝ = H(z)·δs,
H(z) = Σ_m k_m z^−(e+m) / (1 − b·z^−1) (FIR taps at offset e, plus the allpass feedback b), so its
poles are the roots of det(I − J·H(z)). With J = Q·T·Q* (Schur, T triangular with J's eigenvalues
μ_i on its diagonal) that determinant is Π_i (1 − μ_i·H(z)): the poles are, for each μ_i, the L
roots of the small polynomial

    z^L − b·z^(L−1) − μ_i · Σ_m k_m z^(L−e−m),      L = e + len(taps) − 1,

the eigenvalues of the (L·S)² companion matrix of the recurrence (S the state size) for the cost
of one eigendecomposition of J per layer (tests/test_stability_verdict.py checks the two agree).
Layers feed forward into each other, so the whole network's linearisation is block-triangular and
its eigenvalues are those of the layers: each layer is linearised on its own, with the input it
sees at the fixed point of the layers before it. Everything here is float64 numpy on the Model's
PyTorch-layout weights, with analytic Jacobians of the cells; nothing runs in the audio path.

Cost per recurrent layer: one eigendecomposition of J, O(S³) (S = 2H for an LSTM, H for a GRU),
a few Newton steps, and a plain fixed-point iteration bounded by FIXED_POINT_STEPS and
FIXED_POINT_WORK. Measured on the 2-core machine this was built on, CPU time of the check as the
Processor runs it (stability.choose, cubic at R = 44.1/48, tests/models.random_model(seed=1),
OPENBLAS_NUM_THREADS=1), before → now: LSTM-40 0.13 s → 8 ms, LSTM-384 26 s → 0.5 s, LSTM-512
59 s → 0.9 s, 8 × LSTM-512 (the loader's largest) ~8 min → 6.3 s, 8 × GRU-512 2.7 s; the default
model 0.13 s → 6 ms. The eigendecompositions are most of it. With OpenBLAS's own threads on a
busy 2-core machine the same 8 × LSTM-512 took 27 s of CPU: its threads wait for each other.

    python -c "import sys, time; sys.path.insert(0, 'tests'); from models import random_model; \
        from engine.stability import choose; m = random_model('lstm', hidden=512, layers=8, seed=1, \
        sample_rate=48000.0); t = time.process_time(); choose(m, 'cubic', 44100 / 48000); \
        print(time.process_time() - t)"
"""

from dataclasses import dataclass

import numpy as np

from .delay import read_filter
from .errors import ArgumentError
from .model import ActivationLayer, DenseLayer, RecurrentLayer

#: A fixed point Newton's method finds is kept only if J's spectral radius there is at most this
#: (attracting, as one the plain iteration settles to must be; a pole on the circle, as an
#: integrator or an undamped unit gives, counts).
ATTRACTING_RADIUS = 1 + 1e-9
#: The plain fixed-point iteration stops when a step moves the state less than this (max norm).
FIXED_POINT_TOLERANCE = 1e-12
#: At most this many plain steps per layer...
FIXED_POINT_STEPS = 20000
#: ... and at most this many multiply-adds of the recurrent matrix (G·H² per step, G = 4 for an
#: LSTM, 3 for a GRU): LSTM-79 (GRU-91) and smaller get all FIXED_POINT_STEPS, LSTM-512 476
#: (~0.25 s here), so that a large layer that never settles (a limit cycle) cannot make the check
#: slow; it is then linearised where the iteration stopped, as a small one is after
#: FIXED_POINT_STEPS (the check is approximate either way: Linearisation.converged is False).
#: Every model that settles was caught long before, by Newton's method (see _fixed_point).
FIXED_POINT_WORK = 5e8
#: Newton steps per attempt (see _fixed_point)...
NEWTON_STEPS = 8
#: ... made once the last this many plain steps are each shorter than the one this many before...
NEWTON_WINDOW = 16
#: ... and they predict the fixed point within a tenth of this (max norm; the hidden state lies
#: in [−1, 1]). The project's models were at most 1.8 away (ten times the remaining distance) at
#: their first attempt; a layer oscillating with steps of ~1 that shrink by 1e-6 predicts 1e6.
NEWTON_REACH = 10.0


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
    models (ρ ≈ 0.995). Once the steps shrink steadily (each of the last NEWTON_WINDOW shorter than
    the one NEWTON_WINDOW before: a chaotic transient, which some strong random models wander in
    for thousands of steps, does not) towards a point near enough (NEWTON_REACH), Newton's method
    (s ← s − (J − I)⁻¹(cell(s) − s)) finishes in a few steps. Its answer is kept only if it is the
    point the iteration is heading for: a fixed point to FIXED_POINT_TOLERANCE, within ten times the
    distance the shrinking steps have left to go, and attracting (ρ(J) ≤ 1, or the iteration could
    not settle there; a repelling one ends the attempts). Otherwise the plain iteration goes on
    (the next attempt after twice as many steps), up to FIXED_POINT_STEPS and FIXED_POINT_WORK.

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
                reach = 10 * size / (1 - rate)
                if reach <= NEWTON_REACH:
                    found = _newton(cell, state, reach)
                    if found is _REPELLING:
                        next_attempt = steps  # it would find the same point again
                    elif found is not None:
                        return found[0], True, found[1]
                next_attempt = max(next_attempt, 2 * len(sizes))
    return state, False, None


_REPELLING = object()


def _newton(cell, start, reach):
    """Newton's method from ``start`` for the fixed point (see _fixed_point).

    Returns (state, eigenvalues of J there), _REPELLING for a fixed point the iteration cannot
    settle to, or None (no fixed point found within ``reach`` of ``start``).
    """
    state = start
    identity = np.eye(start.size)
    for _ in range(NEWTON_STEPS):
        _, new = cell.step(state)
        residual = new - state
        if np.max(np.abs(residual)) < FIXED_POINT_TOLERANCE:
            eigenvalues = np.linalg.eigvals(cell.jacobian(state))
            if np.max(np.abs(eigenvalues)) > ATTRACTING_RADIUS:
                return _REPELLING  # not where the iteration goes
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


def read_radius(eigenvalues, tap_offset, taps, feedback=0.0):
    """The spectral radius of δs_n = J·δŝ_n, δŝ_n = Σ_m taps[m]·δs_{n−e−m} + feedback·δŝ_{n−1}, from J's μ.

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
