"""Processor: a model prepared to run at one sample rate, streaming block by block.

Lifecycle (the same words as RTNeural and NeuralAmpModelerCore): ``prepare`` allocates every
array and compiles/warms the kernel with exactly the array types ``process`` passes; ``reset``
clears the state without allocating; ``process`` runs in real time, one kernel call per block
(or per thread and block, see ``threads``), allocating only the returned array (none with ``out=``).

A Processor serves one thread at a time: ``process``, ``prepare``, ``reset``, ``set_controls``
and ``close`` all touch the arrays the kernel is running on, so a call made while another thread
is inside one of them raises ConcurrencyError instead of corrupting memory.
"""


import warnings
import weakref

import numpy as np

from . import kernels
from .delay import DEFAULT_INTERPOLATION, INTERPOLATIONS, check_interpolation, history_slots, read_filter
from .errors import ArgumentError, AudioInputError, SampleRateError, StabilityWarning, quote
from .methods import AUTO, RESAMPLE, check_oversample
from .channel_threads import THREADED_FRAMES, ChannelThreads
from .controls import check_controls, knob_values  # noqa: F401  (part of this module's interface)
from .model import Model
from .thread_guard import busy, exclusive
from .packing import aligned_zeros, pack
from .rates import check_sample_rate, rate_ratio

__all__ = ["Processor", "INTERPOLATIONS", "MAX_CHANNELS", "MAX_BLOCK_SIZE", "MAX_THREADS"]

#: The most channels one Processor runs. 64 is a MADI stream, more than any audio interface or
#: surround/ambisonic format (7.1.4: 12; third-order ambisonics: 16) needs; beyond it a value is
#: a mistake (a frame count passed as channels), refused before anything is allocated.
MAX_CHANNELS = 64
#: The longest block one kernel call handles: 2**20 frames (21.8 s at 48 kHz). process() splits
#: longer inputs, and beyond a few thousand frames a longer block gains nothing; the threaded
#: path keeps two buffers of max_block_size frames for its workers' channels, so this bounds them
#: (at most 2 · 2**20 · 63 · 4 bytes ≈ 0.5 GB, with 64 channels on several threads).
MAX_BLOCK_SIZE = 2 ** 20
#: The most threads ``threads`` may ask for (never more than ``channels`` run).
MAX_THREADS = MAX_CHANNELS


#: The resampler arrays of a live slot whose model runs at the stream's rate (none: all empty).
_NO_PAIR = (np.zeros(0, np.int64),) + tuple(np.zeros(0, np.float32) for _ in range(7))

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
        "naive", no correction; "cubic"; "lagrange5"; "allpass"), or "resample": no read to
        correct, the model runs at its training rate (R = 1, exact) inside a streaming resampler
        pair (engine.resampler), delaying the output by ``latency`` samples. A method the stability rule
        (engine.stability.choose) predicts unstable for this model at its current knob values
        (see ``set_controls``) is replaced by the best stable one, with a StabilityWarning;
        ``interpolation`` then names what runs, ``requested_interpolation`` what was asked for,
        and ``stability`` holds the decision (an engine.stability.Choice: every verdict with its
        spectral radius and limit; None with ``check_stability=False``). Where every correcting
        read is predicted unstable (below the training rate), "resample" runs.
        "auto": at prepare, every candidate the stability rule allows is scored on a short
        built-in probe and the best runs (engine.auto; ~0.12 s for an LSTM-40 at 48 kHz, then
        cached on disk per model content, rate and knob values). ``interpolation`` names the
        read that runs, ``requested_interpolation`` stays "auto", ``auto`` holds the decision
        (an engine.auto.AutoChoice) and ``auto_scores`` every candidate's probe SNR. The
        stability rule applies to auto whatever ``check_stability`` says.
    check_stability : bool
        False runs the requested method even where it is predicted unstable. For evaluating the
        check itself (benchmarks/below_rate.py); never for audio anyone listens to.
    max_block_size : int
        The longest block one kernel call handles (at most MAX_BLOCK_SIZE = 2**20 frames); longer
        inputs are split.
    channels : int
        Independent channels, each with its own state (at most MAX_CHANNELS = 64); audio is
        (n, channels) when > 1.
    threads : int
        Run the channels on up to this many threads, at most MAX_THREADS = 64 (a small pool the
        processor keeps; the kernels release the GIL) for blocks of THREADED_FRAMES frames or more; shorter blocks run
        on the calling thread, as handing one to a thread costs more than it saves. The output is
        bit-identical to ``threads=1``.
    controls : sequence of float, optional
        The knob values of a conditioned model from the first sample on (checked as
        ``set_controls`` checks them), so that the stability check runs once, at the values
        that will play. Omitted, the knobs start at 0.
    oversample : int
        1 (the default), 2 or 4: run the model at that multiple of ``sample_rate`` inside the
        resampler pair (interpolating by that factor on the way in, filtering and decimating on
        the way back), its state read corrected to R = oversample · sample_rate / model rate
        (exact at integer R), to reduce the aliasing of high-gain models. With "resample" the
        model runs at oversample times its training rate (R = oversample, the exact delay).

    Raises
    ------
    ControlError
        If ``controls`` is invalid for the model.
    SampleRateError
        If ``sample_rate`` is not a positive number or R is outside the supported range.
    ArgumentError
        If ``interpolation``, ``oversample``, ``max_block_size``, ``channels`` or ``threads`` is
        invalid or above its cap.

    Notes
    -----
    One thread at a time: a method called while another thread is inside ``process``,
    ``prepare``, ``reset``, ``set_controls`` or ``close`` raises ConcurrencyError (an atomic
    try-take of a token, ≤ 50 ns per call; nothing waits).

    With the resampler pair (``resample`` or ``oversample`` > 1) every channel runs on the
    calling thread (``threads`` is kept for the state reads), and ``kernel_slot`` is refused:
    the live callback runs the model kernel alone. After ``prepare``: ``latency`` is the delay in
    samples at ``sample_rate`` (0 without the pair), ``inner_sample_rate`` the rate the model
    runs at, ``read_ratio`` the R its state read corrects (``ratio`` stays F_run / F_model).
    """

    def __init__(self, model, sample_rate, interpolation=DEFAULT_INTERPOLATION, max_block_size=4096, channels=1,
                 check_stability=True, threads=1, controls=None, oversample=1):
        if not isinstance(model, Model):
            raise ArgumentError(f"model must be an engine.Model (from engine.load_model), got {type(model).__name__}")
        self.model = model
        self.requested_interpolation = self.interpolation = check_interpolation(interpolation, allow_auto=True)
        self.auto = None
        self.oversample = check_oversample(oversample)
        self._resampler = None
        self.check_stability = bool(check_stability)
        self.channels = _positive_int(channels, "channels", MAX_CHANNELS, "MAX_CHANNELS")
        self.threads = min(_positive_int(threads, "threads", MAX_THREADS, "MAX_THREADS"), self.channels)
        _positive_int(max_block_size, "max_block_size", MAX_BLOCK_SIZE, "MAX_BLOCK_SIZE")  # before any thread starts
        # The processor's one token: a method takes it (list.pop is atomic) for as long as it
        # uses the kernel's arrays, and gives it back; a second thread finds the list empty.
        # threading.Lock.acquire(False) is the textbook guard, but costs 200–400 ns a call here
        # against ≤ 50 ns for pop and append (process() at 32 samples pays ~1.5 % per 100 ns).
        self._token = [True]
        self._network = net = pack(model)
        # The control values live in the header of the kernel's params: from, then to.
        n_controls = max(model.num_controls, 0)
        self._ctrl_from = net.params[kernels.P_CONTROLS:kernels.P_CONTROLS + n_controls]
        self._ctrl_to = net.params[kernels.P_CONTROLS + n_controls:kernels.P_CONTROLS + 2 * n_controls]
        if controls is not None:
            self._ctrl_to[:] = self._ctrl_from[:] = check_controls(model, controls)
        self._ramping = False
        self._header = net.meta[0]
        # Channel ranges, one per thread; the calling thread runs the first.
        bounds = np.linspace(0, self.channels, self.threads + 1).round().astype(int)
        self._groups = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._pool = ChannelThreads(self.threads - 1) if self.threads > 1 else None
        if self._pool is not None:
            weakref.finalize(self, self._pool.close)
        # Unguarded (no other thread holds this object yet), so that a StabilityWarning's
        # stacklevel still points at the caller's line.
        Processor.prepare.__wrapped__(self, sample_rate, max_block_size)

    # -- lifecycle ---------------------------------------------------------------------------

    @exclusive
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
        ConcurrencyError
            If another thread is using the processor.
        """
        # Validate everything before changing anything, so a refused prepare leaves the processor as it was.
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
        if max_block_size is not None:
            max_block_size = _positive_int(max_block_size, "max_block_size", MAX_BLOCK_SIZE, "MAX_BLOCK_SIZE")
        ratio = rate_ratio(sample_rate, self.model.sample_rate, self.model.path)
        oversampled = self._oversampled_ratio(sample_rate)
        if self.requested_interpolation == RESAMPLE:
            from .resampler.design import rate_fraction

            rate_fraction(sample_rate, self.oversample * self.model.sample_rate)  # refused here, before any change
        self.sample_rate, self.ratio, self._read_ratio_asked = sample_rate, ratio, oversampled
        if max_block_size is not None:
            self.max_block_size = max_block_size
        self.interpolation = self._stable_interpolation(stacklevel=4)
        self._configure()

    def _oversampled_ratio(self, sample_rate):
        """R for the state read at ``oversample`` · sample_rate (SampleRateError naming oversample if out of range)."""
        if self.oversample == 1:
            return rate_ratio(sample_rate, self.model.sample_rate, self.model.path)
        try:
            return rate_ratio(self.oversample * sample_rate, self.model.sample_rate, self.model.path)
        except SampleRateError as exc:
            raise SampleRateError(f"oversample={self.oversample} runs the model at {self.oversample * sample_rate:g} "
                                  f"Hz: {exc}") from None

    def _inner(self):
        """(the state read the kernel runs, its R, the model's run rate or None without a resampler pair)."""
        if self.interpolation == RESAMPLE:
            if self.oversample == 1 and self.ratio == 1.0:
                return "linear", 1.0, None  # already at the model's rate: nothing to resample, no latency
            # The model at oversample × its own rate: R = oversample, where linear is the exact delay.
            return "linear", float(self.oversample), self.oversample * self.model.sample_rate
        if self.oversample > 1:
            return self.interpolation, self._read_ratio_asked, self.oversample * self.sample_rate
        return self.interpolation, self.ratio, None

    def _configure(self):
        """Set the kernel's read for ``self.interpolation``, allocate its state history (and the
        resampler pair, if any), warm up, reset."""
        method, read_ratio, inner_rate = self._inner()
        self.read_ratio = read_ratio
        self.inner_sample_rate = self.sample_rate if inner_rate is None else float(inner_rate)
        self._resampler = None if inner_rate is None else self._make_resampler(inner_rate)
        self._tap_offset, self._taps, feedback = read_filter(method, read_ratio)
        if len(self._taps) > kernels.MAX_TAPS:
            raise ArgumentError(f"{self.interpolation} reads {len(self._taps)} past states; the kernels take at most "
                                f"{kernels.MAX_TAPS}")
        net = self._network
        slots = history_slots(self._tap_offset, self._taps)
        c = self.channels
        header = self._header
        header[kernels.H_TAP_OFFSET] = self._tap_offset
        header[kernels.H_TAPS] = len(self._taps)
        header[kernels.H_SLOTS] = slots
        header[kernels.H_RAMP_DONE], header[kernels.H_RAMP_LENGTH] = 0, 1
        net.params[kernels.P_TAPS:kernels.P_TAPS + kernels.MAX_TAPS] = 0
        net.params[kernels.P_TAPS:kernels.P_TAPS + len(self._taps)] = self._taps
        net.params[kernels.P_FEEDBACK] = feedback
        # 64-byte aligned, so no 16-float load or store straddles two cache lines.
        self._hist = aligned_zeros(c * slots * net.state_size)  # every model has a recurrent layer
        self._pos = np.zeros((c, kernels.CHANNEL_COLUMNS), np.int64)  # position and non-finite counters
        self._work = aligned_zeros(c * net.work_size)
        self._bind_arguments()
        # Compile (or load from numba's cache) with the exact argument types process() passes.
        warm = np.zeros(c, np.float32)
        self._run(warm, warm.copy())
        self._reset()

    def _make_resampler(self, inner_rate):
        """The resampler pair between ``sample_rate`` and ``inner_rate`` (engine.resampler)."""
        from .resampler.design import BELOW, OVERSAMPLED_BACK_CROSSINGS, plan
        from .resampler.pair import ResamplerPair

        if self.interpolation == RESAMPLE and self.oversample == 1:
            design = plan(self.sample_rate, inner_rate)
        else:
            # Oversampling is for aliasing: the way back stops everything above the stream's
            # Nyquist frequency before it decimates, rather than letting its transition band fold.
            design = plan(self.sample_rate, inner_rate, back_crossings=OVERSAMPLED_BACK_CROSSINGS, back_transition=BELOW)
        return ResamplerPair(design, self.channels)

    @property
    def latency(self):
        """The delay from input to output, in samples at ``sample_rate``: exact, a whole number.

        0 for a state read (the correction feeds the delayed state back, never outputs it); the
        resampler pair's round trip L for ``resample`` and ``oversample`` > 1: the output is the
        input's response L samples late (with a model that passes its input through, the
        impulse response is symmetric about sample L exactly; engine.resampler.design).
        """
        return 0 if self._resampler is None else self._resampler.latency

    def _stable_interpolation(self, stacklevel):
        """The requested method, or the best one predicted stable where it is not (stability.choose).

        An unstable choice must never run, so the rule picks the best stable method and a
        warning says so once. A conditioned model is judged at the control values it will run
        with (``_ctrl_to``).
        """
        self.stability = None
        if self.requested_interpolation == AUTO:
            return self._auto_interpolation(keep=False)
        if not self.check_stability:
            return self.requested_interpolation
        from .stability import choose

        # The read runs at oversample × the stream's rate, so it is judged at that R.
        possible = self._can_resample()
        self.stability = choose(self.model, self.requested_interpolation, self._read_ratio_asked,
                                self._ctrl_to if self.model.num_controls else None, resample_possible=possible)
        method = self.stability.method
        if self.stability.replaced:
            text = self.stability.explain(self.sample_rate)
            if not possible and method == "naive":
                text += f" ({self._no_pair()})"
            warnings.warn(f"{self.model.name}: {text}", StabilityWarning, stacklevel=stacklevel)
        return method

    def _no_pair(self):
        """Why the fallback passed over resample, for a warning."""
        return (f"resample cannot run between {self.sample_rate:g} Hz and "
                f"{self.oversample * self.model.sample_rate:g} Hz")

    def _can_resample(self):
        """Whether the resampler pair can run between sample_rate and oversample × the model's rate."""
        from .resampler.design import can_resample

        return can_resample(self.sample_rate, self.oversample * self.model.sample_rate)

    def _auto_interpolation(self, keep):
        """The read interpolation="auto" runs (engine.auto.choose_auto), with its stability decision.

        ``keep`` (a knob change): the read chosen at prepare stays while the stability rule
        still allows it at the new values (probing afresh on every knob move would cost a probe
        each, ~0.1 s); only when it does not is the choice made again at the new values.
        """
        from .auto import choose_auto
        from .stability import choose

        controls = self._ctrl_to if self.model.num_controls else None
        # The read runs at oversample × the stream's rate (inside the pair), so it is chosen and judged there.
        read_rate, possible = self.sample_rate * self.oversample, self._can_resample()
        if keep and self.auto is not None:
            self.stability = choose(self.model, self.interpolation, self._read_ratio_asked, controls,
                                    resample_possible=possible)
            if not self.stability.replaced:
                return self.interpolation
        self.auto = choose_auto(self.model, read_rate, controls, resample_possible=possible)
        self.stability = choose(self.model, self.auto.method, self._read_ratio_asked, controls,
                                self.auto.linearisation, resample_possible=possible)
        if self.stability.method == "naive" and self._read_ratio_asked != 1.0:
            # Only where every correcting read is forbidden and the pair cannot run: as a fixed method's
            # fallback to naive does, say so (the rate error is left in).
            warnings.warn(f"{self.model.name}: auto: no correcting read is stable at {self.sample_rate:g} Hz "
                          f"(R = {self._read_ratio_asked:.4g}) and {self._no_pair()}; running naive (uncorrected)",
                          StabilityWarning, stacklevel=4)
        return self.stability.method

    @property
    def auto_scores(self):
        """With interpolation="auto", {candidate: probe SNR in dB, or None where the stability rule
        forbids it} (engine.auto.AutoChoice.scores); else None."""
        return None if self.auto is None else self.auto.scores

    @exclusive
    def reset(self):
        """Return every channel to the model's initial state; pending control values apply at once.

        Allocates nothing.

        Raises
        ------
        ConcurrencyError
            If another thread is using the processor.
        """
        self._reset()

    def _reset(self):
        net = self._network
        self._work[:] = 0
        kernels.reset_state(net.meta, net.params, self._hist, self._pos, self._work)
        if self._resampler is not None:
            self._resampler.reset()
        self._ctrl_from[:] = self._ctrl_to
        self._ramping = False
        self._update_fast_path()
        self._fresh = True

    # -- controls ----------------------------------------------------------------------------

    @exclusive
    def set_controls(self, values):
        """Set the control inputs (knobs) of a conditioned model.

        The new values are ramped linearly across the next ``process`` call; set before the
        first block or right after ``reset`` they apply at once.

        Where the requested method's verdict came from the linearised check (``stability.checked``:
        reads that extrapolate or sit off-centre, see engine.stability), knobs move the model's
        dynamics, so new values are checked again (milliseconds at hidden size 40; see
        engine.stability for the cost). If the method running is predicted unstable at the new
        values, the best stable one replaces it (a StabilityWarning says so) and, if audio has already
        been processed, the state restarts from the model's initial state, as after ``reset``,
        with the new values in effect at once; when the knobs return where the requested method
        is stable again, it comes back the same way.

        Parameters
        ----------
        values : sequence of float
            One finite value per control input (``model.num_controls``).

        Raises
        ------
        ControlError
            If the count is wrong or a value is not a finite number.
        ConcurrencyError
            If another thread is using the processor.
        """
        array = check_controls(self.model, values)
        changed = not np.array_equal(self._ctrl_to, array.astype(np.float32))
        self._ctrl_to[:] = array
        if self._fresh:
            self._ctrl_from[:] = self._ctrl_to
        self._ramping = not np.array_equal(self._ctrl_from, self._ctrl_to)
        self._update_fast_path()
        # Knobs move the verdict only where the linearised check decided it.
        if changed and self.stability is not None and self.stability.checked:
            chosen = (self._auto_interpolation(keep=True) if self.requested_interpolation == AUTO
                      else self._stable_interpolation(stacklevel=4))
            if chosen != self.interpolation:
                self.interpolation = chosen
                self._configure()  # resets: the new values apply at once

    @property
    def controls(self):
        """The control values in effect after the latest process() call (float32 copy)."""
        return self._ctrl_to.copy()

    @property
    def repairs(self):
        """What the non-finite guard did since ``prepare``, summed over the channels.

        Returns
        -------
        dict
            ``non_finite_input``: input samples that were NaN or infinite (or became so through
            the model's input gain), processed as 0; ``non_finite_output``: output samples that
            would have been NaN or infinite, written as 0; ``state_resets``: times such an output
            restarted a channel from the model's initial state.
        """
        totals = self._pos.sum(axis=0)
        return {"non_finite_input": int(totals[kernels.POS_BAD_INPUT]),
                "non_finite_output": int(totals[kernels.POS_BAD_OUTPUT]),
                "state_resets": int(totals[kernels.POS_STATE_RESETS])}

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
            ``out``, or a new float32 array of x's shape. Always finite: an input sample that is
            NaN or infinite is processed as 0; an output sample that would not be finite (a model
            whose weights or gains overflow float32) is written as 0 and, where the network
            itself produced it, the channel restarts from the model's initial state, so one bad
            sample never poisons the blocks after it. ``repairs`` counts each case.

        Raises
        ------
        AudioInputError
            If x or out has the wrong dtype or shape, or out is not C-contiguous and writeable.
        ConcurrencyError
            If another thread is using the processor (see the class notes).
        """
        # The token first (see __init__): prepare() on another thread swaps the arrays the kernel
        # runs on, and two kernels on one state write over each other.
        token = self._token
        try:
            token.pop()
        except IndexError:
            raise busy("process") from None
        try:
            # The real-time case in as few Python operations as possible (at 32 samples a block,
            # every 100 ns here costs ~1.5% of the work): mono, out given, one kernel call, no
            # ramp. numba's dispatcher checks the array types (process_block has one signature and
            # never compiles another): anything else raises TypeError, and _process explains or copies.
            if self._single_call:
                try:
                    n = len(x)  # both 1-D (the kernel's signature), so equal lengths mean equal shapes
                    if n == len(out) and 0 < n <= self.max_block_size:
                        self._kernel(x, out, *self._arguments)
                        self._fresh = False
                        return out
                except TypeError:
                    pass
            return self._process(x, out)
        finally:
            token.append(True)

    def _process(self, x, out):
        """process() for every case but the fast one (the caller holds the token)."""
        frames = self._as_frames(x, "x")
        if out is None:
            result = np.empty(x.shape, np.float32)
            out_frames = result.reshape(-1)
        else:
            out_frames = self._as_output(out, x.shape)
            result = out
        n = x.shape[0]
        if n == 0:
            return result
        if n <= self.max_block_size and not self._ramping:
            self._run(frames, out_frames)
        else:
            # A control change ramps across this whole call, however it is split into kernel blocks.
            header = self._header
            resampler = self._resampler
            if self._ramping:
                # With a resampler pair the model sees inner frames, and its kernel advances H_RAMP_DONE itself.
                header[kernels.H_RAMP_LENGTH] = n if resampler is None else max(1, resampler.inner_frames(n))
            header[kernels.H_RAMP_DONE] = 0
            c = self.channels
            for start in range(0, n, self.max_block_size):
                stop = min(start + self.max_block_size, n)
                if resampler is None:
                    header[kernels.H_RAMP_DONE] = start if self._ramping else 0
                self._run(frames[start * c:stop * c], out_frames[start * c:stop * c])
            header[kernels.H_RAMP_DONE], header[kernels.H_RAMP_LENGTH] = 0, 1
            self._ctrl_from[:] = self._ctrl_to
            self._ramping = False
            self._update_fast_path()
        self._fresh = False
        if out is not None and not np.shares_memory(out_frames, out):
            out.reshape(-1)[:] = out_frames  # an unaligned out (see _as_output)
        return result

    def _run(self, x, y):
        """One kernel call per thread over one block (x, y: (n · channels,) float32, C-contiguous)."""
        if self._resampler is not None:  # every channel on this thread (see the class notes)
            self._kernel(x, y, *self._arguments)
            return
        n = len(x) // self.channels
        if self._pool is None or n < THREADED_FRAMES:
            kernels.process_block(x, y, *self._arguments)
            return
        # Each worker runs its channels as a processor of its own: its slice of the state, and
        # its own copies of the audio. Writing its outputs into the shared interleaved y would put
        # two threads' stores in the same cache lines every sample (false sharing, measured 1.5x
        # slower than one thread); the calling thread copies them in afterwards.
        frames_in, frames_out = x.reshape(n, self.channels), y.reshape(n, self.channels)
        jobs = []
        for (first, stop), x_own, y_own, state in self._workers:
            size = n * (stop - first)
            x_own[:size].reshape(n, stop - first)[:] = frames_in[:, first:stop]
            jobs.append((x_own[:size], y_own[:size], *state))
        self._pool.start(jobs)
        first, stop = self._groups[0]
        kernels.process_block(x, y, *self._arguments[:-2], first, stop)
        self._pool.wait()
        for (first, stop), _, y_own, _ in self._workers:
            frames_out[:, first:stop] = y_own[:n * (stop - first)].reshape(n, stop - first)

    def _bind_arguments(self):
        """The kernel arguments after x and y, and each worker thread's (prepare and close)."""
        net = self._network
        self._arguments = (net.meta, net.params, self._hist, self._pos, self._work, 0, self.channels)
        self._kernel = kernels.process_block
        self._workers = []
        if self._resampler is not None:
            from .resampler.kernels import resampled_block

            self._kernel = resampled_block
            self._arguments = self._resampler.arguments + (net.meta, net.params, self._hist, self._pos, self._work)
        elif self._pool is not None:
            history = len(self._hist) // self.channels
            work = len(self._work) // self.channels
            for first, stop in self._groups[1:]:
                size = self.max_block_size * (stop - first)
                state = (net.meta, net.params, self._hist[first * history:stop * history], self._pos[first:stop],
                         self._work[first * work:stop * work], 0, stop - first)
                self._workers.append(((first, stop), aligned_zeros(size), aligned_zeros(size), state))
        self._update_fast_path()

    def _update_fast_path(self):
        """Whether mono blocks may take process()'s fast path (no threads, no ramp pending)."""
        self._single_call = (self.channels == 1 and (self._pool is None or self._resampler is not None)
                             and not self._ramping)

    def _kernel_arguments(self, x, y):
        """The arguments of kernels.process_block for one block of every channel
        (x, y: (n · channels,) float32, C-contiguous, channels interleaved)."""
        return (x, y) + self._arguments

    def history(self):
        """The recurrent state history: a read-only view (channels, slots, state values) of what the
        kernel keeps (per slot, each recurrent layer's [h; c] or h, zero-padded to whole lanes, in
        layer order); at rest on a constant input every slot holds the same state."""
        slots = int(self._header[kernels.H_SLOTS])
        view = self._hist.reshape(self.channels, slots, self._network.state_size).view()
        view.flags.writeable = False
        return view

    def kernel_slot(self):
        """This processor's model as one tuple for the live kernel (engine.live.mixer.live_block).

        (meta, params, hist, pos, work, then the resampler pair's eight arrays), indexed by
        engine.live.mixer.SLOT_*: the arrays are the processor's own, so the kernel advances this
        processor's state. Without a pair (a state read at the stream's rate) the last eight are
        empty. Controls are held (no ramp) in live use. ``prepare`` and a ``set_controls`` that
        changes the method reallocate the state: a slot taken before either is stale and must be
        taken again.

        Not guarded by the one-thread token (see the class notes): the live chain calls it from the
        controlling thread while the callback is stopped, and it only writes header values.
        """
        net = self._network
        self._ctrl_from[:] = self._ctrl_to
        self._ramping = False
        self._header[kernels.H_RAMP_DONE], self._header[kernels.H_RAMP_LENGTH] = 0, 1
        self._update_fast_path()
        pair = self._resampler.arguments if self._resampler is not None else _NO_PAIR
        return (net.meta, net.params, self._hist, self._pos, self._work) + tuple(pair)

    @exclusive
    def close(self):
        """Stop the channel threads (if any). The processor still works afterwards, on one thread.

        Raises
        ------
        ConcurrencyError
            If another thread is using the processor.
        """
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            self._groups = [(0, self.channels)]
            self._bind_arguments()

    def _as_frames(self, x, name):
        """x as a C-contiguous (n · channels,) float32 array (a view when it can be), or raise AudioInputError."""
        if type(x) is np.ndarray and x.dtype is _FLOAT32:  # the common case, in a few hundred ns
            flags = x.flags
            if flags.c_contiguous and flags.writeable and flags.aligned:
                if self.channels == 1:
                    if x.ndim == 1:
                        return x
                elif x.ndim == 2 and x.shape[1] == self.channels:
                    return x.reshape(-1)
        if not isinstance(x, np.ndarray):
            raise AudioInputError(f"{name} must be a numpy float32 array, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise AudioInputError(f"{name} must be float32 audio, got dtype {x.dtype} (convert with x.astype(np.float32))")
        expected = "(n,)" if self.channels == 1 else f"(n, {self.channels})"
        if self.channels == 1 and x.ndim != 1 or self.channels > 1 and (x.ndim != 2 or x.shape[1] != self.channels):
            raise AudioInputError(f"{name} has shape {x.shape}, expected {expected} for a {self.channels}-channel processor")
        # A read-only, strided or unaligned array is a different numba type, which the kernel
        # (compiled for one signature) refuses. Copy it.
        return np.array(x, np.float32, order="C").reshape(-1)

    def _as_output(self, out, shape):
        """out as a writeable (n · channels,) view, or raise AudioInputError.

        An unaligned out (a float32 view at an odd byte offset: rare) is a different numba type,
        so the kernel writes a fresh array that process() then copies into out.
        """
        if type(out) is np.ndarray and out.dtype is _FLOAT32 and out.shape == shape:
            flags = out.flags
            if flags.c_contiguous and flags.writeable:
                frames = out if out.ndim == 1 else out.reshape(-1)
                return frames if flags.aligned else np.empty(frames.shape, np.float32)
        if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != shape:
            raise AudioInputError(f"out must be a float32 array of shape {shape}, got {_describe(out)}")
        if not out.flags.c_contiguous:
            raise AudioInputError("out must be C-contiguous")
        if not out.flags.writeable:
            raise AudioInputError("out is read-only, expected a writeable array")
        return out.reshape(-1)

    def __repr__(self):
        extra = f", oversample {self.oversample}" if self.oversample > 1 else ""
        if self.latency:
            extra += f", latency {self.latency} samples"
        return (f"Processor({self.model.name}: {self.model.sample_rate:g} Hz model at {self.sample_rate:g} Hz, "
                f"R = {self.ratio:.6g}, {self.interpolation}{' (auto)' if self.auto is not None else ''}{extra}, "
                f"{self.channels} channel(s))")


_FLOAT32 = np.dtype(np.float32)
def _positive_int(value, name, cap, cap_name):
    """value as an int from 1 to cap, or raise ArgumentError naming ``name`` and the cap's constant."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{name} must be a whole number ≥ 1, got {quote(value)}")
    if value > cap:
        raise ArgumentError(f"{name} is {quote(value)}, above the cap of {cap} (engine.processor.{cap_name})")
    return int(value)


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"dtype {value.dtype}, shape {value.shape}"
    return type(value).__name__
