"""engine-eval and engine-live given what a hostile (or careless) user gives them.

Every case is one line on stderr naming the file or option and what is wrong, exit 1, and, where
the command does long work, the refusal comes before that work. Also: warnings print as one
line, and a fresh clone's test run skips (never errors on) the tests that need ../shared.
Nothing here needs ../shared, torch or jackd.
"""

import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile

from conftest import REPO, guitar_like_signal
from engine import AudioFileError, StabilityWarning, cli

TORCH = REPO / "tests" / "fixtures" / "torch"
NAM = TORCH / "lstm_1x8_in1_skip0.nam"  # trained at 44.1 kHz, no knobs
GUITARML = TORCH / "lstm_1x8_in1_skip0.guitarml.json"


def call(capsys, main, *args):
    """Run an entry point in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run(*args, env=None, cwd=None):
    """Run an entry point as a user does, in its own process."""
    return subprocess.run([sys.executable, "-m", "engine.cli_run", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd or REPO)


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.wav"
    soundfile.write(path, guitar_like_signal(4410, 44100), 44100, subtype="FLOAT")
    return path


def make_clip(path, kind):
    """A file at ``path`` that is not a usable clip, of the given kind."""
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block until a writer came
    elif kind == "not-audio":
        path.write_text("this is a text file, not a WAV\n")
    elif kind == "empty":
        soundfile.write(path, np.zeros((0, 1), np.float32), 44100, subtype="FLOAT")
    elif kind == "nan":
        x = guitar_like_signal(2000, 44100)
        x[1234] = np.nan
        soundfile.write(path, x, 44100, subtype="FLOAT")
    elif kind == "inf-after-the-first-block":
        x = np.zeros((100000, 2), np.float32)
        x[70000, 0] = np.inf
        x[10, 1] = np.nan  # never read: only the first channel is played
        soundfile.write(path, x, 44100, subtype="FLOAT")
    elif kind == "too-long":  # 301 s at 1 kHz: a small file past the 300 s cap
        soundfile.write(path, np.zeros(301000, np.int16), 1000, subtype="PCM_16")
    return path


BAD_CLIPS = [
    ("missing", r"no such audio file"),
    ("directory", r"is a directory, not a file"),
    ("fifo", r"is a FIFO \(named pipe\), not a regular file"),
    ("not-audio", r"not an audio file libsndfile can read \(.+\)"),
    ("empty", r"holds no audio \(0 frames\)"),
    ("nan", r"sample 1234 of channel 0 is nan \(the clip must hold finite samples\)"),
    ("inf-after-the-first-block", r"sample 70000 of channel 0 is inf \(the clip must hold finite samples\)"),
    ("too-long", r"longer than the 300 s this reads \(301000 frames at 1000 Hz\); use a shorter excerpt"),
]


# --- engine.audiofile.read_clip -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,pattern", BAD_CLIPS, ids=[case[0] for case in BAD_CLIPS])
def test_read_clip_refuses_in_one_line(tmp_path, kind, pattern):
    from engine.audiofile import read_clip

    path = make_clip(tmp_path / "clip.wav", kind)
    with pytest.raises(AudioFileError, match=rf"^{path}: {pattern}; fix it$") as excinfo:
        read_clip(path, hint="fix it")
    assert "\n" not in str(excinfo.value) and isinstance(excinfo.value, OSError)


def test_read_clip_returns_the_first_channel_and_the_rate(tmp_path):
    from engine.audiofile import read_clip

    stereo = np.stack([guitar_like_signal(70000, 48000, seed=1), guitar_like_signal(70000, 48000, seed=2)], axis=1)
    soundfile.write(tmp_path / "stereo.flac", stereo, 48000, subtype="PCM_24")
    x, rate = read_clip(tmp_path / "stereo.flac")
    expected, _ = soundfile.read(tmp_path / "stereo.flac", dtype="float32")
    assert rate == 48000.0 and x.dtype == np.float32 and x.ndim == 1
    np.testing.assert_array_equal(x, expected[:, 0])


def test_read_clip_caps_frames_whatever_the_rate(tmp_path, monkeypatch):
    """A header with a huge rate cannot turn the duration cap into gigabytes: MAX_CLIP_FRAMES applies too."""
    from engine import audiofile

    monkeypatch.setattr(audiofile, "MAX_CLIP_FRAMES", 1000)
    soundfile.write(tmp_path / "fast.wav", np.zeros(1001, np.int16), 192000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"longer than the 0\.00520833 s this reads \(1001 frames at 192000 Hz\)"):
        audiofile.read_clip(tmp_path / "fast.wav")


# --- engine-eval ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,pattern", BAD_CLIPS, ids=[case[0] for case in BAD_CLIPS])
def test_eval_input_that_is_not_a_clip(capsys, tmp_path, kind, pattern):
    path = make_clip(tmp_path / "clip.wav", kind)
    code, out, err = call(capsys, cli.eval_main, NAM, "--input", path, "--rates", "48000", "--methods", "naive")
    assert code == 1 and out == ""
    assert re.fullmatch(rf"engine-eval: error: {path}: {pattern}; give a test signal with --input",
                                      one_line(err)), err


def output_cases(tmp_path, clip):
    """(option, value, message pattern) for outputs that cannot be written."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    os.mkfifo(tmp_path / "a-fifo")
    return [
        ("--csv", tmp_path / "missing" / "q.csv", rf"--csv {tmp_path}/missing/q\.csv: the folder {tmp_path}/missing "
                                                  r"does not exist; create it or write elsewhere"),
        ("--csv", tmp_path / "a-folder", rf"--csv {tmp_path}/a-folder: is a directory, not a file; give the path of "
                                         r"a file to write"),
        ("--csv", tmp_path / "a-fifo", r"--csv .*/a-fifo: is a FIFO \(named pipe\), not a regular file"),
        ("--csv", tmp_path / "a-file" / "q.csv", rf"--csv .*/a-file/q\.csv: {tmp_path}/a-file is a file, not a folder"),
        ("--csv", clip, rf"--csv {clip}: is the same file as {clip}, which this command reads; write somewhere else"),
        ("--csv", NAM, rf"--csv {NAM}: is the same file as {NAM}, which this command reads"),
        ("--plots", tmp_path / "a-file", r"--plots .*/a-file: is not a folder; give a folder to write the files in"),
        ("--plots", tmp_path / "a-file" / "plots", rf"--plots .*/a-file/plots: {tmp_path}/a-file is a file, so the "
                                                   r"folder .* cannot be made"),
    ]


def test_eval_refuses_unwritable_outputs_before_evaluating(capsys, tmp_path, clip):
    """Before: the whole evaluation ran, then a traceback (FileNotFoundError, IsADirectoryError...)."""
    pytest.importorskip("matplotlib")  # --plots checks it is there first
    before = {path: path.read_bytes() for path in (clip, NAM)}
    for option, value, pattern in output_cases(tmp_path, clip):
        code, out, err = call(capsys, cli.eval_main, NAM, "--input", clip, "--rates", "48000", "--methods", "naive",
                              option, value)
        assert code == 1 and out == "", (option, value, out)  # no table: nothing was evaluated
        assert re.fullmatch(rf"engine-eval: error: {pattern}.*", one_line(err)), err
    assert {path: path.read_bytes() for path in before} == before


def test_eval_refuses_a_bad_rate_before_running_the_good_ones(tmp_path, clip):
    """Before: 48 kHz was evaluated (progress lines printed), then the refusal of 10 MHz."""
    result = run("eval", NAM, "--input", clip, "--rates", "48000", "10000000", "--methods", "naive", "linear")
    assert result.returncode == 1 and result.stdout == ""
    assert "engine-eval: error: " in one_line(result.stderr) and "10000000" in result.stderr


def test_eval_refuses_controls_for_a_model_without_knobs(capsys, clip):
    code, out, err = call(capsys, cli.eval_main, NAM, "--input", clip, "--rates", "48000", "--methods", "naive",
                          "--control", "0.3")
    assert code == 1 and out == ""
    assert one_line(err) == "engine-eval: error: lstm_1x8_in1_skip0 takes 0 control value(s), got 1"


@pytest.mark.parametrize("name,stem", [
    (5, "lstm_1x8_in1_skip0"),                  # a number: the NAM reader keeps text metadata only, so the
    (1.5, "lstm_1x8_in1_skip0"),                # file's own stem names the plots (and nothing crashes)
    ("../../escaped", "_.._escaped"),           # never outside the plots folder
    ("/etc/cron.d/x", "_etc_cron.d_x"),
    ("..", "lstm_1x8_in1_skip0"),               # nothing left: the file's own stem
    ("amp\nname\0", "amp_name_"),
])
def test_eval_plots_are_named_safely_inside_the_plots_folder(capsys, tmp_path, clip, name, stem):
    """Before: a number crashed (os.path.join of an int); ../ wrote outside the folder."""
    pytest.importorskip("matplotlib")
    document = json.loads(NAM.read_text())
    document["metadata"] = {"name": name}
    work = tmp_path / "work"
    (work / "plots").mkdir(parents=True)
    model = work / "lstm_1x8_in1_skip0.nam"
    model.write_text(json.dumps(document))
    before = set(tmp_path.rglob("*")) - set((work / "plots").rglob("*"))
    code, out, err = call(capsys, cli.eval_main, model, "--input", clip, "--rates", "48000", "--methods", "naive",
                          "--plots", work / "plots")
    assert code == 0, err
    written = sorted(p.name for p in (work / "plots").iterdir())
    assert written == [f"{stem}_error_spectrum.png", f"{stem}_sine.png"]
    assert set(tmp_path.rglob("*")) - set((work / "plots").rglob("*")) == before  # nothing anywhere else
    assert f"wrote {work / 'plots' / stem}_sine.png" in out


@pytest.mark.parametrize("frames", [1, 100])
def test_eval_plots_a_clip_shorter_than_one_spectrum_segment(capsys, tmp_path, frames):
    """Before: a 1-sample clip crashed the error spectrum (a zero range step); shorter than 4096 averaged nothing."""
    pytest.importorskip("matplotlib")
    short = tmp_path / "short.wav"
    soundfile.write(short, np.full(frames, 0.5, np.float32), 44100, subtype="FLOAT")
    code, out, err = call(capsys, cli.eval_main, NAM, "--input", short, "--rates", "48000", "--methods", "naive",
                          "--plots", tmp_path / "plots")
    assert code == 0, err
    assert "warning" not in err  # no mean of an empty list, no log of NaN
    assert (tmp_path / "plots" / "lstm_1x8_in1_skip0_error_spectrum.png").read_bytes()[:4] == b"\x89PNG"


# --- engine-live ----------------------------------------------------------------------------------------------------

def no_jackd_env(tmp_path):
    """The environment with a PATH holding no jackd: a case that got past its check could not start a server."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize("kind,pattern", [case for case in BAD_CLIPS if case[0] in ("not-audio", "empty", "nan")],
                         ids=["not-audio", "empty", "nan"])
def test_live_virtual_refuses_a_demo_clip_that_is_not_a_clip(tmp_path, kind, pattern):
    """Before: a traceback (LibsndfileError) for a text file; an empty clip went on to start JACK."""
    clip = make_clip(tmp_path / "demo.wav", kind)
    config = tmp_path / "live.yaml"
    config.write_text(f"model: {GUITARML}\ndemo_clip: demo.wav\n")
    result = run("live", "--config", config, "--virtual", "--record", tmp_path / "out.wav", env=no_jackd_env(tmp_path))
    assert result.returncode == 1
    assert re.fullmatch(rf"engine-live: error: {config}: demo_clip {clip}: {pattern}", one_line(result.stderr))
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("case", ["record-is-a-folder", "record-in-a-file"])
def test_live_virtual_refuses_an_unwritable_record_path_before_starting(tmp_path, clip, case):
    """Before: --force let a folder through, the run went on (here: to 'jackd not found'), and writing failed last."""
    config = tmp_path / "live.yaml"
    config.write_text(f"model: {GUITARML}\ndemo_clip: {clip}\n")
    if case == "record-is-a-folder":
        record = tmp_path / "takes"
        record.mkdir()
        expected = (f"engine-live: error: --record {record}: is a directory, not a file; "
                    "give the path of a file to write")
    else:
        (tmp_path / "a-file").write_text("x")
        record = tmp_path / "a-file" / "take.wav"
        expected = (f"engine-live: error: --record {record}: {tmp_path / 'a-file'} is a file, so the folder "
                    f"{tmp_path / 'a-file'} cannot be made")
    result = run("live", "--config", config, "--virtual", "--record", record, "--force", env=no_jackd_env(tmp_path))
    assert result.returncode == 1
    assert one_line(result.stderr) == expected


class FakePortAudioError(Exception):
    pass


class FakeSounddevice:
    """Just enough of sounddevice for LiveSession.open to reach its settings check, which always refuses."""

    PortAudioError = FakePortAudioError

    def __init__(self, default_rate):
        self.device = {"name": "system", "max_input_channels": 2, "max_output_channels": 2,
                       "default_samplerate": default_rate, "hostapi": 0}
        self.default = type("Default", (), {"device": (0, 0)})

    def query_devices(self, index=None):
        return [self.device] if index is None else self.device

    def check_input_settings(self, **settings):
        raise FakePortAudioError("Invalid sample rate")

    check_output_settings = check_input_settings


@pytest.mark.parametrize("default_rate", [768000.0, 48000.0])
def test_live_device_refusal_does_not_offer_the_rate_it_refused(monkeypatch, tmp_path, default_rate):
    """Before: "refuses 768000 Hz ...; its default rate is 768000 Hz" (JACK at 768 kHz, which PortAudio refuses)."""
    from engine import DeviceError, live
    from engine.config import load_config
    from engine.live import devices, session

    fake = FakeSounddevice(default_rate)
    for module in (devices, session):  # session uses it, and devices.resolve_device
        monkeypatch.setattr(module, "sounddevice", lambda: fake)
    config_path = tmp_path / "live.yaml"
    config_path.write_text(f"model: {GUITARML}\nsample_rate: 768000\n")
    with pytest.raises(DeviceError) as excinfo:
        live.LiveSession(load_config(config_path)).open()
    message = str(excinfo.value)
    if default_rate == 768000.0:
        assert message == ("'system' refuses 1 channel(s) at 768000 Hz (Invalid sample rate), although 768000 Hz is "
                           "the rate it reports as its own: PortAudio will not stream at it (try a lower --rate or "
                           "sample_rate)")
    else:
        assert message == ("'system' refuses 768000 Hz with 1 channel(s) (Invalid sample rate); "
                           "its default rate is 48000 Hz")


# --- warnings -------------------------------------------------------------------------------------------------------

def test_entry_point_prints_a_warning_as_one_line_and_restores_showwarning(capsys):
    def demo_main(argv):
        warnings.warn("cubic is predicted unstable at 44100 Hz (R = 0.91875); running linear instead",
                      StabilityWarning)
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return 0

    original = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code = cli._entry_point(demo_main)([])
    _, err = capsys.readouterr()
    assert code == 0
    assert err.splitlines() == [
        "engine-demo: warning: cubic is predicted unstable at 44100 Hz (R = 0.91875); running linear instead",
        "engine-demo: warning: overflow encountered in exp (RuntimeWarning)",
    ]
    assert warnings.showwarning is original


def test_engine_process_prints_the_stability_warning_in_one_line(tmp_path):
    """Before: Python's format, "…/engine/processor.py:173: StabilityWarning: …" and the source line under it."""
    source = tmp_path / "in.wav"
    soundfile.write(source, guitar_like_signal(4410, 44100), 44100, subtype="FLOAT")
    result = run("process", source, tmp_path / "out.wav", "--model", GUITARML, "--model-rate", "48000",
                 "--interpolation", "allpass")
    assert result.returncode == 0, result.stderr
    line = one_line(result.stderr)
    assert re.fullmatch(r"engine-process: warning: lstm_1x8_in1_skip0\.guitarml: allpass .*; "
                                      r"running \w+ instead", line), line
    assert ".py" not in line and "warnings.warn" not in result.stderr


# --- a fresh clone: the tests that need ../shared skip outside CI and fail in it ------------------------------------

@pytest.mark.parametrize("fail_on_skip", [False, True])
def test_tests_needing_shared_fixtures_skip_without_them_unless_ci(tmp_path, fail_on_skip):
    """Before: `pytest.fail` in the fixture made every such test an error (244 in a fresh clone)."""
    env = {key: value for key, value in os.environ.items() if key != "ENGINE_FAIL_ON_SKIP"}
    env["ENGINE_SHARED_DIR"] = str(tmp_path / "nothing-here")
    if fail_on_skip:
        env["ENGINE_FAIL_ON_SKIP"] = "1"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider",
                             "tests/test_reference_fixtures.py::test_klon_centaur_rate_from_user_wins"],
                            capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    reason = f"../shared/fixtures not found beside the checkout (looked in {tmp_path / 'nothing-here' / 'fixtures'})"
    assert reason in result.stdout, result.stdout
    if fail_on_skip:
        # the skip happens in the fixture's set-up, so the hook's failure is reported as an error: CI fails either way
        assert result.returncode == 1 and re.search(r"\b1 (failed|error)\b", result.stdout)
        assert "ENGINE_FAIL_ON_SKIP=1 forbids skips" in result.stdout
    else:
        assert result.returncode == 0 and "1 skipped" in result.stdout and "error" not in result.stdout
