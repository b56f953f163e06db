"""interpolation="auto": the stable read that scores best on the built-in probe, cached on disk.

The claims checked here: auto runs only what the stability rule (engine.stability.verdict)
allows, and the best of those on the probe as the published protocol (engine.evaluate) scores
it; a second prepare of the same decision reads the cache and probes nothing, while another
rate, knob setting or model probes afresh; a damaged or tampered cache entry is ignored (never
a traceback, never an unstable read); engine-info --rate prints the scores the Processor has; and
the probe predicts: on a few of the project's models, the read auto picks scores within 1 dB of
the best read on the demo clip and on a held-out synthesised performance the probe never saw
(benchmarks/auto_choice.py measures every model).
"""

import json
import math
import os
import re
import warnings

import numpy as np
import pytest
import soundfile

import engine
import engine.auto as auto
import engine.auto_cache as auto_cache
from conftest import REPO
from engine import cli
from engine.evaluate import evaluate, reference_output, candidate_output, snr_db
from engine.methods import STATE_READS as INTERPOLATIONS  # the reads auto chooses among (not resample)
from engine.rates import rate_ratio
from engine.resample import resample
from engine.stability import linearise, verdict
from engine.testing import guitar_like_signal, random_model

NAM = "nam/lstm_1x3.nam"  # a 48 kHz model: at 88.2 kHz cubic and lagrange5 are predicted unstable


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache folder of its own (never the user's)."""
    folder = tmp_path / "engine-auto"
    monkeypatch.setattr(auto_cache, "cache_directory", lambda: str(folder))
    return folder


def allowed(model, method, rate, controls=None):
    """The stability rule's word on ``method``, asked directly."""
    ratio = rate_ratio(rate, model.sample_rate)
    return verdict(method, ratio, lambda: linearise(model, controls)).stable


# -- the choice ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [88200.0, 44100.0])
def test_auto_runs_only_what_the_stability_rule_allows(shared_fixtures, rate):
    model = engine.load_model(shared_fixtures / NAM)
    forbidden = [m for m in INTERPOLATIONS if not allowed(model, m, rate)]
    assert forbidden, "the premise: some read is forbidden here"  # 88.2 kHz: cubic, lagrange5; 44.1 kHz: allpass
    processor = engine.Processor(model, sample_rate=rate, interpolation="auto")
    assert processor.requested_interpolation == "auto"
    assert processor.interpolation == processor.auto.method
    assert allowed(model, processor.interpolation, rate)
    assert processor.stability is not None and not processor.stability.replaced
    for method in forbidden:
        assert processor.auto_scores[method] is None
    for method in set(INTERPOLATIONS) - set(forbidden):
        assert isinstance(processor.auto_scores[method], float)


def test_auto_never_runs_a_forbidden_read_even_with_the_check_off(shared_fixtures):
    model = engine.load_model(shared_fixtures / NAM)
    processor = engine.Processor(model, sample_rate=88200.0, interpolation="auto", check_stability=False)
    assert allowed(model, processor.interpolation, 88200.0)


def test_the_scores_are_the_published_protocol_on_the_probe_and_the_best_runs():
    model = engine.load_model(REPO / "models/lstm40/asymmetric_clipper.json")
    processor = engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    x = auto.probe_signal(model.sample_rate)
    expected = {s.method: s.snr_db for s in evaluate(model, x, [48000.0], INTERPOLATIONS)}  # engine.evaluate, as engine-eval scores
    assert processor.auto_scores == pytest.approx(expected, abs=1e-9)
    assert processor.interpolation == max(expected, key=expected.get)
    # the probe is what its documentation says: 1 s at the model's rate, peak 0.25, its noise band-limited
    assert len(x) == int(model.sample_rate) and np.max(np.abs(x)) == pytest.approx(auto.PROBE_PEAK)
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    frequency = np.fft.rfftfreq(len(x), 1 / model.sample_rate)
    assert spectrum[frequency > 2 * auto.PROBE_NOISE_BAND_HZ].sum() < 1e-5 * spectrum.sum()  # −50 dB
    assert spectrum[(frequency > 2500) & (frequency < 4500)].sum() > 1e-2 * spectrum.sum()


def test_identical_reads_are_scored_once_and_the_first_is_chosen():
    """At R = 2 every correcting read is the exact delay: one score, shared; linear (listed first) runs."""
    model = random_model("lstm", hidden=8, seed=3)
    before = auto.probes_run
    processor = engine.Processor(model, sample_rate=88200.0, interpolation="auto")
    assert auto.probes_run == before + 1
    assert processor.interpolation == "linear"
    same = {c.method: c.same_as for c in processor.auto.candidates}
    assert same == {"linear": None, "naive": None, "cubic": "linear", "lagrange5": "linear", "allpass": "linear"}
    scores = processor.auto_scores
    assert scores["cubic"] == scores["lagrange5"] == scores["allpass"] == scores["linear"] > scores["naive"]
    # at R = 1 every read is the same: nothing is probed at all
    at_rate = engine.Processor(model, sample_rate=44100.0, interpolation="auto")
    assert auto.probes_run == before + 1 and at_rate.interpolation == "linear"
    assert "nothing to compare" in at_rate.auto.describe()


# -- the cache -------------------------------------------------------------------------------

def test_a_second_prepare_reads_the_cache_and_probes_nothing(private_cache):
    model = engine.load_model(REPO / "models/overdrive_lstm20.json")
    before = auto.probes_run
    first = engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 1 and not first.auto.cached
    assert len(list(private_cache.glob("*.json"))) == 1
    second = engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 1 and second.auto.cached
    assert (second.interpolation, second.auto_scores) == (first.interpolation, first.auto_scores)
    first.prepare(48000.0)
    assert auto.probes_run == before + 1 and first.auto.cached
    # another rate is another decision
    first.prepare(96000.0)
    assert auto.probes_run == before + 2 and not first.auto.cached
    # the same weights under another file name (or in memory) are the same decision
    renamed = engine.load_model(REPO / "models/overdrive_lstm20.json").with_sample_rate(44100.0, "user")
    engine.Processor(renamed, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 2
    # the cache is safe to delete
    for entry in private_cache.glob("*.json"):
        entry.unlink()
    engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 3


def test_other_weights_or_knobs_miss_the_cache():
    model = random_model("lstm", hidden=8, controls=1, seed=11)
    before = auto.probes_run
    engine.Processor(model, sample_rate=48000.0, interpolation="auto", controls=[0.2])
    engine.Processor(model, sample_rate=48000.0, interpolation="auto", controls=[0.2])
    assert auto.probes_run == before + 1
    engine.Processor(model, sample_rate=48000.0, interpolation="auto", controls=[0.7])
    assert auto.probes_run == before + 2
    other = random_model("lstm", hidden=8, controls=1, seed=11)
    layer = other.layers[0]
    changed = layer.weight_hh.copy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.float32(1))  # one weight, one ulp
    object.__setattr__(layer, "weight_hh", changed)
    engine.Processor(other, sample_rate=48000.0, interpolation="auto", controls=[0.2])
    assert auto.probes_run == before + 3


def test_the_cache_lives_beside_numbas(monkeypatch, tmp_path):
    monkeypatch.undo()  # the real function, not this file's private folder
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert auto_cache.cache_directory() == str(tmp_path / "numba" / "engine-auto")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    kernels_cache = os.path.join(os.path.dirname(engine.auto.__file__), "kernels", "__pycache__")
    if os.access(kernels_cache, os.W_OK):
        assert auto_cache.cache_directory() == os.path.join(kernels_cache, "engine-auto")


def _only_entry(folder):
    entries = list(folder.glob("*.json"))
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "not-a-record", "wrong-key", "huge", "folder"])
def test_a_damaged_cache_entry_is_ignored(private_cache, damage):
    model = engine.load_model(REPO / "models/overdrive_lstm20.json")
    good = engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    entry = _only_entry(private_cache)
    text = entry.read_text()
    if damage == "garbage":
        entry.write_bytes(b"\x00\xff\xfe not json at all")
    elif damage == "truncated":
        entry.write_text(text[:len(text) // 2])
    elif damage == "empty":
        entry.write_text("")
    elif damage == "not-a-record":
        entry.write_text(json.dumps([1, 2, 3]))
    elif damage == "wrong-key":
        record = json.loads(text)
        record["key"] = "0" * 64
        entry.write_text(json.dumps(record))
    elif damage == "huge":
        entry.write_text(" " * (auto_cache.MAX_ENTRY_BYTES + 10) + text)
    else:
        entry.unlink()
        entry.mkdir()
    before = auto.probes_run
    again = engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 1 and not again.auto.cached
    assert (again.interpolation, again.auto_scores) == (good.interpolation, good.auto_scores)


def test_a_cache_entry_naming_a_forbidden_read_is_not_obeyed(private_cache, shared_fixtures):
    model = engine.load_model(shared_fixtures / NAM)
    engine.Processor(model, sample_rate=88200.0, interpolation="auto")
    entry = _only_entry(private_cache)
    record = json.loads(entry.read_text())
    assert not allowed(model, "cubic", 88200.0)
    record["method"] = "cubic"
    for candidate in record["candidates"]:
        if candidate["method"] == "cubic":
            candidate["stable"], candidate["snr_db"] = True, 200.0
    entry.write_text(json.dumps(record))
    before = auto.probes_run
    processor = engine.Processor(model, sample_rate=88200.0, interpolation="auto")
    assert processor.interpolation != "cubic" and allowed(model, processor.interpolation, 88200.0)
    assert auto.probes_run == before + 1


def test_a_cache_entry_naming_a_read_it_did_not_score_best_is_not_obeyed(private_cache):
    """An entry edited to name a stable read other than its best-scored one is not the decision it records."""
    model = engine.load_model(REPO / "models/lstm40/crunch_amp_mic.json")
    first = engine.Processor(model, sample_rate=48000.0, interpolation="auto").interpolation
    entry = _only_entry(private_cache)
    record = json.loads(entry.read_text())
    worst = min((c for c in record["candidates"] if c["stable"]), key=lambda c: c["snr_db"])["method"]
    assert worst != first
    record["method"] = worst
    entry.write_text(json.dumps(record))
    before = auto.probes_run
    assert engine.Processor(model, sample_rate=48000.0, interpolation="auto").interpolation == first
    assert auto.probes_run == before + 1


#: A 48 kHz model (the miked high-gain amp read as one) below its rate where every correcting read is
#: forbidden: R = 2/3 (32 kHz, the pair can run: 2/3) and R = 30001/48000 (it cannot).
BELOW_MODEL = "models/lstm40/high_gain_amp_mic.json"


def _below_model():
    return engine.load_model(REPO / BELOW_MODEL, sample_rate=48000)


def test_where_only_naive_is_stable_auto_falls_back_to_resample_as_a_fixed_method_does(private_cache):
    model = _below_model()
    for method in INTERPOLATIONS:
        assert allowed(model, method, 32000.0) == (method == "naive"), method
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the best there is: no warning
        processor = engine.Processor(model, sample_rate=32000.0, interpolation="auto")
    assert processor.interpolation == "resample" and processor.latency > 0 and processor.auto.fallback
    with pytest.warns(engine.StabilityWarning, match="running resample instead"):
        fixed = engine.Processor(model, sample_rate=32000.0, interpolation="linear")
    assert fixed.interpolation == "resample"
    # and it sounds like the model: far above the uncorrected model on the protocol
    x = resample(guitar_like_signal(48000, 48000.0, seed=8), 48000.0, model.sample_rate)
    reference = reference_output(model, x)
    ran = {m: snr_db(reference, candidate_output(model, x, 32000.0, m)[0]) for m in ("auto", "naive")}
    assert ran["auto"] > ran["naive"] + 20, ran


def test_where_neither_a_correcting_read_nor_the_pair_can_run_auto_runs_naive_and_says_so(private_cache):
    model = _below_model()
    with pytest.warns(engine.StabilityWarning, match="auto: no correcting read is stable.*running naive"):
        processor = engine.Processor(model, sample_rate=30001.0, interpolation="auto")
    assert processor.interpolation == "naive" and processor.latency == 0
    assert "the only read the stability rule allows" in processor.auto.describe()


def test_engine_info_says_what_runs_where_the_pair_cannot(capsys):
    assert cli.info_main([str(REPO / BELOW_MODEL), "--model-rate", "48000", "--rate", "30001"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  linear\s+UNSTABLE.*; runs naive instead$", out, re.MULTILINE), out
    assert re.search(r"^  resample\s+cannot run: 30001 Hz and 48000 Hz", out, re.MULTILINE), out
    assert "runs resample instead" not in out
    assert re.search(r"^  auto\s+runs naive: the only read", out, re.MULTILINE), out
    assert cli.info_main([str(REPO / BELOW_MODEL), "--model-rate", "48000", "--rate", "32000"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  linear\s+UNSTABLE.*; runs resample instead$", out, re.MULTILINE), out
    assert re.search(r"^  auto\s+runs resample: no correcting read is stable", out, re.MULTILINE), out


def test_with_oversampling_auto_chooses_the_read_at_the_rate_it_runs(private_cache):
    model = engine.load_model(REPO / "models/lstm40/crunch_amp_mic.json")
    processor = engine.Processor(model, sample_rate=48000.0, interpolation="auto", oversample=2)
    assert processor.auto.ratio == pytest.approx(processor.read_ratio) and processor.read_ratio > 2
    assert processor.auto.sample_rate == 96000.0


def test_an_unwritable_cache_costs_a_probe_not_an_error(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(auto_cache, "cache_directory", lambda: str(blocker / "engine-auto"))
    model = random_model("gru", hidden=8, seed=2)
    before = auto.probes_run
    for _ in range(2):
        engine.Processor(model, sample_rate=48000.0, interpolation="auto")
    assert auto.probes_run == before + 2


# -- knobs -----------------------------------------------------------------------------------

def test_a_knob_that_makes_the_choice_unstable_chooses_again():
    """The knob-sensitive LSTM of test_below_rate: at R = 44.1/48 cubic is stable at knob 0 and not at 1."""
    from test_below_rate import MODEL_RATE, RUN_RATE, knob_sensitive_model

    model = knob_sensitive_model()
    assert model.sample_rate == MODEL_RATE
    processor = engine.Processor(model, sample_rate=RUN_RATE, interpolation="auto", controls=[0.0])
    first = processor.interpolation
    assert allowed(model, first, RUN_RATE, [0.0])
    before = auto.probes_run
    processor.set_controls([1.0])
    assert allowed(model, processor.interpolation, RUN_RATE, [1.0])
    if allowed(model, first, RUN_RATE, [1.0]):  # still allowed: kept, nothing probed
        assert processor.interpolation == first and auto.probes_run == before
    else:  # forbidden now: chosen again among what the new knob allows
        assert processor.interpolation != first and auto.probes_run == before + 1
        assert processor.auto.scores[first] is None


# -- the commands ----------------------------------------------------------------------------

def test_engine_info_lists_every_score_and_the_choice(capsys, shared_fixtures):
    model_path = shared_fixtures / NAM
    assert cli.info_main([str(model_path), "--rate", "88200"]) == 0
    out = capsys.readouterr().out
    processor = engine.Processor(engine.load_model(model_path), sample_rate=88200.0, interpolation="auto")
    ran = re.search(r"^  auto\s+runs (\w+):", out, re.MULTILINE)
    assert ran and ran.group(1) == processor.interpolation
    for method, score in processor.auto_scores.items():
        line = re.search(rf"^    {method}\s+(.*)$", out, re.MULTILINE)
        assert line, out
        if score is None:
            assert "not scored: the stability rule forbids it" in line.group(1)
        else:
            assert float(re.match(r"(-?[\d.]+) dB", line.group(1)).group(1)) == pytest.approx(score, abs=0.051)
    assert re.search(rf"^    {processor.interpolation}\s+.*<- runs$", out, re.MULTILINE)


def test_engine_process_and_eval_take_auto(capsys, tmp_path):
    clip = tmp_path / "di.wav"
    soundfile.write(clip, guitar_like_signal(9600, 48000.0, seed=4), 48000)
    model = REPO / "models/overdrive_lstm20.json"
    output = tmp_path / "out.wav"
    assert cli.process_main([str(clip), str(output), "--model", str(model), "--interpolation", "auto"]) == 0
    out = capsys.readouterr().out
    chosen = engine.Processor(engine.load_model(model), sample_rate=48000.0, interpolation="auto").interpolation
    assert f", {chosen} (chosen by auto);" in out
    assert cli.eval_main([str(model), "--input", str(clip), "--rates", "48000", "--methods", "linear", "auto"]) == 0
    out = capsys.readouterr().out
    assert f"({chosen[:3]})" in out and "the method auto chose" in out


# -- the probe predicts ----------------------------------------------------------------------

#: Models on which the probe's guitar_like_signal default (white noise, peak 0.5) picked a read
#: 1.6–12 dB below the best on the demo clip: the cabinet models want lagrange5 at 48 kHz, the
#: bare clipper must not get it (33 dB against the allpass's 65), the tone stack wants the allpass.
PREDICTED = ["lstm40/asymmetric_clipper_cab.json", "lstm40/crunch_amp_cab.json", "lstm40/asymmetric_clipper.json",
             "lstm40/tone_stack.json", "lstm40/high_gain_amp_mic.json"]  # the last: as rate-sensitive as real captures
SECONDS = 3.0


@pytest.fixture(scope="module")
def unseen_signals():
    """The demo clip's first 3 s, and 3 s of the held-out synthesised performance (tools/synth.py, seed 2002)."""
    from tools import synth  # as test_tools_circuits imports it: numba's cache of synth's kernel names its module

    clip, clip_rate = soundfile.read(REPO / "models/demo_di.wav", dtype="float32")
    return {"demo clip": (clip[:int(SECONDS * clip_rate)], clip_rate),
            "held-out performance": (synth.test_clip(seconds=SECONDS), synth.SAMPLE_RATE)}


@pytest.mark.parametrize("rate", [48000.0, 96000.0])
@pytest.mark.parametrize("name", PREDICTED)
def test_the_probe_picks_within_1_db_of_the_best_read(name, rate, unseen_signals):
    model = engine.load_model(REPO / "models" / name)
    pick = auto.choose_auto(model, rate, cache=False).method
    for signal_name, (x, x_rate) in unseen_signals.items():
        x = resample(x, x_rate, model.sample_rate)
        reference = reference_output(model, x)
        scores = {}
        for method in INTERPOLATIONS:
            y, ran = candidate_output(model, x, rate, method)
            if ran == method:  # the best the user could have asked for and got
                scores[method] = snr_db(reference, y)
        best = max(scores, key=scores.get)
        assert scores[pick] >= scores[best] - 1.0, (
            f"{name} at {rate:g} Hz on the {signal_name}: auto picks {pick} ({scores[pick]:.1f} dB), "
            f"{best} scores {scores[best]:.1f} dB")
        assert math.isfinite(scores[pick])
