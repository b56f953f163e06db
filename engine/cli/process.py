"""engine-process: render an audio file through a model, or through a config's signal chain."""

import argparse
import os
import sys
import time

from ..methods import AUTO, CHOICES, DEFAULT_INTERPOLATION, OVERSAMPLE_FACTORS
from .common import ProgressBar, entry_point, knob_argument, rate_argument


def _decibels(text):
    """argparse type for a level in dB (its range is checked with the stage's others)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of dB") from None


def _eq_gains(text):
    """argparse type for --eq: three or four comma-separated gains in dB."""
    parts = text.split(",")
    try:
        gains = tuple(float(part) for part in parts)
    except ValueError:
        gains = ()
    if len(gains) not in (3, 4):
        raise argparse.ArgumentTypeError(f"expected BASS,MID,TREBLE or BASS,MID,TREBLE,PRESENCE in dB "
                                         f"(e.g. 3,-2,1), got {text[:60]!r}")
    return gains


def chain_with_flags(chain, gate=None, eq=None, ir=None):
    """``chain`` with the stages --gate, --eq and --ir ask for switched on (or changed).

    Parameters
    ----------
    chain : ChainSettings
        The config's chain, or the model alone.
    gate : float, optional
        --gate: the threshold in dBFS (the gate's other keys kept, or at their defaults).
    eq : tuple of float, optional
        --eq: bass, mid, treble and optionally presence gains in dB (the bands' other keys kept).
    ir : str, optional
        --ir: the impulse response file (the cabinet's mix, level and normalisation kept).

    Returns
    -------
    ChainSettings

    Raises
    ------
    ArgumentError
        A value out of its range, or an IR path that is not an existing file, naming the flag.
    """
    import dataclasses

    from ..audiofile import path_problem
    from ..dsp.settings import CabinetSettings, validate_eq, validate_gate
    from ..errors import ArgumentError, ConfigError

    try:
        if gate is not None:
            current = dataclasses.asdict(chain.gate) if chain.gate is not None else {}
            chain = chain.with_stage("gate", validate_gate({**current, "threshold_db": gate}, "--gate", "gate"))
        if eq is not None:
            current = dataclasses.asdict(chain.eq) if chain.eq is not None else {}
            gains = dict(zip(("bass_db", "mid_db", "treble_db", "presence_db"), eq))
            chain = chain.with_stage("eq", validate_eq({**current, **gains}, "--eq", "eq"))
    except ConfigError as exc:
        raise ArgumentError(str(exc)) from None
    if ir is not None:
        problem = path_problem(ir)
        if problem is not None:
            raise ArgumentError(f"--ir {ir}: {problem}; give an impulse response audio file")
        cabinet = chain.cabinet or CabinetSettings(ir=ir)
        chain = chain.with_stage("cabinet", dataclasses.replace(cabinet, ir=os.path.abspath(ir), label=f"--ir {ir}"))
    return chain


def _joined_negative_lists(argv):
    """``--eq -3,0,2`` as ``--eq=-3,0,2``: argparse takes a value that starts with "-" and is not one
    plain number for an option, so a bass cut first would be refused ("expected one argument")."""
    out = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--eq" and arg[:1] == "-" and (arg[1:2].isdigit() or arg[1:2] == "."):
            out[-1] = f"--eq={arg}"
            continue
        out.append(arg)
    return out


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
    parser.add_argument("--model", metavar="PATH",
                        help="model file (.json, .nam, .aidax); with --config, plays instead of the config's model")
    parser.add_argument("--config", metavar="FILE",
                        help="a live configuration (configs/README.md): render its signal chain (chain:) with its "
                             "first model, its model_rate, controls and interpolation (the flags here override them)")
    parser.add_argument("--model-rate", type=rate_argument, metavar="HZ",
                        help="the rate the model was trained at (default: from the file or its format)")
    parser.add_argument("--interpolation", choices=CHOICES,
                        help=f"how the delayed state is read (default: the config's, else {DEFAULT_INTERPOLATION}; "
                             f"auto: the best of the others on a short probe, see engine-info MODEL --rate HZ)")
    parser.add_argument("--oversample", type=int, choices=OVERSAMPLE_FACTORS, metavar="K",
                        help="run the model at K times the file's rate (1, 2, 4; default: the config's, else 1) "
                             "inside a resampler, against aliasing; its latency is compensated")
    parser.add_argument("--control", type=knob_argument, nargs="+", metavar="V",
                        help="control values of a conditioned model, one per knob (default 0.5 each)")
    parser.add_argument("--no-settle", dest="settle", action="store_false",
                        help="start the model at the file's own initial state (zero for most formats), as the "
                             "training framework does, instead of at rest on silence as engine-live starts it "
                             "(which has no thump in the first milliseconds)")
    stages = parser.add_argument_group(
        "signal chain", "Stages around the model (gate → model → eq → cabinet); each flag switches its stage on, "
                        "or changes it in the --config chain, keeping the stage's other settings.")
    stages.add_argument("--gate", type=_decibels, metavar="THRESHOLD_DB",
                        help="noise gate before the model, opening at this level in dBFS (-140 to 0; the other "
                             "gate keys at their defaults)")
    stages.add_argument("--eq", type=_eq_gains, metavar="BASS,MID,TREBLE[,PRESENCE]",
                        help="tone stack after the model: band gains in dB (-20 to 20), e.g. 3,-2,1 or 3,-2,1,2")
    stages.add_argument("--ir", metavar="PATH",
                        help="cabinet impulse response (an audio file of at most 20 s, any rate), convolved last")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(_joined_negative_lists(sys.argv[1:] if argv is None else list(argv)))
    if args.model is None and args.config is None:
        parser.error("give --model PATH, or --config FILE (whose model plays)")

    from ..chain_settings import ChainSettings
    from ..formats import load_model
    from ..render import RenderTerminated, render_file

    chain, interpolation, oversample, controls, model_rate = ChainSettings(source="engine-process"), None, 1, None, None
    if args.config is not None:
        from ..config import load_config

        config = load_config(args.config)
        entry = config.models[0]
        chain, interpolation, oversample = config.chain, config.interpolation, config.oversample
        controls, model_rate = (list(entry.controls) or None), entry.model_rate
    chain = chain_with_flags(chain, args.gate, args.eq, args.ir)
    interpolation = args.interpolation or interpolation or DEFAULT_INTERPOLATION
    oversample = args.oversample or oversample
    controls = args.control if args.control is not None else controls
    if args.model is not None:
        model = load_model(args.model, sample_rate=args.model_rate)
    else:
        model = load_model(entry.path, sample_rate=args.model_rate or model_rate)
    progress = None if args.quiet else ProgressBar(os.path.basename(args.input), min_frames=10 * 48000)
    started = time.perf_counter()
    try:
        report = render_file(model, args.input, args.output, interpolation=interpolation,
                             controls=controls, force=args.force, progress=progress, oversample=oversample,
                             chain=chain, settle=args.settle)
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
        if report.chain != "model":
            print(f"chain: {report.chain}")
        if report.non_finite_samples:
            restarts = (f", and its state restarted {report.state_resets} time(s)" if report.state_resets else "")
            print(f"warning: the model produced {report.non_finite_samples} NaN or infinite sample(s) (its output "
                  f"blew up); they were written as silence (0){restarts}", file=sys.stderr)
        if report.clipped_samples:
            print(f"warning: {report.clipped_samples} sample(s) exceeded full scale and were clipped "
                  f"(the output format is integer; write a float WAV to keep them)", file=sys.stderr)
    return 0
