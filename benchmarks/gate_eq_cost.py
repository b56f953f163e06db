"""What the noise gate and the EQ cost per sample, next to the LSTM-40 model they surround.

Each stage is timed as engine-bench times the model (engine.bench): 48 kHz audio (the bench's
110 Hz tone with noise) in blocks of --block samples through the stage's Python ``process(x,
out=y)``, the processing thread's CPU time per sample, median over --repeats runs interleaved
with the model's so that all see the same machine. Rows:

- LSTM-40: engine.Processor at 48 kHz, model trained at 44.1 kHz, linear interpolation (the
  engine-bench headline case);
- gate: engine.dsp.gate.NoiseGate, threshold −40 dBFS (the tone keeps it open), defaults;
- EQ: engine.dsp.eq.Equalizer with every band away from 0 dB, settled (no glide);
- EQ gliding: the same with the bass gain written into its params array before every block,
  so every block glides (coefficients recomputed every 16 samples: the worst case, what a
  knob turned continuously costs);
- gate and EQ kernels alone: the same work from one jitted loop over the blocks, without the
  Python call per block (what the live callback, which calls the kernels from compiled code,
  pays).

Usage: python benchmarks/gate_eq_cost.py [--seconds 2] [--repeats 31] [--block 128]
       [--out benchmarks/reports/gate_eq_cost.md]
"""

import argparse
import datetime
import os
import sys
import time

import numba
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from engine.bench import (Runner, blocks_of, engine_runner, machine_description, random_model,  # noqa: E402
                          test_signal, time_interleaved)
from engine.dsp.eq import Equalizer, eq_block  # noqa: E402
from engine.dsp.gate import NoiseGate, gate_block  # noqa: E402

RATE = 48000.0
EQ_SETTINGS = dict(bass_db=4.0, mid_db=-3.0, treble_db=2.0, presence_db=3.0)
BASS_GAIN_SLOT = 3  # engine.dsp.eq: params[EP_BANDS + 4·0 + EB_GAIN_DB]


@numba.njit(nogil=True)
def gate_kernel_loop(x, y, block, params, state):
    for start in range(0, len(x) - block + 1, block):
        gate_block(x[start:], y[start:], block, params, state)


@numba.njit(nogil=True)
def eq_kernel_loop(x, y, block, params, state, glide):
    for start in range(0, len(x) - block + 1, block):
        if glide:
            params[BASS_GAIN_SLOT] = -params[BASS_GAIN_SLOT]
        eq_block(x[start:], y[start:], block, params, state)


class KernelRunner(Runner):
    """A Runner whose one "block" is the whole signal, handed to a jitted loop over the blocks."""

    def __init__(self, loop, x, y, samples):
        super().__init__(loop, [(x, y)], samples)


def runners(seconds, block):
    samples = int(seconds * RATE) // block * block
    x = test_signal(samples, RATE)
    y = np.empty_like(x)
    blocks = blocks_of(x, y, block)
    rows = {"LSTM-40 (engine.Processor)": engine_runner(random_model("lstm", 40), RATE, "linear", block, samples)}

    gate = NoiseGate(dict(threshold_db=-40.0))
    gate.prepare(RATE)
    rows["gate"] = Runner(lambda a, b: gate.process(a, out=b), blocks, samples)
    eq = Equalizer(EQ_SETTINGS)
    eq.prepare(RATE)
    rows["EQ, settled"] = Runner(lambda a, b: eq.process(a, out=b), blocks, samples)
    gliding = Equalizer(EQ_SETTINGS)
    gliding.prepare(RATE)

    def glide(a, b):
        gliding.params[BASS_GAIN_SLOT] = -gliding.params[BASS_GAIN_SLOT]
        gliding.process(a, out=b)
    rows["EQ, gliding every block"] = Runner(glide, blocks, samples)

    kernel_gate = NoiseGate(dict(threshold_db=-40.0))
    kernel_gate.prepare(RATE)
    rows["gate kernel alone"] = KernelRunner(
        lambda a, b: gate_kernel_loop(a, b, block, kernel_gate.params, kernel_gate.state), x, y, samples)
    kernel_eq = Equalizer(EQ_SETTINGS)
    kernel_eq.prepare(RATE)
    rows["EQ kernel alone, settled"] = KernelRunner(
        lambda a, b: eq_kernel_loop(a, b, block, kernel_eq.params, kernel_eq.state, False), x, y, samples)
    rows["EQ kernel alone, gliding"] = KernelRunner(
        lambda a, b: eq_kernel_loop(a, b, block, kernel_eq.params, kernel_eq.state, True), x, y, samples)
    return rows


def report(rows, summaries, args, machine, elapsed):
    model = summaries[0]["ns_per_sample"]
    lines = ["# Noise gate and EQ: cost per sample beside the LSTM-40 model", "",
             f"Made by `python benchmarks/gate_eq_cost.py --seconds {args.seconds:g} --repeats {args.repeats} "
             f"--block {args.block}` ({datetime.date.today().isoformat()}, {elapsed:.0f} s) on "
             f"{machine['cpu']}, {machine['cores']} cores (load average {machine['load_average']:.1f}); numba "
             f"{machine['numba']}, numpy {machine['numpy']}.", "",
             f"48 kHz, blocks of {args.block}; CPU time of the processing thread per sample, median (and minimum) "
             f"of {args.repeats} interleaved runs of {args.seconds:g} s of audio. What each row runs is in the "
             "script's docstring.", "",
             "| stage | ns per sample | min | x real-time at 48 kHz | share of the LSTM-40's cost |",
             "|---|---|---|---|---|"]
    for name, summary in zip(rows, summaries):
        lines.append(f"| {name} | {summary['ns_per_sample']:.1f} | {summary['ns_per_sample_min']:.1f} | "
                     f"{summary['realtime_at_48k']:.0f} | {summary['ns_per_sample'] / model:.1%} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of audio per run (default 2)")
    parser.add_argument("--repeats", type=int, default=31, help="timed runs of each row (default 31)")
    parser.add_argument("--block", type=int, default=128, help="samples per process call (default 128)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "gate_eq_cost.md"),
                        help="the Markdown report to write")
    args = parser.parse_args()
    if args.seconds <= 0 or args.repeats < 1 or args.block < 1:
        parser.error("--seconds, --repeats and --block must be positive")
    started = time.perf_counter()
    rows = runners(args.seconds, args.block)
    summaries = time_interleaved(list(rows.values()), args.repeats)
    text = report(rows, summaries, args, machine_description(), time.perf_counter() - started)
    print(text, end="")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
