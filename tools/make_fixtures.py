#!/usr/bin/env python3
"""Generate the project's PyTorch reference fixtures: tests/fixtures/torch/.

A grid of random LSTM/GRU SimpleRNN models (every cell, depth 1-3, hidden size 8-64, skip on and
off, 1-3 inputs) is built with fixed seeds, run in PyTorch over one shared guitar-like test
signal from zero state, and exported with tools/export_torch.py to every format that can hold
each model. The test suite (tests/test_torch_export.py) loads every file with the engine and
requires its output to match PyTorch's within 1e-5 at every sample.

Written files: ``input.npy`` (float32 audio, shared), ``<model>.output.npy`` (float32, PyTorch's
output), one file per format and model, and ``manifest.json`` describing them. Re-running
overwrites these and deletes files an earlier manifest listed that the grid no longer makes;
nothing else in the folder is touched.

Usage::

    python tools/make_fixtures.py [--out DIR]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch  # noqa: E402  (a sibling script, not an installed package)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "torch")

SAMPLE_RATE = 44100
NUM_SAMPLES = 44100          # 1 s
SIGNAL_SEED = 20240611
TOLERANCE = 1e-5             # what the test requires, recorded in the manifest
TARGET_STD = 0.2             # the network's own output level (before the skip) after head scaling

#: Constant knob values for conditioned models: channel 1 gets 0.25, channel 2 gets 0.75
#: (both exact in float32, so the engine and PyTorch see identical inputs).
CONTROL_VALUES = (0.25, 0.75)

#: (cell, num_layers, hidden_size, skip, input_size). Every depth, input count and skip value
#: appears for both cells; hidden sizes 8, 16, 40 and 64 all appear. Sizes stay small except where
#: an axis value needs them, because every file is committed (10 models ≈ 3 MB, of which the
#: 176 kB outputs are two thirds); hidden 40 and 64 appear once each, as single layers.
GRID = (
    ("lstm", 1, 8, 0, 1),
    ("lstm", 1, 40, 1, 1),    # the classic Proteus / GuitarML shape
    ("lstm", 2, 16, 0, 1),
    ("lstm", 3, 8, 0, 1),
    ("lstm", 1, 16, 1, 2),    # NeuralPi-like: audio + gain
    ("lstm", 2, 8, 1, 3),     # TS-M1N3-like inputs: audio + drive + tone
    ("gru", 1, 8, 0, 1),
    ("gru", 1, 64, 1, 1),
    ("gru", 2, 16, 0, 2),
    ("gru", 3, 16, 0, 3),
)


def guitar_signal(num_samples=NUM_SAMPLES, sample_rate=SAMPLE_RATE, seed=SIGNAL_SEED):
    """A deterministic guitar-like test signal: four plucked notes over a little noise.

    Each note is 12 slightly inharmonic partials (string stiffness) with amplitudes ~k^-1.2 that
    decay faster the higher they are, plus a 5 ms noise burst for the pick attack. The signal
    starts with 20 ms of near-silence so the reference also covers the zero-input response.

    Parameters
    ----------
    num_samples : int
    sample_rate : float
        Hz.
    seed : int
        Seeds the phases and the noise.

    Returns
    -------
    numpy.ndarray
        float32 (num_samples,), peak 0.5 before the noise floor (~-54 dBFS) is added.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / sample_rate
    signal = np.zeros(num_samples)
    for start, f0, level in ((0.02, 82.41, 1.0), (0.27, 110.0, 0.8), (0.52, 146.83, 0.9), (0.74, 196.0, 0.7)):
        first = int(start * sample_rate)
        tt = t[: num_samples - first]
        note = np.zeros_like(tt)
        for k in range(1, 13):
            frequency = k * f0 * np.sqrt(1.0 + 1e-4 * k * k)
            note += k ** -1.2 * np.exp(-tt * (3.0 + 1.5 * k)) * np.sin(2 * np.pi * frequency * tt + rng.uniform(0, 2 * np.pi))
        burst = int(0.005 * sample_rate)
        note[:burst] += 0.3 * rng.standard_normal(burst) * np.exp(-np.arange(burst) / (0.001 * sample_rate))
        signal[first:] += level * note
    signal *= 0.5 / np.max(np.abs(signal))
    signal += 2e-3 * rng.standard_normal(num_samples)
    return signal.astype(np.float32)


def model_name(cell, num_layers, hidden_size, skip, input_size):
    """The file stem of a grid model, e.g. ``lstm_2x16_in1_skip0``."""
    return f"{cell}_{num_layers}x{hidden_size}_in{input_size}_skip{skip}"


def normalise_head(module, audio, controls):
    """Rescale the head so the network's own output has std TARGET_STD and zero mean on ``audio``.

    Random networks differ in level by 30 dB; equal levels make every fixture's 1e-5 tolerance
    mean the same thing relative to the signal.
    """
    skip, module.skip = module.skip, 0
    raw = export_torch.forward_numpy(module, audio, controls).astype(np.float64)
    module.skip = skip
    with torch.no_grad():
        gain = TARGET_STD / raw.std()
        module.lin.weight.mul_(gain)
        module.lin.bias.sub_(torch.tensor(raw.mean() * gain, dtype=torch.float32))


def _write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, np.float32))


def main(argv=None):
    """Build, run and export the grid; returns the exit status."""
    parser = argparse.ArgumentParser(description="Generate tests/fixtures/torch/ (PyTorch reference outputs "
                                                 "and exported model files).")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    args = parser.parse_args(argv)
    out = args.out
    os.makedirs(out, exist_ok=True)

    # One thread and deterministic kernels: the reference must not depend on the machine's scheduling.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    written = []

    def record(filename):
        written.append(filename)
        path = os.path.join(out, filename)
        print(f"  wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path):,} bytes)")

    audio = guitar_signal()
    _write_npy(os.path.join(out, "input.npy"), audio)
    print(f"input: {NUM_SAMPLES} samples at {SAMPLE_RATE} Hz, peak {np.abs(audio).max():.3f}, std {audio.std():.3f}")
    record("input.npy")

    models = []
    for index, (cell, num_layers, hidden_size, skip, input_size) in enumerate(GRID):
        name = model_name(cell, num_layers, hidden_size, skip, input_size)
        seed = 1000 + index
        controls = list(CONTROL_VALUES[: input_size - 1])
        module = export_torch.make_demo_model(cell, input_size, hidden_size, num_layers, skip, seed)
        normalise_head(module, audio, controls)
        expected = export_torch.forward_numpy(module, audio, controls)
        if not np.all(np.isfinite(expected)):
            raise RuntimeError(f"{name}: PyTorch output is not finite")
        parameters = sum(p.numel() for p in module.parameters())
        print(f"{name}: {parameters:,} parameters, seed {seed}, controls {controls}, "
              f"output std {expected.std():.3f}, peak {np.abs(expected).max():.3f}")
        output_file = f"{name}.output.npy"
        _write_npy(os.path.join(out, output_file), expected)
        record(output_file)
        files = {}
        for fmt in export_torch.supported_formats(module):
            filename = name + export_torch.SUFFIXES[fmt]
            export_torch.export(module, os.path.join(out, filename), fmt, sample_rate=SAMPLE_RATE)
            record(filename)
            files[fmt] = filename
        models.append({
            "name": name, "cell": cell, "num_layers": num_layers, "hidden_size": hidden_size,
            "skip": skip, "input_size": input_size, "controls": controls, "seed": seed,
            "parameters": parameters, "output": output_file, "files": files,
        })

    manifest_path = os.path.join(out, "manifest.json")
    previous = _listed_files(manifest_path)
    manifest = {
        "generator": "tools/make_fixtures.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "sample_rate": SAMPLE_RATE,
        "input": "input.npy",
        "num_samples": NUM_SAMPLES,
        "tolerance": TOLERANCE,
        "description": "PyTorch SimpleRNN models (lin(rec(x)[0]) + skip·audio) run from zero state over input.npy "
                       "with constant controls in channels 1..; each model exported to every format that can hold it.",
        "models": models,
    }
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    record("manifest.json")

    # Files an older grid produced and this one did not: ours to remove, nothing else is.
    for filename in sorted(previous - set(written)):
        path = os.path.join(out, filename)
        if os.path.isfile(path):
            os.remove(path)
            print(f"  removed stale {os.path.relpath(path, ROOT)}")

    total = sum(os.path.getsize(os.path.join(out, filename)) for filename in written)
    print(f"{len(models)} models, {len(written)} files, {total / 1e6:.2f} MB in {os.path.relpath(out, ROOT)}")
    return 0


def _listed_files(manifest_path):
    """Every file an existing manifest says this script wrote (empty if there is none)."""
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return set()
    names = {"manifest.json", manifest.get("input", "input.npy")}
    for model in manifest.get("models", []):
        names.add(model.get("output"))
        names.update(model.get("files", {}).values())
    # Only plain file names in this folder, however the manifest was edited.
    return {name for name in names if isinstance(name, str) and name and os.path.basename(name) == name}


if __name__ == "__main__":
    sys.exit(main())
