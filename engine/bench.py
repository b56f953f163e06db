"""Benchmarks of the kernels (``engine-bench``; beside PyTorch: ``python benchmarks/speed_vs_torch.py``).

Every timed case builds a model with random PyTorch-like weights (trained rate 44.1 kHz, dense
head), prepares a Processor at the case's run rate, warms it up, then times ``process(x, out=y)``
over the audio in blocks of the case's size. A run processes a fixed number of samples; the
figure is the median over repeated runs of the processing thread's CPU time per sample (its wall
time is in the JSON too: on a shared machine the thread's CPU time is the steadier measure of
what the processing costs). "x real-time" is how many times faster than 48 kHz audio arrives.

A comparison (``run_benchmark(compare=...)``: benchmarks/speed_vs_torch.py passes PyTorch) runs
the same network its own way, interleaved with the engine's runs so both see the same machine,
and the headline table gains its time and the ratio.

Sections: ``headline`` (R = 48/44.1, linear, block 128, every size),
``ratios`` (R = 1 … 8 for each interpolation method), ``blocks`` (32 … 4096 samples per call),
``threads`` (two channels on one and two threads, wall time), ``startup`` (compile time with an
empty numba cache, load time with a warm one, peak memory, in fresh processes), ``chain`` (the
signal chain's stages one by one: noise gate, LSTM-40, EQ, the shipped cabinet IR and an
8,192-tap IR, then the whole engine.Chain; see :func:`time_chain`). The quick set (default)
times fewer sizes, methods and block sizes: QUICK and FULL below.
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from .delay import INTERPOLATIONS
from .processor import Processor

MODEL_SAMPLE_RATE = 44100.0
#: The run rates, by name (R = rate / 44.1 kHz).
RATIOS = {"1": 1.0, "48/44.1": 48000.0 / 44100.0, "2": 2.0, "96/44.1": 96000.0 / 44100.0, "8": 8.0}
HEADLINE_RATIO = "48/44.1"
HEADLINE_BLOCK = 128
QUICK = {"hidden": (16, 40, 64), "layers": (1,), "methods": ("naive", "linear"), "ratio_hidden": (40,),
         "blocks": (32, 128, 512, 4096), "block_hidden": (40,)}
FULL = {"hidden": (8, 16, 32, 40, 64), "layers": (1, 2), "methods": INTERPOLATIONS, "ratio_hidden": (8, 40, 64),
        "blocks": (32, 64, 128, 256, 512, 1024, 2048, 4096), "block_hidden": (8, 40, 64)}
SECTIONS = ("headline", "ratios", "blocks", "threads", "startup", "chain")
#: The cabinet IR engine-bench times beside the model (the shipped 4x12, models/ beside the package).
SHIPPED_IR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "cabinet_4x12.wav")
#: The long IR of the chain table: 8,192 taps (171 ms at 48 kHz), the issue's yardstick.
LONG_IR_TAPS = 8192


def random_model(cell, hidden_size, layers=1, seed=0):
    """A validated single-input model with random weights (engine.testing.random_model), trained at 44.1 kHz.

    Parameters
    ----------
    cell : str
        "lstm" or "gru".
    hidden_size, layers, seed : int

    Returns
    -------
    Model
    """
    from .testing import random_model as build

    return build(cell, hidden=hidden_size, layers=layers, sample_rate=MODEL_SAMPLE_RATE, seed=seed)


def test_signal(n, sample_rate):
    """A 110 Hz tone with a little noise at −6 dBFS, float32."""
    rng = np.random.default_rng(1)
    t = np.arange(n) / sample_rate
    return (0.5 * np.sin(2 * np.pi * 110 * t) + 0.01 * rng.standard_normal(n)).astype(np.float32)


class Runner:
    """Times one way of processing audio: ``process(block_in, block_out)`` over a list of blocks.

    Keeps, per run, the CPU time of the calling thread and the wall time, in ns per sample.
    """

    def __init__(self, process, blocks, samples):
        self.process = process
        self.blocks = blocks
        self.samples = samples
        self.cpu = []
        self.wall = []

    def run(self, keep=True):
        process = self.process
        wall = time.perf_counter()
        cpu = time.thread_time()
        for block_in, block_out in self.blocks:
            process(block_in, block_out)
        cpu = time.thread_time() - cpu
        wall = time.perf_counter() - wall
        if keep:
            self.cpu.append(cpu / self.samples * 1e9)
            self.wall.append(wall / self.samples * 1e9)

    def summary(self):
        median = statistics.median(self.cpu)
        return {"ns_per_sample": median, "ns_per_sample_min": min(self.cpu),
                "wall_ns_per_sample": statistics.median(self.wall), "runs": len(self.cpu),
                "realtime_at_48k": 1e9 / (median * 48000.0)}


def blocks_of(x, y, block_size):
    """[(x block, y block), …] over the whole blocks of x (frames along the first axis)."""
    n = len(x) // block_size * block_size
    return [(x[i:i + block_size], None if y is None else y[i:i + block_size]) for i in range(0, n, block_size)]


def engine_runner(model, sample_rate, method, block_size, samples, channels=1, threads=1):
    """A Runner for ``Processor.process(x, out=y)``; its processor is ``runner.processor``."""
    processor = Processor(model, sample_rate=sample_rate, interpolation=method, max_block_size=block_size,
                          check_stability=False, channels=channels, threads=threads)
    x = test_signal(samples, sample_rate)
    if channels > 1:
        x = np.ascontiguousarray(np.stack([x * (0.7 ** c) for c in range(channels)], axis=1))
    blocks = blocks_of(x, np.empty_like(x), block_size)
    runner = Runner(processor.process, blocks, len(blocks) * block_size)  # process(x, out)
    runner.processor = processor
    return runner


def time_interleaved(runners, repeats):
    """Warm every runner up, then run them in turn ``repeats`` times (so all see the same machine)."""
    for runner in runners:
        runner.run(keep=False)
    for _ in range(repeats):
        for runner in runners:
            runner.run()
    return [runner.summary() for runner in runners]


def case_name(cell, hidden, layers):
    return f"{cell.upper()}-{hidden}" + (f"x{layers}" if layers > 1 else "")


def time_case(cell, hidden, layers, ratio_name, method, block_size, samples, repeats, compare=None):
    """One configuration: the engine, and beside it ``compare``'s runner when one is given.

    Returns
    -------
    dict
        The case (cell, hidden_size, layers, ratio, sample_rate, interpolation, block_size), the
        engine's figures (ns_per_sample: median CPU ns per sample, ns_per_sample_min,
        wall_ns_per_sample, realtime_at_48k) and, with a comparison, ``<name>_ns_per_sample``,
        ``<name>_wall_ns_per_sample`` and ``speedup`` (its time over the engine's).
    """
    model = random_model(cell, hidden, layers)
    rate = MODEL_SAMPLE_RATE * RATIOS[ratio_name]
    runners = [engine_runner(model, rate, method, block_size, samples)]
    processor = runners[0].processor
    if compare is not None:
        other = compare.runner(model, block_size, max(block_size, samples // 4))
        if other is not None:
            runners.append(other)
    summaries = time_interleaved(runners, repeats)
    result = {"model": case_name(cell, hidden, layers), "cell": cell, "hidden_size": hidden, "layers": layers,
              "ratio_name": ratio_name, "ratio": processor.ratio, "sample_rate": rate,
              "interpolation": processor.interpolation, "block_size": block_size, **summaries[0]}
    if len(summaries) > 1:
        result[f"{compare.name}_ns_per_sample"] = summaries[1]["ns_per_sample"]
        result[f"{compare.name}_wall_ns_per_sample"] = summaries[1]["wall_ns_per_sample"]
        result["speedup"] = summaries[1]["ns_per_sample"] / summaries[0]["ns_per_sample"]
    return result


def time_threads(hidden, block_sizes, samples, repeats, cell="lstm"):
    """Wall time per frame: one channel; two channels on one thread; two channels on two threads."""
    model = random_model(cell, hidden)
    rate = MODEL_SAMPLE_RATE * RATIOS[HEADLINE_RATIO]
    rows = []
    for block in block_sizes:
        runners = [engine_runner(model, rate, "linear", block, samples, channels, threads)
                   for channels, threads in ((1, 1), (2, 1), (2, 2))]
        time_interleaved(runners, repeats)
        walls = [statistics.median(r.wall) for r in runners]
        for runner in runners:
            runner.processor.close()
        rows.append({"model": case_name(cell, hidden, 1), "block_size": block, "one_channel_wall_ns": walls[0],
                     "two_channels_one_thread_wall_ns": walls[1], "two_channels_two_threads_wall_ns": walls[2],
                     "two_threads_over_one_channel": walls[2] / walls[0]})
    return rows


_STARTUP_SCRIPT = r"""
import json, resource, sys, time
started = time.perf_counter()
import numpy as np
import engine
imported = time.perf_counter()
from engine.testing import random_model
model = random_model("lstm", 40)
ready = time.perf_counter()
processor = engine.Processor(model, sample_rate=48000)
processor.process(np.zeros(128, np.float32))
done = time.perf_counter()
try:  # VmHWM starts afresh at exec; ru_maxrss would keep the forking parent's peak
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import_s": imported - started, "first_block_s": done - ready, "total_s": done - started,
                  "peak_rss_mb": peak}))
"""


def time_startup():
    """A fresh process: import engine, make an LSTM-40 Processor at 48 kHz, process one block.

    Run twice with a private, empty numba cache: the first run compiles every kernel it needs
    (the cold start), the second loads them (the warm start, what every later start costs).
    """
    with tempfile.TemporaryDirectory(prefix="engine-bench-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", _STARTUP_SCRIPT], capture_output=True, text=True, env=env,
                                 timeout=600)
            if out.returncode != 0:
                raise RuntimeError(f"startup run failed: {out.stderr.strip()}")
            runs.append({"cache": label, **json.loads(out.stdout.strip().splitlines()[-1])})
    return runs


def _stage_runner(stage, blocks, samples):
    """A Runner for ``stage.process(x, out=y)`` (the call a Python host makes per block)."""
    return Runner(lambda a, b: stage.process(a, b), blocks, samples)


def time_chain(samples, repeats, block_size=HEADLINE_BLOCK, hidden=40):
    """Each stage of the signal chain alone, then the whole chain, at 48 kHz: CPU ns per sample, interleaved.

    Rows: ``gate`` (NoiseGate at −40 dBFS, which the test tone keeps open), ``model`` (LSTM-``hidden``
    at R = 48/44.1, linear: the headline case), ``eq`` (every band away from 0 dB, settled),
    ``cabinet (shipped IR)`` (models/cabinet_4x12.wav, when it is beside the package),
    ``cabinet (8192 taps)`` (a decaying-noise IR), ``sum of the stages`` (gate + model + eq +
    shipped cabinet, computed) and ``chain`` (engine.Chain running those four: the same work plus
    its Python dispatch per block). Every row times ``process(x, out=y)`` in blocks of
    ``block_size``; the runs of all rows are interleaved so that all see the same machine.

    Returns
    -------
    list of dict
        {"stage", "block_size", ns_per_sample, ns_per_sample_min, wall_ns_per_sample, runs,
        realtime_at_48k, "share_of_model"}; the IR's taps in "ir_taps" where there is one.
    """
    from .dsp.cabinet import Cabinet
    from .dsp.eq import Equalizer
    from .dsp.gate import NoiseGate
    from .signal_chain import Chain

    rate = MODEL_SAMPLE_RATE * RATIOS[HEADLINE_RATIO]
    model = random_model("lstm", hidden)
    x = test_signal(samples, rate)
    blocks = blocks_of(x, np.empty_like(x), block_size)
    n = len(blocks) * block_size
    gate_settings, eq_settings = {"threshold_db": -40.0}, {"bass_db": 4.0, "mid_db": -3.0, "treble_db": 2.0,
                                                           "presence_db": 3.0}
    gate, eq = NoiseGate(gate_settings), Equalizer(eq_settings)
    gate.prepare(rate)
    eq.prepare(rate)
    rows = {"gate": (_stage_runner(gate, blocks, n), None),
            f"model (LSTM-{hidden})": (engine_runner(model, rate, "linear", block_size, samples), None),
            "eq": (_stage_runner(eq, blocks, n), None)}
    shipped = os.path.isfile(SHIPPED_IR)
    if shipped:
        cabinet = Cabinet(SHIPPED_IR, rate, block_size)
        rows["cabinet (shipped IR)"] = (_stage_runner(cabinet, blocks, n), len(cabinet.ir))
    rng = np.random.default_rng(2)
    long_ir = (rng.standard_normal(LONG_IR_TAPS) * np.exp(-np.arange(LONG_IR_TAPS) / 2048.0)).astype(np.float32)
    long_cabinet = Cabinet(long_ir, rate, block_size)
    rows[f"cabinet ({LONG_IR_TAPS} taps)"] = (_stage_runner(long_cabinet, blocks, n), len(long_cabinet.ir))
    chain = Chain(model, rate, gate=gate_settings, eq=eq_settings, cabinet=SHIPPED_IR if shipped else long_ir,
                  max_block_size=block_size)
    chain_name = f"chain ({chain.describe()})"
    rows[chain_name] = (_stage_runner(chain, blocks, n), None)
    summaries = time_interleaved([runner for runner, _ in rows.values()], repeats)
    results = []
    for (name, (_, taps)), summary in zip(rows.items(), summaries):
        results.append({"stage": name, "block_size": block_size, **summary,
                        **({"ir_taps": taps} if taps else {})})
    model_ns = results[1]["ns_per_sample"]
    parts = [r for r in results if r["stage"] in ("gate", "eq") or r["stage"].startswith("model")
             or r["stage"] == ("cabinet (shipped IR)" if shipped else f"cabinet ({LONG_IR_TAPS} taps)")]
    total = sum(r["ns_per_sample"] for r in parts)
    results.insert(len(results) - 1, {"stage": "sum of the stages", "block_size": block_size, "ns_per_sample": total,
                                      "realtime_at_48k": 1e9 / (total * 48000.0)})
    for r in results:
        r["share_of_model"] = r["ns_per_sample"] / model_ns
    return results


def processor_memory(cell, hidden, layers=1):
    """Bytes of the arrays one prepared mono Processor holds (weights, state history, work area)."""
    processor = Processor(random_model(cell, hidden, layers), sample_rate=MODEL_SAMPLE_RATE * RATIOS[HEADLINE_RATIO])
    net = processor._network
    return int(net.params.nbytes + net.meta.nbytes + processor._hist.nbytes + processor._work.nbytes
               + processor._pos.nbytes)


def run_benchmark(full=False, cells=("lstm", "gru"), hidden_sizes=None, sections=SECTIONS, samples=32768,
                  repeats=15, report=print, compare=None):
    """Run the chosen sections, print each table through ``report`` as it completes.

    Parameters
    ----------
    full : bool
        Every size, layer count, method and block size (FULL) rather than the quick set (QUICK).
    cells, hidden_sizes : the models of the headline section (hidden_sizes: the set's by default).
    sections : names from SECTIONS.
    samples : int
        Samples processed per timed run (PyTorch: a quarter as many, it is slower).
    repeats : int
        Timed runs per case after one warm-up; the median is reported.
    report : callable
        Receives each line of the tables.
    compare : object, optional
        Another implementation for the headline table: ``compare.name`` (str) and
        ``compare.runner(model, block_size, samples)`` → a Runner over the same blocks, or None.

    Returns
    -------
    dict
        {section: rows}.
    """
    grid = FULL if full else QUICK
    hidden_sizes = tuple(hidden_sizes or grid["hidden"])
    results = {}

    def timed(*args, **kwargs):
        return time_case(*args, samples=samples, repeats=repeats, **kwargs)

    if "headline" in sections:
        against = f" vs {compare.name}" if compare is not None else ""
        report(f"\n## Engine{against}: R = {HEADLINE_RATIO} (48 kHz, 44.1 kHz models), linear, "
               f"block {HEADLINE_BLOCK}; CPU ns per sample, median of {repeats}")
        report(_row("model", "engine ns/sample", "x real-time",
                    *((f"{compare.name} ns/sample", "speed-up") if compare is not None else ())))
        rows = results["headline"] = []
        for cell in cells:
            for layers in grid["layers"]:
                for hidden in hidden_sizes:
                    r = timed(cell, hidden, layers, HEADLINE_RATIO, "linear", HEADLINE_BLOCK, compare=compare)
                    rows.append(r)
                    other = (() if compare is None else
                             (f"{r[compare.name + '_ns_per_sample']:.0f}", f"{r['speedup']:.1f}x") if "speedup" in r
                             else ("-", "-"))
                    report(_row(r["model"], f"{r['ns_per_sample']:.0f}", f"{r['realtime_at_48k']:.0f}", *other))
    if "ratios" in sections:
        report(f"\n## Cost against R and interpolation method (block {HEADLINE_BLOCK}): CPU ns per sample")
        report(_row("model", "method", *RATIOS, "R=8 / R=1"))
        rows = results["ratios"] = []
        for cell in ("lstm", "gru"):
            for hidden in grid["ratio_hidden"]:
                for method in grid["methods"]:
                    line = [timed(cell, hidden, 1, name, method, HEADLINE_BLOCK) for name in RATIOS]
                    rows.extend(line)
                    report(_row(case_name(cell, hidden, 1), method, *(f"{r['ns_per_sample']:.0f}" for r in line),
                                f"{line[-1]['ns_per_sample'] / line[0]['ns_per_sample']:.3f}"))
    if "blocks" in sections:
        report(f"\n## Cost against block size (R = {HEADLINE_RATIO}, linear): CPU ns per sample")
        report(_row("model", *(str(b) for b in grid["blocks"]), "32 / 4096"))
        rows = results["blocks"] = []
        for cell in ("lstm", "gru"):
            for hidden in grid["block_hidden"]:
                line = [timed(cell, hidden, 1, HEADLINE_RATIO, "linear", block) for block in grid["blocks"]]
                rows.extend(line)
                report(_row(case_name(cell, hidden, 1), *(f"{r['ns_per_sample']:.0f}" for r in line),
                            f"{line[0]['ns_per_sample'] / line[-1]['ns_per_sample']:.3f}"))
    if "threads" in sections:
        report("\n## Two channels on two threads (LSTM-40, R = 48/44.1): wall ns per frame, median of "
               f"{repeats}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        report(_row("block", "1 channel", "2 ch 1 thread", "2 ch 2 threads", "2 thr / 1 ch"))
        rows = results["threads"] = time_threads(40, (512, 4096), samples, repeats)
        for r in rows:
            report(_row(str(r["block_size"]), f"{r['one_channel_wall_ns']:.0f}",
                        f"{r['two_channels_one_thread_wall_ns']:.0f}", f"{r['two_channels_two_threads_wall_ns']:.0f}",
                        f"{r['two_threads_over_one_channel']:.2f}"))
    if "startup" in sections:
        report("\n## Start-up (fresh process: import, LSTM-40 Processor at 48 kHz, first block)")
        report(_row("numba cache", "import s", "first block s", "total s", "peak RSS MB"))
        runs = time_startup()
        memory = {case_name(c, h, 1): processor_memory(c, h) for c in ("lstm", "gru") for h in (8, 40, 64)}
        results["startup"] = {"runs": runs, "processor_bytes": memory}
        for r in runs:
            report(_row(r["cache"], f"{r['import_s']:.2f}", f"{r['first_block_s']:.2f}", f"{r['total_s']:.2f}",
                        f"{r['peak_rss_mb']:.0f}"))
        report("processor memory (weights + state + work): "
               + ", ".join(f"{name} {size / 1024:.1f} KiB" for name, size in memory.items()))
    if "chain" in sections:
        report(f"\n## The signal chain, stage by stage (48 kHz, block {HEADLINE_BLOCK}): CPU ns per sample, "
               f"median of {repeats}")
        report(f"{'stage':<44}" + "".join(f"{c:>16}" for c in ("ns/sample", "x real-time", "vs model")))
        rows = results["chain"] = time_chain(samples, repeats)
        for r in rows:
            report(f"{r['stage']:<44}" + "".join(f"{c:>16}" for c in (
                f"{r['ns_per_sample']:.1f}", f"{r['realtime_at_48k']:.0f}", f"{r['share_of_model']:.1%}")))
    return results


def _row(*cells):
    first, *rest = cells
    return f"{first:<10}" + "".join(f"{c:>16}" for c in rest)


def machine_description():
    """A short description of the machine for the JSON report."""
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "numba": numba.__version__, "numpy": np.__version__, "cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg()[0],
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def write_json(path, results, settings):
    """Write results with the settings and machine description as JSON.

    ``results`` keeps every section; ``results["results"]`` is the headline table.
    """
    document = {"machine": machine_description(), "settings": settings, "results": results.get("headline", []),
                "sections": results}
    with open(path, "w") as handle:
        json.dump(document, handle, indent=2)
