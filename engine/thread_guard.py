"""One thread at a time in a Processor: a method called while another thread is inside one raises.

Processor's methods touch the arrays the kernel is running on (prepare swaps them), so two
threads at once would corrupt memory. Each guarded method takes the processor's one token
(``processor._token``, a one-element list: list.pop is atomic) and gives it back; a second thread
finds the list empty and gets ConcurrencyError. Nothing ever waits.
"""

import functools

from .errors import ConcurrencyError


def exclusive(method):
    """Run a Processor method holding the processor's token (see Processor.process), or raise ConcurrencyError."""
    name = method.__name__

    @functools.wraps(method)
    def exclusive(self, *args, **kwargs):
        token = self._token
        try:
            token.pop()
        except IndexError:
            raise busy(name) from None
        try:
            return method(self, *args, **kwargs)
        finally:
            token.append(True)

    return exclusive


def busy(name):
    return ConcurrencyError(f"Processor.{name}() was called while another thread is inside one of this processor's "
                            "methods; a Processor serves one thread at a time: give each thread its own, or "
                            "serialise the calls with a lock")
