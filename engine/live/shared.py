"""The memory the compiled audio callback shares with Python: its layout, and the Python side of it.

The callback (engine.live.callback) is handed one pointer, userData: the address of ``header``,
an int64 array of the addresses and sizes of every array it touches. Everything is allocated
(and every page written once, so the audio thread takes no page fault) before the stream starts;
the callback never allocates, locks or touches a Python object. Each array has one writer:

===================  ==========  ===============================================================
array                written by  holds
===================  ==========  ===============================================================
request, values      Python      what the user asked for (model, bypass, gains, knobs): a seqlock
state                callback    the chain's state (playing model, fade, bypass, what is applied)
counters             callback    callbacks, frames, xruns by kind, DSP time, applied requests
ring, ring_peaks     callback    per block: start, duration, status flags, frames; peaks in/out
events               callback    per accepted request: the stream frame it took effect, its seq
capture_in/_out      callback    the first ``capture_frames`` frames received and produced
mix, levels, mixed   callback    the mixer's gains, limiter and counters (engine.live.mixer)
===================  ==========  ===============================================================

The request protocol (a seqlock: the writer never waits, the reader never waits either).
Python writes the *desired state*, not events: ``request[R_MODEL]`` is the model to play,
``request[R_BYPASS]`` whether bypass is on, and a change of ``request[R_GAINS]`` or
``request[R_CONTROLS + k]`` (a generation number) says new gains or new knob values for model k
are in ``values``. A write makes ``request[R_SEQ]`` odd, changes the fields, then makes it even
again (callback.seqlock_open / seqlock_close, with store fences, so the order holds on any CPU).
At each block boundary the callback reads R_SEQ; if it is even and new, it copies request and
values, reads R_SEQ again and keeps the copy only if it did not change meanwhile (else it tries
at the next block). So it never sees half a write (a knob vector half old and half new, which
the stability check never saw), and a writer preempted mid-write only delays its own request.
Several Python threads may write: they take a threading.Lock among themselves, which the audio
thread never touches.
"""

import threading

import numpy as np

#: The most models one session holds (keys 1-9).
MAX_MODELS = 9
#: Blocks of history the timing ring keeps (2**16: 175 s at 48 kHz in blocks of 128).
RING_BLOCKS = 1 << 16
#: Accepted requests the event log keeps (a ring).
EVENT_SLOTS = 256
MAGIC = 0x4C49564531  # "LIVE1": the callback refuses any other userData

# ---- header: int64, addresses (arr.ctypes.data) and sizes ---------------------------------------
H_MAGIC = 0
H_IN_CHANNELS = 1      # channels of the input buffer PortAudio hands over (interleaved)
H_OUT_CHANNELS = 2     # channels of the output buffer
H_BLOCK = 3            # frames per chain step (the session's block size); longer callbacks are split
H_IN_INDEX = 4         # the input channel the chain reads (0-based)
H_OUT_LIST = 5         # int64[H_OUT_COUNT]: the output channels the chain writes (0-based)
H_OUT_COUNT = 6
H_X = 7                # float32 (block, 1): the gained input
H_YA = 8               # float32 (block, 1): model A's output
H_YB = 9               # float32 (block, 1): model B's output
H_MIX = 10             # float32[mixer.MIX_SIZE]
H_LEVELS = 11          # float32[2]: the mixer's peaks (cleared by the callback each block)
H_MIXED = 12           # int64[mixer.COUNTERS_SIZE]: the mixer's counters (muted blocks, limited samples)
H_COUNTERS = 13        # int64[COUNTERS_SIZE]
H_STATE = 14           # int64[STATE_SIZE]
H_REQUEST = 15         # int64[REQUEST_SIZE]
H_VALUES = 16          # float32[values_size]
H_SCRATCH = 17         # int64[REQUEST_SIZE]: the callback's first copy of a request …
H_SCRATCH_VALUES = 18  # float32[values_size]
H_ACCEPTED = 19        # int64[REQUEST_SIZE]: … and the last one that was read whole
H_ACCEPTED_VALUES = 20  # float32[values_size]
H_VALUES_SIZE = 21
H_SETTINGS = 22        # float32[SETTINGS_SIZE]
H_LIMITER = 23         # 1: the limiter is on
H_NS_PER_FRAME = 24    # float64[1]: 1e9 / sample rate
H_TIMESPEC = 25        # int64[2]: clock_gettime's struct timespec
H_GAP_DETECT = 26      # 1: count timing gaps (a stream); 0: offline rendering through the callback
H_RING = 27            # int64 (RING_BLOCKS, RING_COLUMNS)
H_RING_PEAKS = 28      # float32 (RING_BLOCKS, 2)
H_RING_SIZE = 29       # RING_BLOCKS (a power of two)
H_EVENTS = 30          # int64 (EVENT_SLOTS, EVENT_COLUMNS)
H_EVENT_SLOTS = 31
H_CAPTURE_IN = 32      # float32[capture_frames]: the raw input channel, from the stream's first frame
H_CAPTURE_OUT = 33     # float32[capture_frames]: the first output channel
H_CAPTURE_FRAMES = 34
H_ZERO_IN = 35         # float32 (block, in_channels) of zeros: read when PortAudio passes no input
H_SPARE_OUT = 36       # float32 (block, out_channels): written when PortAudio passes no output
H_MODELS = 37          # how many model slots follow
H_MAX_CONTROLS = 38    # knob values per model in ``values`` (the most any model has, ≥ 1)
H_PEAKS = 39           # float32[2]: the largest input / output peak since the start
# The chain's stages around the models (engine.dsp; ChainStages below): which run, and their arrays.
H_STAGES = 40          # bits STAGE_GATE, STAGE_EQ, STAGE_CABINET: the stages that run
H_GATE_PARAMS = 41     # float64[GATE_PARAMS_SIZE] (engine.dsp.gate)
H_GATE_STATE = 42      # float64[GATE_STATE_SIZE]
H_EQ_PARAMS = 43       # float64[EQ_PARAMS_SIZE] (engine.dsp.eq)
H_EQ_STATE = 44        # float64[EQ_STATE_SIZE]
H_CAB_LAYOUT = 45      # the convolver's arrays (engine.dsp.convolver.ConvolverArrays): int64 layout …
H_CAB_LAYOUT_SIZE = 46
H_CAB_COEFFS = 47      # … float32 coeffs …
H_CAB_COEFFS_SIZE = 48
H_CAB_STATE = 49       # … float32 state …
H_CAB_STATE_SIZE = 50
H_CAB_PARAMS = 51      # … float32 params
H_CAB_PARAMS_SIZE = 52
H_XG = 53              # float32 (block, 1): the gated input the models play
H_WET = 54             # float32 (block, 1): the models' mix, then through EQ and cabinet
H_SLOTS = 55           # first field of model slot 0
HEADER_FIELDS = H_SLOTS

# A model slot in the header: the arrays of one Processor (Processor.kernel_slot), k-th slot at
# H_SLOTS + k * SLOT_FIELDS.
SL_META = 0
SL_META_ROWS = 1
SL_META_COLUMNS = 2
SL_PARAMS = 3
SL_PARAMS_SIZE = 4
SL_HIST = 5
SL_HIST_SIZE = 6
SL_POS = 7
SL_POS_ROWS = 8
SL_POS_COLUMNS = 9
SL_WORK = 10
SL_WORK_SIZE = 11
# The model's resampler pair (interpolation "resample", oversample > 1; engine.resampler): the
# eight arrays of ResamplerPair.arguments as (address, size) pairs from SL_RS on, in that order;
# sizes 0 for a model that runs at the stream's rate.
SL_RS = 12
RESAMPLER_ARRAYS = 8
SLOT_FIELDS = SL_RS + 2 * RESAMPLER_ARRAYS
HEADER_SIZE = H_SLOTS + MAX_MODELS * SLOT_FIELDS

# ---- request (Python → callback) -------------------------------------------------------------------
R_SEQ = 0         # the seqlock: odd while Python writes
R_MODEL = 1       # the model to play (0-based)
R_BYPASS = 2      # 1: bypass on
R_GAINS = 3       # generation of the gains in values[V_INPUT_GAIN], values[V_OUTPUT_GAIN]
R_CONTROLS = 4    # R_CONTROLS + k: generation of model k's knob values
R_STAGES = R_CONTROLS + MAX_MODELS  # generation of the stage values (gate threshold, EQ gains, cabinet mix and level)
REQUEST_SIZE = R_STAGES + 1
V_INPUT_GAIN = 0  # linear
V_OUTPUT_GAIN = 1
V_GATE_THRESHOLD = 2  # dBFS
V_EQ_GAINS = 3    # dB: bass, mid, treble, presence (engine.dsp.eq band order)
V_CABINET_MIX = 7
V_CABINET_LEVEL = 8  # dB
V_CONTROLS = 9    # model k's knob j at V_CONTROLS + k * max_controls + j

# Bits of header[H_STAGES].
STAGE_GATE = 1
STAGE_EQ = 2
STAGE_CABINET = 4

# ---- state (the callback's own; Python only reads it) ------------------------------------------------
S_CURRENT = 0     # the model playing (A)
S_INCOMING = 1    # the model fading in (B), or −1
S_FADING = 2      # 1 while A → B crossfades
S_BYPASSED = 3
S_CHANGES = 4     # model switches and bypass toggles applied
S_SEEN = 5        # the request seq last accepted
S_GAINS = 6       # the gains generation applied
S_PREV_END = 7    # clock (ns) at the end of the previous callback; 0 before the first
S_CYCLE_START = 8  # clock (ns) at the start of the current host cycle
S_CYCLE_FRAMES = 9  # frames processed since then
S_RAMPING_A = 10  # k + 1 while model k (playing as A) ramps its knobs in the current block, else 0
S_RAMPING_B = 11  # the same for the model fading in
S_FIRST_START = 12  # clock (ns) at the first callback since the stream (re)started …
S_FIRST_FRAME = 13  # … and the stream frame it began with
S_BASELINE = 14   # the earliest a host cycle has started relative to the audio clock (ns; see callback)
S_LAG = 15        # how late (ns) the previous host cycle started relative to the audio clock
S_CYCLE_FLAGS = 16  # the statusFlags seen so far in the current host cycle
S_CONTROLS = 20   # S_CONTROLS + k: the knob generation applied to model k
S_STAGES = S_CONTROLS + MAX_MODELS  # the stage-values generation applied
STATE_SIZE = S_STAGES + 1

# ---- counters (the callback's; Python reads) ----------------------------------------------------------
C_CALLBACKS = 0       # callbacks completed (written last in each callback)
C_FRAMES = 1          # frames processed
C_XRUN_BLOCKS = 2     # host cycles with an xrun flag from PortAudio, plus timing gaps
C_FLAGGED = 3         # host cycles whose statusFlags had an underflow or overflow bit (per-flag counts below)
C_INPUT_UNDERFLOW = 4
C_INPUT_OVERFLOW = 5
C_OUTPUT_UNDERFLOW = 6
C_OUTPUT_OVERFLOW = 7
C_PRIMING = 8         # priming output (not an xrun)
C_GAPS = 9            # timing gaps: host cycles lost (audio missing against the clock), as events
C_MAX_GAP = 10        # the longest interval between two host cycles (ns)
C_BUSY = 11           # total time inside the callback (ns)
C_MAX_BUSY = 12       # the longest callback (ns)
C_REQUESTS = 13       # requests accepted
C_TORN = 14           # request reads discarded because Python was writing (retried next block)
C_LOST_FRAMES = 15    # frames the timing gaps lost (whole host cycles)
COUNTERS_SIZE = 16

# Status flag bits (PaStreamCallbackFlags).
INPUT_UNDERFLOW = 1
INPUT_OVERFLOW = 2
OUTPUT_UNDERFLOW = 4
OUTPUT_OVERFLOW = 8
PRIMING_OUTPUT = 16
XRUN_FLAG_BITS = 15
XRUN_FLAGS = (("input_underflow", C_INPUT_UNDERFLOW), ("input_overflow", C_INPUT_OVERFLOW),
              ("output_underflow", C_OUTPUT_UNDERFLOW), ("output_overflow", C_OUTPUT_OVERFLOW))

# ---- ring (per callback) and events (per accepted request) ---------------------------------------------
RING_START = 0     # clock (ns) at the callback's start
RING_DURATION = 1  # ns spent in it
RING_STATUS = 2    # its statusFlags
RING_FRAMES = 3
RING_GAP = 4       # 1: it started a host cycle late (a timing gap)
RING_COLUMNS = 5
EVENT_FRAME = 0    # the stream frame (block boundary) at which the request was accepted
EVENT_SEQ = 1
EVENT_COLUMNS = 2

# ---- settings (float32) -------------------------------------------------------------------------------
SET_CEILING = 0
SET_RELEASE = 1
SETTINGS_SIZE = 2

# A new host cycle starts with a callback that begins more than this fraction of a block after
# the previous one ended (PortAudio runs the callbacks of one host buffer back to back).
CYCLE_IDLE_FRACTION = 0.25
# Audio lost against the clock by more than this many host cycles, at two cycle starts in a row,
# is a timing gap (see callback: one late cycle followed by an on-time one loses nothing).
LOST_CYCLES = 0.5
# How fast (ns per ns) the audio clock may drift from the system clock without counting as lost
# audio: a sound card's crystal is within ~100 ppm of the system's.
CLOCK_SKEW = 500e-6


def _touched(array):
    """``array`` with every page written once, so the audio thread never takes a first-touch fault."""
    array.fill(0)
    return array


class SharedState:
    """Every array the callback touches, and the header that points at them.

    Keep this object alive as long as any stream uses its header: the header holds raw addresses.

    Parameters
    ----------
    processors : list of Processor
        The models, prepared for the block size; each one's arrays are reached through its slot.
    block_size : int
    in_channels, out_channels : int
        Channels of the buffers the callback receives.
    in_index : int
        The input channel the chain reads (0-based).
    out_list : sequence of int
        The output channels it writes (0-based).
    sample_rate : float
    mix, levels, mixed : numpy.ndarray
        The mixer's arrays (engine.live.mixer), owned by the chain.
    settings : numpy.ndarray
        float32[SETTINGS_SIZE]: limiter ceiling and release.
    limiter : bool
    capture_frames : int
        Frames of input and output the callback records from the stream's start (0: none).
    stages : ChainStages, optional
        The gate, EQ and cabinet around the models (default: none).
    """

    def __init__(self, processors, block_size, in_channels, out_channels, in_index, out_list, sample_rate,
                 mix, levels, mixed, settings, limiter, capture_frames=0, stages=None):
        if not 1 <= len(processors) <= MAX_MODELS:
            raise ValueError(f"a live chain holds 1 to {MAX_MODELS} models, got {len(processors)}")
        self.processors = list(processors)
        self.block_size = int(block_size)
        self.max_controls = max([max(p.model.num_controls, 0) for p in processors] + [1])
        values_size = V_CONTROLS + MAX_MODELS * self.max_controls
        self.out_list = np.array(out_list, np.int64)
        self.x = _touched(np.zeros((block_size, 1), np.float32))
        self.ya = _touched(np.zeros((block_size, 1), np.float32))
        self.yb = _touched(np.zeros((block_size, 1), np.float32))
        self.mix, self.levels, self.mixed, self.settings = mix, levels, mixed, settings
        self.counters = _touched(np.zeros(COUNTERS_SIZE, np.int64))
        self.state = _touched(np.zeros(STATE_SIZE, np.int64))
        self.request = _touched(np.zeros(REQUEST_SIZE, np.int64))
        self.values = _touched(np.zeros(values_size, np.float32))
        self.scratch = _touched(np.zeros(REQUEST_SIZE, np.int64))
        self.scratch_values = _touched(np.zeros(values_size, np.float32))
        self.accepted = _touched(np.zeros(REQUEST_SIZE, np.int64))
        self.accepted_values = _touched(np.zeros(values_size, np.float32))
        self.ns_per_frame = np.array([1e9 / float(sample_rate)], np.float64)
        self.timespec = _touched(np.zeros(2, np.int64))
        self.ring = _touched(np.zeros((RING_BLOCKS, RING_COLUMNS), np.int64))
        self.ring_peaks = _touched(np.zeros((RING_BLOCKS, 2), np.float32))
        self.events = _touched(np.zeros((EVENT_SLOTS, EVENT_COLUMNS), np.int64))
        self.capture_frames = int(capture_frames)
        self.capture_in = _touched(np.zeros(max(self.capture_frames, 1), np.float32))
        self.capture_out = _touched(np.zeros(max(self.capture_frames, 1), np.float32))
        self.zero_in = _touched(np.zeros((block_size, in_channels), np.float32))
        self.spare_out = _touched(np.zeros((block_size, out_channels), np.float32))
        self.peaks = _touched(np.zeros(2, np.float32))
        self.xg = _touched(np.zeros((block_size, 1), np.float32))
        self.wet = _touched(np.zeros((block_size, 1), np.float32))
        self.stages = stages if stages is not None else ChainStages()
        h = self.header = _touched(np.zeros(HEADER_SIZE, np.int64))
        h[H_MAGIC] = MAGIC
        h[H_IN_CHANNELS], h[H_OUT_CHANNELS], h[H_BLOCK] = in_channels, out_channels, block_size
        h[H_IN_INDEX] = in_index
        h[H_OUT_LIST], h[H_OUT_COUNT] = self.out_list.ctypes.data, len(self.out_list)
        for field, array in ((H_X, self.x), (H_YA, self.ya), (H_YB, self.yb), (H_MIX, mix), (H_LEVELS, levels),
                             (H_MIXED, mixed), (H_COUNTERS, self.counters), (H_STATE, self.state),
                             (H_REQUEST, self.request), (H_VALUES, self.values), (H_SCRATCH, self.scratch),
                             (H_SCRATCH_VALUES, self.scratch_values), (H_ACCEPTED, self.accepted),
                             (H_ACCEPTED_VALUES, self.accepted_values), (H_SETTINGS, settings),
                             (H_NS_PER_FRAME, self.ns_per_frame), (H_TIMESPEC, self.timespec),
                             (H_RING, self.ring), (H_RING_PEAKS, self.ring_peaks), (H_EVENTS, self.events),
                             (H_CAPTURE_IN, self.capture_in), (H_CAPTURE_OUT, self.capture_out),
                             (H_ZERO_IN, self.zero_in), (H_SPARE_OUT, self.spare_out), (H_PEAKS, self.peaks),
                             (H_XG, self.xg), (H_WET, self.wet)):
            assert array.flags.c_contiguous
            h[field] = array.ctypes.data
        self.stages.write_header(h)
        h[H_VALUES_SIZE] = values_size
        h[H_LIMITER] = 1 if limiter else 0
        h[H_RING_SIZE], h[H_EVENT_SLOTS] = RING_BLOCKS, EVENT_SLOTS
        h[H_CAPTURE_FRAMES] = self.capture_frames
        h[H_MODELS], h[H_MAX_CONTROLS] = len(processors), self.max_controls
        self._lock = threading.Lock()
        self.bind_slots()

    def bind_slots(self):
        """Point the header at each processor's arrays (again: Processor.prepare and a method change reallocate them).

        Only while no stream runs the callback.
        """
        self._slots = [processor.kernel_slot() for processor in self.processors]
        for k in range(len(self._slots)):
            self._write_slot(k)

    def _write_slot(self, k):
        meta, params, hist, pos, work = self._slots[k][:5]
        base = H_SLOTS + k * SLOT_FIELDS
        h = self.header
        for array in self._slots[k]:
            assert array.flags.c_contiguous and array.ndim == (2 if array is meta or array is pos else 1)
        for j, array in enumerate(self._slots[k][5:]):
            h[base + SL_RS + 2 * j], h[base + SL_RS + 2 * j + 1] = array.ctypes.data, array.size
        h[base + SL_META], (h[base + SL_META_ROWS], h[base + SL_META_COLUMNS]) = meta.ctypes.data, meta.shape
        h[base + SL_PARAMS], h[base + SL_PARAMS_SIZE] = params.ctypes.data, params.size
        h[base + SL_HIST], h[base + SL_HIST_SIZE] = hist.ctypes.data, hist.size
        h[base + SL_POS], (h[base + SL_POS_ROWS], h[base + SL_POS_COLUMNS]) = pos.ctypes.data, pos.shape
        h[base + SL_WORK], h[base + SL_WORK_SIZE] = work.ctypes.data, work.size

    @property
    def userdata(self):
        """The address of the header: the callback's userData."""
        return int(self.header.ctypes.data)

    def reset(self, input_gain, output_gain):
        """Back to model 0, not bypassed, nothing requested, every counter and log cleared.

        Only while no stream runs the callback.
        """
        for array in (self.counters, self.state, self.request, self.values, self.scratch, self.scratch_values,
                      self.accepted, self.accepted_values, self.ring, self.ring_peaks, self.events,
                      self.capture_in, self.capture_out, self.peaks):
            array.fill(0)
        self.state[S_INCOMING] = -1
        self.stages.reset()
        stage_values = self.stages.values()
        for values in (self.values, self.accepted_values):
            values[V_INPUT_GAIN], values[V_OUTPUT_GAIN] = input_gain, output_gain
            values[V_GATE_THRESHOLD:V_CONTROLS] = stage_values
            for k, processor in enumerate(self.processors):
                n = max(processor.model.num_controls, 0)
                start = V_CONTROLS + k * self.max_controls
                values[start:start + n] = processor.controls

    # -- Python → callback ------------------------------------------------------------------------

    def write(self, model=None, bypass=None, gains=None, controls=None, stages=None):
        """Post a request; the callback applies it at its next block boundary.

        Parameters
        ----------
        model : int, optional
            The model to play (0-based; checked by the caller).
        bypass : bool, optional
        gains : (float, float), optional
            Linear input and output gains.
        controls : (int, numpy.ndarray), optional
            A model index and its new knob values (checked by the caller).
        stages : numpy.ndarray, optional
            float32[V_CONTROLS − V_GATE_THRESHOLD]: gate threshold, EQ gains, cabinet mix and level
            (ChainStages.values; checked by the caller).

        Returns
        -------
        int
            The request's sequence number (the callback logs it in ``events`` when it takes it).
        """
        from .callback import seqlock_close, seqlock_open

        request, values = self.request, self.values
        with self._lock:
            seqlock_open(request)
            try:
                if model is not None:
                    request[R_MODEL] = model
                if bypass is not None:
                    request[R_BYPASS] = 1 if bypass else 0
                if gains is not None:
                    values[V_INPUT_GAIN], values[V_OUTPUT_GAIN] = gains
                    request[R_GAINS] += 1
                if controls is not None:
                    k, knobs = controls
                    start = V_CONTROLS + k * self.max_controls
                    values[start:start + len(knobs)] = knobs
                    request[R_CONTROLS + k] += 1
                if stages is not None:
                    values[V_GATE_THRESHOLD:V_CONTROLS] = stages
                    request[R_STAGES] += 1
            finally:
                seqlock_close(request)
            return int(request[R_SEQ])

    # -- callback → Python ------------------------------------------------------------------------

    def blocks(self):
        """Callbacks completed so far."""
        return int(self.counters[C_CALLBACKS])

    def ring_rows(self, since=0):
        """(rows, peaks) of the timing ring for callbacks ``since`` … now (at most RING_BLOCKS of them).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, int)
            int64 (n, RING_COLUMNS) and float32 (n, 2) copies, and the callback count they end at.
        """
        end = self.blocks()
        start = max(since, end - RING_BLOCKS + 1)
        index = np.arange(start, end) & (RING_BLOCKS - 1)
        return self.ring[index].copy(), self.ring_peaks[index].copy(), end

    def accepted_at(self):
        """{request seq: stream frame at whose block boundary the callback took it} (the latest EVENT_SLOTS)."""
        count = int(self.counters[C_REQUESTS])
        rows = self.events[np.arange(max(0, count - EVENT_SLOTS), count) % EVENT_SLOTS]
        return {int(seq): int(frame) for frame, seq in rows}


class ChainStages:
    """The stages around the models that the callback runs, and the arrays it runs them on.

    The gate plays before the models (on their input only: bypass gives the plain input), the
    EQ and then the cabinet after them, on the models' mix. A stage left out (None) does not run;
    its header fields point at placeholder arrays of the right size, so the compiled code reads
    nothing out of bounds either way.

    Parameters
    ----------
    gate : engine.dsp.gate.NoiseGate, optional
    eq : engine.dsp.eq.Equalizer, optional
    cabinet : engine.dsp.cabinet.Cabinet, optional
        Each prepared at the chain's rate; the callback then owns their arrays' contents.
    """

    def __init__(self, gate=None, eq=None, cabinet=None):
        from ..dsp import eq as eq_module
        from ..dsp import gate as gate_module

        self.gate, self.eq, self.cabinet = gate, eq, cabinet
        self.gate_params = gate.params if gate is not None else np.zeros(gate_module.GATE_PARAMS_SIZE)
        self.gate_state = gate.state if gate is not None else np.zeros(gate_module.GATE_STATE_SIZE)
        self.eq_params = eq.params if eq is not None else np.zeros(eq_module.EQ_PARAMS_SIZE)
        self.eq_state = eq.state if eq is not None else np.zeros(eq_module.EQ_STATE_SIZE)
        if cabinet is not None:
            self.cabinet_arrays = tuple(cabinet.arrays)
        else:
            self.cabinet_arrays = (np.zeros(1, np.int64), np.zeros(1, np.float32), np.zeros(1, np.float32),
                                   np.zeros(1, np.float32))

    @property
    def bits(self):
        """header[H_STAGES]: which stages run."""
        return ((STAGE_GATE if self.gate is not None else 0) | (STAGE_EQ if self.eq is not None else 0)
                | (STAGE_CABINET if self.cabinet is not None else 0))

    def write_header(self, h):
        """Point the header at the stages' arrays."""
        h[H_STAGES] = self.bits
        for field, array in ((H_GATE_PARAMS, self.gate_params), (H_GATE_STATE, self.gate_state),
                             (H_EQ_PARAMS, self.eq_params), (H_EQ_STATE, self.eq_state)):
            assert array.dtype == np.float64 and array.flags.c_contiguous
            h[field] = array.ctypes.data
        for (field, size), array in zip(((H_CAB_LAYOUT, H_CAB_LAYOUT_SIZE), (H_CAB_COEFFS, H_CAB_COEFFS_SIZE),
                                         (H_CAB_STATE, H_CAB_STATE_SIZE), (H_CAB_PARAMS, H_CAB_PARAMS_SIZE)),
                                        self.cabinet_arrays):
            assert array.flags.c_contiguous and array.ndim == 1
            h[field], h[size] = array.ctypes.data, array.size

    #: The stage settings that can change while playing, in ``values`` order from V_GATE_THRESHOLD.
    LIVE_KEYS = ("gate_threshold_db", "eq_bass_db", "eq_mid_db", "eq_treble_db", "eq_presence_db", "cabinet_mix",
                 "cabinet_level_db")

    def values(self):
        """float32[7]: the live stage values now (LIVE_KEYS order); 0 for a stage that is off."""
        out = np.zeros(V_CONTROLS - V_GATE_THRESHOLD, np.float32)
        if self.gate is not None:
            out[0] = self.gate.settings.threshold_db
        if self.eq is not None:
            for b, band in enumerate(("bass", "mid", "treble", "presence")):
                out[1 + b] = getattr(self.eq.settings, f"{band}_db")
        if self.cabinet is not None:
            out[5], out[6] = self.cabinet.mix, self.cabinet.level_db
        return out

    def reset(self):
        """Every stage back to silence, at its configured settings (the stream is stopped)."""
        for stage in (self.gate, self.eq, self.cabinet):
            if stage is not None:
                stage.reset()
