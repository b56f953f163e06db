"""Below the training rate: does the stability check predict what happens, and is what runs safe?

For each model (treated as trained at 48 kHz) at 44.1 kHz (R = 0.919) and each method, it
(1) asks the check (engine.stability) whether the method is safe, (2) runs the method anyway
(check_stability=False) on a guitar-like signal followed by silence and observes whether the
output stays finite, bounded and comes to rest (engine.evaluate.behaviour), and (3) runs what the
engine itself chooses (with its fallback) and observes that too. Models: every file in
../shared/fixtures, the project's own models (the default one and the LSTM-40 set), the PyTorch fixtures, and random LSTM/GRU networks
of hidden 8-40 at realistic weight scales (PyTorch's init, recurrent weights ×1 to ×3).

The check linearises at the state silence settles to; a model that does not settle even at its own
rate (it oscillates by itself) gives it nothing to linearise and no correction can make it settle,
so such models are listed apart and left out of the prediction counts. Safety is judged on
everything: what the engine runs must stay finite and bounded.

Usage: python benchmarks/below_rate.py [--out benchmarks/reports/below_rate.md]
"""

import argparse
import glob
import os
import sys
import warnings

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import engine  # noqa: E402
from engine.evaluate import behaviour  # noqa: E402
from engine.processor import knob_values  # noqa: E402
from engine.stability import is_stable, linearise, spectral_radius  # noqa: E402

MODEL_RATE = 48000.0
RUN_RATE = 44100.0
METHODS = ("linear", "cubic", "lagrange5")


def population():
    """(name, Model) pairs: real files and random networks, all treated as 48 kHz models."""
    from engine.testing import random_model

    files = sorted(glob.glob(os.path.join(REPO, "..", "shared", "fixtures", "*", "*.json"))
                   + glob.glob(os.path.join(REPO, "..", "shared", "fixtures", "*", "*.nam"))
                   + glob.glob(os.path.join(REPO, "models", "*.json"))
                   + glob.glob(os.path.join(REPO, "models", "lstm40", "*.json"))
                   + glob.glob(os.path.join(REPO, "tests", "fixtures", "torch", "*.guitarml.json")))
    files = [path for path in files if not path.endswith(".report.json")]  # tools/train.py's reports, not models
    for path in files:
        yield os.path.basename(path), engine.load_model(path, sample_rate=MODEL_RATE)
    for index, (cell, hidden, scale) in enumerate([(c, h, s) for s in (1, 2, 3) for c in ("lstm", "gru")
                                                   for h in (8, 16, 40)]):
        model = random_model(cell, hidden=hidden, seed=100 + index, sample_rate=MODEL_RATE)
        layer = model.layers[0]
        object.__setattr__(layer, "weight_hh", (scale * layer.weight_hh).astype(np.float32))
        yield f"random {cell.upper()}-{hidden}, recurrent x{scale}", model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "below_rate.md"))
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    from engine.testing import guitar_like_signal

    x = 2 * guitar_like_signal(int(args.seconds * RUN_RATE), RUN_RATE, seed=5)
    counts = {"hit": 0, "miss": 0, "false alarm": 0, "correct stable": 0}
    engine_runs = engine_bounded = engine_at_rest = 0
    rows, oscillators = [], []
    for name, model in population():
        controls = knob_values(model)

        def processor(method, rate=RUN_RATE, check=False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", engine.StabilityWarning)
                return engine.Processor(model, sample_rate=rate, interpolation=method, check_stability=check,
                                        controls=controls)

        linearisation = linearise(model, controls)
        own_rate = behaviour(processor("naive", MODEL_RATE), x)["ok"]
        cells = []
        for method in METHODS:
            predicted = is_stable(linearisation, method, RUN_RATE / MODEL_RATE)
            actual = behaviour(processor(method), x)["ok"]
            if own_rate:
                key = ("correct stable" if actual else "miss") if predicted else ("false alarm" if actual else "hit")
                counts[key] += 1
            chosen = processor(method, check=True)
            seen = behaviour(chosen, x)
            engine_runs += 1
            engine_bounded += seen["finite"] and seen["peak"] < 100
            engine_at_rest += seen["ok"]
            radius = spectral_radius(linearisation, method, RUN_RATE / MODEL_RATE)
            cells.append(f"{radius:.3f} {'safe' if predicted else 'UNSAFE'} / {'ok' if actual else 'FAILS'}"
                         f" → runs {chosen.interpolation}, peak {seen['peak']:.2f}"
                         f"{'' if seen['ok'] else ', not at rest'}")
        row = f"| {name} | " + " | ".join(cells) + " |"
        (rows if own_rate else oscillators).append(row)
        print(row, flush=True)
    total = sum(counts.values())
    summary = [
        f"Models: {len(rows) + len(oscillators)} ({len(oscillators)} of them oscillate by themselves at their own rate); "
        f"48 kHz models run at 44.1 kHz (R = 0.9188).",
        f"Prediction vs what happened when the method was forced to run ({total} cases, models that settle at their "
        f"own rate): {counts['correct stable']} predicted safe and fine, {counts['hit']} predicted unsafe and failed, "
        f"{counts['false alarm']} predicted unsafe but fine (false alarms), {counts['miss']} predicted safe but "
        f"failed (misses): {100 * (counts['correct stable'] + counts['hit']) / max(total, 1):.1f} % right.",
        f"What the engine runs (its choice, with fallback), over all {engine_runs} cases: {engine_bounded} finite "
        f"and bounded (|y| < 100), {engine_at_rest} also at rest after the signal.",
    ]
    header = "| model | " + " | ".join(METHODS) + " |\n|---|" + "---|" * len(METHODS) + "\n"
    with open(args.out, "w") as handle:
        handle.write("# Below the training rate: stability check vs reality\n\n")
        handle.write(f"Made by `python benchmarks/below_rate.py` ({args.seconds:g} s of a guitar-like signal at full "
                     "scale, then as long of silence; 'ok' = finite, |y| < 100, and at rest in the silence).\n\n")
        handle.write("\n\n".join(summary) + "\n\n")
        handle.write("Each cell: spectral radius, the check's verdict / what happened when the method was forced "
                     "→ what the engine runs, and its peak.\n\n")
        handle.write(header + "\n".join(rows) + "\n")
        if oscillators:
            handle.write("\n## Models that oscillate by themselves at their own rate\n\n"
                         "No correction can make these settle; they only show that what the engine runs stays bounded.\n\n")
            handle.write(header + "\n".join(oscillators) + "\n")
    print("\n".join(summary))
    print(f"wrote {args.out}")
    return 0 if engine_bounded == engine_runs else 1


if __name__ == "__main__":
    sys.exit(main())
