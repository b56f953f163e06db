"""A virtual audio interface: a JACK2 dummy-backend server (the play/record client is in player.py,
the registry clean-up in jack_registry.py).

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

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time


from ..errors import DeviceError
from ..resample import resample  # noqa: F401  (re-exported: the live path plays clips at the server's rate)
from .jack_registry import SERVER_PREFIX, clear_stale_registrations, leftovers, registrations  # noqa: F401
from .keys import interrupts_deferred

#: Frames per cycle of a JackDummyServer unless told (the virtual interface runs the session's
#: block size: engine.live.playthrough.run_virtual).
DEFAULT_PERIOD = 128


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


class JackDummyServer:
    """``jackd -d dummy`` under a private server name, started and stopped by us.

    Parameters
    ----------
    sample_rate : int
    period : int
        Frames per JACK cycle (default DEFAULT_PERIOD).
    name : str, optional
        The server name (default: ``engine-<pid>-<rate>``), so several can coexist; it should
        start with SERVER_PREFIX, or stale registrations it leaves are never cleared.
    """

    def __init__(self, sample_rate, period=DEFAULT_PERIOD, name=None):
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
