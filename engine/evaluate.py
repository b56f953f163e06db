"""How close does the corrected model at each rate come to the model at its own rate? (SRC.md's protocol)

Reference: the unmodified model at F_model on a guitar signal x. Candidate: the method at F_run
on x resampled to F_run with a band-limited (FFT) resampler, its output resampled back to F_model.
SNR = 10·log10(Σ y_ref² / Σ (y_ref − ŷ)²) over the whole signal. A candidate that delays its
output (``resample``, ``oversample``: Processor.latency, a whole number of samples at F_run) is
run on x followed by that many zeros and its first ``latency`` output samples dropped, so it is
compared sample for sample.
"""

import csv
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from .delay import INTERPOLATIONS
from .errors import SampleRateError, StabilityWarning
from .methods import RESAMPLE
from .processor import Processor, knob_values
from .resampler.design import MAX_PHASES, can_resample
from .resample import resample

#: Silence around the signal while resampling, so the FFT's wrap-around stays out of it.
PAD_SECONDS = 0.05


#: Score.ran of a method that cannot run at that rate (resample or oversampling where the pair cannot).
NOT_RUN = "cannot run"


@dataclass
class Score:
    """One (rate, method) result of the protocol (``ran`` NOT_RUN and ``snr_db`` NaN: it could not run there)."""

    model: str
    model_rate: float
    rate: float
    ratio: float
    method: str
    ran: str
    snr_db: float
    oversample: int = 1
    latency: int = 0


def snr_db(reference, candidate):
    """10·log10(Σ ref² / Σ (ref − candidate)²); +inf when they are identical."""
    reference = np.asarray(reference, np.float64)
    error = np.sum((reference - np.asarray(candidate, np.float64)) ** 2)
    if error == 0:
        return math.inf
    return 10 * math.log10(np.sum(reference ** 2) / error)


def reference_output(model, x, controls=None):
    """The model at its own rate on x (x already at model.sample_rate)."""
    processor = Processor(model, sample_rate=model.sample_rate, controls=knob_values(model, controls))
    return processor.process(np.ascontiguousarray(x, np.float32))


def candidate_output(model, x, rate, method, controls=None, check_stability=True, oversample=1):
    """``method`` at ``rate`` on x resampled there, resampled back to the model's rate.

    The processor's latency (Processor.latency samples at ``rate``) is compensated: it runs on
    x followed by that many zeros, and its first ``latency`` output samples are dropped.

    Returns
    -------
    (numpy.ndarray, str)
        The output at the model's rate, and the method that actually ran (a method predicted
        unstable is replaced; see Processor).
    """
    y, processor = _candidate(model, x, rate, method, controls, check_stability, oversample)
    return y, processor.interpolation


def _candidate(model, x, rate, method, controls=None, check_stability=True, oversample=1):
    """candidate_output's output and the Processor that made it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabilityWarning)  # reported through the method that ran
        processor = Processor(model, sample_rate=rate, interpolation=method, check_stability=check_stability,
                              controls=knob_values(model, controls), oversample=oversample)
    x_run = resample(x, model.sample_rate, rate, PAD_SECONDS)
    y_run = aligned_output(processor, x_run)
    y = resample(y_run, rate, model.sample_rate, PAD_SECONDS)
    return y[:len(x)], processor


def aligned_output(processor, x):
    """``processor`` on x with its latency compensated: len(x) samples, output sample i answering input sample i.

    Parameters
    ----------
    processor : Processor
        Mono, freshly prepared or reset.
    x : numpy.ndarray
        float32 (n,) at processor.sample_rate.

    Returns
    -------
    numpy.ndarray
        float32 (n,): the output for x followed by ``processor.latency`` zeros, without its first
        ``latency`` samples.
    """
    latency = processor.latency
    x = np.ascontiguousarray(x, np.float32)
    if latency == 0:
        return processor.process(x)
    return processor.process(np.concatenate([x, np.zeros(latency, np.float32)]))[latency:]


def evaluate(model, x, rates, methods=INTERPOLATIONS, controls=None, progress=None, oversamples=(1,)):
    """Score every (rate, method, oversampling factor) on x (at the model's rate).

    Parameters
    ----------
    model : Model
    x : numpy.ndarray
        The test signal at ``model.sample_rate``.
    rates : sequence of float
        Run rates in Hz.
    methods : sequence of str
    controls : sequence of float, optional
    progress : callable, optional
        Called as ``progress(done, total)``.
    oversamples : sequence of int
        Oversampling factors (Processor's ``oversample``), each with every method.

    Returns
    -------
    list of Score
    """
    y_ref = reference_output(model, x, controls)
    scores = []
    total = len(rates) * len(methods) * len(oversamples)
    for rate in rates:
        for method in methods:
            for factor in oversamples:
                try:
                    y, processor = _candidate(model, x, rate, method, controls, oversample=factor)
                    ran, snr, latency = processor.interpolation, snr_db(y_ref, y), processor.latency
                except SampleRateError:
                    if method != RESAMPLE and factor == 1 or can_resample(rate, factor * model.sample_rate):
                        raise  # not the resampler pair's rate ratio: the rate itself is wrong
                    # The pair takes ratios of small whole numbers only: this column cannot run at this rate.
                    ran, snr, latency = NOT_RUN, math.nan, 0
                scores.append(Score(model=model.name, model_rate=model.sample_rate, rate=float(rate),
                                    ratio=rate / model.sample_rate, method=method, ran=ran, snr_db=snr,
                                    oversample=int(factor), latency=latency))
                if progress is not None:
                    progress(len(scores), total)
    return scores


def column_name(method, oversample):
    """A table column: the method, with ``×K`` when oversampled."""
    return method if oversample == 1 else f"{method}×{oversample}"


def format_table(scores):
    """A text table: one row per rate, one column per method (and oversampling factor), SNR in dB.

    A replaced method shows the first letters of the one that ran; the last row gives each
    column's latency in samples at each rate, when any column has one.
    """
    columns = list(dict.fromkeys((s.method, s.oversample) for s in scores))
    rates = list(dict.fromkeys(s.rate for s in scores))
    lines = [f"{'rate (Hz)':>10} {'R':>7} " + " ".join(f"{column_name(*c):>12}" for c in columns)]
    for rate in rates:
        row = {(s.method, s.oversample): s for s in scores if s.rate == rate}
        first = next(iter(row.values()))
        cells = []
        for c in columns:
            s = row[c]
            if s.ran == NOT_RUN:
                text = NOT_RUN
            else:
                text = "exact" if math.isinf(s.snr_db) else f"{s.snr_db:.1f}"
                if s.ran != s.method:
                    text += f"({s.ran[:3]})"
            cells.append(f"{text:>12}")
        lines.append(f"{rate:>10.10g} {first.ratio:>7.4f} " + " ".join(cells))
    if any(s.latency for s in scores):
        for rate in rates:
            row = {(s.method, s.oversample): s for s in scores if s.rate == rate}
            lines.append(f"{'latency':>10} {'':>7} " + " ".join(f"{row[c].latency:>12}" for c in columns)
                         + f"   (samples at {rate:.10g} Hz)")
    if any(s.ran == NOT_RUN for s in scores):
        lines.append(f"{NOT_RUN}: resample and oversampling run the model inside a resampler pair, which takes "
                     f"rate ratios of whole numbers up to {MAX_PHASES} (48000/44100 = 160/147); this rate has none")
    return "\n".join(lines)


def write_csv(path, scores):
    """Write the scores as CSV (one row per model, rate and method)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(scores[0])))
        writer.writeheader()
        for score in scores:
            writer.writerow(asdict(score))


def behaviour(processor, x):
    """How a processor behaves on a signal followed by silence: the observed side of the stability check.

    Runs x, then as long again of silence. A stable recurrence comes to rest; an unstable one
    goes non-finite, grows, or (an LSTM, whose h tanh bounds) keeps oscillating on its own. The
    kernel's non-finite guard mutes a non-finite output and restarts the state, after which the
    output may rest: a restart counts as going non-finite.

    Returns
    -------
    dict
        ``finite``, ``peak`` (max |y|), ``tail_std`` (std of the last 10 % of the silence) and
        ``ok`` (finite, peak < 100 and tail_std < 1e-3).
    """
    restarts = processor.repairs["state_resets"]
    y = processor.process(np.concatenate([np.asarray(x, np.float32), np.zeros(len(x), np.float32)]))
    finite = bool(np.all(np.isfinite(y))) and processor.repairs["state_resets"] == restarts
    tail = y[-max(1, len(x) // 10):]
    peak = float(np.max(np.abs(y))) if finite else math.inf
    tail_std = float(np.std(tail)) if finite else math.inf
    return {"finite": finite, "peak": peak, "tail_std": tail_std, "ok": finite and peak < 100 and tail_std < 1e-3}
