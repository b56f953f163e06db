"""Processor: a model prepared to run at one sample rate, streaming block by block.

Lifecycle (the same words as RTNeural and NeuralAmpModelerCore): ``prepare`` allocates every
array and compiles/warms the kernel with exactly the array types ``process`` passes; ``reset``
clears the state without allocating; ``process`` runs in real time, one kernel call per block
and channel, allocating only the returned array (none with ``out=``).
"""


import warnings

import numpy as np

from . import kernels
from .delay import (DEFAULT_INTERPOLATION, INTERPOLATIONS, check_interpolation, history_slots,
                    needs_stability_check, read_filter)
from .errors import ArgumentError, AudioInputError, ControlError, StabilityWarning
from .model import Model
from .packing import pack
from .rates import check_sample_rate, rate_ratio

__all__ = ["Processor", "INTERPOLATIONS"]


class Processor:
    """Run a model at any sample rate, correcting its recurrent delay to R = F_run / F_model.

    Parameters
    ----------
    model : Model
        From :func:`engine.load_model`.
    sample_rate : float
        The rate (Hz) audio will arrive at.
    interpolation : str
        How the delayed state is read: one of engine.INTERPOLATIONS ("linear", the default;
        "naive", no correction; "cubic"; "lagrange5"). Where the read extrapolates (R < 1) or its
        window is off-centre, a method predicted unstable for this model is replaced by the best
        stable one, with a
        StabilityWarning; ``interpolation`` then names what runs, ``requested_interpolation``
        what was asked for, and ``stability`` holds the spectral radii checked.
    check_stability : bool
        False runs the requested method even where it is predicted unstable. For evaluating the
        check itself (benchmarks/below_rate.py); never for audio anyone listens to.
    max_block_size : int
        The longest block one kernel call handles; longer inputs are split.
    channels : int
        Independent channels, each with its own state; audio is (n, channels) when > 1.

    Raises
    ------
    SampleRateError
        If ``sample_rate`` is not a positive number or R is outside the supported range.
    ArgumentError
        If ``interpolation``, ``max_block_size`` or ``channels`` is invalid.
    """

    def __init__(self, model, sample_rate, interpolation=DEFAULT_INTERPOLATION, max_block_size=4096, channels=1,
                 check_stability=True):
        if not isinstance(model, Model):
            raise ArgumentError(f"model must be an engine.Model (from engine.load_model), got {type(model).__name__}")
        self.model = model
        self.requested_interpolation = self.interpolation = check_interpolation(interpolation)
        self.check_stability = bool(check_stability)
        self.channels = _positive_int(channels, "channels")
        self._network = pack(model)
        n_controls = max(model.num_controls, 0)
        self._ctrl_from = np.zeros(n_controls, np.float32)
        self._ctrl_to = np.zeros(n_controls, np.float32)
        self._input_gain = np.float32(10.0 ** (model.input_gain_db / 20.0))
        self._output_gain = np.float32(10.0 ** (model.output_gain_db / 20.0))
        self._skip = int(model.skip)
        self.prepare(sample_rate, max_block_size)

    # -- lifecycle ---------------------------------------------------------------------------

    def prepare(self, sample_rate, max_block_size=None):
        """Allocate the state for ``sample_rate``, compile and warm up the kernel, then reset.

        Parameters
        ----------
        sample_rate : float
            The rate (Hz) audio will arrive at.
        max_block_size : int, optional
            Keep the current value when omitted.

        Raises
        ------
        SampleRateError, ArgumentError
            As the constructor.
        """
        # Validate everything before changing anything, so a refused prepare leaves the processor as it was.
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
        if max_block_size is not None:
            max_block_size = _positive_int(max_block_size, "max_block_size")
        ratio = rate_ratio(sample_rate, self.model.sample_rate, self.model.path)
        self.sample_rate, self.ratio = sample_rate, ratio
        if max_block_size is not None:
            self.max_block_size = max_block_size
        self.interpolation = self._stable_interpolation()
        self._tap_offset, self._taps, feedback = read_filter(self.interpolation, self.ratio)
        self._feedback = np.float32(feedback)
        net = self._network
        slots = history_slots(self._tap_offset, self._taps)
        c = self.channels
        self._hist = np.zeros((c, slots, net.state_size), np.float32)  # every model has a recurrent layer
        self._pos = np.zeros(c, np.int64)
        self._act = np.zeros((c, 2, net.width), np.float32)
        self._gates = np.zeros((c, 2, net.gates_width), np.float32)
        self._shat = np.zeros((c, net.max_state), np.float32)
        self._memory = np.zeros((c, net.state_size), np.float32)
        # Compile (or load from numba's cache) with the exact argument types process() passes.
        self._run(np.zeros((1, c), np.float32), np.zeros((1, c), np.float32), 0, 1)
        self.reset()

    def _stable_interpolation(self):
        """The requested method, or the best one predicted stable where it is not.

        Extrapolating reads (R < 1) and off-centre Lagrange windows can destabilise a model
        (SRC.md, delay.needs_stability_check); an unstable choice must never run, so the
        stability check picks the best stable method and a warning says so once.
        """
        self.stability = None
        if not self.check_stability or not needs_stability_check(self.requested_interpolation, self.ratio):
            return self.requested_interpolation
        from .stability import linearise, stable_choice

        linearisation = linearise(self.model, self._ctrl_to if self.model.num_controls else None)
        chosen, radii = stable_choice(linearisation, self.requested_interpolation, self.ratio)
        self.stability = {"spectral_radius": radii, "fixed_point_converged": linearisation.converged}
        if chosen != self.requested_interpolation:
            requested = self.requested_interpolation
            why = ("has no form below the training rate" if requested == "allpass" and self.ratio < 1 else
                   f"is predicted unstable at {self.sample_rate:g} Hz")
            radius = radii[requested]
            warnings.warn(f"{self.model.name}: {requested} {why} (R = {self.ratio:.4g}"
                          + ("" if radius != radius else f", spectral radius {radius:.4f}")
                          + f"); running {chosen} instead", StabilityWarning, stacklevel=4)
        return chosen

    def reset(self):
        """Return every channel to the model's initial state; pending control values apply at once.

        Allocates nothing.
        """
        self._hist[:] = self._network.initial_state
        self._memory[:] = self._network.initial_state  # ŝ_{−1}: the read of a history at rest
        self._pos[:] = 0
        self._ctrl_from[:] = self._ctrl_to
        self._fresh = True

    # -- controls ----------------------------------------------------------------------------

    def set_controls(self, values):
        """Set the control inputs (knobs) of a conditioned model.

        The new values are ramped linearly across the next ``process`` call; set before the
        first block or right after ``reset`` they apply at once.

        Parameters
        ----------
        values : sequence of float
            One finite value per control input (``model.num_controls``).

        Raises
        ------
        ControlError
            If the count is wrong or a value is not a finite number.
        """
        try:
            array = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ControlError(f"controls must be numbers, got {values!r}") from None
        if array.size != self._ctrl_to.size:
            raise ControlError(
                f"{self.model.name} takes {self._ctrl_to.size} control value(s), got {array.size}"
            )
        if not np.all(np.isfinite(array)):
            raise ControlError(f"control values must be finite, got {values!r}")
        if np.any(np.abs(array) > np.finfo(np.float32).max):
            raise ControlError(f"control values must fit in float32 (±{np.finfo(np.float32).max:.4g}), got {values!r}")
        self._ctrl_to[:] = array
        if self._fresh:
            self._ctrl_from[:] = self._ctrl_to

    @property
    def controls(self):
        """The control values in effect after the latest process() call (float32 copy)."""
        return self._ctrl_to.copy()

    # -- processing --------------------------------------------------------------------------

    def process(self, x, out=None):
        """Process the next block of audio.

        Parameters
        ----------
        x : numpy.ndarray
            float32, shape (n,) when channels == 1, else (n, channels); any n.
        out : numpy.ndarray, optional
            float32 C-contiguous array of x's shape to write into (then nothing is allocated).

        Returns
        -------
        numpy.ndarray
            ``out``, or a new float32 array of x's shape.

        Raises
        ------
        AudioInputError
            If x or out has the wrong dtype or shape, or out is not C-contiguous and writeable.
        """
        frames = self._as_frames(x, "x")
        if out is None:
            result = np.empty(x.shape, np.float32)
        else:
            if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != x.shape:
                raise AudioInputError(f"out must be a float32 array of shape {x.shape}, got {_describe(out)}")
            if not out.flags.c_contiguous:
                raise AudioInputError("out must be C-contiguous")
            if not out.flags.writeable:
                raise AudioInputError("out is read-only, expected a writeable array")
            result = out
        out_frames = result.reshape(frames.shape)
        n = frames.shape[0]
        if n == 0:
            return result
        # A control change ramps across this whole call, however it is split into kernel blocks.
        ramping = not np.array_equal(self._ctrl_from, self._ctrl_to)
        ramp_length = n if ramping else 1
        for start in range(0, n, self.max_block_size):
            stop = min(start + self.max_block_size, n)
            self._run(frames[start:stop], out_frames[start:stop], start if ramping else 0, ramp_length)
        self._ctrl_from[:] = self._ctrl_to
        self._fresh = False
        return result

    def _run(self, x, y, ramp_done, ramp_length):
        kernels.process_block(*self._kernel_arguments(x, y, ramp_done, ramp_length))

    def _kernel_arguments(self, x, y, ramp_done, ramp_length):
        """The arguments of kernels.process_block for one block (x, y: C-contiguous (n, channels))."""
        net = self._network
        return (x, y, net.meta, net.params, self._hist, self._pos, self._act, self._gates, self._shat,
                self._tap_offset, self._taps, self._feedback, self._memory, self._ctrl_from, self._ctrl_to,
                ramp_done, ramp_length, self._input_gain, self._output_gain, self._skip)

    def kernel_slot(self):
        """This processor's model as one tuple for the live kernel (kernels.live_block).

        (meta, params, hist, pos, act, gates, shat, tap_offset, taps, feedback, memory, ctrl_from,
        ctrl_to, input_gain, output_gain, skip, initial_state): the arrays are the processor's own, so
        the kernel advances this processor's state. Controls are held (no ramp) in live use.
        """
        net = self._network
        self._ctrl_from[:] = self._ctrl_to
        return (net.meta, net.params, self._hist, self._pos, self._act, self._gates, self._shat,
                self._tap_offset, self._taps, self._feedback, self._memory, self._ctrl_from, self._ctrl_to,
                self._input_gain, self._output_gain, self._skip, net.initial_state)

    def _as_frames(self, x, name):
        """View x as C-contiguous (n, channels) float32, or raise AudioInputError."""
        if not isinstance(x, np.ndarray):
            raise AudioInputError(f"{name} must be a numpy float32 array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise AudioInputError(f"{name} must be float32 audio, got dtype {x.dtype} (convert with x.astype(np.float32))")
        expected = "(n,)" if self.channels == 1 else f"(n, {self.channels})"
        if self.channels == 1 and x.ndim != 1 or self.channels > 1 and (x.ndim != 2 or x.shape[1] != self.channels):
            raise AudioInputError(f"{name} has shape {x.shape}, expected {expected} for a {self.channels}-channel processor")
        if not x.flags.writeable:
            # A read-only array is a different numba type: passing it would compile the kernel
            # again (seconds) on the audio path. Copy instead.
            x = x.copy()
        return np.ascontiguousarray(x).reshape(x.shape[0], self.channels)

    def __repr__(self):
        return (f"Processor({self.model.name}: {self.model.sample_rate:g} Hz model at {self.sample_rate:g} Hz, "
                f"R = {self.ratio:.6g}, {self.interpolation}, {self.channels} channel(s))")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{name} must be a whole number ≥ 1, got {value!r}")
    return int(value)


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"dtype {value.dtype}, shape {value.shape}"
    return type(value).__name__
