"""interpolation="auto": run the stable state read that scores best on a short built-in probe.

No single read wins on every model (benchmarks/reports/quality.md: lagrange5 leads cubic by
~12 dB on models heard through a cabinet at 48 kHz and loses up to 27 dB on a bare clipper), so
at prepare the engine measures them. :func:`choose_auto`:

1. judges every candidate (CANDIDATES) with the stability rule (engine.stability.verdict, the one
   the Processor applies): a read it forbids is never scored and never chosen;
2. scores each distinct stable read (reads that are the same taps, e.g. every Lagrange read at
   integer R, are scored once) with the published quality protocol of SRC.md
   (engine.evaluate: the model at its own rate on the probe is the reference; the read runs at
   the target rate on the probe FFT-resampled there, its output is resampled back; SNR in dB)
   on :func:`probe_signal`;
3. picks the highest SNR (a tie goes to the earlier candidate) — except where no correcting read
   is stable (below the training rate only naive, the uncorrected model, may be): then it runs
   resample, as a fixed method falls back (the model at its own rate inside the resampler pair,
   at the pair's latency; naive only where the pair cannot run) — and keeps the decision in a small
   on-disk cache (engine.auto_cache) keyed on the model's content, the rate, the knob values and
   :func:`probe_version`, so a second prepare costs a file read.

The probe (:func:`probe_signal`) is engine.testing.guitar_like_signal — four plucked notes of
decaying harmonics — with noise band-limited at PROBE_NOISE_BAND_HZ and scaled to PROBE_PEAK.
Which read wins depends on where the fed-back state's energy sits: the Lagrange reads' errors
grow with frequency and lagrange5's off-centre window (1 < R < 3) amplifies the top octave, so a
probe with too little energy between 1 and 6 kHz favours the allpass, and one with energy above
~8 kHz (where a guitar DI has almost none: the demo clip is −45 dB there) penalises lagrange5
unfairly. The settings were chosen on the project's models against the demo clip and a held-out
synthesised performance, and the neighbourhood around them (noise ×0.75–1.4, band 4.5–5.5 kHz,
peak 0.18–0.35, three noise seeds, probe 0.75–1 s) kept every pick within 1 dB of the best read on
both; a 0.5 s probe did not. benchmarks/auto_choice.py measures the result, also on a third signal
that played no part in the choice.

Cost: the reference, each distinct read, and the resampling of one second of audio: 0.12 s of CPU
(at most 0.16 s) for an LSTM-40 at 48 kHz, 0.22 s at 96 kHz, on this project's machine
(benchmarks/reports/auto_choice.md); it grows with R and the model's size. Cached, ~ms.

A candidate is any method a Processor runs by name. The state reads are judged by the stability
rule; a mode that is not a state read (a resampler around the model, say) would be added to
CANDIDATES and judged in :func:`_judge`.
"""

import functools
import math
import time
from dataclasses import dataclass, field

from . import auto_cache
from .delay import read_filter
from .errors import ArgumentError
from .methods import RESAMPLE, STATE_READS
from .rates import rate_ratio

#: What auto chooses among, in the order a tie is settled (cheapest read first; the default first).
CANDIDATES = STATE_READS  # the zero-latency reads; resample (latency) is never picked for the user
#: The probe: length (s), peak, noise standard deviation (the harmonics peak near 1.08) and the
#: corner of the noise's band limit.
PROBE_SECONDS = 1.0
PROBE_PEAK = 0.25
PROBE_NOISE = 0.2
PROBE_NOISE_BAND_HZ = 5000.0
#: Raise when the probe or its scoring changes in a way the constants above do not show.
PROBE_VERSION = 1

#: How many probes ran in this process (a cache hit runs none): for tests and benchmarks.
probes_run = 0


@dataclass(frozen=True)
class Candidate:
    """One candidate's part in a decision.

    Attributes
    ----------
    method : str
    stable : bool
        Whether the stability rule lets it run; a forbidden one is not scored.
    snr_db : float
        Its probe score (dB; +inf when identical to the model at its own rate); NaN when it was
        not scored (forbidden, or the only stable read so there was nothing to compare).
    verdict : str
        The stability rule's one-line verdict (engine.stability.Verdict.describe).
    same_as : str or None
        The earlier candidate whose read is the same taps (its score is that one's).
    """

    method: str
    stable: bool
    snr_db: float
    verdict: str
    same_as: str = None


@dataclass(frozen=True)
class AutoChoice:
    """What interpolation="auto" decided for one model, rate and knob setting.

    Attributes
    ----------
    method : str
        The read to run: the stable candidate with the best probe score.
    sample_rate : float
    ratio : float
        R = sample_rate / model rate.
    candidates : tuple of Candidate
        In CANDIDATES order.
    cached : bool
        Whether the decision came from the on-disk cache (no probe ran).
    probe_seconds : float
        What the probe cost (wall-clock seconds) when it ran, cached or not; 0 if none was needed.
    linearisation : Linearisation or None
        The one the verdicts used, for the Processor's stability decision (not stored).
    fallback : bool
        True when no correcting read is stable (naive alone is) and ``method`` is resample: the
        fallback a fixed method takes too (never cached: nothing was probed).
    """

    method: str
    sample_rate: float
    ratio: float
    candidates: tuple
    cached: bool
    probe_seconds: float
    linearisation: object = field(default=None, repr=False, compare=False)
    fallback: bool = False

    @property
    def scores(self):
        """{method: probe SNR in dB, or None where the stability rule forbids it} for every candidate."""
        return {c.method: (c.snr_db if c.stable else None) for c in self.candidates}

    def describe(self):
        """One line: the choice and every candidate's score, e.g. for a status line or engine-info."""
        if self.fallback:
            return (f"{self.method} (no correcting read is stable at R = {self.ratio:.4g}, only naive, the "
                    f"uncorrected model: the model runs at its own rate inside the resampler pair)")
        if all(not c.stable or math.isnan(c.snr_db) for c in self.candidates):
            if sum(c.stable for c in self.candidates) == 1:
                return f"{self.method} (the only read the stability rule allows at R = {self.ratio:.4g})"
            return f"{self.method} (every stable read is the same at R = {self.ratio:.4g}: nothing to compare)"
        parts = []
        for c in self.candidates:
            if not c.stable:
                parts.append(f"{c.method} unstable")
            else:
                parts.append(f"{c.method} {_db(c.snr_db)}")
        return f"{self.method} (probe SNR, dB: {', '.join(parts)})"


def _db(value):
    return "exact" if math.isinf(value) and value > 0 else f"{value:.1f}"


@functools.lru_cache(maxsize=8)
def probe_signal(sample_rate):
    """The built-in probe at ``sample_rate`` (the model's rate): PROBE_SECONDS of guitar-like notes.

    Kept for the process's lifetime (a few models at one rate share one), hence read-only.

    Returns
    -------
    numpy.ndarray
        float32, peak PROBE_PEAK, not writeable.
    """
    from .testing import guitar_like_signal

    n = max(1, int(round(PROBE_SECONDS * sample_rate)))
    signal = guitar_like_signal(n, sample_rate, seed=0, noise=PROBE_NOISE, noise_band_hz=PROBE_NOISE_BAND_HZ,
                                peak=PROBE_PEAK)
    signal.flags.writeable = False
    return signal


def probe_version():
    """What identifies the probe and the code that scores it, for the cache key.

    The probe's constants, the candidates, PROBE_VERSION, the engine's version and the digest of
    the kernel sources (engine.kernels._cache: the arithmetic the scores come from).
    """
    from .kernels._cache import source_digest

    try:
        from importlib.metadata import version

        engine_version = version("rnn-rate-engine")
    except Exception:  # not installed (run from a checkout): the kernel digest still tells versions apart
        engine_version = "unknown"
    return (f"{PROBE_VERSION}|{PROBE_SECONDS!r}|{PROBE_PEAK!r}|{PROBE_NOISE!r}|{PROBE_NOISE_BAND_HZ!r}|"
            f"{','.join(CANDIDATES)}|{engine_version}|{source_digest()}")


def _judge(method, ratio, linearisation):
    """The stability verdict on ``method`` (engine.stability.verdict): stable, and its one-line description."""
    from .stability import verdict

    judged = verdict(method, ratio, linearisation)
    return judged.stable, judged.describe()


def _read_key(method, ratio):
    """What makes two candidates the same computation: a read's offset, taps and feedback."""
    offset, taps, feedback = read_filter(method, ratio)
    return offset, tuple(float(t) for t in taps), float(feedback)


def probe(model, sample_rate, controls=None, candidates=CANDIDATES, resample_possible=True):
    """Judge and score every candidate on the probe (no cache).

    Parameters
    ----------
    model : Model
    sample_rate : float
        The run rate (Hz).
    controls : sequence of float, optional
        The knob values of a conditioned model (required then: the model runs with them).
    candidates : sequence of str
    resample_possible : bool
        Whether the resampler pair can run at this rate pair (engine.resampler.design.can_resample):
        where only naive is stable and it can, resample is the choice (``fallback``).

    Returns
    -------
    AutoChoice
        ``cached`` False.

    Raises
    ------
    SampleRateError
        If R is outside the supported range.
    ArgumentError
        If a candidate is unknown or the knob values are missing or of the wrong count.
    """
    global probes_run
    from . import kernels
    from .evaluate import candidate_output, reference_output, snr_db
    from .stability import linearise

    kernels.process_block  # loaded (from numba's cache) before the clock starts: every Processor pays that once
    started = time.perf_counter()
    ratio = rate_ratio(sample_rate, model.sample_rate, model.path)
    made = [None]

    def lazily():
        if made[0] is None:
            made[0] = linearise(model, controls)
        return made[0]

    judged = [(method, *_judge(method, ratio, lazily)) for method in candidates]
    first_of = {}  # read -> the first stable candidate with it
    same_as = {}
    for method, stable, _ in judged:
        if stable:
            key = _read_key(method, ratio)
            same_as[method] = first_of.setdefault(key, method)
    distinct = list(first_of.values())
    if not distinct:
        raise ArgumentError(f"none of the candidates {', '.join(candidates)} is stable at R = {ratio:.4g}")
    if distinct == ["naive"] and ratio != 1.0 and resample_possible:
        # Every correcting read is forbidden: running the model uncorrected is the worst choice
        # (the rate error stays), so auto falls back as a fixed method does (stability.choose).
        result = tuple(Candidate(method=m, stable=stable, snr_db=math.nan, verdict=text) for m, stable, text in judged)
        return AutoChoice(method=RESAMPLE, sample_rate=float(sample_rate), ratio=ratio, candidates=result,
                          cached=False, probe_seconds=0.0, linearisation=made[0], fallback=True)
    scores = {}
    if len(distinct) > 1:
        probes_run += 1
        x = probe_signal(model.sample_rate)
        reference = reference_output(model, x, controls)
        for method in distinct:
            y, _ = candidate_output(model, x, sample_rate, method, controls, check_stability=False)
            score = snr_db(reference, y)
            scores[method] = -math.inf if math.isnan(score) else score
    result = []
    for method, stable, text in judged:
        first = same_as.get(method)
        score = scores.get(first, math.nan) if stable else math.nan
        result.append(Candidate(method=method, stable=stable, snr_db=score, verdict=text,
                                same_as=first if first not in (None, method) else None))
    # The best score; a tie, and the case of one distinct read (nothing scored), goes to the earliest.
    best = max(distinct, key=lambda m: (scores.get(m, -math.inf), -distinct.index(m)))
    elapsed = time.perf_counter() - started if scores else 0.0
    return AutoChoice(method=best, sample_rate=float(sample_rate), ratio=ratio, candidates=tuple(result),
                      cached=False, probe_seconds=elapsed, linearisation=made[0])


def choose_auto(model, sample_rate, controls=None, cache=True, resample_possible=True):
    """The read interpolation="auto" runs: from the cache if this decision was made before, else probed.

    Parameters
    ----------
    model : Model
    sample_rate : float
        The run rate (Hz).
    controls : sequence of float, optional
        The knob values the model runs with (a conditioned model's are part of the key).
    cache : bool
        False: always probe, and do not store the result.
    resample_possible : bool
        As :func:`probe`.

    Returns
    -------
    AutoChoice

    Raises
    ------
    SampleRateError, ArgumentError
        As :func:`probe`. A cache that cannot be read or written is never an error.
    """
    knobs = None if controls is None or not model.num_controls else [float(v) for v in controls]
    key = auto_cache.entry_key(model, sample_rate, knobs, probe_version()) if cache else None
    if cache:
        choice = _from_record(auto_cache.load(key), model, sample_rate, knobs)
        if choice is not None:
            return choice
    choice = probe(model, sample_rate, knobs, resample_possible=resample_possible)
    if cache and choice.probe_seconds > 0:
        auto_cache.store(key, _to_record(choice, model, knobs))
    return choice


def _to_record(choice, model, controls):
    return {"model": model.name, "model_rate": model.sample_rate, "sample_rate": choice.sample_rate,
            "ratio": choice.ratio, "controls": controls, "method": choice.method,
            "probe_seconds": choice.probe_seconds,
            "candidates": [{"method": c.method, "stable": c.stable, "snr_db": c.snr_db, "verdict": c.verdict,
                            "same_as": c.same_as} for c in choice.candidates]}


def _from_record(record, model, sample_rate, controls):
    """An AutoChoice from a cache record, or None if the record is absent or does not hold up.

    The chosen read is judged again by the stability rule (a file on disk must never make an
    unstable read run), and must be the candidate the record itself scored best among its stable ones.
    """
    if record is None:
        return None
    try:
        candidates = tuple(Candidate(method=str(c["method"]), stable=bool(c["stable"]), snr_db=float(c["snr_db"]),
                                     verdict=str(c["verdict"]),
                                     same_as=None if c.get("same_as") is None else str(c["same_as"]))
                           for c in record["candidates"])
        method = record["method"]
        seconds = float(record["probe_seconds"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if tuple(c.method for c in candidates) != tuple(CANDIDATES) or method not in CANDIDATES:
        return None
    if not next(c for c in candidates if c.method == method).stable:
        return None
    # The record must hold its own decision: the chosen read is the best-scored stable one (the
    # earliest on a tie), so an entry edited to name another read is not obeyed.
    scored = [(c.snr_db, -index, c.method) for index, c in enumerate(candidates)
              if c.stable and not math.isnan(c.snr_db)]
    if not scored or max(scored)[2] != method:
        return None
    from .stability import linearise

    ratio = rate_ratio(sample_rate, model.sample_rate, model.path)
    made = [None]

    def lazily():
        if made[0] is None:
            made[0] = linearise(model, controls)
        return made[0]

    if not _judge(method, ratio, lazily)[0]:
        return None
    return AutoChoice(method=method, sample_rate=float(sample_rate), ratio=ratio, candidates=candidates,
                      cached=True, probe_seconds=seconds, linearisation=made[0])
