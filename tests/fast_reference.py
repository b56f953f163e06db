"""The float64 reference of reference.py, compiled: fast enough for ten seconds of audio.

The same equations in the same PyTorch layout, in float64 with libm's tanh and exp, shaped
differently: each layer runs over the whole signal before the next (a layer's output never feeds
back into an earlier one, so this equals running sample by sample), and a recurrent layer keeps
its past states in a ring buffer. Nothing here is shared with the engine's kernels or packing.
test_accuracy.py checks it against reference.py before trusting it.
"""

import math

import numpy as np
from numba import njit

from engine.model import ActivationLayer, DenseLayer, RecurrentLayer


def linear_read(method, ratio):
    """(e, weights): ŝ_n = Σ_m weights[m] · s_{n−e−m} for naive and linear (SRC.md), float64."""
    if method == "naive":
        return 1, np.ones(1)
    if method != "linear" or ratio < 1:
        raise ValueError(f"fast_reference covers naive and linear at R ≥ 1, not {method} at R = {ratio}")
    d = math.floor(ratio)
    alpha = ratio - d
    return d, np.array([1.0 - alpha, alpha])


@njit(cache=False)
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=False)
def _lstm(xs, w_ih, w_hh, b, h0, c0, e, weights):
    """PyTorch's LSTM over a sequence, the fed-back state read as Σ_m weights[m]·s_{n−e−m}."""
    n = xs.shape[0]
    hidden = h0.shape[0]
    depth = e + weights.shape[0]
    h_past = np.empty((depth + 1, hidden))
    c_past = np.empty((depth + 1, hidden))
    for k in range(depth + 1):
        h_past[k] = h0
        c_past[k] = c0
    out = np.empty((n, hidden))
    z = np.empty(4 * hidden)
    for t in range(n):
        h_hat = np.zeros(hidden)
        c_hat = np.zeros(hidden)
        for m in range(weights.shape[0]):
            slot = (t - e - m) % (depth + 1)
            h_hat += weights[m] * h_past[slot]
            c_hat += weights[m] * c_past[slot]
        z[:] = b + w_ih @ xs[t] + w_hh @ h_hat
        slot = t % (depth + 1)
        for j in range(hidden):
            i = _sigmoid(z[j])
            f = _sigmoid(z[hidden + j])
            g = math.tanh(z[2 * hidden + j])
            o = _sigmoid(z[3 * hidden + j])
            c = f * c_hat[j] + i * g
            c_past[slot, j] = c
            h_past[slot, j] = o * math.tanh(c)
        out[t] = h_past[slot]
    return out


@njit(cache=False)
def _gru(xs, w_ih, w_hh, b_ih, b_hh, h0, reset_after, e, weights):
    """PyTorch's GRU (or Keras reset_after=False) over a sequence, the state read as in _lstm."""
    n = xs.shape[0]
    hidden = h0.shape[0]
    depth = e + weights.shape[0]
    past = np.empty((depth + 1, hidden))
    for k in range(depth + 1):
        past[k] = h0
    out = np.empty((n, hidden))
    for t in range(n):
        h_hat = np.zeros(hidden)
        for m in range(weights.shape[0]):
            h_hat += weights[m] * past[(t - e - m) % (depth + 1)]
        gi = w_ih @ xs[t] + b_ih
        slot = t % (depth + 1)
        if reset_after:
            gh = w_hh @ h_hat + b_hh
            for j in range(hidden):
                r = _sigmoid(gi[j] + gh[j])
                z = _sigmoid(gi[hidden + j] + gh[hidden + j])
                cand = math.tanh(gi[2 * hidden + j] + r * gh[2 * hidden + j])
                past[slot, j] = (1.0 - z) * cand + z * h_hat[j]
        else:
            rz = w_hh[:2 * hidden] @ h_hat
            r = np.empty(hidden)
            for j in range(hidden):
                r[j] = _sigmoid(gi[j] + rz[j])
            gn = w_hh[2 * hidden:] @ (r * h_hat)
            for j in range(hidden):
                z = _sigmoid(gi[hidden + j] + rz[hidden + j])
                cand = math.tanh(gi[2 * hidden + j] + gn[j])
                past[slot, j] = (1.0 - z) * cand + z * h_hat[j]
        out[t] = past[slot]
    return out


def _activation(name, v):
    if name == "linear":
        return v
    if name == "tanh":
        return np.tanh(v)
    if name == "relu":
        return np.maximum(v, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-v))
    if name == "elu":
        return np.where(v > 0, v, np.expm1(np.minimum(v, 0.0)))
    if name == "softmax":
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def run(model, audio, sample_rate=None, method="linear", controls=()):
    """The model's float64 output for ``audio`` (1-D) at ``sample_rate`` (default: its own rate),
    with constant ``controls``."""
    ratio = 1.0 if sample_rate is None else sample_rate / model.sample_rate
    e, weights = linear_read(method, ratio)
    audio = np.asarray(audio, np.float64) * 10.0 ** (model.input_gain_db / 20.0)
    v = np.column_stack([audio] + [np.full(audio.shape, float(c)) for c in controls])
    for layer in model.layers:
        if isinstance(layer, RecurrentLayer):
            f64 = [np.ascontiguousarray(a, np.float64) for a in
                   (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh, layer.initial_hidden,
                    layer.initial_cell)]
            if layer.cell == "lstm":
                v = _lstm(v, f64[0], f64[1], f64[2] + f64[3], f64[4], f64[5], e, weights)
            else:
                v = _gru(v, f64[0], f64[1], f64[2], f64[3], f64[4], layer.reset_after, e, weights)
        elif isinstance(layer, DenseLayer):
            v = _activation(layer.activation, v @ layer.weight.astype(np.float64).T + layer.bias.astype(np.float64))
        elif isinstance(layer, ActivationLayer):
            v = _activation(layer.activation, v)
    return (v[:, 0] + (audio if model.skip else 0.0)) * 10.0 ** (model.output_gain_db / 20.0)
