"""Past the published methods: other fractional-delay reads of the state, scored against cubic.

Each candidate is an FIR read ŝ_n = Σ_m t_m·s_{n−e−m} (e as the Lagrange windows place it: the
window as centred as the available past states allow) designed at each R, run by the engine on
the LSTM-40 set (models/lstm40) with the published protocol (engine.evaluate, the demo clip), and
compared model by model with cubic, at 48 and 96 kHz. Designs:

- ``lagrange N``: Lagrange of order N−1 (maximally flat at DC: moments 0..N−1 of the taps match R);
  N = 4 is cubic, N = 6 the engine's lagrange5.
- ``flat N/K``: N taps, moments 0..K−1 matched (flat to order K−1 at DC), the N−K remaining
  degrees of freedom spent on the smallest peak gain max_ω |H(e^jω)| (a feedback read that
  amplifies some frequency of the state is what destabilises or colours a model).
- ``least squares N, band B``: N taps minimising Σ_ω w(ω)·|H(e^jω) − e^{−jωR}|² with w = 1 up to
  B·π and 0.01 above (the classic equal-weight design), DC gain held at exactly 1.

The engine's Processor builds its read with engine.delay.read_filter; to run a candidate, this
script swaps that function inside engine.processor for the duration of one run (research only).

Usage: python benchmarks/fd_designs.py [--out benchmarks/reports/fd_designs.md]
"""

import argparse
import contextlib
import functools
import glob
import math
import os
import sys
import time

import numpy as np
import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import engine  # noqa: E402
import engine.processor  # noqa: E402
from engine.delay import read_filter  # noqa: E402
from engine.evaluate import candidate_output, reference_output, snr_db  # noqa: E402
from engine.resample import resample  # noqa: E402

RATES = (48000.0, 96000.0)
GRID = np.linspace(0.0, np.pi, 1024)


def window_offset(ratio, taps):
    """The first past state the read uses: centred on R where the past allows, else s_{n−1}."""
    return max(1, math.floor(ratio) - (taps - 1) // 2)


def moments(ratio, taps, count):
    """The moment equations Σ_m t_m·(e+m)^k = R^k, k < count (flatness of the delay at DC)."""
    positions = np.arange(taps) + window_offset(ratio, taps)
    return np.vstack([positions ** k for k in range(count)]).astype(np.float64), ratio ** np.arange(count)


def response(ratio, taps_values):
    """H(e^jω) of the read on GRID."""
    positions = np.arange(len(taps_values)) + window_offset(ratio, len(taps_values))
    return np.exp(-1j * np.outer(GRID, positions)) @ taps_values


def lagrange(taps):
    def design(ratio):
        a, b = moments(ratio, taps, taps)
        return np.linalg.solve(a, b)
    return f"lagrange {taps}", design


def flat(taps, count):
    def design(ratio):
        from scipy.optimize import minimize

        a, b = moments(ratio, taps, count)
        particular = np.linalg.lstsq(a, b, rcond=None)[0]
        free = np.linalg.svd(a)[2][count:].T  # the null space of the moment equations

        def peak(z):
            return float(np.abs(response(ratio, particular + free @ z)).max())
        z = minimize(peak, np.zeros(free.shape[1]), method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000}).x
        return particular + free @ z
    return f"flat {taps}/{count}", design


def least_squares(taps, band):
    def design(ratio):
        weight = np.where(GRID <= band * np.pi, 1.0, 0.01)
        positions = np.arange(taps) + window_offset(ratio, taps)
        a = np.exp(-1j * np.outer(GRID, positions)) * weight[:, None]
        b = np.exp(-1j * GRID * ratio) * weight
        a = np.vstack([a.real, a.imag, 1e4 * np.ones((1, taps))])  # the last row holds Σ t = 1
        b = np.concatenate([b.real, b.imag, [1e4]])
        return np.linalg.lstsq(a, b, rcond=None)[0]
    return f"least squares {taps}, band {band:g}π", design


DESIGNS = [lagrange(6), flat(5, 4), flat(6, 5), flat(6, 4), flat(7, 5), flat(7, 6),
           least_squares(4, 0.5), least_squares(6, 0.5), least_squares(8, 0.5)]


@contextlib.contextmanager
def read_of_cubic_replaced_by(design):
    """Within the block, every Processor asked for "cubic" at a fractional R reads with ``design``."""
    def candidate_read(method, ratio):
        if method == "cubic" and ratio != int(ratio):
            taps = design(ratio)  # cached per ratio (see main): every model at a rate reads with the same taps
            return window_offset(ratio, len(taps)), taps.astype(np.float32), 0.0
        return read_filter(method, ratio)
    engine.processor.read_filter = candidate_read
    try:
        yield
    finally:
        engine.processor.read_filter = read_filter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "fd_designs.md"))
    args = parser.parse_args()
    started = time.time()
    clip, clip_rate = soundfile.read(os.path.join(REPO, "models", "demo_di.wav"), dtype="float32")
    files = sorted(p for p in glob.glob(os.path.join(REPO, "models", "lstm40", "*.json"))
                   if not p.endswith(".report.json"))
    models = []
    for path in files:
        model = engine.load_model(path)
        x = resample(clip, clip_rate, model.sample_rate)
        models.append((os.path.basename(path), model, x, reference_output(model, x)))

    def scores():
        """SNR (dB) per model and rate; the stability check is off so that the design itself is measured."""
        out = np.empty((len(models), len(RATES)))
        for i, (_, model, x, reference) in enumerate(models):
            for j, rate in enumerate(RATES):
                y, _ = candidate_output(model, x, rate, "cubic", check_stability=False)
                out[i, j] = snr_db(reference, y) if np.all(np.isfinite(y)) else -math.inf
        return out

    cubic = scores()
    print(f"cubic: mean {cubic.mean(axis=0).round(1)} dB at {RATES}", flush=True)
    rows = []
    for name, design in DESIGNS:
        design = functools.lru_cache(maxsize=None)(design)  # one design per rate, not per model
        with read_of_cubic_replaced_by(design):
            got = scores()
        diff = got - cubic
        peaks = [float(np.abs(response(rate / 44100.0, design(rate / 44100.0))).max()) for rate in RATES]
        rows.append((name, got.mean(axis=0), diff.mean(axis=0), diff.min(axis=0), (diff >= -0.05).sum(axis=0), peaks))
        print(f"{name}: mean {got.mean(axis=0).round(1)}, vs cubic mean {diff.mean(axis=0).round(1)}, "
              f"worst {diff.min(axis=0).round(1)}", flush=True)

    lines = ["# Other fractional-delay reads of the state, against cubic", "",
             f"Made by `python benchmarks/fd_designs.py` ({time.strftime('%Y-%m-%d')}, "
             f"{(time.time() - started) / 60:.1f} min). The design families are described in the script's docstring.",
             "", f"The {len(models)} LSTM-40 models of models/lstm40 (six through a speaker cabinet, six bare "
             "pedals), the published protocol on the demo clip, each design run with the stability check off. "
             "Cubic's mean SNR: " + ", ".join(f"{r / 1000:g} kHz {v:.1f} dB" for r, v in zip(RATES, cubic.mean(axis=0)))
             + ". Δ = design − cubic per model, dB; \"≥ cubic\" counts models within 0.05 dB or above.", "",
             "| design | " + " | ".join(f"{r / 1000:g} kHz: mean SNR | mean Δ | worst Δ | ≥ cubic | max \\|H\\|"
                                       for r in RATES) + " |",
             "|---|" + "---|---|---|---|---|" * len(RATES)]
    for name, mean, mean_diff, worst, ahead, peaks in rows:
        cells = [f"{mean[j]:.1f} | {mean_diff[j]:+.1f} | {worst[j]:+.1f} | {ahead[j]}/{len(models)} | {peaks[j]:.3f}"
                 for j in range(len(RATES))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print(f"wrote {args.out} in {(time.time() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
