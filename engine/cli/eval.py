"""engine-eval: the quality report of the published protocol (SRC.md)."""

import argparse
import math
import os

from ..errors import AudioFileError
from ..methods import AUTO, CHOICES, OVERSAMPLE_FACTORS
from .common import ProgressBar, check_output, entry_point, knob_argument, make_folders, rate_argument, write_output

DEMO_CLIP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models",
                         "demo_di.wav")


@entry_point
def eval_main(argv=None):
    """engine-eval: the quality report of the published protocol (SRC.md)."""
    from ..audiofile import MAX_CLIP_SECONDS

    methods_available = CHOICES

    parser = argparse.ArgumentParser(
        prog="engine-eval",
        description="How close the corrected model at each rate comes to the model at its own rate: the SNR of "
                    "the published protocol (the model at its own rate is the reference; each method runs at the "
                    "target rate on the band-limited-resampled input, and its output is resampled back, its "
                    "latency compensated). With --aliasing, also the aliasing-to-signal ratio on loud sines.",
    )
    parser.add_argument("model", help="model file")
    parser.add_argument("--model-rate", type=rate_argument, metavar="HZ", help="override the training rate")
    parser.add_argument("--rates", type=rate_argument, nargs="+", metavar="HZ", default=[48000, 88200, 96000],
                        help="run rates (default: 48000 88200 96000)")
    parser.add_argument("--methods", nargs="+", choices=methods_available, default=list(methods_available),
                        help="methods to score (default: all; auto's column is the read it chose, named after the score)")
    parser.add_argument("--oversample", type=int, nargs="+", choices=OVERSAMPLE_FACTORS, default=[1], metavar="K",
                        help="oversampling factors to score each method with (1, 2, 4; default: 1)")
    parser.add_argument("--aliasing", action="store_true",
                        help="also measure the aliasing-to-signal ratio (ASR, dB, lower is better) of each method "
                             "and oversampling factor at each rate, on loud sines whose harmonics fold")
    parser.add_argument("--input", metavar="WAV", help=f"test signal, its first channel, at most "
                                                       f"{MAX_CLIP_SECONDS:g} s (default: the demo clip, {DEMO_CLIP})")
    parser.add_argument("--control", type=knob_argument, nargs="+", metavar="V", help="knob values of a conditioned model")
    parser.add_argument("--csv", metavar="PATH", help="also write the scores as CSV (its folder must exist)")
    parser.add_argument("--plots", metavar="DIR", help="write PNG plots here: the 100 Hz sine picture and "
                                                       "the error spectrum per method at the first rate (with "
                                                       "--aliasing, the ASR per sine too)")
    args = parser.parse_args(argv)

    import numpy as np  # after argument parsing: --help and usage errors do not wait for it
    source = args.input or DEMO_CLIP

    # Every output is checked before the evaluation, which can take minutes: a typo in --csv
    # must not cost the whole run.
    if args.csv:
        check_output(args.csv, "--csv", inputs=(args.model, source))
    if args.plots:
        from ..plots import require_matplotlib

        check_output(args.plots, "--plots", folder=True)
        require_matplotlib()

    from ..audiofile import read_clip
    from ..evaluate import evaluate, format_table, write_csv
    from ..formats import load_model
    from ..processor import check_controls
    from ..rates import check_sample_rate, rate_ratio
    from ..resample import resample

    model = load_model(args.model, sample_rate=args.model_rate)
    rates = [check_sample_rate(rate, "--rates") for rate in args.rates]
    for rate in rates:
        rate_ratio(rate, model.sample_rate, model.path)  # every rate refused now, not after the first ones ran
    if args.control is not None:
        check_controls(model, args.control)
    plot_paths = None
    if args.plots:
        from ..plots import file_stem

        stem = file_stem(model.name, fallback=os.path.splitext(os.path.basename(model.path))[0])
        kinds = ("sine", "error_spectrum") + (("aliasing",) if args.aliasing else ())
        plot_paths = [os.path.join(args.plots, f"{stem}_{kind}.png") for kind in kinds]
        for path in plot_paths:
            check_output(path, "--plots", create_folders=True, inputs=(args.model, source))
    x, clip_rate = read_clip(source, hint="give a test signal with --input")
    x = resample(x, clip_rate, model.sample_rate)
    if not np.all(np.isfinite(x)):
        raise AudioFileError(f"{source}: resampled to {model.sample_rate:g} Hz it is not finite (the clip is too "
                             f"loud for float32)")
    progress = ProgressBar("evaluating", min_frames=0)
    oversamples = list(dict.fromkeys(args.oversample))
    scores = evaluate(model, x, rates, args.methods, controls=args.control, progress=progress,
                      oversamples=oversamples)
    print(f"{model.name} ({model.format}, trained at {model.sample_rate:g} Hz), {len(x) / model.sample_rate:.1f} s "
          f"of {os.path.basename(source)}: SNR in dB against the model at its own rate (higher is better)")
    print(format_table(scores))
    if any(s.ran != s.method and s.method != AUTO for s in scores):
        print("(xxx): the method was predicted unstable there; the engine ran the one named instead")
    if any(s.latency for s in scores):
        print("latency: compensated before scoring (the output is shifted back by it)")
    asr = None
    if args.aliasing:
        from ..aliasing import ASR_AMPLITUDE, aliasing, format_aliasing_table

        asr = aliasing(model, rates, args.methods, oversamples, controls=args.control,
                       progress=ProgressBar("aliasing", min_frames=0))
        frequencies = ", ".join(f"{f:.0f}" for f in asr[0].frequencies)
        print(f"\naliasing-to-signal ratio in dB (lower is better): mean over sines at {frequencies} Hz, "
              f"peak {ASR_AMPLITUDE:g}; rows: rate and oversampling factor")
        print(format_aliasing_table(asr))
    if any(s.method == AUTO for s in scores):
        print(f"{AUTO} (xxx): the method auto chose on its probe (engine-info MODEL --rate HZ lists the probe's scores)")
    for line in recommendation(scores):
        print(line)
    if args.csv:
        write_output(lambda: write_csv(args.csv, scores), args.csv, "--csv")
        print(f"wrote {args.csv}")
    if args.plots:
        from ..plots import error_spectra, sine_through_rates

        make_folders(args.plots, "--plots")
        sine, spectrum = plot_paths[:2]
        write_output(lambda: sine_through_rates(model, sine), sine, "--plots")
        print(f"wrote {sine}")
        write_output(lambda: error_spectra(model, x, rates[0], args.methods, spectrum, args.control), spectrum,
                      "--plots")
        print(f"wrote {spectrum}")
        if asr is not None:
            from ..plots import aliasing_plot

            path = plot_paths[2]
            write_output(lambda: aliasing_plot(asr, rates[0], path), path, "--plots")
            print(f"wrote {path}")
    return 0


def recommendation(scores):
    """What to run, from the scores measured: per rate, the best zero-latency read and what auto picked.

    No fixed read is best for every model (README, "interpolation auto"), so the advice is this
    model's own: the best state read on this clip, and auto's pick and its distance from it.

    Returns
    -------
    list of str
    """
    from ..methods import STATE_READS

    lines = []
    for rate in dict.fromkeys(s.rate for s in scores):
        at_rate = [s for s in scores if s.rate == rate and s.oversample == 1]
        reads = [s for s in at_rate if s.method in STATE_READS and s.ran == s.method]
        if not reads:
            continue
        best = max(reads, key=lambda s: s.snr_db)
        if math.isinf(best.snr_db):  # R = 1: every read is the model itself
            lines.append(f"at {rate:.10g} Hz: the model's own rate, every read is the model itself")
            continue
        if best.method == "naive" and len(reads) == 1:
            line = (f"at {rate:.10g} Hz: no correcting read can run here (the stability rule forbids them), only naive "
                    f"({best.snr_db:.1f} dB, uncorrected)")
        else:
            line = f"at {rate:.10g} Hz: best read on this clip {best.method} ({best.snr_db:.1f} dB)"
        auto = [s for s in at_rate if s.method == AUTO]
        if auto:
            line += f"; auto picked {auto[0].ran} ({auto[0].snr_db - best.snr_db:+.1f} dB)"
        resampled = [s for s in at_rate if s.method == "resample" and s.ran == "resample"]
        if resampled:
            line += (f"; resample {resampled[0].snr_db:.1f} dB with {resampled[0].latency} samples of latency")
        lines.append(line + (" — use interpolation: auto live" if auto else ""))
    return lines
