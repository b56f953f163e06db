"""An independent float64 reference of the network and of SRC.md's state-read definitions.

It reads the Model's weights in PyTorch layout (not the kernels' packed arrays), keeps every
past state in a plain Python list, and applies the equations as written, one sample at a
time in numpy float64. Slow and obviously right; used only by the tests.
"""

import math

import numpy as np

from engine.model import ActivationLayer, DenseLayer, RecurrentLayer


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def activation(name, x):
    if name == "linear":
        return x
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "sigmoid":
        return sigmoid(x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x))
    if name == "softmax":
        e = np.exp(x - x.max())
        return e / e.sum()
    raise ValueError(name)


def delayed_state(history, initial, method, ratio):
    """ŝ_n from the list of past states s_0 … s_{n−1} (SRC.md); s_k for k < 0 is the initial state."""

    def s(k):  # k samples back from n: s_{n−k}
        index = len(history) - k
        return history[index] if index >= 0 else initial

    if method == "naive":
        return s(1)
    d = math.floor(ratio)
    alpha = ratio - d
    if method == "linear":
        if ratio < 1:  # SRC.md: ŝ_n = (1 − δ)·s_{n−1} + δ·s_{n−2}, δ = R − 1
            delta = ratio - 1
            return (1 - delta) * s(1) + delta * s(2)
        return (1.0 - alpha) * s(d) + alpha * s(d + 1)
    if method == "cubic":
        # SRC.md: 1 ≤ R < 2 (and R < 1): e = 1, δ = R − 1; R ≥ 2: e = d − 1, δ = α + 1.
        e, delta = (1, ratio - 1) if ratio < 2 else (d - 1, alpha + 1)
        return _polynomial_through(s, e, 3, delta)
    if method == "lagrange5":
        e, delta = (1, ratio - 1) if ratio < 3 else (d - 2, alpha + 2)
        return _polynomial_through(s, e, 5, delta)
    raise ValueError(method)


def allpass_read(history, initial, memory, key, ratio):
    """SRC.md's first-order Thiran read: v_n = a·(s_{n−d} − v_{n−1}) + s_{n−d−1}, a = (1 − α)/(1 + α);
    integer R: the exact delay s_{n−R}."""
    d = math.floor(ratio)
    alpha = ratio - d

    def s(k):
        index = len(history) - k
        return history[index] if index >= 0 else initial

    if alpha == 0:
        return s(d)
    a = (1 - alpha) / (1 + alpha)
    v = a * (s(d) - memory[key]) + s(d + 1)
    memory[key] = v
    return v


def _polynomial_through(s, e, order, delta):
    """Evaluate, element-wise, the polynomial through (m, s_{n−e−m}), m = 0..order, at m = δ.

    Independent of the engine's tap formula: numpy fits the interpolating polynomial itself.
    """
    points = np.arange(order + 1, dtype=np.float64)
    values = np.stack([s(e + m) for m in range(order + 1)])  # (order + 1, state)
    vandermonde = np.vander(points, order + 1)
    coefficients = np.linalg.solve(vandermonde, values)
    return (np.vander(np.array([delta]), order + 1) @ coefficients)[0]


def cell(layer, x, state):
    """One LSTM/GRU step in PyTorch's (or Keras reset_after=False) equations, float64."""
    H = layer.hidden_size
    W = layer.weight_ih.astype(np.float64)
    U = layer.weight_hh.astype(np.float64)
    b_ih = layer.bias_ih.astype(np.float64)
    b_hh = layer.bias_hh.astype(np.float64)
    if layer.cell == "lstm":
        h, c = state[:H], state[H:]
        z = W @ x + b_ih + U @ h + b_hh
        i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, np.concatenate([h, c])
    h = state
    gi = W @ x + b_ih
    if layer.reset_after:
        gh = U @ h + b_hh
        r = sigmoid(gi[:H] + gh[:H])
        z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
    else:
        r = sigmoid(gi[:H] + U[:H] @ h)
        z = sigmoid(gi[H:2 * H] + U[H:2 * H] @ h)
        n = np.tanh(gi[2 * H:] + U[2 * H:] @ (r * h))
    h = (1.0 - z) * n + z * h
    return h, h


def run(model, audio, sample_rate=None, method="linear", controls=None):
    """The model's output for ``audio`` (1-D) at ``sample_rate`` (default: its own rate), float64.

    ``controls`` is None, a constant vector, or an (n, num_controls) array of per-sample values.
    """
    ratio = 1.0 if sample_rate is None else sample_rate / model.sample_rate
    audio = np.asarray(audio, np.float64)
    n = audio.shape[0]
    if model.num_controls:
        controls = np.broadcast_to(np.asarray(controls, np.float64), (n, model.num_controls))
    in_gain = 10.0 ** (model.input_gain_db / 20.0)
    out_gain = 10.0 ** (model.output_gain_db / 20.0)
    recurrent = [layer for layer in model.layers if isinstance(layer, RecurrentLayer)]
    initial = {id(layer): np.concatenate([layer.initial_hidden, layer.initial_cell]).astype(np.float64)
               if layer.cell == "lstm" else layer.initial_hidden.astype(np.float64) for layer in recurrent}
    histories = {id(layer): [] for layer in recurrent}
    allpass_memory = {key: value.copy() for key, value in initial.items()}  # v_{n−1}, at rest
    y = np.empty(n)
    for t in range(n):
        a = audio[t] * in_gain
        v = np.array([a] + (list(controls[t]) if model.num_controls else []))
        for layer in model.layers:
            if isinstance(layer, RecurrentLayer):
                key = id(layer)
                if method == "allpass":
                    shat = allpass_read(histories[key], initial[key], allpass_memory, key, ratio)
                else:
                    shat = delayed_state(histories[key], initial[key], method, ratio)
                v, fresh = cell(layer, v, shat)
                histories[key].append(fresh)
            elif isinstance(layer, DenseLayer):
                v = activation(layer.activation, layer.weight.astype(np.float64) @ v + layer.bias)
            elif isinstance(layer, ActivationLayer):
                v = activation(layer.activation, v)
        y[t] = (v[0] + (a if model.skip else 0.0)) * out_gain
    return y
