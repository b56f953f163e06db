"""Hostile model files (issue 9): each is refused with a one-line ModelFileError that names the file
and the place in it — never run as a different network, never a traceback, a hang or unbounded memory.

Cases start from the minimal documents of test_failures.py (GuitarML, NAM, Keras/RTNeural, AIDA-X,
PyTorch state_dict), change one thing and check the exception's exact class and message. Every
load runs under a time limit, so a loader that loops (NAM's num_layers of 10^9 did) fails the
test instead of hanging the suite; special files (FIFO, /dev/zero) are loaded in a child process
with a memory limit, since the old loader blocked on the one and read the other without end.
"""

import contextlib
import copy
import gc
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import engine
from engine import ModelFileError, SampleRateError, UnsupportedModelError
from engine.formats import common
from engine.formats.common import make_recurrent_layer
from engine.model import (LIMITS, MAX_DENSE_WIDTH, MAX_HIDDEN_SIZE, MAX_INPUT_SIZE, MAX_JSON_CONTAINERS, MAX_LAYERS,
                          MAX_MODEL_FILE_BYTES, MAX_RECURRENT_LAYERS, DenseLayer, Model, validate_model)
from engine.rates import check_sample_rate

from conftest import REPO
from test_failures import BUILDERS, H, _set_value, _values, delp, expect, setp, write

pytestmark = pytest.mark.filterwarnings("error")

#: Seconds any single load may take; the largest document here loads in well under one.
TIME_LIMIT = 10


class Hang(Exception):
    """A load that ran past TIME_LIMIT (not an EngineError, so the test fails)."""


@contextlib.contextmanager
def time_limit(seconds=TIME_LIMIT):
    """Raise Hang in the main thread if the body runs longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load(path, **kwargs):
    with time_limit():
        return engine.load_model(path, **kwargs)


def text_of(builder, old, new):
    """The builder's document as JSON text with the first ``old`` replaced by ``new`` (for text JSON cannot dump)."""
    text = json.dumps(BUILDERS[builder]())
    assert old in text
    return lambda doc: text.replace(old, new, 1)


def text_at(*keys, text):
    """A mutation that puts raw JSON ``text`` at doc[keys...] (nesting too deep for json.dumps to write)."""
    def mutate(doc):
        return json.dumps(setp(*keys, value="@PLACEHOLDER@")(doc)).replace('"@PLACEHOLDER@"', text)
    return mutate


def rename(old, new, *keys):
    """A mutation that renames doc[keys...][old] to ``new``."""
    def mutate(doc):
        target = doc
        for key in keys:
            target = target[key]
        target[new] = target.pop(old)
        return doc
    return mutate


def insert_layer(index, layer):
    def mutate(doc):
        doc["layers"].insert(index, layer)
        return doc
    return mutate


def _activation_layer(weights):
    return {"type": "activation", "activation": "tanh", "shape": [None, None, H], "weights": weights}


def _state_dict_second_layer_without_biases(doc):
    doc["lstm.weight_ih_l1"] = _values(4 * H, H, seed=2)
    doc["lstm.weight_hh_l1"] = _values(4 * H, H, seed=3)
    return doc


def _state_dict_layers(count):
    def mutate(doc):
        for index in range(1, count):
            for name, shape in (("weight_ih", (4 * H, H)), ("weight_hh", (4 * H, H)), ("bias_ih", (4 * H,)),
                                ("bias_hh", (4 * H,))):
                doc[f"lstm.{name}_l{index}"] = _values(*shape, seed=index)
        return doc
    return mutate


def _state_dict_hidden(hidden):
    def mutate(doc):
        doc["lstm.weight_hh_l0"] = [[0] * hidden for _ in range(4 * hidden)]
        return doc
    return mutate


def _state_dict_modules(count):
    def mutate(doc):
        for index in range(count):
            doc[f"dense{index}.weight"] = [[0.5]]
        return doc
    return mutate


def _keras_activations(count):
    def mutate(doc):
        doc["layers"][1:1] = [_activation_layer([]) for _ in range(count)]
        return doc
    return mutate


def _deep(depth, leaf="1"):
    return "[" * depth + leaf + "]" * depth


BIG = 10 ** 400  # a JSON integer beyond float64 (Python's json reads it as an exact int)
BIG_QUOTED = r"<an integer of 401 digits>"  # engine.errors.quote: a huge integer is described, not written
NEG_BIG_QUOTED = r"<a negative integer of 401 digits>"
LIMIT = r", over this engine's limit of "
FOR_LSTM = " for an LSTM of hidden size 3"

# (id, starting document, mutation, exception, message after "<path>: ")
CASES = [
    # 1. one bias of a recurrent layer missing or null: only both absent is PyTorch's bias=False
    ("state-dict-bias_ih-missing", "state-dict", delp("lstm.bias_ih_l0"), ModelFileError,
     r'state_dict has "lstm\.bias_hh_l0" but no key "lstm\.bias_ih_l0"; a PyTorch LSTM/GRU layer has both biases, '
     r"or neither \(bias=False\)$"),
    ("state-dict-bias_hh-missing", "state-dict", delp("lstm.bias_hh_l0"), ModelFileError,
     r'state_dict has "lstm\.bias_ih_l0" but no key "lstm\.bias_hh_l0"; a PyTorch LSTM/GRU layer has both biases'),
    ("state-dict-bias_hh-null", "state-dict", setp("lstm.bias_hh_l0", value=None), ModelFileError,
     r'state_dict\["lstm\.bias_hh_l0"\] is null, expected an array of shape \(12,\)' + FOR_LSTM + "$"),
    ("guitarml-rec.bias_ih-null", "guitarml", setp("state_dict", "rec.bias_ih_l0", value=None), ModelFileError,
     r'state_dict\["rec\.bias_ih_l0"\] is null, expected an array of shape \(12,\)' + FOR_LSTM + "$"),
    ("guitarml-gru-rec.bias_hh-missing", "guitarml-gru", delp("state_dict", "rec.bias_hh_l0"), ModelFileError,
     r'state_dict has "rec\.bias_ih_l0" but no key "rec\.bias_hh_l0"'),
    ("state-dict-biases-in-one-layer-of-two", "state-dict", _state_dict_second_layer_without_biases, ModelFileError,
     r'state_dict has biases for layer 0 of lstm\. but no key "lstm\.bias_ih_l1"; PyTorch\'s bias=False drops the '
     r"biases of every layer$"),
    ("guitarml-lin.bias-missing", "guitarml", delp("state_dict", "lin.bias"), ModelFileError,
     r'state_dict has no key "lin\.bias" although model_data\.bias_fl is true$'),
    ("guitarml-lin.bias-and-bias_fl-missing", "guitarml",
     lambda doc: delp("model_data", "bias_fl")(delp("state_dict", "lin.bias")(doc)), ModelFileError,
     r'state_dict has no key "lin\.bias" although model_data\.bias_fl is absent \(true by default\)$'),
    ("guitarml-lin.bias-with-bias_fl-false", "guitarml", setp("model_data", "bias_fl", value=False), ModelFileError,
     r'state_dict has "lin\.bias" although model_data\.bias_fl is false$'),
    ("guitarml-bias_fl-not-boolean", "guitarml", setp("model_data", "bias_fl", value="yes"), ModelFileError,
     r"model_data\.bias_fl must be true or false, got 'yes'$"),
    # 2. true/false among numbers (numpy reads [1.0, True] as [1.0, 1.0])
    ("guitarml-true-among-weights", "guitarml", _set_value(["state_dict", "rec.weight_hh_l0"], [2, 1], True),
     ModelFileError, r'state_dict\["rec\.weight_hh_l0"\] holds true at index \(2, 1\), expected an array of numbers'
                     + FOR_LSTM + "$"),
    ("nam-false-among-weights", "nam", _set_value(["weights"], [10], False), ModelFileError,
     r"weights holds false at index \(10,\), expected an array of numbers$"),
    ("keras-true-in-kernel", "keras", _set_value(["layers", 0, "weights", 0], [0, 5], True), ModelFileError,
     r"layers\[0\]\.weights\[0\] holds true at index \(0, 5\), expected an array of numbers for an LSTM of width 3 "
     r"after a layer of width 1$"),
    ("keras-gru-false-in-bias", "keras-gru", _set_value(["layers", 0, "weights", 2], [1, 4], False), ModelFileError,
     r"layers\[0\]\.weights\[2\] holds false at index \(1, 4\), expected an array of numbers$"),
    ("aidax-true-in-dense-bias", "aidax", _set_value(["layers", 1, "weights", 1], [0], True), ModelFileError,
     r"layers\[1\]\.weights\[1\] holds true at index \(0,\), expected an array of numbers$"),
    ("state-dict-true-in-linear", "state-dict", _set_value(["dense.weight"], [0, 2], True), ModelFileError,
     r'state_dict\["dense\.weight"\] holds true at index \(0, 2\), expected an array of numbers$'),
    # 3. what Python's json and numpy raise on (RecursionError, ValueError, OverflowError, TypeError, KeyError)
    ("json-nested-100000-deep", "nam", lambda doc: _deep(100000), ModelFileError,
     r"the JSON nests arrays or objects too deeply for Python's JSON reader \(a model file nests them a few levels deep\)$"),
    ("weights-nested-50000-deep", "nam", text_at("weights", text=_deep(50000)),
     ModelFileError, r"the JSON nests arrays or objects too deeply"),
    ("kernel-nested-400-deep", "keras", text_at("layers", 0, "weights", 0, text=_deep(400)),
     ModelFileError, r"layers\[0\]\.weights\[0\] has shape \(1, 1, 1, 1, \.\.\. 400 dimensions\), expected \(1, 12\)"),
    ("unit_type-nested-400-deep", "guitarml", text_at("model_data", "unit_type", text=_deep(400)),
     UnsupportedModelError, r"model_data\.unit_type \[\[\[\[\.\.\.\]\]\]\] is not supported; this engine runs LSTM and GRU units$"),
    ("integer-literal-5000-digits", "nam", text_of("nam", '"hidden_size": 3', '"hidden_size": ' + "9" * 5000),
     ModelFileError, r"the JSON holds an integer literal of over 4300 digits; no model parameter is that large$"),
    ("guitarml-weight-int-beyond-float", "guitarml", _set_value(["state_dict", "rec.weight_hh_l0"], [2, 1], BIG),
     ModelFileError, r'state_dict\["rec\.weight_hh_l0"\] holds ' + BIG_QUOTED + r" at index \(2, 1\), beyond float32's range"),
    ("nam-weight-int-beyond-float", "nam", _set_value(["weights"], [7], -BIG), ModelFileError,
     r"weights holds " + NEG_BIG_QUOTED + r" at index \(7,\), beyond float32's range \(±3\.403e\+38\)$"),
    ("state-dict-weights-all-ints-beyond-float", "state-dict", setp("dense.weight", value=[[BIG] * H]), ModelFileError,
     r'state_dict\["dense\.weight"\] holds ' + BIG_QUOTED + r" at index \(0, 0\), beyond float32's range"),
    ("keras-gru-bias-int-beyond-float", "keras-gru", _set_value(["layers", 0, "weights", 2], [0, 0], BIG),
     ModelFileError, r"layers\[0\]\.weights\[2\] holds " + BIG_QUOTED + r" at index \(0, 0\), beyond float32's range"),
    ("aidax-in_gain-int-beyond-float", "aidax", setp("in_gain", value=BIG), ModelFileError,
     r"in_gain must be a finite number of dB, got " + BIG_QUOTED + "$"),
    ("aidax-out_gain-int-beyond-float", "aidax", setp("out_gain", value=-BIG), ModelFileError,
     r"out_gain must be a finite number of dB, got " + NEG_BIG_QUOTED + "$"),
    ("aidax-samplerate-int-beyond-float", "aidax", setp("samplerate", value=BIG), SampleRateError,
     r"samplerate must be a finite positive number of Hz, got " + BIG_QUOTED + "$"),
    ("aidax-metadata-samplerate-int-beyond-float", "keras", setp("metadata", value={"samplerate": BIG}),
     SampleRateError, r"samplerate must be a finite positive number of Hz, got " + BIG_QUOTED),
    ("nam-sample_rate-int-beyond-float", "nam", setp("sample_rate", value=BIG), SampleRateError,
     r"sample_rate must be a finite positive number of Hz, got " + BIG_QUOTED),
    ("keras-activation-layer-weights-junk", "keras", insert_layer(1, _activation_layer("junk")), ModelFileError,
     r"layers\[1\]\.weights is a string, expected \[\] \(an activation layer has no weights\)$"),
    ("keras-activation-layer-weights-number", "keras", insert_layer(1, _activation_layer(5)), ModelFileError,
     r"layers\[1\]\.weights is a number, expected \[\] \(an activation layer has no weights\)$"),
    ("keras-activation-layer-weights-null", "keras", insert_layer(1, _activation_layer(None)), ModelFileError,
     r"layers\[1\]\.weights is null, expected \[\]"),
    ("keras-activation-layer-with-weights", "keras", insert_layer(1, _activation_layer([[0.25] * H])), ModelFileError,
     r"layers\[1\]\.weights is an array of length 1, expected \[\] \(an activation layer has no weights\)$"),
    ("keras-activation-not-a-name", "keras", setp("layers", 1, "activation", value=["tanh"]), ModelFileError,
     r'layers\[1\]\.activation must be a name such as "tanh", got \[\'tanh\'\]$'),
    ("keras-type-not-a-name", "keras", setp("layers", 0, "type", value={"lstm": 1}), ModelFileError,
     r'layers\[0\]\.type must be a layer type such as "lstm", got \{\'lstm\': 1\}$'),
    ("keras-gru-without-bias", "keras-gru", lambda doc: setp("layers", 0, "weights", value=doc["layers"][0]["weights"][:2])(doc),
     UnsupportedModelError, r"layers\[0\]: a GRU without a bias \(use_bias=False\), whose reset_after variant the file "
                            r"does not tell is not supported"),
    ("state-dict-key-l00", "state-dict", rename("lstm.weight_ih_l0", "lstm.weight_ih_l00"), ModelFileError,
     r'state_dict\["lstm\.weight_ih_l00"\] is not a PyTorch parameter name \(PyTorch numbers layers _l0, _l1, … in '
     r"ASCII digits without leading zeros\)$"),
    ("guitarml-key-l00", "guitarml", rename("rec.weight_hh_l0", "rec.weight_hh_l00", "state_dict"), ModelFileError,
     r'state_dict\["rec\.weight_hh_l00"\] is not a PyTorch parameter name'),
    ("state-dict-key-non-ascii-digit", "state-dict", rename("lstm.bias_hh_l0", "lstm.bias_hh_l\u0660"), ModelFileError,
     "state_dict\\[\"lstm\\.bias_hh_l\u0660\"\\] is not a PyTorch parameter name"),
    # 4. sizes beyond the engine's limits, refused before anything of that size is read or computed
    ("nam-num_layers-1e9", "nam", setp("config", "num_layers", value=10 ** 9), UnsupportedModelError,
     r"config\.num_layers is 1000000000" + LIMIT + r"8 LSTM/GRU layers \(engine\.model\.MAX_RECURRENT_LAYERS\)$"),
    ("nam-num_layers-9", "nam", setp("config", "num_layers", value=9), UnsupportedModelError,
     r"config\.num_layers is 9" + LIMIT + "8 LSTM/GRU layers"),
    ("nam-hidden_size-513", "nam", setp("config", "hidden_size", value=513), UnsupportedModelError,
     r"config\.hidden_size is 513" + LIMIT + r"512 hidden units per LSTM/GRU layer \(engine\.model\.MAX_HIDDEN_SIZE\)$"),
    ("nam-hidden_size-1e308", "nam", setp("config", "hidden_size", value=1e308), UnsupportedModelError,
     r"config\.hidden_size is 1e\+308" + LIMIT + "512 hidden units"),
    ("nam-input_size-65", "nam", setp("config", "input_size", value=65), UnsupportedModelError,
     r"config\.input_size is 65" + LIMIT + r"64 input channels \(1 audio \+ up to 63 controls\) "
     r"\(engine\.model\.MAX_INPUT_SIZE\)$"),
    ("guitarml-hidden_size-513", "guitarml", setp("model_data", "hidden_size", value=513), UnsupportedModelError,
     r"model_data\.hidden_size is 513" + LIMIT + "512 hidden units per LSTM/GRU layer"),
    ("guitarml-num_layers-1e9", "guitarml", setp("model_data", "num_layers", value=10 ** 9), UnsupportedModelError,
     r"model_data\.num_layers is 1000000000" + LIMIT + "8 LSTM/GRU layers"),
    ("guitarml-input_size-65", "guitarml", setp("model_data", "input_size", value=65), UnsupportedModelError,
     r"model_data\.input_size is 65" + LIMIT + "64 input channels"),
    ("guitarml-output_size-4097", "guitarml", setp("model_data", "output_size", value=4097), UnsupportedModelError,
     r"model_data\.output_size is 4097" + LIMIT + r"4096 units per dense or activation layer \(engine\.model\.MAX_DENSE_WIDTH\)$"),
    ("keras-lstm-width-513", "keras", setp("layers", 0, "shape", value=[None, None, 513]), UnsupportedModelError,
     r"layers\[0\]\.shape\[-1\] \(the layer width\) is 513" + LIMIT + "512 hidden units"),
    ("keras-dense-width-1e9", "keras", setp("layers", 1, "shape", value=[None, None, 10 ** 9]), UnsupportedModelError,
     r"layers\[1\]\.shape\[-1\] \(the layer width\) is 1000000000" + LIMIT + "4096 units per dense or activation layer"),
    ("keras-in_shape-65", "keras", setp("in_shape", value=[None, None, 65]), UnsupportedModelError,
     r"in_shape\[-1\] \(the input width\) is 65" + LIMIT + "64 input channels"),
    ("keras-33-layers", "keras", _keras_activations(MAX_LAYERS - 1), UnsupportedModelError,
     r"the number of layers is 33" + LIMIT + r"32 layers \(engine\.model\.MAX_LAYERS\)$"),
    ("state-dict-9-recurrent-layers", "state-dict", _state_dict_layers(9), UnsupportedModelError,
     r"the number of layers of lstm\. is 9" + LIMIT + "8 LSTM/GRU layers"),
    ("state-dict-hidden-513", "state-dict", _state_dict_hidden(513), UnsupportedModelError,
     r'the hidden size of state_dict\["lstm\.weight_hh_l0"\] is 513' + LIMIT + "512 hidden units"),
    ("state-dict-linear-4097-wide", "state-dict", setp("dense.weight", value=[[0.0] * 4097]), UnsupportedModelError,
     r'the width of state_dict\["dense\.weight"\] is 4097' + LIMIT + "4096 units per dense or activation layer"),
    ("state-dict-33-modules", "state-dict", _state_dict_modules(31), UnsupportedModelError,
     r"the number of modules in state_dict is 33" + LIMIT + "32 layers"),
]


@pytest.mark.parametrize("builder,mutate,cls,pattern", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_model_file(tmp_path, builder, mutate, cls, pattern):
    path = write(tmp_path, mutate(copy.deepcopy(BUILDERS[builder]())))
    with pytest.raises(cls, match="^" + re.escape(str(path)) + ": " + pattern) as excinfo:
        load(path)
    expect(excinfo, cls)


def test_case_ids_are_distinct():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


# -- what is not an error ------------------------------------------------------------------------

def _run(model):
    y = engine.Processor(model, sample_rate=48000).process(np.full(256, 0.1, np.float32))
    assert np.all(np.isfinite(y))
    return y


def test_recurrent_biases_both_absent_are_pytorchs_bias_false(tmp_path):
    doc = BUILDERS["state-dict"]()
    del doc["lstm.bias_ih_l0"], doc["lstm.bias_hh_l0"]
    layer = load(write(tmp_path, doc)).layers[0]
    assert not layer.bias_ih.any() and not layer.bias_hh.any()


def test_guitarml_head_without_bias_when_bias_fl_is_false(tmp_path):
    doc = BUILDERS["guitarml"]()
    doc["model_data"]["bias_fl"] = False
    del doc["state_dict"]["lin.bias"]
    model = load(write(tmp_path, doc))
    assert not model.layers[-1].bias.any()
    _run(model)


def test_guitarml_skip_absent_is_coreaudiomls_default_of_1(tmp_path):
    """CoreAudioML's SimpleRNN(skip=1): a file without model_data.skip adds the dry audio."""
    stored = BUILDERS["guitarml"]()
    assert stored["model_data"]["skip"] == 1
    absent = copy.deepcopy(stored)
    del absent["model_data"]["skip"]
    with_skip = load(write(tmp_path, stored, "stored.json"))
    without = load(write(tmp_path, absent, "absent.json"))
    assert without.skip is True
    np.testing.assert_array_equal(_run(without), _run(with_skip))


def test_every_project_guitarml_file_stores_skip():
    """The default changed from 0 to 1: no file of the project's may have relied on the old one."""
    files = [path for folder in ("models", "models/lstm40", "tests/fixtures/torch")
             for path in sorted((REPO / folder).glob("*.json"))]
    guitarml = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    guitarml = [doc for doc in guitarml if isinstance(doc, dict) and "model_data" in doc]
    assert len(guitarml) >= 20
    assert all("skip" in doc["model_data"] for doc in guitarml)


def test_nam_metadata_that_is_not_text_is_dropped(tmp_path):
    """A numeric name became Model.name (engine-eval --plots joins it into a path): keep text only."""
    doc = BUILDERS["nam"]()
    doc["metadata"] = {"name": 42, "gear_make": ["x"], "modeled_by": "me"}
    model = load(write(tmp_path, doc, "amp.nam"))
    assert model.name == "amp" and model.metadata["modeled_by"] == "me" and "gear_make" not in model.metadata


# -- errors about the file itself ----------------------------------------------------------------

def test_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(MAX_MODEL_FILE_BYTES + 1)  # sparse: nothing is written to disk
    with pytest.raises(ModelFileError, match="^" + re.escape(str(path)) + r": the file is 67108865 bytes, over this "
                       r"engine's limit of 67108864 bytes for a model file \(engine\.model\.MAX_MODEL_FILE_BYTES\)$") as excinfo:
        load(path)
    expect(excinfo, ModelFileError)


def test_file_that_grows_after_the_size_check_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    small, big = write(tmp_path, BUILDERS["nam"](), "small.json"), tmp_path / "big.json"
    big.write_text(" " * 5000 + json.dumps(BUILDERS["nam"]()))
    monkeypatch.setattr(common, "MAX_MODEL_FILE_BYTES", 2000)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *args, **kwargs: real_stat(small if path == str(big) else path,
                                                                           *args, **kwargs))
    assert os.stat(str(big)).st_size < 2000
    with pytest.raises(ModelFileError, match=r": the file is over 2001 bytes, over this engine's limit of 2000 bytes"):
        load(big)


def test_file_of_a_million_empty_arrays_is_refused_before_parsing(tmp_path):
    """64 MiB of "[],[],…" parsed into 22 million lists: 1.7 GB and 40 s. The count is cheap."""
    path = write(tmp_path, "[" + "[]," * MAX_JSON_CONTAINERS + "[]]")
    with pytest.raises(ModelFileError, match="^" + re.escape(str(path)) + r": the file holds 1000002 JSON arrays and "
                       r"objects, over this engine's limit of 1000000 \(engine\.model\.MAX_JSON_CONTAINERS\); a model "
                       r"holds one per matrix row$") as excinfo:
        load(path)
    expect(excinfo, ModelFileError)
    assert gc.isenabled()  # the parse switches the collector off, and back on


def test_dev_null_is_not_a_model_file():
    with pytest.raises(ModelFileError, match=r"^/dev/null: is a character device, not a regular file; expected a model file$"):
        load("/dev/null")


# The special files are loaded in a child process, with a memory and a time limit: the old loader
# blocked for ever on a FIFO and read /dev/zero until memory ran out.
CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
    import engine
    try:
        engine.load_model(sys.argv[1])
    except engine.ModelFileError as exc:
        print(type(exc).__name__, exc)
""")


def _load_in_child(path):
    try:
        child = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=30,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path} did not return within 30 s")
    return child.stdout.strip() + child.stderr.strip()[-500:]


def test_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "amp.json"
    os.mkfifo(path)
    assert _load_in_child(path) == f"ModelFileError {path}: is a FIFO (named pipe), not a regular file; expected a model file"


def test_dev_zero_is_refused_without_reading():
    assert _load_in_child("/dev/zero") == \
        "ModelFileError /dev/zero: is a character device, not a regular file; expected a model file"


def test_error_messages_stay_short_for_huge_keys(tmp_path):
    key = "x" * 1_000_000
    for doc in ({key + ".foo": [1.0]}, {key: 1}, {"model_data": {"model": key}, "state_dict": {}}):
        path = write(tmp_path, doc)
        with pytest.raises(ModelFileError) as excinfo:
            load(path)
        err = expect(excinfo, type(excinfo.value))
        assert str(err).startswith(f"{path}: ") and len(str(err)) <= 600, len(str(err))


# -- the limits, for models built in code too ----------------------------------------------------

def _model(layers, input_size=1):
    return Model(layers=tuple(layers), input_size=input_size, sample_rate=48000.0, sample_rate_source="user",
                 format="test", path="<built>")


def _lstm(input_size, hidden):
    zeros = np.zeros
    return make_recurrent_layer("lstm", input_size, hidden, zeros((4 * hidden, input_size), np.float32),
                                zeros((4 * hidden, hidden), np.float32), zeros(4 * hidden, np.float32),
                                zeros(4 * hidden, np.float32))


def _dense(inputs, outputs):
    return DenseLayer(weight=np.zeros((outputs, inputs), np.float32), bias=np.zeros(outputs, np.float32))


@pytest.mark.parametrize("layers,input_size,name", [
    ([_lstm(1, MAX_HIDDEN_SIZE + 1), _dense(MAX_HIDDEN_SIZE + 1, 1)], 1, "MAX_HIDDEN_SIZE"),
    ([_lstm(1, 2)] + [_lstm(2, 2) for _ in range(MAX_RECURRENT_LAYERS)] + [_dense(2, 1)], 1, "MAX_RECURRENT_LAYERS"),
    ([_lstm(1, 2)] + [_dense(2, 2) for _ in range(MAX_LAYERS - 1)] + [_dense(2, 1)], 1, "MAX_LAYERS"),
    ([_lstm(MAX_INPUT_SIZE + 1, 2), _dense(2, 1)], MAX_INPUT_SIZE + 1, "MAX_INPUT_SIZE"),
    ([_lstm(1, 2), _dense(2, MAX_DENSE_WIDTH + 1), _dense(MAX_DENSE_WIDTH + 1, 1)], 1, "MAX_DENSE_WIDTH"),
], ids=["hidden", "recurrent-layers", "layers", "inputs", "dense-width"])
def test_validate_model_enforces_each_limit(layers, input_size, name):
    with pytest.raises(UnsupportedModelError, match=rf"^<built>: .* over this engine's limit of {LIMITS[name][0]} "
                                                    rf".*\(engine\.model\.{name}\)$"):
        validate_model(_model(layers, input_size))


def test_the_largest_accepted_sizes_pass():
    layers = ([_lstm(MAX_INPUT_SIZE, MAX_HIDDEN_SIZE), _lstm(MAX_HIDDEN_SIZE, 8)] + [_lstm(8, 8)] * (MAX_RECURRENT_LAYERS - 2)
              + [_dense(8, 8)] * (MAX_LAYERS - MAX_RECURRENT_LAYERS - 2) + [_dense(8, MAX_DENSE_WIDTH), _dense(MAX_DENSE_WIDTH, 1)])
    assert len(layers) == MAX_LAYERS
    validate_model(_model(layers, MAX_INPUT_SIZE))


# -- rates.check_sample_rate, which the CLI and the configs use too --------------------------------

@pytest.mark.parametrize("value,pattern", [
    (BIG, r"^--rate must be a finite positive number of Hz, got " + BIG_QUOTED + "$"),
    (-BIG, r"^--rate must be a finite positive number of Hz, got " + NEG_BIG_QUOTED),
    ("9" * 400, r"^--rate must be a positive number of Hz, got '9+\.\.\.9+'$"),
    ("x" * 10 ** 6, r"^--rate must be a number of Hz, got 'x+\.\.\.x+'$"),
], ids=["int-beyond-float", "negative-int-beyond-float", "digits-beyond-float", "megabyte-string"])
def test_check_sample_rate_refuses_huge_values_in_one_short_line(value, pattern):
    with pytest.raises(SampleRateError, match=pattern) as excinfo:
        check_sample_rate(value, "--rate")
    assert len(str(excinfo.value)) < 120


def test_load_model_refuses_a_user_rate_beyond_float(tmp_path):
    with pytest.raises(SampleRateError, match=r"sample_rate argument must be a finite positive number of Hz"):
        load(write(tmp_path, BUILDERS["nam"]()), sample_rate=BIG)
