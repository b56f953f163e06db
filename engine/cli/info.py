"""engine-info: what a model file holds, and which methods are stable at a rate."""

import argparse

from ..methods import INTERPOLATIONS, OVERSAMPLE_FACTORS, RESAMPLE
from ..rates import MAX_RATIO, MIN_RATIO
from .common import entry_point, knob_argument, rate_argument

@entry_point
def info_main(argv=None):
    """engine-info: describe a model file."""
    parser = argparse.ArgumentParser(
        prog="engine-info",
        description="Print what a model file holds: format, layers and sizes, parameter count, "
                    "training rate and where that rate came from.",
    )
    parser.add_argument("model", help="model file (.json, .nam, .aidax)")
    parser.add_argument("--model-rate", type=rate_argument, metavar="HZ", help="override the training rate")
    parser.add_argument("--rate", type=rate_argument, metavar="HZ",
                        help="also show how the engine would run the model at this rate")
    parser.add_argument("--control", type=knob_argument, nargs="+", metavar="V",
                        help="with --rate: the knob values of a conditioned model to check stability at "
                             "(default 0.5 each, as engine-process and engine-eval)")
    parser.add_argument("--oversample", type=int, choices=OVERSAMPLE_FACTORS, default=1, metavar="K",
                        help="with --rate: run the model at K times the rate (1, 2, 4; default 1): the verdicts "
                             "are for R = K · rate / training rate, and the resampler's latency is shown")
    args = parser.parse_args(argv)
    if args.oversample != 1 and args.rate is None:
        parser.error("--oversample only applies with --rate")
    if args.control is not None and args.rate is None:
        parser.error("--control only applies with --rate (it sets the knobs the stability check uses)")

    from ..formats import load_model
    from ..rates import check_sample_rate, rate_ratio

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
        ("inputs", f"audio + {model.num_controls} control(s) (knobs)" if model.num_controls else "audio (no knobs)"),
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
        lines.append((f"at {rate:.10g} Hz", f"R = {ratio:.6g} ({kind})"))
        factor = args.oversample
        if factor > 1:
            read_ratio = rate_ratio(factor * rate, model.sample_rate, model.path)
            lines.append((f"  oversample ×{factor}", f"the model runs at {factor * rate:g} Hz: the state read "
                                                       f"corrects R = {read_ratio:.6g}"))
            ratio = read_ratio
        from ..processor import check_controls, knob_values
        from ..stability import choose

        # the values engine-process and engine-eval default to; given ones checked as Processor.set_controls does
        controls = knob_values(model, None if args.control is None else check_controls(model, args.control))
        if model.num_controls:
            lines.append(("  knobs", " ".join(f"{v:g}" for v in controls) + " (the stability check depends on them; "
                                     "set them with --control)"))
        from ..resampler.design import can_resample

        # The Processor's own decision for each method, each verdict with the limit it applied;
        # one linearisation serves them all (made only if a verdict needs it). The fallback passes
        # over resample where the pair cannot run at this rate pair, as the Processor's does.
        possible = can_resample(rate, factor * model.sample_rate)
        linearisation = None
        for method in INTERPOLATIONS:
            if method == RESAMPLE and not possible:
                lines.append((f"  {method}", f"cannot run: {rate:g} Hz and {factor * model.sample_rate:g} Hz are "
                                             f"not a ratio of small whole numbers (see latency below)"))
                continue
            choice = choose(model, method, ratio, controls, linearisation, resample_possible=possible)
            linearisation = choice.linearisation
            text = choice.verdicts[0].describe()
            lines.append((f"  {method}", text + (f"; runs {choice.method} instead" if choice.replaced else "")))
        if linearisation is not None and not linearisation.converged:
            lines.append(("  note", "silence does not settle to a fixed point: the check is approximate"))
        lines.append(("  latency", _latency_line(model, rate, factor)))
        lines += _auto_lines(model, factor * rate, controls, possible)
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


def _auto_lines(model, read_rate, controls, resample_possible):
    """What interpolation="auto" runs with its read at ``read_rate``: the choice, then every candidate's probe score."""
    from ..auto import PROBE_SECONDS, choose_auto
    from ..auto_cache import cache_directory

    choice = choose_auto(model, read_rate, controls, resample_possible=resample_possible)
    if choice.fallback:
        return [("  auto", f"runs {choice.method}: no correcting read is stable here (only naive, the uncorrected "
                           f"model), so the model runs at its own rate inside the resampler pair, as a fixed "
                           f"method falls back")]
    scored = [c for c in choice.candidates if c.stable and c.snr_db == c.snr_db]  # NaN: not scored
    if not scored:
        stable = [c for c in choice.candidates if c.stable]
        why = ("every stable method is the same read here, nothing to compare" if len(stable) > 1
               else "the only read the stability rule allows here")
        return [("  auto", f"runs {choice.method}: {why}")]
    source = (f"from the cache (probed earlier, in {choice.probe_seconds:.2f} s)" if choice.cached
              else f"probed now, in {choice.probe_seconds:.2f} s")
    lines = [("  auto", f"runs {choice.method}: the best SNR on a {PROBE_SECONDS:g} s guitar-like probe (the "
                        f"published protocol), {source}; cache: {cache_directory()} (safe to delete)")]
    for c in choice.candidates:
        if not c.stable:
            text = "not scored: the stability rule forbids it here (above)"
        else:
            text = "exact" if c.snr_db == float("inf") else f"{c.snr_db:.1f} dB"
            if c.same_as:
                text += f" (the same read as {c.same_as})"
            if c.method == choice.method:
                text += "  <- runs"
        lines.append((f"    {c.method}", text))
    return lines


def _layer_line(layer):
    from ..model import RecurrentLayer

    text = layer.describe()
    if isinstance(layer, RecurrentLayer):
        if layer.cell == "gru":
            text += ", reset gate " + ("after the recurrent kernel" if layer.reset_after else "before the recurrent kernel (Keras reset_after=False)")
        if layer.initial_hidden.any() or layer.initial_cell.any():
            text += ", stored initial state"
    return text


def _latency_line(model, rate, factor):
    """What each choice delays the output by at ``rate`` with oversampling ``factor`` (Processor.latency)."""
    from ..errors import SampleRateError
    from ..processor import Processor

    def latency(method):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Processor(model, rate, interpolation=method, oversample=factor, check_stability=False).latency

    def samples(count):
        return f"{count} samples ({count / rate * 1e3:.2f} ms)"

    try:
        resampled = f"{RESAMPLE}: {samples(latency(RESAMPLE))}, the model at {factor * model.sample_rate:g} Hz"
    except SampleRateError as exc:
        resampled = f"{RESAMPLE}: cannot run ({exc})"
    if factor == 1:
        return f"state reads: 0 (the correction adds none); {resampled}"
    return f"state reads ×{factor}: {samples(latency('linear'))} (the resampler pair); {resampled}"
