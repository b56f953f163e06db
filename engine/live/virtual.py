"""A virtual audio interface: a JACK2 dummy-backend server, and a client that plays and records.

JACK's dummy backend is a real audio server paced in real time by a timer instead of a sound
card (DESIGN.md). The engine's live path opens it through PortAudio exactly as it would open a
USB interface; a second JACK client (the ``JACK-Client`` package, in a child process) plays a
clip into the engine's input port and records its output port in the same process cycles, so
the recording is sample-locked to the clip up to the fixed latency of the JACK graph.

Servers and children are cleaned up on every path. jackd is stopped with SIGTERM (it then
removes its registration from /dev/shm), SIGKILL only as a last resort. A jackd that died
without unregistering (SIGKILL, a crash) leaves its slot in JACK2's registry of at most eight
servers; jackd reuses a dead slot only for the same server name, so eight such leftovers stop
every later server from starting ("Too many servers already active"). Before it starts a server,
and after one of its own died, the engine therefore clears the stale registrations of servers
whose name starts with :data:`SERVER_PREFIX` (only those: other programs' servers are theirs).
"""

import argparse
import contextlib
import ctypes
import mmap
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ..errors import DeviceError
from ..resample import resample  # noqa: F401  (re-exported: the live path plays clips at the server's rate)
from .keys import interrupts_deferred

#: Frames per JACK cycle of a virtual interface when nobody says otherwise: the engine's default
#: block size. ``engine-live --virtual`` runs the server at the session's own block size, so
#: PortAudio calls the engine once per cycle and the round trip is two periods (measured by
#: benchmarks/live_latency.py). It used to be 1024 frames, to ride out the stalls of a callback
#: that ran Python on the audio thread.
VIRTUAL_PERIOD = 128

#: Every JACK server the engine starts is named with this prefix; stale registrations are
#: cleared only for names that start with it.
SERVER_PREFIX = "engine-"

#: How long jackd gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 3.0

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


_PR_SET_PDEATHSIG = 1
try:  # looked up here: the child of a threaded process should not load anything between fork and exec
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the engine's own cleanup still stops its children
    _prctl = None


def _child_setup():
    """In a child before exec (preexec_fn): its own session, so a terminal's Ctrl-C reaches only
    the engine, which then stops its children in order; SIGTERM if the engine dies without
    stopping it; and SIGINT / SIGTERM unblocked (the engine's main thread blocks them).

    It makes three system calls and loads nothing (fork in a threaded process allows no more).
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    os.setsid()
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_held():
    """No KeyboardInterrupt (or engine-live's Terminated) inside the block: a fork and the assignment of its Popen.

    One raised inside the fork's Python hooks (logging's at-fork lock release) would be printed
    as "Exception ignored" and lost; one raised between the fork and the assignment would lose
    the child. Held back, it arrives when the block ends, and the caller's cleanup sees the
    child. Without engine-live's handlers (keys.stop_on_signals) a default SIGINT is held at
    the thread's signal mask instead; children unblock both again (_child_setup).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        with interrupts_deferred():
            yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# -- JACK2's server registry (/dev/shm/jack-shm-registry) ---------------------------------------
# Layout of JACK2 1.9 (common/shm.h): a header {uint32 magic; uint16 protocol; int type;
# int32 size, hdr_len, entry_len; {pid_t pid; char name[257]} server[8]}, then 256 segment entries
# {int16 index; pid_t allocator; int32 size; char id[256]}. jackd locks it with a SysV semaphore.
REGISTRY_PATH = "/dev/shm/jack-shm-registry"
_MAGIC = 0x4A41434B  # "JACK"
_SLOT0, _SLOT_LEN, _MAX_SERVERS = 24, 264, 8
_ENTRY0, _ENTRY_LEN, _MAX_SEGMENTS = _SLOT0 + _SLOT_LEN * _MAX_SERVERS, 268, 256
_SEMAPHORE_KEY = 0x282929
_SEM_UNDO = 0x1000


class _SemBuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short)]


def _is_running_jackd(pid):
    """Whether ``pid`` is a live (not zombie) jackd process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return False
    name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
    return state != "Z" and name.startswith("jackd")


def _registry_layout_ok(data):
    if len(data) < _ENTRY0 + _ENTRY_LEN * _MAX_SEGMENTS:
        return False
    magic, = struct.unpack_from("<I", data, 0)
    hdr_len, entry_len = struct.unpack_from("<ii", data, 16)
    return magic == _MAGIC and hdr_len == _ENTRY0 and entry_len == _ENTRY_LEN


def _slot(data, index):
    """(pid, user, server name) of a registry slot; the stored name is "jack-<uid>:<server>:"."""
    offset = _SLOT0 + index * _SLOT_LEN
    pid, = struct.unpack_from("<i", data, offset)
    stored = bytes(data[offset + 4:offset + 4 + 257]).split(b"\0")[0].decode(errors="replace")
    parts = stored.split(":")
    return pid, parts[0], parts[1] if len(parts) > 1 else stored


def registrations():
    """The servers JACK2's registry lists.

    Returns
    -------
    list of (str, int, bool)
        (server name, pid, whether that pid is a running jackd), for every occupied slot; empty
        if there is no registry or its layout is not JACK2's.
    """
    try:
        with open(REGISTRY_PATH, "rb") as handle:
            data = handle.read(_ENTRY0 + _ENTRY_LEN * _MAX_SEGMENTS)
    except OSError:
        return []
    if not _registry_layout_ok(data):
        return []
    found = []
    for index in range(_MAX_SERVERS):
        pid, _, name = _slot(data, index)
        if pid:
            found.append((name, pid, _is_running_jackd(pid)))
    return found


def clear_stale_registrations(prefix=SERVER_PREFIX, name=None):
    """Remove what dead engine servers left in /dev/shm: registry slot, segments, semaphores, socket.

    A slot is stale when its pid is not a running jackd. Only slots of this user whose server
    name starts with ``prefix`` (or is exactly ``name``) are touched, under jackd's own registry
    lock, as jackd itself releases a slot on a clean exit.

    Parameters
    ----------
    prefix : str
    name : str, optional
        Clear only this server (e.g. the one we just had to kill).

    Returns
    -------
    list of str
        The server names whose leftovers were removed.
    """
    if not os.path.exists(REGISTRY_PATH):
        return []
    libc = ctypes.CDLL(None, use_errno=True)
    semaphore = libc.semget(_SEMAPHORE_KEY, 0, 0)
    if semaphore == -1:  # no jackd has run since boot: nobody can hold the lock, but the registry is then fresh
        return []
    user = f"jack-{os.getuid()}"
    cleared, dead_pids = [], set()
    if libc.semop(semaphore, ctypes.byref(_SemBuf(0, -1, _SEM_UNDO)), 1) != 0:
        return []
    try:
        with open(REGISTRY_PATH, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
            if not _registry_layout_ok(data):
                return []
            for index in range(_MAX_SERVERS):
                pid, owner, server = _slot(data, index)
                if not pid or owner != user or _is_running_jackd(pid):
                    continue
                if not (server == name if name is not None else server.startswith(prefix)):
                    continue
                offset = _SLOT0 + index * _SLOT_LEN
                data[offset:offset + _SLOT_LEN] = bytes(_SLOT_LEN)
                cleared.append(server)
                dead_pids.add(pid)
            # The dead servers' shared-memory segments (the next jackd would remove those of any dead
            # process; these can be 100 MB each, so do not wait for it).
            for index in range(_MAX_SEGMENTS):
                offset = _ENTRY0 + index * _ENTRY_LEN
                allocator, = struct.unpack_from("<i", data, offset + 4)
                if allocator in dead_pids:
                    segment = bytes(data[offset + 12:offset + _ENTRY_LEN]).split(b"\0")[0].decode(errors="replace")
                    if segment.startswith("/") and "/" not in segment[1:]:
                        _unlink(os.path.join("/dev/shm", segment[1:]))
                    data[offset + 4:offset + _ENTRY_LEN] = bytes(_ENTRY_LEN - 4)
    finally:
        libc.semop(semaphore, ctypes.byref(_SemBuf(0, 1, _SEM_UNDO)), 1)
    for server in cleared:
        for leftover in leftovers(server):
            _unlink(leftover)
    return cleared


def leftovers(name):
    """Files in /dev/shm that belong to server ``name``: its semaphores and its socket."""
    try:
        entries = os.listdir("/dev/shm")
    except OSError:
        return []
    owned = (f"jack_sem.{os.getuid()}_{name}_", f"jack_{name}_")
    return [os.path.join("/dev/shm", entry) for entry in entries if entry.startswith(owned)]


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class JackDummyServer:
    """``jackd -d dummy`` under a private server name, started and stopped by us.

    Parameters
    ----------
    sample_rate : int
    period : int
        Frames per JACK cycle (default VIRTUAL_PERIOD).
    name : str, optional
        The server name (default: ``engine-<pid>-<rate>``), so several can coexist; it should
        start with SERVER_PREFIX, or stale registrations it leaves are never cleared.
    """

    def __init__(self, sample_rate, period=VIRTUAL_PERIOD, name=None):
        self.sample_rate = int(sample_rate)
        self.period = int(period)
        self.name = name or f"{SERVER_PREFIX}{os.getpid()}-{self.sample_rate}"
        self.process = None
        self.log_path = None
        self.returncode = None
        self.lost = False  # the server exited while it should have been running

    def start(self, timeout=10.0):
        """Clear stale registrations of dead engine servers, start the server, wait until clients can connect.

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
        clear_stale_registrations()
        handle, self.log_path = tempfile.mkstemp(prefix=f"jackd-{self.name}-", suffix=".log")
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        try:
            try:
                # -R -P 70: real-time scheduling (falls back with a warning where not permitted).
                with _signals_held():
                    self.process = subprocess.Popen(
                        ["jackd", "-n", self.name, "-R", "-P", "70", "-d", "dummy", "-r", str(self.sample_rate),
                         "-p", str(self.period)],
                        stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                        preexec_fn=_child_setup)  # noqa: PLW1509 (_child_setup only makes system calls)
            finally:
                os.close(handle)
            deadline = time.monotonic() + timeout
            while True:
                if self.process.poll() is not None:
                    raise DeviceError(f"jackd exited at start (code {self.process.returncode}): {self.log_tail()}")
                # A client opened must be closed before the server stops, or its semaphore stays in /dev/shm.
                with interrupts_deferred():
                    try:
                        probe = jack.Client("engine-probe", no_start_server=True, servername=self.name)
                    except jack.JackOpenError:
                        probe = None
                    else:
                        probe.close()
                if probe is not None:
                    return self
                if time.monotonic() > deadline:
                    raise DeviceError(f"jackd did not answer within {timeout:g} s: {self.log_tail()}")
                time.sleep(0.05)
        except BaseException:  # a failed start, or Ctrl-C while waiting: leave nothing behind
            self.stop()
            self.remove_log()
            raise

    @property
    def running(self):
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

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

    def describe_exit(self):
        """How the server process ended, in words ("killed by SIGKILL", "exit code 1")."""
        code = self.returncode if self.process is None else self.process.poll()
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop the server: SIGTERM, wait up to ``timeout`` s, SIGKILL only if it is still there.

        Stop PortAudio's use of the server first (devices.terminate_portaudio). If the server
        had died by itself, or had to be killed, its stale registration is cleared.

        Returns
        -------
        int or None
            The server's exit status (negative: the signal that ended it), None if never started.
        """
        if self.process is None:
            return self.returncode
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        else:
            self.lost = True
        self.returncode = process.returncode
        self.process = None
        if any(name == self.name for name, _, _ in registrations()) or leftovers(self.name):
            clear_stale_registrations(name=self.name)
        return self.returncode

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
                    [sys.executable, "-m", "engine.live.virtual", "--server", server_name, "--play",
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
    parser = argparse.ArgumentParser(prog="python -m engine.live.virtual", description=PlayerProcess.__doc__)
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
