"""GuitarML / Automated-GuitarAmpModelling "SimpleRNN" JSON (Proteus, NeuralPi, TS-M1N3, …).

The file holds ``model_data`` (hyper-parameters) and a PyTorch ``state_dict`` with an RNN under
``rec.`` and a Linear head under ``lin.``. ``skip = 1`` adds the audio input to the output.
No file stores its rate: the players run them at 44.1 kHz, so that is the format default.
"""

from ..errors import ModelFileError
from ..model import Model
from .common import parse_torch_modules, require, require_int, unsupported

FORMAT = "guitarml"
DEFAULT_SAMPLE_RATE = 44100.0


def looks_like(document):
    """Whether a parsed JSON document is (meant to be) a GuitarML model file."""
    return isinstance(document, dict) and "model_data" in document


def load(path, document):
    """Read a GuitarML SimpleRNN document into a Model (rate: the format default, 44.1 kHz).

    Parameters
    ----------
    path : str
        The file, for error messages.
    document : dict
        The parsed JSON.

    Returns
    -------
    Model

    Raises
    ------
    ModelFileError
        On missing keys, wrong shapes or hyper-parameters that disagree with the weights.
    UnsupportedModelError
        On other GuitarML networks (WaveNet, Conv1D+LSTM) and skip > 1.
    """
    model_data = require(path, document, "model_data")
    if not isinstance(model_data, dict):
        raise ModelFileError(f"{path}: model_data is not a JSON object")
    kind = model_data.get("model", "SimpleRNN")
    if kind != "SimpleRNN" or {"residual_channels", "dilations"} & set(model_data):
        unsupported(path, f"GuitarML model_data.model {kind!r}", "GuitarML SimpleRNN (LSTM/GRU) models")
    state_dict = require(path, document, "state_dict")
    unit_type = str(require(path, model_data, "unit_type", "model_data")).lower()
    if unit_type not in ("lstm", "gru"):
        unsupported(path, f"model_data.unit_type {model_data['unit_type']!r}", "LSTM and GRU units")
    input_size = require_int(path, require(path, model_data, "input_size", "model_data"), "model_data.input_size", 1)
    hidden_size = require_int(path, require(path, model_data, "hidden_size", "model_data"), "model_data.hidden_size", 1)
    num_layers = require_int(path, model_data.get("num_layers", 1), "model_data.num_layers", 1)
    output_size = require_int(path, model_data.get("output_size", 1), "model_data.output_size", 1)
    skip = require_int(path, model_data.get("skip", 0), "model_data.skip", 0)
    if skip > 1:
        unsupported(path, f"model_data.skip = {skip} (adding {skip} input channels to a mono output)", "skip 0 or 1")
    if not isinstance(state_dict, dict):
        raise ModelFileError(f"{path}: state_dict is not a JSON object")
    strays = [key for key in state_dict if not key.startswith(("rec.", "lin."))]
    if strays:
        raise ModelFileError(f'{path}: state_dict["{strays[0]}"] is not part of a SimpleRNN (expected rec.* and lin.* keys)')
    parts = {}
    for prefix, first_key in (("rec.", "rec.weight_ih_l0"), ("lin.", "lin.weight")):
        part = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not part:
            raise ModelFileError(f'{path}: state_dict has no key "{first_key}"')
        parts[prefix] = parse_torch_modules(path, part)
    recurrent, head = parts["rec."], parts["lin."]
    if len(recurrent) != num_layers:
        raise ModelFileError(f"{path}: model_data.num_layers is {num_layers} but state_dict holds {len(recurrent)} rec layers")
    for index, layer in enumerate(recurrent):
        if layer.cell != unit_type:
            raise ModelFileError(f"{path}: model_data.unit_type is {unit_type.upper()} but rec layer {index} has {layer.cell.upper()} weights")
        if layer.hidden_size != hidden_size:
            raise ModelFileError(f"{path}: model_data.hidden_size is {hidden_size} but rec layer {index} has hidden size {layer.hidden_size}")
    if recurrent[0].input_size != input_size:
        raise ModelFileError(f'{path}: model_data.input_size is {input_size} but state_dict["rec.weight_ih_l0"] takes {recurrent[0].input_size} inputs')
    if len(head) != 1 or head[0].output_size != output_size:
        raise ModelFileError(f"{path}: expected one lin layer with {output_size} outputs (model_data.output_size)")
    return Model(
        layers=tuple(recurrent + head),
        input_size=input_size,
        sample_rate=DEFAULT_SAMPLE_RATE,
        sample_rate_source="format-default",
        format=FORMAT,
        path=path,
        skip=bool(skip),
    )
