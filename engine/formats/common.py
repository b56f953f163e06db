"""Helpers shared by the format readers: reading JSON, checking keys, PyTorch-layout layers."""

import json
import math
import os
import re

import numpy as np

from ..errors import ModelFileError, UnsupportedModelError
from ..model import GATES, DenseLayer, RecurrentLayer, check_array


def read_json(path):
    """Read a model file as JSON.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    object
        The parsed document.

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, not UTF-8 text, or not (complete) JSON.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a directory, expected a model file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a text file; expected a JSON model (.json, .nam, .aidax)") from None
    if not text.strip():
        raise ModelFileError(f"{path}: the file is empty; expected a JSON model")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise ModelFileError(f"{path}: the JSON ends early (truncated file?) at line {exc.lineno}") from None
        raise ModelFileError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def require(path, mapping, key, where="the file"):
    """Return ``mapping[key]`` or raise a ModelFileError naming the missing key."""
    if not isinstance(mapping, dict):
        raise ModelFileError(f"{path}: {where} is not a JSON object")
    if key not in mapping:
        raise ModelFileError(f"{path}: {where} has no key {key!r}")
    return mapping[key]


def require_int(path, value, where, minimum=0):
    """Return ``value`` as an int, or raise a ModelFileError if it is not a whole number ≥ minimum."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or isinstance(value, float) and not math.isfinite(value) or int(value) != value or value < minimum):
        raise ModelFileError(f"{path}: {where} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def unsupported(path, found, supported):
    """Raise the error for a well-formed file of an architecture the engine does not run."""
    raise UnsupportedModelError(f"{path}: {found} is not supported; this engine runs {supported}")


_RECURRENT_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


def parse_torch_modules(path, state_dict, where="state_dict"):
    """Read a PyTorch state_dict (as nested lists) into layers, chaining modules in file order.

    A module prefix with ``weight_ih_l<k>`` keys is an LSTM or GRU (told apart by the ratio of
    weight_ih's rows to weight_hh's columns: 4 or 3), with one layer per ``l<k>``; a prefix with
    only ``weight`` (and optionally ``bias``) is a Linear layer.

    Parameters
    ----------
    path : str
        The model file, for error messages.
    state_dict : dict
        Parameter name → nested lists.
    where : str
        How to name the dict in messages.

    Returns
    -------
    list
        RecurrentLayer and DenseLayer objects in file order.

    Raises
    ------
    ModelFileError
        On keys that fit no module, shapes that disagree, or non-finite values.
    UnsupportedModelError
        On bidirectional or projected recurrent layers and other module kinds.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise ModelFileError(f"{path}: {where} is not a non-empty JSON object of parameters")
    modules = {}
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        modules.setdefault(prefix, {})[name] = value
    layers = []
    for prefix, params in modules.items():
        label = f"{prefix}." if prefix else ""
        if any(name.startswith(("weight_ih", "weight_hh")) for name in params):
            layers.extend(_parse_torch_rnn(path, where, label, params))
        elif set(params) <= {"weight", "bias"}:
            if "weight" not in params:
                raise ModelFileError(f'{path}: {where} has no key "{label}weight" (the Linear layer\'s weight)')
            layers.append(_parse_torch_linear(path, where, label, params))
        else:
            names = ", ".join(f'{label}{name}' for name in params)
            unsupported(path, f"{where} module {prefix or '(root)'!r} with parameters {names}",
                        "LSTM, GRU and Linear modules")
    return layers


def _shape_of(path, where, value):
    try:
        return np.shape(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: {where} is not an array of numbers") from None


def _parse_torch_rnn(path, where, label, params):
    indices = {}
    for name in params:
        match = _RECURRENT_KEY.match(name)
        if not match:
            unsupported(path, f'{where}["{label}{name}"] (a recurrent option such as projections)',
                        "plain LSTM and GRU layers")
        if match.group(3):
            unsupported(path, f'{where}["{label}{name}"]: a bidirectional layer', "unidirectional LSTM and GRU layers")
        indices.setdefault(int(match.group(2)), set()).add(match.group(1))
    if sorted(indices) != list(range(len(indices))):
        raise ModelFileError(f"{path}: {where} layers of {label or 'the RNN'} are numbered {sorted(indices)}, expected 0..{len(indices) - 1}")
    layers = []
    for index in range(len(indices)):
        keys = {name: f"{label}{name}_l{index}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        for name in ("weight_ih", "weight_hh"):
            if name not in indices[index]:
                raise ModelFileError(f'{path}: {where} has no key "{keys[name]}"')
        hh_shape = _shape_of(path, f'{where}["{keys["weight_hh"]}"]', params[f"weight_hh_l{index}"])
        ih_shape = _shape_of(path, f'{where}["{keys["weight_ih"]}"]', params[f"weight_ih_l{index}"])
        if len(hh_shape) != 2 or hh_shape[1] == 0 or hh_shape[0] % hh_shape[1]:
            raise ModelFileError(f'{path}: {where}["{keys["weight_hh"]}"] has shape {hh_shape}, expected (G·H, H) with G = 4 (LSTM) or 3 (GRU)')
        hidden = hh_shape[1]
        gates = hh_shape[0] // hidden
        cell = {4: "lstm", 3: "gru"}.get(gates)
        if cell is None:
            raise ModelFileError(f'{path}: {where}["{keys["weight_hh"]}"] has shape {hh_shape}: {gates}·H rows fits neither an LSTM (4·H) nor a GRU (3·H)')
        if len(ih_shape) != 2:
            raise ModelFileError(f'{path}: {where}["{keys["weight_ih"]}"] has shape {ih_shape}, expected ({gates * hidden}, input size)')
        input_size = ih_shape[1]
        rows = gates * hidden
        description = f"for {'an' if cell == 'lstm' else 'a'} {cell.upper()} of hidden size {hidden}"

        def array(name, shape):
            key = keys[name]
            value = params.get(f"{name}_l{index}")
            if value is None:  # bias=False in PyTorch: no bias keys at all
                return np.zeros(shape, np.float32)
            try:
                return check_array(path, f'{where}["{key}"]', value, shape)
            except ModelFileError as exc:
                raise ModelFileError(f"{exc} {description}") from None

        layers.append(make_recurrent_layer(
            cell, input_size, hidden,
            array("weight_ih", (rows, input_size)), array("weight_hh", (rows, hidden)),
            array("bias_ih", (rows,)), array("bias_hh", (rows,)),
        ))
    return layers


def _parse_torch_linear(path, where, label, params):
    weight = params["weight"]
    shape = _shape_of(path, f'{where}["{label}weight"]', weight)
    if len(shape) != 2:
        raise ModelFileError(f'{path}: {where}["{label}weight"] has shape {shape}, expected (out, in) for a Linear layer')
    weight = check_array(path, f'{where}["{label}weight"]', weight, shape)
    if "bias" in params:
        bias = check_array(path, f'{where}["{label}bias"]', params["bias"], (shape[0],))
    else:
        bias = np.zeros(shape[0], np.float32)
    return DenseLayer(weight=weight, bias=bias, activation="linear")


def make_recurrent_layer(cell, input_size, hidden_size, weight_ih, weight_hh, bias_ih, bias_hh,
                         initial_hidden=None, initial_cell=None, reset_after=True):
    """Build a RecurrentLayer from checked float32 arrays in PyTorch layout, zero initial state by default."""
    assert weight_ih.shape == (GATES[cell] * hidden_size, input_size)
    zeros = np.zeros(hidden_size, np.float32)
    return RecurrentLayer(
        cell=cell, input_size=input_size, hidden_size=hidden_size,
        weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih, bias_hh=bias_hh,
        initial_hidden=zeros if initial_hidden is None else initial_hidden,
        initial_cell=zeros.copy() if initial_cell is None else initial_cell,
        reset_after=reset_after,
    )
