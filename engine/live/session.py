"""The live session: a model chain running in an audio stream (sounddevice, through live.devices).

Everything that can allocate or compile happens in ``open()``: models are loaded and prepared
at the device's rate, every buffer is allocated and the block kernel is compiled and warmed up
with exactly the array types the callback passes. The callback then makes one jitted call per
block (mixer.live_block) and otherwise only reads and writes attributes: no allocation of
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

from ..errors import DeviceError
from .chain import LiveChain, load_models
from .devices import resolve_device, sounddevice

XRUN_FLAGS = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")
LOAD_HISTORY = 1 << 16
POLL_SECONDS = 0.1  # how often the controlling thread wakes for keys, status and the watchdog


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
