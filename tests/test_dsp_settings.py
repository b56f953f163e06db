"""Bad gate and EQ settings: each a one-line ConfigError naming the key, the value and the allowed range."""

import math
import re

import pytest

from engine.dsp.eq import Equalizer
from engine.dsp.gate import NoiseGate
from engine.dsp.settings import (EQ_PARAMETERS, GATE_PARAMETERS, EqSettings, GateSettings, validate_eq,
                                 validate_gate)
from engine.errors import ConfigError, SampleRateError


def refused(check, document, pattern, **kwargs):
    with pytest.raises(ConfigError) as caught:
        check(document, "guitar.yaml", **kwargs)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("guitar.yaml: ")
    assert len(message) < 400
    assert re.search(pattern, message), message
    return message


@pytest.mark.parametrize("key,value,pattern", [
    ("threshold_db", 3, r"gate\.threshold_db must be from -140 to 0 dBFS, got 3$"),
    ("threshold_db", -150.5, r"gate\.threshold_db must be from -140 to 0 dBFS, got -150\.5$"),
    ("attack_ms", -1, r"gate\.attack_ms must be from 0\.1 to 500 ms, got -1$"),
    ("hold_ms", -0.5, r"gate\.hold_ms must be from 0 to 5000 ms, got -0\.5$"),
    ("release_ms", 0, r"gate\.release_ms must be from 1 to 5000 ms, got 0$"),
    ("hysteresis_db", -2, r"gate\.hysteresis_db must be from 0 to 40 dB, got -2$"),
    ("closed_gain_db", 6, r"gate\.closed_gain_db must be from -120 to 0 dB, got 6$"),
    ("detector_ms", 0, r"gate\.detector_ms must be from 0\.1 to 1000 ms, got 0$"),
    ("threshold_db", "loud", r"gate\.threshold_db must be a number from -140 to 0 dBFS, got 'loud'$"),
    ("threshold_db", True, r"must be a number .* got True$"),
    ("threshold_db", None, r"must be a number .* got None$"),
    ("threshold_db", math.nan, r"must be a number .* got nan$"),
    ("hold_ms", math.inf, r"must be a number .* got inf$"),
    ("hold_ms", 10 ** 400, r"must be a number .* got <an integer of 401 digits>$"),
    ("attack_ms", [1, 2], r"must be a number .* got \[1, 2\]$"),
])
def test_gate_values_out_of_range_or_of_the_wrong_kind(key, value, pattern):
    refused(validate_gate, {key: value}, pattern)


@pytest.mark.parametrize("key,value,pattern", [
    ("bass_db", 25, r"eq\.bass_db must be from -20 to 20 dB, got 25$"),
    ("presence_db", -20.01, r"eq\.presence_db must be from -20 to 20 dB, got -20\.01$"),
    ("mid_q", 0, r"eq\.mid_q must be from 0\.1 to 10, got 0$"),
    ("treble_q", -1, r"eq\.treble_q must be from 0\.1 to 10, got -1$"),
    ("bass_hz", 5, r"eq\.bass_hz must be from 10 to 40000 Hz, got 5$"),
    ("ramp_ms", -5, r"eq\.ramp_ms must be from 0 to 1000 ms, got -5$"),
    ("mid_hz", "425 Hz", r"eq\.mid_hz must be a number from 10 to 40000 Hz, got '425 Hz'$"),
])
def test_eq_values_out_of_range_or_of_the_wrong_kind(key, value, pattern):
    refused(validate_eq, {key: value}, pattern)


def test_eq_frequencies_at_or_above_nyquist_when_the_rate_is_known():
    refused(validate_eq, {"treble_hz": 22050}, r"eq\.treble_hz must be below the Nyquist frequency "
                                              r"\(22050 Hz at 44100 Hz\), got 22050$", sample_rate=44100)
    assert validate_eq({"treble_hz": 22049}, sample_rate=44100).treble_hz == 22049
    with pytest.raises(ConfigError, match=r"<Equalizer>: eq\.presence_hz must be below the Nyquist"):
        Equalizer({"presence_hz": 5000}).prepare(8000)


def test_unknown_keys_are_refused_with_a_did_you_mean_and_the_valid_keys():
    message = refused(validate_gate, {"treshold_db": -60}, r"unknown key in gate: 'treshold_db' "
                                                           r"\(did you mean 'threshold_db'\?\); valid keys: ")
    assert all(p.key in message for p in GATE_PARAMETERS)
    message = refused(validate_eq, {"tremble_db": 3}, r"unknown key in eq: 'tremble_db' \(did you mean "
                                                      r"'treble_db'\?\); valid keys: bass_db, bass_hz")
    refused(validate_eq, {42: 3}, r"unknown key in eq: 42; valid keys: ")
    refused(validate_gate, {"x" * 10000: 1}, r"unknown key in gate: 'x{20,}\.\.\.")


def test_a_stage_that_is_not_a_mapping():
    refused(validate_gate, [1, 2], r"gate must be a mapping of keys \(threshold_db, hysteresis_db, attack_ms, "
                                   r"\.\.\.\), got \[1, 2\]$")
    refused(validate_eq, "flat", r"eq must be a mapping of keys .* got 'flat'$")


def test_where_names_the_stage_in_the_file():
    with pytest.raises(ConfigError, match=r"^guitar\.yaml: chain\[0\]\.threshold_db must be"):
        validate_gate({"threshold_db": 1}, "guitar.yaml", where="chain[0]")


def test_defaults_and_valid_values():
    assert validate_gate(None) == GateSettings()
    assert validate_eq({}) == EqSettings()
    for p in GATE_PARAMETERS + EQ_PARAMETERS:
        assert p.low <= p.default <= p.high and p.unit is not None and p.meaning
    s = validate_gate({"threshold_db": -140, "hold_ms": 0, "attack_ms": 0.1})
    assert (s.threshold_db, s.hold_ms, s.attack_ms) == (-140.0, 0.0, 0.1)
    assert isinstance(validate_eq({"bass_db": 20}).bass_db, float)


def test_the_classes_refuse_bad_changes_and_keep_their_settings():
    gate = NoiseGate({"threshold_db": -50})
    with pytest.raises(ConfigError, match=r"gate\.threshold_db must be from -140 to 0 dBFS, got 1$"):
        gate.set_threshold_db(1)
    with pytest.raises(ConfigError, match=r"unknown key in gate: 'hold' \(did you mean 'hold_ms'\?\)"):
        gate.set(hold=10)
    assert gate.settings.threshold_db == -50
    eq = Equalizer()
    with pytest.raises(ConfigError, match=r"eq\.mid_db must be from -20 to 20 dB, got 30$"):
        eq.set_gain_db("mid", 30)
    assert eq.settings.mid_db == 0
    with pytest.raises(ConfigError, match=r"<NoiseGate>: gate\.release_ms must be from 1"):
        NoiseGate({"release_ms": -3})


@pytest.mark.parametrize("rate", [0, -48000, 1e9, "48k", None, math.nan])
def test_bad_sample_rates(rate):
    with pytest.raises(SampleRateError, match=r"sample_rate must be a number of Hz from 8000 to 768000, got "):
        NoiseGate().prepare(rate)
    with pytest.raises(SampleRateError):
        Equalizer().prepare(rate)


def test_the_documentation_table_lists_every_key_with_its_default_and_range():
    from engine.dsp.settings import parameters_markdown

    for parameters in (GATE_PARAMETERS, EQ_PARAMETERS):
        table = parameters_markdown(parameters).splitlines()
        assert len(table) == 2 + len(parameters)
        for p, row in zip(parameters, table[2:]):
            assert row.startswith(f"| `{p.key}` |") and f"| {p.default:g} |" in row and f"{p.low:g} … {p.high:g}" in row
