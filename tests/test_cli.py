"""The command-line tools, run as a user runs them: real processes, real audio files."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import engine
from engine.settle import settled
from conftest import REPO, guitar_like_signal


TORCH_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "torch"


def run(*args):
    return subprocess.run([sys.executable, "-m", "engine.cli_run", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def stereo_wav(tmp_path):
    left = guitar_like_signal(48000, 48000, seed=1)
    right = guitar_like_signal(48000, 48000, seed=2)
    path = tmp_path / "di.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 48000, subtype="FLOAT")
    return path


def test_process_matches_the_processor_and_keeps_rate_channels_subtype(tmp_path, stereo_wav, shared_fixtures):
    model_path = shared_fixtures / "rtneural/gru_1d.json"
    out = tmp_path / "wet.wav"
    result = run("process", str(stereo_wav), str(out), "--model", str(model_path))
    assert result.returncode == 0, result.stderr
    assert "R = 1.08844" in result.stdout
    info = soundfile.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "FLOAT")
    written, _ = soundfile.read(out, dtype="float32")
    source, _ = soundfile.read(stereo_wav, dtype="float32")
    # From the model's rest state on silence, where engine-process starts it (engine.settle).
    expected = engine.Processor(settled(engine.load_model(model_path)), sample_rate=48000, channels=2).process(source)
    np.testing.assert_array_equal(written, expected)


def test_process_model_rate_and_interpolation_flags(tmp_path, stereo_wav, shared_fixtures):
    model_path = shared_fixtures / "nam/lstm_1x3.nam"
    out = tmp_path / "wet.flac"
    result = run("process", str(stereo_wav), str(out), "--model", str(model_path), "--model-rate", "24000",
                 "--interpolation", "naive")
    assert result.returncode == 0, result.stderr
    assert "R = 2, naive" in result.stdout
    assert soundfile.info(out).format == "FLAC"


def test_process_refuses_to_overwrite_without_force(tmp_path, stereo_wav, shared_fixtures):
    out = tmp_path / "taken.wav"
    out.write_bytes(b"precious")
    model = str(shared_fixtures / "nam/lstm_1x3.nam")
    result = run("process", str(stereo_wav), str(out), "--model", model)
    assert result.returncode == 1
    assert "already exists; pass --force" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"precious"
    assert run("process", str(stereo_wav), str(out), "--model", model, "--force").returncode == 0
    assert soundfile.info(out).frames == 48000


def test_process_never_overwrites_its_input(stereo_wav, shared_fixtures):
    before = stereo_wav.read_bytes()
    result = run("process", str(stereo_wav), str(stereo_wav), "--model", str(shared_fixtures / "nam/lstm_1x3.nam"),
                 "--force")
    assert result.returncode == 1 and "is the input file" in result.stderr
    assert stereo_wav.read_bytes() == before


def test_process_refuses_non_finite_input_and_leaves_no_output(tmp_path, shared_fixtures):
    x = guitar_like_signal(1000, 48000)
    x[500] = np.nan
    source = tmp_path / "nan.wav"
    soundfile.write(source, x, 48000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    result = run("process", str(source), str(out), "--model", str(shared_fixtures / "nam/lstm_1x3.nam"))
    assert result.returncode == 1
    assert "sample 500 of channel 0 is nan" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".engine-render-*"))


def test_process_clips_and_counts_integer_overloads(tmp_path, shared_fixtures):
    source = tmp_path / "loud.wav"
    soundfile.write(source, 0.99 * np.sign(np.sin(np.arange(4800) * 0.05)), 48000, subtype="PCM_16")
    out = tmp_path / "out.wav"
    # out_gain of +24 dB drives the output past full scale.
    model = shared_fixtures / "rtneural/gru_1d.json"
    doc = __import__("json").loads(model.read_text())
    doc["out_gain"] = 24
    loud_model = tmp_path / "loud.json"
    loud_model.write_text(__import__("json").dumps(doc))
    result = run("process", str(source), str(out), "--model", str(loud_model))
    assert result.returncode == 0, result.stderr
    assert "were clipped" in result.stderr
    written, _ = soundfile.read(out, dtype="float32")
    assert np.max(np.abs(written)) <= 1.0


def test_process_progress_is_reported_for_long_files(tmp_path, shared_fixtures):
    source = tmp_path / "long.wav"
    soundfile.write(source, guitar_like_signal(48000 * 12, 48000), 48000)
    result = run("process", str(source), str(tmp_path / "out.wav"), "--model", str(shared_fixtures / "nam/lstm_1x3.nam"))
    assert result.returncode == 0, result.stderr
    assert "long.wav: 100%" in result.stderr


def test_process_with_controls(tmp_path, stereo_wav):
    pytest.importorskip("torch")  # to build a conditioned model file with the project's exporter
    import torch

    from tools.export_torch import SimpleRNN, export

    torch.manual_seed(0)
    module = SimpleRNN("lstm", input_size=3, hidden_size=8, num_layers=1, skip=1)
    model_path = tmp_path / "cond.json"
    export(module, model_path, "guitarml")
    out = tmp_path / "out.wav"
    ok = run("process", str(stereo_wav), str(out), "--model", str(model_path), "--control", "0.2", "0.9")
    assert ok.returncode == 0, ok.stderr
    wrong = run("process", str(stereo_wav), str(tmp_path / "o2.wav"), "--model", str(model_path), "--control", "0.2")
    assert wrong.returncode == 1 and "takes 2 control value(s), got 1" in wrong.stderr


@pytest.mark.parametrize("args,message", [
    (["process", "missing.wav", "o.wav", "--model", "{nam}"], "missing.wav: no such audio file"),
    (["process", "{wav}", "o.wav", "--model", "nope.json"], "nope.json: no such model file"),
    (["process", "{wav}", "o.wav", "--model", "{nam}", "--model-rate", "-5"], "positive number of Hz"),
    (["process", "{wav}", "o.wav", "--model", "{nam}", "--model-rate", "192000"], "rates from 96000 Hz"),
    (["info", "{wav}"], "not a text file"),
    (["info", "{nam}", "--rate", "22050"], "R = 0.4594"),
])
def test_errors_are_one_line_without_traceback(tmp_path, stereo_wav, shared_fixtures, args, message):
    values = {"nam": str(shared_fixtures / "nam/lstm_1x3.nam"), "wav": str(stereo_wav)}
    args = [a.format(**values) for a in args]
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_info_describes_the_model(shared_fixtures):
    result = run("info", str(shared_fixtures / "nam/lstm_1x3.nam"), "--rate", "96000")
    assert result.returncode == 0, result.stderr
    for text in ("format         nam", "LSTM(1→3) → Dense(3→1)", "parameters     70",
                 "training rate  48000 Hz (stored in the file)", "R = 2 (integer: every method is the exact delay)"):
        assert text in result.stdout


def test_info_reports_which_methods_are_stable_below_the_training_rate(shared_fixtures):
    result = run("info", str(shared_fixtures / "nam/lstm_1x3.nam"), "--rate", "44100")
    assert result.returncode == 0, result.stderr
    assert "R = 0.91875 (below the training rate: the read extrapolates)" in result.stdout
    for method in ("linear", "cubic", "lagrange5"):
        assert re.search(rf"{method} +(stable|UNSTABLE), spectral radius \d\.\d{{4}}", result.stdout), result.stdout
    assert re.search(r"naive +stable \(uncorrected: the recurrence as trained, whatever the rate\)", result.stdout)
    assert re.search(r"allpass +no form below the training rate", result.stdout)


def test_info_checks_stability_at_the_knob_values_given():
    """A conditioned model's verdicts depend on its knobs: --control sets them (default 0.5, as process/eval)."""
    from engine.stability import linearise, spectral_radius

    path = str(TORCH_FIXTURES / "lstm_1x16_in2_skip1.guitarml.json")
    model = engine.load_model(path, sample_rate=48000)
    printed = {}
    for knob in (None, 0.0, 0.9):
        args = ("info", path, "--model-rate", "48000", "--rate", "44100") + (("--control", str(knob)) if knob is not None
                                                                              else ())
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert re.search(rf"knobs +{0.5 if knob is None else knob:g} ", result.stdout)
        printed[knob] = float(re.search(r"cubic +stable, spectral radius (\d\.\d{4})", result.stdout).group(1))
        expected = spectral_radius(linearise(model, [0.5 if knob is None else knob]), "cubic", 44100 / 48000)
        assert abs(printed[knob] - expected) < 1e-4
    assert printed[0.0] != printed[0.9]  # the knob reaches the check
    wrong = run("info", path, "--model-rate", "48000", "--rate", "44100", "--control", "0.1", "0.2")
    assert wrong.returncode == 1 and "takes 1 control value(s), got 2" in wrong.stderr
    alone = run("info", path, "--control", "0.1")
    assert alone.returncode == 2 and "--control only applies with --rate" in alone.stderr


def test_info_says_where_an_assumed_rate_comes_from(shared_fixtures):
    result = run("info", str(shared_fixtures / "kloncentaur/centaur_0_gru8.json"))
    assert "44100 Hz (assumed" in result.stdout and "--model-rate" in result.stdout


def test_bench_prints_ns_per_sample_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = run("bench", "--hidden", "8", "--cells", "lstm", "gru", "--seconds", "0.05", "--repeats", "1",
                 "--sections", "headline", "ratios", "blocks", "threads", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "ns/sample" in result.stdout
    data = __import__("json").loads(out.read_text())
    assert [r["cell"] for r in data["results"]] == ["lstm", "gru"]
    assert all(r["ns_per_sample"] > 0 for r in data["results"])
    sections = data["sections"]
    assert {r["ratio_name"] for r in sections["ratios"]} == {"1", "48/44.1", "2", "96/44.1", "8"}
    assert {r["block_size"] for r in sections["blocks"]} == {32, 128, 512, 4096}
    assert all(r["two_channels_two_threads_wall_ns"] > 0 for r in sections["threads"])
    assert "torch" not in result.stdout.lower()  # the engine's own benchmark needs no PyTorch


def test_speed_vs_torch_reports_both_and_the_goals(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "speed.json"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "speed_vs_torch.py"), "--hidden", "8",
                             "--cells", "lstm", "gru", "--seconds", "0.05", "--repeats", "1",
                             "--sections", "headline", "ratios", "blocks", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "torch ns/sample" in result.stdout and "## Goals" in result.stdout
    data = __import__("json").loads(out.read_text())
    assert all(r["torch_ns_per_sample"] > 0 and r["speedup"] > 0 for r in data["results"])
    # Goals are reported, never asserted here: the machine running the tests may be busy.
    assert {g["goal"] for g in data["sections"]["goals"]} >= {"LSTM-40: R = 8 within 10% of R = 1",
                                                              "GRU-40: block 32 within 20% of block 4096 per sample"}


@pytest.mark.parametrize("command", ["process", "info", "bench"])
def test_help(command):
    result = run(command, "--help")
    assert result.returncode == 0 and "usage: engine-" in result.stdout


@pytest.mark.parametrize("command", ["process", "info", "eval", "live"])
def test_help_imports_neither_numpy_nor_numba(command):
    """`--help` and usage errors cost only Python's start-up: the package and the CLI load lazily (PEP 562)."""
    probe = ("import sys\nfrom engine import cli\n"
             f"try:\n    cli.{command}_main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('numpy', 'numba', 'yaml', 'sounddevice', 'soundfile') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
