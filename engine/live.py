"""The live session: the only module that imports sounddevice (importing it starts PortAudio).

Everything that can allocate or compile happens in ``open()``: models are loaded and prepared
at the device's rate, every buffer is allocated and the block kernel is compiled and warmed up
with exactly the array types the callback passes. The callback then makes one jitted call per
block (kernels.live_block) and otherwise only reads and writes attributes: no allocation of
arrays, printing, locks or file I/O. The main thread talks to it through single attribute
assignments (atomic under the GIL), which the callback applies at a block boundary.
"""

import gc
import math
import os
import sys
import threading
import time

import numpy as np

from .chain import LiveChain, load_models
from .errors import ConfigError, DeviceError
from .quiet import quiet_stderr

XRUN_FLAGS = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")
LOAD_HISTORY = 1 << 16
POLL_SECONDS = 0.1  # how often the controlling thread wakes for keys, status and the watchdog

_sounddevice = None


def sounddevice():
    """The sounddevice module, imported (and PortAudio initialised) on first use.

    Raises
    ------
    DeviceError
        If the PortAudio library is not installed.
    """
    global _sounddevice
    if _sounddevice is None:
        try:
            with quiet_stderr():
                import sounddevice as sd
        except OSError as exc:
            raise DeviceError(f"cannot load PortAudio ({exc}); install it: apt-get install libportaudio2") from None
        _sounddevice = sd
    return _sounddevice


def reinitialize_portaudio():
    """Make PortAudio rescan devices, e.g. after an audio server was started or replaced."""
    sd = sounddevice()
    with quiet_stderr():
        if sd._initialized:
            sd._terminate()
        sd._initialize()


def terminate_portaudio():
    """Shut PortAudio down (needed before stopping a JACK server it is connected to)."""
    if _sounddevice is not None and _sounddevice._initialized:
        with quiet_stderr():
            _sounddevice._terminate()


def list_devices():
    """A printable table of what PortAudio sees: index, name, host API, channels, default rate."""
    sd = sounddevice()
    devices = sd.query_devices()
    if not len(devices):
        return "no audio devices (PortAudio sees none)"
    apis = sd.query_hostapis()
    lines = [f"{'':2}{'#':>3}  {'name':<40} {'host API':<28} {'in':>3} {'out':>3} {'rate':>8}"]
    default_in, default_out = sd.default.device
    for index, device in enumerate(devices):
        mark = ("<" if index == default_in else " ") + (">" if index == default_out else " ")
        lines.append(f"{mark}{index:>3}  {device['name'][:40]:<40} {apis[device['hostapi']]['name'][:28]:<28} "
                     f"{device['max_input_channels']:>3} {device['max_output_channels']:>3} "
                     f"{device['default_samplerate']:>8.0f}")
    lines.append("(< default input, > default output)")
    return "\n".join(lines)


def _available(kind):
    devices = sounddevice().query_devices()
    key = f"max_{kind}_channels"
    names = [f"{i} {d['name']!r}" for i, d in enumerate(devices) if d[key] > 0]
    return ", ".join(names) if names else "none"


def resolve_device(spec, kind):
    """The PortAudio index of an input or output device.

    Parameters
    ----------
    spec : int, str or None
        An index, a case-insensitive part of the name, or None for the default device.
    kind : str
        "input" or "output".

    Returns
    -------
    int

    Raises
    ------
    DeviceError
        If there is no such device, the name is ambiguous, or no device of that kind exists;
        the message lists what is available.
    """
    sd = sounddevice()
    devices = sd.query_devices()
    key = f"max_{kind}_channels"
    usable = [i for i, d in enumerate(devices) if d[key] > 0]
    if not usable:
        raise DeviceError(f"no audio {kind} device found (PortAudio sees {len(devices)} device(s), none with "
                          f"{kind} channels); connect an interface, start an audio server, or run with --virtual")
    if spec is None:
        default = sd.default.device[0 if kind == "input" else 1]
        return default if default in usable else usable[0]
    if isinstance(spec, int):
        if spec not in usable:
            raise DeviceError(f"{kind} device {spec} does not exist or has no {kind} channels; "
                              f"available: {_available(kind)}")
        return spec
    matches = [i for i in usable if spec.lower() in devices[i]["name"].lower()]
    if not matches:
        raise DeviceError(f"no {kind} device matches {spec!r}; available: {_available(kind)}")
    if len(matches) > 1:
        found = ", ".join(f"{i} {devices[i]['name']!r}" for i in matches)
        raise DeviceError(f"{kind} device {spec!r} is ambiguous: it matches {found}; give an index")
    return matches[0]


class DeviceLost(Exception):
    """The stream stopped delivering audio (device unplugged, audio server gone)."""


class LiveSession:
    """A model (or several, switchable) running on an audio interface in real time.

    Parameters
    ----------
    config : LiveConfig
        From engine.config.load_config (with command-line overrides applied).

    Raises
    ------
    ModelFileError, SampleRateError
        If a model cannot be loaded.
    ConfigError
        If a model's control values do not fit it.
    """

    def __init__(self, config):
        self.config = config
        self.models = load_models(config)
        self.stream = None
        self.chain = None
        self.abandoned = False

    def open(self):
        """Resolve devices and rate, prepare the chain (every model, compiled and warmed up), open the stream.

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
        self.sample_rate = rate
        self.block_size = config.block_size
        self.chain = LiveChain(config, self.models, rate, in_channels, out_channels)
        self._loads = np.zeros(LOAD_HISTORY, np.float64)
        self._block_seconds = self.block_size / rate
        self.callbacks = 0
        self.xruns = {flag: 0 for flag in XRUN_FLAGS}
        self._reported_callbacks = 0
        try:
            self.stream = sd.Stream(device=(self.input_device, self.output_device), samplerate=rate,
                                    blocksize=self.block_size, channels=(in_channels, out_channels), dtype="float32",
                                    latency="low", callback=self._callback)
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open {in_info['name']!r} → {out_info['name']!r} at {rate:g} Hz, "
                              f"block {self.block_size}: {exc.args[0]}") from None
        return self

    def _callback(self, indata, outdata, frames, time_info, status):
        """The audio thread: count xruns, one chain call, time it."""
        started = time.perf_counter()
        if status:
            for flag in XRUN_FLAGS:
                if getattr(status, flag):
                    self.xruns[flag] += 1
        self.chain.process(indata, outdata)
        self._loads[self.callbacks & (LOAD_HISTORY - 1)] = (time.perf_counter() - started) / self._block_seconds
        self.callbacks += 1

    def start(self):
        """Start the stream (open() first).

        While it plays, Python's cycle collector is paused: a full collection holds the GIL for
        milliseconds (longer than a block at 96 kHz) and can land in any thread, the callback's
        included. Everything that exists now is frozen out of later collections; nothing the
        running session creates forms reference cycles, so pausing it costs no memory.
        """
        self._gc_was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)  # hand the GIL to the audio thread quickly
        self._raise_priority()
        self.stream.start()

    def _raise_priority(self):
        """Give this (controlling) thread a low real-time priority while audio runs, where permitted.

        The callback needs the GIL; if this thread holds it when an ordinary process preempts it,
        the audio thread waits for that process (priority inversion, measured as xruns on a busy
        machine). At SCHED_FIFO 1 it is never preempted by ordinary processes, and it only sleeps
        or does a few microseconds of work between sleeps.
        """
        self._saved_scheduling = None
        try:
            saved = (os.sched_getscheduler(0), os.sched_getparam(0))
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            self._saved_scheduling = saved
        except (AttributeError, OSError):  # not Linux, or not permitted: run as before
            pass

    def _restore_priority(self):
        if getattr(self, "_saved_scheduling", None) is not None:
            policy, param = self._saved_scheduling
            try:
                os.sched_setscheduler(0, policy, param)
            except OSError:
                pass
            self._saved_scheduling = None

    def stop(self, timeout=2.0):
        """Stop and close the stream; give up after ``timeout`` s if the device hangs.

        Returns
        -------
        bool
            True if the stream closed; False if it hung or was abandoned (device or server gone).
        """
        if self.stream is None:
            return True
        stream, self.stream = self.stream, None
        self._restore_priority()
        if getattr(self, "_gc_was_enabled", False):
            gc.enable()
        gc.unfreeze()
        sys.setswitchinterval(getattr(self, "_switch_interval", 0.005))
        if self.abandoned:
            return False
        closer = threading.Thread(target=lambda: (stream.stop(), stream.close()), daemon=True)
        closer.start()
        closer.join(timeout)
        if closer.is_alive():
            self.abandoned = True
            return False
        return True

    def loads(self, since=0):
        """DSP load of each callback since callback number ``since`` (callback time / block duration)."""
        end = self.callbacks
        start = max(since, end - LOAD_HISTORY + 1)
        return self._loads[np.arange(start, end) & (LOAD_HISTORY - 1)]

    def describe_model(self):
        return f"{self.chain.current + 1}:{self.chain.processors[self.chain.current].model.name}"

    def status_line(self):
        """The once-a-second line: DSP load, xruns, levels, model, R and method."""
        loads = self.loads(self._reported_callbacks)
        self._reported_callbacks = self.callbacks
        peak_in, peak_out = self.chain.take_levels()
        counters = self.chain.counters()
        processor = self.chain.processors[self.chain.current]
        mean = 100 * loads.mean() if loads.size else 0.0
        peak = 100 * loads.max() if loads.size else 0.0
        muted = counters["muted_bad_input"] + counters["muted_bad_output"]
        return (f"DSP {mean:4.1f}% (max {peak:4.1f}%) | xruns {sum(self.xruns.values())} | "
                f"in {_dbfs(peak_in)} out {_dbfs(peak_out)} | {'[bypass] ' if self.chain.bypassed else ''}"
                f"{self.describe_model()} | R {processor.ratio:.4f} {processor.interpolation}"
                + (f" | muted {muted}" if muted else ""))

    def summary(self):
        """The closing report (a list of lines)."""
        loads = self.loads(0)
        counters = self.chain.counters()
        seconds = self.callbacks * self._block_seconds
        lines = [f"played {seconds:.1f} s: {self.callbacks} blocks of {self.block_size} at {self.sample_rate:g} Hz"]
        if loads.size:
            lines.append(f"DSP load: mean {100 * loads.mean():.1f}%, p99 {100 * np.percentile(loads, 99):.1f}%, "
                         f"max {100 * loads.max():.1f}%")
        flags = ", ".join(f"{k} {v}" for k, v in self.xruns.items() if v)
        lines.append(f"xruns: {sum(self.xruns.values())}" + (f" ({flags})" if flags else ""))
        lines.append(f"muted blocks: {counters['muted_bad_input']} (non-finite input), "
                     f"{counters['muted_bad_output']} (non-finite model output, state reset)")
        if self.config.limiter:
            lines.append(f"limiter: {counters['limited_samples']} sample(s) turned down")
        return lines

    def run(self, duration=None, keys=None, status_stream=sys.stdout, status_interval=1.0, stop_event=None,
            on_started=None):
        """Play until ``duration`` s pass, 'q' is pressed, Ctrl-C, or ``stop_event`` is set.

        Parameters
        ----------
        duration : float, optional
        keys : KeyReader, optional
            Where key presses come from (b bypass, 1-9 model, q quit); none when omitted.
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
                self.stop()
                raise
        deadline = None if duration is None else time.monotonic() + duration
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
                    self.chain.set_bypass(not self.chain.bypassed)
                elif key is not None and key in "123456789" and int(key) <= len(self.chain.processors):
                    self.chain.select_model(int(key) - 1)
                if not self.stream.active:
                    raise DeviceLost("the audio stream stopped")
                if self.callbacks != seen:
                    seen, last_progress = self.callbacks, now
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
        self.stop()
        if interactive:
            say("")
        for line in self.summary():
            say(line)
        return code


def _dbfs(value):
    return f"{20 * math.log10(value):6.1f} dBFS" if value > 0 else "  -inf dBFS"


class KeyReader:
    """Single key presses from a terminal (cbreak mode, restored on exit); nothing when stdin is not a tty."""

    def __init__(self, stream=sys.stdin):
        self.stream = stream
        self.enabled = stream is not None and stream.isatty()
        self._saved = None

    def __enter__(self):
        if self.enabled:
            import termios
            import tty

            self._saved = termios.tcgetattr(self.stream)
            tty.setcbreak(self.stream.fileno())
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream, termios.TCSADRAIN, self._saved)
        return False

    def read(self, timeout):
        """The next key pressed within ``timeout`` s, or None."""
        if not self.enabled:
            time.sleep(timeout)
            return None
        import select

        ready, _, _ = select.select([self.stream], [], [], timeout)
        return self.stream.read(1) if ready else None


def jack_device():
    """The index of PortAudio's JACK device (the server PortAudio was initialised against)."""
    sd = sounddevice()
    for index, device in enumerate(sd.query_devices()):
        api = sd.query_hostapis(device["hostapi"])["name"]
        if "JACK" in api and device["max_input_channels"] > 0 and device["max_output_channels"] > 0:
            return index
    raise DeviceError("PortAudio sees no JACK device: is this PortAudio built with JACK support (libportaudio2)?")


def has_duplex_device():
    """Whether PortAudio sees any device to play through (one with input and one with output channels)."""
    devices = sounddevice().query_devices()
    return any(d["max_input_channels"] > 0 for d in devices) and any(d["max_output_channels"] > 0 for d in devices)


def play_through(config, server, signal, keys=None, status_stream=None, actions=(), extra_frames=1024):
    """Open a live session on a running JACK server, play ``signal`` into it and record its output.

    Parameters
    ----------
    config : LiveConfig
        Devices and rate are set to the server's JACK device; everything else is used as given.
    server : JackDummyServer
        Running; PortAudio is (re)initialised against it.
    signal : numpy.ndarray
        Mono float32 at the server's rate, played into input 1 from one JACK cycle on.
    keys, status_stream
        As LiveSession.run.
    actions : sequence of (int, callable)
        ``callable(session)`` is called once the player has played that many frames.
    extra_frames : int
        Frames recorded after the signal ends (covers the JACK graph's latency).

    Returns
    -------
    (LiveSession, numpy.ndarray or None, int)
        The stopped session, the recording (None if the run ended early) and run()'s exit code.

    Raises
    ------
    DeviceError
        If PortAudio cannot use the server.
    """
    from .virtual import PlayerProcess

    os.environ.update(server.environment())
    if _sounddevice is None:
        sounddevice()
    else:
        reinitialize_portaudio()
    device = jack_device()
    session = LiveSession(config.replace(input_device=device, output_device=device,
                                         sample_rate=server.sample_rate, input_channel=1)).open()
    stop = threading.Event()
    outcome = {}
    seconds = (len(signal) + extra_frames) / server.sample_rate

    def play(player):
        try:
            player.wait_until_playing(timeout=30)
            for frame, action in sorted(actions, key=lambda pair: pair[0]):
                delay = player.started_at + frame / server.sample_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                action(session)
            outcome["recording"] = player.wait(timeout=seconds + 30)
        except Exception as exc:  # reported by the calling thread
            outcome["error"] = exc
        finally:
            stop.set()

    player = None
    try:
        player = PlayerProcess(server.name, signal, "PortAudio:in_0", "PortAudio:out_0", extra_frames=extra_frames)
        thread = threading.Thread(target=play, args=(player,), daemon=True)

        def begin():
            # The stream runs: now the player connects (waits for "ready") and starts.
            line = player.process.stdout.readline()
            player.output.append(line.rstrip())
            if not line.startswith("ready"):
                raise DeviceError(f"the player could not connect: {line.strip() or 'no output'}")
            time.sleep(0.2)  # let the graph settle after the new connections
            player.start()
            thread.start()

        code = session.run(keys=keys, status_stream=status_stream, stop_event=stop, on_started=begin)
        thread.join(5)
    finally:
        if player is not None:
            player.close()
        session.stop()
    if "error" in outcome and code == 0:
        raise outcome["error"]
    return session, outcome.get("recording"), code


def align(recording, expected, max_lag):
    """The lag (0..max_lag frames) at which ``recording`` best equals ``expected``, and the error there.

    Returns
    -------
    (int, float)
        The lag and max |recording[lag:lag+n] − expected| at it.
    """
    n = len(expected)
    errors = [float(np.max(np.abs(recording[lag:lag + n] - expected))) for lag in range(max_lag + 1)
              if lag + n <= len(recording)]
    lag = int(np.argmin(errors))
    return lag, errors[lag]


def run_virtual(config, record_path, keys=None, status_stream=sys.stdout, lead_in_seconds=0.5):
    """Run the live path against a JACK dummy server we start, play the demo clip, record the output.

    Parameters
    ----------
    config : LiveConfig
        ``demo_clip`` is played; ``sample_rate`` (default 48 kHz) and ``block_size`` set the server.
    record_path : str
        Where the recording (what came out of the engine's output port, aligned) is written.
    keys : KeyReader, optional
    status_stream : file, optional

    Returns
    -------
    dict
        ``code`` (0 or 3), ``lag`` (frames of JACK graph latency trimmed), ``max_error`` (largest
        difference from the same chain run offline on the same input), ``server_xruns``, ``summary``,
        ``clip`` (the clip as played, at the server's rate).

    Raises
    ------
    ConfigError
        If the configuration names no demo clip.
    AudioFileError
        If the demo clip is not a usable clip (engine.audiofile.read_clip: not audio, empty, ...).
    DeviceError
        If JACK cannot be started or PortAudio cannot use it.
    """
    import soundfile

    from .audiofile import read_clip
    from .virtual import VIRTUAL_PERIOD, JackDummyServer, resample

    if not config.demo_clip:
        raise ConfigError(f"{config.source}: --virtual needs a demo_clip to play (a path relative to the config)")
    clip, clip_rate = read_clip(config.demo_clip, label=f"{config.source}: demo_clip {config.demo_clip}")
    rate = int(config.sample_rate or 48000)
    clip = resample(clip, clip_rate, rate)
    lead_in = int(lead_in_seconds * rate)
    signal = np.concatenate([np.zeros(lead_in, np.float32), clip])
    period = max(VIRTUAL_PERIOD, config.block_size)
    max_lag = 4 * period

    def say(text):
        if status_stream is not None:
            print(text, file=status_stream, flush=True)

    server = JackDummyServer(rate, period)
    say(f"virtual interface: JACK dummy server {server.name!r} at {rate} Hz, period {period} "
        f"(the engine processes blocks of {config.block_size}); "
        f"playing {os.path.basename(config.demo_clip)} ({len(clip) / rate:.1f} s) through the engine")
    server.start()
    session = None
    try:
        session, recording, code = play_through(config, server, signal, keys=keys, status_stream=status_stream,
                                                extra_frames=max_lag)
    finally:
        if session is None or not session.abandoned:
            terminate_portaudio()
        server.stop()
    result = {"code": code, "server_xruns": server.xruns_in_log(), "summary": session.summary(), "clip": clip}
    server.remove_log()
    if code != 0 or recording is None:
        return result
    if session.chain.changes:
        # Keys switched models or bypass mid-run: an offline run cannot know when, so no comparison.
        out = recording[lead_in:lead_in + len(clip)]
        soundfile.write(record_path, out, rate, subtype="FLOAT")
        result.update(record_path=record_path, frames=len(out))
        say(f"wrote {record_path}: {len(out) / rate:.2f} s at {rate} Hz (not trimmed or compared with offline "
            f"processing: models or bypass changed during the run); server xruns: {result['server_xruns']}")
        return result
    # The same chain (same models, gains, limiter) rendered offline over the very same input: the
    # live recording must equal it, shifted by the JACK graph's fixed latency. Only the clip is
    # compared: the lead-in lets both states settle to the same silence.
    offline = LiveChain(session.config, session.models, rate, 1, max(config.output_channels)).render(signal)[:, 0]
    lag, max_error = align(recording[lead_in:], offline[lead_in:], max_lag)
    out = recording[lead_in + lag:lead_in + lag + len(clip)]
    soundfile.write(record_path, out, rate, subtype="FLOAT")
    result.update(lag=lag, max_error=max_error, record_path=record_path, frames=len(out))
    say(f"wrote {record_path}: {len(out) / rate:.2f} s at {rate} Hz (JACK round trip of {lag} frames trimmed); "
        f"differs from the same chain run offline by at most {max_error:.2g}; server xruns: {result['server_xruns']}")
    return result
