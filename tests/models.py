"""Models built in code, for tests that need shapes no fixture file has (controls, gains, Keras GRUs)."""

import numpy as np

from engine.formats.common import make_recurrent_layer
from engine.model import DenseLayer, Model, validate_model


def random_model(cell="lstm", hidden=16, layers=1, controls=0, skip=False, sample_rate=44100.0,
                 input_gain_db=0.0, output_gain_db=0.0, reset_after=True, seed=0, head_activation="linear"):
    """A validated Model with PyTorch-like random weights (U(−1/√H, 1/√H), a bit louder for the input)."""
    rng = np.random.default_rng(seed)
    gates = 4 if cell == "lstm" else 3
    scale = 1.0 / np.sqrt(hidden)
    stack = []
    width = 1 + controls
    for _ in range(layers):
        def u(*shape, s=scale):
            return rng.uniform(-s, s, shape).astype(np.float32)
        bias_hh = u(gates * hidden) if reset_after else np.zeros(gates * hidden, np.float32)
        stack.append(make_recurrent_layer(cell, width, hidden, u(gates * hidden, width, s=2.0),
                                          u(gates * hidden, hidden, s=2.5 * scale), u(gates * hidden), bias_hh,
                                          reset_after=reset_after))
        width = hidden
    if head_activation != "linear":
        stack.append(DenseLayer(weight=rng.uniform(-1, 1, (8, hidden)).astype(np.float32),
                                bias=rng.uniform(-0.1, 0.1, 8).astype(np.float32), activation=head_activation))
        width = 8
    stack.append(DenseLayer(weight=rng.uniform(-1, 1, (1, width)).astype(np.float32),
                            bias=rng.uniform(-0.1, 0.1, 1).astype(np.float32)))
    return validate_model(Model(layers=tuple(stack), input_size=1 + controls, sample_rate=sample_rate,
                                sample_rate_source="user", format="test", path=f"<random {cell}>", skip=skip,
                                input_gain_db=input_gain_db, output_gain_db=output_gain_db))
