"""RTNeural's Keras-export JSON, and its AIDA-X flavour.

``{"in_shape": [null, null, d], "layers": [{"type": ..., "activation": ..., "shape": [.., w], "weights": [...]}]}``

Keras stores kernels as (in, G·H); they are transposed into PyTorch's (G·H, in). LSTM gate
order [i, f, c, o] already matches PyTorch's [i, f, g, o]; GRU order [z, r, h] is swapped into
[r, z, n]. A GRU bias of shape (2, 3H) is ``reset_after=True`` (PyTorch's equations); shape (3H,)
is ``reset_after=False``, whose candidate applies the reset gate before the recurrent kernel.

AIDA-X adds ``in_skip``, ``in_gain``/``out_gain`` (dB) and ``samplerate`` (top level or in
``metadata``, often a string; 48 kHz when absent). Plain Keras exports store no rate; they get
44.1 kHz, the rate most guitar datasets are recorded at, recorded as the format default.
"""

import math

import numpy as np

from ..errors import ModelFileError
from ..model import (ACTIVATIONS, ActivationLayer, DenseLayer, Model, check_array, check_limit, format_shape, json_kind,
                     nested_shape, quote)
from ..rates import check_sample_rate
from .common import make_recurrent_layer, require, require_int, unsupported

FORMAT_KERAS = "keras"
FORMAT_AIDAX = "aida-x"
DEFAULT_SAMPLE_RATE = {FORMAT_KERAS: 44100.0, FORMAT_AIDAX: 48000.0}
AIDAX_KEYS = ("in_skip", "in_gain", "out_gain", "samplerate", "input_batch", "output_batch")
SUPPORTED_TYPES = ("lstm", "gru", "dense", "time-distributed-dense", "activation")
UNSUPPORTED_TYPES = ("conv1d", "conv2d", "prelu", "batchnorm", "batchnorm2d")
#: The largest |in_gain| / |out_gain|: 10^(760/20) = 1e38 is still a finite float32 factor.
MAX_GAIN_DB = 760.0


def looks_like(document):
    """Whether a parsed JSON document is (meant to be) an RTNeural/Keras or AIDA-X model."""
    return isinstance(document, dict) and "layers" in document


def load(path, document):
    """Read an RTNeural/Keras (or AIDA-X) document into a Model.

    Parameters
    ----------
    path : str
        The file, for error messages.
    document : dict
        The parsed JSON.

    Returns
    -------
    Model
        Format "aida-x" when any AIDA-X key is present, else "keras".

    Raises
    ------
    ModelFileError
        On missing keys, wrong shapes, widths that do not chain, weights on an activation layer,
        or bad gains.
    SampleRateError
        If the stored ``samplerate`` is not a positive number.
    UnsupportedModelError
        On convolution, batch-norm, PReLU and unknown layer types, unknown activations, a GRU
        without a bias, and sizes beyond the engine's limits (engine.model.LIMITS).
    """
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    is_aidax = any(key in document for key in AIDAX_KEYS) or "samplerate" in metadata
    fmt = FORMAT_AIDAX if is_aidax else FORMAT_KERAS
    in_shape = require(path, document, "in_shape")
    if not isinstance(in_shape, list) or not in_shape:
        raise ModelFileError(f"{path}: in_shape must be a list like [null, null, 1], got {quote(in_shape)}")
    input_size = require_int(path, in_shape[-1], "in_shape[-1] (the input width)", 1, limit="MAX_INPUT_SIZE")
    raw_layers = require(path, document, "layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ModelFileError(f"{path}: layers must be a non-empty list")
    check_limit(path, "the number of layers", len(raw_layers), "MAX_LAYERS")

    layers = []
    stored = 0
    width = input_size
    for index, raw in enumerate(raw_layers):
        layer, count = _read_layer(path, f"layers[{index}]", raw, width)
        layers.append(layer)
        stored += count
        width = layer.output_size

    skip = require_int(path, document.get("in_skip", 0), "in_skip", 0)
    if skip > 1:
        raise ModelFileError(f"{path}: in_skip must be 0 or 1, got {quote(skip)}")
    input_gain_db = _gain(path, document, "in_gain")
    output_gain_db = _gain(path, document, "out_gain")

    rate_value = document.get("samplerate", metadata.get("samplerate"))
    if rate_value is not None:
        sample_rate = check_sample_rate(rate_value, f"{path}: samplerate")
        source = "file"
    else:
        sample_rate, source = DEFAULT_SAMPLE_RATE[fmt], "format-default"
    info = {}
    for key in ("name", "author", "description"):
        if isinstance(metadata.get(key), str):
            info[key] = metadata[key]
    for key in ("input_batch", "output_batch"):
        if key in document:
            info[key] = document[key]
    return Model(
        layers=tuple(layers),
        input_size=input_size,
        sample_rate=sample_rate,
        sample_rate_source=source,
        format=fmt,
        path=path,
        skip=bool(skip),
        input_gain_db=input_gain_db,
        output_gain_db=output_gain_db,
        metadata=info,
        stored_parameter_count=stored,
    )


def _gain(path, document, key):
    value = document.get(key, 0.0)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ModelFileError(f"{path}: {key} must be a number of dB, got {quote(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelFileError(f"{path}: {key} must be a finite number of dB, got {quote(value)}")
    try:
        finite = math.isfinite(value)  # an int beyond float's range raises OverflowError
    except OverflowError:
        finite = False
    if not finite:
        raise ModelFileError(f"{path}: {key} must be a finite number of dB, got {quote(value)}")
    if abs(value) > MAX_GAIN_DB:
        raise ModelFileError(f"{path}: {key} is {quote(value)} dB, expected a gain within ±{MAX_GAIN_DB:g} dB")
    return float(value)


def _activation(path, where, raw):
    name = raw.get("activation", "")
    if name is not None and not isinstance(name, str):
        raise ModelFileError(f"{path}: {where}.activation must be a name such as \"tanh\", got {quote(name)}")
    name = "linear" if name in ("", None) else name.lower()
    if name not in ACTIVATIONS:
        unsupported(path, f"{where} activation {quote(name)}", f"activations {', '.join(ACTIVATIONS)}")
    return name


def _read_layer(path, where, raw, input_width):
    """Read one layer; returns (layer, the number of values the file stores for it)."""
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: {where} is not a JSON object")
    kind = require(path, raw, "type", where)
    if not isinstance(kind, str):
        raise ModelFileError(f"{path}: {where}.type must be a layer type such as \"lstm\", got {quote(kind)}")
    kind = kind.lower()
    if kind not in SUPPORTED_TYPES:
        unsupported(path, f"{where} of type {quote(kind)}", "Keras/RTNeural layers " + ", ".join(SUPPORTED_TYPES))
    shape = require(path, raw, "shape", where)
    if not isinstance(shape, list) or not shape:
        raise ModelFileError(f"{path}: {where}.shape must be a list like [null, null, 8], got {quote(shape)}")
    limit = "MAX_HIDDEN_SIZE" if kind in ("lstm", "gru") else "MAX_DENSE_WIDTH"
    width = require_int(path, shape[-1], f"{where}.shape[-1] (the layer width)", 1, limit=limit)
    if kind == "activation":
        if width != input_width:
            raise ModelFileError(f"{path}: {where} is an activation of width {width} after a layer of width {input_width}")
        # RTNeural's exporter writes "weights": [] here; weights on an activation mean another layer (PReLU?).
        weights = raw.get("weights", [])
        if weights != []:
            raise ModelFileError(f"{path}: {where}.weights is {json_kind(weights)}"
                                 f"{' of length ' + str(len(weights)) if isinstance(weights, list) else ''}, "
                                 f"expected [] (an activation layer has no weights)")
        return ActivationLayer(activation=_activation(path, where, raw), size=width), 0
    weights = require(path, raw, "weights", where)
    if not isinstance(weights, list):
        raise ModelFileError(f"{path}: {where}.weights must be a list of arrays, got {json_kind(weights)}")
    if kind in ("dense", "time-distributed-dense"):
        if len(weights) not in (1, 2):
            raise ModelFileError(f"{path}: {where}.weights holds {len(weights)} arrays, expected [kernel, bias] for a dense layer")
        try:
            kernel = check_array(path, f"{where}.weights[0]", weights[0], (input_width, width))
        except ModelFileError as exc:
            raise ModelFileError(f"{exc} for a dense layer of width {width} after a layer of width {input_width}") from None
        bias = (check_array(path, f"{where}.weights[1]", weights[1], (width,))
                if len(weights) == 2 else np.zeros(width, np.float32))
        stored = kernel.size + (bias.size if len(weights) == 2 else 0)
        return DenseLayer(weight=np.ascontiguousarray(kernel.T), bias=bias, activation=_activation(path, where, raw)), stored
    gates = 4 if kind == "lstm" else 3
    hidden = width
    article = "an" if kind == "lstm" else "a"
    if len(weights) not in (2, 3):
        raise ModelFileError(f"{path}: {where}.weights holds {len(weights)} arrays, expected [kernel, recurrent_kernel, bias] for {article} {kind.upper()}")
    suffix = f" for {article} {kind.upper()} of width {hidden} after a layer of width {input_width}"
    try:
        kernel = check_array(path, f"{where}.weights[0]", weights[0], (input_width, gates * hidden))
        recurrent = check_array(path, f"{where}.weights[1]", weights[1], (hidden, gates * hidden))
    except ModelFileError as exc:
        raise ModelFileError(f"{exc}{suffix}") from None
    stored = kernel.size + recurrent.size
    if kind == "lstm":
        if len(weights) == 3:
            bias = check_array(path, f"{where}.weights[2]", weights[2], (gates * hidden,))
            stored += bias.size
        else:  # use_bias=False
            bias = np.zeros(gates * hidden, np.float32)
        return make_recurrent_layer("lstm", input_width, hidden, np.ascontiguousarray(kernel.T),
                                    np.ascontiguousarray(recurrent.T), bias, np.zeros_like(bias)), stored
    if len(weights) == 2:
        # Only the bias's shape tells reset_after=True from False, and their equations differ even
        # with zero biases: refuse rather than guess.
        unsupported(path, f"{where}: a GRU without a bias (use_bias=False), whose reset_after variant the file does not tell",
                    "GRUs with a bias of shape (3H,) (reset_after=False) or (2, 3H) (reset_after=True)")
    bias_raw = weights[2]
    bias_shape = nested_shape(bias_raw) if isinstance(bias_raw, list) else None
    if bias_shape == (2, 3 * hidden):
        both = check_array(path, f"{where}.weights[2]", bias_raw, (2, 3 * hidden))
        bias_ih, bias_hh, reset_after = both[0], both[1], True
    elif bias_shape == (3 * hidden,):
        bias_ih = check_array(path, f"{where}.weights[2]", bias_raw, (3 * hidden,))
        bias_hh, reset_after = np.zeros_like(bias_ih), False
    elif bias_shape is None and not isinstance(bias_raw, list):
        raise ModelFileError(f"{path}: {where}.weights[2] (the GRU bias) is {json_kind(bias_raw)}, expected an array")
    elif bias_shape is None:
        raise ModelFileError(f"{path}: {where}.weights[2] (the GRU bias) is a ragged array, expected shape "
                             f"({3 * hidden},) or (2, {3 * hidden})")
    else:
        unsupported(path, f"{where}.weights[2] (GRU bias) of shape {format_shape(bias_shape)}",
                    f"GRU biases of shape ({3 * hidden},) (reset_after=False) or (2, {3 * hidden}) (reset_after=True)")
    stored += bias_ih.size + (bias_hh.size if reset_after else 0)

    def keras_to_torch_gates(matrix):
        """Columns [z | r | h] → rows [r; z; n] (PyTorch's order)."""
        z, r, n = matrix[..., :hidden], matrix[..., hidden:2 * hidden], matrix[..., 2 * hidden:]
        return np.ascontiguousarray(np.concatenate([r, z, n], axis=-1))

    return make_recurrent_layer(
        "gru", input_width, hidden,
        np.ascontiguousarray(keras_to_torch_gates(kernel).T), np.ascontiguousarray(keras_to_torch_gates(recurrent).T),
        keras_to_torch_gates(bias_ih), keras_to_torch_gates(bias_hh), reset_after=reset_after,
    ), stored
