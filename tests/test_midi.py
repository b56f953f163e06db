"""MIDI control change (the config's ``midi:``): its settings, and control changes turned into requests.

The messages here are the raw bytes rtmidi hands the callback, given to MidiInput._receive on a
session whose chain is real (compiled callback, request seqlock) but has no stream; the same
path on a real JACK server, with a real JACK MIDI client sending, is in tests/test_live_callback.py.
"""

import dataclasses
import re
import sys

import numpy as np
import pytest
import yaml

import engine
from conftest import REPO
from engine import ConfigError, DeviceError
from engine.config import load_config
from engine.control_table import FIXED_CONTROLS, MAX_KNOBS
from engine.live.chain import LiveChain
from engine.live.midi import MIDI_EXTRA_HINT, MidiInput, find_port, midi_in, resolve_api
from engine.midi_settings import MIDI_APIS, MIDI_KEYS, CcMapping, MidiSettings, parse_midi

MODEL = REPO / "tests/fixtures/torch/lstm_1x8_in1_skip0.guitarml.json"
KNOBBED = REPO / "tests/fixtures/torch/lstm_1x16_in2_skip1.guitarml.json"  # one control input
RATE = 48000


FULL_CHAIN = f"chain: {{gate: {{}}, eq: {{}}, cabinet: {{ir: {REPO / 'models/cabinet_4x12.wav'}}}}}\n"
NO_CABINET = "chain: {gate: {}, eq: {}}\n"


def write_config(tmp_path, midi, chain=FULL_CHAIN):
    path = tmp_path / "live.yaml"
    path.write_text(f"model: {MODEL}\n{chain}" + yaml.safe_dump({"midi": midi}), encoding="utf-8")
    return path


# ---- the settings ------------------------------------------------------------------------------------

def test_a_midi_section_is_read_into_cc_mappings(tmp_path):
    config = load_config(write_config(tmp_path, {"port": "virtual", "channel": 3, "cc": {
        21: {"control": "gate_threshold_db", "min": -90, "max": -40}, 20: "eq_bass_db", 7: "knob_1",
        8: {"control": "cabinet_mix", "min": 1, "max": 0}}}))
    midi = config.midi
    assert (midi.port, midi.api, midi.channel) == ("virtual", "auto", 3)
    assert [m.cc for m in midi.mappings] == [7, 8, 20, 21]
    bass, gate, reversed_mix = midi.mapping(20), midi.mapping(21), midi.mapping(8)
    assert (bass.low, bass.high) == (-20.0, 20.0)  # the control's own range
    assert gate.value(0) == -90.0 and gate.value(127) == -40.0 and gate.value(64) == pytest.approx(-90 + 50 * 64 / 127)
    assert reversed_mix.value(0) == 1.0 and reversed_mix.value(127) == 0.0
    assert midi.mapping(9) is None
    assert load_config(write_config(tmp_path, None)).midi is None


BAD_MIDI = [
    ("virtual", r"midi must be a mapping \(port, api, channel, cc\), got 'virtual'"),
    ({"prot": "x", "cc": {1: "eq_bass_db"}}, r"unknown key in midi: 'prot' \(did you mean 'port'\?\)"),
    ({"cc": {1: "eq_bass_db"}}, r"midi.port must name a MIDI source"),
    ({"port": "  ", "cc": {1: "eq_bass_db"}}, r"midi.port must name a MIDI source"),
    ({"port": "x"}, r"midi.cc must map control change numbers \(0-127\) to controls"),
    ({"port": "x", "cc": {}}, r"midi.cc must map control change numbers"),
    ({"port": "x", "cc": {128: "eq_bass_db"}}, r"midi.cc keys must be control change numbers from 0 to 127, got 128"),
    ({"port": "x", "cc": {"7": "eq_bass_db"}}, r"midi.cc keys must be control change numbers from 0 to 127, got the "
                                               r"string '7' \(write the number without quotes\)"),
    ({"port": "x", "cc": {"x": "eq_bass_db"}}, r"midi.cc keys must be control change numbers from 0 to 127, got 'x'$"),
    ({"port": "x", "cc": {7: {"control": "eq_mid_db", "min": 3, "max": 3}}}, r"midi.cc.7 has min = max = 3: the CC would "
                                                                             r"move nothing"),
    ({"port": "x", "cc": {7: "eq_bas_db"}}, r"midi.cc.7 names no control: 'eq_bas_db' \(did you mean 'eq_bass_db'\?\)"),
    ({"port": "x", "cc": {7: "knob_64"}}, r"midi.cc.7 names no control: 'knob_64' \(knobs are numbered from 1 to 63\)"),
    ({"port": "x", "cc": {7: {"min": 0}}}, r"midi.cc.7 needs a control key"),
    ({"port": "x", "cc": {7: {"control": "cabinet_mix", "max": 2}}},
     r"midi.cc.7.max must be a number from 0 to 1 \(the range of cabinet_mix\), got 2"),
    ({"port": "x", "cc": {7: {"control": "eq_mid_db", "min": "low"}}}, r"midi.cc.7.min must be a number from -20 to 20 dB"),
    ({"port": "x", "cc": {7: {"control": "eq_mid_db", "mn": 1}}}, r"unknown key in midi.cc.7: 'mn' \(did you mean 'min'\?\)"),
    ({"port": "x", "api": "coremidi", "cc": {7: "eq_mid_db"}}, r"midi.api must be one of auto, alsa, jack, got 'coremidi'"),
    ({"port": "x", "channel": 17, "cc": {7: "eq_mid_db"}}, r"midi.channel must be a MIDI channel from 1 to 16"),
    ({"port": "x", "channel": True, "cc": {7: "eq_mid_db"}}, r"midi.channel must be a MIDI channel from 1 to 16"),
]


@pytest.mark.parametrize("midi, message", BAD_MIDI, ids=[str(i) for i in range(len(BAD_MIDI))])
def test_a_bad_midi_section_is_one_line_naming_the_key(tmp_path, midi, message):
    path = write_config(tmp_path, midi)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert re.search(message, text), text


def test_the_configs_readme_documents_the_midi_keys_and_controls_the_code_has():
    from engine.model import MAX_INPUT_SIZE

    section = (REPO / "configs/README.md").read_text(encoding="utf-8").split("\n## MIDI control (`midi:`)")[1]
    rows = re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)
    assert tuple(rows) == MIDI_KEYS
    api_row = next(line for line in section.splitlines() if line.startswith("| `api`"))
    assert tuple(re.findall(r"`(\w+)`", api_row.split("|")[4])) == MIDI_APIS
    for control in FIXED_CONTROLS:
        assert f"`{control.key}`" in section, control.key
    assert f"`knob_1` … `knob_{MAX_KNOBS}`" in section and MAX_KNOBS == MAX_INPUT_SIZE - 1


# ---- control changes through the request path (no stream) ---------------------------------------------

def session_with_chain(tmp_path, midi, models=(KNOBBED,)):
    """A LiveSession whose chain (gate, EQ, cabinet) is prepared at 48 kHz without opening a stream."""
    config = load_config(write_config(tmp_path, midi)).with_models(*models)
    session = engine.LiveSession(config.replace(block_size=128, sample_rate=RATE))
    session.chain = LiveChain(session.config, session.models, RATE, 1, 2)
    return session


def cc(number, value, channel=0):
    return ([0xB0 | channel, number, value], 0.0)


def test_control_changes_move_the_mapped_controls_through_the_request_path(tmp_path):
    from engine.live import shared

    session = session_with_chain(tmp_path, {"port": "virtual", "cc": {
        20: "eq_bass_db", 21: {"control": "gate_threshold_db", "min": -90, "max": -40}, 22: "knob_1",
        23: "cabinet_mix", 24: "output_gain_db"}})
    midi = MidiInput(session.config.midi, session)
    chain = session.chain
    midi._receive(cc(20, 127))
    midi._receive(cc(21, 0))
    midi._receive(cc(22, 127))
    midi._receive(cc(23, 0))
    midi._receive(cc(24, 0))
    assert chain.stage_values()["eq_bass_db"] == 20.0 and chain.stage_values()["gate_threshold_db"] == -90.0
    assert chain.stage_values()["cabinet_mix"] == 0.0 and chain.output_gain_db == -60.0
    # What the callback will apply: the request's values.
    assert chain.shared.values[shared.V_CONTROLS] == 1.0 and chain.shared.values[shared.V_CABINET_MIX] == 0.0
    assert (midi.received, midi.applied, midi.ignored, midi.refused) == (5, 5, 0, 0)
    # Each change is logged with the request's sequence number, in order.
    seqs = [seq for seq, _, _ in midi.log]
    assert seqs == sorted(seqs) and seqs[-1] == int(chain.shared.request[shared.R_SEQ])
    assert [key for _, key, _ in midi.log] == ["eq_bass_db", "gate_threshold_db", "knob_1", "cabinet_mix",
                                               "output_gain_db"]
    assert midi.line() == "MIDI cc 24 → output gain -60.0 dB"
    midi._receive(cc(30, 5))             # a CC the map lacks
    midi._receive(([0x90, 60, 100], 0))  # a note: not a control change
    midi._receive(([0xB0, 20], 0))       # truncated
    assert (midi.received, midi.applied, midi.ignored) == (6, 5, 1)


def test_a_channel_filters_messages_and_a_refused_value_is_counted(tmp_path, monkeypatch):
    from engine.live import chain as live_chain

    session = session_with_chain(tmp_path, {"port": "virtual", "channel": 2, "cc": {20: "eq_mid_db", 22: "knob_1"}})
    midi = MidiInput(session.config.midi, session)
    midi._receive(cc(20, 127, channel=0))  # channel 1: not listened to
    assert midi.received == 0 and session.chain.stage_values()["eq_mid_db"] == 0.0
    midi._receive(cc(20, 0, channel=1))    # channel 2
    assert midi.applied == 1 and session.chain.stage_values()["eq_mid_db"] == -20.0

    def unstable(processor, values):
        raise engine.ControlError("linear is predicted unstable at these knob values")

    monkeypatch.setattr(live_chain, "check_live_stability", unstable)
    midi._receive(cc(22, 100, channel=1))
    assert midi.refused == 1 and "refused (linear is predicted unstable" in midi.line()


def test_a_knob_the_playing_model_lacks_is_not_mapped_for_it(tmp_path):
    session = session_with_chain(tmp_path, {"port": "virtual", "cc": {22: "knob_1"}}, models=(MODEL, KNOBBED))
    midi = MidiInput(session.config.midi, session)
    midi._receive(cc(22, 127))  # model 0 (no knobs) plays
    assert (midi.received, midi.applied, midi.ignored) == (1, 0, 1)


def test_a_map_the_session_cannot_follow_is_refused_before_any_device_opens(tmp_path):
    """A stage the chain lacks: at load_config; a knob no model has: when the session loads its models."""
    with pytest.raises(ConfigError, match=r"midi.cc.20: cabinet_level_db moves the cabinet stage, which the chain "
                                          r"lacks \(add chain.cabinet to the config\)$"):
        load_config(write_config(tmp_path, {"port": "virtual", "cc": {20: "cabinet_level_db"}}, NO_CABINET))
    path = tmp_path / "knob.yaml"
    path.write_text(f"model: {MODEL}\nmidi: {{port: virtual, cc: {{22: knob_1}}}}\n", encoding="utf-8")
    config = load_config(path)  # the model is not loaded yet: its knobs are unknown
    with pytest.raises(ConfigError, match=r"midi.cc.22: knob_1, but no model of this session has 1 knob\(s\) "
                                          r"\(the most is 0\)$"):
        engine.LiveSession(config)


@pytest.mark.parametrize("cc_map, message", [
    ({22: "knob_2"}, r"midi.cc.22: knob_2, but no model of this session has 2 knob\(s\) \(the most is 1\)"),
    ({20: "cabinet_level_db"}, r"midi.cc.20: cabinet_level_db moves the cabinet stage, which the chain lacks"),
])
def test_a_map_the_session_cannot_follow_is_a_config_error(tmp_path, cc_map, message):
    # (load_config and LiveSession refuse these first: here the MidiInput's own check, on a chain built by hand)
    config = load_config(write_config(tmp_path, {"port": "virtual", "cc": {1: "input_gain_db"}},
                                      NO_CABINET)).with_models(KNOBBED)
    session = engine.LiveSession(config)
    session.chain = LiveChain(session.config, session.models, RATE, 1, 2)
    config = dataclasses.replace(config, midi=parse_midi({"port": "virtual", "cc": cc_map}, str(config.source)))
    with pytest.raises(ConfigError, match=message) as caught:
        MidiInput(config.midi, session)
    assert "\n" not in str(caught.value)


def test_without_rtmidi_midi_is_a_one_line_device_error_with_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "rtmidi", None)  # import rtmidi now raises ImportError
    with pytest.raises(DeviceError) as caught:
        midi_in("jack")
    assert str(caught.value) == MIDI_EXTRA_HINT and "pip install" in MIDI_EXTRA_HINT


def test_ports_are_found_by_exact_name_or_a_unique_part():
    names = ["Midi Through:Midi Through Port-0 14:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "tester:out"]
    assert find_port(names, "tester:out") == 2
    assert find_port(names, "nanokontrol") == 1
    with pytest.raises(DeviceError, match=r"matches 2 MIDI sources"):
        find_port(names, "MIDI")
    with pytest.raises(DeviceError, match=r"no such MIDI source \(there are: Midi Through.*; tester:out\); "
                                          r"engine-live --list-midi"):
        find_port(names, "launchpad")
    with pytest.raises(DeviceError, match=r"there are: none"):
        find_port([], "launchpad")


def test_auto_means_jack_when_the_audio_runs_on_jack():
    assert resolve_api("auto", "jack") == "jack"
    assert resolve_api("alsa", "jack") == "alsa" and resolve_api("jack", "portaudio") == "jack"
    assert resolve_api("auto", "portaudio") == ("alsa" if sys.platform.startswith("linux") else None)


def test_midi_settings_are_frozen_and_replaceable_in_a_config():
    config = engine.config.LiveConfig(models=()).replace(
        midi=MidiSettings(port="virtual", mappings=(CcMapping(20, "input_gain_db", -20.0, 20.0),)))
    assert config.midi.mapping(20).control == "input_gain_db"
    with pytest.raises(ConfigError, match=r"midi.cc.21: eq_bass_db moves the eq stage, which the chain lacks"):
        config.replace(midi=MidiSettings(port="virtual", mappings=(CcMapping(21, "eq_bass_db", -20.0, 20.0),)))
    with pytest.raises(ConfigError, match=r"midi must be a MidiSettings"):
        config.replace(midi={"port": "virtual"})
    assert parse_midi(None) is None and parse_midi(False) is None
    assert np.isfinite(CcMapping(1, "cabinet_mix", 0.0, 1.0).value(500))  # clamped to 127


def test_engine_live_list_midi_without_a_jack_server_is_one_line(tmp_path):
    import os
    import subprocess

    env = {**os.environ, "JACK_DEFAULT_SERVER": f"engine-no-such-server-{os.getpid()}", "JACK_NO_START_SERVER": "1"}
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", "live", "--list-midi", "jack"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "engine-live: error: cannot reach a JACK server for MIDI (MidiInJack::initialize: JACK server not running?); "
        "start the JACK server first, or use midi: {api: alsa}"]


def test_engine_live_check_validates_a_config_without_a_device(tmp_path):
    import os
    import subprocess

    def check(path):
        return subprocess.run([sys.executable, "-m", "engine.cli_run", "live", "--config", str(path), "--check"],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "JACK_NO_START_SERVER": "1"})

    shipped = check(REPO / "configs/guitar.yaml")
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.splitlines()[0].endswith("configs/guitar.yaml: OK")
    assert "chain: gate → model → eq → cabinet" in shipped.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model: {MODEL}\nmidi: {{port: virtual, cc: {{22: knob_1}}}}\n", encoding="utf-8")
    result = check(bad)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"engine-live: error: {bad}: midi.cc.22: knob_1, but no model of this session "
                                     f"has 1 knob(s) (the most is 0)")
