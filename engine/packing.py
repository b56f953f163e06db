"""Pack a Model into the flat arrays the kernels read (layout documented in kernels/layout.py)."""

from dataclasses import dataclass

import numpy as np

from . import kernels as k
from .model import ActivationLayer, DenseLayer, RecurrentLayer

LANES = k.LANES
ALIGNMENT = 64  # bytes: one cache line, one 16-float vector


@dataclass(frozen=True, eq=False)
class PackedNetwork:
    """A network as the kernels see it.

    meta : int64 (kernels.HEADER_ROWS + layers, kernels.META_COLUMNS) — the header row holds the
        model's run settings (skip, controls, the work-area layout); the Processor adds the rest.
    params : float32, 64-byte aligned — the header (gains; taps and controls are the
        Processor's), then every layer's weights in the order the kernels read them, then the
        initial state (at meta[0, H_INITIAL]).
    state_size : floats of one history slot: every recurrent layer's state, each padded to
        whole vectors.
    initial_state : float32 (state_size,) — a slot after reset, per layer [h0; c0] or h0.
    work_size : floats of work area per channel.
    """

    meta: np.ndarray
    params: np.ndarray
    state_size: int
    initial_state: np.ndarray
    work_size: int


def aligned_zeros(shape, dtype=np.float32):
    """A zero-filled C-contiguous array whose data starts on a 64-byte boundary.

    The kernels' 16-float loads and stores then never straddle two cache lines (which would
    make each cost two), whatever numpy's allocator returns.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.zeros(count * dtype.itemsize + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def padded(size):
    """``size`` rounded up to whole vectors."""
    return -(-size // LANES) * LANES


def _blocked(matrix, gates, hidden):
    """(gates·hidden, K) PyTorch rows → (blocks, K, gates, LANES): for each block of 16 units and
    each column k, the gate vectors of those units, zero past the last unit."""
    columns = matrix.shape[1]
    blocks = padded(hidden) // LANES
    out = np.zeros((gates, blocks * LANES, columns), np.float32)
    out[:, :hidden] = matrix.reshape(gates, hidden, columns)
    return out.reshape(gates, blocks, LANES, columns).transpose(1, 3, 0, 2)


def _bias_row(vectors, hidden):
    """[(hidden,) per gate] → (blocks, 1, gates, LANES)."""
    return _blocked(np.stack(vectors).reshape(-1, 1), len(vectors), hidden)


def _half_rows(*quarters):
    """Rows of a half block: (K, 2, LANES) from four (units, K) arrays (None for zeros), laid out
    [[q0, q1], [q2, q3]]: each vector holds two gates of the same ≤ 8 units, zero past them."""
    units, columns = next(q.shape for q in quarters if q is not None)
    out = np.zeros((columns, 2, 2, LANES // 2), np.float32)
    for index, quarter in enumerate(quarters):
        if quarter is not None:
            out[:, index // 2, index % 2, :units] = quarter.T
    return out.reshape(columns, 2, LANES)


def half_block_units(layer):
    """How many units the trailing half block of a recurrent layer holds (0: none).

    The last block of 16 units holds only H mod 16 real ones; when that is 8 or fewer (LSTM-8,
    -20, -40, -56) two gates share each vector, halving that block's work (measured: 10-15% less
    time per sample for LSTM-8, -20 and -56, 3% for -40). GRUs gain too little from it to carry
    the extra code.
    """
    rest = layer.hidden_size % LANES
    return rest if 0 < rest <= LANES // 2 and layer.cell == "lstm" else 0


def recurrent_weights(layer):
    """A recurrent layer's weights in the order lstm_step / gru_step read them (see kernels/cells.py).

    The rows of every σ gate (LSTM i, f, o; GRU r, z) are stored halved, so the kernels get a/2
    and compute σ(a) = ½ + ½·tanh(a/2) without a multiply (kernels.sigmoid16_of_double). Halving
    is exact in binary floating point, so the gate sums round exactly as unhalved ones would.
    """
    H = layer.hidden_size
    gates = 4 if layer.cell == "lstm" else 3
    halve = np.array([0.5, 0.5, 1.0, 0.5] if layer.cell == "lstm" else [0.5, 0.5, 1.0], np.float32)
    scale = np.repeat(halve, H)
    w_ih = layer.weight_ih.astype(np.float32) * scale[:, None]
    w_hh = layer.weight_hh.astype(np.float32) * scale[:, None]
    b_ih = (layer.bias_ih.astype(np.float32) * scale).reshape(gates, H)
    b_hh = (layer.bias_hh.astype(np.float32) * scale).reshape(gates, H)
    full = H - half_block_units(layer)  # units in blocks of 16 (the last padded if no half block follows)
    tail = []
    if layer.cell == "lstm":
        b = b_ih + b_hh
        blocked = [_bias_row(list(b[:, :full]), full), _blocked(_gates(w_ih, 4, H, full), 4, full),
                   _blocked(_gates(w_hh, 4, H, full), 4, full)]
        if full < H:  # the half block: [i, f] and [g, o] of the last units
            tail = [_half_rows(*(m[g * H + full:(g + 1) * H] for g in range(4))) for m in (b.reshape(-1, 1), w_ih, w_hh)]
    elif layer.reset_after:
        blocked = [_bias_row([b_ih[0] + b_hh[0], b_ih[1] + b_hh[1], b_ih[2], b_hh[2]], H),
                   _blocked(w_ih, 3, H), _blocked(w_hh, 3, H)]
    else:  # Keras reset_after=False: one bias, U_n applied to r ∘ ĥ in a second pass
        blocked = [_bias_row(list(b_ih), H), _blocked(w_ih, 3, H), _blocked(w_hh[:2 * H], 2, H),
                   _blocked(w_hh[2 * H:], 1, H)]
    blocks = padded(full) // LANES
    parts = [np.concatenate([s.reshape(blocks, -1) for s in blocked], axis=1).ravel()] if blocks else []
    return np.concatenate(parts + [t.ravel() for t in tail])


def _gates(matrix, gates, hidden, units):
    """The rows of the first ``units`` units of each gate: (gates·units, K)."""
    columns = matrix.shape[1]
    return matrix.reshape(gates, hidden, columns)[:, :units].reshape(gates * units, columns)


def dense_weights(layer):
    """The bias padded to whole vectors, then the (out, in) rows each padded to whole vectors."""
    n_out, n_in = layer.weight.shape
    bias = np.zeros(padded(n_out), np.float32)
    bias[:n_out] = layer.bias
    rows = np.zeros((n_out, padded(n_in)), np.float32)
    rows[:, :n_in] = layer.weight
    return np.concatenate([bias, rows.ravel()])


def pack(model):
    """Lay out a validated Model's weights and work area for the kernels.

    Parameters
    ----------
    model : Model

    Returns
    -------
    PackedNetwork
    """
    meta = np.zeros((k.HEADER_ROWS + len(model.layers), k.META_COLUMNS), np.int64)
    n_controls = max(model.num_controls, 0)
    header = padded(k.P_CONTROLS + 2 * n_controls)
    chunks = [np.zeros(header, np.float32)]
    offset = header
    state = 0
    initial = []
    width = LANES
    scratch = 0

    for index, layer in enumerate(model.layers):
        row = meta[k.HEADER_ROWS + index]
        row[k.M_IN] = layer.input_size
        row[k.M_OUT] = layer.output_size
        row[k.M_STATE] = -1
        weights = None
        if isinstance(layer, RecurrentLayer):
            hidden = padded(layer.hidden_size)
            half = half_block_units(layer) > 0
            row[k.M_KIND] = k.KIND_LSTM if layer.cell == "lstm" else k.KIND_GRU
            row[k.M_BLOCKS] = hidden // LANES - half
            row[k.M_HALF] = half
            row[k.M_RESET_AFTER] = int(layer.reset_after)
            row[k.M_STATE] = state
            weights = recurrent_weights(layer)
            slot = np.zeros(2 * hidden if layer.cell == "lstm" else hidden, np.float32)
            slot[:layer.hidden_size] = layer.initial_hidden
            if layer.cell == "lstm":
                slot[hidden:hidden + layer.hidden_size] = layer.initial_cell
            elif not layer.reset_after:
                scratch = max(scratch, 3 * hidden)
            initial.append(slot)
            state += slot.size
        elif isinstance(layer, DenseLayer):
            row[k.M_KIND] = k.KIND_DENSE
            row[k.M_ACT] = k.ACTIVATION_CODES[layer.activation]
            row[k.M_BLOCKS] = padded(layer.input_size) // LANES
            weights = dense_weights(layer)
        elif isinstance(layer, ActivationLayer):
            row[k.M_KIND] = k.KIND_ACTIVATION
            row[k.M_ACT] = k.ACTIVATION_CODES[layer.activation]
        else:  # validate_model admits no other kind
            raise TypeError(f"cannot pack layer {layer!r}")
        if weights is not None:
            row[k.M_WEIGHTS] = offset
            chunks.append(weights)
            offset += weights.size
        width = max(width, padded(layer.output_size))

    # The initial state (one history slot) after the weights, for the kernel's resets.
    initial_state = np.concatenate(initial).astype(np.float32)
    initial_offset = offset
    chunks.append(initial_state)
    offset += initial_state.size
    params = aligned_zeros(offset)
    params[:] = np.concatenate(chunks)
    params[k.P_INPUT_GAIN] = 10.0 ** (model.input_gain_db / 20.0)
    params[k.P_OUTPUT_GAIN] = 10.0 ** (model.output_gain_db / 20.0)

    # A channel's work area: the input vector (audio, controls), two activation vectors, two ŝ, scratch.
    head = meta[0]
    head[k.H_SKIP] = int(model.skip)
    head[k.H_CONTROLS] = n_controls
    head[k.H_STATE] = state
    head[k.H_WIDTH] = width
    head[k.H_ACT] = padded(model.input_size)
    head[k.H_SHAT] = head[k.H_ACT] + 2 * width
    head[k.H_SCRATCH] = head[k.H_SHAT] + 2 * state  # ŝ: two buffers of one history slot each
    head[k.H_WORK] = head[k.H_SCRATCH] + scratch
    head[k.H_INITIAL] = initial_offset
    return PackedNetwork(meta=meta, params=params, state_size=state, initial_state=initial_state,
                         work_size=int(head[k.H_WORK]))
