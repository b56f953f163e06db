"""engine.Chain and the config's chain: stages one after another, block-size invariance, no allocation,
every stage's keys and every bad value, engine-process --config and its stage flags."""

import dataclasses
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import scipy.signal
import soundfile

from conftest import REPO, guitar_like_signal
from engine import ArgumentError, AudioFileError, ConfigError, Processor, load_model
from engine.chain_settings import CHAIN_KEYS, STAGES, ChainSettings, parse_chain
from engine.config import load_config
from engine.dsp.cabinet import Cabinet
from engine.dsp.eq import Equalizer
from engine.dsp.gate import NoiseGate, gate_gain_block
from engine.dsp.impulse import MAX_IR_SECONDS, load_ir
from engine.dsp.settings import EQ_PARAMETERS, GATE_PARAMETERS, MAX_LEVEL_DB, MIN_LEVEL_DB, parameters_markdown
from engine.settle import settled
from engine.signal_chain import Chain
from test_allocation import allocations_during

LSTM8 = REPO / "tests/fixtures/torch/lstm_1x8_in1_skip0.guitarml.json"
CONDITIONED = REPO / "tests/fixtures/torch/lstm_1x16_in2_skip1.guitarml.json"
SHIPPED_IR = REPO / "models/cabinet_4x12.wav"
RATE = 48000
GATE = {"threshold_db": -45, "hold_ms": 5, "release_ms": 10}
EQ = {"bass_db": 4, "mid_db": -6, "treble_db": 3, "presence_db": 2}


@pytest.fixture(scope="module")
def model():
    return load_model(LSTM8)


def played_with_pauses(n=30000, seed=0):
    """Guitar-like phrases separated by near-silence (low noise), so the gate opens and closes."""
    x = guitar_like_signal(n, RATE).copy()
    pause = slice(n // 3, 2 * n // 3)
    x[pause] = 1e-4 * np.random.default_rng(seed).standard_normal(pause.stop - pause.start).astype(np.float32)
    return x


def stage_by_stage(model, x, order=STAGES, gate=GATE, eq=EQ, ir=SHIPPED_IR):
    """The stages applied one after another over the whole signal, each made from its own class."""
    stages = {"gate": NoiseGate(gate), "eq": Equalizer(eq), "model": Processor(settled(model), sample_rate=RATE),
              "cabinet": Cabinet(ir, RATE)}
    stages["gate"].prepare(RATE)
    stages["eq"].prepare(RATE)
    y = x.copy()
    for name in order:
        y = stages[name].process(y)
    return y


# ---- the chain is the stages one after another --------------------------------------------------------------------

@pytest.mark.parametrize("order", [STAGES, ("model",), ("gate", "model"), ("model", "cabinet"), ("model", "eq"),
                                   ("eq", "model", "cabinet", "gate")], ids="→".join)
def test_the_chain_is_its_stages_one_after_another(model, order):
    x = played_with_pauses()
    kwargs = {name: value for name, value in (("gate", GATE), ("eq", EQ), ("cabinet", SHIPPED_IR)) if name in order}
    chain = Chain(model, RATE, order=order if order != STAGES else None, **kwargs)
    assert chain.order == order
    expected = stage_by_stage(model, x, order)
    np.testing.assert_array_equal(chain.process(x), expected)
    if order[0] == "gate":  # the signal makes the gate work: open while playing, closed in the pause
        gate = NoiseGate(GATE)
        gate.prepare(RATE)
        gains = np.empty_like(x)
        gate_gain_block(x, gains, len(x), gate.params, gate.state)
        assert np.max(gains[2 * len(x) // 3 - 1000:2 * len(x) // 3]) < 1e-3 and np.max(gains[:len(x) // 3]) > 0.99


def test_the_cabinet_stage_is_a_convolution_with_the_loaded_ir(model):
    """Independent of the Cabinet class: scipy's convolution of the model's output with the IR file's taps."""
    x = guitar_like_signal(12000, RATE)
    out = Chain(model, RATE, cabinet=SHIPPED_IR).process(x)
    taps = load_ir(SHIPPED_IR, RATE).taps.astype(np.float64)
    expected = scipy.signal.fftconvolve(Processor(settled(model), sample_rate=RATE).process(x).astype(np.float64), taps)
    np.testing.assert_allclose(out, expected[:len(x)], atol=1e-5)


def test_a_flat_eq_passes_the_signal_unchanged(model):
    x = guitar_like_signal(6000, RATE)
    np.testing.assert_array_equal(Chain(model, RATE, eq={}).process(x), Chain(model, RATE).process(x))


def test_latency_is_the_models_and_the_stages_add_none(model):
    plain = Chain(model, RATE, gate=True, eq=True, cabinet=np.array([1.0], np.float32))
    assert plain.latency == 0 == plain.processor.latency
    oversampled = Chain(model, RATE, eq=EQ, cabinet=SHIPPED_IR, oversample=2)
    assert oversampled.latency == oversampled.processor.latency > 0
    # an identity cabinet and a flat EQ around the model: exactly the model's output, no added delay
    x = guitar_like_signal(4000, RATE)
    np.testing.assert_array_equal(plain.process(x), stage_by_stage(model, x, ("gate", "model"), gate={}))


# ---- block-size invariance ----------------------------------------------------------------------------------------

def in_random_blocks(chain, x, seed, changes=()):
    """Process x in random block sizes (1 … 3000), cut at every change position, applying each change there."""
    rng = np.random.default_rng(seed)
    cuts = {position for position, _ in changes}
    out = np.empty_like(x)
    start = 0
    while start < len(x):
        for position, change in changes:
            if position == start:
                change(chain)
        stop = min(len(x), start + int(rng.integers(1, 3000)))
        stop = min([stop] + [c for c in cuts if start < c < stop])
        chain.process(x[start:stop], out[start:stop])
        start = stop
    return out


def test_any_split_into_blocks_gives_the_same_output_bit_for_bit(model):
    x = played_with_pauses(30000)
    chain = Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR, max_block_size=512)  # longer blocks are split
    whole = chain.process(x)
    for seed in range(3):
        chain.reset()
        np.testing.assert_array_equal(in_random_blocks(chain, x, seed), whole)


def test_settings_changed_at_the_same_sample_give_the_same_output_for_any_split(model):
    x = played_with_pauses(30000)
    changes = [(7000, lambda c: c.set_eq(bass_db=-8, treble_hz=2500)), (9000, lambda c: c.set_gate(threshold_db=-30)),
               (15000, lambda c: c.set_cabinet_mix(0.4)), (21000, lambda c: c.set_cabinet_level(-6))]
    outputs = [in_random_blocks(Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR), x, seed, changes)
               for seed in (10, 11)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    unchanged = Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR).process(x)
    assert np.array_equal(outputs[0][:7000], unchanged[:7000]) and not np.array_equal(outputs[0], unchanged)


def test_the_setters_ramp_as_the_stages_do(model):
    """A change through the chain gives what the same change to the stage objects, at the same sample, gives."""
    x = guitar_like_signal(9000, RATE)
    chain = Chain(model, RATE, eq=EQ, cabinet=SHIPPED_IR)
    eq, processor, cabinet = Equalizer(EQ), Processor(settled(model), sample_rate=RATE), Cabinet(SHIPPED_IR, RATE)
    eq.prepare(RATE)
    first = cabinet.process(eq.process(processor.process(x[:4000])))
    eq.set(mid_db=6)
    cabinet.set_mix(0.5)
    rest = cabinet.process(eq.process(processor.process(x[4000:])))
    out = chain.process(x[:4000])
    chain.set_eq(mid_db=6)
    chain.set_cabinet_mix(0.5)
    np.testing.assert_array_equal(np.concatenate([out, chain.process(x[4000:])]), np.concatenate([first, rest]))


def test_a_conditioned_models_knobs(model):
    conditioned = load_model(CONDITIONED)
    chain = Chain(conditioned, RATE, eq=EQ, controls=[0.2])
    x = guitar_like_signal(3000, RATE)
    eq = Equalizer(EQ)
    eq.prepare(RATE)
    expected = eq.process(Processor(settled(conditioned, [0.2]), sample_rate=RATE, controls=[0.2]).process(x))
    np.testing.assert_array_equal(chain.process(x), expected)
    chain.set_controls([0.9])
    assert chain.processor.controls[0] == np.float32(0.9)


# ---- real time: nothing allocated after prepare -------------------------------------------------------------------

def test_process_with_out_allocates_nothing_after_prepare(model):
    chain = Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR, max_block_size=4096)
    x = played_with_pauses(8192)
    out = np.empty_like(x)
    chain.process(x, out)  # every path once
    for n in (64, 4096):
        assert allocations_during(lambda n=n: chain.process(x[:n], out[:n])) == 0  # numba's runtime: none
    # numpy's data allocations (tracemalloc's numpy domain): none either, in place or not
    import numpy.lib as npl

    domain = getattr(npl, "tracemalloc_domain", 389047)

    def numpy_allocations(action):
        tracemalloc.start()
        try:
            kept = action()
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, domain)])
        finally:
            tracemalloc.stop()
        del kept
        return len(snapshot.traces)

    def real_time():
        for _ in range(3):
            chain.process(x[:4096], out[:4096])
            chain.process(out[:128], out[:128])

    assert numpy_allocations(real_time) == 0
    assert numpy_allocations(lambda: chain.process(x[:128])) >= 1  # the check sees an allocated block


@pytest.mark.parametrize("order", [STAGES, ("model", "gate", "eq", "cabinet"), ("eq", "cabinet", "gate", "model")],
                         ids="→".join)
def test_in_place_processing_equals_out_of_place(model, order):
    x = played_with_pauses(6000)
    y = x.copy()
    Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR, order=order).process(y, y)
    np.testing.assert_array_equal(y, stage_by_stage(model, x, order))


def test_a_processor_can_be_the_model_and_the_settings_make_the_same_chain_again(model):
    x = guitar_like_signal(5000, RATE)
    processor = Processor(model, sample_rate=RATE, interpolation="cubic")
    chain = Chain(processor, RATE, gate=GATE, eq=EQ)
    assert chain.processor is processor
    expected = stage_by_stage(model, x, ("gate", "model", "eq"))
    assert not np.array_equal(chain.process(x), expected)  # cubic, not the default linear
    chain = Chain(model, RATE, gate=GATE, eq=EQ, cabinet=SHIPPED_IR)
    chain.set_eq(bass_db=-5)
    again = Chain.from_settings(model, RATE, chain.settings)
    assert again.eq.settings.bass_db == -5 and again.order == chain.order
    chain.reset()  # the glide to bass -5 dB is over after a reset: both start settled
    np.testing.assert_array_equal(chain.process(x), again.process(x))
    with pytest.raises(ArgumentError, match=r"the chain is mono: its processor must have 1 channel, got 2"):
        Chain(Processor(model, sample_rate=RATE, channels=2), RATE)


# ---- the Python API's bad arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(order=["gate", "model"]), ArgumentError, r"order leaves out eq, which is on"),
    (dict(order=["eq", "modle"]), ArgumentError, r"order\[1\] is 'modle', not a stage \(did you mean 'model'\?\)"),
    (dict(gate={"treshold_db": -60}), ConfigError, r"unknown key in gate: 'treshold_db' \(did you mean 'threshold_db'"),
    (dict(cabinet=42), ArgumentError, r"cabinet must be an IR file path"),
    (dict(max_block_size=0), ArgumentError, r"max_block_size must be a whole number from 1"),
])
def test_bad_chain_arguments_are_one_line(model, kwargs, error, pattern):
    with pytest.raises(error) as caught:
        Chain(model, RATE, **{"eq": EQ, **kwargs})
    assert "\n" not in str(caught.value) and re.search(pattern, str(caught.value)), str(caught.value)


def test_a_setter_for_a_stage_that_is_off_and_bad_values(model):
    chain = Chain(model, RATE, eq=EQ)
    with pytest.raises(ArgumentError, match=r"this chain has no gate stage \(its stages: model → eq\)"):
        chain.set_gate(threshold_db=-50)
    with pytest.raises(ArgumentError, match=r"this chain has no cabinet stage"):
        chain.set_cabinet_mix(0.5)
    with pytest.raises(ConfigError, match=r"eq\.bass_db must be from -20 to 20 dB, got 21$"):
        chain.set_eq(bass_db=21)
    with pytest.raises(ConfigError, match=r"eq\.treble_hz must be below the Nyquist frequency"):
        Chain(model, 44100, eq={"treble_hz": 30000})


# ---- the config's chain -------------------------------------------------------------------------------------------

def write_config(tmp_path, chain_text, name="live.yaml"):
    path = tmp_path / name
    path.write_text(f"model: {LSTM8}\nchain:\n{chain_text}")
    return path


def test_the_shipped_config_plays_gate_model_eq_cabinet():
    config = load_config(REPO / "configs/guitar.yaml")
    assert config.chain.order == STAGES
    assert config.chain.cabinet.ir == str(SHIPPED_IR) and config.chain.cabinet.mix == 1.0
    assert config.chain.eq == validate_flat() and config.chain.gate.threshold_db == -70
    chain = Chain.from_config(config, sample_rate=RATE)
    y = chain.process(guitar_like_signal(4800, RATE))
    assert np.all(np.isfinite(y)) and np.std(y) > 0


def validate_flat():
    from engine.dsp.settings import EqSettings

    return EqSettings()


def test_every_stage_key_is_read_and_the_ir_path_is_relative_to_the_config(tmp_path):
    (tmp_path / "irs").mkdir()
    (tmp_path / "irs" / "cab.wav").write_bytes(SHIPPED_IR.read_bytes())
    gate = {p.key: p.high for p in GATE_PARAMETERS}
    eq = {p.key: p.low for p in EQ_PARAMETERS}
    text = (f"  order: [gate, model, eq, cabinet]\n  gate: {gate}\n  eq: {eq}\n"
            f"  cabinet: {{ir: irs/cab.wav, mix: 0.25, level_db: -3, normalize: false}}\n")
    config = load_config(write_config(tmp_path, text))
    chain = config.chain
    assert chain.order == STAGES
    assert dataclasses.asdict(chain.gate) == {k: float(v) for k, v in gate.items()}
    assert dataclasses.asdict(chain.eq) == {k: float(v) for k, v in eq.items()}
    assert (chain.cabinet.ir, chain.cabinet.mix, chain.cabinet.level_db, chain.cabinet.normalize) == \
        (str(tmp_path / "irs" / "cab.wav"), 0.25, -3.0, False)
    built = Chain.from_config(config, sample_rate=RATE)
    assert built.order == chain.order and built.cabinet.mix == 0.25 and built.gate.settings == chain.gate


@pytest.mark.parametrize("text, expected", [
    ("  gate: true\n  eq: {}\n", ("gate", "model", "eq")),
    ("  gate: null\n  eq: false\n  cabinet: " + str(SHIPPED_IR) + "\n", ("model", "cabinet")),
    ("  order: [gate, model, eq, cabinet]\n  eq: {bass_db: 2}\n", ("model", "eq")),  # listed but off: skipped
    ("  {}\n", ("model",)),
])
def test_a_stage_is_on_with_settings_and_off_when_absent_null_or_false(tmp_path, text, expected):
    assert load_config(write_config(tmp_path, text)).chain.order == expected


BAD_CHAINS = [
    ("unknown-stage", "  reverb: {}\n", r"unknown key in chain: 'reverb'; valid keys: order, gate, eq, cabinet$"),
    ("unknown-stage-close", "  gaet: {}\n", r"unknown key in chain: 'gaet' \(did you mean 'gate'\?\)"),
    ("model-in-chain", "  model: amp.json\n", r"chain\.model is not a key: the model is the top-level model \(and "
                                                r"models\); chain holds the stages around it \(order, gate, eq, cabinet\)$"),
    ("gate-key", "  gate: {treshold_db: -60}\n",
     r"unknown key in chain\.gate: 'treshold_db' \(did you mean 'threshold_db'\?\); valid keys: threshold_db, "),
    ("eq-key", "  eq: {tremble_db: 3}\n", r"unknown key in chain\.eq: 'tremble_db' \(did you mean 'treble_db'\?\)"),
    ("cabinet-key", f"  cabinet: {{ir: {SHIPPED_IR}, levle_db: 0}}\n",
     r"unknown key in chain\.cabinet: 'levle_db' \(did you mean 'level_db'\?\); valid keys: ir, mix, level_db"),
    ("gate-range", "  gate: {threshold_db: 3}\n", r"chain\.gate\.threshold_db must be from -140 to 0 dBFS, got 3$"),
    ("gate-type", "  gate: {hold_ms: long}\n", r"chain\.gate\.hold_ms must be a number from 0 to 5000 ms, got 'long'$"),
    ("eq-range", "  eq: {bass_db: 25}\n", r"chain\.eq\.bass_db must be from -20 to 20 dB, got 25$"),
    ("eq-q", "  eq: {mid_q: 0}\n", r"chain\.eq\.mid_q must be from 0\.1 to 10, got 0$"),
    ("cabinet-mix", f"  cabinet: {{ir: {SHIPPED_IR}, mix: 1.5}}\n", r"chain\.cabinet\.mix must lie from 0 \(dry\) to 1"),
    ("cabinet-level", f"  cabinet: {{ir: {SHIPPED_IR}, level_db: 30}}\n",
     r"chain\.cabinet\.level_db must lie from -60 to 24 dB, got 30$"),
    ("cabinet-normalize", f"  cabinet: {{ir: {SHIPPED_IR}, normalize: 1}}\n",
     r"chain\.cabinet\.normalize must be true or false, got 1$"),
    ("cabinet-no-ir", "  cabinet: {mix: 1}\n", r"chain\.cabinet needs an ir key"),
    ("cabinet-true", "  cabinet: true\n", r"chain\.cabinet needs an ir"),
    ("cabinet-missing-file", "  cabinet: nowhere.wav\n", r"chain\.cabinet\.ir names 'nowhere\.wav', which does not exist"),
    ("cabinet-directory", "  cabinet: .\n", r"chain\.cabinet\.ir names '\.', which is a directory"),
    ("stage-not-a-mapping", "  eq: flat\n", r"chain\.eq must be a mapping of keys .* got 'flat'$"),
    ("chain-not-a-mapping", "  - gate\n", r"chain must be a mapping of stages \(order, gate, eq, cabinet\), got \['gate'\]$"),
    ("order-unknown", "  order: [gate, amp]\n  gate: {}\n",
     r"chain\.order\[1\] is 'amp', not a stage; stages: gate, model, eq, cabinet$"),
    ("order-close", "  order: [model, cabnet]\n", r"chain\.order\[1\] is 'cabnet', not a stage \(did you mean 'cabinet'\?\)"),
    ("order-twice", "  order: [model, eq, eq]\n  eq: {}\n", r"chain\.order lists eq twice"),
    ("order-no-model", "  order: [eq]\n  eq: {}\n", r"chain\.order leaves out model"),
    ("order-misses-a-stage", "  order: [model]\n  eq: {}\n", r"chain\.order leaves out eq, which is on"),
    ("order-not-the-default", "  order: [eq, model, gate]\n  eq: {}\n  gate: {}\n",
     r"chain\.order runs eq → model → gate; a config's stages run in the order gate → model → eq → cabinet "
     r"\(engine-live's\), so give them in that order or leave order out$"),
    ("order-cabinet-before-eq", "  order: [model, cabinet, eq]\n  eq: {}\n  cabinet: " + str(SHIPPED_IR) + "\n",
     r"chain\.order runs model → cabinet → eq; a config's stages run in the order"),
    ("order-not-a-list", "  order: gate model\n", r"chain\.order must be a list of stages like \[gate, model, eq, cabinet\]"),
]


@pytest.mark.parametrize("text, pattern", [c[1:] for c in BAD_CHAINS], ids=[c[0] for c in BAD_CHAINS])
def test_a_bad_chain_is_one_config_error_naming_the_key(tmp_path, text, pattern):
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < len(str(path)) + 400
    assert re.search(pattern, message), message


def test_an_eq_frequency_above_the_running_rates_nyquist_is_named_as_the_config_names_it(tmp_path):
    path = write_config(tmp_path, "  eq: {presence_hz: 30000}\n")
    config = load_config(path)  # valid at some rate: checked when the rate is known
    Chain.from_config(config, sample_rate=96000)
    with pytest.raises(ConfigError) as caught:
        Chain.from_config(config, sample_rate=48000)
    assert str(caught.value) == (f"{path}: chain.eq.presence_hz must be below the Nyquist frequency "
                                 f"(24000 Hz at 48000 Hz), got 30000")


def write_audio(path, samples, rate, subtype="FLOAT"):
    soundfile.write(str(path), samples, rate, subtype=subtype)


BAD_IRS = {
    "not-audio": (lambda p: p.write_text("this is a text file, not audio\n"), "not an audio file"),
    "empty": (lambda p: write_audio(p, np.zeros(0), 48000), "holds no audio"),
    "non-finite": (lambda p: write_audio(p, np.array([0.5, np.nan, 0.1]), 48000), "is nan"),
    "ten-minutes": (lambda p: write_audio(p, np.full(600 * 8000, 0.1), 8000, "PCM_16"), "longer than the 20 s"),
}


@pytest.mark.parametrize("case", list(BAD_IRS))
def test_a_bad_ir_file_is_one_line_naming_the_key_and_the_file(tmp_path, case):
    make, expected = BAD_IRS[case]
    make(tmp_path / "ir.wav")
    path = write_config(tmp_path, "  cabinet: ir.wav\n")
    config = load_config(path)  # the file exists: read when the chain is made
    with pytest.raises(AudioFileError) as caught:
        Chain.from_config(config, sample_rate=RATE)
    message = str(caught.value)
    assert message.startswith(f"{path}: chain.cabinet.ir ir.wav: ") and "\n" not in message, message
    assert expected in message, message


def test_chain_settings_made_by_hand_are_checked():
    with pytest.raises(ArgumentError, match=r"ChainSettings.order must list model and each stage that is on"):
        ChainSettings(order=("model", "eq"))
    with pytest.raises(ArgumentError, match=r"ChainSettings.gate must be a GateSettings"):
        ChainSettings(order=("gate", "model"), gate={"threshold_db": -60})
    settings = parse_chain({"cabinet": str(SHIPPED_IR)}).with_stage("gate", NoiseGate().settings)
    assert settings.order == ("gate", "model", "cabinet")
    assert settings.with_stage("eq", Equalizer().settings).order == ("gate", "model", "eq", "cabinet")
    assert settings.with_stage("gate", None).order == ("model", "cabinet")


# ---- configs/README.md documents what the code does ---------------------------------------------------------------

README = (REPO / "configs/README.md").read_text(encoding="utf-8")
SECTION = README.split("\n## The signal chain")[1].split("\n## ")[0]  # to the next section (MIDI)


def test_the_gate_and_eq_tables_are_the_codes():
    assert parameters_markdown(GATE_PARAMETERS) in SECTION.split("### `chain.gate`")[1]
    assert parameters_markdown(EQ_PARAMETERS) in SECTION.split("### `chain.eq`")[1]
    for key in CHAIN_KEYS + STAGES:
        assert f"`{key}`" in SECTION, key


def cabinet_rows():
    table = SECTION.split("### `chain.cabinet`")[1]
    rows = {}
    for line in table.splitlines():
        match = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if match:
            unit, default, allowed, _ = (cell.strip() for cell in match.group(2).split("|"))
            rows[match.group(1)] = {"unit": unit, "default": default, "allowed": allowed}
    return rows


def test_the_cabinet_table_is_the_codes(tmp_path):
    from engine.dsp.settings import CABINET_KEYS, validate_cabinet

    rows = cabinet_rows()
    assert tuple(rows) == CABINET_KEYS
    defaults = validate_cabinet(str(SHIPPED_IR), "doc.yaml", ".")
    assert rows["ir"]["default"] == "(required)"
    assert float(re.search(r"at most (\d+) s", rows["ir"]["allowed"]).group(1)) == MAX_IR_SECONDS
    assert float(rows["mix"]["default"]) == defaults.mix and float(rows["level_db"]["default"]) == defaults.level_db
    assert rows["normalize"]["default"] == str(defaults.normalize).lower()
    for key, (low, high) in {"mix": (0.0, 1.0), "level_db": (MIN_LEVEL_DB, MAX_LEVEL_DB)}.items():
        documented = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", rows[key]["allowed"])]
        assert documented == [low, high], (key, documented)
        for value, ok in ((low, True), (high, True), (low - 1e-6, False), (high + 1e-6, False)):
            try:
                validate_cabinet({"ir": str(SHIPPED_IR), key: value}, "doc.yaml", ".")
                accepted = True
            except ConfigError:
                accepted = False
            assert accepted == ok, (key, value)


def test_the_documented_example_is_a_valid_chain(tmp_path):
    example = re.search(r"```yaml\n(chain:\n.*?)```", SECTION, re.DOTALL).group(1)
    path = tmp_path / "configs" / "live.yaml"
    path.parent.mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "cabinet_4x12.wav").write_bytes(SHIPPED_IR.read_bytes())
    path.write_text(f"model: {LSTM8}\n{example}")
    assert load_config(path).chain.order == STAGES


# ---- engine-process renders what the Chain API gives --------------------------------------------------------------

def run_process(*args):
    return subprocess.run([sys.executable, "-m", "engine.cli_run", "process", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A stereo float WAV at 44.1 kHz, so the chain runs once per channel, at the file's rate."""
    path = tmp_path_factory.mktemp("audio") / "di.wav"
    left = guitar_like_signal(30000, 44100)
    write_audio(path, np.stack([left, 0.5 * left[::-1]], axis=1), 44100)
    return path


def assert_same_render(written, expected):
    """engine-process's file against the Chain API's output: equal within 1e-6.

    Not bit for bit: a kernel compiled cold (an empty numba cache) and the same kernel loaded
    from the cache give cabinet outputs up to 6e-8 apart (engine/dsp/convolver; seen with the
    Cabinet class alone), and the command and this test may be either. With a warm cache they
    are equal bit for bit.
    """
    np.testing.assert_allclose(written, expected, rtol=0, atol=1e-6)
    assert written.shape == expected.shape


def per_channel(chain_factory, audio):
    return np.stack([chain_factory().process(np.ascontiguousarray(audio[:, c])) for c in range(audio.shape[1])],
                    axis=1)


def test_engine_process_with_config_renders_the_configs_chain(tmp_path, source):
    config_path = write_config(tmp_path, f"  gate: {GATE}\n  eq: {EQ}\n  cabinet: {{ir: {SHIPPED_IR}, mix: 0.8}}\n")
    out = tmp_path / "out.wav"
    result = run_process(source, out, "--config", config_path)
    assert result.returncode == 0, result.stderr
    assert "chain: gate → model → eq → cabinet" in result.stdout
    audio, rate = soundfile.read(str(source), dtype="float32")
    config = load_config(config_path)
    expected = per_channel(lambda: Chain.from_config(config, sample_rate=rate), audio)
    written, _ = soundfile.read(str(out), dtype="float32")
    assert_same_render(written, expected)
    again = run_process(source, out, "--config", config_path)  # the output is never replaced without --force
    assert again.returncode == 1 and again.stderr.strip().endswith("already exists; pass --force to replace it")


def test_engine_process_stage_flags_give_what_the_chain_api_gives(tmp_path, source):
    out = tmp_path / "flags.wav"
    # A bass cut first ("-3,..."): argparse alone takes it for an option ("expected one argument").
    result = run_process(source, out, "--model", LSTM8, "--gate", "-50", "--eq", "-3,-2,1.5", "--ir", SHIPPED_IR)
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(source), dtype="float32")
    model = load_model(LSTM8)
    expected = per_channel(lambda: Chain(model, rate, gate={"threshold_db": -50},
                                         eq={"bass_db": -3, "mid_db": -2, "treble_db": 1.5}, cabinet=SHIPPED_IR), audio)
    written, _ = soundfile.read(str(out), dtype="float32")
    assert_same_render(written, expected)


def test_flags_change_the_configs_stages_and_model_overrides_its_model(tmp_path, source):
    config_path = write_config(tmp_path, "  eq: {mid_hz: 800, mid_q: 2}\n  gate: {hold_ms: 5}\n")
    out = tmp_path / "both.wav"
    other = REPO / "tests/fixtures/torch/gru_1x8_in1_skip0.guitarml.json"
    result = run_process(source, out, "--config", config_path, "--model", other, "--eq", "0,6,0,-3", "--gate", "-55",
                         "--quiet")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    audio, rate = soundfile.read(str(source), dtype="float32")
    model = load_model(other)
    expected = per_channel(lambda: Chain(model, rate, gate={"hold_ms": 5, "threshold_db": -55},
                                         eq={"mid_hz": 800, "mid_q": 2, "mid_db": 6, "presence_db": -3}), audio)
    assert_same_render(soundfile.read(str(out), dtype="float32")[0], expected)


@pytest.mark.parametrize("args, expected", [
    (["--model", LSTM8, "--eq", "3,2"], "argument --eq: expected BASS,MID,TREBLE or BASS,MID,TREBLE,PRESENCE in dB"),
    (["--model", LSTM8, "--eq", "30,0,0"], "--eq: eq.bass_db must be from -20 to 20 dB, got 30.0"),
    (["--model", LSTM8, "--gate", "loud"], "argument --gate: 'loud' is not a number of dB"),
    (["--model", LSTM8, "--gate", "3"], "--gate: gate.threshold_db must be from -140 to 0 dBFS, got 3.0"),
    (["--model", LSTM8, "--ir", "nowhere.wav"], "--ir nowhere.wav: does not exist"),
    (["--model", LSTM8, "--ir", "README.md"], "--ir README.md: not an audio file"),
    ([], "give --model PATH, or --config FILE"),
])
def test_engine_process_bad_stage_flags_are_one_line(tmp_path, source, args, expected):
    result = run_process(source, tmp_path / "o.wav", *args)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode in (1, 2) and expected in last, result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_engine_process_with_a_bad_ir_in_the_config_is_one_line(tmp_path, source):
    (tmp_path / "ir.wav").write_text("not audio")
    config_path = write_config(tmp_path, "  cabinet: ir.wav\n")
    result = run_process(source, tmp_path / "o.wav", "--config", config_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"engine-process: error: {config_path}: chain.cabinet.ir ir.wav: not an audio file")
    assert not (tmp_path / "o.wav").exists()


def test_engine_process_help_names_the_chain_flags_and_imports_neither_numpy_nor_numba():
    probe = ("import sys\nfrom engine import cli\ntry:\n    cli.process_main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('numpy', 'numba', 'yaml', 'soundfile') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    for flag in ("--config FILE", "--gate THRESHOLD_DB", "--eq BASS,MID,TREBLE[,PRESENCE]", "--ir PATH"):
        assert flag in result.stdout, flag


def test_engine_process_compensates_the_chains_latency_as_the_models(tmp_path):
    """With the model oversampled (latency L), the file lines up with the input: the Chain's output with its
    first L samples dropped and the last input's response flushed with silence."""
    source = tmp_path / "mono.wav"
    x = guitar_like_signal(9000, RATE)
    write_audio(source, x, RATE)
    out = tmp_path / "out.wav"
    result = run_process(source, out, "--model", LSTM8, "--oversample", "2", "--eq", "2,0,-2", "--ir", SHIPPED_IR)
    assert result.returncode == 0, result.stderr
    assert "compensated" in result.stdout and "chain: model → eq → cabinet" in result.stdout
    chain = Chain(load_model(LSTM8), RATE, eq={"bass_db": 2, "treble_db": -2}, cabinet=SHIPPED_IR, oversample=2)
    latency = chain.latency
    assert latency > 0
    expected = chain.process(np.concatenate([x, np.zeros(latency, np.float32)]))[latency:]
    assert_same_render(soundfile.read(str(out), dtype="float32")[0], expected)


def test_engine_bench_times_every_stage(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "engine.cli_run", "bench", "--sections", "chain", "--seconds", "0.1",
                             "--repeats", "1", "--json", str(out)], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    rows = __import__("json").loads(out.read_text())["sections"]["chain"]
    stages = [r["stage"] for r in rows]
    assert stages == ["gate", "model (LSTM-40)", "eq", "cabinet (shipped IR)", "cabinet (8192 taps)",
                      "sum of the stages", "chain (gate → model → eq → cabinet)"]
    assert all(r["ns_per_sample"] > 0 for r in rows)
    assert rows[4]["ir_taps"] == 8192 and rows[3]["ir_taps"] == len(load_ir(SHIPPED_IR, RATE).taps)
    assert rows[5]["ns_per_sample"] == pytest.approx(sum(rows[i]["ns_per_sample"] for i in (0, 1, 2, 3)))
    for stage in stages:
        assert stage in result.stdout


def test_the_live_chain_plays_what_the_chain_api_renders_for_the_shipped_config():
    """engine-live's compiled callback (engine.live.chain.LiveChain, run offline block by block) and engine.Chain
    give the same output for configs/guitar.yaml's chain (limiter off: the live path's only extra stage)."""
    from engine.live.chain import LiveChain, load_models

    config = load_config(REPO / "configs/guitar.yaml").replace(limiter=False, interpolation="linear")
    x = played_with_pauses(20000)
    live = LiveChain(config, load_models(config), RATE, 1, 2).render(x)
    offline = Chain.from_config(config, sample_rate=RATE).process(x)
    assert np.std(offline) > 0.01
    np.testing.assert_allclose(live[:, 0], offline, rtol=0, atol=1e-6)  # bit for bit here; see assert_same_render
    np.testing.assert_array_equal(live[:, 1], live[:, 0])
