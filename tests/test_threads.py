"""Channels on several threads give bit-identical output; the kernels release the GIL and never
compile on the audio path."""

import numpy as np
import pytest

import engine
from conftest import guitar_like_signal
from engine import kernels
from engine.errors import ArgumentError
from engine.testing import random_model


def stereo(n, rate, channels=2):
    return np.stack([guitar_like_signal(n, rate, seed=c) * (1 + c) for c in range(channels)], axis=1)


@pytest.mark.parametrize("channels,threads", [(2, 2), (3, 2), (4, 3)])
def test_threaded_channels_are_bit_identical_to_one_thread(channels, threads):
    model = random_model("lstm", hidden=24, layers=2, controls=1, seed=4)
    x = stereo(6000, 48000, channels)
    single = engine.Processor(model, sample_rate=48000, channels=channels)
    threaded = engine.Processor(model, sample_rate=48000, channels=channels, threads=threads)
    assert threaded.threads == threads
    for p in (single, threaded):
        p.set_controls([0.2])
    outputs = []
    for p in (single, threaded):
        blocks = [p.process(x[:1000])]
        p.set_controls([0.9])  # a ramp inside the next call
        blocks += [p.process(x[i:i + 700]) for i in range(1000, 5200, 700)]
        blocks += [p.process(x[i:i + 100]) for i in range(5200, len(x), 100)]  # short: on the calling thread
        outputs.append(np.concatenate(blocks))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert np.std(outputs[0]) > 1e-3
    threaded.close()
    threaded.reset()
    single.reset()
    np.testing.assert_array_equal(threaded.process(x), single.process(x))  # closed: one thread again


def test_threads_are_capped_at_the_channel_count_and_validated():
    model = random_model("gru", hidden=8)
    assert engine.Processor(model, sample_rate=48000, threads=4).threads == 1
    assert engine.Processor(model, sample_rate=48000, channels=2, threads=8).threads == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ArgumentError, match="threads must be a whole number ≥ 1"):
            engine.Processor(model, sample_rate=48000, threads=bad)


def test_the_block_kernel_releases_the_gil_and_has_one_signature():
    assert kernels.process_block.targetoptions["nogil"] is True
    model = random_model("lstm", hidden=8)
    processor = engine.Processor(model, sample_rate=48000)
    x = guitar_like_signal(512, 48000)
    expected = processor.process(x)
    # Arrays numba types differently from a writeable, contiguous, aligned float32 vector: the
    # processor copies them rather than let the kernel compile a variant on the audio path.
    read_only = x.copy()
    read_only.setflags(write=False)
    strided = np.repeat(x, 2)[::2]
    unaligned = np.frombuffer(b"\0" + x.tobytes(), np.float32, len(x), 1)
    for variant in (read_only, strided, unaligned):
        processor.reset()
        np.testing.assert_array_equal(processor.process(variant), expected)
    out = np.frombuffer(bytearray(4 * len(x) + 1), np.float32, len(x), 1)
    processor.reset()
    np.testing.assert_array_equal(processor.process(x, out=out), expected)
    assert len(kernels.process_block.signatures) == 1
