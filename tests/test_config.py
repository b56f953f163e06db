"""The live configuration: the shipped file is valid, and every kind of mistake is one clear ConfigError."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from engine import ConfigError
from engine.config import load_config, parse_config

MODEL = REPO / "tests/fixtures/torch/lstm_1x8_in1_skip0.guitarml.json"
CONDITIONED = REPO / "tests/fixtures/torch/lstm_1x16_in2_skip1.guitarml.json"


def write(tmp_path, text, name="live.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_config_is_valid_and_documented():
    config = load_config(REPO / "configs/guitar.yaml")
    assert config.models[0].path.endswith("overdrive_lstm20.json")
    assert config.block_size == 128 and config.interpolation == "auto" and config.limiter
    documented = (REPO / "configs/README.md").read_text()
    keys = re.findall(r"^(\w+):", (REPO / "configs/guitar.yaml").read_text(), re.MULTILINE)
    assert len(keys) >= 15
    for key in keys:
        assert f"| `{key}` |" in documented, f"{key} is not documented in configs/README.md"


def test_paths_are_relative_to_the_yaml_and_defaults_apply(tmp_path):
    (tmp_path / "sub").mkdir()
    model = tmp_path / "amp.json"
    model.write_bytes(MODEL.read_bytes())
    config = load_config(write(tmp_path / "sub", "model: ../amp.json\nmodels: [{path: ../amp.json, controls: []}]\n"))
    assert [m.path for m in config.models] == [str(model)] * 2
    assert config.sample_rate is None and config.output_channels == (1, 2) and config.crossfade_ms == 20.0


def test_overrides_are_validated_like_the_file(tmp_path):
    config = load_config(write(tmp_path, f"model: {MODEL}\n"))
    assert config.replace(block_size=256, input_device="USB").block_size == 256
    with pytest.raises(ConfigError, match=r"block_size must be a whole number of frames from 16 to 8192, got 5$"):
        config.replace(block_size=5)


BAD_CONFIGS = [
    ("unknown-key-with-suggestion", "model: {model}\nblocksize: 128\n",
     r"unknown key 'blocksize' \(did you mean 'block_size'\?\); valid keys: model, model_rate, controls"),
    ("unknown-key-in-model-entry", "model: {model}\nmodels: [{{path: {model}, gain: 3}}]\n",
     r"unknown key in models\[0\]: 'gain'; valid keys: path, model_rate, controls$"),
    ("missing-model", "block_size: 128\n", r"needs a model key"),
    ("model-file-missing", "model: nowhere.json\n", r"model names 'nowhere.json', which does not exist \(resolved to "),
    ("block-size-wrong-type", "model: {model}\nblock_size: '128'\n",
     r"block_size must be a whole number of frames from 16 to 8192, got '128'$"),
    ("block-size-out-of-range", "model: {model}\nblock_size: 100000\n", r"block_size must be .* from 16 to 8192, got 100000$"),
    ("sample-rate-negative", "model: {model}\nsample_rate: -48000\n", r"sample_rate must be from 8000 to 768000 Hz, got -48000$"),
    ("sample-rate-text", "model: {model}\nsample_rate: fast\n", r"sample_rate must be a number of Hz from 8000 to 768000, got 'fast'$"),
    ("gain-out-of-range", "model: {model}\ninput_gain_db: 90\n", r"input_gain_db must be from -60 to 40 dB, got 90$"),
    ("gain-boolean", "model: {model}\noutput_gain_db: yes\n", r"output_gain_db must be a number of dB from -60 to 40, got True$"),
    ("interpolation-unknown", "model: {model}\ninterpolation: sinc\n", r"interpolation must be one of linear, naive, cubic, lagrange5, allpass, resample, auto, got 'sinc'$"),
    ("limiter-not-boolean", "model: {model}\nlimiter: 1\n", r"limiter must be true or false, got 1$"),
    ("input-channel-zero", "model: {model}\ninput_channel: 0\n", r"input_channel must be a channel number \(1 = the first\) from 1 to 64, got 0$"),
    ("output-channel-repeated", "model: {model}\noutput_channels: [1, 1]\n", r"output_channels lists a channel twice: \[1, 1\]$"),
    ("output-channel-nested", "model: {model}\noutput_channels: [[1]]\n", r"output_channels\[0\] must be a channel number"),
    ("control-out-of-range", "model: {model}\nmodels: [{{path: {model}, controls: [0.5, 1.5]}}]\n",
     r"models\[0\]\.controls\[1\] must be from 0 to 1 \(knob position\), got 1\.5$"),
    ("controls-not-a-list", "model: {model}\ncontrols: 0.5\n", r"controls must be a list of knob values from 0 to 1"),
    ("models-not-a-list", "model: {model}\nmodels: {model}\n", r"models must be a list of model paths or mappings"),
    ("device-negative", "model: {model}\ninput_device: -1\n", r"input_device must be a device index"),
    ("crossfade-too-long", "model: {model}\ncrossfade_ms: 5000\n", r"crossfade_ms must be from 1 to 1000 ms, got 5000$"),
    ("too-many-models", "model: {model}\nmodels: [" + ", ".join(["{model}"] * 9) + "]\n",
     r"models lists 9 extra models; keys 1-9 switch among at most 9 in all$"),
    ("not-a-mapping", "- model\n- block_size\n", r"the file must hold a mapping of keys .*, got list$"),
    ("not-yaml", "model: [unclosed\n", r"not valid YAML at line \d+, column \d+"),
    ("empty-file", "", r"the file must hold a mapping of keys .*, got NoneType$"),
]


@pytest.mark.parametrize("text,pattern", [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config(tmp_path, text, pattern):
    path = write(tmp_path, text.format(model=MODEL))
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert re.search(pattern, message), message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no such config file$"):
        load_config(tmp_path / "absent.yaml")


def test_wrong_control_count_for_the_model_is_named_at_session_start(tmp_path):
    from engine.live.chain import load_models

    config = load_config(write(tmp_path, f"model: {CONDITIONED}\ncontrols: [0.5, 0.5]\n"))
    with pytest.raises(ConfigError, match=r"model lstm_1x16_in2_skip1\.guitarml\.json takes 1 control value\(s\), "
                                          r"but its controls list has 2$"):
        load_models(config)


def test_engine_live_reports_a_bad_config_in_one_line(tmp_path):
    path = write(tmp_path, f"model: {MODEL}\nblock_size: 3\n")
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", "live", "--config", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"engine-live: error: {path}: block_size must be a whole number of frames from 16 to 8192, got 3"


# --- configs/README.md's allowed values are what the code accepts -------------------------------------------------

README = REPO / "configs/README.md"
NUMBER = r"[−+-]?\d+(?:\.\d+)?"
RANGE = re.compile(rf"({NUMBER})\s*(?:–|to)\s*({NUMBER})")
WHOLE_NUMBER_KEYS = {"block_size", "input_channel", "output_channels"}


def documented_keys():
    """The top-level key table of configs/README.md: {key: {"unit", "default", "allowed", "meaning"}}.

    (The chain's stage tables follow under "## The signal chain"; tests/test_signal_chain.py checks them.)
    """
    rows = {}
    for line in README.read_text(encoding="utf-8").split("\n## The signal chain")[0].splitlines():
        match = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if match:
            unit, default, allowed, meaning = (cell.strip() for cell in match.group(2).split("|"))
            rows[match.group(1)] = {"unit": unit, "default": default, "allowed": allowed, "meaning": meaning}
    return rows


def number(text):
    return float(text.replace("−", "-"))


def document_with(key, value):
    """A config document that sets ``key`` to ``value`` (inside a list where the key holds one)."""
    if key == "controls":
        return {"model": str(CONDITIONED), "controls": [value]}
    if key == "output_channels":
        return {"model": str(MODEL), key: [value]}
    return {"model": str(MODEL), key: value}


def accepted(document):
    try:
        parse_config(document, source="doc.yaml")
    except ConfigError:
        return False
    return True


def test_every_documented_range_is_the_range_the_config_accepts():
    """Each row whose 'allowed' cell gives a range: both ends accepted, just outside either refused."""
    ranged = {key: RANGE.search(row["allowed"]) for key, row in documented_keys().items()}
    ranged = {key: (number(m.group(1)), number(m.group(2))) for key, m in ranged.items() if m}
    assert set(ranged) == {"model_rate", "controls", "sample_rate", "block_size", "input_channel",
                           "output_channels", "input_gain_db", "output_gain_db", "crossfade_ms"}, ranged
    for key, (low, high) in ranged.items():
        step = 1 if key in WHOLE_NUMBER_KEYS else 1e-6 * max(1.0, abs(low), abs(high))
        cast = int if key in WHOLE_NUMBER_KEYS else float
        assert accepted(document_with(key, cast(low))) and accepted(document_with(key, cast(high))), (key, low, high)
        assert not accepted(document_with(key, cast(low) - step)), (key, "below", low)
        assert not accepted(document_with(key, cast(high) + step)), (key, "above", high)


def test_documented_model_count_is_the_one_accepted():
    count = int(re.search(r"up to (\d+) entries", documented_keys()["models"]["allowed"]).group(1))
    assert accepted({"model": str(MODEL), "models": [str(MODEL)] * count})
    assert not accepted({"model": str(MODEL), "models": [str(MODEL)] * (count + 1)})


def test_documented_interpolation_methods_are_exactly_the_engines():
    from engine.methods import CHOICES, DEFAULT_INTERPOLATION

    row = documented_keys()["interpolation"]
    methods = re.findall(r"`(\w+)`", row["allowed"])
    assert sorted(methods) == sorted(CHOICES)
    assert row["default"] == f"`{DEFAULT_INTERPOLATION}`"
    for method in methods:
        assert parse_config({"model": str(MODEL), "interpolation": method}).interpolation == method
    assert not accepted({"model": str(MODEL), "interpolation": "sinc"})
    # the shipped config's comment lists the same methods
    comment = re.search(r"^interpolation:.*#(.*)$", (REPO / "configs/guitar.yaml").read_text(), re.MULTILINE).group(1)
    assert all(re.search(rf"\b{method}\b", comment) for method in CHOICES), comment


def test_documented_ratio_range_is_the_engines():
    from engine import SampleRateError
    from engine.rates import MAX_RATIO, MIN_RATIO, rate_ratio

    match = re.search(rf"({NUMBER}) ≤ R ≤ ({NUMBER})", documented_keys()["sample_rate"]["meaning"])
    low, high = number(match.group(1)), number(match.group(2))
    assert (low, high) == (MIN_RATIO, MAX_RATIO)
    assert rate_ratio(low * 48000, 48000) == low and rate_ratio(high * 48000, 48000) == high
    for outside in (0.999 * low, 1.001 * high):
        with pytest.raises(SampleRateError):
            rate_ratio(outside * 48000, 48000)


def test_documented_booleans_and_defaults_are_the_configs():
    rows = documented_keys()
    assert re.findall(r"`(\w+)`", rows["limiter"]["allowed"]) == ["true", "false"]
    for token in ("true", "false"):
        assert parse_config({"model": str(MODEL), "limiter": yaml.safe_load(token)}).limiter is yaml.safe_load(token)
    defaults = parse_config({"model": str(MODEL)})
    entry = defaults.models[0]
    checked = 0
    for key, row in rows.items():
        if key == "model":
            assert row["default"] == "(required)" and not accepted({})
            continue
        text = row["default"].strip("`")
        value = None if text == "default" else yaml.safe_load(text)  # devices: `default`, the system's
        if key in ("model_rate", "controls"):
            actual = getattr(entry, key)
        elif key == "models":
            actual = list(defaults.models[1:])
        elif key == "chain":  # null: the model alone
            actual = None if defaults.chain.order == ("model",) else defaults.chain
        else:
            actual = getattr(defaults, key)
        if isinstance(actual, tuple):
            actual = list(actual)
        assert value == actual, (key, row["default"], actual)
        checked += 1
    assert checked == len(rows) - 1


def test_documented_file_limits_are_the_loaders():
    from engine.audiofile import MAX_CLIP_SECONDS
    from engine.config import MAX_CONFIG_BYTES, MAX_DEPTH

    text = README.read_text(encoding="utf-8")
    assert int(re.search(r"larger\s+than\s+(\d+)\s+KiB", text).group(1)) * 1024 == MAX_CONFIG_BYTES
    assert int(re.search(r"more\s+than\s+(\d+)\s+levels", text).group(1)) == MAX_DEPTH
    clip = re.search(r"at most (\d+) s", documented_keys()["demo_clip"]["allowed"]).group(1)
    assert float(clip) == MAX_CLIP_SECONDS


# --- hostile files: bounded time, memory and message length ---------------------------------------------------------

def alias_bomb(levels, key="input_gain_db"):
    """A billion-laughs document: ``key`` holds a list whose anchors multiply by 9 per level (9**levels leaves)."""
    parts = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return f"model: {MODEL}\n{key}: [" + ", ".join(parts) + "]\n"


HOSTILE_CONFIGS = [
    ("alias-bomb-gain", alias_bomb(6), r"input_gain_db must be a number of dB from -60 to 40, got \[\["),
    ("alias-bomb-model", alias_bomb(6, "model").replace(f"model: {MODEL}\n", "", 1),
     r"model must be a file path, got \[\["),
    ("alias-bomb-key", "? &k " + "x" * 5000 + "\n: 1\nmodel: {model}\n", r"unknown key 'x+\.\.\.x+'; valid keys"),
    ("self-referencing-list", "model: {model}\ncontrols: &c [*c]\n", r"controls\[0\] must be a number"),
    ("nested-thousands-deep", "model: {model}\ncontrols: " + "[" * 5000 + "]" * 5000 + "\n",
     r"nested deeper than 32 levels at line 2, column \d+"),
    ("nested-mapping-deep", "model: {model}\nmodels: " + "{{a: " * 3000 + "1" + "}}" * 3000 + "\n",
     r"nested deeper than 32 levels"),
    ("gain-int-beyond-float", "model: {model}\ninput_gain_db: " + "9" * 400 + "\n",
     r"input_gain_db must be a number of dB from -60 to 40, got <an integer of 400 digits>$"),
    ("rate-int-beyond-float", "model: {model}\nmodel_rate: " + "9" * 400 + "\n",
     r"model_rate must be a number of Hz from 8000 to 768000, got <an integer of 400 digits>$"),
    ("sample-rate-int-beyond-float", "model: {model}\nsample_rate: -" + "9" * 400 + "\n",
     r"sample_rate must be a number of Hz .*, got <a negative integer of 400 digits>$"),
    ("control-int-beyond-float", "model: {model}\ncontrols: [" + "9" * 400 + "]\n",
     r"controls\[0\] must be a number .*, got <an integer of 400 digits>$"),
    ("crossfade-int-beyond-float", "model: {model}\ncrossfade_ms: " + "9" * 400 + "\n", r"crossfade_ms must be"),
    ("block-size-int-beyond-float", "model: {model}\nblock_size: " + "9" * 400 + "\n",
     r"block_size must be a whole number of frames from 16 to 8192, got <an integer of 400 digits>$"),
    ("int-over-4300-digits", "model: {model}\ninput_gain_db: " + "9" * 5000 + "\n",
     r"'9+\.\.\.9+' at line 2, column 16 cannot be read \(Exceeds the limit \(4300 digits\)"),
    ("impossible-date", "model: {model}\nsample_rate: 2001-02-30\n",
     r"'2001-02-30' at line 2, column 14 cannot be read \(day is out of range for month\)$"),
    ("long-string-value", "model: {model}\ninterpolation: " + "s" * 100000 + "\n",
     r"interpolation must be one of .*, got 'sss+\.\.\.sss+'$"),
    ("long-path", "model: " + "m" * 50000 + ".json\n",
     r"model names 'm+\.\.\.m+\.json', which cannot be read \(File name too long\)"),
    ("not-utf8", "model: {model}\n# \udcff\n", r"not a UTF-8 text file \(byte \d+ is 0xff\)$"),
    ("too-large", "model: {model}\n" + "# padding\n" * 30000, r"larger than 256 KiB; a config is a page of keys"),
]


@pytest.mark.parametrize("text,pattern", [case[1:] for case in HOSTILE_CONFIGS], ids=[c[0] for c in HOSTILE_CONFIGS])
def test_hostile_config_is_one_short_line_at_once(tmp_path, text, pattern):
    import time

    path = tmp_path / "live.yaml"
    path.write_bytes(text.format(model=MODEL).encode("utf-8", "surrogateescape"))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    elapsed = time.perf_counter() - started
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert len(message) < len(str(path)) + 400, message[:500]  # what a message quotes is bounded
    assert re.search(pattern, message), message[:500]
    assert elapsed < 5.0, elapsed  # the worst, nesting, is ~0.5 s: PyYAML scans 1024 characters ahead per level


def test_a_full_billion_laughs_costs_neither_time_nor_memory(tmp_path):
    """9**9 = 387 million leaves: printing them took 40 s and ended in MemoryError; now refused at once.

    Run in a child limited to 1 GB of address space (importing the engine takes ~0.5 GB), so the
    old behaviour fails fast instead of taking the machine's memory.
    """
    path = tmp_path / "laughs.yaml"
    path.write_text(alias_bomb(9))
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from engine.config import load_config\n"
            f"load_config({str(path)!r})\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("engine.errors.ConfigError: ") and len(last) < 400, result.stderr[-1000:]
    assert "input_gain_db must be a number of dB" in last


@pytest.mark.parametrize("kind", ["fifo", "directory"])
@pytest.mark.parametrize("key", ["model", "models[0]", "demo_clip"])
def test_a_fifo_or_directory_is_named_for_what_it_is(tmp_path, kind, key):
    target = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(target)
        expected = "which is a FIFO (named pipe), not a regular file"
    else:
        target.mkdir()
        expected = "which is a directory, not a file"
    text = {"model": "model: thing\n", "models[0]": f"model: {MODEL}\nmodels: [thing]\n",
            "demo_clip": f"model: {MODEL}\ndemo_clip: thing\n"}[key]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(excinfo.value) == f"{path}: {key} names 'thing', {expected} (resolved to {target})"


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_fifo_or_directory_as_the_config_is_named_for_what_it_is(tmp_path, kind):
    path = tmp_path / "live.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block until a writer came
        expected = "is a FIFO (named pipe), not a regular file"
    else:
        path.mkdir()
        expected = "is a directory, not a file"
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(excinfo.value) == f"{path}: {expected}; give the YAML config file (see configs/README.md)"


def test_quote_is_bounded_for_any_value():
    from engine.config import QUOTE_CHARS, quote

    bomb = ["x"] * 9
    for _ in range(8):
        bomb = [bomb] * 9
    for value in (bomb, "s" * 10 ** 6, 10 ** 5000, {"k" * 100: ["v"] * 100}, b"\0" * 1000, 1.5, None):
        assert len(quote(value)) <= QUOTE_CHARS
    assert quote("fast") == "'fast'" and quote(True) == "True" and quote(-48000) == "-48000"


@pytest.mark.parametrize("text, key, lines", [
    ("block_size: 128\nblock_size: 256\n", "'block_size'", "lines 2 and 3"),
    ("chain:\n  eq: {bass_db: 1, bass_db: 2}\n", "'bass_db'", "lines 3 and 3"),
    ("chain: {gate: {}}\nmidi:\n  port: virtual\n  cc:\n    20: gate_threshold_db\n    20: input_gain_db\n", "20",
     "lines 6 and 7"),
])
def test_a_key_given_twice_is_refused_not_silently_overwritten(tmp_path, text, key, lines):
    path = write(tmp_path, f"model: {MODEL}\n{text}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {key} is given twice in one mapping ({lines}); keep one"
