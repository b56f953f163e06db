"""engine-process: render an audio file through a model."""

import argparse
import os
import sys
import time

from ..methods import AUTO, CHOICES, DEFAULT_INTERPOLATION, OVERSAMPLE_FACTORS
from .common import ProgressBar, entry_point, rate_argument

@entry_point
def process_main(argv=None):
    """engine-process: render an audio file through a model at the file's own rate.

    The output is written to a temporary file and moved into place when complete; the file never
    holds a NaN or infinite sample (the summary counts those muted). SIGTERM removes the temporary
    file and exits 143, as a process killed by it does.
    """
    parser = argparse.ArgumentParser(
        prog="engine-process",
        description="Run an audio file through a trained LSTM/GRU model at the file's own sample rate, "
                    "correcting the model to that rate. The output keeps the input's rate, channels and subtype.",
    )
    parser.add_argument("input", help="audio file to process (any format soundfile reads)")
    parser.add_argument("output", help="where to write the result (refused if it exists, unless --force)")
    parser.add_argument("--model", required=True, metavar="PATH", help="model file (.json, .nam, .aidax)")
    parser.add_argument("--model-rate", type=rate_argument, metavar="HZ",
                        help="the rate the model was trained at (default: from the file or its format)")
    parser.add_argument("--interpolation", default=DEFAULT_INTERPOLATION, choices=CHOICES,
                        help=f"how the delayed state is read (default: {DEFAULT_INTERPOLATION}; auto: the best of the "
                             f"others on a short probe, see engine-info MODEL --rate HZ)")
    parser.add_argument("--oversample", type=int, choices=OVERSAMPLE_FACTORS, default=1, metavar="K",
                        help="run the model at K times the file's rate (1, 2, 4; default 1) inside a resampler, "
                             "against aliasing; its latency is compensated")
    parser.add_argument("--control", type=float, nargs="+", metavar="V",
                        help="control values of a conditioned model, one per knob (default 0.5 each)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)

    from ..formats import load_model
    from ..render import RenderTerminated, render_file

    model = load_model(args.model, sample_rate=args.model_rate)
    progress = None if args.quiet else ProgressBar(os.path.basename(args.input), min_frames=10 * 48000)
    started = time.perf_counter()
    try:
        report = render_file(model, args.input, args.output, interpolation=args.interpolation,
                             controls=args.control, force=args.force, progress=progress, oversample=args.oversample)
    except RenderTerminated as exc:
        # render_file removed its temporary file; exit as a process killed by SIGTERM reports (128 + 15).
        end_of_bar = "\n" if progress is not None and progress.interactive else ""
        print(f"{end_of_bar}engine-process: {exc}", file=sys.stderr)
        return 143
    elapsed = time.perf_counter() - started
    if not args.quiet:
        seconds = report.frames / report.sample_rate
        method = report.interpolation
        if report.requested_interpolation == AUTO:
            method += " (chosen by auto)"
        elif report.interpolation != report.requested_interpolation:
            method += f" (the stability check replaced the requested {report.requested_interpolation})"
        if report.oversample > 1:
            method += f", oversampled ×{report.oversample}"
        if report.latency:
            method += f" (latency {report.latency} samples, compensated)"
        muted = (f"; {report.non_finite_samples} non-finite output sample(s) muted" if report.non_finite_samples
                 else "")
        print(f"wrote {args.output}: {seconds:.2f} s, {report.channels} channel(s) at {report.sample_rate:g} Hz "
              f"({report.subtype}); model at {model.sample_rate:g} Hz, R = {report.ratio:.6g}, {method}; "
              f"{seconds / max(elapsed, 1e-9):.1f}x real time{muted}")
        if report.non_finite_samples:
            restarts = (f", and its state restarted {report.state_resets} time(s)" if report.state_resets else "")
            print(f"warning: the model produced {report.non_finite_samples} NaN or infinite sample(s) (its output "
                  f"blew up); they were written as silence (0){restarts}", file=sys.stderr)
        if report.clipped_samples:
            print(f"warning: {report.clipped_samples} sample(s) exceeded full scale and were clipped "
                  f"(the output format is integer; write a float WAV to keep them)", file=sys.stderr)
    return 0
