"""A small pool of worker threads that run the block kernel on channel ranges of one Processor."""

import queue
import threading

from . import kernels

#: Shorter blocks run all channels on the calling thread: waking a sleeping thread and hearing
#: back from it takes ~80 µs on a virtual machine (measured here; ~10 µs on bare metal), as long
#: as a 256-sample block of LSTM-40 takes to compute.
THREADED_FRAMES = 512


class ChannelThreads:
    """Worker threads that each run kernels.process_block on the arguments they are handed.

    One queue per worker and one back: handing a block over and collecting it costs a few
    microseconds plus the time the OS takes to wake a thread. The kernel releases the GIL, so the
    workers and the calling thread compute at the same time.
    """

    def __init__(self, count):
        self._inboxes = [queue.SimpleQueue() for _ in range(count)]
        self._done = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, args=(inbox, self._done), daemon=True,
                                          name=f"engine-channels-{i + 1}") for i, inbox in enumerate(self._inboxes)]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _work(inbox, done):
        while True:
            arguments = inbox.get()
            if arguments is None:
                return
            try:
                kernels.process_block(*arguments)
                done.put(None)
            except BaseException as exc:  # handed back to the caller, never lost in a thread
                done.put(exc)

    def start(self, jobs):
        """Hand one argument tuple to each worker (as many jobs as workers)."""
        for inbox, arguments in zip(self._inboxes, jobs):
            inbox.put(arguments)

    def wait(self):
        """Wait for every worker's job; re-raise the first error one of them met."""
        errors = [self._done.get() for _ in self._inboxes]
        for error in errors:
            if error is not None:
                raise error

    def close(self):
        for inbox in self._inboxes:
            inbox.put(None)
        self._inboxes = []
