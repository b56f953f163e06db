"""Every bad input a user can give gets the right EngineError and a one-line message that says what is wrong.

Each case starts from a small valid document built here (GuitarML, NAM, Keras/RTNeural, AIDA-X,
PyTorch state_dict), or from a copy of a real file in ../shared/fixtures, changes one thing, writes
the result into tmp_path, and checks the exception's exact class and its message. Messages about a
file must start with the file's path; messages about an argument must name the argument.
Warnings are errors here: a numpy overflow warning is a bug, not a message.
"""

import copy
import json
import math
import re

import numpy as np
import pytest

import engine
from engine import (ArgumentError, AudioInputError, ControlError, ModelFileError, SampleRateError,
                    UnsupportedModelError)

pytestmark = pytest.mark.filterwarnings("error")

H = 3  # hidden size of every minimal document


# -- minimal valid documents -------------------------------------------------------------------

def _values(*shape, seed=0):
    """Small deterministic weights as nested lists."""
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    return rng.uniform(-0.4, 0.4, shape).round(5).tolist()


def guitarml_doc(unit_type="LSTM", input_size=1):
    """A GuitarML SimpleRNN file: LSTM or GRU (input_size → H), Linear(H → 1), skip 1."""
    rows = (4 if unit_type == "LSTM" else 3) * H
    return {
        "model_data": {"model": "SimpleRNN", "input_size": input_size, "skip": 1, "output_size": 1,
                       "unit_type": unit_type, "num_layers": 1, "hidden_size": H, "bias_fl": True},
        "state_dict": {
            "rec.weight_ih_l0": _values(rows, input_size), "rec.weight_hh_l0": _values(rows, H),
            "rec.bias_ih_l0": _values(rows), "rec.bias_hh_l0": _values(rows, seed=1),
            "lin.weight": _values(1, H), "lin.bias": _values(1),
        },
    }


def nam_weight_count(input_size, hidden_size, num_layers):
    """FORMATS.md §2: Σ_l [4H(d + H) + 6H] + H + 1."""
    total = hidden_size + 1
    for layer in range(num_layers):
        width = input_size if layer == 0 else hidden_size
        total += 4 * hidden_size * (width + hidden_size) + 6 * hidden_size
    return total


def nam_doc():
    """A NAM LSTM(1 → H) file without a stored rate (48 kHz by the format's convention)."""
    count = nam_weight_count(1, H, 1)
    return {"version": "0.5.4", "architecture": "LSTM", "config": {"input_size": 1, "hidden_size": H, "num_layers": 1},
            "weights": _values(count), "metadata": {"name": "minimal"}}


def keras_doc(cell="lstm", hidden=H):
    """An RTNeural/Keras export: LSTM or GRU (1 → hidden), Dense(hidden → 1); a GRU has a (2, 3H) bias."""
    gates = 4 if cell == "lstm" else 3
    bias = _values(gates * hidden) if cell == "lstm" else _values(2, gates * hidden)
    return {
        "in_shape": [None, None, 1],
        "layers": [
            {"type": cell, "activation": "tanh", "shape": [None, None, hidden],
             "weights": [_values(1, gates * hidden), _values(hidden, gates * hidden), bias]},
            {"type": "dense", "activation": "", "shape": [None, None, 1], "weights": [_values(hidden, 1), _values(1)]},
        ],
    }


def aidax_doc():
    """The Keras LSTM document with AIDA-X's keys (rate stored as a string, as real files do)."""
    return {**keras_doc(), "in_skip": 1, "in_gain": 0.0, "out_gain": 0.0, "samplerate": "48000"}


def state_dict_doc():
    """A PyTorch state_dict as JSON: LSTM(1 → H), Linear(H → 1)."""
    return {"lstm.weight_ih_l0": _values(4 * H, 1), "lstm.weight_hh_l0": _values(4 * H, H),
            "lstm.bias_ih_l0": _values(4 * H), "lstm.bias_hh_l0": _values(4 * H, seed=1),
            "dense.weight": _values(1, H), "dense.bias": _values(1)}


BUILDERS = {
    "guitarml": guitarml_doc,
    "guitarml-gru": lambda: guitarml_doc("GRU"),
    "guitarml-conditioned": lambda: guitarml_doc(input_size=2),
    "nam": nam_doc,
    "keras": keras_doc,
    "keras-gru": lambda: keras_doc("gru"),
    "aidax": aidax_doc,
    "state-dict": state_dict_doc,
}


def write(tmp_path, content, name="model.json"):
    """Write a document (dict/list/...: as JSON, NaN and Infinity allowed), text (str) or bytes."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def expect(excinfo, cls):
    """The error is exactly ``cls``, an EngineError, a ValueError, and one line."""
    err = excinfo.value
    assert type(err) is cls, f"raised {type(err).__name__}, expected {cls.__name__}: {err}"
    assert isinstance(err, engine.EngineError)
    assert isinstance(err, ValueError)
    assert "\n" not in str(err), f"message spans lines: {err!r}"
    return err


# -- positive controls: the documents the cases start from are valid ---------------------------

VALID_CASES = [
    ("guitarml", "guitarml", "LSTM(1→3) → Dense(3→1) + skip", 44100.0),
    ("guitarml-gru", "guitarml", "GRU(1→3) → Dense(3→1) + skip", 44100.0),
    ("guitarml-conditioned", "guitarml", "LSTM(2→3) → Dense(3→1) + skip", 44100.0),
    ("nam", "nam", "LSTM(1→3) → Dense(3→1)", 48000.0),
    ("keras", "keras", "LSTM(1→3) → Dense(3→1)", 44100.0),
    ("keras-gru", "keras", "GRU(1→3) → Dense(3→1)", 44100.0),
    ("aidax", "aida-x", "LSTM(1→3) → Dense(3→1) + skip", 48000.0),
    ("state-dict", "torch-state-dict", "LSTM(1→3) → Dense(3→1)", 44100.0),
]


@pytest.mark.parametrize("builder,fmt,description,rate", VALID_CASES, ids=[case[0] for case in VALID_CASES])
def test_minimal_valid_document_loads_and_runs(tmp_path, builder, fmt, description, rate):
    model = engine.load_model(write(tmp_path, BUILDERS[builder]()))
    assert (model.format, model.describe(), model.sample_rate) == (fmt, description, rate)
    processor = engine.Processor(model, sample_rate=2 * rate)
    y = processor.process(np.full(256, 0.1, np.float32))
    assert y.dtype == np.float32 and np.all(np.isfinite(y)) and np.any(y != 0)


# -- bad model files ---------------------------------------------------------------------------

def setp(*keys, value):
    """A mutation that sets doc[k1][k2]... = value."""
    def mutate(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return doc
    return mutate


def delp(*keys):
    """A mutation that deletes doc[k1][k2]...."""
    def mutate(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return doc
    return mutate


def replace(content):
    """A 'mutation' that throws the document away and writes ``content`` instead."""
    return lambda doc: content


def _truncated(doc):
    text = json.dumps(doc)
    return text[: len(text) // 2]


def _gru_rows_in_lstm(doc):
    doc["state_dict"]["rec.weight_hh_l0"] = _values(3 * H, H)  # 9 rows: a GRU's, but weight_ih has an LSTM's 12
    return doc


def _nam_weights(count):
    return lambda doc: setp("weights", value=doc["weights"][:count] if count < len(doc["weights"])
                            else doc["weights"] + [0.0] * (count - len(doc["weights"])))(doc)


def _keras_lstm8_dense16(doc):
    doc = keras_doc(hidden=8)
    doc["layers"][1]["weights"] = [_values(16, 1), _values(1)]
    return doc


def _keras_two_outputs(doc):
    doc["layers"][1] = {"type": "dense", "activation": "", "shape": [None, None, 2], "weights": [_values(H, 2), _values(2)]}
    return doc


def _guitarml_two_outputs(doc):
    doc["model_data"]["output_size"] = 2
    doc["state_dict"]["lin.weight"] = _values(2, H)
    doc["state_dict"]["lin.bias"] = _values(2)
    return doc


def _state_dict_bidirectional(doc):
    doc["lstm.weight_ih_l0_reverse"] = _values(4 * H, 1)
    return doc


def _state_dict_linear_too_wide(doc):
    doc["dense.weight"] = _values(1, 2 * H)
    return doc


def _state_dict_linear_only(doc):
    return {"dense.weight": _values(1, 1), "dense.bias": _values(1)}


def _keras_gru_bias(shape):
    def mutate(doc):
        doc["layers"][0]["weights"][2] = _values(*shape)
        return doc
    return mutate


def _set_value(keys, index, value):
    """Put ``value`` at a position inside the nested list at doc[keys...]."""
    def mutate(doc):
        target = doc
        for key in keys:
            target = target[key]
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = value
        return doc
    return mutate


# (id, starting document, mutation, exception, message after "<path>: ")
FILE_CASES = [
    # not JSON at all
    ("binary-file", "guitarml", replace(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00IHDR"), ModelFileError,
     r"not a text file; expected a JSON model \(\.json, \.nam, \.aidax\)$"),
    ("plain-text", "guitarml", replace("This is my amp model, trained on my Marshall.\n"), ModelFileError,
     r"not valid JSON at line 1, column 1: Expecting value$"),
    ("json-with-trailing-comma", "guitarml", replace('{"model_data": {"hidden_size": 3,}}'), ModelFileError,
     r"not valid JSON at line 1, column \d+: .*double quotes"),
    ("truncated-json", "guitarml", _truncated, ModelFileError, r"the JSON ends early \(truncated file\?\) at line 1$"),
    ("empty-file", "guitarml", replace(""), ModelFileError, r"the file is empty; expected a JSON model$"),
    ("whitespace-only-file", "guitarml", replace(" \n\t\n"), ModelFileError, r"the file is empty"),
    # JSON of no known format
    ("unknown-keys", "guitarml", replace({"name": "my amp", "gain": 0.5}), ModelFileError,
     r"unknown model format \(top-level keys name, gain\); expected GuitarML SimpleRNN JSON, NeuralAmpModeler"),
    ("json-array", "guitarml", replace([1, 2, 3]), ModelFileError, r"unknown model format \(a JSON array\); expected"),
    ("json-null", "guitarml", replace(None), ModelFileError, r"unknown model format \(a JSON null\); expected"),
    ("json-number", "guitarml", replace(42), ModelFileError, r"unknown model format \(a JSON number\); expected"),
    ("json-empty-object", "guitarml", replace({}), ModelFileError, r"unknown model format \(an empty JSON object\)"),
    # known architectures the engine does not run
    ("nam-wavenet", "nam", setp("architecture", value="WaveNet"), UnsupportedModelError,
     r"NAM architecture 'WaveNet' is not supported; this engine runs NAM files of architecture 'LSTM'$"),
    ("nam-convnet", "nam", setp("architecture", value="ConvNet"), UnsupportedModelError,
     r"NAM architecture 'ConvNet' is not supported"),
    ("guitarml-wavenet", "guitarml",
     replace({"activation": "gated", "output_channels": 1, "input_channels": 1, "residual_channels": 16,
              "dilations": [1, 2, 4, 8], "variables": []}),
     UnsupportedModelError, r"a WaveNet model \(keys residual_channels, dilations\) is not supported; this engine runs LSTM and GRU"),
    ("guitarml-wavenet-in-model_data", "guitarml",
     lambda doc: setp("model_data", "dilations", value=[1, 2, 4])(setp("model_data", "residual_channels", value=8)(doc)),
     UnsupportedModelError, r"a WaveNet model \(keys residual_channels, dilations\) is not supported"),
    ("guitarml-conv1d-lstm", "guitarml",
     replace({"conv1d": {"kernel_size": 12, "channels": 16}, "lstm": {"hidden_size": 36}, "dense": {}}),
     UnsupportedModelError, r"a Conv1D\+LSTM model \(keys conv1d, lstm\) is not supported; this engine runs LSTM and GRU models without convolutions$"),
    ("guitarml-model-not-simplernn", "guitarml", setp("model_data", "model", value="WaveNet"), UnsupportedModelError,
     r"GuitarML model_data.model 'WaveNet' is not supported; this engine runs GuitarML SimpleRNN"),
    ("guitarml-unit-type-rnn", "guitarml", setp("model_data", "unit_type", value="RNN"), UnsupportedModelError,
     r"model_data.unit_type 'RNN' is not supported; this engine runs LSTM and GRU units$"),
    ("guitarml-skip-2", "guitarml-conditioned", setp("model_data", "skip", value=2), UnsupportedModelError,
     r"model_data.skip = 2 \(adding 2 input channels to a mono output\) is not supported; this engine runs skip 0 or 1$"),
    ("keras-conv1d-layer", "keras",
     setp("layers", 0, value={"type": "conv1d", "shape": [None, None, 4], "weights": [[[[0.1]]], [0.0]]}),
     UnsupportedModelError, r"layers\[0\] of type 'conv1d' is not supported; this engine runs Keras/RTNeural layers lstm, gru, dense"),
    ("keras-unknown-activation", "keras", setp("layers", 1, "activation", value="swish"), UnsupportedModelError,
     r"layers\[1\] activation 'swish' is not supported; this engine runs activations linear, tanh"),
    ("keras-gru-bias-3x3H", "keras-gru", _keras_gru_bias((3, 3 * H)), UnsupportedModelError,
     r"layers\[0\]\.weights\[2\] \(GRU bias\) of shape \(3, 9\) is not supported; this engine runs GRU biases of shape "
     r"\(9,\) \(reset_after=False\) or \(2, 9\) \(reset_after=True\)$"),
    ("keras-gru-bias-4H", "keras-gru", _keras_gru_bias((4 * H,)), UnsupportedModelError,
     r"layers\[0\]\.weights\[2\] \(GRU bias\) of shape \(12,\) is not supported"),
    ("state-dict-bidirectional", "state-dict", _state_dict_bidirectional, UnsupportedModelError,
     r'state_dict\["lstm\.weight_ih_l0_reverse"\]: a bidirectional layer is not supported'),
    # missing keys
    ("guitarml-no-state_dict", "guitarml", delp("state_dict"), ModelFileError, r"the file has no key 'state_dict'$"),
    ("guitarml-no-hidden_size", "guitarml", delp("model_data", "hidden_size"), ModelFileError,
     r"model_data has no key 'hidden_size'$"),
    ("guitarml-no-rec.weight_ih_l0", "guitarml", delp("state_dict", "rec.weight_ih_l0"), ModelFileError,
     r'state_dict has no key "rec\.weight_ih_l0"$'),
    ("guitarml-no-lin.weight", "guitarml", delp("state_dict", "lin.weight"), ModelFileError,
     r'state_dict has no key "lin\.weight"'),
    ("nam-no-weights", "nam", delp("weights"), ModelFileError, r"the file has no key 'weights'$"),
    ("nam-no-config.hidden_size", "nam", delp("config", "hidden_size"), ModelFileError, r"config has no key 'hidden_size'$"),
    ("nam-no-version", "nam", delp("version"), ModelFileError, r"the file has no key 'version'$"),
    ("keras-no-in_shape", "keras", delp("in_shape"), ModelFileError, r"the file has no key 'in_shape'$"),
    ("keras-layer-no-weights", "keras", delp("layers", 0, "weights"), ModelFileError, r"layers\[0\] has no key 'weights'$"),
    ("keras-layer-no-type", "keras", delp("layers", 1, "type"), ModelFileError, r"layers\[1\] has no key 'type'$"),
    # wrong shapes and kinds
    ("guitarml-weight_hh-10-rows", "guitarml", setp("state_dict", "rec.weight_hh_l0", value=_values(10, H)), ModelFileError,
     r'state_dict\["rec\.weight_hh_l0"\] has shape \(10, 3\), expected \(G·H, H\) with G = 4 \(LSTM\) or 3 \(GRU\)$'),
    ("guitarml-weight_hh-gru-rows-in-lstm", "guitarml", _gru_rows_in_lstm, ModelFileError,
     r'state_dict\["rec\.weight_ih_l0"\] has shape \(12, 1\), expected \(9, 1\) for a GRU of hidden size 3$'),
    ("state-dict-bias-too-short", "state-dict", setp("lstm.bias_ih_l0", value=_values(4 * H - 1)), ModelFileError,
     r'state_dict\["lstm\.bias_ih_l0"\] has shape \(11,\), expected \(12,\) for an LSTM of hidden size 3$'),
    ("keras-recurrent-kernel-wrong", "keras", setp("layers", 0, "weights", 1, value=_values(H + 1, 4 * H)), ModelFileError,
     r"layers\[0\]\.weights\[1\] has shape \(4, 12\), expected \(3, 12\) for an LSTM of width 3 after a layer of width 1$"),
    ("nam-weights-nested", "nam", _set_value(["weights"], [4], [0.1, 0.2]), ModelFileError,
     r"weights is a ragged array, expected a rectangular array of shape \(70,\)$"),
    ("guitarml-weights-are-strings", "guitarml", setp("state_dict", "lin.bias", value=["zero"]), ModelFileError,
     r'state_dict\["lin\.bias"\] holds a string at index \(0,\), expected an array of numbers$'),
    ("guitarml-hidden_size-not-whole", "guitarml", setp("model_data", "hidden_size", value=2.5), ModelFileError,
     r"model_data\.hidden_size must be a whole number ≥ 1, got 2\.5$"),
    ("guitarml-hidden_size-nan", "guitarml", setp("model_data", "hidden_size", value=math.nan), ModelFileError,
     r"model_data\.hidden_size must be a whole number ≥ 1, got nan$"),
    ("keras-width-infinite", "keras", setp("layers", 0, "shape", value=[None, None, math.inf]), ModelFileError,
     r"layers\[0\]\.shape\[-1\] \(the layer width\) must be a whole number ≥ 1, got inf$"),
    # sizes that disagree between layers or with the hyper-parameters
    ("keras-lstm8-then-dense16", "keras", _keras_lstm8_dense16, ModelFileError,
     r"layers\[1\]\.weights\[0\] has shape \(16, 1\), expected \(8, 1\) for a dense layer of width 1 after a layer of width 8$"),
    ("keras-activation-width", "keras",
     lambda doc: setp("layers", value=[doc["layers"][0], {"type": "activation", "activation": "tanh", "shape": [None, None, 5]},
                                       doc["layers"][1]])(doc),
     ModelFileError, r"layers\[1\] is an activation of width 5 after a layer of width 3$"),
    ("guitarml-hidden_size-disagrees", "guitarml", setp("model_data", "hidden_size", value=5), ModelFileError,
     r"model_data\.hidden_size is 5 but rec layer 0 has hidden size 3$"),
    ("guitarml-num_layers-disagrees", "guitarml", setp("model_data", "num_layers", value=2), ModelFileError,
     r"model_data\.num_layers is 2 but state_dict holds 1 rec layers$"),
    ("guitarml-input_size-disagrees", "guitarml", setp("model_data", "input_size", value=2), ModelFileError,
     r'model_data\.input_size is 2 but state_dict\["rec\.weight_ih_l0"\] takes 1 inputs$'),
    ("guitarml-unit_type-disagrees", "guitarml", setp("model_data", "unit_type", value="GRU"), ModelFileError,
     r"model_data\.unit_type is GRU but rec layer 0 has LSTM weights$"),
    ("state-dict-linear-too-wide", "state-dict", _state_dict_linear_too_wide, ModelFileError,
     r"layer 1 \(Dense\(6→1\)\) takes 6 inputs but the layer before it gives 3$"),
    # NAM's flat weight list and version gate
    ("nam-too-few-weights", "nam", _nam_weights(69), ModelFileError,
     r"weights holds 69 numbers, expected 70 for an LSTM with input size 1, hidden size 3 and 1 layer\(s\)$"),
    ("nam-too-many-weights", "nam", _nam_weights(71), ModelFileError, r"weights holds 71 numbers, expected 70 for an LSTM"),
    ("nam-hidden_size-disagrees", "nam", setp("config", "hidden_size", value=4), ModelFileError,
     r"weights holds 70 numbers, expected 109 for an LSTM with input size 1, hidden size 4 and 1 layer\(s\)$"),
    ("nam-major-version-1", "nam", setp("version", value="1.0.0"), ModelFileError,
     r"NAM file version 1\.0\.0 is newer than this engine reads \(major version 0\)$"),
    ("nam-version-not-semver", "nam", setp("version", value="beta"), ModelFileError,
     r"version 'beta' is not a semantic version like 0\.5\.4$"),
    # values that numpy would quietly convert: strings, booleans, null, ragged nesting
    ("keras-weight-as-string", "keras", _set_value(["layers", 1, "weights", 1], [0], "0.1"), ModelFileError,
     r"layers\[1\]\.weights\[1\] holds a string at index \(0,\), expected an array of numbers$"),
    ("guitarml-weight-as-boolean", "guitarml", _set_value(["state_dict", "lin.bias"], [0], True), ModelFileError,
     r'state_dict\["lin\.bias"\] holds true at index \(0,\), expected an array of numbers$'),
    ("nam-null-weight", "nam", _set_value(["weights"], [3], None), ModelFileError,
     r"weights holds null at index \(3,\), expected an array of numbers$"),
    ("keras-ragged-kernel", "keras", _set_value(["layers", 1, "weights", 0], [0], [0.1, 0.2]), ModelFileError,
     r"layers\[1\]\.weights\[0\] is a ragged array, expected a rectangular array of shape"),
    # non-finite and out-of-range numbers (Python's json writes NaN, Infinity, -Infinity)
    ("guitarml-nan-weight", "guitarml", _set_value(["state_dict", "rec.weight_hh_l0"], [2, 1], math.nan), ModelFileError,
     r'state_dict\["rec\.weight_hh_l0"\] holds a non-finite value \(nan\) at index \(2, 1\) for an LSTM of hidden size 3$'),
    ("nam-infinite-weight", "nam", _set_value(["weights"], [5], math.inf), ModelFileError,
     r"weights holds a non-finite value \(inf\) at index \(5,\)$"),
    ("keras-minus-infinity-bias", "keras", _set_value(["layers", 1, "weights", 1], [0], -math.inf), ModelFileError,
     r"layers\[1\]\.weights\[1\] holds a non-finite value \(-inf\) at index \(0,\)$"),
    ("state-dict-weight-beyond-float32", "state-dict", _set_value(["dense.weight"], [0, 1], 1e39), ModelFileError,
     r'state_dict\["dense\.weight"\] holds 1e\+39 at index \(0, 1\), beyond float32\'s range'),
    ("aidax-in_gain-infinite", "aidax", setp("in_gain", value=math.inf), ModelFileError,
     r"in_gain must be a finite number of dB, got inf$"),
    ("aidax-out_gain-too-loud", "aidax", setp("out_gain", value=1000), ModelFileError,
     r"out_gain is 1000 dB, expected a gain within ±760 dB$"),
    ("aidax-in_skip-2", "aidax", setp("in_skip", value=2), ModelFileError, r"in_skip must be 0 or 1, got 2$"),
    # a rate stored in the file
    ("aidax-samplerate-zero", "aidax", setp("samplerate", value="0"), SampleRateError,
     r"samplerate must be a positive number of Hz, got '0'$"),
    ("aidax-samplerate-negative", "aidax", setp("samplerate", value=-48000), SampleRateError,
     r"samplerate must be a positive number of Hz, got -48000$"),
    ("aidax-samplerate-not-a-number", "aidax", setp("samplerate", value="48 kHz"), SampleRateError,
     r"samplerate must be a number of Hz, got '48 kHz'$"),
    ("aidax-metadata-samplerate-nan", "keras", setp("metadata", value={"samplerate": math.nan}), SampleRateError,
     r"samplerate must be a positive number of Hz, got nan$"),
    ("nam-sample_rate-zero", "nam", setp("sample_rate", value=0), SampleRateError,
     r"sample_rate must be a positive number of Hz, got 0$"),
    ("nam-sample_rate-boolean", "nam", setp("sample_rate", value=True), SampleRateError,
     r"sample_rate must be a number of Hz, got True$"),
    # networks that do not end in one audio output, or have no recurrent layer
    ("keras-two-outputs", "keras", _keras_two_outputs, ModelFileError,
     r"the model ends with 2 outputs, expected 1 \(one audio output\)$"),
    ("guitarml-two-outputs", "guitarml", _guitarml_two_outputs, ModelFileError, r"the model ends with 2 outputs, expected 1"),
    ("state-dict-no-recurrent-layer", "state-dict", _state_dict_linear_only, ModelFileError,
     r"the model has no LSTM or GRU layer; this engine runs recurrent models$"),
]


@pytest.mark.parametrize("builder,mutate,cls,pattern", [case[1:] for case in FILE_CASES], ids=[case[0] for case in FILE_CASES])
def test_bad_model_file(tmp_path, builder, mutate, cls, pattern):
    path = write(tmp_path, mutate(copy.deepcopy(BUILDERS[builder]())))
    with pytest.raises(cls, match="^" + re.escape(str(path)) + ": " + pattern) as excinfo:
        engine.load_model(path)
    expect(excinfo, cls)


def test_case_ids_are_distinct():
    ids = [case[0] for case in FILE_CASES]
    assert len(ids) == len(set(ids)) >= 24


def test_missing_file(tmp_path):
    path = tmp_path / "no_such_amp.json"
    with pytest.raises(ModelFileError, match="^" + re.escape(str(path)) + r": no such model file$") as excinfo:
        engine.load_model(path)
    expect(excinfo, ModelFileError)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ModelFileError, match="^" + re.escape(str(tmp_path)) + r": is a directory, expected a model file$") as excinfo:
        engine.load_model(tmp_path)
    expect(excinfo, ModelFileError)


# -- copies of real files, changed in one place ------------------------------------------------

def _drop_last_weight(doc):
    doc["weights"] = doc["weights"][:-1]
    return doc


def _dense_takes_16(doc):
    doc["layers"][1]["weights"][0] = _values(16, 1)
    return doc


REAL_FILE_CASES = [
    ("nam-lstm_1x3-one-weight-short", "nam/lstm_1x3.nam", _drop_last_weight, ModelFileError,
     r"weights holds 69 numbers, expected 70 for an LSTM with input size 1, hidden size 3 and 1 layer\(s\)$"),
    ("nam-lstm_1x3-version-2", "nam/lstm_1x3.nam", setp("version", value="2.0.0"), ModelFileError,
     r"NAM file version 2\.0\.0 is newer than this engine reads"),
    ("nam-lstm_1x3-negative-rate", "nam/lstm_1x3.nam", setp("sample_rate", value=-48000), SampleRateError,
     r"sample_rate must be a positive number of Hz, got -48000$"),
    ("rtneural-lstm_1d-dense-takes-16", "rtneural/lstm_1d.json", _dense_takes_16, ModelFileError,
     r"layers\[1\]\.weights\[0\] has shape \(16, 1\), expected \(8, 1\) for a dense layer of width 1 after a layer of width 8$"),
]


@pytest.mark.parametrize("name,mutate,cls,pattern", [case[1:] for case in REAL_FILE_CASES],
                         ids=[case[0] for case in REAL_FILE_CASES])
def test_bad_copy_of_real_file(shared_fixtures, tmp_path, name, mutate, cls, pattern):
    original = json.loads((shared_fixtures / name).read_text(encoding="utf-8"))
    engine.load_model(shared_fixtures / name)  # the original is fine
    path = write(tmp_path, mutate(original), name=name.rsplit("/", 1)[1])
    with pytest.raises(cls, match="^" + re.escape(str(path)) + ": " + pattern) as excinfo:
        engine.load_model(path)
    expect(excinfo, cls)


# -- load_model's arguments --------------------------------------------------------------------

@pytest.mark.parametrize(
    "sample_rate,pattern",
    [
        (0, r"sample_rate argument must be a positive number of Hz, got 0$"),
        (-44100, r"sample_rate argument must be a positive number of Hz, got -44100$"),
        (math.nan, r"sample_rate argument must be a positive number of Hz, got nan$"),
        (math.inf, r"sample_rate argument must be a positive number of Hz, got inf$"),
        ("fast", r"sample_rate argument must be a number of Hz, got 'fast'$"),
        (True, r"sample_rate argument must be a number of Hz, got True$"),
        ([44100], r"sample_rate argument must be a number of Hz, got \[44100\]$"),
    ],
    ids=["zero", "negative", "nan", "infinite", "text", "boolean", "list"],
)
def test_load_model_bad_sample_rate(tmp_path, sample_rate, pattern):
    path = write(tmp_path, guitarml_doc())
    with pytest.raises(SampleRateError, match="^" + re.escape(str(path)) + ": " + pattern) as excinfo:
        engine.load_model(path, sample_rate=sample_rate)
    expect(excinfo, SampleRateError)


@pytest.mark.parametrize("path,kind", [(None, "NoneType"), (42, "int")], ids=["none", "int"])
def test_load_model_path_not_a_path(path, kind):
    with pytest.raises(ArgumentError, match=rf"^path must be a model file path \(str or os\.PathLike\), got {kind}$") as excinfo:
        engine.load_model(path)
    expect(excinfo, ArgumentError)


# -- Processor arguments -----------------------------------------------------------------------

@pytest.fixture
def guitarml_model(tmp_path):
    """LSTM(1→3) + skip at 44.1 kHz (the format default)."""
    return engine.load_model(write(tmp_path, guitarml_doc(), name="amp.json"))


@pytest.fixture
def conditioned_model(tmp_path):
    """LSTM(2→3) + skip: one control."""
    return engine.load_model(write(tmp_path, guitarml_doc(input_size=2), name="knob.json"))


@pytest.mark.parametrize(
    "sample_rate,pattern",
    [
        (0, r"sample_rate must be a positive number of Hz, got 0$"),
        (-48000, r"sample_rate must be a positive number of Hz, got -48000$"),
        (math.inf, r"sample_rate must be a positive number of Hz, got inf$"),
        ("48k", r"sample_rate must be a number of Hz, got '48k'$"),
        (None, r"sample_rate must be a number of Hz, got None$"),
    ],
    ids=["zero", "negative", "infinite", "text", "none"],
)
def test_processor_bad_sample_rate(guitarml_model, sample_rate, pattern):
    with pytest.raises(SampleRateError, match="^" + pattern) as excinfo:
        engine.Processor(guitarml_model, sample_rate=sample_rate)
    expect(excinfo, SampleRateError)


def test_nam_model_at_half_its_rate_minus_one_hertz_is_too_low(tmp_path):
    """R = 23999/48000 < 0.5: the message names both rates and the range that works."""
    path = write(tmp_path, nam_doc(), name="amp.nam")
    model = engine.load_model(path)
    with pytest.raises(SampleRateError, match=(
        "^" + re.escape(str(path)) + r": cannot run a model trained at 48000 Hz at sample_rate 23999 Hz "
        r"\(R = 0\.5\); rates from 24000 Hz to 3072000 Hz work \(R from 0\.5 to 64\)$"
    )) as excinfo:
        engine.Processor(model, sample_rate=23999)
    expect(excinfo, SampleRateError)


def test_real_nam_file_at_22050(shared_fixtures):
    path = shared_fixtures / "nam/lstm_1x3.nam"
    with pytest.raises(SampleRateError, match=r"lstm_1x3\.nam: cannot run a model trained at 48000 Hz at sample_rate 22050 Hz"
                                              r".*rates from 24000 Hz to 3072000 Hz work") as excinfo:
        engine.Processor(engine.load_model(path), sample_rate=22050)
    expect(excinfo, SampleRateError)


@pytest.mark.parametrize(
    "model_rate,run_rate,pattern",
    [
        (48000, 48000 * 65, r"trained at 48000 Hz at sample_rate 3120000 Hz \(R = 65\); rates from 24000 Hz to 3072000 Hz"),
        (1, 100, r"trained at 1 Hz at sample_rate 100 Hz \(R = 100\); rates from 0\.5 Hz to 64 Hz work"),
        (1e-10, 1e300, r"trained at 1e-10 Hz at sample_rate 1e\+300 Hz \(R = inf\)"),
    ],
    ids=["R-65", "R-100", "R-overflows"],
)
def test_rate_ratio_too_large(tmp_path, model_rate, run_rate, pattern):
    path = write(tmp_path, guitarml_doc())
    model = engine.load_model(path, sample_rate=model_rate)
    with pytest.raises(SampleRateError, match="^" + re.escape(str(path)) + ": cannot run a model " + pattern) as excinfo:
        engine.Processor(model, sample_rate=run_rate)
    expect(excinfo, SampleRateError)


def test_refused_prepare_leaves_the_processor_as_it_was(tmp_path):
    model = engine.load_model(write(tmp_path, nam_doc(), name="amp.nam"))
    processor = engine.Processor(model, sample_rate=96000, max_block_size=64)
    with pytest.raises(SampleRateError, match="at sample_rate 22050 Hz") as excinfo:
        processor.prepare(22050, max_block_size=128)
    expect(excinfo, SampleRateError)
    assert (processor.sample_rate, processor.ratio, processor.max_block_size) == (96000.0, 2.0, 64)
    x = np.full(100, 0.1, np.float32)
    fresh = engine.Processor(model, sample_rate=96000, max_block_size=64)
    np.testing.assert_array_equal(processor.process(x), fresh.process(x))


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"interpolation": "sinc"}, r"unknown interpolation 'sinc'; choose one of linear, naive, cubic, lagrange5, allpass, resample, auto$"),
        ({"interpolation": None}, r"unknown interpolation None; choose one of linear, naive, cubic, lagrange5, allpass, resample, auto$"),
        ({"max_block_size": 0}, r"max_block_size must be a whole number ≥ 1, got 0$"),
        ({"max_block_size": 64.0}, r"max_block_size must be a whole number ≥ 1, got 64\.0$"),
        ({"channels": 0}, r"channels must be a whole number ≥ 1, got 0$"),
        ({"channels": True}, r"channels must be a whole number ≥ 1, got True$"),
    ],
    ids=["interpolation-sinc", "interpolation-none", "max_block_size-0", "max_block_size-float", "channels-0",
         "channels-bool"],
)
def test_processor_bad_argument(guitarml_model, kwargs, pattern):
    with pytest.raises(ArgumentError, match="^" + pattern) as excinfo:
        engine.Processor(guitarml_model, sample_rate=44100, **kwargs)
    expect(excinfo, ArgumentError)


def test_processor_given_a_path_instead_of_a_model(tmp_path):
    path = write(tmp_path, guitarml_doc())
    with pytest.raises(ArgumentError, match=r"^model must be an engine\.Model \(from engine\.load_model\), got PosixPath$") as excinfo:
        engine.Processor(path, sample_rate=44100)
    expect(excinfo, ArgumentError)


# -- audio and out= ----------------------------------------------------------------------------

AUDIO_CASES = [
    ("float64", 1, lambda: np.zeros(64), r"x must be float32 audio, got dtype float64 \(convert with x\.astype\(np\.float32\)\)$"),
    ("int16", 1, lambda: np.zeros(64, np.int16), r"x must be float32 audio, got dtype int16"),
    ("list", 1, lambda: [0.0] * 64, r"x must be a numpy float32 array, got list$"),
    ("mono-given-2d", 1, lambda: np.zeros((64, 1), np.float32),
     r"x has shape \(64, 1\), expected \(n,\) for a 1-channel processor$"),
    ("mono-given-3d", 1, lambda: np.zeros((4, 16, 1), np.float32),
     r"x has shape \(4, 16, 1\), expected \(n,\) for a 1-channel processor$"),
    ("stereo-given-3-channels", 2, lambda: np.zeros((64, 3), np.float32),
     r"x has shape \(64, 3\), expected \(n, 2\) for a 2-channel processor$"),
    ("stereo-given-1d", 2, lambda: np.zeros(64, np.float32), r"x has shape \(64,\), expected \(n, 2\) for a 2-channel processor$"),
    ("stereo-given-3d", 2, lambda: np.zeros((64, 2, 1), np.float32), r"x has shape \(64, 2, 1\), expected \(n, 2\)"),
]


@pytest.mark.parametrize("channels,make,pattern", [case[1:] for case in AUDIO_CASES], ids=[case[0] for case in AUDIO_CASES])
def test_bad_audio(guitarml_model, channels, make, pattern):
    processor = engine.Processor(guitarml_model, sample_rate=44100, channels=channels)
    with pytest.raises(AudioInputError, match="^" + pattern) as excinfo:
        processor.process(make())
    expect(excinfo, AudioInputError)


def _read_only(shape):
    out = np.zeros(shape, np.float32)
    out.flags.writeable = False
    return out


OUT_CASES = [
    ("float64", lambda: np.zeros(64), r"out must be a float32 array of shape \(64,\), got dtype float64, shape \(64,\)$"),
    ("too-short", lambda: np.zeros(32, np.float32), r"out must be a float32 array of shape \(64,\), got dtype float32, shape \(32,\)$"),
    ("2d", lambda: np.zeros((64, 1), np.float32), r"out must be a float32 array of shape \(64,\), got dtype float32, shape \(64, 1\)$"),
    ("list", lambda: [0.0] * 64, r"out must be a float32 array of shape \(64,\), got list$"),
    ("strided", lambda: np.zeros(128, np.float32)[::2], r"out must be C-contiguous$"),
    ("read-only", lambda: _read_only(64), r"out is read-only, expected a writeable array$"),
]


@pytest.mark.parametrize("make,pattern", [case[1:] for case in OUT_CASES], ids=[case[0] for case in OUT_CASES])
def test_bad_out(guitarml_model, make, pattern):
    processor = engine.Processor(guitarml_model, sample_rate=44100)
    with pytest.raises(AudioInputError, match="^" + pattern) as excinfo:
        processor.process(np.zeros(64, np.float32), out=make())
    expect(excinfo, AudioInputError)


# -- controls ----------------------------------------------------------------------------------

CONTROL_CASES = [
    ("none-given", "knob", [], r"knob takes 1 control value\(s\), got 0$"),
    ("two-given", "knob", [0.2, 0.8], r"knob takes 1 control value\(s\), got 2$"),
    ("one-given-to-unconditioned", "amp", [0.5], r"amp takes 0 control value\(s\), got 1$"),
    ("nan", "knob", [math.nan], r"control values must be finite, got \[nan\]$"),
    ("infinite", "knob", [math.inf], r"control values must be finite, got \[inf\]$"),
    ("beyond-float32", "knob", [1e39], r"control values must fit in float32 \(±3\.403e\+38\), got \[1e\+39\]$"),
    ("text", "knob", ["loud"], r"controls must be numbers, got \['loud'\]$"),
]


@pytest.mark.parametrize("which,values,pattern", [case[1:] for case in CONTROL_CASES], ids=[case[0] for case in CONTROL_CASES])
def test_bad_controls(guitarml_model, conditioned_model, which, values, pattern):
    model = conditioned_model if which == "knob" else guitarml_model
    processor = engine.Processor(model, sample_rate=44100)
    before = processor.controls
    with pytest.raises(ControlError, match="^" + pattern) as excinfo:
        processor.set_controls(values)
    expect(excinfo, ControlError)
    np.testing.assert_array_equal(processor.controls, before)
