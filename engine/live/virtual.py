"""A virtual audio interface: a JACK2 dummy-backend server, and a client that plays and records.

JACK's dummy backend is a real audio server paced in real time by a timer instead of a sound
card (DESIGN.md). The engine's live path opens it through PortAudio exactly as it would open a
USB interface; a second JACK client (the ``JACK-Client`` package) plays a clip into the engine's
input port and records its output port in the same process cycles, so the recording is
sample-locked to the clip up to the fixed latency of the JACK graph.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ..errors import DeviceError
from ..resample import resample  # noqa: F401  (re-exported: the live path plays clips at the server's rate)

#: Frames per JACK cycle of the virtual interface. The engine still processes its own block size
#: (PortAudio calls it period / block_size times per cycle); the period is how much the stand-in
#: sound card buffers. On the 2-core VMs this project is tested on, a real-time thread with nothing
#: else running is woken more than 2.6 ms late about six times a minute (cyclictest; see
#: benchmarks/live_xruns.py), so a 128-frame period (2.7 ms) drops a few cycles a minute whatever
#: the client does, while 1024 frames (21 ms) rides those stalls out.
VIRTUAL_PERIOD = 1024

JACK_INSTALL_HINT = "install the Debian packages jackd2 and libportaudio2 (apt-get install --no-install-recommends jackd2 libportaudio2)"


def _jack():
    try:
        import jack
    except ImportError:
        raise DeviceError("the JACK-Client package is missing: pip install JACK-Client") from None
    except OSError as exc:
        raise DeviceError(f"cannot load libjack ({exc}); {JACK_INSTALL_HINT}") from None
    # libjack prints every failed connection attempt (we poll while the server starts); the
    # errors that matter reach us as exceptions, so keep its chatter off the user's terminal.
    jack.set_error_function(lambda message: None)
    jack.set_info_function(lambda message: None)
    return jack


class JackDummyServer:
    """``jackd -d dummy`` under a private server name, started and stopped by us.

    Parameters
    ----------
    sample_rate : int
    period : int
        Frames per JACK cycle (default VIRTUAL_PERIOD).
    name : str, optional
        The server name (default: unique per process), so several can coexist.
    """

    def __init__(self, sample_rate, period=VIRTUAL_PERIOD, name=None):
        self.sample_rate = int(sample_rate)
        self.period = int(period)
        self.name = name or f"engine-{os.getpid()}-{self.sample_rate}"
        self.process = None
        self.log_path = None

    def start(self, timeout=10.0):
        """Start the server and wait until clients can connect.

        Returns
        -------
        JackDummyServer
            self.

        Raises
        ------
        DeviceError
            If jackd is not installed, exits, or does not answer within ``timeout`` s.
        """
        if shutil.which("jackd") is None:
            raise DeviceError(f"jackd not found: {JACK_INSTALL_HINT}")
        jack = _jack()
        handle, self.log_path = tempfile.mkstemp(prefix=f"jackd-{self.name}-", suffix=".log")
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        # -R -P 70: real-time scheduling (falls back with a warning where not permitted).
        self.process = subprocess.Popen(
            ["jackd", "-n", self.name, "-R", "-P", "70", "-d", "dummy", "-r", str(self.sample_rate),
             "-p", str(self.period)],
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        os.close(handle)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise DeviceError(f"jackd exited at start (code {self.process.returncode}): {self.log_tail()}")
            try:
                probe = jack.Client("engine-probe", no_start_server=True, servername=self.name)
            except jack.JackOpenError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DeviceError(f"jackd did not answer within {timeout:g} s: {self.log_tail()}") from None
                time.sleep(0.05)
                continue
            probe.close()
            return self

    def environment(self):
        """Environment variables that point PortAudio's JACK host API at this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def log(self):
        """Everything the server has printed so far."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def log_tail(self, lines=3):
        text = [line for line in self.log().splitlines() if line.strip()]
        return " / ".join(text[-lines:]) or "(no output)"

    def xruns_in_log(self):
        """How many xruns the server reported in its log."""
        return sum("xrun" in line.lower() for line in self.log().splitlines())

    def stop(self):
        """Stop the server (terminate, then kill after 5 s). Stop PortAudio's use of it first."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove_log(self):
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class PlayRecord:
    """A JACK client that plays ``signal`` into one port and records another, cycle by cycle.

    Frame k of the recording is captured in the same JACK cycle as frame k of the signal is
    played, so the recording lags the signal by the graph's fixed latency and nothing else.

    Parameters
    ----------
    server_name : str
    signal : numpy.ndarray
        float32 mono samples to play (include any lead-in silence).
    play_to, record_from : str
        Port names, e.g. "PortAudio:in_0" and "PortAudio:out_0".
    extra_frames : int
        Frames to keep recording after the signal ends (silence is played meanwhile).
    """

    def __init__(self, server_name, signal, play_to, record_from, extra_frames=0, name="engine-player"):
        jack = _jack()
        self.signal = np.ascontiguousarray(signal, np.float32)
        self.total = len(self.signal) + extra_frames
        self.recording = np.zeros(self.total, np.float32)
        self.position = 0
        self.done = threading.Event()
        self.client = jack.Client(name, no_start_server=True, servername=server_name)
        self.out_port = self.client.outports.register("out")
        self.in_port = self.client.inports.register("in")
        self.client.set_process_callback(self._process)
        self.play_to, self.record_from = play_to, record_from
        self._running = False

    def _process(self, frames):
        out = self.out_port.get_array()
        captured = self.in_port.get_array()
        if not self._running or self.position >= self.total:
            out[:] = 0
            return
        start, stop = self.position, min(self.position + frames, self.total)
        count = stop - start
        played = self.signal[start:min(stop, len(self.signal))]
        out[:len(played)] = played
        out[len(played):] = 0
        self.recording[start:stop] = captured[:count]
        self.position = stop
        if stop >= self.total:
            self.done.set()

    def connect(self):
        """Activate, route our output to ``play_to`` (alone) and ``record_from`` to our input."""
        self.client.activate()
        for port in self.client.get_all_connections(self.play_to):
            self.client.disconnect(port, self.play_to)
        self.client.connect(self.out_port, self.play_to)
        self.client.connect(self.record_from, self.in_port)

    def start(self):
        """Start playing (and recording) from the next JACK cycle; ``done`` is set at the end."""
        self._running = True

    def close(self):
        try:
            self.client.deactivate()
        finally:
            self.client.close()


class PlayerProcess:
    """PlayRecord in a child process, so its real-time JACK callback never waits for our GIL.

    Two Python JACK clients in one process take turns on one interpreter lock every cycle; a
    real interface's other end is never inside the engine's process, and neither is this one.

    Parameters
    ----------
    As PlayRecord.
    """

    def __init__(self, server_name, signal, play_to, record_from, extra_frames=0):
        self._folder = tempfile.TemporaryDirectory(prefix="engine-player-")
        self._signal_path = os.path.join(self._folder.name, "signal.npy")
        self._recording_path = os.path.join(self._folder.name, "recording.npy")
        np.save(self._signal_path, np.ascontiguousarray(signal, np.float32))
        self.total = len(signal) + extra_frames
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.live.virtual", "--server", server_name, "--play", self._signal_path,
             "--record", self._recording_path, "--play-to", play_to, "--record-from", record_from,
             "--extra-frames", str(extra_frames)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True)
        self.started_at = None
        self.output = []

    def wait_until_playing(self, timeout):
        """Block until the child's first played cycle; returns the monotonic time it reported it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line.rstrip())
            if line.startswith("playing"):
                self.started_at = time.monotonic()
                return self.started_at
        raise DeviceError(f"the player did not start: {' / '.join(self.output[-3:]) or 'no output'}")

    def start(self):
        """Tell the child to start playing at its next JACK cycle."""
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def wait(self, timeout):
        """Wait for the child to finish; return the recording.

        Raises
        ------
        DeviceError
            If the child fails or does not finish within ``timeout`` s.
        """
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise DeviceError(f"the player did not finish within {timeout:g} s (the JACK server stopped?)") from None
        self.output += rest.splitlines()
        if self.process.returncode != 0:
            raise DeviceError(f"the player failed: {' / '.join(self.output[-3:])}")
        return np.load(self._recording_path)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        self._folder.cleanup()


def _player_main(argv=None):
    """Child process of PlayerProcess: connect, say "ready", wait for "go", play and record, save."""
    parser = argparse.ArgumentParser(prog="python -m engine.live.virtual", description=PlayerProcess.__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--play", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--play-to", required=True)
    parser.add_argument("--record-from", required=True)
    parser.add_argument("--extra-frames", type=int, default=0)
    args = parser.parse_args(argv)
    signal = np.load(args.play)
    player = PlayRecord(args.server, signal, args.play_to, args.record_from, args.extra_frames)
    try:
        player.connect()
        print("ready", flush=True)
        sys.stdin.readline()
        player.start()
        while player.position == 0:
            time.sleep(0.0005)
        print("playing", flush=True)
        if not player.done.wait(player.total / player.client.samplerate + 10):
            print(f"stopped after {player.position} of {player.total} frames", flush=True)
            return 1
        np.save(args.record, player.recording)
        print("done", flush=True)
        return 0
    finally:
        player.close()


if __name__ == "__main__":
    sys.exit(_player_main())
