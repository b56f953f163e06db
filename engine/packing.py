"""Pack a Model into the flat arrays the kernels read (layout documented in kernels.py)."""

from dataclasses import dataclass

import numpy as np

from . import kernels as k
from .model import ActivationLayer, DenseLayer, RecurrentLayer


@dataclass(frozen=True, eq=False)
class PackedNetwork:
    """A network as the kernels see it.

    meta : int64 (layers, kernels.META_COLUMNS); params : float32 flat weights;
    state_size : floats of fed-back state over all recurrent layers (one history slot);
    initial_state : float32 (state_size,) — the state after reset, per layer [h0; c0] or h0;
    width : the widest activation vector; gates_width : the widest gate or dense accumulator;
    max_state : the largest single layer's state (the size of the ŝ scratch).
    """

    meta: np.ndarray
    params: np.ndarray
    state_size: int
    initial_state: np.ndarray
    width: int
    gates_width: int
    max_state: int


def pack(model):
    """Lay out a validated Model's weights for the kernels.

    Parameters
    ----------
    model : Model

    Returns
    -------
    PackedNetwork
    """
    meta = np.zeros((len(model.layers), k.META_COLUMNS), np.int64)
    chunks = []
    offset = 0
    state = 0
    initial = []
    width = model.input_size
    gates_width = 1
    max_state = 1

    def put(array):
        nonlocal offset
        start = offset
        flat = np.ascontiguousarray(array, np.float32).ravel()
        chunks.append(flat)
        offset += flat.size
        return start

    for index, layer in enumerate(model.layers):
        row = meta[index]
        row[k.M_IN] = layer.input_size
        row[k.M_OUT] = layer.output_size
        row[k.M_STATE] = -1
        if isinstance(layer, RecurrentLayer):
            row[k.M_KIND] = k.KIND_LSTM if layer.cell == "lstm" else k.KIND_GRU
            row[k.M_KERNEL] = put(layer.weight_ih.T)
            row[k.M_RECURRENT] = put(layer.weight_hh.T)
            row[k.M_BIAS] = put(layer.bias_ih)
            put(layer.bias_hh)
            row[k.M_STATE] = state
            row[k.M_RESET_AFTER] = int(layer.reset_after)
            state += layer.state_size
            initial.append(layer.initial_hidden)
            if layer.cell == "lstm":
                initial.append(layer.initial_cell)
            gates_width = max(gates_width, 4 * layer.hidden_size)
            max_state = max(max_state, layer.state_size)
        elif isinstance(layer, DenseLayer):
            row[k.M_KIND] = k.KIND_DENSE
            row[k.M_ACT] = k.ACTIVATION_CODES[layer.activation]
            row[k.M_KERNEL] = put(layer.weight.T)
            row[k.M_BIAS] = put(layer.bias)
            gates_width = max(gates_width, layer.output_size)
        elif isinstance(layer, ActivationLayer):
            row[k.M_KIND] = k.KIND_ACTIVATION
            row[k.M_ACT] = k.ACTIVATION_CODES[layer.activation]
        else:  # validate_model admits no other kind
            raise TypeError(f"cannot pack layer {layer!r}")
        width = max(width, layer.output_size)

    params = np.concatenate(chunks) if chunks else np.zeros(1, np.float32)
    return PackedNetwork(
        meta=meta,
        params=np.ascontiguousarray(params, np.float32),
        state_size=state,
        initial_state=np.concatenate(initial).astype(np.float32),
        width=width,
        gates_width=gates_width,
        max_state=max_state,
    )
