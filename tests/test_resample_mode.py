"""interpolation="resample" and oversample in the Processor, the stability fallback, the quality protocol,
the aliasing measure and the command lines."""

import glob
import math
import re
import warnings

import numpy as np
import pytest
import soundfile

import engine
from conftest import REPO, guitar_like_signal
from engine import stability
from engine.aliasing import asr_db, coherent_bin, measure
from engine.errors import ArgumentError, ConfigError, SampleRateError
from engine.evaluate import aligned_output, candidate_output, evaluate, format_table, reference_output, snr_db
from engine.resample import resample
from engine.settle import settled
from engine.testing import random_model

LSTM40 = REPO / "models" / "lstm40"
DEFAULT_MODEL = REPO / "models" / "overdrive_lstm20.json"


def demo_clip(seconds, rate):
    clip, clip_rate = soundfile.read(REPO / "models" / "demo_di.wav", dtype="float32")
    return resample(clip[:int(seconds * clip_rate)], clip_rate, rate)


# ---- latency ---------------------------------------------------------------------------------------

def test_state_reads_have_no_latency_and_the_pair_reports_its_own():
    model = random_model("lstm", hidden=8, sample_rate=44100.0)
    for method in ("linear", "cubic", "naive"):
        assert engine.Processor(model, 48000, interpolation=method).latency == 0
    resampling = engine.Processor(model, 48000, interpolation="resample")
    assert resampling.latency == resampling._resampler.plan.latency > 0
    assert resampling.latency <= 72  # the acceptance: 1.5 ms at 48 kHz
    assert engine.Processor(model, 48000, interpolation="cubic", oversample=2).latency > 0
    # At the model's own rate there is nothing to resample: the model itself, no delay.
    assert engine.Processor(model, 44100, interpolation="resample").latency == 0
    assert "latency 48 samples" in repr(resampling)


def test_the_latency_is_where_the_models_response_is():
    """A model with memory: its output delayed by the reported latency matches the model at its own rate
    (ideally resampled) far better than one sample earlier or later."""
    model = engine.load_model(LSTM40 / "tone_stack_cab.json")
    x = demo_clip(0.5, 44100)
    reference = reference_output(model, x)
    processor = engine.Processor(model, 48000, interpolation="resample")
    y = processor.process(np.concatenate([resample(x, 44100, 48000, 0.05), np.zeros(100, np.float32)]))
    scores = {}
    for shift in (-1, 0, 1):
        start = processor.latency + shift
        back = resample(y[start:start + int(round(len(x) * 48000 / 44100))], 48000, 44100, 0.05)[:len(x)]
        scores[shift] = snr_db(reference, back)
    assert scores[0] > max(scores[-1], scores[1]) + 20, scores


# ---- quality: the published protocol --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hard_clipper.json", "crunch_amp_cab.json"])
def test_resample_beats_cubic_by_10_db_on_the_protocol(name):
    """A fast subset of the acceptance (benchmarks/resample_mode.py runs the whole LSTM-40 set)."""
    model = engine.load_model(LSTM40 / name)
    x = demo_clip(1.5, model.sample_rate)
    reference = reference_output(model, x)
    resampled, ran = candidate_output(model, x, 48000, "resample")
    cubic, _ = candidate_output(model, x, 48000, "cubic")
    assert ran == "resample"
    assert snr_db(reference, resampled) >= snr_db(reference, cubic) + 10


def test_below_the_training_rate_resample_beats_every_stable_read():
    """hard_clipper as a 48 kHz model at 44.1 kHz: cubic and lagrange5 are forbidden there; resample beats
    what does run (the acceptance: never worse than the best stable read)."""
    model = engine.load_model(LSTM40 / "hard_clipper.json", sample_rate=48000)
    x = demo_clip(1.0, 48000)
    reference = reference_output(model, x)
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", engine.StabilityWarning)
        for method in ("naive", "linear", "cubic", "lagrange5"):
            y, ran = candidate_output(model, x, 44100, method)
            if ran == method:
                scores[method] = snr_db(reference, y)
    y, _ = candidate_output(model, x, 44100, "resample")
    assert "cubic" not in scores and scores
    assert snr_db(reference, y) > max(scores.values()), scores


def test_engine_eval_scores_oversampling_and_reports_latency():
    model = engine.load_model(LSTM40 / "diode_clipper.json")
    x = demo_clip(0.3, model.sample_rate)
    scores = evaluate(model, x, [48000], ["linear", "resample"], oversamples=(1, 2))
    assert [(s.method, s.oversample) for s in scores] == [("linear", 1), ("linear", 2), ("resample", 1),
                                                          ("resample", 2)]
    latencies = {(s.method, s.oversample): s.latency for s in scores}
    assert latencies[("linear", 1)] == 0
    assert latencies[("resample", 1)] == engine.Processor(model, 48000, interpolation="resample").latency
    table = format_table(scores)
    assert "linear×2" in table and "resample×2" in table and re.search(r"latency +0 +\d+ +\d+ +\d+", table)


# ---- the stability fallback -------------------------------------------------------------------------------

def model_every_read_fails():
    """A random GRU-16 at 48 kHz with recurrent weights ×2 (benchmarks/below_rate.py's 'random GRU-16,
    recurrent x2'): at 44.1 kHz linear, cubic and lagrange5 are all predicted unstable."""
    model = random_model("gru", hidden=16, seed=110, sample_rate=48000.0)
    layer = model.layers[0]
    object.__setattr__(layer, "weight_hh", (2 * layer.weight_hh).astype(np.float32))
    return model


def test_where_every_read_is_forbidden_resample_runs():
    model = model_every_read_fails()
    choice = stability.choose(model, "linear", 44100 / 48000)
    judged = {v.method: v.stable for v in choice.verdicts}
    assert judged["linear"] is False and judged["cubic"] is False and judged["lagrange5"] is False
    assert choice.method == "resample"  # the seed's rule ran naive here
    with pytest.warns(engine.StabilityWarning, match=r"linear is predicted unstable .*; running resample instead"):
        processor = engine.Processor(model, 44100, interpolation="linear")
    assert processor.interpolation == "resample" and processor.latency > 0
    assert np.all(np.isfinite(processor.process(guitar_like_signal(4410, 44100))))
    assert stability.verdict("resample", 0.9, None).stable  # no linearisation needed (None is never called)


def test_a_fallback_to_resample_that_cannot_run_runs_naive():
    model = model_every_read_fails()
    with pytest.warns(engine.StabilityWarning, match=r"running naive instead \(resample cannot run between "):
        processor = engine.Processor(model, 44100.5, interpolation="linear")
    assert processor.interpolation == "naive" and processor.latency == 0


# ---- the rest of the Processor ----------------------------------------------------------------------------

def test_stereo_is_two_independent_channels():
    model = random_model("lstm", hidden=8, sample_rate=44100.0, seed=4)
    left, right = guitar_like_signal(3000, 48000, seed=1), 0.5 * guitar_like_signal(3000, 48000, seed=2)
    for kwargs in (dict(interpolation="resample"), dict(interpolation="cubic", oversample=4)):
        both = engine.Processor(model, 48000, channels=2, **kwargs).process(np.stack([left, right], axis=1))
        for ch, mono in enumerate((left, right)):
            np.testing.assert_array_equal(both[:, ch], engine.Processor(model, 48000, **kwargs).process(mono))


def test_a_control_ramp_spans_the_call_in_model_frames_however_the_kernel_splits_it():
    """Processor splits a call into max_block_size pieces and the pair into chunks: the knob ramps once
    across the whole call either way (the kernel advances the ramp in model-rate frames)."""
    model = random_model("lstm", hidden=8, controls=1, sample_rate=44100.0, seed=11)
    x = guitar_like_signal(6000, 48000)
    outputs = []
    for block in (256, 8192):
        processor = engine.Processor(model, 48000, interpolation="resample", controls=[0.1], max_block_size=block)
        first = processor.process(x[:1000])
        processor.set_controls([0.9])
        ramped = processor.process(x[1000:])
        outputs.append(np.concatenate([first, ramped]))
        assert processor._header[engine.kernels.H_RAMP_DONE] == 0 and processor._header[engine.kernels.H_RAMP_LENGTH] == 1
    np.testing.assert_array_equal(outputs[0], outputs[1])
    held = engine.Processor(model, 48000, interpolation="resample", controls=[0.1]).process(x)
    assert not np.array_equal(outputs[0][1000:], held[1000:])  # the knob did move


def test_non_finite_input_is_counted_and_played_as_silence():
    model = random_model("lstm", hidden=8, sample_rate=44100.0)
    processor = engine.Processor(model, 48000, interpolation="resample")
    x = guitar_like_signal(2000, 48000)
    x[100], x[500] = np.nan, np.inf
    y = processor.process(x)
    assert np.all(np.isfinite(y)) and processor.repairs["non_finite_input"] == 2


def test_the_live_slot_carries_the_pair():
    processor = engine.Processor(random_model("lstm", hidden=8, sample_rate=44100.0), 48000, oversample=2)
    slot = processor.kernel_slot()
    assert len(slot) == 13 and all(array.size > 0 for array in slot)
    plain = engine.Processor(random_model("lstm", hidden=8, sample_rate=44100.0), 48000).kernel_slot()
    assert len(plain) == 13 and all(array.size == 0 for array in plain[5:])


@pytest.mark.parametrize("value,shown", [(3, "3"), (0, "0"), (2.0, "2.0"), (True, "True"), ("2", "'2'")])
def test_bad_oversample_is_a_one_line_error(value, shown):
    with pytest.raises(ArgumentError, match=rf"^oversample must be one of 1, 2, 4 \(the model runs at that multiple "
                                            rf"of the stream's rate\), got {re.escape(shown)}$"):
        engine.Processor(random_model("lstm", hidden=4), 48000, oversample=value)


def test_impossible_rates_are_one_line_errors():
    model = random_model("lstm", hidden=4, sample_rate=44100.0)
    with pytest.raises(SampleRateError, match=r"^cannot resample between 48000\.5 Hz and 44100 Hz exactly"):
        engine.Processor(model, 48000.5, interpolation="resample")
    with pytest.raises(SampleRateError, match=r"^oversample=4 runs the model at 3\.528e\+06 Hz: .*cannot run a model "
                                              r"trained at 44100 Hz"):
        engine.Processor(model, 44100 * 20, oversample=4)


# ---- the aliasing measure -----------------------------------------------------------------------------------

def test_asr_of_known_spectra():
    """Closed form: a periodic signal of harmonics alone has no aliasing; one off-harmonic line of power p
    against harmonic power P gives 10·log10(p / P)."""
    frames = 4800
    c = coherent_bin(1000, 48000, frames)
    assert math.gcd(c, frames) == 1
    n = np.arange(frames)
    harmonics = 0.5 * np.sin(2 * np.pi * c * n / frames) + 0.1 * np.sin(2 * np.pi * 3 * c * n / frames) + 0.02
    assert asr_db(harmonics, c) < -250
    alias = 0.001 * np.sin(2 * np.pi * (frames // 2 - 7 * c % (frames // 2)) * n / frames)
    expected = 10 * math.log10(0.001 ** 2 / (0.5 ** 2 + 0.1 ** 2))
    assert asr_db(harmonics + alias, c) == pytest.approx(expected, abs=1e-6)


def test_a_hard_clipper_aliases_and_the_measure_sees_it():
    """numpy's own clip of a sine at 48 kHz folds every harmonic above 24 kHz onto a non-harmonic bin: its ASR
    is the power of the harmonics above 24 kHz over those below, read off the same clip made at 16× the rate.
    That clip ideally decimated (FFT) has (almost) none."""
    frames, rate = 4800, 48000
    c = coherent_bin(3136, rate, frames)
    n = np.arange(16 * frames)
    fine = np.clip(3 * np.sin(2 * np.pi * c * n / (16 * frames)), -1, 1)
    power = np.abs(np.fft.rfft(fine)) ** 2
    bins = np.arange(len(power))
    harmonic = (bins % c == 0) & (bins > 0)
    folding = 10 * math.log10(power[harmonic & (bins > frames // 2)].sum() / power[harmonic & (bins <= frames // 2)].sum())
    direct = asr_db(fine[::16], c)
    assert direct == pytest.approx(folding, abs=0.05) and direct > -40
    assert asr_db(resample(fine, 16 * rate, rate), c) < direct - 40


def total_harmonic_distortion_db(model, frequency=220.0, amplitude=0.5):
    """Σ_{k ≥ 2} |Y_kc|² / |Y_c|² of the model at its own rate, settled, on a coherent sine (dB)."""
    rate = model.sample_rate
    frames = int(rate)
    c = coherent_bin(frequency, rate, frames)
    n = np.arange(frames + int(0.5 * rate))
    x = (amplitude * np.sin(2 * np.pi * ((c * n) % frames) / frames)).astype(np.float32)
    power = np.abs(np.fft.rfft(reference_output(model, x)[-frames:].astype(np.float64))) ** 2
    return 10 * math.log10(power[2 * c::c].sum() / power[c])


def clipping_candidates():
    """The project's models: trained (the default model, the LSTM-40 set) and the test networks of tests/fixtures."""
    trained = [DEFAULT_MODEL] + sorted(p for p in glob.glob(str(LSTM40 / "*.json")) if not p.endswith(".report.json"))
    return ([engine.load_model(p) for p in trained],
            [engine.load_model(p) for p in sorted(glob.glob(str(REPO / "tests" / "fixtures" / "torch" / "*.guitarml.json")))])


def test_oversampling_x2_lowers_the_asr_of_the_hardest_clipping_model_by_10_db():
    """The model with the most harmonic distortion on a loud 220 Hz sine, over all the project's models (a test
    network, benchmarks/resample_mode.py lists them with the shared fixtures, which clip less), and over the
    trained ones (an amp-like model, which also aliases the most)."""
    trained, networks = clipping_candidates()
    distortion = {id(m): total_harmonic_distortion_db(m) for m in trained + networks}
    hardest = max(trained + networks, key=lambda m: distortion[id(m)])
    hardest_trained = max(trained, key=lambda m: distortion[id(m)])
    for model in {id(hardest): hardest, id(hardest_trained): hardest_trained}.values():
        for method in ("linear", "cubic"):
            plain, doubled = measure(model, 48000, method, 1), measure(model, 48000, method, 2)
            assert doubled.mean_db <= plain.mean_db - 10, (model.name, method, plain.mean_db, doubled.mean_db)


# ---- the command lines ----------------------------------------------------------------------------------------

def test_engine_info_shows_the_latency_the_processor_has(capsys):
    from engine.cli.info import info_main

    for factor in (1, 2):
        assert info_main([str(LSTM40 / "hard_clipper.json"), "--rate", "48000", "--oversample", str(factor)]) == 0
        line = re.search(r"^  latency +(.*)$", capsys.readouterr().out, re.M).group(1)
        model = engine.load_model(LSTM40 / "hard_clipper.json")
        resampled = engine.Processor(model, 48000, interpolation="resample", oversample=factor).latency
        assert f"resample: {resampled} samples ({resampled / 48:.2f} ms)" in line
        if factor == 2:
            assert f"state reads ×2: {engine.Processor(model, 48000, oversample=2).latency} samples" in line


def test_engine_eval_prints_the_aliasing_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from engine.cli.eval import eval_main

    clip = tmp_path / "clip.wav"
    soundfile.write(clip, demo_clip(0.3, 44100), 44100)
    code = eval_main([str(LSTM40 / "diode_clipper.json"), "--input", str(clip), "--rates", "48000", "--methods",
                      "linear", "resample", "--oversample", "1", "2", "--aliasing", "--plots", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^ +48000 +1 +-\d+\.\d +-\d+\.\d$", out, re.M) and re.search(r"^ +48000 +2 +-\d", out, re.M)
    assert (tmp_path / "diode_clipper_aliasing.png").read_bytes()[:4] == b"\x89PNG"


def test_engine_process_compensates_the_latency(tmp_path):
    from engine.render import render_file

    model = engine.load_model(LSTM40 / "diode_clipper.json")
    x = np.stack([guitar_like_signal(9000, 48000, seed=1), guitar_like_signal(9000, 48000, seed=2)], axis=1)
    soundfile.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    report = render_file(model, tmp_path / "in.wav", tmp_path / "out.wav", interpolation="resample")
    y, _ = soundfile.read(tmp_path / "out.wav", dtype="float32")
    assert report.latency > 0 and y.shape == x.shape
    for ch in range(2):
        processor = engine.Processor(settled(model), 48000, interpolation="resample")  # from rest, as rendered
        np.testing.assert_array_equal(y[:, ch], aligned_output(processor, np.ascontiguousarray(x[:, ch])))


def test_oversample_in_the_config_is_checked_and_reaches_the_live_chain(tmp_path):
    from engine.config import load_config
    from engine.live.chain import LiveChain, load_models

    path = tmp_path / "live.yaml"
    path.write_text(f"model: {DEFAULT_MODEL}\noversample: 3\n")
    with pytest.raises(ConfigError, match=r"oversample must be one of 1, 2, 4, got 3$"):
        load_config(path)
    path.write_text(f"model: {DEFAULT_MODEL}\noversample: 2\n")
    config = load_config(path)
    assert config.oversample == 2
    chain = LiveChain(config, load_models(config), 48000, 1, 2)
    assert chain.processors[0].oversample == 2 and chain.processors[0].latency > 0
