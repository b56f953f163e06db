"""The engine against PyTorch: committed reference fixtures, and fresh exports when torch is installed.

``tests/fixtures/torch/`` is made by ``tools/make_fixtures.py``: random SimpleRNN models run by
PyTorch over a shared 1 s guitar-like signal from zero state, each exported to every format that
can hold it. The first tests need only numpy and the engine; the rest build new models with
``tools/export_torch.py`` and need torch (CI installs it; ``importorskip`` keeps local runs
without torch green).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import engine

FIXTURES = Path(__file__).parent / "fixtures" / "torch"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
AUDIO = np.load(FIXTURES / MANIFEST["input"])
TOLERANCE = 1e-6

# Which formats can hold which model (FORMATS.md): state-dict files have no skip flag; NAM's LSTM
# takes audio only and has no skip.
ALL_FORMATS = ("guitarml", "state-dict", "aida-x", "nam")


def expected_formats(cell, skip, input_size):
    """The formats a model of this kind must be exported to."""
    return tuple(fmt for fmt in ALL_FORMATS
                 if not (fmt == "state-dict" and skip)
                 and not (fmt == "nam" and (cell != "lstm" or skip or input_size != 1)))


def run_engine(path, controls, audio=AUDIO):
    """Load a model file and process ``audio`` at the model's own rate (R = 1), from reset state."""
    model = engine.load_model(path)
    processor = engine.Processor(model, sample_rate=model.sample_rate)
    if controls:
        processor.set_controls(controls)
    return model, processor.process(audio)


def assert_close(actual, expected, what):
    """Every sample within TOLERANCE; the message names the worst sample."""
    assert actual.shape == expected.shape and actual.dtype == np.float32
    error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    worst = int(np.argmax(error))
    assert error[worst] <= TOLERANCE, (
        f"{what}: max |engine − torch| = {error[worst]:.3g} at sample {worst} "
        f"(engine {actual[worst]:.7g}, torch {expected[worst]:.7g}); tolerance {TOLERANCE}"
    )


def assert_structure(model, cell, num_layers, hidden_size, input_size, skip):
    recurrent = model.recurrent_layers
    assert [layer.cell for layer in recurrent] == [cell] * num_layers
    assert [layer.hidden_size for layer in recurrent] == [hidden_size] * num_layers
    assert model.num_controls == input_size - 1
    assert model.skip == bool(skip)


# -- committed fixtures (no torch needed) ------------------------------------------------------

CASES = [(entry, fmt) for entry in MANIFEST["models"] for fmt in entry["files"]]


@pytest.mark.parametrize("entry, fmt", CASES, ids=[f"{entry['name']}-{fmt}" for entry, fmt in CASES])
def test_fixture_matches_torch(entry, fmt):
    model, output = run_engine(FIXTURES / entry["files"][fmt], entry["controls"])
    assert_structure(model, entry["cell"], entry["num_layers"], entry["hidden_size"], entry["input_size"], entry["skip"])
    assert model.sample_rate == MANIFEST["sample_rate"]
    expected = np.load(FIXTURES / entry["output"])
    assert expected.shape == AUDIO.shape
    assert_close(output, expected, f"{entry['name']} ({fmt})")


def test_fixture_grid_covers_every_axis():
    """The fixtures keep covering what they claim, however the grid is edited."""
    models = MANIFEST["models"]
    assert AUDIO.dtype == np.float32 and AUDIO.size >= 44100 == MANIFEST["sample_rate"]
    assert 0.3 < np.abs(AUDIO).max() <= 1.0
    for cell in ("lstm", "gru"):
        mine = [entry for entry in models if entry["cell"] == cell]
        assert {entry["num_layers"] for entry in mine} == {1, 2, 3}, cell
        assert {entry["input_size"] for entry in mine} == {1, 2, 3}, cell
        assert {entry["skip"] for entry in mine} == {0, 1}, cell
    assert {8, 16, 40, 64} <= {entry["hidden_size"] for entry in models}
    for entry in models:
        assert tuple(entry["files"]) == expected_formats(entry["cell"], entry["skip"], entry["input_size"]), entry["name"]
        assert len(entry["controls"]) == entry["input_size"] - 1
        output = np.load(FIXTURES / entry["output"])
        assert output.dtype == np.float32 and np.all(np.isfinite(output))
        assert output.std() > 0.05, f"{entry['name']}: the reference is nearly silent"
    assert any("nam" in entry["files"] for entry in models)


# -- fresh exports (torch) ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def export_torch():
    """tools/export_torch.py (it imports torch)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # per-sample recurrences are too small to gain from threads
    from tools import export_torch as module

    return module


# (cell, num_layers, hidden_size, skip, input_size, controls): sizes unlike the fixtures',
# controls not exactly representable in binary.
FRESH = (
    ("lstm", 2, 12, 0, 1, ()),
    ("gru", 2, 10, 0, 1, ()),
    ("gru", 1, 20, 1, 2, (0.6,)),
    ("lstm", 1, 24, 1, 3, (0.1, 0.9)),
)


@pytest.mark.parametrize("config", FRESH, ids=["-".join(map(str, config[:5])) for config in FRESH])
def test_fresh_export_matches_torch(export_torch, tmp_path, config):
    cell, num_layers, hidden_size, skip, input_size, controls = config
    module = export_torch.make_demo_model(cell, input_size, hidden_size, num_layers, skip, seed=hidden_size)
    expected = export_torch.forward_numpy(module, AUDIO, controls)
    assert expected.std() > 0.02, "the demo model should not be silent"
    formats = export_torch.supported_formats(module)
    assert formats == expected_formats(cell, skip, input_size)
    for fmt in formats:
        path = export_torch.export(module, tmp_path / f"model{export_torch.SUFFIXES[fmt]}", fmt, sample_rate=44100)
        model, output = run_engine(path, controls)
        assert_structure(model, cell, num_layers, hidden_size, input_size, skip)
        assert_close(output, expected, f"fresh {cell} {num_layers}x{hidden_size} ({fmt})")


def test_export_writes_float32_weights_exactly(export_torch, tmp_path):
    """Shortest-decimal writing loses nothing: every format reads back the module's float32 weights."""
    import torch

    for cell in ("lstm", "gru"):
        module = export_torch.make_demo_model(cell, 1, 9, 2, 0, seed=7)
        with torch.no_grad():  # awkward values: subnormal, near the largest float32, smallest normal, negative zero
            module.rec.weight_hh_l1[0, :4] = torch.tensor([1e-38, -3.4e38, 1.17549435e-38, -0.0])
        state = {name: value.detach().numpy() for name, value in module.rec.state_dict().items()}
        for fmt in export_torch.supported_formats(module):
            model = engine.load_model(export_torch.export(module, tmp_path / f"{cell}-{fmt}.json", fmt))
            for index, layer in enumerate(model.recurrent_layers):
                for name in ("weight_ih", "weight_hh"):
                    np.testing.assert_array_equal(getattr(layer, name), state[f"{name}_l{index}"], err_msg=f"{cell} {fmt} {name}_l{index}")
                # LSTM formats may store only b_ih + b_hh (Keras, NAM); the sum is what the cell uses.
                if cell == "lstm":
                    np.testing.assert_array_equal(layer.bias_ih + layer.bias_hh,
                                                  state[f"bias_ih_l{index}"] + state[f"bias_hh_l{index}"])
                else:
                    np.testing.assert_array_equal(layer.bias_ih, state[f"bias_ih_l{index}"])
                    np.testing.assert_array_equal(layer.bias_hh, state[f"bias_hh_l{index}"])
            np.testing.assert_array_equal(model.layers[-1].weight, module.lin.weight.detach().numpy())


@pytest.mark.parametrize("cell, skip, input_size, fmt, message", [
    ("gru", 0, 1, "nam", "LSTM only"),
    ("lstm", 1, 1, "nam", "no skip connection"),
    ("lstm", 0, 2, "nam", "input_size 2"),
    ("lstm", 1, 1, "state-dict", "no place for the skip"),
    ("lstm", 0, 1, "onnx", "unknown format"),
])
def test_export_refuses_what_a_format_cannot_hold(export_torch, tmp_path, cell, skip, input_size, fmt, message):
    module = export_torch.SimpleRNN(cell, input_size, 4, 1, skip)
    with pytest.raises(ValueError, match=message):
        export_torch.export(module, tmp_path / "x.json", fmt)
    assert not (tmp_path / "x.json").exists()


def test_export_refuses_modules_outside_the_layout(export_torch, tmp_path):
    import torch

    module = export_torch.SimpleRNN("lstm", 1, 4, 1, 0)
    with pytest.raises(ValueError, match="skip must be 0 or 1"):
        export_torch.export(module, tmp_path / "x.json", "guitarml", skip=2)
    module.rec = torch.nn.RNN(1, 4, batch_first=True)
    with pytest.raises(ValueError, match="nn.LSTM or nn.GRU"):
        export_torch.export(module, tmp_path / "x.json", "guitarml")
    bare = torch.nn.Module()
    bare.rec, bare.lin = torch.nn.GRU(1, 4, batch_first=True), torch.nn.Linear(4, 1)
    with pytest.raises(ValueError, match="pass skip=0 or skip=1"):
        export_torch.export(bare, tmp_path / "x.json", "aida-x")
    bare.lin = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"Linear\(4, 1\)"):
        export_torch.export(bare, tmp_path / "x.json", "aida-x", skip=0)


def test_export_records_or_warns_about_the_sample_rate(export_torch, tmp_path):
    module = export_torch.SimpleRNN("lstm", 1, 4, 1, 0)
    for fmt in ("aida-x", "nam"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = engine.load_model(export_torch.export(module, tmp_path / f"m.{fmt}", fmt, sample_rate=48000))
        assert (model.sample_rate, model.sample_rate_source) == (48000.0, "file")
    with pytest.warns(UserWarning, match="store no sample rate"):
        export_torch.export(module, tmp_path / "m.json", "guitarml", sample_rate=48000)


def test_cli(export_torch, tmp_path, capsys):
    import torch

    out = tmp_path / "demo.aidax.json"
    assert export_torch.main(["--demo", "gru", "--input-size", "2", "-f", "aida-x", "-o", str(out)]) == 0
    model = engine.load_model(out)
    assert model.recurrent_layers[0].cell == "gru" and model.num_controls == 1 and model.skip
    assert export_torch.main(["--demo", "gru", "-f", "nam", "-o", str(tmp_path / "x.nam")]) == 2
    assert "LSTM only" in capsys.readouterr().err

    # A plain state_dict saved with torch.save round-trips through the CLI.
    module = export_torch.make_demo_model("lstm", 1, 6, 2, 1, seed=3)
    torch.save(module.state_dict(), tmp_path / "model.pt")
    out = tmp_path / "model.json"
    assert export_torch.main([str(tmp_path / "model.pt"), "--skip", "1", "-f", "guitarml", "-o", str(out)]) == 0
    _, output = run_engine(out, ())
    assert_close(output, export_torch.forward_numpy(module, AUDIO), "CLI state_dict export")
    capsys.readouterr()
    assert export_torch.main([str(tmp_path / "model.pt"), "-f", "guitarml", "-o", str(out)]) == 2
    assert "pass --skip 0 or --skip 1" in capsys.readouterr().err

    # A whole pickled module is refused unless the user vouches for the file.
    torch.save(module, tmp_path / "whole.pt")
    assert export_torch.main([str(tmp_path / "whole.pt"), "-f", "nam", "-o", str(tmp_path / "w.nam")]) == 2
    assert "--allow-pickle" in capsys.readouterr().err
