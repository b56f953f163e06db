"""Chain: the model with the stages a guitarist expects around it, as one mono processor.

    chain = engine.Chain(engine.load_model("amp.json"), 48000, gate={"threshold_db": -65},
                         eq={"bass_db": 3}, cabinet="models/cabinet_4x12.wav")
    y = chain.process(x)                      # float32 mono blocks of any length, in order
    chain.set_eq(treble_db=-4)                # glides there, click-free
    chain = engine.Chain.from_config(engine.config.load_config("configs/guitar.yaml"), sample_rate=48000)

Stages and order: engine.chain_settings (gate → model → eq → cabinet by default, each but the
model optional; here any order that includes the model, while a config allows only the default,
which engine-live runs). Each block runs through the stages one after
another, each stage's ``process`` over the whole block, so the output is exactly what running the
stages one after another over the whole signal gives (tests/test_signal_chain.py computes that
independently). Every stage is block-size invariant (its state advances sample by sample, its
settings are read per block), so the chain is too: any split of the signal into blocks gives the
same output, bit for bit, as long as settings change at the same samples. A knob of a
conditioned model (``set_controls``) ramps across the next ``process`` call, however long: that
one change depends on the call's length.

Latency: the model's (``Processor.latency`` where it has one, else 0); the gate, EQ and cabinet
add none (the cabinet's convolution is zero-latency).

Real time: ``prepare`` allocates (a scratch block for the model's output) and compiles every
kernel; after it, ``process(x, out=y)`` with C-contiguous float32 blocks allocates no array and
makes no counted numba allocation (tests/test_signal_chain.py checks both). One thread at a time.
"""

import os
import warnings

import numpy as np

from .chain_settings import STAGES, ChainSettings, check_order
from .controls import knob_values
from .dsp.blocks import input_block, output_block
from .dsp.cabinet import Cabinet
from .dsp.eq import Equalizer
from .dsp.gate import NoiseGate
from .dsp.settings import CabinetSettings, EqSettings, GateSettings, check_eq_frequencies, validate_eq, validate_gate
from .errors import ArgumentError, quote
from .methods import DEFAULT_INTERPOLATION
from .model import Model
from .processor import MAX_BLOCK_SIZE, Processor
from .rates import check_sample_rate
from .settle import settled

__all__ = ["Chain", "ChannelChains"]


class Chain:
    """A mono signal chain: noise gate, model, EQ, cabinet (each but the model optional), prepare / reset / process.

    Parameters
    ----------
    model : Model or Processor
        The amp model: an engine.Model (a Processor is made for it at ``sample_rate``) or a mono
        Processor (or any object with ``prepare(sample_rate, max_block_size)``, ``reset()`` and
        ``process(x, out)``), which the chain then owns and prepares.
    sample_rate : float
        The rate (Hz) audio will arrive at.
    gate : GateSettings, dict, NoiseGate, True or None
        The noise gate's settings (engine.dsp.settings.GATE_PARAMETERS keys; True or {}: the
        defaults), a NoiseGate, or None for no gate.
    eq : EqSettings, dict, Equalizer, True or None
        Likewise for the EQ (EQ_PARAMETERS keys; True or {}: flat).
    cabinet : str, os.PathLike, CabinetSettings, Cabinet, numpy.ndarray or None
        An IR file (full mix, 0 dB, normalised), a config's CabinetSettings, a Cabinet, IR taps
        at ``sample_rate``, or None for no cabinet.
    order : sequence of str, optional
        The stages in processing order (engine.chain_settings.check_order); default
        gate → model → eq → cabinet.
    max_block_size : int
        The longest block one call of each stage handles (1 … 2**20); longer blocks are split
        (the output does not depend on it).
    interpolation : str
        The model's state-read method (engine.INTERPOLATIONS), when ``model`` is a Model.
    controls : sequence of float, optional
        A conditioned model's knob values (default 0.5 each), when ``model`` is a Model.
    oversample : int
        Run the model at 1, 2 or 4 times the rate inside a resampler pair (Processor's
        ``oversample``), when ``model`` is a Model; the chain's latency is then the pair's.
    source : str
        How the settings are named in messages (a config file's name).
    settle : bool
        True (the default): a Model starts, and resets, at rest on silence (engine.settle), as
        engine-live plays it, with no thump; False: at the file's own initial state (zero for
        most formats), as the Processor and the training framework start.

    Raises
    ------
    ConfigError
        A bad gate or EQ setting (unknown key, out of range, an EQ frequency at or above the
        Nyquist frequency).
    AudioFileError
        A bad IR file.
    ArgumentError, SampleRateError, ControlError
        A bad order, stage object, rate, block size, interpolation or knob value.

    Attributes
    ----------
    processor, gate, eq, cabinet
        The stages (gate, eq, cabinet None when off); ``order`` the stages that run, in order.
    """

    def __init__(self, model, sample_rate, gate=None, eq=None, cabinet=None, order=None, max_block_size=4096,
                 interpolation=DEFAULT_INTERPOLATION, controls=None, oversample=1, source="<Chain>", settle=True):
        self.source = source
        _block_size(max_block_size)
        self.gate = _gate_stage(gate, source)
        self.eq = _eq_stage(eq, source)
        self.cabinet = _cabinet_stage(cabinet, sample_rate, max_block_size)
        on = {name for name in ("gate", "eq", "cabinet") if getattr(self, name) is not None}
        self.order = check_order(order, on, source, "order", ArgumentError, any_order=True)
        if isinstance(model, Model):
            knobs = knob_values(model, controls)
            # From rest on silence (engine.settle), as engine-live starts: no thump at the start.
            self.processor = Processor(settled(model, knobs) if settle else model, sample_rate=sample_rate,
                                       interpolation=interpolation, max_block_size=max_block_size, controls=knobs,
                                       oversample=oversample)
        elif all(callable(getattr(model, name, None)) for name in ("prepare", "reset", "process")):
            if getattr(model, "channels", 1) != 1:
                raise ArgumentError(f"the chain is mono: its processor must have 1 channel, got {model.channels}")
            self.processor = model
        else:
            raise ArgumentError(f"model must be an engine.Model or a Processor, got {type(model).__name__}")
        self.prepare(sample_rate, max_block_size)

    @classmethod
    def from_settings(cls, model, sample_rate, settings, **options):
        """A Chain from validated ChainSettings (a config's ``chain``).

        Parameters
        ----------
        model : Model or Processor
        sample_rate : float
        settings : ChainSettings
        **options
            max_block_size, interpolation, controls, oversample (as the constructor).

        Returns
        -------
        Chain

        Raises
        ------
        As the constructor; an EQ frequency at or above the Nyquist frequency and a bad IR file
        are named as the config names them (``guitar.yaml: chain.eq.treble_hz ...``).
        """
        if not isinstance(settings, ChainSettings):
            raise ArgumentError(f"settings must be a ChainSettings, got {type(settings).__name__}")
        return cls(model, sample_rate, gate=settings.gate, eq=settings.eq, cabinet=settings.cabinet,
                   order=settings.order, source=settings.source, **options)

    @classmethod
    def from_config(cls, config, model_index=0, sample_rate=None, max_block_size=4096, model=None, controls=None,
                    interpolation=None, oversample=None, settle=True):
        """The chain a live configuration describes, with one of its models, for offline use.

        Parameters
        ----------
        config : LiveConfig
            From engine.config.load_config.
        model_index : int
            Which of the config's models (0: ``model``, 1…: ``models``).
        sample_rate : float, optional
            The running rate; default the config's ``sample_rate`` (which must then be set).
        max_block_size : int
        model : Model or Processor, optional
            Plays instead of the config's model (engine-process --model).
        controls : sequence of float, optional
            Knob values instead of the entry's.
        interpolation : str, optional
            Instead of the config's ``interpolation``.
        oversample : int, optional
            Instead of the config's ``oversample``.
        settle : bool
            As the constructor's (True: the model starts at rest, as engine-live starts it).

        Returns
        -------
        Chain

        Raises
        ------
        ArgumentError
            A model_index the config does not have, or no rate at all.
        ModelFileError, ConfigError, AudioFileError, ...
            As load_model and the constructor.
        """
        count = len(config.models)
        if isinstance(model_index, bool) or not isinstance(model_index, int) or not 0 <= model_index < count:
            raise ArgumentError(f"model_index must be 0 … {count - 1} (the config has {count} model(s)), "
                                f"got {quote(model_index)}")
        rate = config.sample_rate if sample_rate is None else sample_rate
        if rate is None:
            raise ArgumentError(f"{config.source}: sample_rate is null (the device's rate); give the chain's "
                                f"sample_rate")
        entry = config.models[model_index]
        if model is None:
            from .formats import load_model

            model = load_model(entry.path, sample_rate=entry.model_rate)
            if controls is None and entry.controls:
                controls = entry.controls
        return cls.from_settings(model, rate, config.chain, max_block_size=max_block_size,
                                 interpolation=interpolation or config.interpolation, controls=controls,
                                 oversample=oversample or getattr(config, "oversample", 1), settle=settle)

    # -- lifecycle -----------------------------------------------------------------------------

    def prepare(self, sample_rate, max_block_size=None):
        """Prepare every stage for ``sample_rate`` (compile, allocate), then reset.

        Parameters
        ----------
        sample_rate : float
        max_block_size : int, optional
            Keep the current value when omitted.

        Raises
        ------
        SampleRateError, ArgumentError
            A bad rate or block size (or R out of the model's range).
        ConfigError
            An EQ frequency at or above the Nyquist frequency of ``sample_rate``.
        AudioFileError
            The IR file can no longer be read.
        """
        if max_block_size is None:
            max_block_size = getattr(self, "max_block_size", 4096)
        _block_size(max_block_size)
        rate = check_sample_rate(sample_rate, "sample_rate")
        if self.eq is not None:  # named as the config names it, before anything changes
            check_eq_frequencies(self.eq.settings, rate, self.source, "eq" if self.source == "<Chain>" else "chain.eq")
        # A stage made for this rate and block size a moment ago (the constructor's) is not made
        # again: the model's stability check would warn twice, and an IR would be read twice.
        if not _prepared_for(self.processor, rate, max_block_size):
            self.processor.prepare(rate, max_block_size)
        self.sample_rate = rate
        if self.gate is not None:
            self.gate.prepare(rate)
        if self.eq is not None:
            self.eq.prepare(rate)
        if self.cabinet is not None and not _prepared_for(self.cabinet, rate, max_block_size):
            self.cabinet.prepare(rate, max_block_size)
        self.max_block_size = int(max_block_size)
        self._scratch = np.zeros(self.max_block_size, np.float32)
        self._steps = tuple((name == "model", self._stage(name).process) for name in self.order)
        self.reset()

    def reset(self):
        """Clear every stage's state (the gate closed, the EQ's and cabinet's memory silent, the model's
        initial state); settings stay. No allocation."""
        for name in self.order:
            self._stage(name).reset()

    def _stage(self, name):
        return self.processor if name == "model" else getattr(self, name)

    # -- audio ---------------------------------------------------------------------------------

    @property
    def latency(self):
        """Samples of delay: the model's (``Processor.latency`` where it exists, else 0); the stages add none."""
        return int(getattr(self.processor, "latency", 0) or 0)

    def process(self, x, out=None):
        """Run the next block through the chain.

        Parameters
        ----------
        x : numpy.ndarray
            float32 mono block, shape (n,), any n (split into max_block_size pieces).
        out : numpy.ndarray, optional
            float32 C-contiguous array of shape (n,) to write into (then nothing is allocated);
            may be ``x`` itself.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new float32 array.

        Raises
        ------
        AudioInputError
            If x or out is not a float32 mono block of matching shape.
        """
        x = input_block(x)
        n = len(x)
        out = output_block(out, n)
        step = self.max_block_size
        if n <= step:
            if n:
                self._run(x, out)
        else:
            for start in range(0, n, step):
                self._run(x[start:start + step], out[start:start + step])
        return out

    def _run(self, x, out):
        """One block (len ≤ max_block_size) through the stages: each in place on ``out`` except the
        model, which never writes over its own input (it writes the scratch block when its input is ``out``)."""
        current = x
        for is_model, process in self._steps:
            if is_model:
                target = self._scratch[:len(x)] if current is out else out
                process(current, target)
                current = target
            else:
                process(current, out)
                current = out
        if current is not out:
            out[:] = current

    # -- settings while playing ----------------------------------------------------------------

    def set_gate(self, **changes):
        """Change the gate's settings (GATE_PARAMETERS keys); they take effect at the next block.

        Raises
        ------
        ArgumentError
            If the chain has no gate.
        ConfigError
            An unknown key or out-of-range value (nothing changes then).
        """
        self._needs("gate").set(**changes)

    def set_eq(self, **changes):
        """Change the EQ's settings (EQ_PARAMETERS keys); the changed bands glide there in ramp_ms from the next block.

        Raises
        ------
        ArgumentError
            If the chain has no EQ.
        ConfigError
            An unknown key, an out-of-range value or a frequency at or above the Nyquist frequency.
        """
        self._needs("eq").set(**changes)

    def set_cabinet_mix(self, mix):
        """Ramp the cabinet's dry/wet mix (0 dry … 1 cabinet only) over 5 ms from the next sample.

        Raises
        ------
        ArgumentError
            If the chain has no cabinet, or mix is not a number from 0 to 1.
        """
        self._needs("cabinet").set_mix(mix)

    def set_cabinet_level(self, level_db):
        """Ramp the cabinet's level (dB, −60 … +24) over 5 ms from the next sample.

        Raises
        ------
        ArgumentError
            If the chain has no cabinet, or level_db is out of range.
        """
        self._needs("cabinet").set_level(level_db)

    def set_controls(self, values):
        """Set a conditioned model's knobs (Processor.set_controls: ramped across the next process call).

        Raises
        ------
        ControlError
            If the values are wrong for the model.
        ArgumentError
            If the model's processor takes no controls.
        """
        if not callable(getattr(self.processor, "set_controls", None)):
            raise ArgumentError("Chain.set_controls: this chain's processor has no controls")
        self.processor.set_controls(values)

    def _needs(self, name):
        stage = getattr(self, name)
        if stage is None:
            raise ArgumentError(f"this chain has no {name} stage (its stages: {' → '.join(self.order)}); give "
                                f"{name}= when making it")
        return stage

    # -- what it is ----------------------------------------------------------------------------

    @property
    def settings(self):
        """The chain's current settings as ChainSettings (a cabinet made from an array or a Cabinet
        object appears with its source as ``ir``)."""
        cabinet = None
        if self.cabinet is not None:
            c = self.cabinet
            cabinet = CabinetSettings(ir=c.source, mix=c.mix, level_db=c.level_db, normalize=c.normalize)
        return ChainSettings(order=self.order, gate=None if self.gate is None else self.gate.settings,
                             eq=None if self.eq is None else self.eq.settings, cabinet=cabinet, source=self.source)

    def describe(self):
        """The stages in order, e.g. ``"gate → model → eq → cabinet"``."""
        return " → ".join(self.order)

    @property
    def repairs(self):
        """The model's non-finite guard counters (Processor.repairs), or {} for a processor without them."""
        return dict(getattr(self.processor, "repairs", None) or {})

    def __repr__(self):
        return f"Chain({self.describe()} at {self.sample_rate:g} Hz)"


class ChannelChains:
    """One Chain per channel of a multi-channel file, each with its own state (what engine-process runs).

    Parameters
    ----------
    model : Model
    sample_rate : float
    settings : ChainSettings
    channels : int
    **options
        As Chain.from_settings (max_block_size, interpolation, controls, oversample).

    Attributes
    ----------
    chains : list of Chain
    ratio, interpolation, requested_interpolation, oversample, latency
        The first channel's model's (all channels run the same).
    """

    def __init__(self, model, sample_rate, settings, channels=1, **options):
        self.chains = [Chain.from_settings(model, sample_rate, settings, **options)]
        with warnings.catch_warnings():  # a StabilityWarning is said once, for the first channel
            warnings.simplefilter("ignore")
            self.chains += [Chain.from_settings(model, sample_rate, settings, **options) for _ in range(channels - 1)]
        first = self.chains[0].processor
        self.ratio = first.ratio
        self.interpolation = first.interpolation
        self.requested_interpolation = first.requested_interpolation
        self.oversample = getattr(first, "oversample", 1)
        self.latency = self.chains[0].latency

    def process(self, audio):
        """Process (n,) mono or (n, channels) audio; returns a new float32 array of its shape."""
        if audio.ndim == 1:
            return self.chains[0].process(audio)
        out = np.empty(audio.shape, np.float32)
        for channel, chain in enumerate(self.chains):
            out[:, channel] = chain.process(np.ascontiguousarray(audio[:, channel]))
        return out

    @property
    def repairs(self):
        """The models' non-finite guard counters, summed over the channels."""
        total = {}
        for chain in self.chains:
            for key, value in chain.repairs.items():
                total[key] = total.get(key, 0) + value
        return total


def _prepared_for(stage, sample_rate, max_block_size):
    """Whether ``stage`` is already prepared for this rate and block size."""
    return getattr(stage, "sample_rate", None) == sample_rate and getattr(stage, "max_block_size", None) == max_block_size


def _block_size(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_BLOCK_SIZE:
        raise ArgumentError(f"max_block_size must be a whole number from 1 to {MAX_BLOCK_SIZE}, got {quote(value)}")


def _gate_stage(gate, source):
    if gate is None or gate is False:
        return None
    if isinstance(gate, NoiseGate):
        return gate
    settings = gate if isinstance(gate, GateSettings) else validate_gate({} if gate is True else gate, source, "gate")
    return NoiseGate(settings)


def _eq_stage(eq, source):
    if eq is None or eq is False:
        return None
    if isinstance(eq, Equalizer):
        return eq
    settings = eq if isinstance(eq, EqSettings) else validate_eq({} if eq is True else eq, source, "eq")
    return Equalizer(settings)


def _cabinet_stage(cabinet, sample_rate, max_block_size):
    if cabinet is None or cabinet is False:
        return None
    if isinstance(cabinet, Cabinet):
        return cabinet
    if isinstance(cabinet, CabinetSettings):
        return Cabinet.from_settings(cabinet, sample_rate, max_block_size)
    if isinstance(cabinet, (str, os.PathLike, np.ndarray)):
        return Cabinet(cabinet, sample_rate, max_block_size)
    raise ArgumentError(f"cabinet must be an IR file path, IR taps, a CabinetSettings or a Cabinet, "
                        f"got {type(cabinet).__name__}")


assert set(STAGES) == {"gate", "model", "eq", "cabinet"}
