"""The offline contract for NaN and infinity (Processor.process): the output is always finite and
the state is never left poisoned.

- A non-finite input sample is processed as 0 and counted; the samples after it are what the
  model makes of the input with that sample zeroed.
- A network that produces NaN or infinity (weights or gains near float32's limit) has that
  sample written as 0, and the channel restarts from its initial state: from the next sample it is
  a fresh processor.
- An output the output gain pushes past float32 is written as 0, and nothing is reset.
"""

import numpy as np
import pytest

from engine import Processor
from engine.testing import exploding_model, guitar_like_signal, random_model

RATE = 48000.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_input_sample_is_processed_as_silence(bad):
    model = random_model("lstm", hidden=16, seed=3)
    x = guitar_like_signal(4096)
    poisoned = x.copy()
    poisoned[1000] = bad
    processor = Processor(model, sample_rate=RATE, interpolation="cubic")
    y = processor.process(poisoned)
    assert np.all(np.isfinite(y))
    zeroed = x.copy()
    zeroed[1000] = 0
    np.testing.assert_array_equal(y, Processor(model, sample_rate=RATE, interpolation="cubic").process(zeroed))
    assert processor.repairs == {"non_finite_input": 1, "non_finite_output": 0, "state_resets": 0}


def test_an_input_the_input_gain_overflows_is_processed_as_silence():
    model = random_model("gru", hidden=8, input_gain_db=80.0)  # ×10⁴: 1e36 becomes inf
    x = np.full(64, 0.1, np.float32)
    x[10] = 1e36
    processor = Processor(model, sample_rate=RATE)
    y = processor.process(x)
    assert np.all(np.isfinite(y)) and processor.repairs["non_finite_input"] == 1


def test_nan_made_by_the_network_is_muted_and_the_channel_restarts_fresh():
    model = exploding_model()
    x = np.zeros(2048, np.float32)
    x[512:1024] = 0.9  # drives the state up until the head overflows
    processor = Processor(model, sample_rate=RATE)
    y = np.empty_like(x)
    first = None
    for i in range(len(x)):  # one sample per call, to find where the guard acted
        processor.process(x[i:i + 1], out=y[i:i + 1])
        if first is None and processor.repairs["state_resets"]:
            first = i
    assert first is not None, "the model must really produce NaN for this test to mean anything"
    assert np.all(np.isfinite(y))
    assert y[first] == 0
    # From the sample after the reset on, exactly what a fresh processor makes of the rest.
    fresh = Processor(model, sample_rate=RATE).process(x[first + 1:])
    following = processor.repairs["state_resets"]
    if following == 1:
        np.testing.assert_array_equal(y[first + 1:], fresh)
    else:  # the same input drives it up again: still fresh up to the next reset
        stop = np.flatnonzero(y[first + 1:] == 0)
        assert np.array_equal(y[first + 1:first + 1 + stop[0]], fresh[:stop[0]])


def test_the_guard_is_block_size_invariant():
    model = exploding_model()
    x = np.zeros(3000, np.float32)
    x[500:1500] = 0.9
    x[200] = np.nan
    whole = Processor(model, sample_rate=RATE).process(x)
    for block in (1, 7, 64, 129):
        processor = Processor(model, sample_rate=RATE, max_block_size=block)
        parts = np.concatenate([processor.process(x[i:i + block]) for i in range(0, len(x), block)])
        np.testing.assert_array_equal(parts, whole)


def test_an_output_gain_overflow_is_muted_without_a_reset():
    # ×3.2e38 on (network + input) with the input at 2: every output overflows float32.
    model = random_model("lstm", hidden=8, output_gain_db=770.0, skip=True, seed=1)
    processor = Processor(model, sample_rate=RATE)
    y = processor.process(np.full(512, 2.0, np.float32))
    assert np.all(np.isfinite(y))
    repairs = processor.repairs
    assert repairs["non_finite_output"] > 0 and repairs["state_resets"] == 0


def test_one_channel_s_nan_leaves_the_other_channel_alone():
    model = random_model("lstm", hidden=16, seed=5)
    x = np.stack([guitar_like_signal(2048), guitar_like_signal(2048, seed=1)], axis=1)
    poisoned = x.copy()
    poisoned[100, 0] = np.nan
    y = Processor(model, sample_rate=RATE, channels=2).process(poisoned)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[:, 1], Processor(model, sample_rate=RATE).process(np.ascontiguousarray(x[:, 1])))
