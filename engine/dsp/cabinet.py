"""The cabinet stage: an impulse response convolved with zero latency, with a mix and a level.

    cabinet = Cabinet("models/cabinet_4x12.wav", sample_rate=48000)
    y = cabinet.process(x)              # float32 blocks of any length, in order
    cabinet.set_mix(0.5); cabinet.set_level(-6.0)   # ramped over RAMP_SECONDS, click-free

Output: y[n] = (1 - mix)·x[n] + mix·10^(level_db/20)·(h * x)[n], h the IR as engine.dsp.impulse
prepares it (resampled to the running rate, normalised to a 0 dB peak magnitude response unless
``normalize=False``). mix = 0 is the dry signal exactly. No latency: output sample n depends on
input sample n. The same output for any blocking (engine.dsp.convolver).

From compiled code (the live callback): ``cabinet.arrays`` are the kernel's four arrays,
``engine.dsp.convolver.convolve_block(x, y, *cabinet.arrays)`` processes a block (nopython, no
allocation, compiles inside a ``@cfunc`` built with ``_nrt=False``),
``set_mix_level(layout, params, mix, level_db)`` starts a ramp to new values and
``engine.dsp.convolver.reset_state(layout, state, params)`` silences it.
"""

import math
import os

import numpy as np
from numba import njit

from ..errors import ArgumentError, AudioInputError, quote
from ..kernels.options import JIT
from ..rates import check_sample_rate
from . import convolver
from .convolver import L_RAMP_LEFT, P_DRY, P_DRY_TARGET, P_WET, P_WET_TARGET
from .impulse import load_ir, prepare_taps

# The cabinet's settings and their checks live with the other stages' (numba-free, so that reading
# a config does not load the kernels); imported here as part of this module's interface.
from .settings import CABINET_KEYS as CONFIG_KEYS  # noqa: F401
from .settings import MAX_LEVEL_DB, MIN_LEVEL_DB, CabinetSettings, check_level_db, check_mix  # noqa: F401
from .settings import validate_cabinet as settings_from_config  # noqa: F401

#: How long a mix or level change ramps (linearly, in the gains), independent of the block size.
RAMP_SECONDS = 0.005
#: The longest max_block_size accepted (as engine.processor.MAX_BLOCK_SIZE).
MAX_BLOCK_SIZE = 2 ** 20


@njit(**JIT)
def set_mix_level(layout, params, mix, level_db):
    """Ramp to ``mix`` and ``level_db`` from the next sample on (real-time safe; the caller checks ranges).

    Parameters
    ----------
    layout, params : arrays
        ``Cabinet.arrays.layout`` and ``.params``.
    mix : float
        0 (dry) … 1 (cabinet only).
    level_db : float
        The cabinet's gain in dB.
    """
    wet = mix * math.pow(10.0, level_db / 20.0)
    convolver.set_gains(layout, params, 1.0 - mix, wet)


class Cabinet:
    """Convolve audio with a speaker-cabinet (or any) impulse response, with zero latency.

    Parameters
    ----------
    ir : str, os.PathLike or numpy.ndarray
        An audio file (its first channel; engine.dsp.impulse.load_ir) or the taps themselves.
    sample_rate : float
        The running rate (Hz); the IR is resampled to it once, at prepare.
    max_block_size : int
        The longest block the caller means to pass (1 … 2**20). The convolver's state does not
        depend on it (it advances sample by sample), so blocks of any length work; it is kept
        for the prepare(sample_rate, max_block_size) lifecycle every stage shares.
    mix : float
        0 (dry) … 1 (cabinet only, the default).
    level_db : float
        The cabinet's gain in dB, MIN_LEVEL_DB … MAX_LEVEL_DB (default 0).
    ir_sample_rate : float, optional
        The rate of ``ir`` when it is an array (default: ``sample_rate``); ignored for a file.
    normalize : bool
        Scale the IR to a 0 dB peak magnitude response (default); False keeps its own gain.
    plan : engine.dsp.convolver.Plan, optional
        Force a partitioning (benchmarks, tests); default: the cheapest by the cost model.
    label : str, optional
        How an IR file is named in messages (default: its path), e.g. ``"guitar.yaml: chain.cabinet.ir x.wav"``.

    Raises
    ------
    AudioFileError
        A bad IR file (engine.dsp.impulse.load_ir says which way).
    ArgumentError
        A bad IR array, mix, level_db or max_block_size.
    SampleRateError
        A bad sample rate.

    Notes
    -----
    One thread at a time (unlike Processor, nothing guards against a second one): the live
    path owns its arrays through ``arrays`` and calls the kernel itself.
    """

    def __init__(self, ir, sample_rate, max_block_size=4096, mix=1.0, level_db=0.0, ir_sample_rate=None,
                 normalize=True, plan=None, label=None):
        self.mix = check_mix(mix)
        self.level_db = check_level_db(level_db)
        if isinstance(ir, (str, os.PathLike)):
            self.source = os.fspath(ir)
            self._samples = None
        else:
            self.source = "<array>"
            self._samples = ir
        self._ir_sample_rate = ir_sample_rate
        self.normalize = bool(normalize)
        self._plan = plan
        self._label = label
        self.prepare(sample_rate, max_block_size)

    @classmethod
    def from_settings(cls, settings, sample_rate, max_block_size=4096):
        """A Cabinet from a config's :class:`CabinetSettings` (:func:`settings_from_config`).

        Raises
        ------
        AudioFileError
            A bad IR file, named as the config names it.
        """
        return cls(settings.ir, sample_rate, max_block_size, mix=settings.mix, level_db=settings.level_db,
                   normalize=settings.normalize, label=settings.label)

    # -- lifecycle ----------------------------------------------------------------------------

    def prepare(self, sample_rate, max_block_size=None):
        """Load (or resample) the IR for ``sample_rate``, build the kernel's arrays, warm the kernel up, reset.

        Parameters
        ----------
        sample_rate : float
        max_block_size : int, optional
            Keep the current value when omitted.

        Raises
        ------
        AudioFileError, ArgumentError, SampleRateError
            As the constructor; a refused prepare leaves the cabinet as it was.
        """
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
        if max_block_size is None:
            max_block_size = getattr(self, "max_block_size", 4096)
        elif isinstance(max_block_size, bool) or not isinstance(max_block_size, (int, np.integer)) \
                or not 1 <= max_block_size <= MAX_BLOCK_SIZE:
            raise ArgumentError(f"max_block_size must be a whole number from 1 to {MAX_BLOCK_SIZE}, "
                                f"got {quote(max_block_size)}")
        if self._samples is None:
            ir = load_ir(self.source, sample_rate, normalize=self.normalize, label=self._label)
        else:
            rate = sample_rate if self._ir_sample_rate is None else self._ir_sample_rate
            ir = prepare_taps(self._samples, rate, sample_rate, normalize=self.normalize)
        ramp = max(1, round(RAMP_SECONDS * sample_rate))
        arrays = convolver.build(ir.taps, self._plan or convolver.plan_partitions(len(ir.taps)), ramp)
        silence = np.zeros(min(int(max_block_size), 64), np.float32)
        convolver.convolve_block(silence, silence.copy(), *arrays)  # compile (or load the cache) now
        self.impulse_response = ir
        self.sample_rate = sample_rate
        self.max_block_size = int(max_block_size)
        self.arrays = arrays
        self.plan = convolver.Plan(int(arrays.layout[convolver.L_HEAD]), tuple(
            (int(arrays.layout[row + convolver.F_SIZE]), int(arrays.layout[row + convolver.F_PARTS]))
            for row in range(convolver.L_LEVEL0, convolver.L_LEVEL0 + convolver.LEVEL_FIELDS *
                             int(arrays.layout[convolver.L_LEVELS]), convolver.LEVEL_FIELDS)))
        self._set(ramp=False)
        self.reset()

    def reset(self):
        """Silence the convolution's memory (no allocation); mix and level stay, without a ramp."""
        convolver.reset_state(self.arrays.layout, self.arrays.state, self.arrays.params)

    # -- parameters ---------------------------------------------------------------------------

    def set_mix(self, mix):
        """Ramp the dry/wet mix to ``mix`` (0 dry … 1 cabinet only) over RAMP_SECONDS from the next sample.

        Raises
        ------
        ArgumentError
            If ``mix`` is not a number from 0 to 1.
        """
        self.mix = check_mix(mix)
        self._set(ramp=True)

    def set_level(self, level_db):
        """Ramp the cabinet's gain to ``level_db`` dB over RAMP_SECONDS from the next sample.

        Raises
        ------
        ArgumentError
            If ``level_db`` is not a number from MIN_LEVEL_DB to MAX_LEVEL_DB.
        """
        self.level_db = check_level_db(level_db)
        self._set(ramp=True)

    def _set(self, ramp):
        layout, params = self.arrays.layout, self.arrays.params
        set_mix_level(layout, params, self.mix, self.level_db)
        if not ramp:
            params[P_DRY] = params[P_DRY_TARGET]
            params[P_WET] = params[P_WET_TARGET]
            layout[L_RAMP_LEFT] = 0

    # -- audio --------------------------------------------------------------------------------

    @property
    def ir(self):
        """The taps that run (float32, at ``sample_rate``, normalised as prepared)."""
        return self.impulse_response.taps

    @property
    def latency_samples(self):
        """Always 0: output sample n depends on input sample n."""
        return 0

    def process(self, x, out=None):
        """Convolve the next block.

        Parameters
        ----------
        x : numpy.ndarray
            float32, shape (n,), any n. A NaN or infinite sample is processed as 0.
        out : numpy.ndarray, optional
            float32 C-contiguous array of shape (n,) to write into; may be ``x`` itself.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new float32 array.

        Raises
        ------
        AudioInputError
            If x or out is not a float32 array of shape (n,), or out is not C-contiguous and writeable.
        """
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise AudioInputError(f"x must be a numpy float32 array, got "
                                  f"{'dtype ' + str(x.dtype) if isinstance(x, np.ndarray) else type(x).__name__}")
        if x.ndim != 1:
            raise AudioInputError(f"x has shape {x.shape}, expected (n,): the cabinet is mono")
        if out is None:
            out = np.empty(x.shape, np.float32)
        elif not (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == x.shape):
            raise AudioInputError(f"out must be a float32 array of shape {x.shape}, got "
                                  f"{type(out).__name__ if not isinstance(out, np.ndarray) else f'dtype {out.dtype}, shape {out.shape}'}")
        elif not (out.flags.c_contiguous and out.flags.writeable):
            raise AudioInputError("out must be a C-contiguous, writeable array")
        if not (x.flags.c_contiguous and x.flags.aligned and x.flags.writeable):
            x = np.array(x, np.float32, order="C")  # another numba type: the kernel is compiled for one
        convolver.convolve_block(x, out, *self.arrays)
        return out

    def __repr__(self):
        return (f"Cabinet({self.source}: {len(self.ir)} taps at {self.sample_rate:g} Hz, mix {self.mix:g}, "
                f"level {self.level_db:+g} dB, plan {self.plan})")
