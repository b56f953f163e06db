"""Playing a signal through a live session on a JACK server and recording it: the virtual interface's run.

Every way a run ends winds down in the same order, so nothing is left behind and the recording
is usable up to the moment of the stop: the player stops at a JACK cycle boundary and saves what
it recorded, then the session's stream stops, PortAudio lets go of the server, and the server is
stopped (devices.terminate_portaudio, then JackDummyServer.stop). A run ends when the signal has
played, on ``q``, when ``duration`` has passed, on a stop request (engine-live turns SIGINT and
SIGTERM into one: keys.stop_on_signals), or when the server goes away; in that last case
PortAudio cannot be shut down and is abandoned (devices.abandon_portaudio).
"""

import os
import sys
import threading
import time

import numpy as np

from ..errors import ConfigError, DeviceError
from . import devices as _devices
from .chain import LiveChain, load_models
from .devices import (
    abandon_portaudio,
    jack_device,
    reinitialize_portaudio,
    sounddevice,
    terminate_portaudio,
)
from .keys import StopRequest, interrupts_deferred
from .session import LiveSession

#: Seconds the player may take from "go" to its first played cycle before the run gives up.
PLAYER_START_TIMEOUT = 30.0
#: Seconds the player may take to stop and save its recording once asked.
PLAYER_STOP_TIMEOUT = 2.0
#: How often the thread that drives the player looks at the clock and at stop requests.
CONTROL_POLL_SECONDS = 0.01


class _KeysThatStop:
    """A KeyReader whose ``q`` becomes a stop request, so the player stops before the stream does."""

    def __init__(self, keys, stop):
        self.keys, self.stop = keys, stop

    def read(self, timeout):
        key = self.keys.read(timeout)
        if key == "q":
            self.stop.request("q")
            return None
        return key


def play_through(config, server, signal, keys=None, status_stream=None, actions=(), extra_frames=1024,
                 duration=None, stop=None, audio_api="jack", capture_seconds=0.0):
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
        As LiveSession.run (``q`` stops the player first, then the stream).
    actions : sequence of (int, callable)
        ``callable(session)`` is called once the player has played that many frames.
    extra_frames : int
        Frames recorded after the signal ends (covers the JACK graph's latency).
    duration : float, optional
        Stop this many seconds after the stream started, if the signal has not ended by then.
    stop : StopRequest, optional
        Set it (from any thread or a signal handler) to stop the run; its ``reason`` says why
        it stopped ("q", "duration", or what the caller gave). Its ``listening`` is set here
        once the stream is about to start.
    audio_api : str
        "jack": the session is a native JACK client (engine.live.jack_native); "portaudio":
        it reaches the server through PortAudio's JACK host API.
    capture_seconds : float
        As LiveSession's: the callback records what it received and produced (``session.captured()``).

    Returns
    -------
    (LiveSession, numpy.ndarray or None, int)
        The stopped session; the recording (the whole signal plus ``extra_frames`` if it played
        to the end, the frames up to the stop otherwise, None if nothing was recorded); and
        run()'s exit code (0, or 3 if the server went away).

    Raises
    ------
    DeviceError
        If PortAudio cannot use the server, or the player fails on a run nobody stopped.
    """
    from .player import PlayerProcess

    stop = stop if stop is not None else StopRequest()
    os.environ.update(server.environment())
    player = session = None
    outcome = {}
    try:
        # The child starts (imports, connects to the server) while the models are prepared here.
        client = LiveSession.JACK_CLIENT if audio_api == "jack" else "PortAudio"
        player = PlayerProcess(server.name, signal, f"{client}:in_0", f"{client}:out_0", extra_frames=extra_frames)
        # The session's JACK client and stream are resources of the server's: a Ctrl-C in the
        # middle of making them would leave them to the server; it takes effect once they exist
        # (the models compile in here too, quickly if run_virtual has compiled them already).
        with interrupts_deferred():
            if audio_api == "jack":
                session = LiveSession(config.replace(input_device=None, output_device=None, audio_api="jack",
                                                     sample_rate=server.sample_rate, input_channel=1),
                                      capture_seconds=capture_seconds, jack_exact_name=True).open()
            else:
                if _devices._sounddevice is None:
                    sounddevice()
                else:
                    reinitialize_portaudio()
                device = jack_device()
                session = LiveSession(config.replace(input_device=device, output_device=device, audio_api="portaudio",
                                                     sample_rate=server.sample_rate, input_channel=1),
                                      capture_seconds=capture_seconds).open()
        finished = threading.Event()  # the session's stop_event: set once the player has stopped
        session_over = threading.Event()
        controller = threading.Thread(target=_control, name="engine-playthrough", daemon=True,
                                      args=(session, player, server.sample_rate, actions, duration, stop, finished,
                                            session_over, outcome))

        def begin():
            # The stream runs (and PortAudio has made its own connections): now route and play.
            outcome["stream_started_at"] = time.monotonic()
            player.start()
            controller.start()

        stop.listening = True
        if stop.is_set():  # asked to stop while it started (a signal, or the caller): no audio at all
            return session, None, 0
        try:
            code = session.run(keys=None if keys is None else _KeysThatStop(keys, stop), status_stream=status_stream,
                               stop_event=finished, on_started=begin)
        finally:
            session_over.set()
        player.request_stop()  # no-op if it already stopped; stops it if the session ended first
        if controller.is_alive():
            controller.join(PLAYER_STOP_TIMEOUT + 1)
        recording = player.result(timeout=PLAYER_STOP_TIMEOUT)
    finally:
        if player is not None:
            player.close()
        if session is not None:
            session.stop()
    if recording is not None and not len(recording):
        recording = None
    if "error" in outcome and code == 0 and not stop.is_set():
        raise outcome["error"]
    return session, recording, code


def _control(session, player, sample_rate, actions, duration, stop, finished, session_over, outcome):
    """The thread that drives the player: start, actions on time, stop on request or at the deadline."""
    try:
        started = outcome["stream_started_at"]
        deadline = None if duration is None else started + duration
        while not player.playing.wait(CONTROL_POLL_SECONDS):
            if stop.is_set() or session_over.is_set() or deadline is not None and time.monotonic() >= deadline:
                break
            if time.monotonic() - started > PLAYER_START_TIMEOUT:
                raise DeviceError(f"the player did not start within {PLAYER_START_TIMEOUT:g} s: {player.describe()}")
        if player.playing.is_set() and player.started_at is None and not stop.is_set():
            raise DeviceError(f"the player did not start: {player.describe()}")
        pending = sorted(actions, key=lambda pair: pair[0])
        while not (stop.is_set() or session_over.is_set() or player.finished.is_set()):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                stop.request("duration")
                break
            while pending and player.started_at is not None and now >= player.started_at + pending[0][0] / sample_rate:
                pending.pop(0)[1](session)
            time.sleep(CONTROL_POLL_SECONDS)
        player.request_stop()
        if not player.finished.wait(PLAYER_STOP_TIMEOUT) and not session_over.is_set():
            raise DeviceError(f"the player did not stop within {PLAYER_STOP_TIMEOUT:g} s: {player.describe()}")
        if player.server_gone:
            # The server went away: the session notices by itself (its stream stops) and reports it;
            # stopping it from here would make it close a stream on a dead server.
            session_over.wait(5.0)
    except Exception as exc:  # noqa: BLE001  (reported by the calling thread)
        outcome["error"] = exc
    finally:
        finished.set()


def align(recording, expected, max_lag, window=8192):
    """The lag (0..max_lag frames) at which ``recording`` best equals ``expected``, and the error there.

    Every lag is first scored on a ``window`` of ``expected`` where it carries signal, then the
    three best are scored on all of it; the result is the exhaustive search's whenever the
    recording matches at some lag (a wrong lag differs within the window already).

    Returns
    -------
    (int, float)
        The lag and max |recording[lag:lag+n] − expected| at it (n = len(expected)).

    Raises
    ------
    ValueError
        If the recording is too short for ``expected`` at every lag.
    """
    expected = np.asarray(expected)
    recording = np.asarray(recording)
    n = len(expected)
    lags = [lag for lag in range(max_lag + 1) if lag + n <= len(recording)]
    if not lags:
        raise ValueError(f"a recording of {len(recording)} frames cannot hold {n} expected frames")
    if n > 2 * window:
        loud = np.flatnonzero(np.abs(expected) >= 0.1 * np.max(np.abs(expected)))
        first = int(min(loud[0], n - window)) if loud.size else 0
        part = expected[first:first + window]
        screen = [float(np.max(np.abs(recording[lag + first:lag + first + window] - part))) for lag in lags]
        lags = [lags[i] for i in np.argsort(screen, kind="stable")[:3]]
    errors = [float(np.max(np.abs(recording[lag:lag + n] - expected))) if n else 0.0 for lag in lags]
    best = int(np.argmin(errors))
    return lags[best], errors[best]


def run_virtual(config, record_path, keys=None, status_stream=sys.stdout, lead_in_seconds=0.5, duration=None,
                stop=None):
    """Run the live path against a JACK dummy server we start, play the demo clip, record the output.

    The server runs at the session's block size (one callback per JACK cycle). However the run
    ends (the clip's end, ``q``, ``duration``, ``stop``, the server going away), the recording is
    trimmed by the measured round trip, written up to the stop, and compared with the same chain
    run offline on the same input up to there.

    Parameters
    ----------
    config : LiveConfig
        ``demo_clip`` is played; ``sample_rate`` (default 48 kHz) and ``block_size`` set the server.
    record_path : str
        Where the recording (what came out of the engine's output port, aligned) is written.
    keys : KeyReader, optional
    status_stream : file, optional
    lead_in_seconds : float
        Silence played before the clip, so the live and offline states settle alike.
    duration : float, optional
        Seconds of audio after which the run stops, if the clip has not ended.
    stop : StopRequest, optional
        See play_through.

    Returns
    -------
    dict
        ``code`` (0, or 3 if the server went away), ``reason`` (what ended the run: "end", "q",
        "duration", a stop request's reason, "server lost"), ``error`` (a sentence, when the
        server went away), ``lag`` (the measured round trip in frames), ``latency_ms``,
        ``max_error`` (largest difference from the same chain run offline on the same input),
        ``server_xruns``, ``summary``, ``clip`` (as played, at the server's rate), ``record_path``
        and ``frames`` when a recording was written.

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

    from ..audiofile import read_clip
    from . import jack_native
    from .virtual import JackDummyServer, resample

    if not config.demo_clip:
        raise ConfigError(f"{config.source}: --virtual needs a demo_clip to play (a path relative to the config)")
    clip, clip_rate = read_clip(config.demo_clip, label=f"{config.source}: demo_clip {config.demo_clip}")
    rate = int(config.sample_rate or 48000)
    clip = resample(clip, clip_rate, rate)
    lead_in = int(lead_in_seconds * rate)
    signal = np.concatenate([np.zeros(lead_in, np.float32), clip])
    period = config.block_size  # one callback per JACK cycle
    max_lag = max(4 * period, 256)  # the round trip is two periods; leave room
    stop = stop if stop is not None else StopRequest()

    def say(text):
        if status_stream is not None:
            print(text, file=status_stream, flush=True)

    server = JackDummyServer(rate, period)
    stages = " → ".join(config.chain.order) if getattr(config, "chain", None) is not None else "model"
    say(f"virtual interface: JACK dummy server {server.name!r} at {rate} Hz, period {period} (the block size), "
        f"the engine a native JACK client; playing {os.path.basename(config.demo_clip)} ({len(clip) / rate:.1f} s) "
        f"through the chain: {stages}")
    # Compile the chain's kernels for this rate and block, and the JACK callbacks, now, while
    # nothing is started that a Ctrl-C would have to stop (the session's own preparation is
    # then quick; see play_through).
    LiveChain(config.replace(sample_rate=rate, input_channel=1), load_models(config), rate, 1,
              max(config.output_channels))
    jack_native.compiled()
    session = recording = None
    code = 0
    lost = False
    try:
        server.start()
        session, recording, code = play_through(config, server, signal, keys=keys, status_stream=status_stream,
                                                extra_frames=max_lag, duration=duration, stop=stop)
    finally:
        # PortAudio first (it must let go of a live server), then the server.
        lost = (session is not None and session.abandoned) or (server.process is not None and not server.running)
        if lost:
            abandon_portaudio()  # Pa_Terminate would block forever on a dead server
        else:
            terminate_portaudio()
        server.stop()
        server_xruns = server.xruns_in_log()
        server.remove_log()
    result = {"code": 3 if lost else code, "reason": "server lost" if lost else (stop.reason or "end"),
              "server_xruns": server_xruns, "summary": session.summary(), "clip": clip}
    if lost:
        seconds = session.callbacks * session.block_size / rate
        result["error"] = (f"the JACK server {server.name!r} went away ({server.describe_exit()}) after {seconds:.1f} s "
                           f"of audio")
    if recording is None or len(recording) <= lead_in:
        say("nothing of the clip was recorded: the run stopped before it began")
        return result
    played = len(recording)
    heard = np.concatenate([signal, np.zeros(max(0, played - len(signal)), np.float32)])[:played]
    if session.chain.changes:
        # Keys switched models or bypass mid-run: an offline run cannot know when, so no comparison.
        out = recording[lead_in:lead_in + len(clip)]
        soundfile.write(record_path, out, rate, subtype="FLOAT")
        result.update(record_path=record_path, frames=len(out))
        say(f"wrote {record_path}: {len(out) / rate:.2f} s at {rate} Hz (not trimmed or compared with offline "
            f"processing: models or bypass changed during the run); server xruns: {server_xruns}")
        return result
    if played - lead_in < max_lag + period:
        out = recording[lead_in:]
        soundfile.write(record_path, out, rate, subtype="FLOAT")
        result.update(record_path=record_path, frames=len(out))
        say(f"wrote {record_path}: {len(out) / rate:.2f} s at {rate} Hz (too short to measure the round trip, not "
            f"trimmed or compared with offline processing); server xruns: {server_xruns}")
        return result
    # The same chain (same models, gains, limiter) rendered offline over the very same input: the
    # live recording must equal it, shifted by the JACK graph's fixed latency. Only the clip is
    # compared: the lead-in lets both states settle to the same silence.
    offline = LiveChain(session.config, session.models, rate, 1, max(config.output_channels)).render(heard)[:, 0]
    lag, _ = align(recording[lead_in:], offline[lead_in:played - max_lag], max_lag)
    end = min(played, lead_in + lag + len(clip))
    out = recording[lead_in + lag:end]
    max_error = float(np.max(np.abs(out - offline[lead_in:end - lag]))) if len(out) else 0.0
    soundfile.write(record_path, out, rate, subtype="FLOAT")
    latency_ms = 1000 * lag / rate
    result.update(lag=lag, latency_ms=latency_ms, max_error=max_error, record_path=record_path, frames=len(out))
    until = "" if len(out) == len(clip) else f", up to the stop ({result['reason']})"
    say(f"round trip (player → engine → player): {lag} frames = {latency_ms:.2f} ms at {rate} Hz, period {period}")
    lost = (f" (each xrun lost a JACK cycle of audio: from the first one on, the recording cannot equal offline "
            f"processing and is shorter than the time played)" if server_xruns else "")
    say(f"wrote {record_path}: {len(out) / rate:.2f} s at {rate} Hz{until} (the {lead_in_seconds:g} s lead-in and the "
        f"JACK round trip of {lag} frames trimmed); differs from the same chain run offline by at most "
        f"{max_error:.2g}; server xruns: {server_xruns}{lost}")
    return result
