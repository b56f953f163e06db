"""The live signal chain, without any audio device: models, switching, bypass, gains, safety, limiter.

LiveChain owns every buffer the audio callback touches and does one jitted call per block
(mixer.live_block). It is what the live session runs inside its stream callback, and what the
tests and ``engine-live --virtual`` run offline to check the live path sample for sample.

Threads: ``process`` runs on the audio thread; ``select_model`` and ``set_bypass`` run on the
main thread and only post a request (one attribute assignment, atomic under the GIL) that
``process`` applies at the next block boundary.
"""

import math
import os

import numpy as np

from . import mixer
from ..errors import ConfigError
from ..formats import load_model
from ..processor import Processor, knob_values

LIMITER_CEILING_DB = -0.3
LIMITER_RELEASE_MS = 50.0


def load_models(config):
    """Load every model a LiveConfig names, checking its control values.

    Returns
    -------
    list of Model

    Raises
    ------
    ModelFileError, SampleRateError
        If a model cannot be loaded.
    ConfigError
        If a model's ``controls`` list has the wrong length for it.
    """
    models = []
    for index, entry in enumerate(config.models):
        model = load_model(entry.path, sample_rate=entry.model_rate)
        key = "model" if index == 0 else f"models[{index - 1}]"
        if len(entry.controls) not in (0, model.num_controls):
            raise ConfigError(f"{config.source}: {key} {os.path.basename(entry.path)} takes {model.num_controls} "
                              f"control value(s), but its controls list has {len(entry.controls)}")
        models.append(model)
    return models


class LiveChain:
    """Everything between the interface's input and output, prepared for one rate and block size.

    Parameters
    ----------
    config : LiveConfig
    models : list of Model
        As from :func:`load_models`, one per ``config.models`` entry.
    sample_rate : float
    in_channels, out_channels : int
        Channels of the device buffers ``process`` receives.

    Raises
    ------
    SampleRateError
        If a model cannot run at ``sample_rate``.
    """

    def __init__(self, config, models, sample_rate, in_channels, out_channels):
        self.config = config
        self.sample_rate = float(sample_rate)
        self.block_size = block = config.block_size
        self.processors = []
        for entry, model in zip(config.models, models):
            self.processors.append(Processor(model, sample_rate=self.sample_rate, interpolation=config.interpolation,
                                             max_block_size=block, controls=knob_values(model, entry.controls or None)))
        self._x = np.zeros((block, 1), np.float32)
        self._ya = np.zeros((block, 1), np.float32)
        self._yb = np.zeros((block, 1), np.float32)
        self._in_index = config.input_channel - 1
        self._out_channels = np.array([c - 1 for c in config.output_channels], np.int64)
        self._mix = np.zeros(mixer.MIX_SIZE, np.float32)
        self._levels = np.zeros(2, np.float32)
        self._counters = np.zeros(mixer.COUNTERS_SIZE, np.int64)
        self._input_gain = np.float32(10 ** (config.input_gain_db / 20))
        self._output_gain = np.float32(10 ** (config.output_gain_db / 20))
        self._limiter_on = bool(config.limiter)
        self.ceiling = np.float32(10 ** (LIMITER_CEILING_DB / 20))
        self._release = np.float32(1 - math.exp(-1 / (LIMITER_RELEASE_MS * 1e-3 * self.sample_rate)))
        self.crossfade_samples = max(1, round(config.crossfade_ms * 1e-3 * self.sample_rate))
        # Compile (or load from cache) live_block for the exact types the callback passes, through
        # every model, then put everything back to the start.
        warm_in = np.zeros((block, in_channels), np.float32)
        warm_out = np.zeros((block, out_channels), np.float32)
        for processor in self.processors:
            slot = processor.kernel_slot()
            mixer.live_block(warm_in, warm_out, self._in_index, self._out_channels, self._x, self._ya, self._yb,
                               slot, slot, True, self._mix, self._levels, self._counters, self._input_gain,
                               self._output_gain, self._limiter_on, self.ceiling, self._release)
        self.reset()

    def reset(self):
        """Back to model 1, not bypassed, every state and counter cleared."""
        for processor in self.processors:
            processor.reset()
        self.current = 0
        self.incoming = None
        self._slot_a = self._slot_b = self.processors[0].kernel_slot()
        self._fading = False
        self.bypassed = False
        self._request = None
        self.changes = 0  # model switches and bypass toggles applied since reset
        self._mix[:] = 0
        self._mix[mixer.MIX_GAIN_A] = self._mix[mixer.MIX_TARGET_A] = 1
        self._mix[mixer.MIX_STEP] = 1 / self.crossfade_samples
        self._mix[mixer.MIX_LIMITER_GAIN] = 1
        self._counters[:] = 0
        self._levels[:] = 0

    # -- audio thread --------------------------------------------------------------------------

    def process(self, indata, outdata):
        """Process one block: indata (n, in_channels) → outdata (n, out_channels), float32, n ≤ block_size."""
        request, self._request = self._request, None
        if request is not None:
            self._apply(request)
        mixer.live_block(indata, outdata, self._in_index, self._out_channels, self._x, self._ya, self._yb,
                           self._slot_a, self._slot_b, self._fading, self._mix, self._levels, self._counters,
                           self._input_gain, self._output_gain, self._limiter_on, self.ceiling, self._release)
        if self._fading and self._mix[mixer.MIX_GAIN_A] <= 0:
            self._promote()

    def _apply(self, request):
        kind, value = request
        mix = self._mix
        if self._fading:  # one change at a time: keep it until the crossfade ends
            self._request = request
            return
        self.changes += 1
        if kind == "select" and value != self.current:
            self._slot_b = self.processors[value].kernel_slot()
            self.incoming = value
            if self.bypassed:  # nothing of the model is audible: swap at once
                self._slot_a, self.current, self.incoming = self._slot_b, value, None
            else:
                mix[mixer.MIX_TARGET_A], mix[mixer.MIX_TARGET_B] = 0, 1
                self._fading = True
        elif kind == "bypass":
            self.bypassed = value
            mix[mixer.MIX_TARGET_DRY] = 1 if value else 0
            mix[mixer.MIX_TARGET_A] = 0 if value else 1

    def _promote(self):
        """The incoming model has faded in: it becomes model A."""
        mix = self._mix
        self._slot_a, self.current, self.incoming = self._slot_b, self.incoming, None
        mix[mixer.MIX_GAIN_A], mix[mixer.MIX_TARGET_A] = mix[mixer.MIX_GAIN_B], mix[mixer.MIX_TARGET_B]
        mix[mixer.MIX_GAIN_B] = mix[mixer.MIX_TARGET_B] = 0
        self._fading = False

    # -- main thread ---------------------------------------------------------------------------

    def select_model(self, index):
        """Switch to model ``index`` (0-based) with a crossfade starting at the next block.

        Raises
        ------
        IndexError
            If there is no such model.
        """
        if not 0 <= index < len(self.processors):
            raise IndexError(f"model {index + 1} does not exist; there are {len(self.processors)}")
        if index != self.current and index != self.incoming:
            self.processors[index].reset()  # not playing, so safe to touch from this thread
            self._request = ("select", index)

    def set_bypass(self, bypassed):
        """Crossfade to the dry input (True) or back to the model (False) from the next block."""
        self._request = ("bypass", bool(bypassed))

    @property
    def busy(self):
        """Whether a requested switch or bypass change has not finished fading yet."""
        return self._request is not None or self._fading

    def counters(self):
        """Muted blocks (non-finite input / output) and limited samples so far."""
        return {"muted_bad_input": int(self._counters[mixer.COUNT_BAD_INPUT]),
                "muted_bad_output": int(self._counters[mixer.COUNT_BAD_OUTPUT]),
                "limited_samples": int(self._counters[mixer.COUNT_LIMITED])}

    def take_levels(self):
        """(input peak, output peak) since the last call, as linear values; clears them."""
        levels = self._levels.copy()
        self._levels[:] = 0
        return float(levels[mixer.LEVEL_INPUT_PEAK]), float(levels[mixer.LEVEL_OUTPUT_PEAK])

    def render(self, signal, in_channels=1, out_channels=None):
        """Run a mono signal through the chain offline in blocks, as the callback would.

        Returns
        -------
        numpy.ndarray
            float32 (n, out_channels) output.
        """
        out_channels = out_channels or max(self.config.output_channels)
        n = len(signal)
        indata = np.zeros((self.block_size, in_channels), np.float32)
        outdata = np.zeros((self.block_size, out_channels), np.float32)
        result = np.zeros((n, out_channels), np.float32)
        for start in range(0, n, self.block_size):
            stop = min(start + self.block_size, n)
            indata[:] = 0
            indata[:stop - start, self._in_index] = signal[start:stop]
            self.process(indata, outdata)
            result[start:stop] = outdata[:stop - start]
        return result
