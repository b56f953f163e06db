"""engine-process (cli.process_main + engine/render.py) against the cases a user meets by mistake:
controls for a model without knobs, a method the stability check replaced, outputs that are
folders or devices, SIGTERM mid-render, and a model whose output blows up to NaN/Inf."""

import json
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile

import engine
from engine.settle import settled
from conftest import REPO, guitar_like_signal

LSTM40 = REPO / "models" / "lstm40" / "crunch_amp.json"


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "engine.cli_run", "process", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def one_line_error(result, text):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert text in result.stderr, result.stderr


def leftovers(folder):
    return sorted(path.name for path in folder.rglob(".engine-render-*"))


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "di.wav"
    soundfile.write(path, guitar_like_signal(4800, 48000), 48000, subtype="PCM_16")
    return path


@pytest.fixture
def nam(shared_fixtures):
    return shared_fixtures / "nam/lstm_1x3.nam"


def exploding_model_file(tmp_path, fixtures):
    """A valid Keras/RTNeural file (every weight a finite float32) whose dense head overflows.

    t = 8·Σh + 1 from the LSTM's hidden state h; then (1.7e38·t, −8.5e37·t, 0.5·t) summed: +inf − inf
    = NaN for t > 4, +inf for 2 < t ≤ 4, −inf for t < −2, and about 8.5e37·t (clipped) otherwise.
    """
    document = json.loads((fixtures / "rtneural" / "lstm_1d.json").read_text())
    big = 3.4e38

    def dense(weights, bias):
        return {"type": "dense", "activation": "", "shape": [None, None, len(bias)], "weights": [weights, bias]}

    document["layers"][1:] = [dense([[8.0]] * 8, [1.0]), dense([[big / 2, -big / 4, 0.5]], [0.0, 0.0, 0.0]),
                              dense([[1.0], [1.0], [1.0]], [0.0])]
    path = tmp_path / "exploding.json"
    path.write_text(json.dumps(document))
    return path


# -- arguments that cannot apply -----------------------------------------------------------------

def test_control_for_a_model_without_knobs_is_a_one_line_error(tmp_path, wav, nam):
    out = tmp_path / "out.wav"
    result = run(wav, out, "--model", nam, "--control", "0.5")
    one_line_error(result, "the model has no knobs (control inputs), so it takes no control values; got 1")
    assert str(nam) in result.stderr and not out.exists()


def test_the_summary_names_the_method_that_ran_and_what_it_replaced(tmp_path, nam):
    source = tmp_path / "di32k.wav"
    soundfile.write(source, guitar_like_signal(3200, 32000), 32000, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", engine.StabilityWarning)
        ran = engine.Processor(engine.load_model(nam), sample_rate=32000, interpolation="allpass").interpolation
    assert ran != "allpass"  # allpass has no form below the training rate (R = 2/3)
    result = run(source, tmp_path / "out.wav", "--model", nam, "--interpolation", "allpass")
    assert result.returncode == 0, result.stderr
    assert f"R = 0.666667, {ran} (the stability check replaced the requested allpass);" in result.stdout


# -- outputs that are not files we may write -----------------------------------------------------

@pytest.mark.parametrize("name,make,force", [
    ("folder-with-force", lambda p: p.mkdir(), True),
    ("folder-slash-with-force", lambda p: p.mkdir(), True),
    ("missing-folder-slash", lambda p: None, False),
    ("missing-folder-slash-with-force", lambda p: None, True),
], ids=["folder-with-force", "folder-slash-with-force", "missing-folder-slash", "missing-folder-slash-with-force"])
def test_an_output_naming_a_folder_is_a_one_line_error(tmp_path, wav, nam, name, make, force):
    target = tmp_path / "wet"
    make(target)
    output = str(target) + ("/" if "slash" in name else "")
    result = run(wav, output, "--model", nam, *(["--force"] if force else []))
    one_line_error(result, f"{output}: ")
    assert "folder" in result.stderr
    assert leftovers(tmp_path) == []
    assert (target.is_dir() and not any(target.iterdir())) if "missing" not in name else not target.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
def test_an_output_that_is_not_a_regular_file_is_never_replaced(tmp_path, wav, nam):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # stands for /dev/null or a device: --force must not rename over it
    result = run(wav, fifo, "--model", nam, "--force")
    one_line_error(result, "exists and is not a regular file; choose another output path")
    assert fifo.is_fifo() and leftovers(tmp_path) == []


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_an_output_that_is_the_input_by_another_name_is_refused(tmp_path, wav, nam, link):
    alias = tmp_path / "alias.wav"
    (os.symlink if link == "symlink" else os.link)(wav, alias)
    before = wav.read_bytes()
    result = run(wav, alias, "--model", nam, "--force")
    one_line_error(result, "is the input file; choose another output path")
    assert wav.read_bytes() == before and leftovers(tmp_path) == []


# -- SIGTERM -------------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is a POSIX signal")
def test_sigterm_mid_render_leaves_no_temporary_file_and_no_output(tmp_path):
    model = engine.load_model(LSTM40)
    rate = int(model.sample_rate)
    source = tmp_path / "long.wav"
    soundfile.write(source, guitar_like_signal(60 * rate, rate), rate, subtype="PCM_16")  # ~40 blocks
    out = tmp_path / "wet.wav"
    process = subprocess.Popen([sys.executable, "-m", "engine.cli_run", "process", str(source), str(out),
                                "--model", str(LSTM40)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        first = process.stderr.readline()  # the progress line after the first block: rendering now
        assert first.startswith("long.wav: "), first
        assert leftovers(tmp_path), "the render should be writing its temporary file"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, (process.returncode, stderr)
    assert "terminated (SIGTERM); nothing written" in stderr and "Traceback" not in stderr
    assert not out.exists() and leftovers(tmp_path) == []


# -- never a non-finite sample in the file -------------------------------------------------------

@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_a_model_that_blows_up_never_writes_a_non_finite_sample(tmp_path, subtype, shared_fixtures):
    model_path = exploding_model_file(tmp_path, shared_fixtures)
    x = (0.9 * np.sin(np.arange(4000) * 0.02)).astype(np.float32)
    source = tmp_path / "di.wav"
    soundfile.write(source, x, 44100, subtype=subtype)
    x, _ = soundfile.read(source, dtype="float32")  # what the render reads (PCM_16 quantised)
    expected = engine.Processor(settled(engine.load_model(model_path)), sample_rate=44100).process(x)  # from rest, as rendered
    bad = ~np.isfinite(expected)
    out = tmp_path / "wet.wav"
    result = run(source, out, "--model", model_path)
    assert result.returncode == 0, result.stderr
    written, _ = soundfile.read(out, dtype="float32")
    assert soundfile.info(out).subtype == subtype and np.all(np.isfinite(written))
    np.testing.assert_array_equal(written[bad], 0)  # the old code wrote NaN, or −32768 in PCM_16
    kept = np.clip(expected[~bad], -1, 1) if subtype == "PCM_16" else expected[~bad]
    np.testing.assert_allclose(written[~bad], kept, atol=1 / 32768 if subtype == "PCM_16" else 0)
    if bad.any():  # (a kernel-level guard may already have muted them: then the render has nothing to do)
        assert f"; {bad.sum()} non-finite output sample(s) muted" in result.stdout
        assert "NaN or infinite sample(s)" in result.stderr
    clipped = int(np.count_nonzero(np.abs(expected[~bad]) > 1))
    if subtype == "PCM_16" and clipped:
        assert f"warning: {clipped} sample(s) exceeded full scale and were clipped" in result.stderr
    else:
        assert "were clipped" not in result.stderr


def test_render_mutes_whatever_non_finite_the_processor_returns_and_counts_clipping(tmp_path, wav, nam,
                                                                                    monkeypatch):
    """The file-level guarantee alone, whatever the kernels do: NaN, ±inf and a finite overload
    injected into the processor's output."""
    import engine.render as render

    class Injecting(render.Processor):
        def process(self, x, out=None):
            y = super().process(x, out)
            y[[10, 20, 30, 40]] = [np.nan, np.inf, -np.inf, 2.5]
            return y

    monkeypatch.setattr(render, "Processor", Injecting)
    out = tmp_path / "wet.wav"
    report = render.render_file(engine.load_model(nam), wav, out)
    written, _ = soundfile.read(out, dtype="float32")
    np.testing.assert_array_equal(written[[10, 20, 30]], 0)
    assert written[40] == pytest.approx(1.0, abs=1 / 32768)
    assert report.non_finite_samples == 3 and report.subtype == "PCM_16"
    x, _ = soundfile.read(wav, dtype="float32")
    base = engine.Processor(settled(engine.load_model(nam)), sample_rate=48000).process(x)
    base[[10, 20, 30, 40]] = 0
    assert report.clipped_samples == 1 + int(np.count_nonzero(np.abs(base) > 1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_a_non_finite_input_sample_is_refused_even_for_an_integer_output(tmp_path, nam, bad):
    """The offline contract (engine/render.py): a non-finite input is a broken file, refused where it
    is; here a FLOAT WAV rendered to FLAC, whose subtype is PCM_16."""
    x = guitar_like_signal(2000, 48000)
    x[1234] = bad
    source = tmp_path / "broken.wav"
    soundfile.write(source, x, 48000, subtype="FLOAT")
    out = tmp_path / "wet.flac"
    result = run(source, out, "--model", nam)
    one_line_error(result, f"sample 1234 of channel 0 is {bad}; the input must be finite audio")
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_file_with_more_channels_than_the_cap_is_a_one_line_error(tmp_path, nam):
    from engine.processor import MAX_CHANNELS

    source = tmp_path / "wide.wav"
    soundfile.write(source, np.zeros((100, MAX_CHANNELS + 1), np.float32), 48000, subtype="FLOAT")
    out = tmp_path / "wet.wav"
    result = run(source, out, "--model", nam)
    one_line_error(result, f"wide.wav: has {MAX_CHANNELS + 1} channels; a render runs at most {MAX_CHANNELS}")
    assert not out.exists()


def test_sigterm_handling_is_only_for_the_duration_of_a_render(tmp_path, wav, nam):
    from engine.render import render_file

    before = signal.getsignal(signal.SIGTERM)
    render_file(engine.load_model(nam), wav, tmp_path / "wet.wav")
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("command", ["process", "info", "eval"])
def test_file_names_after_control_are_explained(command, capsys):
    """``--control`` takes every word after it: a file name there is not 'an invalid float' but a placement."""
    from engine import cli

    main = {"process": cli.process_main, "info": cli.info_main, "eval": cli.eval_main}[command]
    argv = {"process": ["--model", "m.json", "--control", "0.5", "in.wav", "out.wav"],
            "info": ["--rate", "48000", "--control", "0.5", "m.json"],
            "eval": ["--control", "0.5", "m.json"]}[command]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is not a knob value (a number); --control takes every word after it, so put it after the file" in error


@pytest.mark.parametrize("value", ["2", "-0.1", "nan"])
def test_a_knob_value_outside_0_to_1_is_refused_as_the_config_refuses_it(value, capsys):
    from engine import cli

    with pytest.raises(SystemExit) as stopped:
        cli.process_main(["in.wav", "out.wav", "--model", "m.json", "--control", value])
    assert stopped.value.code == 2
    assert f"'{value}' is outside the knobs' range, 0 to 1" in capsys.readouterr().err
