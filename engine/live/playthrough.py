"""Playing a signal through a live session on a JACK server and recording it: the virtual interface's run."""

import os
import sys
import threading
import time

import numpy as np

from ..errors import ConfigError, DeviceError
from . import devices as _devices
from .chain import LiveChain
from .devices import jack_device, reinitialize_portaudio, sounddevice, terminate_portaudio
from .session import LiveSession


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
    if _devices._sounddevice is None:
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

    from ..audiofile import read_clip
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
