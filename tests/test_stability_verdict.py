"""The stability rule in one place (engine.stability.verdict / choose), and a check cheap at any size
(engine.linearisation).

The independent references live here: the Jacobian by central differences and the spectral
radius as the eigenvalues of the recurrence's full companion matrix (what the check computed
before it used det(I − J·H(z)) = Π_i (1 − μ_i·H(z))).
"""

import re
import warnings

import numpy as np
import pytest

import engine
from conftest import REPO
from engine import linearisation, stability
from engine.cli import info_main
from engine.delay import INTERPOLATIONS, STATE_READS, read_filter
from engine.errors import ArgumentError
from engine.model import DenseLayer, RecurrentLayer
from engine.processor import knob_values
from engine.testing import random_model

DEFAULT_MODEL = REPO / "models" / "overdrive_lstm20.json"


# -- independent references --------------------------------------------------------------------


def numeric_jacobian(layer, x, state, step=1e-6):
    """∂cell(x, ŝ)/∂ŝ by central differences."""
    J = np.empty((state.size, state.size))
    for k in range(state.size):
        bump = np.zeros(state.size)
        bump[k] = step
        _, up = linearisation.cell_step(layer, x, state + bump)
        _, down = linearisation.cell_step(layer, x, state - bump)
        J[:, k] = (up - down) / (2 * step)
    return J


def companion_radius(J, tap_offset, taps, feedback=0.0):
    """Spectral radius of δs_n = J·δŝ_n, δŝ_n = Σ_m taps[m]·δs_{n−e−m} + feedback·δŝ_{n−1}, as one system.

    The state is [δs_{n−1}, …, δs_{n−L}] (L = tap_offset + len(taps) − 1), plus δŝ_{n−1} when the
    read is recursive: a matrix of size (L + 1)·S.
    """
    size = J.shape[0]
    lags = tap_offset + len(taps) - 1
    extra = 1 if feedback else 0
    C = np.zeros(((lags + extra) * size, (lags + extra) * size))
    read = np.zeros((size, (lags + extra) * size))  # δŝ_n as a function of the state
    for m, k in enumerate(taps):
        column = tap_offset + m - 1
        read[:, column * size:(column + 1) * size] += k * np.eye(size)
    if extra:
        read[:, lags * size:] += feedback * np.eye(size)
        C[lags * size:, :] = read  # δŝ_n becomes the next step's δŝ_{n−1}
    C[:size, :] = J @ read
    for block in range(1, lags):
        C[block * size:(block + 1) * size, (block - 1) * size:block * size] = np.eye(size)
    return float(np.max(np.abs(np.linalg.eigvals(C))))


def layer_jacobians(model, controls=None):
    """Each recurrent layer's Jacobian at the fixed point, walking the network with the public functions."""
    v = np.zeros(model.input_size)
    if model.num_controls:
        v[1:] = controls
    jacobians = []
    for layer in model.layers:
        if isinstance(layer, RecurrentLayer):
            state, _ = linearisation.fixed_point(layer, v)
            jacobians.append(linearisation.jacobian(layer, v, state))
            v, _ = linearisation.cell_step(layer, v, state)
        elif isinstance(layer, DenseLayer):
            v = linearisation._activation(layer.activation, layer.weight.astype(np.float64) @ v + layer.bias)
    return jacobians


# -- the analytic Jacobian and the factorised radius ------------------------------------------


@pytest.mark.parametrize("cell, reset_after", [("lstm", True), ("gru", True), ("gru", False)])
def test_the_analytic_jacobian_matches_central_differences(cell, reset_after):
    rng = np.random.default_rng(4)
    for seed in range(4):
        model = random_model(cell, hidden=7, controls=1, reset_after=reset_after, seed=seed)
        layer = model.layers[0]
        x = np.array([rng.uniform(-1, 1), rng.uniform(0, 1)])
        state = rng.uniform(-0.9, 0.9, layer.state_size)
        expected = numeric_jacobian(layer, x, state)
        np.testing.assert_allclose(linearisation.jacobian(layer, x, state), expected, rtol=0, atol=1e-8)


def test_the_factorised_radius_equals_the_companion_matrix_radius():
    """max over μ of the roots of D(z) − μ·N(z) against eig of the (L·S)² companion: many models, methods, R."""
    checked, worst = 0, 0.0
    ratios = (0.6, 44100 / 48000, 48000 / 44100, 1.5, 1.75, 96000 / 44100, 2.5, 3.3)
    for seed in range(12):
        cell, reset_after = [("lstm", True), ("gru", True), ("gru", False)][seed % 3]
        model = random_model(cell, hidden=4 + seed % 5, layers=1 + seed % 2, controls=seed % 2,
                             reset_after=reset_after, seed=30 + seed)
        scale = (1.0, 2.0, 3.5)[seed % 3]  # from well inside to well outside the unit circle
        for layer in model.layers:
            if isinstance(layer, RecurrentLayer):
                object.__setattr__(layer, "weight_hh", (scale * layer.weight_hh).astype(np.float32))
        controls = [0.3] if model.num_controls else None
        lin = stability.linearise(model, controls)
        jacobians = layer_jacobians(model, controls)
        for method in STATE_READS:  # resample has no read to linearise
            for ratio in ratios:
                if method == "allpass" and ratio < 1:
                    continue
                offset, taps, feedback = read_filter(method, ratio)
                expected = max(companion_radius(J, offset, taps.astype(np.float64), feedback) for J in jacobians)
                got = stability.spectral_radius(lin, method, ratio)
                worst = max(worst, abs(got - expected) / expected)
                checked += 1
    assert checked > 400
    assert worst < 1e-9, worst


def test_newton_lands_on_the_fixed_point_plain_iteration_reaches():
    """The default model settles slowly (ρ ≈ 0.995: ~3700 plain steps): Newton's method must find the same state."""
    model = engine.load_model(DEFAULT_MODEL)
    layer = model.layers[0]
    x = np.zeros(model.input_size)
    state, converged = linearisation.fixed_point(layer, x)
    assert converged
    plain = np.zeros(layer.state_size)
    for _ in range(linearisation.FIXED_POINT_STEPS):
        _, new = linearisation.cell_step(layer, x, plain)
        if np.max(np.abs(new - plain)) < 1e-14:
            break
        plain = new
    np.testing.assert_allclose(state, plain, rtol=0, atol=1e-10)


# -- the cost ----------------------------------------------------------------------------------


def test_the_check_solves_no_eigenproblem_larger_than_the_state(monkeypatch):
    """One eigendecomposition of J (S × S) per layer, tiny polynomials per method: never the (L·S)² companion."""
    model = random_model("lstm", hidden=16, layers=2, seed=2, sample_rate=48000.0)
    sizes = []
    eigvals = np.linalg.eigvals

    def recording(a):
        sizes.append(np.shape(a)[-1])
        return eigvals(a)

    monkeypatch.setattr(np.linalg, "eigvals", recording)
    lin = stability.linearise(model)
    for method, rate in (("cubic", 44100.0), ("lagrange5", 44100.0), ("allpass", 84000.0), ("cubic", 84000.0)):
        assert stability.spectral_radius(lin, method, rate / 48000.0) > 0.5
    assert sizes and max(sizes) <= 2 * 16, sizes


def test_a_slowly_settling_model_is_linearised_in_a_few_dozen_steps(monkeypatch):
    """The default model took ~3700 plain cell steps (a second); the check now costs milliseconds."""
    calls = []
    sigmoid = linearisation._sigmoid
    monkeypatch.setattr(linearisation, "_sigmoid", lambda x: calls.append(1) or sigmoid(x))
    model = engine.load_model(DEFAULT_MODEL)
    lin = stability.linearise(model)
    assert lin.converged
    assert len(calls) < 3 * 200  # three sigmoids a step for an LSTM: well under 200 steps and Jacobians


def test_a_layer_that_never_settles_stops_at_the_work_cap(monkeypatch):
    """A limit cycle runs the plain iteration to FIXED_POINT_WORK multiply-adds, then reports non-convergence."""
    H = 16
    model = random_model("gru", hidden=H, seed=1, sample_rate=48000.0)
    layer = model.layers[0]
    # r = 1, z = 0, n = tanh(0.1 − 4h) per unit: the fixed point repels (slope ≈ −4), a 2-cycle attracts
    weight_hh = np.zeros((3 * H, H), np.float32)
    weight_hh[2 * H:] = -4 * np.eye(H)
    bias = np.concatenate([np.full(H, 10.0), np.full(H, -10.0), np.full(H, 0.1)]).astype(np.float32)
    for name, value in (("weight_hh", weight_hh), ("weight_ih", np.zeros_like(layer.weight_ih)), ("bias_ih", bias),
                        ("bias_hh", np.zeros_like(layer.bias_hh))):
        object.__setattr__(layer, name, value)
    monkeypatch.setattr(linearisation, "FIXED_POINT_WORK", 3 * H * H * 300)  # 300 steps
    steps = []
    step = linearisation._Cell.step
    monkeypatch.setattr(linearisation._Cell, "step", lambda self, s: steps.append(1) or step(self, s))
    _, converged = linearisation.fixed_point(layer, np.zeros(1))
    assert not converged
    assert 300 <= len(steps) <= 300 + linearisation.NEWTON_STEPS * 5


# -- one rule, one verdict, used everywhere ----------------------------------------------------


def test_the_rule(monkeypatch):
    def never(*_):
        raise AssertionError("linearised although no check was needed")

    cases = {
        ("naive", 0.9): (True, stability.AS_TRAINED),
        ("allpass", 0.9): (False, stability.NO_FORM),
        ("cubic", 2.0): (True, stability.EXACT),
        ("allpass", 3.0): (True, stability.EXACT),
        ("linear", 1.3): (True, stability.CENTRED),
        ("cubic", 2.5): (True, stability.CENTRED),
        ("lagrange5", 3.5): (True, stability.CENTRED),
        ("allpass", 4.5): (True, stability.UNIT_GAIN),
    }
    for (method, ratio), (stable, reason) in cases.items():
        v = stability.verdict(method, ratio, never)
        assert (v.stable, v.reason, v.checked) == (stable, reason, False), (method, ratio)
        assert np.isnan(v.radius) and np.isnan(v.limit)
    model = random_model("lstm", hidden=8, seed=3, sample_rate=48000.0)
    lin = stability.linearise(model)
    for method, ratio in (("linear", 0.9), ("cubic", 0.9), ("cubic", 1.5), ("lagrange5", 2.5), ("allpass", 1.5)):
        v = stability.verdict(method, ratio, lin)
        assert v.checked and v.radius == stability.spectral_radius(lin, method, ratio)
        expected_limit = 1.0 if method == "allpass" else stability.stability_threshold(lin, ratio)
        assert v.limit == expected_limit and v.stable == (v.radius <= v.limit + stability.RADIUS_TOLERANCE)


def test_the_allpass_read_is_as_stable_as_the_model():
    """Why the allpass needs no check at R ≥ 4 (ALLPASS_CHECKED_BELOW): with |μ| ≤ 1 its poles stay in the circle."""
    rng = np.random.default_rng(9)
    mu = np.sqrt(rng.uniform(0, 1, 2000)) * np.exp(2j * np.pi * rng.uniform(0, 1, 2000))
    mu = np.concatenate([mu, np.exp(2j * np.pi * rng.uniform(0, 1, 200)), [1.0, -1.0]])  # the circle itself
    for ratio in (1.05, 1.5, 2.7, 3.9, 4.5, 9.9, 17.25):
        offset, _, feedback = read_filter("allpass", ratio)
        taps = np.array([-feedback, 1.0])  # [a, 1] exactly (the kernel's float32 taps move |H| off 1 by ~1e-9)
        assert linearisation.read_radius(mu, offset, taps, feedback) <= 1 + 1e-12, ratio
        assert linearisation.read_radius([1.02], offset, taps, feedback) > 1  # and only then


def test_a_conditioned_model_is_never_linearised_at_a_hidden_default():
    """The knob default lives in processor.knob_values only; the check must be told the values."""
    model = random_model("lstm", hidden=8, controls=2, seed=3)
    with pytest.raises(ArgumentError, match="2 control input"):
        stability.linearise(model)
    with pytest.raises(ArgumentError, match="takes 2 control value"):
        stability.linearise(model, [0.5])
    assert stability.linearise(model, knob_values(model)).converged
    assert knob_values(model) == [0.5, 0.5]


def test_processor_set_controls_and_engine_info_all_follow_the_one_verdict(monkeypatch, capsys, shared_fixtures):
    """Make the rule call cubic unstable everywhere: every caller must replace it, and say the same."""
    real = stability.verdict

    def cubic_never(method, ratio, lin):
        if method == "cubic":
            return stability.Verdict(method, ratio, False, stability.OVER_LIMIT, 1.5, 0.99)
        return real(method, ratio, lin)

    monkeypatch.setattr(stability, "verdict", cubic_never)
    model = random_model("lstm", hidden=8, controls=1, seed=3, sample_rate=48000.0)
    with pytest.warns(engine.StabilityWarning, match=r"cubic is predicted unstable at 96000 Hz \(R = 2, spectral "
                                                     r"radius 1\.5000\); running lagrange5 instead"):
        processor = engine.Processor(model, 96000, interpolation="cubic", controls=[0.5])
    assert processor.interpolation == "lagrange5" and processor.stability.verdict("cubic").radius == 1.5
    with pytest.warns(engine.StabilityWarning, match="running lagrange5 instead"):
        processor.set_controls([0.7])  # a checked verdict: judged again at the new knob values
    nam = str(shared_fixtures / "nam" / "lstm_1x3.nam")
    assert info_main([nam, "--rate", "96000"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"cubic +UNSTABLE, spectral radius 1\.5000 \(limit 0\.9900\); runs lagrange5 instead", out), out

    monkeypatch.setattr(stability, "verdict", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        processor.set_controls([0.6])  # R = 2 is the exact delay: cubic comes back, silently
    assert processor.interpolation == "cubic" and processor.stability.verdict("cubic").reason == stability.EXACT


@pytest.mark.filterwarnings("ignore::engine.StabilityWarning")
def test_engine_info_says_what_the_processor_runs(shared_fixtures, capsys):
    for path, rate in ((shared_fixtures / "nam/lstm_1x3.nam", 88200), (shared_fixtures / "nam/lstm_1x3.nam", 44100),
                       (DEFAULT_MODEL, 48000)):
        assert info_main([str(path), "--rate", str(rate)]) == 0
        out = capsys.readouterr().out
        model = engine.load_model(path)
        for method in INTERPOLATIONS:
            line = re.search(rf"^  {method} +(.*)$", out, re.M).group(1)
            runs = re.search(r"runs (\w+) instead", line)
            ran = engine.Processor(model, rate, interpolation=method, controls=knob_values(model)).interpolation
            assert (runs.group(1) if runs else method) == ran, (path.name, rate, method, line)


def test_engine_info_prints_the_limit_each_verdict_applied(capsys):
    """The allpass is judged against 1, not the Lagrange reads' stability_threshold (it printed 'limit 0.9975')."""
    assert info_main([str(DEFAULT_MODEL), "--rate", "48000"]) == 0  # R = 1.088: cubic, lagrange5, allpass checked
    out = capsys.readouterr().out
    verdicts = dict(re.findall(r"^  (\w+) +(?:stable|UNSTABLE), spectral radius \d\.\d{4} \(limit (\d\.\d{4})\)", out,
                               re.M))
    assert set(verdicts) == {"cubic", "lagrange5", "allpass"}, out
    assert verdicts["allpass"] == "1.0000"
    model = engine.load_model(DEFAULT_MODEL)
    limit = stability.stability_threshold(stability.linearise(model), 48000 / 44100)
    assert verdicts["cubic"] == verdicts["lagrange5"] == f"{limit:.4f}"
    for radius, limit in re.findall(r"stable, spectral radius (\d\.\d{4}) \(limit (\d\.\d{4})\)", out):
        assert float(radius) <= float(limit)  # a stable verdict never shows a radius over its limit
