"""What every command shares: the error and warning convention, rate arguments, progress, output paths."""

import argparse
import functools
import os
import sys
import time
import warnings

from ..errors import ArgumentError, EngineError

def entry_point(function):
    """Run a command's main with the project's error convention.

    An EngineError is one line on stderr and exit 1; Ctrl-C exits 130. For the command's duration
    every warning (the engine's StabilityWarning, numpy's RuntimeWarning, ...) is printed as one
    line, ``engine-process: warning: <message>``, instead of Python's file:line format with a
    source line; the previous ``warnings.showwarning`` is restored afterwards.
    """

    @functools.wraps(function)
    def wrapper(argv=None):
        prog = "engine-" + function.__name__.replace("_main", "").replace("_", "-")
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(prog)
            try:
                return function(argv)
            except EngineError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

    return wrapper


def _warning_printer(prog):
    """A ``warnings.showwarning`` that prints ``<prog>: warning: <message>`` on one line."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())  # one line, whatever the message holds
        if not issubclass(category, UserWarning):  # numpy's RuntimeWarning etc.: say whose it is
            text += f" ({category.__name__})"
        stream = sys.stderr if file is None else file
        try:
            print(f"{prog}: warning: {text}", file=stream, flush=True)
        except (OSError, ValueError):  # stderr closed: a warning must never become an error
            pass

    return show


def rate_argument(text):
    """argparse type for a rate in Hz (validated by the engine, which names what is wrong)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of Hz") from None


def knob_argument(text):
    """argparse type for one --control value: a knob position from 0 to 1, as the config's and the live knobs'.

    ``--control`` takes one or more values, so it takes every word after it: file names given after it
    would be read as knob values (the error then says to put the option last). (engine.Processor's
    set_controls takes any finite value, for a study of a model outside its trained range.)
    """
    from ..config import CONTROL_RANGE

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a knob value (a number); --control takes every word "
                                         f"after it, so put it after the file names") from None
    low, high = CONTROL_RANGE
    if not low <= value <= high:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} is outside the knobs' range, {low:g} to {high:g} (as in a "
                                         f"config and on the live knobs)")
    return value


class ProgressBar:
    """A one-line progress bar on stderr for long renders (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, label, stream=None, min_frames=0):
        self.label = label
        # sys.stderr as it is now, not as it was at import (a test harness may have swapped it since).
        self.stream = stream = sys.stderr if stream is None else stream
        self.interactive = stream.isatty()
        self.min_frames = min_frames
        self.started = time.perf_counter()
        self.last_tenth = -1

    def __call__(self, done, total):
        if total < self.min_frames or total <= 0:
            return
        fraction = min(done / total, 1.0)
        elapsed = time.perf_counter() - self.started
        if self.interactive:
            filled = int(30 * fraction)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {elapsed:5.1f} s")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif int(fraction * 10) > self.last_tenth:
            self.last_tenth = int(fraction * 10)
            print(f"{self.label}: {fraction:.0%} ({elapsed:.1f} s)", file=self.stream, flush=True)


def check_output(path, flag, folder=False, create_folders=False, inputs=()):
    """Refuse an output path that cannot be written, before any work is done.

    Parameters
    ----------
    path : str
        A file to write (``folder=False``) or a folder to write files in (``folder=True``).
    flag : str
        The option that gave it, for the message (``--csv``).
    folder : bool
        Whether ``path`` is a folder (created if missing) rather than a file.
    create_folders : bool
        Whether a file's missing parent folders will be created (else they must exist).
    inputs : sequence of str
        Files this command reads: writing over one of them is refused.

    Raises
    ------
    ArgumentError
        If the path is a directory where a file is wanted (or the reverse), a FIFO or device
        (writing would block), one of ``inputs``, or in a folder that is missing or not writable.
    """
    from ..audiofile import path_problem

    where = f"{flag} {path}"
    if os.path.lexists(path):
        if folder:
            if not os.path.isdir(path):
                raise ArgumentError(f"{where}: is not a folder; give a folder to write the files in")
            if not os.access(path, os.W_OK):
                raise ArgumentError(f"{where}: this folder is not writable")
            return
        if os.path.exists(path):  # (a dangling symlink is written through: fine)
            problem = path_problem(path)
            if problem is not None:
                raise ArgumentError(f"{where}: {problem}; give the path of a file to write")
            if not os.access(path, os.W_OK):
                raise ArgumentError(f"{where}: exists and is not writable")
            for source in inputs:
                if source and os.path.exists(source) and os.path.samefile(path, source):
                    raise ArgumentError(f"{where}: is the same file as {source}, which this command reads; "
                                        "write somewhere else")
    parent = os.path.dirname(os.path.abspath(path)) if not folder else os.path.abspath(path)
    if not folder and not create_folders and not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise ArgumentError(f"{where}: {parent} is a file, not a folder")
        raise ArgumentError(f"{where}: the folder {parent} does not exist; create it or write elsewhere")
    existing = parent
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ArgumentError(f"{where}: {existing} is a file, so the folder {parent} cannot be made")
    if not os.access(existing, os.W_OK):
        raise ArgumentError(f"{where}: the folder {existing} is not writable")


def make_folders(folder, flag):
    """os.makedirs, with a failure as one line naming the option."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ArgumentError(f"{flag}: cannot create the folder {folder} ({exc.strerror or exc})") from None


def write_output(write, path, flag):
    """Run ``write()``; an OSError (disk full, permissions changed meanwhile) becomes one line."""
    try:
        return write()
    except OSError as exc:
        raise ArgumentError(f"{flag} {path}: cannot write ({exc.strerror or exc})") from None
