"""The quality report: the published protocol, its table, CSV and plots."""

import csv
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile

import engine
from conftest import REPO, guitar_like_signal
from engine.evaluate import candidate_output, evaluate, format_table, reference_output, snr_db
from engine.resample import resample


def test_resampler_round_trips_and_matches_scipy():
    signal = pytest.importorskip("scipy.signal")
    x = guitar_like_signal(20000, 44100).astype(np.float64)
    for rate in (48000, 88200, 96000):
        up = resample(x, 44100, rate)
        np.testing.assert_allclose(up, signal.resample(x, len(up)), atol=2e-6)
        np.testing.assert_allclose(resample(up, rate, 44100), x, atol=1e-5)  # less the Nyquist bin's lost half


def test_snr_definition():
    reference = np.array([1.0, -1.0, 1.0, -1.0])
    assert snr_db(reference, reference) == math.inf
    assert snr_db(reference, reference * 0.9) == pytest.approx(20.0)  # error 0.1 of the amplitude


def test_at_the_models_own_rate_every_method_is_the_reference(shared_fixtures):
    model = engine.load_model(shared_fixtures / "nam/lstm_1x3.nam")
    x = 2 * guitar_like_signal(9600, 48000)
    scores = evaluate(model, x, [48000], ["naive", "linear", "cubic", "lagrange5"])
    assert all(s.snr_db == math.inf for s in scores)
    assert "exact" in format_table(scores)


def test_correction_beats_the_uncorrected_model_on_a_model_with_memory(shared_fixtures):
    model = engine.load_model(shared_fixtures / "nam/lstm_1x3.nam")  # a pole at 0.993: a long memory
    x = 2 * guitar_like_signal(19200, 48000)
    reference = reference_output(model, x)
    naive, _ = candidate_output(model, x, 96000, "naive")
    linear, ran = candidate_output(model, x, 96000, "linear")
    assert ran == "linear"
    assert snr_db(reference, linear) > snr_db(reference, naive) + 20


def test_engine_eval_writes_table_csv_and_plots(tmp_path, shared_fixtures):
    pytest.importorskip("matplotlib")
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, 2 * guitar_like_signal(22050, 44100), 44100)
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", "eval", str(shared_fixtures / "nam/lstm_1x3.nam"),
                             "--input", str(clip), "--rates", "44100", "96000", "--methods", "naive", "linear", "cubic",
                             "--csv", str(tmp_path / "q.csv"), "--plots", str(tmp_path / "plots")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "rate (Hz)" in result.stdout and "96000" in result.stdout
    with open(tmp_path / "q.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(float(r["rate"]), r["method"]) for r in rows] == [(r, m) for r in (44100.0, 96000.0)
                                                              for m in ("naive", "linear", "cubic")]
    below = [r for r in rows if float(r["rate"]) == 44100.0]
    assert all(r["ran"] in ("naive", "linear", "cubic") for r in below)
    for name in ("Test LSTM_sine.png", "Test LSTM_error_spectrum.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_engine_eval_errors_are_one_line(tmp_path, shared_fixtures):
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", "eval", str(shared_fixtures / "nam/lstm_1x3.nam"),
                             "--input", str(tmp_path / "missing.wav")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip() == f"engine-eval: error: {tmp_path / 'missing.wav'}: no such audio file; give a test signal with --input"


def test_the_lstm40_set_meets_the_published_gap_and_the_committed_report_is_current():
    """Issue #5's acceptance, re-measured on the committed LSTM-40 models with the committed report's protocol.

    At 48 and 96 kHz: cubic at or above linear on every model, the mean gap at least 12 dB, and
    every linear/cubic SNR within 0.1 dB of benchmarks/reports/quality.csv (so the report and the
    README figures taken from it still describe these models and this engine).
    """
    with open(REPO / "benchmarks" / "reports" / "quality.csv", encoding="utf-8") as handle:
        committed = {(row["file"], float(row["rate"]), row["method"]): float(row["snr_db"])
                     for row in csv.DictReader(handle) if row["set"].startswith("lstm40")}
    files = sorted({key[0] for key in committed})
    assert len(files) >= 10
    clip, clip_rate = soundfile.read(REPO / "models" / "demo_di.wav", dtype="float32")
    gaps = {48000.0: [], 96000.0: []}
    for name in files:
        model = engine.load_model(REPO / name)
        x = resample(clip, clip_rate, model.sample_rate)
        scores = evaluate(model, x, list(gaps), ["linear", "cubic"])
        for score in scores:
            assert abs(score.snr_db - committed[(name, score.rate, score.method)]) < 0.1, (name, score)
        by = {(score.rate, score.method): score.snr_db for score in scores}
        for rate in gaps:
            gaps[rate].append(by[(rate, "cubic")] - by[(rate, "linear")])
    for rate, values in gaps.items():
        assert min(values) >= 0, (rate, values)
        assert np.mean(values) >= 12.0, (rate, values)


def test_engine_eval_recommends_this_models_best_read_and_says_how_close_auto_came():
    from engine.cli.eval import recommendation
    from engine.evaluate import Score

    def score(method, snr, ran=None, rate=48000.0, latency=0):
        return Score("m", 44100.0, rate, rate / 44100.0, method, ran or method, snr, latency=latency)

    scores = [score("linear", 40.0), score("cubic", 55.0), score("lagrange5", 61.5), score("allpass", 70.0, "naive"),
              score("auto", 61.5, "lagrange5"), score("resample", 80.0, latency=48), score("cubic", 66.0, rate=96000.0)]
    lines = recommendation(scores)
    # The allpass was replaced by naive (unstable there): not a read that can be recommended.
    assert lines[0] == ("at 48000 Hz: best read on this clip lagrange5 (61.5 dB); auto picked lagrange5 (+0.0 dB); "
                        "resample 80.0 dB with 48 samples of latency — use interpolation: auto live")
    assert lines[1] == "at 96000 Hz: best read on this clip cubic (66.0 dB)"


def test_engine_eval_marks_what_cannot_run_at_a_rate_the_pair_does_not_take(tmp_path, capsys):
    """At 48001 Hz the state reads run and the resampler pair cannot (48001/44100 is no ratio of small whole
    numbers): the default methods give a table with that column marked, not an error."""
    from engine import cli
    from engine.evaluate import NOT_RUN

    clip = tmp_path / "di.wav"
    soundfile.write(clip, guitar_like_signal(22050, 44100.0, seed=3), 44100)
    model = REPO / "models" / "overdrive_lstm20.json"
    assert cli.eval_main([str(model), "--input", str(clip), "--rates", "48001", "48000"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split()[:1] == ["48001"])
    assert NOT_RUN in row and "resample" in out, row
    other = next(line for line in out.splitlines() if line.split()[:1] == ["48000"])
    assert NOT_RUN not in other
    assert cli.eval_main([str(model), "--input", str(clip), "--rates", "44100", "--methods", "linear", "auto"]) == 0
    out = capsys.readouterr().out
    assert "at 44100 Hz: the model's own rate, every read is the model itself" in out and "nan" not in out
