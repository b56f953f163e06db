"""The live signal chain, without any audio device: models, switching, bypass, gains, knobs, safety, limiter.

LiveChain prepares every model and owns every buffer the audio callback touches (a SharedState,
engine.live.shared). The work itself is done by the compiled callback (engine.live.callback):
in a live session PortAudio calls it directly; ``process`` and ``render`` call the very same
machine code from Python, so the tests and ``engine-live --virtual`` check the live path sample
for sample offline.

Threads: the callback runs on the audio thread; ``select_model``, ``set_bypass``,
``set_controls`` and ``set_gains`` run on any other thread and only post a request (a seqlock
write, see engine.live.shared) that the callback applies at its next block boundary.
"""

import math
import os

import numpy as np

from . import mixer, shared
from ..errors import ConfigError, ControlError
from ..formats import load_model
from ..controls import check_controls, knob_values
from ..processor import Processor
from ..settle import settled

LIMITER_CEILING_DB = -0.3
LIMITER_RELEASE_MS = 50.0
MAX_MODELS = shared.MAX_MODELS


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
        If a model's ``controls`` list has the wrong length for it, or there are more than MAX_MODELS models.
    """
    if len(config.models) > MAX_MODELS:
        raise ConfigError(f"{config.source}: {len(config.models)} models; a live session holds at most {MAX_MODELS} "
                          "(keys 1-9)")
    models = []
    for index, entry in enumerate(config.models):
        model = load_model(entry.path, sample_rate=entry.model_rate)
        key = "model" if index == 0 else f"models[{index - 1}]"
        if len(entry.controls) not in (0, model.num_controls):
            raise ConfigError(f"{config.source}: {key} {os.path.basename(entry.path)} takes {model.num_controls} "
                              f"control value(s), but its controls list has {len(entry.controls)}")
        models.append(model)
    return models


def stage_objects(config, sample_rate, block_size):
    """The gate, EQ and cabinet that ``config.chain`` describes, prepared at ``sample_rate``.

    Returns
    -------
    dict
        {"gate": NoiseGate, "eq": Equalizer, "cabinet": Cabinet}, only the stages present.

    Raises
    ------
    AudioFileError, ConfigError
        If the cabinet's IR cannot be loaded at this rate.
    """
    chain = getattr(config, "chain", None)
    if chain is None:
        return {}
    from ..dsp.cabinet import Cabinet
    from ..dsp.eq import Equalizer
    from ..dsp.gate import NoiseGate

    stages = {}
    if getattr(chain, "gate", None) is not None:
        stages["gate"] = NoiseGate(chain.gate)
        stages["gate"].prepare(sample_rate)
    if getattr(chain, "eq", None) is not None:
        stages["eq"] = Equalizer(chain.eq)
        stages["eq"].prepare(sample_rate)
    if getattr(chain, "cabinet", None) is not None:
        stages["cabinet"] = Cabinet.from_settings(chain.cabinet, sample_rate, block_size)
    return stages


def db_to_gain(db):
    """A gain in dB as a linear float32 factor."""
    return np.float32(10 ** (db / 20))


class LiveChain:
    """Everything between the interface's input and output, prepared for one rate and block size.

    Parameters
    ----------
    config : LiveConfig
    models : list of Model
        As from :func:`load_models`, one per ``config.models`` entry (at most MAX_MODELS).
    sample_rate : float
    in_channels, out_channels : int
        Channels of the device buffers the callback receives.
    capture_frames : int
        Frames of raw input and first-channel output the callback records from the start
        (``captured``); 0 records nothing.
    stages : dict, optional
        The stages around the models, by name: "gate" (engine.dsp.gate.NoiseGate), "eq"
        (engine.dsp.eq.Equalizer), "cabinet" (engine.dsp.cabinet.Cabinet), each unprepared or
        prepared; default: those of ``config.chain`` (none if it has no chain).

    Raises
    ------
    SampleRateError
        If a model cannot run at ``sample_rate``.
    """

    def __init__(self, config, models, sample_rate, in_channels, out_channels, capture_frames=0, stages=None):
        from . import callback  # compiles (or loads from numba's cache) the callback

        self.config = config
        self.sample_rate = float(sample_rate)
        self.block_size = block = config.block_size
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        if not config.input_channel <= self.in_channels or not max(config.output_channels) <= self.out_channels:
            raise ConfigError(f"{config.source}: input_channel {config.input_channel} / output_channels "
                              f"{list(config.output_channels)} do not fit buffers of {in_channels} input and "
                              f"{out_channels} output channel(s)")
        self.processors = []
        for entry, model in zip(config.models, models):
            knobs = knob_values(model, entry.controls or None)
            # From rest on silence (engine.settle): no thump at the start, nor after a reset.
            self.processors.append(Processor(settled(model, knobs), sample_rate=self.sample_rate,
                                             interpolation=config.interpolation, oversample=config.oversample,
                                             max_block_size=block, controls=knobs))
        self._mix = np.zeros(mixer.MIX_SIZE, np.float32)
        self._levels = np.zeros(2, np.float32)
        self._counters = np.zeros(mixer.COUNTERS_SIZE, np.int64)
        self.input_gain_db, self.output_gain_db = float(config.input_gain_db), float(config.output_gain_db)
        self.ceiling = db_to_gain(LIMITER_CEILING_DB)
        self._release = np.float32(1 - math.exp(-1 / (LIMITER_RELEASE_MS * 1e-3 * self.sample_rate)))
        self._settings = np.zeros(shared.SETTINGS_SIZE, np.float32)
        self._settings[shared.SET_CEILING], self._settings[shared.SET_RELEASE] = self.ceiling, self._release
        self.crossfade_samples = max(1, round(config.crossfade_ms * 1e-3 * self.sample_rate))
        self.stages = self._prepare_stages(config, stages, block)
        self.shared = shared.SharedState(self.processors, block, in_channels, out_channels, config.input_channel - 1,
                                         [c - 1 for c in config.output_channels], self.sample_rate, self._mix,
                                         self._levels, self._counters, self._settings, config.limiter,
                                         capture_frames=capture_frames, stages=self.stages)
        self.callback = callback.callback
        self._call = callback.callback.ctypes
        self.userdata = self.shared.userdata
        # One block through the callback now, so its first call on the audio thread finds its
        # code and every array it touches already in memory; reset() then clears what it did.
        self.process(self.shared.zero_in, self.shared.spare_out)
        self.reset()

    def _prepare_stages(self, config, stages, block):
        """ChainStages of the given (or the config's) gate, EQ and cabinet, prepared at this rate."""
        if stages is None:
            stages = stage_objects(config, self.sample_rate, block)
        unknown = set(stages) - {"gate", "eq", "cabinet"}
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; the chain has gate, eq, cabinet")
        gate, eq, cabinet = stages.get("gate"), stages.get("eq"), stages.get("cabinet")
        for stage in (gate, eq):
            if stage is not None and stage.sample_rate != self.sample_rate:
                stage.prepare(self.sample_rate)
        if cabinet is not None and cabinet.sample_rate != self.sample_rate:
            raise ValueError(f"the cabinet was prepared at {cabinet.sample_rate:g} Hz, the chain runs at "
                             f"{self.sample_rate:g} Hz")
        return shared.ChainStages(gate, eq, cabinet)

    def reset(self):
        """Back to model 1, not bypassed, the configured gains and knobs, every state and counter cleared.

        Only while no stream runs the callback.
        """
        for entry, processor in zip(self.config.models, self.processors):
            if processor.model.num_controls:
                # The configured knobs again (they were checked stable for the method running
                # when the processor was made, so this never changes the method).
                processor.set_controls(knob_values(processor.model, entry.controls or None))
            processor.reset()
        self.shared.bind_slots()
        self._stage_values = None  # the stages' configured settings again (SharedState.reset)
        input_gain, output_gain = db_to_gain(self.config.input_gain_db), db_to_gain(self.config.output_gain_db)
        self.input_gain_db, self.output_gain_db = float(self.config.input_gain_db), float(self.config.output_gain_db)
        self.shared.reset(input_gain, output_gain)
        mix = self._mix
        mix[:] = 0
        mix[mixer.MIX_GAIN_A] = mix[mixer.MIX_TARGET_A] = 1
        mix[mixer.MIX_STEP] = 1 / self.crossfade_samples
        mix[mixer.MIX_LIMITER_GAIN] = 1
        mix[mixer.MIX_INPUT_GAIN] = mix[mixer.MIX_INPUT_TARGET] = input_gain
        mix[mixer.MIX_OUTPUT_GAIN] = mix[mixer.MIX_OUTPUT_TARGET] = output_gain
        self._counters[:] = 0
        self._levels[:] = 0
        self._levels_taken = 0

    # -- the callback, called from Python (offline) -----------------------------------------------

    def process(self, indata, outdata):
        """Process one buffer through the compiled callback, exactly as the stream would.

        Parameters
        ----------
        indata : numpy.ndarray
            float32 (n, in_channels), C-contiguous; any n (split into blocks of block_size).
        outdata : numpy.ndarray
            float32 (n, out_channels), C-contiguous and writeable.
        """
        if not (indata.dtype == np.float32 and indata.ndim == 2 and indata.shape[1] == self.in_channels
                and indata.flags.c_contiguous):
            indata = np.ascontiguousarray(np.asarray(indata, np.float32).reshape(len(indata), self.in_channels))
        if (outdata.dtype != np.float32 or outdata.shape != (len(indata), self.out_channels)
                or not outdata.flags.c_contiguous or not outdata.flags.writeable):
            raise ValueError(f"outdata must be a writeable C-contiguous float32 array of shape "
                             f"{(len(indata), self.out_channels)}")
        if len(indata):
            self._call(indata.ctypes.data, outdata.ctypes.data, len(indata), None, 0, self.userdata)

    def render(self, signal, in_channels=None, out_channels=None, requests=()):
        """Run a mono signal through the chain offline in blocks, as the callback would.

        Parameters
        ----------
        signal : numpy.ndarray
            Mono float32, fed to the configured input channel.
        in_channels, out_channels : int, optional
            The chain's own channel counts (the arguments of the constructor); anything else is refused.
        requests : sequence of (int, callable)
            ``callable(chain)`` is called before the block that starts at that frame (a multiple
            of block_size): the same request the live session posted, at the same block boundary.

        Returns
        -------
        numpy.ndarray
            float32 (n, out_channels) output.
        """
        if in_channels not in (None, self.in_channels) or out_channels not in (None, self.out_channels):
            raise ValueError(f"this chain was prepared for {self.in_channels} input and {self.out_channels} output "
                             f"channel(s), not {in_channels} and {out_channels}")
        n = len(signal)
        block = self.block_size
        indata = np.zeros((block, self.in_channels), np.float32)
        outdata = np.zeros((block, self.out_channels), np.float32)
        result = np.zeros((n, self.out_channels), np.float32)
        pending = sorted(requests, key=lambda pair: pair[0])
        for start in range(0, n, block):
            while pending and pending[0][0] <= start:
                pending.pop(0)[1](self)
            stop = min(start + block, n)
            indata[:] = 0
            indata[:stop - start, self.config.input_channel - 1] = signal[start:stop]
            self.process(indata[:stop - start], outdata[:stop - start])
            result[start:stop] = outdata[:stop - start]
        return result

    # -- requests (any thread but the audio thread) -----------------------------------------------

    def select_model(self, index):
        """Switch to model ``index`` (0-based): a crossfade from the next block boundary (see callback.apply_request).

        Returns
        -------
        int
            The request's sequence number.

        Raises
        ------
        IndexError
            If there is no such model.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.processors):
            raise IndexError(f"model {index + 1 if isinstance(index, (int, np.integer)) else index!r} does not exist; "
                             f"there are {len(self.processors)}")
        return self.shared.write(model=int(index))

    def set_bypass(self, bypassed):
        """Crossfade to the dry input (True) or back to the model (False) from the next block boundary."""
        return self.shared.write(bypass=bool(bypassed))

    def set_gains(self, input_db=None, output_db=None):
        """Change the input and/or output gain (dB); each ramps across the next block.

        Raises
        ------
        ControlError
            If a gain is not a finite number within the configuration's range.
        """
        from ..config import GAIN_DB_RANGE

        low, high = GAIN_DB_RANGE
        for name, value in (("input_db", input_db), ("output_db", output_db)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not low <= float(value) <= high:
                raise ControlError(f"{name} must be a number of dB from {low:g} to {high:g}, got {value!r}")
        if input_db is not None:
            self.input_gain_db = float(input_db)
        if output_db is not None:
            self.output_gain_db = float(output_db)
        return self.shared.write(gains=(db_to_gain(self.input_gain_db), db_to_gain(self.output_gain_db)))

    def set_stages(self, **values):
        """Change the stages while playing; each glides there from the next block boundary.

        Parameters
        ----------
        **values : float
            Any of gate_threshold_db (dBFS), eq_bass_db, eq_mid_db, eq_treble_db, eq_presence_db
            (dB), cabinet_mix (0 dry … 1 cabinet only), cabinet_level_db (dB); only for stages the
            chain has.

        Returns
        -------
        int
            The request's sequence number.

        Raises
        ------
        ControlError
            If a key is unknown, names a stage the chain does not have, or a value is out of range.
        """
        from ..dsp.cabinet import check_level_db, check_mix
        from ..dsp.settings import EQ_PARAMETERS, GATE_PARAMETERS
        from ..errors import EngineError

        keys = shared.ChainStages.LIVE_KEYS
        current = self.stage_values()
        ranges = {p.key: p for p in GATE_PARAMETERS + EQ_PARAMETERS}
        for key, value in values.items():
            if key not in keys:
                raise ControlError(f"unknown stage value {key!r}; the live ones are {', '.join(keys)}")
            stage = key.split("_", 1)[0]
            if getattr(self.stages, stage) is None:
                raise ControlError(f"{key}: the chain has no {stage} stage (add one under chain: in the config)")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(value)):
                raise ControlError(f"{key} must be a finite number, got {value!r}")
            value = float(value)
            try:
                if key == "cabinet_mix":
                    check_mix(value, key)
                elif key == "cabinet_level_db":
                    check_level_db(value, key)
                else:
                    parameter = ranges[key.split("_", 1)[1]]
                    if not parameter.low <= value <= parameter.high:
                        raise ControlError(f"{key} must be from {parameter.low:g} to {parameter.high:g} "
                                           f"{parameter.unit}, got {value:g}")
            except EngineError as exc:
                raise ControlError(str(exc)) from None
            current[key] = value
        self._stage_values = current
        return self.shared.write(stages=np.array([current[k] for k in keys], np.float32))

    def stage_values(self):
        """{key: value} of the live stage values as last set (set_stages keys, for the stages the chain has)."""
        if getattr(self, "_stage_values", None) is None:
            now = self.stages.values()
            self._stage_values = {key: float(now[i]) for i, key in enumerate(shared.ChainStages.LIVE_KEYS)}
        return dict(self._stage_values)

    def set_controls(self, values, model=None):
        """Set the knobs of a conditioned model; a playing model ramps to them across the next block.

        The interpolation method never changes while the stream runs (that would reallocate the
        state under the callback): where the stability rule depends on the knobs (reads that
        extrapolate or sit off-centre, engine.stability.verdict), the values are checked here
        first, and values for which the method running is predicted unstable are refused
        (check_live_stability).

        Parameters
        ----------
        values : sequence of float
            One finite value per control input of the model.
        model : int, optional
            0-based; the model playing (or fading in) when omitted.

        Returns
        -------
        int
            The request's sequence number.

        Raises
        ------
        ControlError
            If the values are invalid for the model, or would make its method unstable.
        IndexError
            If there is no such model.
        """
        if model is None:
            model = self.incoming if self.incoming is not None else self.current
        if isinstance(model, bool) or not isinstance(model, (int, np.integer)) or not 0 <= model < len(self.processors):
            raise IndexError(f"model {model!r} does not exist; there are {len(self.processors)} (0-based)")
        processor = self.processors[model]
        array = check_controls(processor.model, values)
        if not processor.model.num_controls:
            raise ControlError(f"{processor.model.name} has no control inputs (knobs)")
        check_live_stability(processor, array)
        return self.shared.write(controls=(int(model), array.astype(np.float32)))

    # -- what the callback reports (any thread) ---------------------------------------------------

    @property
    def current(self):
        """The model playing (0-based)."""
        return int(self.shared.state[shared.S_CURRENT])

    @property
    def incoming(self):
        """The model fading in, or None."""
        value = int(self.shared.state[shared.S_INCOMING])
        return None if value < 0 or not self.shared.state[shared.S_FADING] else value

    @property
    def bypassed(self):
        """Whether bypass is on (as the callback has applied it)."""
        return bool(self.shared.state[shared.S_BYPASSED])

    @property
    def changes(self):
        """Model switches and bypass toggles applied since reset."""
        return int(self.shared.state[shared.S_CHANGES])

    @property
    def busy(self):
        """Whether a request has not been taken yet, or a switch or bypass change has not finished."""
        s = self.shared
        if s.request[shared.R_SEQ] != s.state[shared.S_SEEN] or s.state[shared.S_FADING]:
            return True
        return (s.accepted[shared.R_MODEL] != s.state[shared.S_CURRENT]
                or s.accepted[shared.R_BYPASS] != s.state[shared.S_BYPASSED])

    def counters(self):
        """Muted blocks (non-finite input / output) and limited samples so far."""
        return {"muted_bad_input": int(self._counters[mixer.COUNT_BAD_INPUT]),
                "muted_bad_output": int(self._counters[mixer.COUNT_BAD_OUTPUT]),
                "limited_samples": int(self._counters[mixer.COUNT_LIMITED])}

    def take_levels(self):
        """(input peak, output peak) over the callbacks since the last call, as linear values."""
        _, peaks, end = self.shared.ring_rows(self._levels_taken)
        self._levels_taken = end
        if not len(peaks):
            return 0.0, 0.0
        top = peaks.max(axis=0)
        return float(top[0]), float(top[1])

    def captured(self):
        """(input, output) the callback recorded: the raw input channel and the first output channel.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            float32 copies of the frames recorded so far (at most ``capture_frames``).
        """
        n = min(int(self.shared.counters[shared.C_FRAMES]), self.shared.capture_frames)
        return self.shared.capture_in[:n].copy(), self.shared.capture_out[:n].copy()


def check_live_stability(processor, controls):
    """Refuse knob values for which the method the processor runs is predicted unstable.

    Processor.set_controls would switch the method and reallocate the state; a live session
    cannot do that under the running callback, so it keeps the method and refuses the values.
    The rule is engine.stability.verdict's: only reads it checks by linearisation (extrapolating
    or off-centre) depend on the knobs, and only those linearise the model here.

    Raises
    ------
    ControlError
        If ``processor.interpolation`` is predicted unstable at ``controls``.
    """
    if not processor.check_stability:
        return
    from ..stability import linearise, verdict

    if not verdict(processor.interpolation, processor.ratio, lambda: linearise(processor.model, controls)).stable:
        raise ControlError(f"{processor.model.name}: {processor.interpolation} is predicted unstable at "
                           f"{processor.sample_rate:g} Hz with controls {[round(float(v), 6) for v in controls]}; "
                           "a live session cannot change the method while it plays: choose other values, or "
                           "restart with these values in the configuration")
