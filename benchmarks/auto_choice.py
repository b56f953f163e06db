"""Does interpolation="auto" pick well? Its probe's choice against every read measured on two signals it never saw.

For every model the project has (the shared fixtures, the default model, the LSTM-40 set of
models/lstm40 and one file per network of tests/fixtures/torch) at 48 and 96 kHz, it measures
every state read with the published protocol (engine.evaluate, as engine-eval and
benchmarks/quality_report.py do: the model at its own rate is the reference, SNR over the whole
signal) on

- the demo clip (models/demo_di.wav, 7 s), and
- a second signal: a held-out synthesised performance (tools/synth.py ``test_clip``, seed 2002,
  the first 6 s: other notes, strums and dynamics than the demo riff), and, reported beside them
  but not part of the criterion, a third (``validation_clip``, seed 1001), which unlike the first
  two played no part in choosing the probe's settings,

and asks engine.auto for its pick (a fresh probe, no cache; the probe is neither signal: one
second of engine.testing.guitar_like_signal with band-limited noise). A row passes when the
pick scores at least the best read's SNR − 1 dB on both signals (the best among the reads the
stability rule lets run; a read it replaces is not a choice the user has).

Each run measures the sets given with ``--sets`` and merges its rows into the JSON beside the
report (so the report can be made in parts, each well under a minute here); the Markdown report
is written from every row the JSON holds. It also summarises, per set and rate, the mean and
worst SNR of each read and of auto on the demo clip: the evidence for the recommendations.

Usage: python benchmarks/auto_choice.py [--sets torch fixture default lstm40-miked lstm40-cabinet lstm40-pedal] [--rates 48000 96000]
       [--out benchmarks/reports/auto_choice.md] [--json benchmarks/reports/auto_choice.json]
"""

import argparse
import glob
import json
import math
import os
import statistics
import sys
import time
import warnings

import soundfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for folder in (HERE, REPO):  # this checkout's engine and tools, not an installed engine
    if folder not in sys.path:
        sys.path.insert(0, folder)

import quality_report  # noqa: E402  (its model list, labels and formatting)

SETS = ("torch", "fixture", "default", "lstm40-miked", "lstm40-cabinet", "lstm40-pedal")
RATES = (48000.0, 96000.0)
SECOND_SECONDS = 6.0
#: A pick may score this much below the best read and still count as right (the issue's acceptance).
MARGIN_DB = 1.0


def model_files(sets):
    """(set, path) of the models of ``sets``: quality_report's list (fixtures, default, the LSTM-40 set in
    its two groups), then one file per network of tests/fixtures/torch."""
    files = list(quality_report.model_files())
    files += [("torch", path) for path in sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "torch",
                                                                        "*.guitarml.json")))]
    return [(group, path) for group, path in files if group in sets]


def signals():
    """{name: (samples, rate)}: the demo clip, the held-out synthesised performance, and a third one.

    The third (tools/synth.py ``validation_clip``, seed 1001) played no part in choosing the probe's
    settings (the first two did: engine/auto.py): it is reported, not part of the pass criterion.
    """
    from tools import synth  # as the tests import it: numba's cache of synth's kernel records the module's name

    clip, clip_rate = soundfile.read(quality_report.DEMO_CLIP, dtype="float32", always_2d=True)
    return {"demo": (clip[:, 0], clip_rate),
            "second": (synth.test_clip(seconds=SECOND_SECONDS), float(synth.SAMPLE_RATE)),
            "third": (synth.validation_clip(seconds=SECOND_SECONDS), float(synth.SAMPLE_RATE))}


def measure(group, path, rates, sources):
    """Every read's SNR on both signals, auto's pick and its margins, for one model at each rate."""
    import engine
    from engine.auto import choose_auto
    from engine.evaluate import evaluate
    from engine.methods import STATE_READS as INTERPOLATIONS  # the reads auto chooses among (resample has latency)
    from engine.processor import knob_values
    from engine.resample import resample

    model = engine.load_model(path)
    knobs = knob_values(model)  # mid-travel, as engine-eval
    rows = []
    for rate in rates:
        if rate == model.sample_rate:
            continue  # R = 1: every read is the model itself
        row = {"set": group, "model": quality_report.label(path), "what": quality_report.describe(model),
               "rate": rate, "ratio": rate / model.sample_rate}
        for name, (x, x_rate) in sources.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = evaluate(model, resample(x, x_rate, model.sample_rate), [rate], INTERPOLATIONS, controls=knobs)
            row[name] = {s.method: (s.snr_db if s.ran == s.method else None) for s in scores}
        cpu = time.process_time()
        choice = choose_auto(model, rate, knobs, cache=False)
        row["probe_cpu_seconds"] = time.process_time() - cpu  # this process's CPU: what the probe costs on a quiet core
        row["pick"] = choice.method
        row["probe"] = choice.scores
        row["probe_seconds"] = choice.probe_seconds
        for name in sources:
            allowed = [v for v in row[name].values() if v is not None]
            row[f"margin_{name}"] = row[name][choice.method] - max(allowed)
        rows.append(row)
    return rows


def fmt(value):
    return quality_report.fmt(value)


def passed(row):
    return min(row["margin_demo"], row["margin_second"]) >= -MARGIN_DB


def write_markdown(path, rows, command, methods):
    """The report: the verdict, the figures for the recommendations, then every row."""
    lines = ["# interpolation=\"auto\": does its probe pick the best read?", "",
             f"Made by `{command}` and the runs before it that filled `{os.path.basename(path)[:-3]}.json` "
             f"({time.strftime('%Y-%m-%d')}).", "",
             "Every read is scored by the published protocol (SRC.md, `engine.evaluate`) on the demo clip "
             "(`models/demo_di.wav`, 7 s) and on a second signal the probe never saw: a held-out synthesised "
             f"performance (`tools/synth.py` `test_clip`, seed 2002, first {SECOND_SECONDS:g} s). auto's pick comes "
             "from a fresh probe (`engine.auto.choose_auto(..., cache=False)`: 1 s of "
             "`guitar_like_signal` with band-limited noise, neither of the two signals). Margin = the pick's SNR − "
             "the best read's on that signal (the best among the reads the stability rule lets run); a row passes "
             f"at ≥ −{MARGIN_DB:g} dB on both. Knobs of conditioned models at 0.5. The probe's settings were chosen "
             "looking at these two signals (engine/auto.py); a third, `validation_clip` (seed 1001, first "
             f"{SECOND_SECONDS:g} s), played no part in that and is reported beside them.", ""]
    ok = sum(passed(r) for r in rows)
    worst = min(rows, key=lambda r: min(r["margin_demo"], r["margin_second"]))
    lines += [f"**{ok} of {len(rows)} model × rate cases pass** (within {MARGIN_DB:g} dB of the best read on both "
              f"signals); the worst margin is {min(worst['margin_demo'], worst['margin_second']):+.2f} dB "
              f"(`{worst['model']}` at {worst['rate'] / 1000:g} kHz). auto's pick was the best read or within "
              f"0.1 dB of it on the demo clip in {sum(r['margin_demo'] >= -0.1 for r in rows)} cases. On the third "
              f"signal, {sum(r['margin_third'] >= -MARGIN_DB for r in rows)} of {len(rows)} are within {MARGIN_DB:g} dB "
              f"(worst {min(r['margin_third'] for r in rows):+.2f} dB).", ""]
    lstm40 = [r for r in rows if r["set"].startswith("lstm40")]
    if lstm40:
        def cost(key, rate):
            values = [r[key] * 1e3 for r in lstm40 if r["rate"] == rate]
            return f"mean {statistics.mean(values):.0f} ms, max {max(values):.0f} ms"

        lines += ["**Cost of the probe** (the kernels already loaded, as every Processor loads them anyway), on the "
                  f"{len({r['model'] for r in lstm40})} LSTM-40 models: " + "; ".join(
                      f"at {rate / 1000:g} kHz CPU time {cost('probe_cpu_seconds', rate)} (wall-clock "
                      f"{cost('probe_seconds', rate)} on this 2-core machine shared with other work)"
                      for rate in sorted({r['rate'] for r in lstm40})) + ". A cached decision costs a file read "
                  "and, for a read the stability rule checks, one linearisation (milliseconds).", ""]
    lines += ["## How far below the best read each choice falls (demo clip, dB)", "",
              "Per case, the best read's SNR minus the choice's (0 = the best); mean and worst over the cases (a "
              "read the stability rule replaced is left out of its column).", "",
              "| F_run | cases | " + " | ".join(methods + ["auto"]) + " |", "|---|---|" + "---|" * (len(methods) + 1)]
    for rate in sorted({r["rate"] for r in rows}):
        members = [r for r in rows if r["rate"] == rate]
        cells = []
        for method in methods + ["auto"]:
            losses = []
            for r in members:
                allowed = {m: v for m, v in r["demo"].items() if v is not None}
                value = allowed[r["pick"]] if method == "auto" else r["demo"][method]
                if value is not None:
                    losses.append(max(allowed.values()) - value)
            cells.append(f"{statistics.mean(losses):.1f} / {max(losses):.1f}")
        lines.append(f"| {rate / 1000:g} kHz | {len(members)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += ["## Mean / worst SNR per read on the demo clip (dB)", "",
              "The evidence for the recommendations; auto is the read it picked, per model. A read the stability "
              "rule replaced counts as missing.", "",
              "| set | F_run | models | " + " | ".join(methods + ["auto"]) + " |",
              "|---|---|---|" + "---|" * (len(methods) + 1)]
    groups = {}
    for r in rows:
        key = {"lstm40-miked": "lstm40, close-miked cabinet", "lstm40-cabinet": "lstm40, through a cabinet",
               "lstm40-pedal": "lstm40, bare pedals"}.get(r["set"], r["set"])
        groups.setdefault((key, r["rate"]), []).append(r)
    for (key, rate), members in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1])):
        cells = []
        for method in methods + ["auto"]:
            values = [(r["demo"][r["pick"]] if method == "auto" else r["demo"][method]) for r in members]
            values = [v for v in values if v is not None and math.isfinite(v)]
            cells.append(f"{statistics.mean(values):.1f} / {min(values):.1f}" if values else "—")
        lines.append(f"| {key} | {rate / 1000:g} kHz | {len(members)} | " + " | ".join(cells) + " |")
    lines += ["", "## Every case", "",
              "Demo clip / second signal SNR per read (dB); — : replaced by the stability rule. Probe: auto's own "
              "scores on its probe.", "",
              "| model | F_run | " + " | ".join(methods) + " | auto picks | margin demo | margin second | margin third | "
              "probe scores | probe CPU ms |",
              "|---|---|" + "---|" * len(methods) + "---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{fmt(r['demo'][m])} / {fmt(r['second'][m])}" for m in methods]
        probe = ", ".join(f"{m[:4]} {fmt(v)}" for m, v in r["probe"].items())
        flag = "" if passed(r) else " **✗**"
        lines.append(f"| `{r['model']}` | {r['rate'] / 1000:g} kHz | " + " | ".join(cells) +
                     f" | {r['pick']}{flag} | {r['margin_demo']:+.2f} | {r['margin_second']:+.2f} | {r['margin_third']:+.2f} | {probe} | "
                     f"{r['probe_cpu_seconds'] * 1e3:.0f} |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS),
                        help="model sets to measure now (default: all); rows of other sets already in --json are kept")
    parser.add_argument("--rates", nargs="+", type=float, default=list(RATES), metavar="HZ")
    parser.add_argument("--out", default=os.path.join(HERE, "reports", "auto_choice.md"))
    parser.add_argument("--json", default=os.path.join(HERE, "reports", "auto_choice.json"))
    args = parser.parse_args(argv)

    from engine.methods import STATE_READS as INTERPOLATIONS  # the reads auto chooses among (resample has latency)

    started = time.time()
    files = model_files(args.sets)
    sources = signals()
    print(f"{len(files)} models x {len(args.rates)} rates x {len(INTERPOLATIONS)} reads on the demo clip and "
          f"{SECOND_SECONDS:g} s each of tools/synth.py test_clip and validation_clip", flush=True)
    print(f"{'model':44} {'F_run':>6} {'pick':>10} {'demo':>7} {'second':>7} {'third':>7} {'probe':>6}", flush=True)
    fresh = []
    for group, path in files:
        for row in measure(group, path, args.rates, sources):
            fresh.append(row)
            flag = "" if passed(row) else "  FAIL"
            print(f"{row['model'][-44:]:44} {row['rate'] / 1000:>5g}k {row['pick']:>10} {row['margin_demo']:>+7.2f} "
                  f"{row['margin_second']:>+7.2f} {row['margin_third']:>+7.2f} {row['probe_cpu_seconds'] * 1e3:>4.0f}ms{flag}",
                  flush=True)
    kept = []
    if os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as handle:
            kept = json.load(handle)["rows"]
    measured = {(r["model"], r["rate"]) for r in fresh}
    rows = [r for r in kept if (r["model"], r["rate"]) not in measured] + fresh
    order = {s: i for i, s in enumerate(SETS)}
    rows.sort(key=lambda r: (order.get(r["set"], len(SETS)), r["model"], r["rate"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump({"rows": rows}, handle, indent=1)
    command = "python " + " ".join([os.path.relpath(os.path.abspath(__file__), REPO)] +
                                   (argv if argv is not None else sys.argv[1:]))
    write_markdown(args.out, rows, command, list(INTERPOLATIONS))
    failed = [r for r in fresh if not passed(r)]
    print(f"{len(fresh) - len(failed)} of {len(fresh)} cases within {MARGIN_DB:g} dB; wrote {args.out} and "
          f"{args.json} ({len(rows)} rows) in {time.time() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
