"""Below the training rate over many models: whatever the engine lets run stays finite and bounded."""

import glob
import warnings

import numpy as np
import pytest

import engine
from conftest import REPO, guitar_like_signal
from engine.evaluate import behaviour
from models import random_model

MODEL_RATE = 48000.0
RUN_RATE = 44100.0


def population(shared):
    files = sorted(glob.glob(str(shared / "*" / "*.json")) + glob.glob(str(shared / "*" / "*.nam"))
                   + glob.glob(str(REPO / "tests/fixtures/torch/*.guitarml.json")))
    models = [(path.rsplit("/", 1)[-1], engine.load_model(path, sample_rate=MODEL_RATE)) for path in files]
    for index, (cell, hidden, scale) in enumerate([(c, h, s) for s in (1, 2) for c in ("lstm", "gru") for h in (8, 16)]):
        model = random_model(cell, hidden=hidden, seed=200 + index, sample_rate=MODEL_RATE)
        layer = model.layers[0]
        object.__setattr__(layer, "weight_hh", (scale * layer.weight_hh).astype(np.float32))
        models.append((f"random-{cell}-{hidden}-x{scale}", model))
    return models


def test_every_method_the_engine_lets_run_stays_finite_and_bounded(shared_fixtures):
    models = population(shared_fixtures)
    assert len(models) >= 20
    x = 2 * guitar_like_signal(int(0.25 * RUN_RATE), RUN_RATE, seed=8)
    failures, fallbacks = [], 0
    for name, model in models:
        for method in ("linear", "cubic", "lagrange5"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", engine.StabilityWarning)
                processor = engine.Processor(model, sample_rate=RUN_RATE, interpolation=method)
            fallbacks += processor.interpolation != method
            assert len(caught) == (processor.interpolation != method)  # said once, exactly when it falls back
            if model.num_controls:
                processor.set_controls([0.5] * model.num_controls)
            seen = behaviour(processor, x)
            if not (seen["finite"] and seen["peak"] < 100):
                failures.append((name, method, processor.interpolation, seen))
    assert not failures, failures
