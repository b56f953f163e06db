"""The live session: a model chain running in an audio stream whose callback is compiled code.

>>> import engine
>>> with engine.LiveSession("configs/guitar.yaml") as session:   # open(): devices, models, stream
...     session.start()
...     session.switch(1)                  # the second model, crossfaded from the next block
...     session.set_controls([0.3, 0.8])   # knobs of the model playing, ramped across one block
...     session.set_gains(input_db=3.0)
...     session.bypass(True)
...     print(session.stats()["xruns"])
...     session.stop()

Everything that can allocate or compile happens in ``open()``: the models are loaded and
prepared at the device's rate, every buffer is allocated (engine.live.shared) and the callback is
compiled or loaded from numba's cache (engine.live.callback). PortAudio then calls the compiled
callback itself: no Python runs on the audio thread, so nothing the interpreter does (a thread
holding the GIL, a garbage collection, an import) can stop the audio, and the session changes
nothing about the host program (no gc, switch-interval or scheduling tweaks). The controlling
thread talks to the callback only through shared arrays: requests go in (a seqlock, applied at
the next block boundary), counters, meters and per-block timing come back.
"""

import math
import os
import sys
import threading
import time
import weakref

import numpy as np

from . import shared
from ..errors import ArgumentError, DeviceError
from .chain import LiveChain, load_models
from . import devices
from .devices import resolve_device, sounddevice

POLL_SECONDS = 0.1  # how often the controlling thread wakes for keys, status and the watchdog
#: Chains of streams that could not be closed (device or server gone): PortAudio may still call
#: into their memory, so it is never freed.
_ABANDONED = []


class DeviceLost(Exception):
    """The stream stopped delivering audio (device unplugged, audio server gone)."""


class LiveSession:
    """A model (or several, switchable) running on an audio interface in real time.

    Usable as a context manager: ``with LiveSession(config) as session`` opens it (if it is not
    open yet) and closes it at the end.

    Parameters
    ----------
    config : LiveConfig or str or os.PathLike
        A configuration (engine.config.load_config, with any overrides applied) or the path of
        a YAML configuration file.
    capture_seconds : float
        Record this many seconds of the raw input channel and of the first output channel,
        from the stream's first frame, inside the callback (``captured()``); 0 records nothing.
    jack_exact_name : bool
        With ``audio_api: jack``: fail if the server has a client named "engine" already,
        instead of taking another name (what the virtual interface's player connects to).

    Raises
    ------
    ArgumentError
        If ``config`` is neither a LiveConfig nor a path.
    ConfigError
        If the configuration file is invalid, or a model's control values do not fit it.
    ModelFileError, SampleRateError
        If a model cannot be loaded.
    """

    #: The JACK client name of a session with ``audio_api: jack``.
    JACK_CLIENT = "engine"

    def __init__(self, config, capture_seconds=0.0, jack_exact_name=False):
        from ..config import LiveConfig, load_config

        if isinstance(config, (str, os.PathLike)):
            config = load_config(config)
        elif not isinstance(config, LiveConfig):
            raise ArgumentError(f"LiveSession: config must be a LiveConfig (engine.config.load_config) or the path "
                                f"of a YAML configuration, got {type(config).__name__}")
        self.config = config
        self.models = load_models(config)
        if config.midi is not None:  # a knob no model has: refused now, before any device opens
            from ..midi_settings import check_midi_knobs

            check_midi_knobs(config.midi, [model.num_controls for model in self.models], config.source)
        self.capture_seconds = float(capture_seconds)
        self._jack_exact_name = bool(jack_exact_name)
        self.stream = None
        self.chain = None
        self.midi = None  # engine.live.midi.MidiInput, while open with a midi: section
        self.midi_stats = None  # its stats() when it was closed
        self.abandoned = False
        self._reported_callbacks = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self):
        """Resolve devices and rate, prepare the chain (every model, every buffer, the callback), open the stream.

        Returns
        -------
        LiveSession
            self.

        Raises
        ------
        DeviceError
            If a device is missing or refuses the rate, block size or channel count.
        SampleRateError
            If a model cannot run at the device's rate.
        """
        if self.stream is not None:
            return self
        if self.config.audio_api == "jack":
            return self._open_jack()
        sd = sounddevice()
        config = self.config
        self.input_device = resolve_device(config.input_device, "input")
        self.output_device = resolve_device(config.output_device, "output")
        in_info = sd.query_devices(self.input_device)
        out_info = sd.query_devices(self.output_device)
        rate = float(config.sample_rate or out_info["default_samplerate"])
        in_channels = config.input_channel
        out_channels = max(config.output_channels)
        if in_channels > in_info["max_input_channels"]:
            raise DeviceError(f"input_channel {in_channels} does not exist on {in_info['name']!r}, which has "
                              f"{in_info['max_input_channels']} input channel(s)")
        if out_channels > out_info["max_output_channels"]:
            raise DeviceError(f"output_channels {list(config.output_channels)} do not exist on {out_info['name']!r}, "
                              f"which has {out_info['max_output_channels']} output channel(s)")
        for check, device, channels, info in ((sd.check_input_settings, self.input_device, in_channels, in_info),
                                              (sd.check_output_settings, self.output_device, out_channels, out_info)):
            try:
                check(device=device, channels=channels, dtype="float32", samplerate=rate)
            except sd.PortAudioError as exc:
                if rate == info["default_samplerate"]:  # then the rate is the device's own: no hint to give
                    raise DeviceError(f"{info['name']!r} refuses {channels} channel(s) at {rate:g} Hz "
                                      f"({exc.args[0]}), although {rate:g} Hz is the rate it reports as its own: "
                                      f"PortAudio will not stream at it (try a lower --rate or sample_rate)") from None
                raise DeviceError(f"{info['name']!r} refuses {rate:g} Hz with {channels} channel(s) "
                                  f"({exc.args[0]}); its default rate is {info['default_samplerate']:g} Hz") from None
        self._prepare_chain(rate, in_channels, out_channels)
        try:
            self.stream = self._open_stream(sd, (self.input_device, self.output_device), rate,
                                            (in_channels, out_channels))
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open {in_info['name']!r} → {out_info['name']!r} at {rate:g} Hz, "
                              f"block {self.block_size}: {exc.args[0]}") from None
        # PortAudio holds only raw addresses into the chain's arrays: if this session is dropped
        # without close(), the stream is closed before that memory can be freed (the finalizer
        # holds both until then; it also runs at interpreter exit, before PortAudio's own).
        self._generation = devices.portaudio_generation()
        self._finalizer = weakref.finalize(self, _close_dropped, self.stream, self.chain, self._generation)
        return self._open_midi()

    def _prepare_chain(self, rate, in_channels, out_channels):
        """The chain at ``rate`` (kept from an earlier open at the same rate), its loss detector on."""
        self.sample_rate = rate
        self.block_size = self.config.block_size
        self._block_seconds = self.block_size / rate
        if self.chain is None or self.chain.sample_rate != rate:
            self.chain = LiveChain(self.config, self.models, rate, in_channels, out_channels,
                                   capture_frames=int(round(self.capture_seconds * rate)))
        self.chain.shared.header[shared.H_GAP_DETECT] = 1

    def _open_jack(self):
        """open() for ``audio_api: jack``: a native JACK client (engine.live.jack_native), no PortAudio."""
        from .jack_native import JackStream

        config = self.config
        for key in ("input_device", "output_device"):
            if isinstance(getattr(config, key), int):
                raise DeviceError(f"{key} {getattr(config, key)} is a PortAudio device number; with audio_api: jack "
                                  f"it names a JACK client whose ports are used (e.g. 'system'), or is left unset")
        in_channels, out_channels = config.input_channel, max(config.output_channels)
        stream = JackStream(in_channels, out_channels, config.input_device, config.output_device,
                            input_connect=tuple(range(in_channels)), output_connect=tuple(range(out_channels)),
                            client_name=self.JACK_CLIENT, exact_name=self._jack_exact_name)
        try:
            rate = float(stream.sample_rate)
            if config.sample_rate and float(config.sample_rate) != rate:
                raise DeviceError(f"the JACK server runs at {rate:g} Hz, not the {config.sample_rate:g} Hz asked for: "
                                  f"restart JACK at that rate, or leave sample_rate unset")
            self.input_device, self.output_device = config.input_device, config.output_device
            self._prepare_chain(rate, in_channels, out_channels)
            stream.attach(self.chain)
        except BaseException:
            stream.close()
            raise
        self.stream = stream
        self._generation = None  # not a PortAudio stream
        self._finalizer = weakref.finalize(self, _close_dropped, self.stream, self.chain, self._generation)
        return self._open_midi()

    def _open_midi(self):
        """The config's MIDI input (``midi:``), opened once the chain exists; on failure the stream is closed."""
        if self.config.midi is None or self.midi is not None:
            return self
        from .midi import MidiInput

        try:
            self.midi = MidiInput(self.config.midi, self).open()
        except BaseException:
            self.close()
            raise
        return self

    def port_names(self):
        """(input ports, output ports): the JACK port names of a session with ``audio_api: jack``.

        Returns
        -------
        (list of str, list of str)
            E.g. (["engine:in_0"], ["engine:out_0", "engine:out_1"]).

        Raises
        ------
        ArgumentError
            If the session is not open on JACK.
        """
        if self.stream is None or not hasattr(self.stream, "port_names"):
            raise ArgumentError("port_names: the session is not open on a JACK server (audio_api: jack)")
        return self.stream.port_names()

    def _stream_gone(self):
        """Whether PortAudio was shut down since the stream opened (which closed and freed it)."""
        return self._generation is not None and devices.portaudio_generation() != self._generation

    def _open_stream(self, sd, device, rate, channels):
        """The PortAudio stream, its callback the compiled one and its userData the chain's header."""
        return sd._StreamBase(kind="duplex", samplerate=rate, blocksize=self.block_size, device=device,
                              channels=channels, dtype="float32", latency="low",
                              callback=self.chain.callback.address,
                              userdata=sd._ffi.cast("void *", self.chain.userdata), wrap_callback=None)

    def start(self):
        """Start the stream (opening the session first if needed, or again if PortAudio was shut down since)."""
        if self.stream is not None and self._stream_gone() and not self.abandoned:
            self._forget_stream()
        if self.stream is None:
            self.open()
        # A stop and start is not a late host cycle: the gap detector starts afresh (the
        # callback is not running, so this write races with nothing).
        self.chain.shared.state[shared.S_PREV_END] = 0
        self.stream.start()

    def stop(self, timeout=2.0):
        """Stop the stream; give up after ``timeout`` s if the device hangs. ``start()`` plays again.

        Returns
        -------
        bool
            True if the stream stopped; False if it hung or was abandoned (device or server gone).
        """
        if self.stream is None:
            return True
        if self.abandoned:
            return False
        if self._stream_gone():
            self._forget_stream()
            return True
        return self._in_time(self.stream.stop, timeout)

    def _forget_stream(self):
        """Drop a stream that PortAudio's shutdown already closed, without calling PortAudio with it."""
        self.stream = None
        self._finalizer.detach()

    def close(self, timeout=2.0):
        """Stop and close the stream; give up after ``timeout`` s if the device hangs.

        The chain (its models, counters and recording) stays readable; ``open()`` opens a new stream.

        Returns
        -------
        bool
            True if the stream closed; False if it hung or was abandoned (device or server gone).
        """
        midi, self.midi = self.midi, None
        if midi is not None:
            self.midi_stats = midi.stats()  # for summary()
            if self.abandoned:  # its JACK server may be gone too: leaving it could block, as the stream's would
                _ABANDONED.append((midi,))
            else:
                midi.close()
        if self.stream is None:
            return True
        if self._stream_gone() and not self.abandoned:
            self._forget_stream()
            return True
        stream, self.stream = self.stream, None
        self._finalizer.detach()
        if self.abandoned:
            _ABANDONED.append((stream, self.chain))
            return False
        closed = self._in_time(lambda: (stream.stop(), stream.close()), timeout)
        if not closed:
            _ABANDONED.append((stream, self.chain))
        return closed

    def _in_time(self, action, timeout):
        worker = threading.Thread(target=action, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            self.abandoned = True
            return False
        return True

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- control (any thread; applied at the callback's next block boundary) ----------------------------

    def switch(self, index):
        """Play model ``index`` (0-based, in the order of the configuration), crossfading from the next block.

        While another crossfade runs, the switch waits for it to end; the latest request wins.

        Returns
        -------
        int
            The request's sequence number (``chain.shared.accepted_at()`` maps it to the frame it took effect).

        Raises
        ------
        ArgumentError
            If there is no such model.
        """
        count = len(self.models)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
            raise ArgumentError(f"switch: model index {index!r} does not exist; the session has {count} model(s), "
                                f"0 to {count - 1}")
        return self._prepared().select_model(int(index))

    def bypass(self, on=True):
        """Crossfade to the dry input (True) or back to the model (False) from the next block; returns the request's seq."""
        return self._prepared().set_bypass(bool(on))

    def set_controls(self, values, model=None):
        """Set the knobs of a conditioned model; a playing model ramps to them across the next block.

        Parameters
        ----------
        values : sequence of float
            One finite value per control input.
        model : int, optional
            0-based; the model playing (or fading in) when omitted.

        Returns
        -------
        int
            The request's sequence number (``chain.shared.accepted_at()`` maps it to the frame it took effect).

        Raises
        ------
        ControlError
            If the values are invalid, or the interpolation method running is predicted unstable
            at them (the method cannot change while the stream plays: see LiveChain.set_controls).
        ArgumentError
            If there is no such model.
        """
        try:
            return self._prepared().set_controls(values, model=model)
        except IndexError as exc:
            raise ArgumentError(f"set_controls: {exc}") from None

    def set_stages(self, **values):
        """Change the chain's stages while playing (gate threshold, EQ gains, cabinet mix and level), from the next block.

        Parameters
        ----------
        **values : float
            LiveChain.set_stages keys: gate_threshold_db, eq_bass_db, eq_mid_db, eq_treble_db,
            eq_presence_db, cabinet_mix, cabinet_level_db.

        Returns
        -------
        int
            The request's sequence number.

        Raises
        ------
        ControlError
            If a key is unknown, names a stage the chain lacks, or a value is out of range.
        """
        return self._prepared().set_stages(**values)

    def set_gains(self, input_db=None, output_db=None):
        """Set the input and/or output gain in dB (None keeps one); each ramps across the next block.

        Returns
        -------
        int
            The request's sequence number (``chain.shared.accepted_at()`` maps it to the frame it took effect).

        Raises
        ------
        ControlError
            If a gain is not a number within engine.config.GAIN_DB_RANGE.
        """
        return self._prepared().set_gains(input_db, output_db)

    def _prepared(self):
        if self.chain is None:
            raise ArgumentError("the session is not open: call open() (or use it in a with statement) first")
        return self.chain

    @property
    def bypassed(self):
        """Whether bypass is on, as the callback applied it."""
        return self.chain is not None and self.chain.bypassed

    @property
    def current(self):
        """The model playing (0-based), as the callback applied it."""
        return self.chain.current if self.chain is not None else 0

    # -- what the callback reports -------------------------------------------------------------------

    @property
    def callbacks(self):
        """Callbacks completed so far."""
        return self.chain.shared.blocks() if self.chain is not None else 0

    @property
    def xruns(self):
        """{"status_flags": host cycles PortAudio flagged, "timing_gaps": times audio went missing (see stats)}."""
        counters = self.chain.shared.counters
        return {"status_flags": int(counters[shared.C_FLAGGED]), "timing_gaps": int(counters[shared.C_GAPS])}

    def loads(self, since=0):
        """DSP load of each callback since callback number ``since`` (time in the callback / audio it processed).

        At most the last RING_BLOCKS callbacks are kept.
        """
        rows, _, _ = self.chain.shared.ring_rows(since)
        return self._loads_of(rows)

    def _loads_of(self, rows):
        frames = np.maximum(rows[:, shared.RING_FRAMES], 1)
        return rows[:, shared.RING_DURATION] / (frames * self.chain.shared.ns_per_frame[0])

    def captured(self):
        """(input, output) the callback recorded (see ``capture_seconds``): float32 copies."""
        return self.chain.captured()

    def stats(self):
        """What the callback counted and measured since the session was opened.

        Returns
        -------
        dict
            ``callbacks``, ``frames``, ``seconds``;
            ``xruns``: ``total`` (flagged host cycles plus timing gaps), ``status_flags`` (host
            cycles whose PortAudio statusFlags had an underflow/overflow bit: PortAudio flags every
            callback of a host buffer it splits, and every xrun the audio server reports), ``timing_gaps``
            (times audio went missing against the callback's own clock: host cycles that never
            came, see engine.live.callback; PortAudio flags a long stall once or not at all), and
            each flag's count; ``lost_frames`` (frames those gaps lost); ``longest_cycle_ms`` (the
            longest interval between two host cycles);
            ``dsp_load``: ``mean`` (whole run), ``p99`` (over the last RING_BLOCKS callbacks) and
            ``max`` (whole run) of the time spent in the callback over the audio time it processed;
            ``peaks``: largest ``input`` (raw input channel) and ``output`` sample magnitudes, linear;
            ``muted_blocks``: ``non_finite_input`` and ``non_finite_output``; ``limited_samples``;
            ``model`` (0-based), ``bypassed``, ``changes`` (switches and bypass toggles applied),
            ``requests`` (requests the callback took).
        """
        if self.chain is None:
            raise ArgumentError("the session is not open: call open() first")
        s = self.chain.shared
        c = s.counters.copy()
        frames = int(c[shared.C_FRAMES])
        ns_per_frame = float(s.ns_per_frame[0])
        rows, _, _ = s.ring_rows(0)
        loads = self._loads_of(rows)
        counters = self.chain.counters()
        xruns = {"total": int(c[shared.C_XRUN_BLOCKS]), "status_flags": int(c[shared.C_FLAGGED]),
                 "timing_gaps": int(c[shared.C_GAPS])}
        xruns.update({name: int(c[index]) for name, index in shared.XRUN_FLAGS})
        return {
            "callbacks": int(c[shared.C_CALLBACKS]), "frames": frames, "seconds": frames * ns_per_frame * 1e-9,
            "xruns": xruns, "lost_frames": int(c[shared.C_LOST_FRAMES]),
            "longest_cycle_ms": float(c[shared.C_MAX_GAP] * 1e-6),
            "dsp_load": {"mean": float(c[shared.C_BUSY] / (frames * ns_per_frame)) if frames else 0.0,
                         "p99": float(np.percentile(loads, 99)) if loads.size else 0.0,
                         "max": float(c[shared.C_MAX_BUSY] / (self.block_size * ns_per_frame))},
            "peaks": {"input": float(s.peaks[0]), "output": float(s.peaks[1])},
            "muted_blocks": {"non_finite_input": counters["muted_bad_input"],
                             "non_finite_output": counters["muted_bad_output"]},
            "limited_samples": counters["limited_samples"],
            "model": self.chain.current, "bypassed": self.chain.bypassed, "changes": self.chain.changes,
            "requests": int(c[shared.C_REQUESTS]),
        }

    def describe_model(self):
        return f"{self.chain.current + 1}:{self.chain.processors[self.chain.current].model.name}"

    def status_line(self):
        """The once-a-second line: DSP load, xruns, levels, model, R and method."""
        rows, peaks, end = self.chain.shared.ring_rows(self._reported_callbacks)
        self._reported_callbacks = end
        loads = self._loads_of(rows)
        peak_in, peak_out = (float(peaks[:, 0].max()), float(peaks[:, 1].max())) if len(peaks) else (0.0, 0.0)
        counters = self.chain.counters()
        processor = self.chain.processors[self.chain.current]
        mean = 100 * loads.mean() if loads.size else 0.0
        peak = 100 * loads.max() if loads.size else 0.0
        muted = counters["muted_bad_input"] + counters["muted_bad_output"]
        xruns = int(self.chain.shared.counters[shared.C_XRUN_BLOCKS])
        return (f"DSP {mean:4.1f}% (max {peak:4.1f}%) | xruns {xruns} | "
                f"in {_dbfs(peak_in)} out {_dbfs(peak_out)} | {'[bypass] ' if self.chain.bypassed else ''}"
                f"{self.describe_model()} | R {processor.ratio:.4f} {describe_method(processor)}"
                + (f" | muted {muted}" if muted else "")
                + (f" | {self.control_line}" if getattr(self, "control_line", None) else "")
                + (f" | {self.midi.line()}" if self.midi is not None else ""))

    def summary(self):
        """The closing report (a list of lines)."""
        stats = self.stats()
        lines = [f"played {stats['seconds']:.1f} s: {stats['callbacks']} blocks of {self.block_size} at "
                 f"{self.sample_rate:g} Hz"]
        if stats["callbacks"]:
            load = stats["dsp_load"]
            lines.append(f"DSP load: mean {100 * load['mean']:.1f}%, p99 {100 * load['p99']:.1f}%, "
                         f"max {100 * load['max']:.1f}%")
        xruns = stats["xruns"]
        flags = ", ".join(f"{name} {xruns[name]}" for name, _ in shared.XRUN_FLAGS if xruns[name])
        lines.append(f"xruns: {xruns['total']} (status flags {xruns['status_flags']}"
                     + (f": {flags}" if flags else "") + f"; timing gaps {xruns['timing_gaps']})")
        muted = stats["muted_blocks"]
        lines.append(f"muted blocks: {muted['non_finite_input']} (non-finite input), "
                     f"{muted['non_finite_output']} (non-finite model output, state reset)")
        if self.config.limiter:
            lines.append(f"limiter: {stats['limited_samples']} sample(s) turned down")
        midi = self.midi.stats() if self.midi is not None else self.midi_stats
        if midi is not None:
            lines.append(f"MIDI ({midi['port']}): {midi['received']} control change(s), {midi['applied']} applied, "
                         f"{midi['ignored']} not mapped, {midi['refused']} refused")
        return lines

    # -- the interactive loop (engine-live) --------------------------------------------------------------

    def run(self, duration=None, keys=None, status_stream=sys.stdout, status_interval=1.0, stop_event=None,
            on_started=None):
        """Play until ``duration`` s pass, 'q' is pressed, Ctrl-C, or ``stop_event`` is set; then close.

        Parameters
        ----------
        duration : float, optional
        keys : KeyReader, optional
            Where key presses come from (b bypass, 1-9 model, [ ] select a control, - = move it,
            q quit: engine.live.knobs); none when omitted.
        status_stream : file, optional
            Where the status line and summary go (None: silent).
        status_interval : float
        stop_event : threading.Event, optional
        on_started : callable, optional
            Called (from this thread) right after the stream has started.

        Returns
        -------
        int
            0 on a normal stop; 3 if the device or audio server went away.
        """
        def say(text, end="\n"):
            if status_stream is not None:
                print(text, file=status_stream, end=end, flush=True)

        interactive = status_stream is not None and status_stream.isatty()
        self.start()
        if on_started is not None:
            try:
                on_started()
            except BaseException:
                self.close()
                raise
        deadline = None if duration is None else time.monotonic() + duration
        from .knobs import LiveControls

        knobs = LiveControls(self)
        self.control_line = knobs.line() if keys is not None else None
        watchdog = max(1.0, 20 * self._block_seconds)
        last_status = last_progress = time.monotonic()
        seen = -1
        code = 0
        try:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline or stop_event is not None and stop_event.is_set():
                    break
                key = keys.read(POLL_SECONDS) if keys is not None else time.sleep(POLL_SECONDS)
                if key == "q":
                    break
                if key == "b":
                    self.bypass(not self.chain.shared.request[shared.R_BYPASS])  # what was last asked
                elif key is not None and key in "123456789" and int(key) <= len(self.models):
                    self.switch(int(key) - 1)
                elif key is not None and knobs.handle(key):
                    self.control_line = knobs.line() + (f" (refused: {knobs.refused})" if knobs.refused else "")
                    last_status = 0.0  # show it now
                if not self.stream.active:
                    raise DeviceLost("the audio stream stopped")
                callbacks = self.callbacks
                if callbacks != seen:
                    seen, last_progress = callbacks, now
                elif now - last_progress > watchdog + (2.0 if seen == 0 else 0.0):
                    raise DeviceLost(f"no audio for {now - last_progress:.1f} s")
                if now - last_status >= status_interval:
                    last_status = now
                    say(("\r" if interactive else "") + self.status_line() + ("\033[K" if interactive else ""),
                        end="" if interactive else "\n")
        except KeyboardInterrupt:
            pass
        except DeviceLost as exc:
            self.abandoned = True  # closing a stream whose server died blocks forever
            say(("\n" if interactive else "") + f"engine-live: error: {exc}: the device or audio server went away")
            code = 3
        self.close()
        if interactive:
            say("")
        for line in self.summary():
            say(line)
        return code


def _close_dropped(stream, chain, generation):
    """Close the stream of a session dropped while open (chain: kept alive until the stream is closed).

    Not if PortAudio was shut down since it opened: that closed the stream already, and its
    pointer may by now belong to another stream of a PortAudio started again.
    """
    if generation is not None and devices.portaudio_generation() != generation:
        return
    try:
        stream.stop()
        stream.close()
    except Exception:  # at interpreter exit PortAudio may already be gone
        pass


def describe_method(processor):
    """The method as the status line shows it: "cubic (auto)", "resample, latency 48 (1.00 ms)", "linear ×2 …"."""
    text = processor.interpolation
    if processor.requested_interpolation == "auto":
        text += " (auto)"
    if processor.oversample != 1:
        text += f" ×{processor.oversample}"
    if processor.latency:
        text += f", latency {processor.latency} ({1e3 * processor.latency / processor.sample_rate:.2f} ms)"
    return text


def _dbfs(value):
    return f"{20 * math.log10(value):6.1f} dBFS" if value > 0 else "  -inf dBFS"
