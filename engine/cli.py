"""Command-line entry points: engine-live, engine-process, engine-info, engine-bench, engine-eval.

Every command prints an EngineError as one line on stderr (no traceback) and exits 1;
argparse's own usage errors exit 2; Ctrl-C exits 130. A warning (StabilityWarning, ...) is
one line too: ``engine-process: warning: <message>``.
"""

import argparse
import functools
import os
import sys
import time
import warnings

from .methods import DEFAULT_INTERPOLATION, INTERPOLATIONS
from .errors import ArgumentError, AudioFileError, EngineError
from .rates import MAX_RATIO, MIN_RATIO


def _entry_point(function):
    """Run a command's main with the project's error convention.

    An EngineError is one line on stderr and exit 1; Ctrl-C exits 130. For the command's duration
    every warning (the engine's StabilityWarning, numpy's RuntimeWarning, ...) is printed as one
    line, ``engine-process: warning: <message>``, instead of Python's file:line format with a
    source line; the previous ``warnings.showwarning`` is restored afterwards.
    """

    @functools.wraps(function)
    def wrapper(argv=None):
        prog = "engine-" + function.__name__.replace("_main", "").replace("_", "-")
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(prog)
            try:
                return function(argv)
            except EngineError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

    return wrapper


def _warning_printer(prog):
    """A ``warnings.showwarning`` that prints ``<prog>: warning: <message>`` on one line."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())  # one line, whatever the message holds
        if not issubclass(category, UserWarning):  # numpy's RuntimeWarning etc.: say whose it is
            text += f" ({category.__name__})"
        stream = sys.stderr if file is None else file
        try:
            print(f"{prog}: warning: {text}", file=stream, flush=True)
        except (OSError, ValueError):  # stderr closed: a warning must never become an error
            pass

    return show


def _rate(text):
    """argparse type for a rate in Hz (validated by the engine, which names what is wrong)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of Hz") from None


class ProgressBar:
    """A one-line progress bar on stderr for long renders (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, label, stream=sys.stderr, min_frames=0):
        self.label = label
        self.stream = stream
        self.interactive = stream.isatty()
        self.min_frames = min_frames
        self.started = time.perf_counter()
        self.last_tenth = -1

    def __call__(self, done, total):
        if total < self.min_frames or total <= 0:
            return
        fraction = min(done / total, 1.0)
        elapsed = time.perf_counter() - self.started
        if self.interactive:
            filled = int(30 * fraction)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {elapsed:5.1f} s")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif int(fraction * 10) > self.last_tenth:
            self.last_tenth = int(fraction * 10)
            print(f"{self.label}: {fraction:.0%} ({elapsed:.1f} s)", file=self.stream, flush=True)


@_entry_point
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
    parser.add_argument("--model-rate", type=_rate, metavar="HZ",
                        help="the rate the model was trained at (default: from the file or its format)")
    parser.add_argument("--interpolation", default=DEFAULT_INTERPOLATION, choices=INTERPOLATIONS,
                        help=f"how the delayed state is read (default: {DEFAULT_INTERPOLATION})")
    parser.add_argument("--control", type=float, nargs="+", metavar="V",
                        help="control values of a conditioned model, one per knob (default 0.5 each)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)

    from .formats import load_model
    from .render import RenderTerminated, render_file

    model = load_model(args.model, sample_rate=args.model_rate)
    progress = None if args.quiet else ProgressBar(os.path.basename(args.input), min_frames=10 * 48000)
    started = time.perf_counter()
    try:
        report = render_file(model, args.input, args.output, interpolation=args.interpolation,
                             controls=args.control, force=args.force, progress=progress)
    except RenderTerminated as exc:
        # render_file removed its temporary file; exit as a process killed by SIGTERM reports (128 + 15).
        end_of_bar = "\n" if progress is not None and progress.interactive else ""
        print(f"{end_of_bar}engine-process: {exc}", file=sys.stderr)
        return 143
    elapsed = time.perf_counter() - started
    if not args.quiet:
        seconds = report.frames / report.sample_rate
        method = report.interpolation
        if report.interpolation != report.requested_interpolation:
            method += f" (the stability check replaced the requested {report.requested_interpolation})"
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


@_entry_point
def info_main(argv=None):
    """engine-info: describe a model file."""
    parser = argparse.ArgumentParser(
        prog="engine-info",
        description="Print what a model file holds: format, layers and sizes, parameter count, "
                    "training rate and where that rate came from.",
    )
    parser.add_argument("model", help="model file (.json, .nam, .aidax)")
    parser.add_argument("--model-rate", type=_rate, metavar="HZ", help="override the training rate")
    parser.add_argument("--rate", type=_rate, metavar="HZ",
                        help="also show how the engine would run the model at this rate")
    parser.add_argument("--control", type=float, nargs="+", metavar="V",
                        help="with --rate: the knob values of a conditioned model to check stability at "
                             "(default 0.5 each, as engine-process and engine-eval)")
    args = parser.parse_args(argv)
    if args.control is not None and args.rate is None:
        parser.error("--control only applies with --rate (it sets the knobs the stability check uses)")

    from .formats import load_model
    from .rates import check_sample_rate, rate_ratio

    model = load_model(args.model, sample_rate=args.model_rate)
    source = {"file": "stored in the file", "user": "given by the user",
              "format-default": f"assumed, the {model.format} format's default: the file stores no rate; "
                                "set it with --model-rate"}
    lines = [
        ("file", model.path),
        ("format", model.format),
        ("network", model.describe()),
    ]
    for index, layer in enumerate(model.layers):
        lines.append((f"  layer {index}", _layer_line(layer)))
    lines += [
        ("parameters", f"{model.parameter_count:,}"),
        ("inputs", f"audio + {model.num_controls} control(s)" if model.num_controls else "audio"),
        ("skip", "the input is added to the output" if model.skip else "none"),
    ]
    if model.input_gain_db or model.output_gain_db:
        lines.append(("gains", f"input {model.input_gain_db:+g} dB, output {model.output_gain_db:+g} dB"))
    lines.append(("training rate", f"{model.sample_rate:g} Hz ({source[model.sample_rate_source]})"))
    for key, value in model.metadata.items():
        if isinstance(value, (str, int, float)) and value not in ("", None):
            lines.append((key, str(value)))
    lines.append(("runs at", f"{model.sample_rate * MIN_RATIO:.0f} Hz to {model.sample_rate * MAX_RATIO:.0f} Hz "
                             f"(R = {MIN_RATIO:g} to {MAX_RATIO:g})"))
    if args.rate is not None:
        rate = check_sample_rate(args.rate, "--rate")
        ratio = rate_ratio(rate, model.sample_rate, model.path)
        if ratio < 1:
            kind = "below the training rate: the read extrapolates"
        elif ratio == int(ratio):
            kind = "integer: every method is the exact delay"
        else:
            kind = "fractional: interpolated delay"
        lines.append((f"at {rate:g} Hz", f"R = {ratio:.6g} ({kind})"))
        from .processor import check_controls, knob_values
        from .stability import choose

        # the values engine-process and engine-eval default to; given ones checked as Processor.set_controls does
        controls = knob_values(model, None if args.control is None else check_controls(model, args.control))
        if model.num_controls:
            lines.append(("  knobs", " ".join(f"{v:g}" for v in controls) + " (the stability check depends on them; "
                                     "set them with --control)"))
        # The Processor's own decision for each method, each verdict with the limit it applied;
        # one linearisation serves them all (made only if a verdict needs it).
        linearisation = None
        for method in INTERPOLATIONS:
            choice = choose(model, method, ratio, controls, linearisation)
            linearisation = choice.linearisation
            text = choice.verdicts[0].describe()
            lines.append((f"  {method}", text + (f"; runs {choice.method} instead" if choice.replaced else "")))
        if linearisation is not None and not linearisation.converged:
            lines.append(("  note", "silence does not settle to a fixed point: the check is approximate"))
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


def _layer_line(layer):
    from .model import RecurrentLayer

    text = layer.describe()
    if isinstance(layer, RecurrentLayer):
        if layer.cell == "gru":
            text += ", reset gate " + ("after the recurrent kernel" if layer.reset_after else "before the recurrent kernel (Keras reset_after=False)")
        if layer.initial_hidden.any() or layer.initial_cell.any():
            text += ", stored initial state"
    return text


def bench_parser(prog="engine-bench", description=None):
    """The options of engine-bench (benchmarks/speed_vs_torch.py takes the same ones).

    Parameters
    ----------
    prog : str
    description : str, optional
        Replaces engine-bench's description.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .bench import SECTIONS

    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or
        "Time the per-sample cost of the LSTM and GRU kernels (random weights, dense head, models trained at "
        "44.1 kHz): at 48 kHz for each size, against R, interpolation method and block size, two channels on two "
        "threads, and start-up (compile and cache-load times, memory). Prints tables and, with --json, writes "
        "every figure. Medians of repeated runs after warm-up of the processing thread's CPU time. The default "
        "set takes a few minutes; --full all sizes. Beside PyTorch: python benchmarks/speed_vs_torch.py.",
    )
    parser.add_argument("--full", action="store_true",
                        help="hidden 8 to 64, one and two layers, every interpolation method, blocks 32 to 4096 "
                             "(default: a quick set)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, metavar="S",
                        help=f"which tables to run (default: all of {', '.join(SECTIONS)})")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru"],
                        help="cells of the headline table")
    parser.add_argument("--hidden", nargs="+", type=int, metavar="H",
                        help="hidden sizes of the headline table (default 16 40 64; --full: 8 16 32 40 64)")
    parser.add_argument("--seconds", type=float, default=0.68,
                        help="audio per timed run, in seconds at 48 kHz (default 0.68: 32768 samples)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per case; the median is reported "
                                                                 "(default 15)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    return parser


def run_bench(args, parser, compare=None):
    """Run engine-bench's tables for parsed ``args`` (see bench_parser), beside ``compare`` if given.

    Returns
    -------
    (dict, dict)
        The results (engine.bench.run_benchmark) and the settings written to the JSON.
    """
    if args.repeats < 1 or args.seconds <= 0 or (args.hidden and min(args.hidden) < 1):
        parser.error("--repeats, --seconds and --hidden must be positive")
    if args.json:
        _check_writable(args.json)
    from .bench import machine_description, run_benchmark

    machine = machine_description()
    print(f"# {parser.prog}: {machine['cpu']}, {machine['cores']} cores (load average {machine['load_average']:.1f}); "
          f"numba {machine['numba']}, numpy {machine['numpy']}")
    samples = max(4096, int(args.seconds * 48000))
    results = run_benchmark(full=args.full, cells=args.cells, hidden_sizes=args.hidden, sections=args.sections,
                            samples=samples, repeats=args.repeats, compare=compare)
    return results, {**vars(args), "samples": samples}


def _check_writable(path):
    """Refuse an output path whose folder does not exist, before any long work is done."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ArgumentError(f"{path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise ArgumentError(f"{path}: is a directory, expected a file name")


@_entry_point
def bench_main(argv=None):
    """engine-bench: time the kernels per sample."""
    parser = bench_parser()
    args = parser.parse_args(argv)
    results, settings = run_bench(args, parser)
    if args.json:
        from .bench import write_json

        write_json(args.json, results, settings)
        print(f"# wrote {args.json}")
    return 0


def _device_spec(text):
    """argparse type for a device: an index or part of a name."""
    return int(text) if text.strip().isdigit() else text


@_entry_point
def live_main(argv=None):
    """engine-live: play a model live through the audio interface."""
    parser = argparse.ArgumentParser(
        prog="engine-live",
        description="Run a trained LSTM/GRU model live on an audio interface at whatever rate the interface runs, "
                    "correcting the model to that rate. Keys while running: b bypass, 1-9 switch model, q quit.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (see configs/README.md)")
    parser.add_argument("--list-devices", action="store_true", help="list the audio devices PortAudio sees and exit")
    parser.add_argument("--device", type=_device_spec, metavar="D",
                        help="input and output device: an index or part of its name (overrides the config)")
    parser.add_argument("--input-device", type=_device_spec, metavar="D", help="input device only")
    parser.add_argument("--output-device", type=_device_spec, metavar="D", help="output device only")
    parser.add_argument("--rate", type=_rate, metavar="HZ", help="sample rate (default: the config's, else the device's)")
    parser.add_argument("--block-size", type=int, metavar="N", help="frames per audio callback")
    parser.add_argument("--duration", type=float, metavar="S", help="stop by itself after S seconds")
    parser.add_argument("--virtual", action="store_true",
                        help="no sound card needed: start a JACK dummy server, play the config's demo_clip "
                             "through the live path and record what comes out (see --record)")
    parser.add_argument("--virtual-if-no-device", action="store_true",
                        help="use --virtual when PortAudio sees no audio interface")
    parser.add_argument("--record", metavar="WAV", default="out/engine-live-virtual.wav",
                        help="where --virtual writes the recording (default: out/engine-live-virtual.wav)")
    parser.add_argument("--force", action="store_true", help="replace an existing --record file")
    args = parser.parse_args(argv)

    from . import live

    if args.list_devices:
        print(live.list_devices())
        return 0
    if not args.config:
        parser.error("--config FILE is required (or --list-devices)")
    from .config import load_config

    config = load_config(args.config)
    overrides = {}
    if args.device is not None:
        overrides["input_device"] = overrides["output_device"] = args.device
    if args.input_device is not None:
        overrides["input_device"] = args.input_device
    if args.output_device is not None:
        overrides["output_device"] = args.output_device
    if args.rate is not None:
        overrides["sample_rate"] = args.rate
    if args.block_size is not None:
        overrides["block_size"] = args.block_size
    config = config.replace(**overrides)
    if args.duration is not None and not args.duration > 0:
        parser.error("--duration must be a positive number of seconds")

    virtual = args.virtual
    if not virtual and args.virtual_if_no_device and not live.has_duplex_device():
        print("engine-live: no audio interface found; running on a virtual one (JACK dummy server) instead")
        virtual = True
    if virtual:
        if os.path.lexists(args.record) and not args.force:
            raise AudioFileError(f"{args.record}: already exists; pass --force to replace it")
        _check_output(args.record, "--record", create_folders=True)  # before the server starts, not after the run
        _make_folders(os.path.dirname(os.path.abspath(args.record)), "--record")
        with live.KeyReader() as keys:
            result = live.run_virtual(config, args.record, keys=keys)
        return result["code"]

    session = live.LiveSession(config).open()
    print(f"engine-live: {session.describe_model()} on {session.stream.device} at {session.sample_rate:g} Hz, "
          f"block {session.block_size}; keys: b bypass, 1-{len(session.chain.processors)} model, q quit")
    with live.KeyReader() as keys:
        code = session.run(duration=args.duration, keys=keys)
    if session.abandoned:
        # PortAudio cannot be shut down once its device vanished (it would block): leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


DEMO_CLIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "demo_di.wav")


def _check_output(path, flag, folder=False, create_folders=False, inputs=()):
    """Refuse an output path that cannot be written, before any work is done.

    Parameters
    ----------
    path : str
        A file to write (``folder=False``) or a folder to write files in (``folder=True``).
    flag : str
        The option that gave it, for the message (``--csv``).
    folder : bool
        Whether ``path`` is a folder (created if missing) rather than a file.
    create_folders : bool
        Whether a file's missing parent folders will be created (else they must exist).
    inputs : sequence of str
        Files this command reads: writing over one of them is refused.

    Raises
    ------
    ArgumentError
        If the path is a directory where a file is wanted (or the reverse), a FIFO or device
        (writing would block), one of ``inputs``, or in a folder that is missing or not writable.
    """
    from .audiofile import path_problem

    where = f"{flag} {path}"
    if os.path.lexists(path):
        if folder:
            if not os.path.isdir(path):
                raise ArgumentError(f"{where}: is not a folder; give a folder to write the files in")
            if not os.access(path, os.W_OK):
                raise ArgumentError(f"{where}: this folder is not writable")
            return
        if os.path.exists(path):  # (a dangling symlink is written through: fine)
            problem = path_problem(path)
            if problem is not None:
                raise ArgumentError(f"{where}: {problem}; give the path of a file to write")
            if not os.access(path, os.W_OK):
                raise ArgumentError(f"{where}: exists and is not writable")
            for source in inputs:
                if source and os.path.exists(source) and os.path.samefile(path, source):
                    raise ArgumentError(f"{where}: is the same file as {source}, which this command reads; "
                                        "write somewhere else")
    parent = os.path.dirname(os.path.abspath(path)) if not folder else os.path.abspath(path)
    if not folder and not create_folders and not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise ArgumentError(f"{where}: {parent} is a file, not a folder")
        raise ArgumentError(f"{where}: the folder {parent} does not exist; create it or write elsewhere")
    existing = parent
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ArgumentError(f"{where}: {existing} is a file, so the folder {parent} cannot be made")
    if not os.access(existing, os.W_OK):
        raise ArgumentError(f"{where}: the folder {existing} is not writable")


def _make_folders(folder, flag):
    """os.makedirs, with a failure as one line naming the option."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ArgumentError(f"{flag}: cannot create the folder {folder} ({exc.strerror or exc})") from None


def _write_output(write, path, flag):
    """Run ``write()``; an OSError (disk full, permissions changed meanwhile) becomes one line."""
    try:
        return write()
    except OSError as exc:
        raise ArgumentError(f"{flag} {path}: cannot write ({exc.strerror or exc})") from None


@_entry_point
def eval_main(argv=None):
    """engine-eval: the quality report of the published protocol (SRC.md)."""
    from .audiofile import MAX_CLIP_SECONDS

    methods_available = INTERPOLATIONS

    parser = argparse.ArgumentParser(
        prog="engine-eval",
        description="How close the corrected model at each rate comes to the model at its own rate: the SNR of "
                    "the published protocol (the model at its own rate is the reference; each method runs at the "
                    "target rate on the band-limited-resampled input, and its output is resampled back).",
    )
    parser.add_argument("model", help="model file")
    parser.add_argument("--model-rate", type=_rate, metavar="HZ", help="override the training rate")
    parser.add_argument("--rates", type=_rate, nargs="+", metavar="HZ", default=[48000, 88200, 96000],
                        help="run rates (default: 48000 88200 96000)")
    parser.add_argument("--methods", nargs="+", choices=methods_available, default=list(methods_available),
                        help="methods to score (default: all)")
    parser.add_argument("--input", metavar="WAV", help=f"test signal, its first channel, at most "
                                                       f"{MAX_CLIP_SECONDS:g} s (default: the demo clip, {DEMO_CLIP})")
    parser.add_argument("--control", type=float, nargs="+", metavar="V", help="knob values of a conditioned model")
    parser.add_argument("--csv", metavar="PATH", help="also write the scores as CSV (its folder must exist)")
    parser.add_argument("--plots", metavar="DIR", help="write PNG plots here: the 100 Hz sine picture and "
                                                       "the error spectrum per method at the first rate")
    args = parser.parse_args(argv)

    import numpy as np  # after argument parsing: --help and usage errors do not wait for it
    source = args.input or DEMO_CLIP

    # Every output is checked before the evaluation, which can take minutes: a typo in --csv
    # must not cost the whole run.
    if args.csv:
        _check_output(args.csv, "--csv", inputs=(args.model, source))
    if args.plots:
        from .plots import require_matplotlib

        _check_output(args.plots, "--plots", folder=True)
        require_matplotlib()

    from .audiofile import read_clip
    from .evaluate import evaluate, format_table, write_csv
    from .formats import load_model
    from .processor import check_controls
    from .rates import check_sample_rate, rate_ratio
    from .resample import resample

    model = load_model(args.model, sample_rate=args.model_rate)
    rates = [check_sample_rate(rate, "--rates") for rate in args.rates]
    for rate in rates:
        rate_ratio(rate, model.sample_rate, model.path)  # every rate refused now, not after the first ones ran
    if args.control is not None:
        check_controls(model, args.control)
    plot_paths = None
    if args.plots:
        from .plots import file_stem

        stem = file_stem(model.name, fallback=os.path.splitext(os.path.basename(model.path))[0])
        plot_paths = [os.path.join(args.plots, f"{stem}_{kind}.png") for kind in ("sine", "error_spectrum")]
        for path in plot_paths:
            _check_output(path, "--plots", create_folders=True, inputs=(args.model, source))
    x, clip_rate = read_clip(source, hint="give a test signal with --input")
    x = resample(x, clip_rate, model.sample_rate)
    if not np.all(np.isfinite(x)):
        raise AudioFileError(f"{source}: resampled to {model.sample_rate:g} Hz it is not finite (the clip is too "
                             f"loud for float32)")
    progress = ProgressBar("evaluating", min_frames=0)
    scores = evaluate(model, x, rates, args.methods, controls=args.control, progress=progress)
    print(f"{model.name} ({model.format}, trained at {model.sample_rate:g} Hz), {len(x) / model.sample_rate:.1f} s "
          f"of {os.path.basename(source)}: SNR in dB against the model at its own rate (higher is better)")
    print(format_table(scores))
    if any(s.ran != s.method for s in scores):
        print("(xxx): the method was predicted unstable there; the engine ran the one named instead")
    if args.csv:
        _write_output(lambda: write_csv(args.csv, scores), args.csv, "--csv")
        print(f"wrote {args.csv}")
    if args.plots:
        from .plots import error_spectra, sine_through_rates

        _make_folders(args.plots, "--plots")
        sine, spectrum = plot_paths
        _write_output(lambda: sine_through_rates(model, sine), sine, "--plots")
        print(f"wrote {sine}")
        _write_output(lambda: error_spectra(model, x, rates[0], args.methods, spectrum, args.control), spectrum,
                      "--plots")
        print(f"wrote {spectrum}")
    return 0
