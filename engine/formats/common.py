"""Helpers shared by the format readers: reading JSON, checking keys, PyTorch-layout layers.

A model file is untrusted input. :func:`read_json` reads only regular files of at most
``MAX_MODEL_FILE_BYTES`` (engine/model.py, with the other size limits), and every failure of the
JSON parser (syntax, nesting thousands deep, integer literals over Python's 4300-digit limit)
becomes a one-line ModelFileError.
"""

import gc
import json
import math
import os
import re
import stat

import numpy as np

from ..errors import ModelFileError, UnsupportedModelError
from ..model import (GATES, MAX_JSON_CONTAINERS, MAX_MODEL_FILE_BYTES, DenseLayer, RecurrentLayer, check_array,
                     check_limit, format_shape, json_kind, nested_shape, quote)

_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _not_a_regular_file(path, mode):
    if stat.S_ISDIR(mode):
        raise ModelFileError(f"{path}: is a directory, expected a model file")
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    raise ModelFileError(f"{path}: is {kind}, not a regular file; expected a model file")


def _too_large(path, size):
    found = f"over {MAX_MODEL_FILE_BYTES + 1}" if size is None else size
    raise ModelFileError(f"{path}: the file is {found} bytes, over this engine's limit of "
                         f"{MAX_MODEL_FILE_BYTES} bytes for a model file (engine.model.MAX_MODEL_FILE_BYTES)")


def read_json(path):
    """Read a model file as JSON.

    The path must name a regular file of at most ``MAX_MODEL_FILE_BYTES``; anything else (a
    directory, a FIFO, a device such as /dev/zero) is refused before it is opened, so that
    loading never blocks or reads without end. At most that many bytes (+1) are read, so a file
    that grows after the check is still refused.

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
        If the file is missing, not a regular file, too large, unreadable, not UTF-8 text, or
        not (complete, parsable) JSON, or holds more than ``MAX_JSON_CONTAINERS`` arrays and
        objects (counted before parsing; brackets inside strings count too, which only errs on
        the safe side).
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ModelFileError(f"{path}: cannot read the file ({reason})") from None
    if not stat.S_ISREG(info.st_mode):
        _not_a_regular_file(path, info.st_mode)
    if info.st_size > MAX_MODEL_FILE_BYTES:
        _too_large(path, info.st_size)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it must not wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                _not_a_regular_file(path, mode)
            raw = handle.read(MAX_MODEL_FILE_BYTES + 1)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_MODEL_FILE_BYTES:  # it grew after the check
        _too_large(path, None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a text file; expected a JSON model (.json, .nam, .aidax)") from None
    if not text.strip():
        raise ModelFileError(f"{path}: the file is empty; expected a JSON model")
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_JSON_CONTAINERS:
        raise ModelFileError(f"{path}: the file holds {containers} JSON arrays and objects, over this engine's limit of "
                             f"{MAX_JSON_CONTAINERS} (engine.model.MAX_JSON_CONTAINERS); a model holds one per matrix row")
    collecting = gc.isenabled()
    gc.disable()  # parsing makes no cycles; the collector would rescan every new list, again and again
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise ModelFileError(f"{path}: the JSON ends early (truncated file?) at line {exc.lineno}") from None
        raise ModelFileError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: the JSON nests arrays or objects too deeply for Python's JSON reader "
                             f"(a model file nests them a few levels deep)") from None
    except ValueError as exc:  # not a syntax error: Python's limit on the digits of an integer literal
        if "digits" in str(exc):
            raise ModelFileError(f"{path}: the JSON holds an integer literal of over "
                                 f"{_int_digit_limit()} digits; no model parameter is that large") from None
        raise ModelFileError(f"{path}: not valid JSON ({str(exc)[:100]})") from None
    finally:
        if collecting:
            gc.enable()


def _int_digit_limit():
    import sys

    return sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


def require(path, mapping, key, where="the file"):
    """Return ``mapping[key]`` or raise a ModelFileError naming the missing key."""
    if not isinstance(mapping, dict):
        raise ModelFileError(f"{path}: {where} is not a JSON object")
    if key not in mapping:
        raise ModelFileError(f"{path}: {where} has no key {key!r}")
    return mapping[key]


def require_int(path, value, where, minimum=0, limit=None):
    """Return ``value`` as an int, or raise a ModelFileError if it is not a whole number ≥ minimum.

    Parameters
    ----------
    path : str
        The model file, for messages.
    value : object
        The parsed JSON value.
    where : str
        Where it sits, e.g. ``model_data.hidden_size``.
    minimum : int
        The smallest value accepted.
    limit : str, optional
        A key of ``engine.model.LIMITS`` (e.g. ``"MAX_HIDDEN_SIZE"``) the value must not exceed.

    Returns
    -------
    int

    Raises
    ------
    ModelFileError
        If the value is not a whole JSON number (true/false are not numbers) or is below ``minimum``.
    UnsupportedModelError
        If it exceeds ``limit``.
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or isinstance(value, float) and not math.isfinite(value) or int(value) != value or value < minimum):
        raise ModelFileError(f"{path}: {where} must be a whole number ≥ {minimum}, got {quote(value)}")
    if limit is not None:
        check_limit(path, where, value, limit)  # with the value as written (1e308, not its 309 digits)
    return int(value)


def unsupported(path, found, supported):
    """Raise the error for a well-formed file of an architecture the engine does not run."""
    raise UnsupportedModelError(f"{path}: {found} is not supported; this engine runs {supported}")


_RECURRENT_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(0|[1-9][0-9]{0,5})(_reverse)?$")
# A name that starts like a recurrent parameter but whose layer number is not how PyTorch writes
# it (_l00, _l01, a non-ASCII digit): two spellings of one number must not name one layer. Layer
# numbers of over six digits are refused by the pattern too (int() of 5000 digits raises).
_RECURRENT_LIKE = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l")


def parse_torch_modules(path, state_dict, where="state_dict"):
    """Read a PyTorch state_dict (as nested lists) into layers, chaining modules in file order.

    A module prefix with ``weight_ih_l<k>`` keys is an LSTM or GRU (told apart by the ratio of
    weight_hh's rows to its columns: 4 or 3), with one layer per ``l<k>`` (k written as PyTorch
    writes it: ASCII digits, no leading zero); a prefix with only ``weight`` (and optionally
    ``bias``) is a Linear layer. Recurrent biases follow PyTorch's ``bias`` flag: every layer of
    a module has both ``bias_ih_l<k>`` and ``bias_hh_l<k>``, or none has either (``bias=False``,
    read as zeros); anything in between is a broken file, never zero-filled.

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
        On keys that fit no module, a bias without its twin (or null), shapes that disagree,
        values that are not JSON numbers, or non-finite values.
    UnsupportedModelError
        On bidirectional or projected recurrent layers, other module kinds, and sizes beyond the
        engine's limits (engine.model.LIMITS), checked before the weights are read.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise ModelFileError(f"{path}: {where} is not a non-empty JSON object of parameters")
    modules = {}
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        modules.setdefault(prefix, {})[name] = value
    # Each module gives at least one layer: refuse a file of thousands of modules before reading them.
    check_limit(path, f"the number of modules in {where}", len(modules), "MAX_LAYERS")
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
            names = ", ".join(f'{label}{name}' for name in list(params)[:6])
            unsupported(path, f"{where} module {quote(prefix or '(root)')} with parameters {names}",
                        "LSTM, GRU and Linear modules")
        check_limit(path, f"the number of layers in {where}", len(layers), "MAX_LAYERS")
    return layers


def _shape_of(path, where, value):
    """The shape of a parameter's nested lists, before reading its values."""
    if not isinstance(value, list):
        raise ModelFileError(f"{path}: {where} is {json_kind(value)}, expected an array of numbers")
    shape = nested_shape(value)
    if shape is None:
        raise ModelFileError(f"{path}: {where} is a ragged array, expected a rectangular array of numbers")
    return shape


def _parse_torch_rnn(path, where, label, params):
    indices = {}
    for name in params:
        match = _RECURRENT_KEY.match(name)
        if not match and _RECURRENT_LIKE.match(name):
            raise ModelFileError(f'{path}: {where}["{label}{name}"] is not a PyTorch parameter name '
                                 f"(PyTorch numbers layers _l0, _l1, … in ASCII digits without leading zeros)")
        if not match:
            unsupported(path, f'{where}["{label}{name}"] (a recurrent option such as projections)',
                        "plain LSTM and GRU layers")
        if match.group(3):
            unsupported(path, f'{where}["{label}{name}"]: a bidirectional layer', "unidirectional LSTM and GRU layers")
        indices.setdefault(int(match.group(2)), set()).add(match.group(1))
    check_limit(path, f"the number of layers of {label or 'the RNN'}", len(indices), "MAX_RECURRENT_LAYERS")
    if sorted(indices) != list(range(len(indices))):
        raise ModelFileError(f"{path}: {where} layers of {label or 'the RNN'} are numbered {quote(sorted(indices))}, "
                             f"expected 0..{len(indices) - 1}")
    # PyTorch's bias=False drops both biases of every layer; one bias alone, or biases in some
    # layers only, is a broken file (reading the missing ones as zeros would run another network).
    with_bias = [index for index in range(len(indices)) if indices[index] & {"bias_ih", "bias_hh"}]
    for index in with_bias:
        present = indices[index] & {"bias_ih", "bias_hh"}
        if len(present) == 1:
            (have,) = present
            missing = "bias_hh" if have == "bias_ih" else "bias_ih"
            raise ModelFileError(f'{path}: {where} has "{label}{have}_l{index}" but no key "{label}{missing}_l{index}"; '
                                 f"a PyTorch LSTM/GRU layer has both biases, or neither (bias=False)")
    if with_bias and len(with_bias) != len(indices):
        without = next(index for index in range(len(indices)) if index not in with_bias)
        raise ModelFileError(f'{path}: {where} has biases for layer {with_bias[0]} of {label or "the RNN"} but no key '
                             f'"{label}bias_ih_l{without}"; PyTorch\'s bias=False drops the biases of every layer')
    layers = []
    for index in range(len(indices)):
        keys = {name: f"{label}{name}_l{index}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        for name in ("weight_ih", "weight_hh"):
            if name not in indices[index]:
                raise ModelFileError(f'{path}: {where} has no key "{keys[name]}"')
        hh_shape = _shape_of(path, f'{where}["{keys["weight_hh"]}"]', params[f"weight_hh_l{index}"])
        ih_shape = _shape_of(path, f'{where}["{keys["weight_ih"]}"]', params[f"weight_ih_l{index}"])
        if len(hh_shape) != 2 or hh_shape[1] == 0 or hh_shape[0] % hh_shape[1]:
            raise ModelFileError(f'{path}: {where}["{keys["weight_hh"]}"] has shape {format_shape(hh_shape)}, '
                                 f"expected (G·H, H) with G = 4 (LSTM) or 3 (GRU)")
        hidden = hh_shape[1]
        gates = hh_shape[0] // hidden
        cell = {4: "lstm", 3: "gru"}.get(gates)
        if cell is None:
            raise ModelFileError(f'{path}: {where}["{keys["weight_hh"]}"] has shape {format_shape(hh_shape)}: '
                                 f"{gates}·H rows fits neither an LSTM (4·H) nor a GRU (3·H)")
        check_limit(path, f'the hidden size of {where}["{keys["weight_hh"]}"]', hidden, "MAX_HIDDEN_SIZE")
        if len(ih_shape) != 2:
            raise ModelFileError(f'{path}: {where}["{keys["weight_ih"]}"] has shape {format_shape(ih_shape)}, '
                                 f"expected ({gates * hidden}, input size)")
        input_size = ih_shape[1]
        rows = gates * hidden
        description = f"for {'an' if cell == 'lstm' else 'a'} {cell.upper()} of hidden size {hidden}"

        def array(name, shape):
            try:
                return check_array(path, f'{where}["{keys[name]}"]', params[f"{name}_l{index}"], shape)
            except ModelFileError as exc:
                raise ModelFileError(f"{exc} {description}") from None

        weight_ih, weight_hh = array("weight_ih", (rows, input_size)), array("weight_hh", (rows, hidden))
        bias_ih, bias_hh = ((array("bias_ih", (rows,)), array("bias_hh", (rows,))) if with_bias
                            else (np.zeros(rows, np.float32), np.zeros(rows, np.float32)))  # bias=False
        layers.append(make_recurrent_layer(cell, input_size, hidden, weight_ih, weight_hh, bias_ih, bias_hh))
    return layers


def _parse_torch_linear(path, where, label, params):
    weight = params["weight"]
    shape = _shape_of(path, f'{where}["{label}weight"]', weight)
    if len(shape) != 2:
        raise ModelFileError(f'{path}: {where}["{label}weight"] has shape {format_shape(shape)}, '
                             f"expected (out, in) for a Linear layer")
    check_limit(path, f'the width of {where}["{label}weight"]', max(shape), "MAX_DENSE_WIDTH")
    weight = check_array(path, f'{where}["{label}weight"]', weight, shape)
    if "bias" in params:
        bias = check_array(path, f'{where}["{label}bias"]', params["bias"], (shape[0],))
    else:  # Linear(bias=False)
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
