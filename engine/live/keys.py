"""Single key presses from a terminal, for the live session's controls."""

import sys
import time


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
