"""Misuse of the Processor API: two threads on one processor, controls that are not real numbers,
absurd channel counts and block sizes. Each is a clear EngineError, never a crash, garbage or a
gigabyte allocation."""

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import engine
from conftest import REPO
from engine.errors import ArgumentError, ConcurrencyError, ControlError, EngineError
from engine.processor import MAX_BLOCK_SIZE, MAX_CHANNELS, MAX_THREADS

LSTM40 = REPO / "models" / "lstm40" / "crunch_amp.json"


def guitarml_file(tmp_path, input_size=1, hidden=3):
    """A GuitarML SimpleRNN file, LSTM(input_size → hidden) + Linear + skip: input_size − 1 knobs."""
    rng = np.random.default_rng(0)

    def values(*shape):
        return rng.uniform(-0.5, 0.5, shape).tolist()

    document = {
        "model_data": {"model": "SimpleRNN", "input_size": input_size, "skip": 1, "output_size": 1,
                       "unit_type": "LSTM", "num_layers": 1, "hidden_size": hidden, "bias_fl": True},
        "state_dict": {"rec.weight_ih_l0": values(4 * hidden, input_size), "rec.weight_hh_l0": values(4 * hidden, hidden),
                       "rec.bias_ih_l0": values(4 * hidden), "rec.bias_hh_l0": values(4 * hidden),
                       "lin.weight": values(1, hidden), "lin.bias": values(1)},
    }
    path = tmp_path / f"amp{input_size}.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def knob_model(tmp_path):
    return engine.load_model(guitarml_file(tmp_path, input_size=2))


# -- two threads, one processor ------------------------------------------------------------------

# Run in a fresh interpreter: on the old code process() racing prepare() corrupted the heap
# (SIGABRT or SIGSEGV), which must fail this test, not kill pytest.
HAMMER = """
import json, sys, threading
import numpy as np
import engine, engine.errors
Concurrency = getattr(engine.errors, "ConcurrencyError", ())  # () catches nothing on code without it
model = engine.load_model(sys.argv[1])
processor = engine.Processor(model, sample_rate=model.sample_rate, max_block_size=256)
x = (0.3 * np.sin(np.arange(256) * 0.01)).astype(np.float32)
refused = {"first": 0, "second": 0}
other = []
done = threading.Event()

def first():
    y = np.empty_like(x)
    try:
        for _ in range(1500):
            try:
                processor.process(x, y)
            except Concurrency:
                refused["first"] += 1
    except BaseException as exc:
        other.append(repr(exc))
    done.set()

def second():
    y = np.empty_like(x)
    rates = [48000.0, 96000.0, model.sample_rate]
    i = 0
    try:
        while not done.is_set():
            try:
                if sys.argv[2] == "prepare":
                    processor.prepare(rates[i % 3])  # reallocates the state the kernel runs on
                    i += 1
                else:
                    processor.process(x, y)
            except Concurrency:
                refused["second"] += 1
    except BaseException as exc:
        other.append(repr(exc))

threads = [threading.Thread(target=first), threading.Thread(target=second)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
# Afterwards the processor is whole: reset, it matches a fresh one.
processor.prepare(model.sample_rate)
fresh = engine.Processor(model, sample_rate=model.sample_rate, max_block_size=256)
same = bool(np.array_equal(processor.process(x), fresh.process(x)))
print(json.dumps({"refused": refused, "other": other, "same": same}))
"""


@pytest.mark.parametrize("rival", ["prepare", "process"])
def test_two_threads_on_one_processor_get_a_clear_error_never_a_crash(rival):
    result = subprocess.run([sys.executable, "-c", HAMMER, str(LSTM40), rival], capture_output=True, text=True,
                            cwd=REPO, timeout=600)
    assert result.returncode == 0, f"the interpreter died (return code {result.returncode}): {result.stderr[-2000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["other"] == [], report  # no exception but ConcurrencyError (and no crash)
    assert report["refused"]["first"] + report["refused"]["second"] > 0, report
    assert report["same"], report


def test_every_method_that_touches_the_kernel_arrays_refuses_a_second_thread(knob_model):
    """Deterministic: one thread is held inside process(); every guarded method called meanwhile
    raises ConcurrencyError (a one-line EngineError and RuntimeError), and nothing is changed."""
    processor = engine.Processor(knob_model, sample_rate=44100, max_block_size=64)
    x, y = np.zeros(64, np.float32), np.zeros(64, np.float32)
    inside, release = threading.Event(), threading.Event()
    kernel = processor._kernel

    def held_kernel(*arguments):  # stands in for the kernel call of the fast path
        inside.set()
        release.wait(30)
        kernel(*arguments)

    processor._kernel = held_kernel
    worker = threading.Thread(target=processor.process, args=(x, y))
    worker.start()
    try:
        assert inside.wait(30)
        attempts = {
            "process": lambda: processor.process(x, np.zeros(64, np.float32)),
            "prepare": lambda: processor.prepare(48000),
            "reset": processor.reset,
            "set_controls": lambda: processor.set_controls([0.9]),
            "close": processor.close,
        }
        for name, attempt in attempts.items():
            with pytest.raises(ConcurrencyError, match=rf"^Processor\.{name}\(\) was called while another thread") as info:
                attempt()
            assert isinstance(info.value, EngineError) and isinstance(info.value, RuntimeError)
            assert "\n" not in str(info.value)
    finally:
        release.set()
        worker.join(30)
    assert processor.sample_rate == 44100 and list(processor.controls) == [0.0]
    processor._kernel = kernel
    processor.set_controls([0.9])  # the token came back: everything works again
    processor.prepare(48000)
    assert processor.process(x).shape == (64,)


# -- controls are real numbers -------------------------------------------------------------------

@pytest.mark.parametrize("values,pattern", [
    ("0.7", r"controls must be a sequence of numbers, one per knob, got the text '0\.7'$"),
    (b"0.7", r"controls must be a sequence of numbers, one per knob, got the text b'0\.7'$"),
    (0.7, r"controls must be a sequence of numbers, one per knob, got the single number 0\.7 \(write \[0\.7\]\)$"),
    ([True], r"controls must be numbers, got \[True\]$"),
    ([np.True_], r"controls must be numbers, got \[np\.True_\]$"),
    (["0.7"], r"controls must be numbers, got \['0\.7'\]$"),
    ([[0.7]], r"controls must be numbers, got \[\[0\.7\]\]$"),
    ([0.7j], r"controls must be numbers, got \[0\.7j\]$"),
    ([None], r"controls must be numbers, got \[None\]$"),
    (np.array([True]), r"controls must be numbers in a sequence or 1-D array, got an array of dtype bool, shape \(1,\)$"),
    (np.array(["0.7"]), r"controls must be numbers in a sequence or 1-D array, got an array of dtype <U3"),
    (np.array([[0.7]]), r"controls must be numbers in a sequence or 1-D array, got an array of dtype float64, "
                        r"shape \(1, 1\)$"),
    ([10 ** 400], r"control values must fit in float32 \(±3\.403e\+38\), got \[<an integer of 401 digits>\]$"),
    ([-10 ** 5000], r"control values must fit in float32 \(±3\.403e\+38\), got \[<a negative integer of 5001 digits>\]$"),
], ids=["text", "bytes", "bare-number", "bool", "numpy-bool", "text-in-list", "nested", "complex", "none",
        "bool-array", "text-array", "2d-array", "int-beyond-float64", "int-beyond-repr"])
def test_controls_must_be_real_numbers(knob_model, values, pattern):
    processor = engine.Processor(knob_model, sample_rate=44100)
    with pytest.raises(ControlError, match="^" + pattern) as info:
        processor.set_controls(values)
    assert "\n" not in str(info.value)
    assert list(processor.controls) == [0.0]
    with pytest.raises(ControlError, match="^" + pattern):
        engine.Processor(knob_model, sample_rate=44100, controls=values)


@pytest.mark.parametrize("values", [[0.3], (0.3,), [np.float32(0.3)], np.array([0.3]), np.array([0.3], np.float32),
                                    [1], [np.int64(1)], np.array([1], np.int16)],
                         ids=["list", "tuple", "numpy-float", "array", "float32-array", "int", "numpy-int",
                              "int-array"])
def test_real_numbers_are_accepted_in_any_real_kind(knob_model, values):
    processor = engine.Processor(knob_model, sample_rate=44100)
    processor.set_controls(values)
    np.testing.assert_allclose(processor.controls, [float(np.asarray(values)[0])], rtol=1e-7)


# -- caps ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("arguments,pattern", [
    ({"channels": MAX_CHANNELS + 1}, r"channels is 65, above the cap of 64 \(engine\.processor\.MAX_CHANNELS\)$"),
    ({"channels": 10 ** 12}, r"channels is 1000000000000, above the cap of 64"),
    ({"channels": 10 ** 400}, r"channels is <an integer of 401 digits>, above the cap of 64"),
    ({"max_block_size": MAX_BLOCK_SIZE + 1},
     r"max_block_size is 1048577, above the cap of 1048576 \(engine\.processor\.MAX_BLOCK_SIZE\)$"),
    ({"max_block_size": 10 ** 15}, r"max_block_size is 1000000000000000, above the cap of 1048576"),
    ({"threads": MAX_THREADS + 1}, r"threads is 65, above the cap of 64 \(engine\.processor\.MAX_THREADS\)$"),
    ({"channels": 2, "threads": 2, "max_block_size": 10 ** 12}, r"max_block_size is 1000000000000, above the cap"),
], ids=["channels-65", "channels-1e12", "channels-huge-int", "block-2**20+1", "block-1e15", "threads-65",
        "threaded-block-1e12"])
def test_absurd_sizes_are_refused_before_anything_is_allocated(tmp_path, arguments, pattern):
    model = engine.load_model(guitarml_file(tmp_path))
    with pytest.raises(ArgumentError, match="^" + pattern) as info:
        engine.Processor(model, sample_rate=44100, **arguments)
    assert "\n" not in str(info.value)


def test_prepare_refuses_a_block_size_above_the_cap_and_keeps_its_state(tmp_path):
    processor = engine.Processor(engine.load_model(guitarml_file(tmp_path)), sample_rate=44100, max_block_size=64)
    with pytest.raises(ArgumentError, match=r"^max_block_size is 1048577, above the cap of 1048576"):
        processor.prepare(48000, max_block_size=MAX_BLOCK_SIZE + 1)
    assert (processor.sample_rate, processor.max_block_size) == (44100, 64)


def test_the_caps_hold_the_engines_own_uses_and_are_usable(tmp_path):
    from engine.config import BLOCK_SIZE_RANGE
    from engine.render import BLOCK_FRAMES

    assert BLOCK_FRAMES <= MAX_BLOCK_SIZE and BLOCK_SIZE_RANGE[1] <= MAX_BLOCK_SIZE
    model = engine.load_model(guitarml_file(tmp_path))
    at_cap = engine.Processor(model, sample_rate=44100, max_block_size=MAX_BLOCK_SIZE, channels=MAX_CHANNELS)
    x = np.zeros((16, MAX_CHANNELS), np.float32)
    assert np.all(np.isfinite(at_cap.process(x)))


def test_submodules_and_load_config_are_reachable_from_a_plain_import_engine():
    """``import engine`` then ``engine.config.load_config`` (and engine.load_config) work, as a user types them."""
    import subprocess
    import sys

    code = ("import engine; c = engine.config.load_config('configs/guitar.yaml'); "
            "assert engine.load_config is engine.config.load_config; print(c.chain.order)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "model" in result.stdout
