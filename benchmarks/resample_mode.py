"""The resample mode and oversampling against their acceptance (issue 11, items 2 and 3), in one run.

Sections (each printed, all written to the report):

1. Quality at 48 kHz for 44.1 kHz models: the published protocol (SRC.md; engine.evaluate, as
   engine-eval: the model at its own rate on the demo clip is the reference, each method runs at
   48 kHz on the FFT-resampled clip, its output is FFT-resampled back, its latency compensated;
   SNR over the whole clip) on the LSTM-40 set (models/lstm40), every method: mean, median,
   worst. Acceptance: resample's mean ≥ cubic's + 10 dB.
2. Below the training rate: the same models taken as 48 kHz models, run at 44.1 kHz (R = 0.919).
   Acceptance: on every model, resample ≥ the best state read the stability rule lets run.
3. Latency (Processor.latency, exact) of each resampler pair. Acceptance: ≤ 72 samples (1.5 ms)
   at 48 kHz for the 44.1 kHz models.
4. Cost per sample, the medians of interleaved runs in this one process (blocks of 128): each
   configuration of an LSTM-40 against the model's own cost at its own rate. Acceptance:
   resample at 48 kHz ≤ 1.5 × the model's own.
5. Aliasing (engine.aliasing: ASR on five loud sines whose harmonics fold) per method and
   oversampling factor at 48 kHz on the project's hardest-clipping model (the most harmonic
   distortion on a 220 Hz sine at −6 dBFS, among the default model, the LSTM-40 set,
   tests/fixtures and the shared fixtures) and on the hardest-clipping trained model, and per
   model. Acceptance: ×2 lowers their ASR by ≥ 10 dB.
6. The design choices behind engine/resampler (Kaiser β, filter length, transition placement),
   each re-measured on section 1's protocol with scipy's upfirdn running the engine's own
   design.plan filters around the model at its own rate (--no-sweep skips it).

Usage: python benchmarks/resample_mode.py [--out benchmarks/reports/resample_mode.md] [--seconds S] [--no-sweep]
"""

import argparse
import glob
import math
import os
import statistics
import sys
import time
import warnings

import numpy as np
import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CLIP = os.path.join(REPO, "models", "demo_di.wav")
DEFAULT_MODEL = os.path.join(REPO, "models", "overdrive_lstm20.json")
LSTM40_DIR = os.path.join(REPO, "models", "lstm40")
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "fixtures"))
METHODS = ("naive", "linear", "cubic", "lagrange5", "allpass", "resample")
STATE_READS = ("naive", "linear", "cubic", "lagrange5", "allpass")
ASR_CONFIGURATIONS = [("linear", 1), ("linear", 2), ("linear", 4), ("cubic", 1), ("cubic", 2), ("cubic", 4),
                      ("resample", 1), ("resample", 2)]


def lstm40_files():
    return sorted(p for p in glob.glob(os.path.join(LSTM40_DIR, "*.json")) if not p.endswith(".report.json"))


def clip_at(rate, seconds):
    from engine.resample import resample

    clip, clip_rate = soundfile.read(DEMO_CLIP, dtype="float32", always_2d=True)
    clip = clip[:, 0]
    if seconds:
        clip = clip[:int(seconds * clip_rate)]
    return resample(clip, clip_rate, rate)


def fmt(value):
    return "exact" if math.isinf(value) and value > 0 else f"{value:.1f}"


def summary(values):
    return float(np.mean(values)), float(statistics.median(values)), float(min(values))


# ---- 1 and 2: quality ----------------------------------------------------------------------------------------

def quality(files, model_rate, run_rate, seconds):
    """{model name: {method: (snr, ran)}} on the protocol, models taken at ``model_rate``."""
    import engine
    from engine.evaluate import candidate_output, reference_output, snr_db

    x = clip_at(model_rate, seconds)
    results = {}
    for path in files:
        model = engine.load_model(path, sample_rate=model_rate)
        reference = reference_output(model, x)
        row = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", engine.StabilityWarning)
            for method in METHODS:
                y, ran = candidate_output(model, x, run_rate, method)
                row[method] = (snr_db(reference, y), ran)
        results[model.name] = row
        print(f"  {model.name:24s} " + " ".join(f"{m} {fmt(v[0])}{'' if v[1] == m else '(' + v[1] + ')'}"
                                                 for m, v in row.items()), flush=True)
    return results


def quality_lines(results, title):
    lines = [f"| model | {' | '.join(METHODS)} |", "|---|" + "---|" * len(METHODS)]
    for name, row in results.items():
        cells = [fmt(row[m][0]) + ("" if row[m][1] == m else f" (ran {row[m][1]})") for m in METHODS]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    stats = {m: summary([row[m][0] for row in results.values()]) for m in METHODS}
    lines.append("| **mean / median / worst** | " + " | ".join(f"{fmt(a)} / {fmt(b)} / {fmt(c)}"
                                                              for a, b, c in stats.values()) + " |")
    return [f"### {title}", ""] + lines + [""], stats


def best_stable(row):
    """The best SNR among the state reads that ran as asked (not replaced by the stability rule)."""
    ran = {m: v[0] for m, v in row.items() if m in STATE_READS and v[1] == m}
    method = max(ran, key=ran.get)
    return method, ran[method]


# ---- 3 and 4: latency and cost --------------------------------------------------------------------------------

def latencies():
    import engine
    from engine.testing import random_model

    rows = []
    for model_rate, rate, method, factor in ((44100.0, 48000, "resample", 1), (48000.0, 44100, "resample", 1),
                                             (44100.0, 96000, "resample", 1), (44100.0, 48000, "cubic", 2),
                                             (44100.0, 48000, "cubic", 4), (44100.0, 48000, "resample", 2),
                                             (48000.0, 48000, "linear", 2)):
        processor = engine.Processor(random_model("lstm", hidden=8, sample_rate=model_rate), rate,
                                     interpolation=method, oversample=factor)
        rows.append((model_rate, rate, method, factor, processor.latency, processor.inner_sample_rate))
    return rows


def costs(path, rounds=11, block=128, seconds=0.25):
    """ns per sample (median over interleaved rounds) of each configuration of the model at ``path``."""
    import engine
    from engine.testing import guitar_like_signal

    model = engine.load_model(path)
    configurations = {"own rate (44.1 kHz)": (44100, "linear", 1), "linear, 48 kHz": (48000, "linear", 1),
                      "cubic, 48 kHz": (48000, "cubic", 1), "resample, 48 kHz": (48000, "resample", 1),
                      "cubic ×2, 48 kHz": (48000, "cubic", 2), "cubic ×4, 48 kHz": (48000, "cubic", 4)}
    processors, signals = {}, {}
    for name, (rate, method, factor) in configurations.items():
        processors[name] = engine.Processor(model, rate, interpolation=method, oversample=factor,
                                            max_block_size=block)
        signals[name] = 2 * guitar_like_signal(int(seconds * rate) // block * block, rate)
    times = {name: [] for name in configurations}
    out = np.empty(block, np.float32)
    for _ in range(rounds):
        for name, processor in processors.items():
            x = signals[name]
            started = time.perf_counter_ns()
            for start in range(0, len(x), block):
                processor.process(x[start:start + block], out=out)
            times[name].append((time.perf_counter_ns() - started) / len(x))
    return {name: statistics.median(values) for name, values in times.items()}


# ---- 5: aliasing -------------------------------------------------------------------------------------------------

def clipping_candidates():
    """(path, trained): the project's trained models (default, LSTM-40 set), then its test networks and the shared fixtures."""
    paths = [(p, True) for p in [DEFAULT_MODEL] + lstm40_files()]
    paths += [(p, False) for p in sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "torch", "*.guitarml.json")))]
    if os.path.isdir(SHARED):
        paths += [(p, False) for p in sorted(glob.glob(os.path.join(SHARED, "*", "*.json"))
                                             + glob.glob(os.path.join(SHARED, "*", "*.nam")))]
    return paths


def total_harmonic_distortion_db(model, frequency=220.0, amplitude=0.5):
    """Σ_{k ≥ 2} |Y_kc|² / |Y_c|² of the model at its own rate on a settled coherent sine (dB)."""
    from engine.aliasing import coherent_bin
    from engine.evaluate import reference_output

    rate = model.sample_rate
    frames = int(rate)
    c = coherent_bin(frequency, rate, frames)
    n = np.arange(frames + int(0.5 * rate))
    x = (amplitude * np.sin(2 * np.pi * ((c * n) % frames) / frames)).astype(np.float32)
    power = np.abs(np.fft.rfft(reference_output(model, x)[-frames:].astype(np.float64))) ** 2
    return 10 * math.log10(power[2 * c::c].sum() / power[c])


def label(path):
    path = os.path.normpath(path)
    return "shared/" + os.path.relpath(path, SHARED) if path.startswith(SHARED) else os.path.relpath(path, REPO)


# ---- 6: the design sweep --------------------------------------------------------------------------------------

SWEEP = [("the engine's design (β 8, 22 zero crossings each way, transitions centred)", {}),
         ("β 6 (≈ 63 dB stopband)", dict(beta=6.0)), ("β 10 (≈ 99 dB stopband)", dict(beta=10.0)),
         ("11 zero crossings each way (half the latency)", dict(into_crossings=11, back_crossings=11)),
         ("33 zero crossings each way (1.5× the latency)", dict(into_crossings=33, back_crossings=33)),
         ("stopband below the Nyquist frequency on the way back", dict(back_transition="below")),
         ("stopband below the Nyquist frequency both ways", dict(into_transition="below", back_transition="below"))]


def sweep(files, seconds):
    """Section 1's mean SNR for resample with each alternative design, run offline (scipy.signal.upfirdn)."""
    from scipy.signal import upfirdn

    import engine
    from engine.evaluate import reference_output, snr_db
    from engine.resample import resample
    from engine.resampler.design import plan

    x = clip_at(44100, seconds)
    x48 = resample(x, 44100, 48000, 0.05).astype(np.float64)
    models = [engine.load_model(path) for path in files]
    references = [reference_output(model, x) for model in models]
    rows = []
    for name, options in SWEEP:
        design = plan(48000, 44100, **options)
        inner = upfirdn(design.into.prototype.astype(np.float64), x48, design.into.up, design.into.down)
        d, latency = design.inner_delay, design.latency
        scores = []
        for model, reference in zip(models, references):
            y = np.zeros(len(inner))
            # The model starts with the stream (engine/resampler/kernels.py): it runs from inner sample D on.
            y[d:] = engine.Processor(model, 44100).process(inner[d:].astype(np.float32))
            out = upfirdn(design.back.prototype.astype(np.float64), y, design.back.up, design.back.down)
            back = resample(out[latency:latency + len(x48)], 48000, 44100, 0.05)[:len(x)]
            scores.append(snr_db(reference, back))
        rows.append((name, latency, float(np.mean(scores)), float(min(scores))))
        print(f"  {name}: latency {latency}, mean {rows[-1][2]:.1f} dB, worst {rows[-1][3]:.1f} dB", flush=True)
    return rows


# ---- the report -------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "resample_mode.md"))
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="use only the first S seconds of the demo clip (default: all of it, as the protocol)")
    parser.add_argument("--no-sweep", action="store_true", help="skip section 6 (the design sweep)")
    args = parser.parse_args(argv)

    import engine
    from engine.aliasing import ASR_AMPLITUDE, ASR_FREQUENCIES, measure

    started = time.time()
    files = lstm40_files()
    checks = []
    lines = ["# The resample mode and oversampling: acceptance (issue 11, items 2 and 3)", ""]
    command = "python " + " ".join([os.path.relpath(os.path.abspath(__file__), REPO)]
                                   + (argv if argv is not None else sys.argv[1:]))
    lines += [f"Made by `{command}` ({time.strftime('%Y-%m-%d')}); what each section measures: the script's "
              "docstring. SNR in dB, higher is better; ASR in dB, lower is better.", ""]

    print("1. 44.1 kHz models at 48 kHz (the protocol)", flush=True)
    above = quality(files, 44100.0, 48000, args.seconds)
    section, stats = quality_lines(above, "1. The LSTM-40 set (44.1 kHz models) at 48 kHz: the published protocol")
    lines += section
    gain = stats["resample"][0] - stats["cubic"][0]
    checks.append((f"resample's mean SNR at 48 kHz is {stats['resample'][0]:.1f} dB, {gain:+.1f} dB against cubic's "
                   f"{stats['cubic'][0]:.1f} dB (needed: +10 dB)", gain >= 10))

    print("2. 48 kHz models at 44.1 kHz", flush=True)
    below = quality(files, 48000.0, 44100, args.seconds)
    section, _ = quality_lines(below, "2. The same models as 48 kHz models at 44.1 kHz (R = 0.919)")
    lines += section
    margins = []
    lines += ["| model | best stable state read | resample | margin |", "|---|---|---|---|"]
    for name, row in below.items():
        method, value = best_stable(row)
        margins.append(row["resample"][0] - value)
        lines.append(f"| `{name}` | {method} {fmt(value)} | {fmt(row['resample'][0])} | {margins[-1]:+.1f} |")
    lines.append("")
    checks.append((f"below the training rate resample beats the best stable read on {sum(m >= 0 for m in margins)} of "
                   f"{len(margins)} models (smallest margin {min(margins):+.1f} dB)", min(margins) >= 0))

    print("3. latency", flush=True)
    rows = latencies()
    lines += ["### 3. Latency (Processor.latency: exact, whole samples at the stream's rate)", "",
              "| model rate | stream rate | method | oversample | model runs at | latency (samples) | latency (ms) |",
              "|---|---|---|---|---|---|---|"]
    for model_rate, rate, method, factor, latency, inner in rows:
        lines.append(f"| {model_rate:g} | {rate:g} | {method} | {factor} | {inner:g} Hz | {latency} | "
                     f"{latency / rate * 1e3:.3f} |")
        print(f"  {model_rate:g} Hz model at {rate:g} Hz, {method} ×{factor}: {latency} samples "
              f"({latency / rate * 1e3:.3f} ms)", flush=True)
    lines.append("")
    headline = rows[0][4]
    checks.append((f"resample's round trip at 48 kHz for 44.1 kHz models: {headline} samples "
                   f"({headline / 48:.2f} ms; allowed: 72, 1.5 ms)", headline <= 72))

    print("4. cost", flush=True)
    cost_model = os.path.join(LSTM40_DIR, "crunch_amp.json")
    cost = costs(cost_model)
    own = cost["own rate (44.1 kHz)"]
    lines += [f"### 4. Cost per sample (`{label(cost_model)}`, LSTM-40; blocks of 128; medians of interleaved "
              "rounds in this run)", "", "| configuration | ns per sample | × the model's own |", "|---|---|---|"]
    for name, value in cost.items():
        lines.append(f"| {name} | {value:.0f} | {value / own:.2f} |")
        print(f"  {name}: {value:.0f} ns/sample ({value / own:.2f}×)", flush=True)
    lines.append("")
    ratio = cost["resample, 48 kHz"] / own
    checks.append((f"resample at 48 kHz costs {ratio:.2f}× the model's own per sample (allowed: 1.5×)", ratio <= 1.5))

    print("5. aliasing", flush=True)
    distortion = []
    for path, trained in clipping_candidates():
        model = engine.load_model(path)
        distortion.append((total_harmonic_distortion_db(model), label(path), model, trained))
    distortion.sort(key=lambda item: -item[0])
    hardest = [distortion[0]] + ([] if distortion[0][3] else [next(item for item in distortion if item[3])])
    lines += [f"### 5. Aliasing at 48 kHz (ASR on sines at {', '.join(f'{f:.0f}' for f in ASR_FREQUENCIES)} Hz "
              f"before snapping to a bin, peak {ASR_AMPLITUDE:g})", "",
              "Harmonic distortion (THD) on a 220 Hz sine at −6 dBFS, the highest first: "
              + ", ".join(f"`{name}` {value:+.1f} dB" for value, name, _, _ in distortion[:6]) + ". The "
              "hardest-clipping model overall is a test network with random weights; the hardest trained one is "
              "measured too.", ""]
    for thd, hardest_label, model, trained in hardest:
        print(f"  hardest clipping{' trained' if trained else ''}: {hardest_label} (THD {thd:+.1f} dB)", flush=True)
        scores = {config: measure(model, 48000, *config) for config in ASR_CONFIGURATIONS}
        lines += [f"`{hardest_label}` (THD {thd:+.1f} dB{', trained' if trained else ', a test network'}):", "",
                  "| method | oversample | latency | ASR per sine | mean ASR |", "|---|---|---|---|---|"]
        for (method, factor), score in scores.items():
            lines.append(f"| {method} | {factor} | {score.latency} | {' '.join(f'{v:.1f}' for v in score.asr_db)} | "
                         f"{score.mean_db:.1f} |")
            print(f"  {method} ×{factor}: mean ASR {score.mean_db:.1f} dB", flush=True)
        lines.append("")
        for method in ("linear", "cubic"):
            drop = scores[(method, 1)].mean_db - scores[(method, 2)].mean_db
            checks.append((f"oversampling ×2 lowers {method}'s ASR on `{hardest_label}` by {drop:.1f} dB "
                           "(needed: 10 dB)", drop >= 10))
    lines += ["Every project model (cubic; mean ASR in dB):", "", "| model | ×1 | ×2 | ×4 | ×1 − ×2 |",
              "|---|---|---|---|---|"]
    for path in [DEFAULT_MODEL] + files:
        model = engine.load_model(path)
        values = [measure(model, 48000, "cubic", factor).mean_db for factor in (1, 2, 4)]
        lines.append(f"| `{label(path)}` | " + " | ".join(f"{v:.1f}" for v in values) + f" | {values[0] - values[1]:.1f} |")
    lines += ["", "(A model whose output to a loud high sine is not periodic, such as one that starts to oscillate "
                  "by itself, shows a high ASR that oversampling does not change: that energy is off the harmonics "
                  "but is not aliasing.)", ""]

    if not args.no_sweep:
        print("6. the design sweep", flush=True)
        rows = sweep(files, args.seconds)
        lines += ["### 6. Design choices (section 1's protocol, resample at 48 kHz, offline with scipy's upfirdn)", "",
                  "| design | latency (samples at 48 kHz) | mean SNR | worst SNR |", "|---|---|---|---|"]
        lines += [f"| {name} | {latency} | {mean:.1f} | {worst:.1f} |" for name, latency, mean, worst in rows]
        lines.append("")

    lines[4:4] = ["## Acceptance", ""] + [f"- {'PASS' if ok else 'FAIL'}: {text}" for text, ok in checks] + [""]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(f"{'PASS' if ok else 'FAIL'}: {text}" for text, ok in checks))
    print(f"wrote {args.out} in {time.time() - started:.0f} s")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
