"""What the cabinet convolution costs per sample, next to the LSTM-40 model (issue 12, item 1).

Sections (all at 48 kHz, medians of the calling thread's CPU time per sample over interleaved
repeats, as engine-bench measures the model):

1. **Next to the model**: an 8,192-tap IR through ``Cabinet.process(x, out=y)`` and the LSTM-40
   model (random weights, trained rate 44.1 kHz, linear interpolation: engine-bench's headline
   case) through ``Processor.process(x, out=y)``, both in blocks of 128 from Python, interleaved.
2. **Block sizes**: the kernel alone (``convolve_block`` called once per block from a jitted
   loop compiled without numba's runtime, as the live callback calls it) for blocks of 1, 32,
   128, 512 and 4096 samples, for the shipped cabinet (models/cabinet_4x12.wav), 8,192 taps and 10 s.
3. **Partitionings**: for 8,192 taps and 10 s, the planner's choice against uniform partitions
   after heads of 64 … 512 and a few multi-level plans, measured and modelled
   (engine.dsp.convolver.plan_cost): the figures that justify the plan.
4. **Worst call**: the longest single ``process`` call at block 128 (wall clock, from Python):
   a level step does all its work in the call that crosses its boundary.

``--fit`` also measures the unit costs of the cost model (engine.dsp.convolver.UNIT_COSTS_NS)
and prints them. Takes about 40 s (``--quick``: about 15 s). Writes benchmarks/reports/cabinet_cost.md.

Usage: python benchmarks/cabinet_cost.py [--quick] [--fit] [--out benchmarks/reports/cabinet_cost.md]
"""

import argparse
import os
import platform
import statistics
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from engine import bench  # noqa: E402
from engine.dsp import convolver  # noqa: E402
from engine.dsp.cabinet import Cabinet  # noqa: E402
from engine.dsp.convolver import Plan, convolve_block, levels_for, plan_cost, plan_partitions  # noqa: E402

RATE = 48000
SHIPPED_IR = os.path.join(REPO, "models", "cabinet_4x12.wav")
DEFAULT_OUT = os.path.join(REPO, "benchmarks", "reports", "cabinet_cost.md")


@njit(nogil=True, error_model="numpy", _nrt=False)
def run_blocks(x, y, block, layout, coeffs, state, params):
    """convolve_block over x in blocks of ``block`` (the whole blocks), as the live callback calls it."""
    for start in range(0, len(x) - block + 1, block):
        convolve_block(x[start:start + block], y[start:start + block], layout, coeffs, state, params)


def decaying_noise(length, seed=0):
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(length) * np.exp(-np.arange(length) / max(length / 4, 1))
    return (ir / np.max(np.abs(np.fft.rfft(ir, 1 << max(16, int(np.ceil(np.log2(8 * length)))))))).astype(np.float32)


class KernelRun:
    """The kernel over ``seconds`` of noise in blocks of ``block``, from the jitted loop; CPU ns per sample."""

    def __init__(self, ir, plan, block, seconds):
        self.arrays = convolver.build(ir, plan)
        n = max(int(seconds * RATE) // block, 1) * block
        self.x = bench.test_signal(n, RATE)
        self.y = np.empty_like(self.x)
        self.block = block
        self.cpu = []
        run_blocks(self.x[:block], self.y[:block], block, *self.arrays)  # compile / load, outside the timing

    def run(self, keep=True):
        started = time.thread_time()
        run_blocks(self.x, self.y, self.block, *self.arrays)
        if keep:
            self.cpu.append((time.thread_time() - started) / len(self.x) * 1e9)


def interleave(runs, repeats):
    for run in runs:
        run.run(keep=False)
    for _ in range(repeats):
        for run in runs:
            run.run()
    return [statistics.median(run.cpu) for run in runs]


def next_to_the_model(seconds, repeats):
    """(cabinet ns/sample, model ns/sample, plan) for 8,192 taps and LSTM-40 at block 128 from Python."""
    samples = int(seconds * RATE) // 128 * 128
    model = bench.random_model("lstm", 40)
    model_runner = bench.engine_runner(model, RATE, "linear", 128, samples)
    cabinet = Cabinet(decaying_noise(8192), RATE, max_block_size=128, normalize=False)
    x = bench.test_signal(samples, RATE)
    cabinet_runner = bench.Runner(cabinet.process, bench.blocks_of(x, np.empty_like(x), 128), samples)
    cab, lstm = bench.time_interleaved([cabinet_runner, model_runner], repeats)
    return cab["ns_per_sample"], lstm["ns_per_sample"], cabinet.plan


def block_sizes(irs, blocks, seconds, repeats):
    rows = []
    for name, ir in irs:
        plan = plan_partitions(len(ir))
        runs = [KernelRun(ir, plan, block, seconds) for block in blocks]
        rows.append((name, len(ir), plan, interleave(runs, repeats)))
    return rows


def candidate_plans(length):
    plans = {"planner's choice": plan_partitions(length)}
    for head in (64, 128, 256, 512):
        plans[f"uniform after a {head}-tap head"] = Plan(head, levels_for(length, head, 0))
    for head, growth, cap in ((128, 16, 4096), (64, 8, 4096), (256, 16, 4096), (128, 8, 8192), (128, 32, 32768)):
        levels = levels_for(length, head, growth, cap)
        if len(levels) > 1:
            plans[f"head {head}, x{growth} per level up to {cap}"] = Plan(head, levels)
    unique = {}
    for name, plan in plans.items():
        unique.setdefault(plan, name)
    return [(name, plan) for plan, name in unique.items()]


def partitionings(irs, seconds, repeats):
    rows = []
    for name, ir in irs:
        candidates = candidate_plans(len(ir))
        runs = [KernelRun(ir, plan, 128, seconds) for _, plan in candidates]
        measured = interleave(runs, repeats)
        for (label, plan), cost in zip(candidates, measured):
            rows.append((name, label, plan, cost, plan_cost(len(ir), plan)))
    return rows


def worst_call(irs, seconds):
    """Per IR: (median, 99.9th percentile, max) CPU µs of one Cabinet.process call at block 128.

    The calling thread's CPU time, not the wall clock: on a shared machine the wall clock of a
    call includes whatever else ran meanwhile, which is the scheduler's doing, not the call's.
    """
    rows = []
    for name, ir in irs:
        cabinet = Cabinet(ir, RATE, max_block_size=128, normalize=False)
        x = bench.test_signal(int(seconds * RATE) // 128 * 128, RATE)
        y = np.empty_like(x)
        times = []
        clock = time.thread_time_ns
        process = cabinet.process
        for start in range(0, len(x), 128):
            began = clock()
            process(x[start:start + 128], y[start:start + 128])
            times.append(clock() - began)
        times = np.array(times) / 1000.0
        rows.append((name, cabinet.plan, np.median(times), np.percentile(times, 99.9), times.max()))
    return rows


def fit_unit_costs(seconds, repeats):
    """Measure the cost model's unit costs (engine.dsp.convolver.UNIT_COSTS_NS), kernel at block 4096.

    Each figure is the fastest of the interleaved repeats (the least disturbed on a shared machine).
    Head-only plans (P1 = 16 … 512) give ``sample``, ``head_tap`` and ``chunk`` by least squares.
    A second level of one partition of P = 128 … 4096 after a fixed first part (head 32, then
    partitions of 32 up to P) costs ``level`` + ``level_log``·log2 P + ``cmac``·(P+1)/P, and
    33 partitions of 256 instead of one add 32·``cmac``·257/256.
    """
    def fastest(runs):
        interleave(runs, repeats)
        return np.array([min(run.cpu) for run in runs])

    heads = (16, 32, 64, 128, 256, 512)
    head_only = fastest([KernelRun(decaying_noise(h), Plan(h, ()), 4096, seconds) for h in heads])
    design = np.stack([np.ones(len(heads)), np.array(heads, float), 1.0 / np.array(heads, float)], axis=1)
    sample, head_tap, chunk = np.linalg.lstsq(design, head_only, rcond=None)[0]

    def first_part(p):
        return (32, p // 32 - 1)

    few, many = fastest([KernelRun(decaying_noise(512), Plan(32, (first_part(256), (256, 1))), 4096, seconds),
                         KernelRun(decaying_noise(256 * 34), Plan(32, (first_part(256), (256, 33))), 4096, seconds)])
    cmac = float((many - few) / 32 / (257 / 256))
    sizes = np.array([128, 256, 512, 1024, 2048, 4096])
    runs = []
    for p in sizes:
        runs += [KernelRun(decaying_noise(p), Plan(32, (first_part(p),)), 4096, seconds),
                 KernelRun(decaying_noise(2 * p), Plan(32, (first_part(p), (int(p), 1))), 4096, seconds)]
    measured = fastest(runs).reshape(len(sizes), 2)
    level_only = measured[:, 1] - measured[:, 0] - cmac * (sizes + 1) / sizes
    level, level_log = np.linalg.lstsq(np.stack([np.ones(len(sizes)), np.log2(sizes)], axis=1), level_only,
                                       rcond=None)[0]
    return dict(sample=round(float(sample), 1), head_tap=round(float(head_tap), 3), chunk=round(float(chunk), 0),
                level=round(float(level), 1), level_log=round(float(level_log), 2), cmac=round(cmac, 2))


def machine():
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def describe(plan):
    levels = ", ".join(f"{parts}×{size}" for size, parts in plan.levels) or "none"
    return f"head {plan.head}; partitions {levels}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Writes a Markdown report; prints the same tables.")
    parser.add_argument("--quick", action="store_true", help="shorter runs and fewer repeats (about 15 s)")
    parser.add_argument("--fit", action="store_true", help="also measure the cost model's unit costs")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the report to write (default %(default)s)")
    args = parser.parse_args(argv)
    seconds, repeats = (0.25, 3) if args.quick else (0.5, 7)
    started = time.perf_counter()
    shipped = Cabinet(SHIPPED_IR, RATE).ir  # as it plays: trailing zeros dropped, normalised
    short_irs = [("shipped 4x12 cabinet", shipped), ("8,192 taps", decaying_noise(8192))]
    long_ir = ("10 s (480,000 taps)", decaying_noise(10 * RATE, seed=1))
    lines = ["# The cabinet convolution's cost", "",
             f"`python benchmarks/cabinet_cost.py{' --quick' if args.quick else ''}{' --fit' if args.fit else ''}` "
             f"on {machine()}. 48 kHz; medians of the calling thread's CPU time per sample "
             f"over {repeats} interleaved runs of {seconds:g} s of audio.", ""]

    def emit(*text):
        for line in text:
            print(line, flush=True)
            lines.append(line)

    cab, lstm, plan = next_to_the_model(seconds, repeats)
    emit("## Next to the model (block 128, from Python: Cabinet.process and Processor.process)", "",
         "| stage | ns per sample | share of the model |", "|---|---:|---:|",
         f"| LSTM-40 (engine-bench's headline case) | {lstm:.0f} | 100 % |",
         f"| cabinet, 8,192 taps ({describe(plan)}) | {cab:.0f} | {100 * cab / lstm:.0f} % |", "")

    blocks = (1, 32, 128, 512, 4096)
    rows = block_sizes(short_irs + [long_ir], blocks, seconds, repeats)
    emit("## Block sizes (the kernel from a jitted loop, as the live callback calls it)", "",
         "| IR | plan | " + " | ".join(f"block {b}" for b in blocks) + " |",
         "|---|---|" + "---:|" * len(blocks))
    for name, length, plan, costs in rows:
        emit(f"| {name} ({length} taps) | {describe(plan)} | " + " | ".join(f"{c:.0f}" for c in costs) + " |")
    emit("", "ns per sample. Block 1 pays the per-call work (reading the layout, one chunk) on every sample.", "")

    rows = partitionings([short_irs[1], long_ir], seconds, repeats)
    emit("## Partitionings (kernel, block 128)", "",
         "Modelled: engine.dsp.convolver.plan_cost with UNIT_COSTS_NS, which were fitted on the fastest "
         "of repeated runs; the measured column is the median, so expect it higher, in the same order.", "",
         "| IR | plan | partitions | measured ns/sample | modelled |", "|---|---|---|---:|---:|")
    for name, label, plan, measured, modelled in rows:
        emit(f"| {name} | {label} | {describe(plan)} | {measured:.0f} | {modelled:.0f} |")
    emit("")

    rows = worst_call(short_irs + [long_ir], 2 * seconds)
    emit("## One call at block 128 (CPU µs of the calling thread, from Python, including ~1 µs of call overhead)", "",
         "| IR | plan | median | 99.9 % | max |", "|---|---|---:|---:|---:|")
    for name, plan, median, p999, worst in rows:
        emit(f"| {name} | {describe(plan)} | {median:.1f} | {p999:.1f} | {worst:.1f} |")
    emit("", "A block of 128 at 48 kHz lasts 2,667 µs.", "")

    if args.fit:
        fitted = fit_unit_costs(seconds, repeats)
        emit("## Unit costs of the cost model (ns)", "", f"fitted: `{fitted}`",
             f"in engine.dsp.convolver.UNIT_COSTS_NS: `{convolver.UNIT_COSTS_NS}`", "")
    emit(f"({time.perf_counter() - started:.0f} s)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
