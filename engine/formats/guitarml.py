"""GuitarML / Automated-GuitarAmpModelling "SimpleRNN" JSON (Proteus, NeuralPi, TS-M1N3, …).

The file holds ``model_data`` (hyper-parameters) and a PyTorch ``state_dict`` with an RNN under
``rec.`` and a Linear head under ``lin.``. ``skip = 1`` adds the audio input to the output.
No file stores its rate: the players run them at 44.1 kHz, so that is the format default.

Keys absent from ``model_data`` take the defaults of the class that wrote the file,
CoreAudioML's ``SimpleRNN(input_size=1, output_size=1, unit_type="LSTM", hidden_size=32,
skip=1, bias_fl=True, num_layers=1)``: a missing ``skip`` is 1 (the dry audio is added), a
missing ``bias_fl`` is true, so ``lin.bias`` must then be present (``bias_fl`` is the head's
``nn.Linear(bias=...)``; the recurrent biases follow PyTorch's rule, both or neither, see
:func:`.common.parse_torch_modules`). ``input_size`` and ``hidden_size`` must be stored.
"""

from ..errors import ModelFileError
from ..model import Model, quote
from .common import parse_torch_modules, require, require_int, unsupported

#: CoreAudioML SimpleRNN's defaults for keys a file may omit.
DEFAULT_SKIP = 1
DEFAULT_BIAS_FL = True

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
        On missing keys, wrong shapes or hyper-parameters that disagree with the weights (including
        ``lin.bias`` present or absent against ``bias_fl``).
    UnsupportedModelError
        On other GuitarML networks (WaveNet, Conv1D+LSTM), skip > 1, and sizes beyond the engine's
        limits (engine.model.LIMITS).
    """
    model_data = require(path, document, "model_data")
    if not isinstance(model_data, dict):
        raise ModelFileError(f"{path}: model_data is not a JSON object")
    kind = model_data.get("model", "SimpleRNN")
    if kind != "SimpleRNN" or {"residual_channels", "dilations"} & set(model_data):
        unsupported(path, f"GuitarML model_data.model {quote(kind)}", "GuitarML SimpleRNN (LSTM/GRU) models")
    state_dict = require(path, document, "state_dict")
    unit_type = require(path, model_data, "unit_type", "model_data")
    if not isinstance(unit_type, str) or unit_type.lower() not in ("lstm", "gru"):
        unsupported(path, f"model_data.unit_type {quote(unit_type)}", "LSTM and GRU units")
    unit_type = unit_type.lower()
    input_size = require_int(path, require(path, model_data, "input_size", "model_data"), "model_data.input_size", 1,
                             limit="MAX_INPUT_SIZE")
    hidden_size = require_int(path, require(path, model_data, "hidden_size", "model_data"), "model_data.hidden_size", 1,
                              limit="MAX_HIDDEN_SIZE")
    num_layers = require_int(path, model_data.get("num_layers", 1), "model_data.num_layers", 1,
                             limit="MAX_RECURRENT_LAYERS")
    output_size = require_int(path, model_data.get("output_size", 1), "model_data.output_size", 1,
                              limit="MAX_DENSE_WIDTH")
    skip = require_int(path, model_data.get("skip", DEFAULT_SKIP), "model_data.skip", 0)
    if skip > 1:
        unsupported(path, f"model_data.skip = {quote(skip)} (adding {quote(skip)} input channels to a mono output)",
                    "skip 0 or 1")
    bias_fl = model_data.get("bias_fl", DEFAULT_BIAS_FL)
    if not isinstance(bias_fl, bool):
        raise ModelFileError(f"{path}: model_data.bias_fl must be true or false, got {quote(bias_fl)}")
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
    if bias_fl and "lin.bias" not in state_dict:
        raise ModelFileError(f'{path}: state_dict has no key "lin.bias" although model_data.bias_fl is '
                             f'{"true" if "bias_fl" in model_data else "absent (true by default)"}')
    if not bias_fl and "lin.bias" in state_dict:
        raise ModelFileError(f'{path}: state_dict has "lin.bias" although model_data.bias_fl is false')
    return Model(
        layers=tuple(recurrent + head),
        input_size=input_size,
        sample_rate=DEFAULT_SAMPLE_RATE,
        sample_rate_source="format-default",
        format=FORMAT,
        path=path,
        skip=bool(skip),
    )
