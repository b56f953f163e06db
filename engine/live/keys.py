"""What stops a live session from outside: key presses from a terminal, and SIGINT / SIGTERM."""

import contextlib
import signal
import sys
import threading
import time


class KeyReader:
    """Single key presses from a terminal (cbreak mode, restored on exit); nothing when stdin is not a tty."""

    def __init__(self, stream=sys.stdin):
        self.stream = stream
        try:
            self.enabled = stream is not None and stream.isatty()
        except ValueError:  # a closed stream
            self.enabled = False
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

            try:
                termios.tcsetattr(self.stream, termios.TCSADRAIN, self._saved)
            except termios.error:  # the terminal has gone (its window closed): nothing to restore
                pass
            self._saved = None
        return False

    def read(self, timeout):
        """The next key pressed within ``timeout`` s, or None."""
        if not self.enabled:
            time.sleep(timeout)
            return None
        import select

        ready, _, _ = select.select([self.stream], [], [], timeout)
        return self.stream.read(1) if ready else None


class StopRequest:
    """A request to stop a running session, and its reason; safe to set from a signal handler.

    It quacks like the ``threading.Event`` LiveSession.run takes as ``stop_event`` (``set``,
    ``is_set``, ``wait``), without a lock: a signal handler runs between two bytecodes of the
    main thread, which may be inside an Event's lock at that moment.

    Attributes
    ----------
    reason : str or None
        The first reason given ("q", "duration", "SIGINT", "SIGTERM", "end", ...).
    listening : bool
        Set by whoever runs the audio: from then on a signal only requests the stop (the run
        winds down in order); before, a signal aborts the start with an exception.
    """

    def __init__(self):
        self.reason = None
        self.requested_at = None
        self.listening = False

    def request(self, reason):
        """Ask for a stop; the first reason is kept."""
        if self.reason is None:
            self.requested_at = time.monotonic()
            self.reason = reason

    def set(self):
        self.request("stop")

    def is_set(self):
        return self.reason is not None

    def wait(self, timeout=None):
        """Wait until a stop is requested (polling: no lock); returns whether it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.reason is None:
            left = 0.01 if deadline is None else min(0.01, deadline - time.monotonic())
            if left <= 0:
                break
            time.sleep(left)
        return self.reason is not None


class Terminated(BaseException):
    """SIGTERM arrived before the audio ran (like KeyboardInterrupt for SIGINT)."""


#: Exit status of engine-live for each stop reason given by a signal (128 + the signal's number,
#: as a shell reports a process the signal ended).
SIGNAL_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_deferral = {"depth": 0, "pending": None}


@contextlib.contextmanager
def interrupts_deferred():
    """Hold back the exception stop_on_signals raises for a signal until the block ends.

    Around code that acquires something it must give back (a child process, a JACK client) and
    records it: an exception in between would lose it, and one raised inside a C library's
    callback (libjack's error function) would be printed as "Exception ignored" and lost
    itself. It is raised when the outermost such block ends normally. Nothing changes where
    stop_on_signals is not in force (a default SIGINT handler raises as usual).
    """
    _deferral["depth"] += 1
    try:
        yield
    finally:
        _deferral["depth"] -= 1
    if _deferral["depth"] == 0 and _deferral["pending"] is not None:
        pending, _deferral["pending"] = _deferral["pending"], None
        raise pending


@contextlib.contextmanager
def stop_on_signals(stop):
    """Turn SIGINT and SIGTERM into stop requests for the block's duration (main thread only).

    While ``stop.listening`` is false (loading models, starting a server) the first signal
    aborts the start: SIGINT raises KeyboardInterrupt, SIGTERM raises Terminated (at once, or
    where an interrupts_deferred block ends), so the ``finally`` clauses on the way out clean up.
    Once the audio runs it only sets ``stop``, and the session winds down in order (player,
    stream, PortAudio, server). A signal that arrives while leaving is noted (the first reason
    wins) and never raises again.

    The main thread (and every thread and library thread it starts) blocks both signals, and a
    thread of ours that only sleeps receives them: a signal landing in the main thread would
    interrupt whatever system call it is in, and PortAudio fails when that is one of its own
    (seen: Pa_StartStream). Python still runs the handler in the main thread.

    Parameters
    ----------
    stop : StopRequest
    """
    raised = []

    def handler(signum, frame):
        name = signal.Signals(signum).name
        first = stop.reason is None
        stop.request(name)
        if stop.listening or raised or not first:
            return
        exception = KeyboardInterrupt() if signum == signal.SIGINT else Terminated(name)
        raised.append(exception)
        if _deferral["depth"]:
            _deferral["pending"] = exception
            return
        raise exception

    saved = {}
    for signum in _STOP_SIGNALS:
        saved[signum] = signal.signal(signum, handler)
    leave = threading.Event()
    receiver = threading.Thread(target=leave.wait, name="engine-signal-receiver", daemon=True)
    receiver.start()  # before the mask below: it keeps both signals unblocked
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield stop
    finally:
        _deferral["pending"] = None
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        leave.set()
        for signum, previous in saved.items():
            signal.signal(signum, previous)
