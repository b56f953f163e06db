"""The one validated, format-free description of a network.

Every file format is read into a :class:`Model`: a sequence of layers with float32 weights in
one canonical layout (PyTorch's: LSTM gate rows [i, f, g, o], GRU gate rows [r, z, n]), plus
skip, gains, conditioning inputs, initial state and the training rate with where it came from.
Nothing here knows about files or numba; the Processor packs a Model for the kernels.

It also holds what every reader needs to treat a file as untrusted input: the size limits
(``MAX_*``, listed in ``LIMITS``) beyond which a model is refused, :func:`check_array`, which
turns nested JSON lists into float32 arrays and refuses anything that is not a JSON number, and
:func:`quote`, which bounds what an error message repeats from a file.
"""

import dataclasses
import itertools
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelFileError, UnsupportedModelError, quote

#: Activations a dense or activation layer may apply.
ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid", "elu", "softmax")

#: Where ``Model.sample_rate`` came from.
SAMPLE_RATE_SOURCES = ("file", "format-default", "user")

GATES = {"lstm": 4, "gru": 3}

# -- the sizes this engine runs ---------------------------------------------------------------
# A model file is untrusted input: without limits, a few bytes that declare a huge network make
# the loader loop, allocate or run for ever. Every loader and validate_model refuse a model
# beyond these with an UnsupportedModelError that names the limit. They sit well above every
# real guitar model (GuitarML and AIDA-X ship hidden sizes 8 to 64, one or two layers) and low
# enough that the biggest accepted model still loads in seconds and fits in memory.

#: The largest model file read (bytes). A hidden-512 LSTM, the largest accepted, is ~23 MB of JSON.
#: The worst 64 MiB file (all short floats, "0.1,0.1,…") parses into ~0.8 GB of Python objects.
MAX_MODEL_FILE_BYTES = 64 * 1024 * 1024
#: The most JSON arrays and objects ("[" and "{") a model file may hold, counted before parsing.
#: The largest accepted model has ~10^5 (one array per matrix row); 64 MiB of "[],[],…" would
#: parse into 22 million lists (1.7 GB, and 40 s of garbage collection).
MAX_JSON_CONTAINERS = 1_000_000
#: The largest hidden size of an LSTM/GRU layer.
MAX_HIDDEN_SIZE = 512
#: The most LSTM/GRU layers in one model.
MAX_RECURRENT_LAYERS = 8
#: The most layers of any kind in one model (recurrent, dense, activation).
MAX_LAYERS = 32
#: The widest network input: 1 audio channel + up to 63 knobs.
MAX_INPUT_SIZE = 64
#: The widest dense (or activation) layer, in inputs or outputs.
MAX_DENSE_WIDTH = 4096

LIMITS = {
    "MAX_MODEL_FILE_BYTES": (MAX_MODEL_FILE_BYTES, "bytes for a model file"),
    "MAX_JSON_CONTAINERS": (MAX_JSON_CONTAINERS, "JSON arrays and objects in a model file"),
    "MAX_HIDDEN_SIZE": (MAX_HIDDEN_SIZE, "hidden units per LSTM/GRU layer"),
    "MAX_RECURRENT_LAYERS": (MAX_RECURRENT_LAYERS, "LSTM/GRU layers"),
    "MAX_LAYERS": (MAX_LAYERS, "layers"),
    "MAX_INPUT_SIZE": (MAX_INPUT_SIZE, "input channels (1 audio + up to 63 controls)"),
    "MAX_DENSE_WIDTH": (MAX_DENSE_WIDTH, "units per dense or activation layer"),
}


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


def check_limit(path, where, value, name):
    """Refuse a declared size beyond one of the engine's limits (``LIMITS``).

    Parameters
    ----------
    path : str
        The model file, for the message.
    where : str
        What the size is, e.g. ``config.num_layers``.
    value : int
        The size found.
    name : str
        A key of ``LIMITS``, e.g. ``"MAX_HIDDEN_SIZE"``.

    Returns
    -------
    int
        ``value``, when within the limit.

    Raises
    ------
    UnsupportedModelError
        If ``value`` exceeds the limit; the message names the limit and its value.
    """
    limit, unit = LIMITS[name]
    if value > limit:
        raise UnsupportedModelError(
            f"{path}: {where} is {quote(value)}, over this engine's limit of {limit} {unit} (engine.model.{name})")
    return value


def json_kind(value):
    """How JSON calls a parsed value, for messages: ``null``, ``true``, ``a string``, ``an array``, …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "a JSON object"}.get(type(value), f"a {type(value).__name__}")


def format_shape(shape):
    """A shape for a message; a very deep one (hostile nesting) is shortened."""
    if len(shape) <= 8:
        return str(tuple(shape))
    return f"({', '.join(map(str, shape[:4]))}, ... {len(shape)} dimensions)"


def _flatten(value):
    """(shape, leaves in row-major order, the set of the leaves' types), or None if ragged.

    Walks one nesting level at a time: no recursion, so hostile nesting thousands deep is fine,
    and each level costs one C-level pass (chain, map(type), map(len)), so a million weights
    take ~50 ms, less than parsing their JSON.
    """
    shape = []
    level = [value]
    while True:
        kinds = set(map(type, level))
        if list not in kinds:
            return tuple(shape), level, kinds
        if len(kinds) != 1:
            return None  # lists mixed with leaves
        lengths = set(map(len, level))
        if len(lengths) != 1:
            return None
        length = lengths.pop()
        shape.append(length)
        if length == 0:
            return tuple(shape), [], set()
        level = list(itertools.chain.from_iterable(level))


def nested_shape(value):
    """The shape of nested JSON lists, read before their values are checked; None if ragged.

    Cheap: it visits the lists but not the leaves (the numbers). Every level of lists is checked
    for equal lengths; whether the leaves are all numbers, and not lists, is left to
    :func:`check_array`, which a shape found here must always be followed by.

    Parameters
    ----------
    value : object
        A parsed JSON value; anything that is not a list is a leaf (shape ``()``).

    Returns
    -------
    tuple of int or None
        The shape, or None when lists of one level differ in length or mix lists and leaves.
    """
    shape = []
    level = [value]
    while type(level[0]) is list:
        if set(map(type, level)) != {list}:
            return None
        lengths = set(map(len, level))
        if len(lengths) != 1:
            return None
        length = lengths.pop()
        shape.append(length)
        if length == 0 or type(level[0][0]) is not list:  # the next level is the leaves: not visited
            break
        level = list(itertools.chain.from_iterable(level))
    return tuple(shape)


_NUMBERS = {float, int}  # exactly: bool is a subclass of int, and JSON true/false must not pass as 1/0


def check_array(path, where, value, shape):
    """Convert ``value`` to a finite float32 array of exactly ``shape``.

    Parameters
    ----------
    path : str
        The model file, for the error message.
    where : str
        Where in the file the value sits, e.g. ``state_dict["rec.weight_hh_l0"]``.
    value : list or numpy.ndarray
        Nested lists of numbers (as parsed from JSON), or an array.
    shape : tuple of int
        The expected shape.

    Returns
    -------
    numpy.ndarray
        A C-contiguous float32 copy.

    Raises
    ------
    ModelFileError
        If the value is not a rectangular array of that shape whose every element is a JSON
        number (true/false, null, strings and objects are refused, wherever they sit), or it
        holds NaN, infinity or a value too large for float32.
    """
    shape = tuple(shape)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            _fail(path, f"{where} holds {value.dtype} values, expected an array of numbers")
        if value.shape != shape:
            _fail(path, f"{where} has shape {format_shape(value.shape)}, expected {format_shape(shape)}")
        array = value.astype(np.float64)
    else:
        if shape and not isinstance(value, list):
            _fail(path, f"{where} is {json_kind(value)}, expected an array of shape {format_shape(shape)}")
        flat = _flatten(value)
        if flat is None:
            _fail(path, f"{where} is a ragged array, expected a rectangular array of shape {format_shape(shape)}")
        found, leaves, kinds = flat
        if found != shape:
            _fail(path, f"{where} has shape {format_shape(found)}, expected {format_shape(shape)}")
        if not kinds <= _NUMBERS:
            index = next(i for i, leaf in enumerate(leaves) if type(leaf) not in _NUMBERS)
            at = tuple(int(i) for i in np.unravel_index(index, shape)) if shape else ()
            _fail(path, f"{where} holds {json_kind(leaves[index])} at index {at}, expected an array of numbers")
        try:
            array = np.fromiter(leaves, dtype=np.float64, count=len(leaves)).reshape(shape)
        except OverflowError:  # a JSON integer beyond float64 (≥ 2**1024)
            index = next(i for i, leaf in enumerate(leaves) if type(leaf) is int and abs(leaf) > 2 ** 1023)
            at = tuple(int(i) for i in np.unravel_index(index, shape)) if shape else ()
            _fail(path, f"{where} holds {quote(leaves[index])} at index {at}, beyond float32's range "
                        f"(±{np.finfo(np.float32).max:.4g})")
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
    """Check that a model's layers chain, end in one audio output and stay within ``LIMITS``.

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
    UnsupportedModelError
        If the model exceeds one of the engine's size limits (``MAX_HIDDEN_SIZE``,
        ``MAX_RECURRENT_LAYERS``, ``MAX_LAYERS``, ``MAX_INPUT_SIZE``, ``MAX_DENSE_WIDTH``).
    """
    path = model.path
    if not model.layers:
        _fail(path, "the model has no layers")
    check_limit(path, "the number of layers", len(model.layers), "MAX_LAYERS")
    check_limit(path, "the number of LSTM/GRU layers", len(model.recurrent_layers), "MAX_RECURRENT_LAYERS")
    if model.input_size < 1:
        _fail(path, f"input size is {model.input_size}, expected at least 1 (the audio)")
    check_limit(path, "the input size", model.input_size, "MAX_INPUT_SIZE")
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
            check_limit(path, f"the hidden size of layer {index}", layer.hidden_size, "MAX_HIDDEN_SIZE")
        else:
            if layer.activation not in ACTIVATIONS:
                _fail(path, f"layer {index} has unknown activation {layer.activation!r}, expected one of {', '.join(ACTIVATIONS)}")
            check_limit(path, f"the width of layer {index}", max(layer.input_size, layer.output_size), "MAX_DENSE_WIDTH")
        width = layer.output_size
    if not model.recurrent_layers:
        _fail(path, "the model has no LSTM or GRU layer; this engine runs recurrent models")
    if width != 1:
        _fail(path, f"the model ends with {width} outputs, expected 1 (one audio output)")
    if model.sample_rate_source not in SAMPLE_RATE_SOURCES:
        raise ValueError(f"sample_rate_source must be one of {SAMPLE_RATE_SOURCES}")
    return model
