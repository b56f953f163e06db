#!/usr/bin/env python3
"""Export a PyTorch LSTM/GRU amp model to the weight files the engine (and other players) read.

The module must follow the GuitarML / Automated-GuitarAmpModelling layout: an ``nn.LSTM`` or
``nn.GRU`` named ``rec`` (batch_first, any number of layers, input = [audio, knob_1, …]), an
``nn.Linear(hidden_size, 1)`` named ``lin``, and a skip flag (1: the audio input is added to the
output). :class:`SimpleRNN` is such a module. Formats (see FORMATS.md):

=============  =================================================  ==============================
format         file                                               can hold
=============  =================================================  ==============================
guitarml       SimpleRNN JSON (model_data + state_dict)           everything; no rate (44.1 kHz)
state-dict     raw PyTorch state_dict as JSON (RTNeural "torch")  skip 0 only; no rate (44.1 kHz)
aida-x         RTNeural/Keras JSON with in_skip/gains/samplerate  everything
nam            NeuralAmpModeler "LSTM" (.nam)                     LSTM, skip 0, audio input only
=============  =================================================  ==============================

Weights are written as the shortest decimals that read back to the same float32, so a file
reproduces the module's float32 weights bit for bit. The engine never imports torch; this module
is the only place that does.

Examples
--------
>>> from export_torch import SimpleRNN, export
>>> net = SimpleRNN("lstm", input_size=1, hidden_size=40, skip=1)
>>> export(net, "amp.json", "guitarml")

Command line::

    python tools/export_torch.py model.pt -f aida-x -o amp.aidax.json --skip 1
    python tools/export_torch.py --demo gru --hidden-size 16 -f guitarml -o demo.json
"""

import argparse
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: The formats :func:`export` writes, in the order the CLI lists them.
FORMATS = ("guitarml", "state-dict", "aida-x", "nam")

#: File name endings used when a caller wants one file per format next to each other.
SUFFIXES = {"guitarml": ".guitarml.json", "state-dict": ".state_dict.json", "aida-x": ".aidax.json", "nam": ".nam"}

#: The rate the engine assumes for formats that store none (GuitarML and state_dict files).
UNSTORED_RATE = 44100

#: The NAM file-format version written; the engine (and NAM's players) accept major version 0.
NAM_VERSION = "0.5.4"

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class SimpleRNN(nn.Module):
    """The GuitarML "SimpleRNN": a recurrent layer stack, a linear head and an optional skip.

    ``forward(x) = lin(rec(x)[0]) + x[..., :skip]``, run from zero state, with x of shape
    (batch, samples, input_size): channel 0 is the audio, channels 1.. are knob values.

    Parameters
    ----------
    cell : str
        "lstm" or "gru".
    input_size : int
        1 for a plain model, 2 or 3 for a model conditioned on knobs.
    hidden_size : int
        Units per recurrent layer.
    num_layers : int
        Stacked recurrent layers.
    skip : int
        1 adds the audio input to the output (as every public GuitarML model does), 0 does not.
    bias : bool
        Whether the recurrent layers and the head have biases.

    Raises
    ------
    ValueError
        On an unknown cell, a size below 1, or a skip other than 0 and 1.
    """

    def __init__(self, cell="lstm", input_size=1, hidden_size=40, num_layers=1, skip=1, bias=True):
        super().__init__()
        cell = str(cell).lower()
        if cell not in CELLS:
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
        self.skip = _check_skip(skip)
        self.rec = CELLS[cell](int(input_size), int(hidden_size), int(num_layers), bias=bias, batch_first=True)
        self.lin = nn.Linear(int(hidden_size), 1, bias=bias)

    def forward(self, x):
        y = self.lin(self.rec(x)[0])
        # Only add when skipping: x[..., :0] has width 0 and would broadcast the sum to nothing.
        if self.skip:
            y = y + x[..., :self.skip]
        return y


def make_demo_model(cell="lstm", input_size=1, hidden_size=16, num_layers=1, skip=1, seed=0):
    """A randomly initialised :class:`SimpleRNN` that sounds like an effect, not like silence.

    PyTorch's default initialisation leaves an untrained network almost linear and ~40 dB
    quieter than its input, which would make reference data blind to gate-order mistakes. The
    audio column of the first input kernel is scaled up (drive), other input kernels ×2, the
    recurrent kernels ×1.5 (still contractive, so float rounding does not grow along a
    sequence) and the head ×3.

    Parameters
    ----------
    cell, input_size, hidden_size, num_layers, skip
        As :class:`SimpleRNN`.
    seed : int
        Seeds ``torch.manual_seed`` before the layers are built, so equal arguments give equal weights.

    Returns
    -------
    SimpleRNN
        In eval mode, float32.

    Raises
    ------
    ValueError
        As :class:`SimpleRNN`.
    """
    torch.manual_seed(seed)
    module = SimpleRNN(cell, input_size, hidden_size, num_layers, skip)
    with torch.no_grad():
        for layer in range(module.rec.num_layers):
            weight_ih = getattr(module.rec, f"weight_ih_l{layer}")
            weight_ih.mul_(2.0)
            if layer == 0:
                weight_ih[:, 0].mul_(8.0)  # audio column: ×16 in all
            getattr(module.rec, f"weight_hh_l{layer}").mul_(1.5)
        module.lin.weight.mul_(3.0)
    return module.eval()


def forward_numpy(module, audio, controls=()):
    """Run ``module`` over a whole signal from zero state, as the reference the engine must match.

    Parameters
    ----------
    module : torch.nn.Module
        Takes (1, samples, input_size) and returns (1, samples, 1), e.g. a :class:`SimpleRNN`.
    audio : numpy.ndarray
        float32 (samples,), channel 0 of the input.
    controls : sequence of float
        Constant values of channels 1.. (one per knob of a conditioned model).

    Returns
    -------
    numpy.ndarray
        float32 (samples,).
    """
    audio = np.asarray(audio, np.float32).reshape(-1)
    inputs = np.empty((1, audio.size, 1 + len(controls)), np.float32)
    inputs[0, :, 0] = audio
    for channel, value in enumerate(controls, start=1):
        inputs[0, :, channel] = np.float32(value)
    with torch.no_grad():
        output = module(torch.from_numpy(inputs))
    return np.ascontiguousarray(output.detach().cpu().numpy().reshape(-1), dtype=np.float32)


# -- the module as plain float32 arrays ----------------------------------------------------------

@dataclass(frozen=True)
class _Network:
    """What the writers need, as float32 numpy arrays in PyTorch's layout (no torch objects)."""

    cell: str
    input_size: int
    hidden_size: int
    layers: tuple      # per layer: (weight_ih, weight_hh, bias_ih or None, bias_hh or None)
    head_weight: np.ndarray  # (1, H)
    head_bias: object        # (1,) or None
    skip: int

    @property
    def num_layers(self):
        return len(self.layers)


def _check_skip(skip):
    if isinstance(skip, bool):
        skip = int(skip)
    if not isinstance(skip, (int, np.integer)) or skip not in (0, 1):
        raise ValueError(f"skip must be 0 or 1 (add the audio input to the output or not), got {skip!r}")
    return int(skip)


def _array(tensor, name):
    array = tensor.detach().cpu().to(torch.float32).numpy().copy()
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values; JSON model files cannot store them")
    return array


def _network(module, skip):
    """Read a GuitarML-layout module into a _Network, or say what does not fit the layout."""
    if not isinstance(module, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(module).__name__}")
    rec, lin = getattr(module, "rec", None), getattr(module, "lin", None)
    if isinstance(rec, nn.LSTM):
        cell = "lstm"
    elif isinstance(rec, nn.GRU):
        cell = "gru"
    else:
        raise ValueError(f"module.rec must be an nn.LSTM or nn.GRU (the GuitarML layout), got {type(rec).__name__}")
    if rec.bidirectional:
        raise ValueError("module.rec is bidirectional; a real-time model must be unidirectional")
    if getattr(rec, "proj_size", 0):
        raise ValueError(f"module.rec has proj_size={rec.proj_size}; none of the formats stores LSTM projections")
    if not isinstance(lin, nn.Linear):
        raise ValueError(f"module.lin must be an nn.Linear (the GuitarML layout), got {type(lin).__name__}")
    if lin.in_features != rec.hidden_size or lin.out_features != 1:
        raise ValueError(f"module.lin must be Linear({rec.hidden_size}, 1) to follow rec, "
                         f"got Linear({lin.in_features}, {lin.out_features})")
    if skip is None:
        if not hasattr(module, "skip"):
            raise ValueError("the module has no skip attribute; pass skip=0 or skip=1")
        skip = module.skip
    skip = _check_skip(skip)

    layers = []
    for index in range(rec.num_layers):
        def get(name):
            tensor = getattr(rec, f"{name}_l{index}", None)
            return None if tensor is None else _array(tensor, f"rec.{name}_l{index}")
        layers.append((get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")))
    head_bias = None if lin.bias is None else _array(lin.bias, "lin.bias")
    return _Network(cell, rec.input_size, rec.hidden_size, tuple(layers), _array(lin.weight, "lin.weight"), head_bias, skip)


def _why_not(network, fmt):
    """The reason ``fmt`` cannot represent ``network``, or None when it can."""
    if fmt not in FORMATS:
        return f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}"
    if fmt == "state-dict" and network.skip:
        return "a state-dict file has no place for the skip connection (it stores only weights); use guitarml or aida-x"
    if fmt == "nam":
        if network.cell != "lstm":
            return f"NAM's recurrent architecture is LSTM only; this model is a {network.cell.upper()}"
        if network.skip:
            return "NAM LSTM models have no skip connection; this model adds its input to the output (skip=1)"
        if network.input_size != 1:
            return (f"NAM models take the audio alone; this model has input_size {network.input_size} "
                    f"(conditioned on {network.input_size - 1} knob(s))")
    return None


def supported_formats(module, skip=None):
    """The formats that can represent ``module`` exactly.

    Parameters
    ----------
    module : torch.nn.Module
        In the GuitarML layout (see :func:`export`).
    skip : int, optional
        0 or 1; defaults to ``module.skip``.

    Returns
    -------
    tuple of str
        A subset of :data:`FORMATS`, in its order.

    Raises
    ------
    ValueError
        If the module does not follow the layout.
    """
    network = _network(module, skip)
    return tuple(fmt for fmt in FORMATS if _why_not(network, fmt) is None)


# -- writers: _Network → JSON document ---------------------------------------------------------

def _floats(array):
    """Nested lists of the shortest decimals that read back (via float64) to the same float32s.

    ``str(numpy.float32)`` gives the shortest round-tripping decimal (≤ 9 digits) instead of the
    17 digits of the float64 it widens to, which keeps files ~40% smaller. Readers parse JSON
    numbers as float64 and then round to float32, so every value is checked through exactly that
    path; any value that would not survive it is written as its exact float64 widening.
    """
    array = np.asarray(array, np.float32)
    flat = array.ravel()
    short = np.array([float(str(value)) for value in flat], np.float64)
    bad = short.astype(np.float32) != flat
    short[bad] = flat[bad].astype(np.float64)
    return short.reshape(array.shape).tolist()


def _rate_value(sample_rate):
    rate = float(sample_rate)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return int(rate) if rate.is_integer() else rate


def _torch_state_dict(network):
    """The module's own parameter names and shapes (rec.* then lin.*); absent biases are left out."""
    state = {}
    for index, (weight_ih, weight_hh, bias_ih, bias_hh) in enumerate(network.layers):
        for name, value in (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
            if value is not None:
                state[f"rec.{name}_l{index}"] = _floats(value)
    state["lin.weight"] = _floats(network.head_weight)
    if network.head_bias is not None:
        state["lin.bias"] = _floats(network.head_bias)
    return state


def _guitarml(network, sample_rate):
    return {
        "model_data": {
            "model": "SimpleRNN",
            "input_size": network.input_size,
            "skip": network.skip,
            "output_size": 1,
            "unit_type": network.cell.upper(),
            "num_layers": network.num_layers,
            "hidden_size": network.hidden_size,
            "bias_fl": network.head_bias is not None,
        },
        "state_dict": _torch_state_dict(network),
    }


def _state_dict(network, sample_rate):
    return _torch_state_dict(network)


def _zeros_if_none(value, size):
    return np.zeros(size, np.float32) if value is None else value


def _aidax(network, sample_rate):
    H = network.hidden_size
    rows = (4 if network.cell == "lstm" else 3) * H
    layers = []
    for weight_ih, weight_hh, bias_ih, bias_hh in network.layers:
        bias_ih, bias_hh = _zeros_if_none(bias_ih, rows), _zeros_if_none(bias_hh, rows)
        if network.cell == "lstm":
            # Keras LSTM gates [i, f, c, o] are PyTorch's [i, f, g, o]; Keras keeps one bias,
            # and PyTorch only ever uses b_ih + b_hh, so the sum is exact in meaning.
            weights = [_floats(weight_ih.T), _floats(weight_hh.T), _floats(bias_ih + bias_hh)]
        else:
            # Keras GRU gate blocks are [z, r, h], PyTorch's rows [r, z, n]: swap the first two.
            # A (2, 3H) bias is Keras' reset_after=True: input bias row, then recurrent bias row,
            # with the same candidate equation as PyTorch.
            order = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
            weights = [_floats(weight_ih[order].T), _floats(weight_hh[order].T),
                       _floats(np.stack([bias_ih[order], bias_hh[order]]))]
        layers.append({"type": network.cell, "activation": "tanh", "shape": [None, None, H], "weights": weights})
    layers.append({
        "type": "dense", "activation": "", "shape": [None, None, 1],
        "weights": [_floats(network.head_weight.T), _floats(_zeros_if_none(network.head_bias, 1))],
    })
    return {
        "in_shape": [None, None, network.input_size],
        "in_skip": network.skip,
        "in_gain": 0.0,
        "out_gain": 0.0,
        # Published AIDA-X files store the rate as a string ("48000"); follow them.
        "samplerate": str(_rate_value(sample_rate)),
        "layers": layers,
    }


def _nam(network, sample_rate):
    H = network.hidden_size
    pieces = []
    for weight_ih, weight_hh, bias_ih, bias_hh in network.layers:
        pieces.append(np.concatenate([weight_ih, weight_hh], axis=1).ravel())  # 4H × (d + H), row-major
        pieces.append(_zeros_if_none(bias_ih, 4 * H) + _zeros_if_none(bias_hh, 4 * H))
        # h0, c0: the module runs from zero state, so its exact equivalent is a zero initial state.
        # (NAM's players also pre-warm on 0.5 s of silence, which moves the state off zero.)
        pieces.append(np.zeros(2 * H, np.float32))
    pieces.append(network.head_weight.ravel())
    pieces.append(_zeros_if_none(network.head_bias, 1))
    return {
        "version": NAM_VERSION,
        "architecture": "LSTM",
        "config": {"input_size": network.input_size, "hidden_size": H, "num_layers": network.num_layers},
        "weights": _floats(np.concatenate(pieces)),
        "sample_rate": _rate_value(sample_rate),
        "metadata": {},
    }


_WRITERS = {"guitarml": _guitarml, "state-dict": _state_dict, "aida-x": _aidax, "nam": _nam}


def to_document(module, fmt, sample_rate=UNSTORED_RATE, skip=None):
    """Build the JSON document ``fmt`` stores for ``module`` (what :func:`export` writes).

    Parameters and Raises are those of :func:`export`.

    Returns
    -------
    dict
        Ready for ``json.dump``.
    """
    network = _network(module, skip)
    reason = _why_not(network, fmt)
    if reason is not None:
        raise ValueError(f"cannot export to {fmt}: {reason}")
    rate = _rate_value(sample_rate)
    if fmt in ("guitarml", "state-dict") and rate != UNSTORED_RATE:
        warnings.warn(
            f"{fmt} files store no sample rate and are read as {UNSTORED_RATE} Hz; load this one with "
            f"engine.load_model(path, sample_rate={rate}) or export to aida-x/nam, which store it",
            stacklevel=3,
        )
    return _WRITERS[fmt](network, rate)


def export(module, path, fmt, sample_rate=UNSTORED_RATE, skip=None):
    """Write ``module`` to a model file of format ``fmt``.

    Parameters
    ----------
    module : torch.nn.Module
        GuitarML layout: ``module.rec`` an ``nn.LSTM`` or ``nn.GRU`` (unidirectional, no
        projections, any number of layers, input = [audio, knobs…]) and ``module.lin`` an
        ``nn.Linear(hidden_size, 1)``; e.g. a :class:`SimpleRNN`. Weights are written as float32.
    path : str or os.PathLike
        The file to write (overwritten).
    fmt : str
        One of :data:`FORMATS`: "guitarml", "state-dict", "aida-x" or "nam".
    sample_rate : float
        The rate (Hz) the model was trained at. Stored by aida-x and nam; guitarml and
        state-dict files cannot store it and are read as 44.1 kHz, so another value warns.
    skip : int, optional
        1 if the model adds its audio input to the output, else 0. Defaults to ``module.skip``.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ValueError
        If the module does not follow the layout, holds non-finite weights, ``skip`` is not 0 or
        1, ``sample_rate`` is not positive, ``fmt`` is unknown, or ``fmt`` cannot represent the
        model (state-dict with skip=1; nam for a GRU, with skip=1 or with knob inputs).
    """
    document = to_document(module, fmt, sample_rate, skip)
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as handle:
        # Compact separators: weight lists dominate the size, and fixtures are committed.
        json.dump(document, handle, separators=(",", ":"), allow_nan=False)
        handle.write("\n")
    return path


# -- command line ------------------------------------------------------------------------------

def module_from_state_dict(state_dict, skip):
    """Rebuild a :class:`SimpleRNN` from a GuitarML-layout state_dict (``rec.*`` and ``lin.*`` tensors).

    Parameters
    ----------
    state_dict : dict of str to torch.Tensor
    skip : int
        0 or 1 (a state_dict does not record it).

    Returns
    -------
    SimpleRNN

    Raises
    ------
    ValueError
        If the keys or shapes do not describe an LSTM/GRU stack followed by Linear(H, 1).
    """
    if "rec.weight_hh_l0" not in state_dict or "rec.weight_ih_l0" not in state_dict or "lin.weight" not in state_dict:
        raise ValueError("expected a GuitarML-layout state_dict with rec.weight_ih_l0, rec.weight_hh_l0 and lin.weight")
    rows, hidden = state_dict["rec.weight_hh_l0"].shape
    cell = {4: "lstm", 3: "gru"}.get(rows // hidden if rows % hidden == 0 else 0)
    if cell is None:
        raise ValueError(f"rec.weight_hh_l0 has shape {(rows, hidden)}: neither an LSTM (4H, H) nor a GRU (3H, H)")
    num_layers = 1 + max(int(key.rsplit("_l", 1)[1]) for key in state_dict if key.startswith("rec.weight_hh_l"))
    module = SimpleRNN(cell, state_dict["rec.weight_ih_l0"].shape[1], hidden, num_layers, skip,
                       bias="rec.bias_ih_l0" in state_dict)
    # The head's bias is independent of the recurrent one (GuitarML's bias_fl covers only the head).
    if "lin.bias" in state_dict and module.lin.bias is None:
        module.lin.bias = nn.Parameter(torch.zeros(1))
    elif "lin.bias" not in state_dict:
        module.lin.bias = None
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise ValueError(f"the state_dict does not fit a {cell.upper()} SimpleRNN: {exc}") from None
    return module.eval()


class SourceError(Exception):
    """A model file given on the command line cannot be turned into a module."""


def _load_source(path, skip, allow_pickle):
    """Load what torch.save wrote: a whole module (only with allow_pickle) or a state_dict."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except Exception as exc:  # torch raises UnpicklingError (and others) for pickled modules
        if allow_pickle:
            raise SourceError(f"{path}: cannot load with torch.load: {exc}") from None
        # weights_only=True refuses arbitrary pickles, which can run code; say how to opt in.
        raise SourceError(f"{path}: not a plain state_dict ({type(exc).__name__}); if it is a whole module saved "
                          f"with torch.save and you trust the file, add --allow-pickle") from None
    if isinstance(loaded, nn.Module):
        return loaded.eval()
    if isinstance(loaded, dict):
        if "model_state_dict" in loaded:  # common training-checkpoint wrapper
            loaded = loaded["model_state_dict"]
        if skip is None:
            raise SourceError(f"{path}: a state_dict does not record the skip connection; pass --skip 0 or --skip 1")
        return module_from_state_dict(loaded, skip)
    raise SourceError(f"{path}: expected an nn.Module or a state_dict, got {type(loaded).__name__}")


def main(argv=None):
    """Command-line entry point; returns the exit status (0, or 2 with a message on stderr)."""
    parser = argparse.ArgumentParser(
        description="Export a PyTorch LSTM/GRU model (GuitarML layout: rec + lin + skip) to a model file.",
        epilog="examples:\n"
               "  %(prog)s model.pt -f aida-x -o amp.aidax.json --skip 1 --sample-rate 48000\n"
               "  %(prog)s --demo lstm --hidden-size 16 --skip 0 -f nam -o demo.nam",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("model", nargs="?", help="a file saved with torch.save: a state_dict with rec.* and lin.* "
                                                 "keys, or (with --allow-pickle) a whole module")
    source.add_argument("--demo", choices=sorted(CELLS), help="export a random demo SimpleRNN instead of a file")
    parser.add_argument("-f", "--format", required=True, choices=FORMATS, help="the file format to write")
    parser.add_argument("-o", "--output", required=True, help="the model file to write")
    parser.add_argument("--skip", type=int, choices=(0, 1), help="1 if the model adds its input to the output "
                        "(default: the module's skip attribute; required for a state_dict; 1 for --demo)")
    parser.add_argument("--sample-rate", type=float, default=UNSTORED_RATE,
                        help="the rate (Hz) the model was trained at (default %(default)s)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow torch.load to unpickle a whole module (runs code from the file: trusted files only)")
    demo = parser.add_argument_group("demo model (with --demo)")
    demo.add_argument("--input-size", type=int, default=1, help="1 + number of knobs (default %(default)s)")
    demo.add_argument("--hidden-size", type=int, default=16, help="default %(default)s")
    demo.add_argument("--num-layers", type=int, default=1, help="default %(default)s")
    demo.add_argument("--seed", type=int, default=0, help="default %(default)s")
    args = parser.parse_args(argv)

    try:
        if args.demo:
            skip = 1 if args.skip is None else args.skip
            module = make_demo_model(args.demo, args.input_size, args.hidden_size, args.num_layers, skip, args.seed)
        else:
            module = _load_source(args.model, args.skip, args.allow_pickle)
        path = export(module, args.output, args.format, sample_rate=args.sample_rate, skip=args.skip)
    except (ValueError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.format}, {os.path.getsize(path):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
