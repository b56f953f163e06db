"""Microbenchmark of the per-sample cost of the kernels (``engine-bench``, benchmarks/run_bench.py).

Each case builds a random single-layer model (LSTM or GRU of a given hidden size, dense head),
prepares a Processor, warms it up, then times ``process(x, out=y)`` over blocks of audio and
reports the median over repeats in ns per sample and as × real-time at 48 kHz.
"""

import json
import platform
import statistics
import time

import numpy as np

from .formats.common import make_recurrent_layer
from .model import DenseLayer, Model, validate_model
from .processor import Processor

MODEL_SAMPLE_RATE = 44100.0


def random_model(cell, hidden_size, layers=1, seed=0):
    """A validated single-input model with PyTorch-like random weights, for timing."""
    rng = np.random.default_rng(seed)
    gates = 4 if cell == "lstm" else 3
    bound = 1.0 / np.sqrt(hidden_size)
    stack, width = [], 1
    for _ in range(layers):
        def u(*shape):
            return rng.uniform(-bound, bound, shape).astype(np.float32)
        stack.append(make_recurrent_layer(cell, width, hidden_size, u(gates * hidden_size, width),
                                          u(gates * hidden_size, hidden_size), u(gates * hidden_size),
                                          u(gates * hidden_size)))
        width = hidden_size
    stack.append(DenseLayer(weight=u(1, hidden_size), bias=np.zeros(1, np.float32)))
    return validate_model(Model(layers=tuple(stack), input_size=1, sample_rate=MODEL_SAMPLE_RATE,
                                sample_rate_source="user", format="benchmark",
                                path=f"<{cell}-{hidden_size}x{layers}>"))


def time_case(cell, hidden_size, sample_rate, interpolation, block_size, seconds, repeats, layers=1):
    """Time one configuration.

    Parameters
    ----------
    cell : str
        "lstm" or "gru".
    hidden_size, layers : int
    sample_rate : float
        The run rate (the model is trained at 44.1 kHz).
    interpolation : str
    block_size : int
        Samples per process() call.
    seconds : float
        Audio per repeat (at ``sample_rate``).
    repeats : int
        Timed repeats after one warm-up; the median is reported.

    Returns
    -------
    dict
        The case, ``ns_per_sample`` (median), ``ns_per_sample_min``, ``realtime_at_48k``.
    """
    processor = Processor(random_model(cell, hidden_size, layers), sample_rate=sample_rate,
                          interpolation=interpolation, max_block_size=block_size)
    n = int(seconds * sample_rate) // block_size * block_size
    x = (0.5 * np.sin(np.arange(n) * 2 * np.pi * 110 / sample_rate)).astype(np.float32)
    y = np.empty_like(x)
    blocks = [(x[i:i + block_size], y[i:i + block_size]) for i in range(0, n, block_size)]

    def run():
        start = time.perf_counter()
        for block_in, block_out in blocks:
            processor.process(block_in, out=block_out)
        return (time.perf_counter() - start) / n * 1e9

    run()  # warm-up: caches, branch predictors
    timings = [run() for _ in range(repeats)]
    median = statistics.median(timings)
    return {
        "cell": cell, "hidden_size": hidden_size, "layers": layers, "sample_rate": sample_rate,
        "ratio": processor.ratio, "interpolation": interpolation, "block_size": block_size,
        "ns_per_sample": median, "ns_per_sample_min": min(timings),
        "realtime_at_48k": 1e9 / (median * 48000.0),
    }


def run_benchmark(cells=("lstm", "gru"), hidden_sizes=(16, 32, 40, 64), sample_rate=48000.0,
                  interpolation="linear", block_size=128, seconds=1.0, repeats=7, report=print):
    """Time every (cell, hidden size) pair and report a table through ``report``.

    Returns
    -------
    list of dict
        One result per case, as :func:`time_case`.
    """
    results = []
    report(f"{'cell':<5} {'hidden':>6} {'R':>8} {'method':>7} {'block':>6} {'ns/sample':>10} {'x realtime@48k':>15}")
    for cell in cells:
        for hidden in hidden_sizes:
            result = time_case(cell, hidden, sample_rate, interpolation, block_size, seconds, repeats)
            results.append(result)
            report(f"{cell.upper():<5} {hidden:>6} {result['ratio']:>8.4f} {interpolation:>7} {block_size:>6} "
                   f"{result['ns_per_sample']:>10.0f} {result['realtime_at_48k']:>15.1f}")
    return results


def machine_description():
    """A short description of the machine for the JSON report."""
    import os

    import numba

    return {"python": platform.python_version(), "numba": numba.__version__, "numpy": np.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}


def write_json(path, results, settings):
    """Write results with the settings and machine description as JSON."""
    with open(path, "w") as handle:
        json.dump({"machine": machine_description(), "settings": settings, "results": results}, handle, indent=2)
