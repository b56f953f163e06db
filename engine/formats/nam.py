"""NeuralAmpModeler ``.nam`` files with architecture "LSTM".

All weights sit in one flat list. Per layer l (input width d = input_size for l = 0, else H):
W, 4H × (d + H) row-major, = [weight_ih | weight_hh] side by side, gate rows i, f, g, o;
b, 4H, = bias_ih + bias_hh already summed; h0, H; c0, H (the learned initial state). Then the
head: weight (H values for one output), bias (1). No skip. Files without ``sample_rate`` are
48 kHz by the format's convention.

Reset restores the stored (h0, c0). NAM's own player additionally runs 0.5 s of silence after
loading ("pre-warm"); the engine does not, because the stored state already is the state the
network settles to on silence (FORMATS.md), so pre-warming would move it by a rounding error.
"""

import re

import numpy as np

from ..errors import ModelFileError
from ..model import DenseLayer, Model, check_array, quote
from ..rates import check_sample_rate
from .common import make_recurrent_layer, require, require_int, unsupported

FORMAT = "nam"
DEFAULT_SAMPLE_RATE = 48000.0
KNOWN_MAJOR_VERSIONS = (0,)


def looks_like(document):
    """Whether a parsed JSON document is (meant to be) a NeuralAmpModeler file."""
    return isinstance(document, dict) and "architecture" in document and ("weights" in document or "config" in document)


def expected_weight_count(input_size, hidden_size, num_layers):
    """The number of flat weights a NAM LSTM of these sizes must hold (one output).

    Σ_l [4H(d_l + H) + 6H] + H + 1 with d_0 = input_size and d_l = H after, in closed form (a
    loop over a hostile ``num_layers`` of 10^9 would run for minutes).

    Parameters
    ----------
    input_size, hidden_size, num_layers : int

    Returns
    -------
    int
    """
    H = hidden_size
    first = 4 * H * (input_size + H) + 6 * H
    others = (num_layers - 1) * (8 * H * H + 6 * H)
    return first + others + H + 1


def load(path, document):
    """Read a NAM LSTM document into a Model.

    Parameters
    ----------
    path : str
        The file, for error messages.
    document : dict
        The parsed JSON.

    Returns
    -------
    Model
        With the file's ``sample_rate`` (source "file") or 48 kHz (source "format-default").

    Raises
    ------
    ModelFileError
        On a missing key, an unknown major version, or a weight count that does not add up.
    UnsupportedModelError
        On any architecture other than LSTM (WaveNet, ConvNet, Linear, …), and sizes beyond the
        engine's limits (engine.model.LIMITS), refused before the weights are read.
    """
    architecture = require(path, document, "architecture")
    if architecture != "LSTM":
        unsupported(path, f"NAM architecture {quote(architecture)}", "NAM files of architecture 'LSTM'")
    version = require(path, document, "version")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]{1,9}(\.[0-9A-Za-z.+-]{0,64})?", version):
        raise ModelFileError(f"{path}: version {quote(version)} is not a semantic version like 0.5.4")
    major = int(version.split(".")[0])
    if major not in KNOWN_MAJOR_VERSIONS:
        raise ModelFileError(f"{path}: NAM file version {version} is newer than this engine reads (major version 0)")
    config = require(path, document, "config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: config is not a JSON object")
    # The limits first: the sizes below decide how much is read and allocated.
    input_size = require_int(path, config.get("input_size", 1), "config.input_size", 1, limit="MAX_INPUT_SIZE")
    hidden_size = require_int(path, require(path, config, "hidden_size", "config"), "config.hidden_size", 1,
                              limit="MAX_HIDDEN_SIZE")
    num_layers = require_int(path, require(path, config, "num_layers", "config"), "config.num_layers", 1,
                             limit="MAX_RECURRENT_LAYERS")
    weights = require(path, document, "weights")
    if not isinstance(weights, list):
        raise ModelFileError(f"{path}: weights is not a list of numbers")
    expected = expected_weight_count(input_size, hidden_size, num_layers)
    if len(weights) != expected:
        raise ModelFileError(
            f"{path}: weights holds {len(weights)} numbers, expected {expected} for an LSTM with "
            f"input size {input_size}, hidden size {hidden_size} and {num_layers} layer(s)"
        )
    flat = check_array(path, "weights", weights, (expected,))

    position = 0

    def take(count):
        nonlocal position
        piece = flat[position:position + count]
        position += count
        return piece

    H = hidden_size
    layers = []
    for index in range(num_layers):
        width = input_size if index == 0 else H
        stacked = take(4 * H * (width + H)).reshape(4 * H, width + H)
        bias = take(4 * H)
        initial_hidden = take(H).copy()
        initial_cell = take(H).copy()
        layers.append(make_recurrent_layer(
            "lstm", width, H,
            np.ascontiguousarray(stacked[:, :width]), np.ascontiguousarray(stacked[:, width:]),
            bias.copy(), np.zeros(4 * H, np.float32),
            initial_hidden=initial_hidden, initial_cell=initial_cell,
        ))
    head_weight = take(H).reshape(1, H).copy()
    head_bias = take(1).copy()
    layers.append(DenseLayer(weight=head_weight, bias=head_bias, activation="linear"))

    if "sample_rate" in document and document["sample_rate"] is not None:
        sample_rate = check_sample_rate(document["sample_rate"], f"{path}: sample_rate")
        source = "file"
    else:
        sample_rate, source = DEFAULT_SAMPLE_RATE, "format-default"
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    # Only text is kept: the name becomes a file name (plots) and a label in messages.
    info = {key: metadata[key] for key in ("name", "gear_make", "gear_model", "modeled_by")
            if isinstance(metadata.get(key), str)}
    return Model(
        layers=tuple(layers),
        input_size=input_size,
        sample_rate=sample_rate,
        sample_rate_source=source,
        format=FORMAT,
        path=path,
        stored_parameter_count=expected,
        metadata={"name": info.pop("name", None), "version": version, **info},
    )
