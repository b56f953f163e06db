"""The one validated, format-free description of a network.

Every file format is read into a :class:`Model`: a sequence of layers with float32 weights in
one canonical layout (PyTorch's: LSTM gate rows [i, f, g, o], GRU gate rows [r, z, n]), plus
skip, gains, conditioning inputs, initial state and the training rate with where it came from.
Nothing here knows about files or numba; the Processor packs a Model for the kernels.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelFileError

#: Activations a dense or activation layer may apply.
ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid", "elu", "softmax")

#: Where ``Model.sample_rate`` came from.
SAMPLE_RATE_SOURCES = ("file", "format-default", "user")

GATES = {"lstm": 4, "gru": 3}


@dataclass(frozen=True, eq=False)
class RecurrentLayer:
    """An LSTM or GRU layer in PyTorch's layout.

    ``weight_ih`` is (G·H, input_size), ``weight_hh`` (G·H, H), biases (G·H,), with G = 4 for
    an LSTM (rows i, f, g, o) and 3 for a GRU (rows r, z, n). ``reset_after`` is False only for
    Keras GRUs built with ``reset_after=False``, whose candidate is
    n = tanh(W_in·x + b_in + W_hn·(r ∘ h)) (their single bias is stored in ``bias_ih``).
    ``initial_hidden``/``initial_cell`` are the state after reset (zeros unless the file stores one).
    """

    cell: str
    input_size: int
    hidden_size: int
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    initial_hidden: np.ndarray
    initial_cell: np.ndarray
    reset_after: bool = True

    @property
    def output_size(self):
        return self.hidden_size

    @property
    def state_size(self):
        """Floats of fed-back state: [h; c] for an LSTM, h for a GRU."""
        return 2 * self.hidden_size if self.cell == "lstm" else self.hidden_size

    @property
    def parameter_count(self):
        return self.weight_ih.size + self.weight_hh.size + self.bias_ih.size + self.bias_hh.size

    def describe(self):
        return f"{self.cell.upper()}({self.input_size}→{self.hidden_size})"


@dataclass(frozen=True, eq=False)
class DenseLayer:
    """A fully connected layer y = activation(weight · x + bias); weight is (out, in)."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "linear"

    @property
    def input_size(self):
        return self.weight.shape[1]

    @property
    def output_size(self):
        return self.weight.shape[0]

    @property
    def parameter_count(self):
        return self.weight.size + self.bias.size

    def describe(self):
        act = "" if self.activation == "linear" else f", {self.activation}"
        return f"Dense({self.input_size}→{self.output_size}{act})"


@dataclass(frozen=True, eq=False)
class ActivationLayer:
    """An element-wise activation of a vector of ``size`` values."""

    activation: str
    size: int

    @property
    def input_size(self):
        return self.size

    @property
    def output_size(self):
        return self.size

    parameter_count = 0

    def describe(self):
        return f"Activation({self.activation})"


@dataclass(frozen=True, eq=False)
class Model:
    """A validated network, ready to be packed for the kernels.

    The network maps, per sample, the vector [audio, control_1, …, control_k] to one output;
    ``input_gain_db`` scales the audio before the network, ``skip`` adds the (scaled) audio to
    the network's output, and ``output_gain_db`` scales the sum.
    """

    layers: tuple
    input_size: int
    sample_rate: float
    sample_rate_source: str
    format: str
    path: str
    skip: bool = False
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    metadata: dict = field(default_factory=dict)
    stored_parameter_count: int = None

    @property
    def num_controls(self):
        """Input channels beyond the audio: the knobs of a conditioned model."""
        return self.input_size - 1

    @property
    def recurrent_layers(self):
        return tuple(layer for layer in self.layers if isinstance(layer, RecurrentLayer))

    @property
    def parameter_count(self):
        """The number of trained values the file stores (NAM counts its initial state too)."""
        if self.stored_parameter_count is not None:
            return self.stored_parameter_count
        return sum(layer.parameter_count for layer in self.layers)

    @property
    def name(self):
        import os

        return self.metadata.get("name") or os.path.splitext(os.path.basename(self.path))[0]

    def with_sample_rate(self, sample_rate, source):
        """Return a copy whose training rate is ``sample_rate`` (Hz), recorded as coming from ``source``."""
        return dataclasses.replace(self, sample_rate=float(sample_rate), sample_rate_source=source)

    def describe(self):
        """One line naming the layers, e.g. ``LSTM(1→40) → Dense(40→1) + skip``."""
        text = " → ".join(layer.describe() for layer in self.layers)
        if self.skip:
            text += " + skip"
        return text


def _fail(path, message):
    raise ModelFileError(f"{path}: {message}")


def check_array(path, where, value, shape):
    """Convert ``value`` to a finite float32 array of exactly ``shape``.

    Parameters
    ----------
    path : str
        The model file, for the error message.
    where : str
        Where in the file the value sits, e.g. ``state_dict["rec.weight_hh_l0"]``.
    value : array-like
        Nested lists of numbers.
    shape : tuple of int
        The expected shape.

    Returns
    -------
    numpy.ndarray
        A C-contiguous float32 copy.

    Raises
    ------
    ModelFileError
        If the value is not a numeric array of that shape, or holds NaN, infinity or a value
        too large for float32.
    """
    try:
        raw = np.asarray(value)
    except ValueError:  # numpy refuses ragged nesting
        _fail(path, f"{where} is a ragged array, expected a rectangular array of shape {tuple(shape)}")
    # JSON true/false, strings and null would convert silently (to 1.0, a parsed number, NaN): refuse them.
    if raw.dtype.kind not in "iuf":
        found = {"b": "true/false", "U": "strings", "O": "null or mixed values"}.get(raw.dtype.kind, str(raw.dtype))
        _fail(path, f"{where} holds {found}, expected an array of numbers")
    array = raw.astype(np.float64)
    if array.shape != tuple(shape):
        _fail(path, f"{where} has shape {array.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        _fail(path, f"{where} holds a non-finite value ({array[tuple(bad)]}) at index {tuple(int(i) for i in bad)}")
    too_big = np.abs(array) > np.finfo(np.float32).max
    if np.any(too_big):
        bad = np.argwhere(too_big)[0]
        _fail(path, f"{where} holds {array[tuple(bad)]:g} at index {tuple(int(i) for i in bad)}, "
                    f"beyond float32's range (±{np.finfo(np.float32).max:.4g})")
    return np.ascontiguousarray(array, dtype=np.float32)


def validate_model(model):
    """Check that a model's layers chain and end in one audio output.

    Parameters
    ----------
    model : Model

    Returns
    -------
    Model
        The same model.

    Raises
    ------
    ModelFileError
        If sizes between layers disagree, an activation or cell is unknown, the network has no
        recurrent layer, or it does not end in exactly one output.
    """
    path = model.path
    if not model.layers:
        _fail(path, "the model has no layers")
    if model.input_size < 1:
        _fail(path, f"input size is {model.input_size}, expected at least 1 (the audio)")
    width = model.input_size
    for index, layer in enumerate(model.layers):
        if layer.input_size != width:
            _fail(
                path,
                f"layer {index} ({layer.describe()}) takes {layer.input_size} inputs "
                f"but the layer before it gives {width}",
            )
        if isinstance(layer, RecurrentLayer):
            if layer.cell not in GATES:
                _fail(path, f"layer {index} has unknown cell type {layer.cell!r}, expected lstm or gru")
        elif layer.activation not in ACTIVATIONS:
            _fail(path, f"layer {index} has unknown activation {layer.activation!r}, expected one of {', '.join(ACTIVATIONS)}")
        width = layer.output_size
    if not model.recurrent_layers:
        _fail(path, "the model has no LSTM or GRU layer; this engine runs recurrent models")
    if width != 1:
        _fail(path, f"the model ends with {width} outputs, expected 1 (one audio output)")
    if model.sample_rate_source not in SAMPLE_RATE_SOURCES:
        raise ValueError(f"sample_rate_source must be one of {SAMPLE_RATE_SOURCES}")
    return model
