"""The published quality protocol (SRC.md) on real models: every shared fixture, the default model, the LSTM-40 set.

For each model it runs engine.evaluate.evaluate (the model at its own rate is the reference; each
method runs at the target rate on the FFT-resampled input and its output is resampled back; SNR
over the whole clip) on the demo clip (models/demo_di.wav, resampled to the model's rate), at
48, 88.2 and 96 kHz with every method in engine.delay.INTERPOLATIONS. Models are taken at the
rate their file states, or their format's default (see engine.load_model).

It writes a Markdown report (per-model SNR table, and for the LSTM-40 set -- models/lstm40/*.json,
LSTM-40 models trained at 44.1 kHz like GuitarML's, in three groups: amps through a close-miked
cabinet, *_mic.json (as rate-sensitive as real captures), circuits through a plain speaker cabinet,
*_cab.json, and bare pedals -- mean, median and worst-model SNR per method per group and for all
together, next to the published numbers of SRC.md, and the cubic - linear gap) and the
scores as CSV.

Usage: python benchmarks/quality_report.py [--out benchmarks/reports/quality.md] [--csv benchmarks/reports/quality.csv]
"""

import argparse
import csv
import glob
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict

import numpy as np
import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.normpath(os.path.join(REPO, "..", "shared", "fixtures"))
DEMO_CLIP = os.path.join(REPO, "models", "demo_di.wav")
DEFAULT_MODEL = os.path.join(REPO, "models", "overdrive_lstm20.json")
LSTM40_DIR = os.path.join(REPO, "models", "lstm40")

#: The groups of the LSTM-40 set (models/lstm40), by file name: amps heard through a close-miked
#: cabinet (``*_mic.json``: cone break-up peaks and notches, as rate-sensitive as real captures), a
#: circuit heard through the plain speaker cabinet (``*_cab.json``), and the bare pedal circuits.
LSTM40_GROUPS = {"lstm40-miked": "Amps through a close-miked cabinet (`*_mic.json`)",
                 "lstm40-cabinet": "Amps and pedals through a speaker cabinet (`*_cab.json`)",
                 "lstm40-pedal": "Bare pedal circuits"}


def lstm40_group(path):
    """The LSTM40_GROUPS key of a models/lstm40 file, from its name."""
    if path.endswith("_mic.json"):
        return "lstm40-miked"
    return "lstm40-cabinet" if path.endswith("_cab.json") else "lstm40-pedal"

RATES = (48000.0, 88200.0, 96000.0)
SUMMARY_RATES = (48000.0, 88200.0, 96000.0)

#: SRC.md, "Published means over 18 GuitarML LSTM-40 models trained at 44.1 kHz (DAFx 2024)":
#: rate -> method -> (mean dB, worst-model dB or None). Lagrange-5 is not published.
PUBLISHED = {
    48000.0: {"naive": (9.8, None), "linear": (31.7, None), "allpass": (46.4, 14.5), "cubic": (47.9, 32.9)},
    88200.0: {"naive": (-1.4, None), "linear": (57.3, None), "allpass": (57.3, None), "cubic": (57.3, None)},
    96000.0: {"naive": (-1.6, None), "linear": (37.9, None), "allpass": (54.5, None), "cubic": (56.7, None)},
}


def model_files():
    """(set, path) of every model to score: shared fixtures, the default model, the LSTM-40 set."""
    fixtures = sorted(glob.glob(os.path.join(FIXTURES, "*", "*.json")) + glob.glob(os.path.join(FIXTURES, "*", "*.nam")))
    lstm40 = sorted(p for p in glob.glob(os.path.join(LSTM40_DIR, "*.json")) if not p.endswith(".report.json"))
    order = list(LSTM40_GROUPS)
    lstm40.sort(key=lambda p: order.index(lstm40_group(p)))  # the amp captures first (a stable sort)
    return ([("fixture", p) for p in fixtures] + [("default", DEFAULT_MODEL)]
            + [(lstm40_group(p), p) for p in lstm40])


def check_replacement(model, x, clip, clip_rate, score):
    """Run a method the engine replaced anyway (check_stability=False): its SNR, and whether it settles.

    engine.evaluate.behaviour: the demo clip (×2, as a loud input) at the run rate, then as long again
    of silence; ok = finite, peak < 100 and the last 10 % of the silence still (std < 1e-3).
    """
    import warnings

    import engine
    from engine.evaluate import behaviour, candidate_output, reference_output, snr_db
    from engine.resample import resample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, _ = candidate_output(model, x, score.rate, score.method, check_stability=False)
        processor = engine.Processor(model, sample_rate=score.rate, interpolation=score.method, check_stability=False)
        observed = behaviour(processor, resample(2 * clip, clip_rate, score.rate))
        snr = snr_db(reference_output(model, x), y) if np.all(np.isfinite(y)) else float("nan")
    return {"method": score.method, "ran": score.ran, "rate": score.rate, "ratio": score.ratio, "snr_db": snr,
            **observed}


def read_filter_gain(method, ratio, points=4096):
    """max over ω of |H(e^jω)| of the state read (taps and, for the allpass, its recursion), and where (ω/π)."""
    from engine.delay import read_filter

    offset, taps, feedback = read_filter(method, ratio)
    omega = np.linspace(0.0, np.pi, points)
    z = np.exp(-1j * omega)
    h = sum(float(t) * z ** (offset + m) for m, t in enumerate(taps)) / (1.0 - feedback * z)
    peak = int(np.argmax(np.abs(h)))
    return float(np.abs(h[peak])), float(omega[peak] / np.pi), float(np.abs(h[-1])), offset, len(taps)


def label(path):
    path = os.path.normpath(path)
    if path.startswith(FIXTURES + os.sep):
        return "fixtures/" + os.path.relpath(path, FIXTURES)
    return os.path.relpath(path, REPO)


def training_report(path):
    """The training report JSON next to a model made by tools/train.py, or None."""
    report = path[:-5] + ".report.json"
    if os.path.isfile(report):
        with open(report, encoding="utf-8") as handle:
            return json.load(handle)
    return None


def describe(model):
    cells = "+".join(f"{layer.cell.upper()}-{layer.hidden_size}" for layer in model.recurrent_layers)
    return f"{cells}, {model.format}, {model.sample_rate:g} Hz ({model.sample_rate_source})"


def fmt(value):
    if value is None:
        return "—"
    if math.isinf(value):
        return "exact" if value > 0 else "−inf"
    if math.isnan(value):
        return "nan"
    return f"{value:.1f}"


def cell_text(score):
    text = fmt(score.snr_db)
    if score.ran != score.method:
        text += f" (ran {score.ran})†"
    return text


def summary_rows(results, rate, methods):
    """Per method: mean, median, worst SNR over the LSTM-40 set at ``rate``, and the worst model."""
    rows = {}
    for method in methods:
        values = []
        for entry in results:
            score = next(s for s in entry["scores"] if s.rate == rate and s.method == method)
            values.append((score.snr_db, entry["label"], score.ran != score.method))
        snrs = [v for v, _, _ in values]
        worst = min(values, key=lambda v: v[0])
        rows[method] = {"mean": float(np.mean(snrs)), "median": float(statistics.median(snrs)),
                        "worst": worst[0], "worst_model": worst[1], "replaced": sum(r for _, _, r in values)}
    return rows


def gap(results, rate, a="cubic", b="linear"):
    """a − b per LSTM-40 model at ``rate`` (dB)."""
    out = []
    for entry in results:
        by = {s.method: s.snr_db for s in entry["scores"] if s.rate == rate}
        out.append((entry["label"], by[a] - by[b]))
    return out


def summary_section(title, entries, methods):
    """Markdown lines: per rate, mean/median/worst per method over ``entries``, and the cubic − linear gap."""
    lines = [f"### {title}", ""]
    for rate in SUMMARY_RATES:
        ratio = rate / 44100.0
        rows = summary_rows(entries, rate, methods)
        published = PUBLISHED.get(rate, {})
        lines += [f"#### {rate / 1000:g} kHz (R = {ratio:.4f})", "",
                  "| method | mean | median | worst model | published mean (18 GuitarML LSTM-40) | published worst |",
                  "|---|---|---|---|---|---|"]
        for method in methods:
            row = rows[method]
            pub_mean, pub_worst = published.get(method, (None, None))
            replaced = f" ({row['replaced']} replaced)" if row["replaced"] else ""
            lines.append(f"| {method}{replaced} | {fmt(row['mean'])} | {fmt(row['median'])} | "
                         f"{fmt(row['worst'])} (`{os.path.basename(row['worst_model'])}`) | "
                         f"{fmt(pub_mean)} | {fmt(pub_worst)} |")
        if "cubic" in methods and "linear" in methods:
            values = [g for _, g in gap(entries, rate)]
            ahead = sum(g >= 0 for g in values)
            pub = published.get("cubic", (None,))[0], published.get("linear", (None,))[0]
            pub_gap = f"{pub[0] - pub[1]:.1f} dB" if None not in pub else "—"
            lines += ["", f"cubic − linear: mean {np.mean(values):+.1f} dB (published: {pub_gap}); "
                          f"smallest {min(values):+.1f} dB, largest {max(values):+.1f} dB; "
                          f"cubic ≥ linear on {ahead} of {len(values)} models"
                          f"{' (every model)' if ahead == len(values) else ''}."]
            if "lagrange5" in methods:
                v5 = [g for _, g in gap(entries, rate, "lagrange5", "cubic")]
                lines += ["", f"lagrange5 − cubic: mean {np.mean(v5):+.1f} dB; smallest {min(v5):+.1f} dB, "
                              f"largest {max(v5):+.1f} dB; lagrange5 ≥ cubic on "
                              f"{sum(g >= 0 for g in v5)} of {len(v5)} models."]
        lines.append("")
    return lines


def write_markdown(path, command, results, methods, csv_path, clip_seconds, elapsed):
    lines = [
        "# Quality of the rate correction on real models (the published protocol, SRC.md)",
        "",
        f"Made by `{command}` ({time.strftime('%Y-%m-%d')}, {elapsed / 60:.1f} min on this machine).",
        "",
        "Protocol (engine.evaluate.evaluate, as `engine-eval`): the reference is the unmodified model at its own rate "
        f"F_model on the demo clip (`models/demo_di.wav`, {clip_seconds:.1f} s, resampled to F_model); the candidate "
        "is each method run at F_run on the clip FFT-resampled to F_run, its output FFT-resampled back to F_model. "
        "SNR = 10·log10(Σ y_ref² / Σ (y_ref − ŷ)²) over the whole clip, in dB, higher is better. "
        "\"exact\": identical to the reference (R = 1). "
        "† the method was predicted unstable there and the engine ran the one named instead.",
        "",
        "Models are taken at the rate their file states or their format's default "
        "(fixtures without a stored rate are treated as 44.1 kHz models by engine.load_model's default). "
        "The rtneural fixtures are test networks (random or toy training), not amp models; "
        "`centaur_0_gru8` is a real Klon Centaur gain-stage model; `lstm_1x3.nam` is NAM's example LSTM (48 kHz).",
        "",
    ]

    lstm40 = [e for e in results if e["set"] in LSTM40_GROUPS]
    if lstm40:
        lines += ["## The LSTM-40 set (models/lstm40: LSTM, hidden 40, 1 layer, skip 1, trained at 44.1 kHz)", "",
                  "Three groups, trained the same way on the same synthesised DI: amps heard through a "
                  "close-miked cabinet (`*_mic.json`, tools/circuits.py `miked_cabinet`: cone break-up peaks and "
                  "notches), amp and pedal circuits heard through a plain speaker cabinet (`*_cab.json`, "
                  "tools/circuits.py `cabinet`), as most real amp captures are, and the bare pedal circuits. The naive row measures how much a model's sound depends on "
                  "the rate at all (the published GuitarML set: 9.8 dB at 48 kHz, −1.6 dB at 96 kHz).", "",
                  "| model | group | circuit | epochs | test ESR (engine, 44.1 kHz) |", "|---|---|---|---|---|"]
        for entry in lstm40:
            report = entry["report"] or {}
            lines.append(f"| `{entry['label']}` | {entry['set']} | {report.get('circuit', '?')} | "
                         f"{report.get('epochs_run', '?')} (best {report.get('best_epoch', '?')}) | "
                         f"{report.get('test_esr_engine', float('nan')):.5f} |")
        lines.append("")
        for group, title in LSTM40_GROUPS.items():
            members = [e for e in lstm40 if e["set"] == group]
            if members:
                lines += summary_section(f"{title} ({len(members)} models)", members, methods)
        if len({e["set"] for e in lstm40}) > 1:
            lines += summary_section(f"All groups together ({len(lstm40)} models)", lstm40, methods)

    replaced = [(entry, row) for entry in results for row in entry["replaced"]]
    if replaced:
        lines += ["## Replaced methods, run anyway", "",
                  "Each method the engine replaced was also run with the check off: its SNR on the protocol, and "
                  "whether the model settles after the demo clip ×2 followed by as long of silence "
                  "(engine.evaluate.behaviour: finite, peak < 100, the last 10 % of the silence still).", "",
                  "| model | F_run | R | asked | ran | asked, run anyway: SNR | settles? | peak |",
                  "|---|---|---|---|---|---|---|---|"]
        for entry, row in replaced:
            lines.append(f"| `{entry['label']}` | {row['rate'] / 1000:g} kHz | {row['ratio']:.4f} | {row['method']} | "
                         f"{row['ran']} | {fmt(row['snr_db'])} | {'yes' if row['ok'] else '**no**'} | "
                         f"{row['peak']:.3g} |")
        lines.append("")

    ratios = sorted({s.ratio for entry in results for s in entry["scores"] if s.ratio != 1.0})
    lines += ["## The state read as a filter", "",
              "Gain of each method's read ŝ_n = Σ taps·s_{n−e−m} (+ the allpass recursion) over frequency, from "
              "engine.delay.read_filter: an ideal fractional delay has |H| = 1 everywhere; |H| > 1 feeds some "
              "frequencies of the state back amplified. ω is in units of π (1 = Nyquist of F_run).", "",
              "| R | method | e | taps | max \\|H\\| (at ω/π) | \\|H\\| at Nyquist |", "|---|---|---|---|---|---|"]
    for ratio in ratios:
        for method in methods:
            if method in ("naive", "resample"):  # no read to correct (resample: the model at its own rate)
                continue
            peak, where, nyquist, offset, count = read_filter_gain(method, ratio)
            lines.append(f"| {ratio:.4f} | {method} | {offset} | {count} | {peak:.3f} ({where:.2f}) | {nyquist:.3f} |")
    lines.append("")

    lines += ["## Every model", "", "SNR in dB per run rate and method.", "",
              "| model | what | F_run | R | " + " | ".join(methods) + " |",
              "|---|---|---|---|" + "---|" * len(methods)]
    for entry in results:
        for rate in RATES:
            row = {s.method: s for s in entry["scores"] if s.rate == rate}
            first = row[methods[0]]
            lines.append(f"| `{entry['label']}` | {entry['what']} | {rate / 1000:g} kHz | {first.ratio:.4f} | "
                         + " | ".join(cell_text(row[m]) for m in methods) + " |")
    lines += ["", f"Scores as CSV: `{os.path.relpath(csv_path, REPO)}`.", ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def write_csv(path, results):
    fields = ["set", "file"] + list(asdict(results[0]["scores"][0]))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for entry in results:
            for score in entry["scores"]:
                writer.writerow({"set": entry["set"], "file": entry["label"], **asdict(score)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "quality.md"))
    parser.add_argument("--csv", default=os.path.join(REPO, "benchmarks", "reports", "quality.csv"))
    args = parser.parse_args(argv)

    import engine
    from engine.delay import INTERPOLATIONS
    from engine.evaluate import evaluate, format_table
    from engine.resample import resample

    methods = list(INTERPOLATIONS)
    clip, clip_rate = soundfile.read(DEMO_CLIP, dtype="float32", always_2d=True)
    clip = clip[:, 0]
    files = model_files()
    started = time.time()
    print(f"{len(files)} models x {len(RATES)} rates x {len(methods)} methods on {os.path.basename(DEMO_CLIP)} "
          f"({len(clip) / clip_rate:.1f} s)", flush=True)
    results = []
    for index, (group, path) in enumerate(files, 1):
        model = engine.load_model(path)
        x = resample(clip, clip_rate, model.sample_rate)
        what = describe(model)
        print(f"[{index}/{len(files)}] {label(path)}: {what}", flush=True)
        model_started = time.time()

        def progress(done, total):
            if sys.stdout.isatty():
                print(f"  {done}/{total} ({time.time() - model_started:.0f} s)", end="\r", flush=True)

        scores = evaluate(model, x, RATES, methods, progress=progress)
        if sys.stdout.isatty():
            print(" " * 40, end="\r")
        print(format_table(scores), flush=True)
        print(f"  done in {time.time() - model_started:.1f} s (total {time.time() - started:.0f} s)", flush=True)
        replaced = [check_replacement(model, x, clip, clip_rate, score) for score in scores if score.ran != score.method]
        for row in replaced:
            print(f"  {row['method']} at {row['rate']:g} Hz was replaced by {row['ran']}; run anyway: "
                  f"SNR {fmt(row['snr_db'])} dB, {'settles' if row['ok'] else 'does NOT settle'} "
                  f"(peak {row['peak']:.3g}, tail std {row['tail_std']:.2g})", flush=True)
        results.append({"set": group, "path": path, "label": label(path), "what": what, "scores": scores,
                        "report": training_report(path), "replaced": replaced})

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    command = "python " + " ".join([os.path.relpath(os.path.abspath(__file__), REPO)] + (argv if argv is not None
                                                                                          else sys.argv[1:]))
    write_csv(args.csv, results)
    write_markdown(args.out, command, results, methods, os.path.abspath(args.csv), len(clip) / clip_rate,
                   time.time() - started)
    print(f"wrote {args.out} and {args.csv} in {(time.time() - started) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
