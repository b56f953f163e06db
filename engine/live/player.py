"""The play/record client of the virtual interface: a JACK client, in a child process, that plays a
clip into the engine's input port and records its output port in the same process cycles.

Run as ``python -m engine.live.player`` by :class:`PlayerProcess`.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ..errors import DeviceError
from .virtual import _child_setup, _jack, _signals_held

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
        self.position = 0  # frames played and recorded; recording[:position] is complete
        self.done = threading.Event()
        self.server_gone = threading.Event()
        self.client = jack.Client(name, no_start_server=True, servername=server_name)
        self.out_port = self.client.outports.register("out")
        self.in_port = self.client.inports.register("in")
        self.client.set_process_callback(self._process)
        self.client.set_shutdown_callback(self._shutdown)
        self.play_to, self.record_from = play_to, record_from
        self._running = False
        self._stopping = False

    def _process(self, frames):
        out = self.out_port.get_array()
        captured = self.in_port.get_array()
        if self._stopping and self._running:
            self._running = False
            self.done.set()
        if not self._running or self.position >= self.total:
            out[:] = 0
            return
        start, stop = self.position, min(self.position + frames, self.total)
        count = stop - start
        played = self.signal[start:min(stop, len(self.signal))]
        out[:len(played)] = played
        out[len(played):] = 0
        self.recording[start:stop] = captured[:count]
        self.position = stop  # after the copy: a reader of position always sees finished frames
        if stop >= self.total:
            self.done.set()

    def _shutdown(self, status, reason):
        # Called by libjack's thread when the server goes away: only set flags.
        self.server_gone.set()
        self.done.set()

    def connect(self):
        """Activate, route our output to ``play_to`` (alone) and ``record_from`` to our input."""
        self.client.activate()
        self.route()

    def route(self):
        """Route our output to ``play_to`` (alone) and ``record_from`` to our input (client active)."""
        for port in self.client.get_all_connections(self.play_to):
            self.client.disconnect(port, self.play_to)
        self.client.connect(self.out_port, self.play_to)
        self.client.connect(self.record_from, self.in_port)

    def start(self):
        """Start playing (and recording) from the next JACK cycle; ``done`` is set at the end."""
        self._running = True

    def stop(self):
        """Stop playing and recording at the next cycle boundary (``done`` is then set)."""
        self._stopping = True
        if not self._running:
            self.done.set()

    def close(self):
        if self.server_gone.is_set():
            return  # deactivating a client of a dead server blocks; the process is about to exit
        try:
            self.client.deactivate()
        finally:
            self.client.close()


class PlayerProcess:
    """PlayRecord in a child process, so its real-time JACK callback never waits for our GIL.

    Two Python JACK clients in one process take turns on one interpreter lock every cycle; a
    real interface's other end is never inside the engine's process, and neither is this one.

    The child talks through lines on its stdin and stdout; one thread of ours reads them all,
    so any thread may call the methods below. It prints "ready" once its client is active;
    on ``start()`` it routes the ports, waits ``settle`` s and plays ("playing"); it stops at the
    end of the signal, on ``request_stop()`` or when the server goes away, saves what it
    recorded and prints "done N" or "server-gone N" (N frames recorded).

    Parameters
    ----------
    As PlayRecord.
    """

    def __init__(self, server_name, signal, play_to, record_from, extra_frames=0, settle=0.2):
        self._folder = tempfile.TemporaryDirectory(prefix="engine-player-")
        self._signal_path = os.path.join(self._folder.name, "signal.npy")
        self._recording_path = os.path.join(self._folder.name, "recording.npy")
        np.save(self._signal_path, np.ascontiguousarray(signal, np.float32))
        self.total = len(signal) + extra_frames
        self.server_name = server_name
        self.output = []
        self.ready = threading.Event()
        self.playing = threading.Event()
        self.finished = threading.Event()  # "done"/"server-gone" printed, or the child's output ended
        self.started_at = None
        self.frames = None
        self.server_gone = False
        self._write_lock = threading.Lock()
        self.process = self._reader = None
        try:
            with _signals_held():
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "engine.live.player", "--server", server_name, "--play",
                     self._signal_path, "--record", self._recording_path, "--play-to", play_to, "--record-from",
                     record_from, "--extra-frames", str(extra_frames), "--settle", str(settle)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True,
                    preexec_fn=_child_setup)  # noqa: PLW1509 (_child_setup only makes system calls)
                self._reader = threading.Thread(target=self._read, name="engine-player-output", daemon=True)
                self._reader.start()
        except BaseException:  # Ctrl-C right after the fork: the caller never gets this object to close
            if self.process is not None:
                self.close()
            else:
                self._folder.cleanup()
            raise

    def _read(self):
        for line in self.process.stdout:
            line = line.rstrip()
            self.output.append(line)
            word, _, rest = line.partition(" ")
            if word == "ready":
                self.ready.set()
            elif word == "playing":
                self.started_at = time.monotonic()
                self.playing.set()
            elif word in ("done", "server-gone"):
                self.frames = int(rest.split()[0]) if rest.split() and rest.split()[0].isdigit() else None
                self.server_gone = word == "server-gone"
                self.finished.set()
        self.process.stdout.close()
        self.finished.set()
        self.ready.set()  # nobody waits for a child that has gone
        self.playing.set()

    def _send(self, command):
        with self._write_lock:
            try:
                self.process.stdin.write(command + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):  # the child has gone: the reader notices
                pass

    def describe(self):
        """The child's last words, for error messages."""
        return " / ".join(self.output[-3:]) or "no output"

    def wait_until_ready(self, timeout, should_stop=lambda: False):
        """Block until the child's client is active. Returns False if ``should_stop()`` became true.

        Raises
        ------
        DeviceError
            If the child exits or is not ready within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.02):
            if should_stop():
                return False
            if time.monotonic() > deadline:
                raise DeviceError(f"the player did not connect within {timeout:g} s: {self.describe()}")
        if self.finished.is_set() and not any(line == "ready" for line in self.output):
            raise DeviceError(f"the player could not connect: {self.describe()}")
        return True

    def start(self):
        """Tell the child to route its ports and start playing at its next JACK cycle."""
        self._send("go")

    def request_stop(self):
        """Tell the child to stop playing and recording at its next JACK cycle."""
        self._send("stop")

    def wait_until_playing(self, timeout):
        """Block until the child's first played cycle; returns the monotonic time it reported it.

        Raises
        ------
        DeviceError
            If the child fails or does not start within ``timeout`` s.
        """
        if not self.playing.wait(timeout) or self.started_at is None:
            raise DeviceError(f"the player did not start: {self.describe()}")
        return self.started_at

    def result(self, timeout):
        """Wait for the child to finish; return the recording it saved (possibly shorter than the signal).

        Returns
        -------
        numpy.ndarray or None
            The recorded frames, None if the child saved nothing.

        Raises
        ------
        DeviceError
            If the child does not finish within ``timeout`` s.
        """
        if not self.finished.wait(timeout):
            raise DeviceError(f"the player did not finish within {timeout:g} s: {self.describe()}")
        try:
            self.process.wait(1.0)  # it closes its client and exits right after reporting
        except subprocess.TimeoutExpired:
            pass  # close() ends it
        if self.frames is None or not os.path.exists(self._recording_path):
            return None
        return np.load(self._recording_path)

    def wait(self, timeout):
        """Wait for the child to play the whole signal; return the recording.

        Raises
        ------
        DeviceError
            If the child fails, stops early or does not finish within ``timeout`` s.
        """
        recording = self.result(timeout)
        if recording is None or len(recording) < self.total:
            raise DeviceError(f"the player failed: {self.describe()}")
        return recording

    def close(self, timeout=1.0):
        """Make sure the child has ended (SIGTERM, then SIGKILL) and remove its files."""
        if self.process.poll() is None:
            self._send("stop")
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        with self._write_lock:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout)
        self._folder.cleanup()


def _player_main(argv=None):
    """Child process of PlayerProcess (see its docstring for the protocol)."""
    parser = argparse.ArgumentParser(prog="python -m engine.live.player", description=PlayerProcess.__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--play", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--play-to", required=True)
    parser.add_argument("--record-from", required=True)
    parser.add_argument("--extra-frames", type=int, default=0)
    parser.add_argument("--settle", type=float, default=0.2)
    args = parser.parse_args(argv)
    # The engine stops us through stdin (or by closing it); a terminal's Ctrl-C is the engine's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    clip = np.load(args.play)
    player = PlayRecord(args.server, clip, args.play_to, args.record_from, args.extra_frames)
    commands = []
    command_arrived = threading.Event()

    def listen():
        for line in sys.stdin:
            commands.append(line.strip())
            command_arrived.set()
        commands.append("stop")  # stdin closed: the engine has gone
        command_arrived.set()

    threading.Thread(target=listen, daemon=True).start()

    def finish():
        # Stop at a cycle boundary (or at once, if no cycle comes: the server is gone), save, report.
        player.stop()
        if not player.done.wait(0.5):
            player.server_gone.set()
        frames = player.position
        np.save(args.record, player.recording[:frames])
        print(f"{'server-gone' if player.server_gone.is_set() else 'done'} {frames}", flush=True)
        if player.server_gone.is_set():
            os._exit(0)  # a dead server's client cannot be closed without blocking
        player.close()
        return 0

    player.client.activate()
    print("ready", flush=True)
    while not command_arrived.wait(0.05):
        if player.server_gone.is_set():
            return finish()
    if commands[0] != "go":
        return finish()
    try:
        player.route()
    except Exception as exc:  # noqa: BLE001  (the message goes to the engine, which reports it)
        print(f"cannot connect {args.play_to} / {args.record_from}: {exc}", flush=True)
        finish()
        return 1
    time.sleep(args.settle)  # let the graph take the new connections before the first played frame
    player.start()
    while player.position == 0 and not player.done.is_set() and "stop" not in commands:
        time.sleep(0.0005)
    if player.position:
        print("playing", flush=True)
    while not player.done.wait(0.01):
        if "stop" in commands:
            break
    return finish()


if __name__ == "__main__":
    sys.exit(_player_main())
