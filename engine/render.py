"""Offline rendering: run a model over an audio file at the file's own rate.

The output keeps the input's rate, channel count, container and subtype. It is written to a
temporary file beside the destination and moved into place only when complete, so a failure
(or SIGTERM: see :class:`RenderTerminated`) never leaves a half-written file, and nothing the
user has is overwritten unless asked; the input is never overwritten.

The offline contract for non-finite samples: the input must be finite audio (a NaN or infinite
input sample is refused, naming where it is: the file is broken, and the user should know);
the output is always finite — a NaN or infinite sample the model produces (a network that blows
up) is written as 0 and counted (``RenderReport.non_finite_samples``), and every finite sample
beyond ±1 in an integer output is clipped and counted (``clipped_samples``).
"""

import contextlib
import os
import signal
import tempfile
import threading
from dataclasses import dataclass

import numpy as np
import soundfile

from .errors import AudioFileError, ControlError
from .processor import MAX_CHANNELS, Processor, knob_values
from .settle import settled

BLOCK_FRAMES = 65536


@dataclass
class RenderReport:
    """What a render did: frames written, the rate and ratio it ran at, clipped samples, the subtype
    written, the output samples that were not finite (written as 0), and the method that ran (which
    the stability check may have chosen in place of the requested one). ``state_resets``: how often
    the kernels restarted a channel after its network produced a non-finite value (Processor.repairs).
    ``chain``: the stages that ran, e.g. "gate → model → eq → cabinet" ("model" without a chain)."""

    frames: int
    sample_rate: float
    channels: int
    ratio: float
    clipped_samples: int
    subtype: str
    non_finite_samples: int = 0
    state_resets: int = 0
    interpolation: str = ""
    requested_interpolation: str = ""
    chain: str = "model"
    oversample: int = 1
    latency: int = 0


class RenderTerminated(KeyboardInterrupt):
    """SIGTERM arrived while render_file was writing; the temporary file was removed, nothing written.

    render_file turns SIGTERM into this exception (when called on the main thread and SIGTERM has
    Python's default handling), so that ``kill`` never leaves a hidden temporary file behind. It is
    a KeyboardInterrupt: code that treats Ctrl-C as "stop" treats it the same way.
    """


def render_file(model, input_path, output_path, interpolation="linear", controls=None, force=False,
                progress=None, oversample=1, chain=None, settle=True):
    """Process an audio file through a model and write the result.

    Parameters
    ----------
    model : Model
        The model to run; it is corrected to the file's rate.
    input_path, output_path : str or os.PathLike
        Any file soundfile reads; the output takes the input's format and subtype.
    interpolation : str
        The state-read method (see engine.INTERPOLATIONS), or "auto" (see engine.auto).
    controls : sequence of float, optional
        Control values for a conditioned model (default 0.5 for each control).
    force : bool
        Replace an existing output file.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each block.
    oversample : int
        Processor's ``oversample`` (1, 2 or 4). A processor with latency (``resample``,
        ``oversample`` > 1) has it compensated: the output starts with the response to the first
        input frame and has as many frames as the input (the tail is flushed with silence).
    chain : ChainSettings, optional
        Stages around the model (engine.chain_settings): each channel runs through its own
        engine.Chain, exactly as ``Chain.from_settings(model, rate, chain).process`` does (the
        chain's latency is the model's, compensated the same way). None, or a chain of the
        model alone: the Processor by itself.
    settle : bool
        True (the default): the model starts at rest on silence (engine.settle), as engine-live
        and engine.Chain start it, with no thump in the first milliseconds; False: at the file's
        own initial state (zero for most formats), as the training framework starts, so the
        output equals ``Processor(model, rate).process`` of the file.

    Returns
    -------
    RenderReport

    Raises
    ------
    AudioFileError
        If the input is missing, not a regular file or unreadable, has more than MAX_CHANNELS
        channels, or holds NaN or infinite samples; if the output would overwrite the input,
        names a folder (an existing one, or a path ending in "/"), exists and is not a regular
        file, exists and ``force`` is false, or cannot be written.
    ControlError
        If ``controls`` is given for a model without knobs, or is invalid for the model.
    SampleRateError, ArgumentError
        From the Processor.
    ConfigError
        An EQ frequency of ``chain`` at or above the file's Nyquist frequency.
    AudioFileError
        Also: the chain's IR file is not a usable impulse response.
    RenderTerminated
        If SIGTERM arrives during the render (nothing is written).
    """
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    _check_paths(input_path, output_path, force)
    if controls is not None and not model.num_controls:
        raise ControlError(f"{model.path}: the model has no knobs (control inputs), so it takes no control values; "
                           f"got {len(controls)}")
    try:
        info = soundfile.info(input_path)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"{input_path}: cannot read audio ({exc})") from None
    if info.channels > MAX_CHANNELS:
        raise AudioFileError(f"{input_path}: has {info.channels} channels; a render runs at most {MAX_CHANNELS} "
                             "(split the file into groups of channels)")
    if chain is not None and chain.stages:
        from .signal_chain import ChannelChains

        processor = ChannelChains(model, info.samplerate, chain, channels=info.channels, interpolation=interpolation,
                                  max_block_size=BLOCK_FRAMES, controls=controls, oversample=oversample,
                                  settle=settle)
    else:
        knobs = knob_values(model, controls)
        processor = Processor(settled(model, knobs) if settle else model, sample_rate=info.samplerate,
                              interpolation=interpolation, channels=info.channels, max_block_size=BLOCK_FRAMES,
                              controls=knobs, oversample=oversample)
    to_drop = processor.latency  # output frames that answer no input frame (the resampler's delay)
    container, subtype = output_format(output_path, info)
    is_float = subtype in ("FLOAT", "DOUBLE")
    directory = os.path.dirname(os.path.abspath(output_path))
    extension = os.path.splitext(output_path)[1]
    clipped = non_finite = done = 0
    temporary = None
    # From here on a temporary file may exist: SIGTERM only raises a flag, checked once a block,
    # so that the clean-up below can never itself be interrupted by the signal.
    with _sigterm_flag() as terminated:
        try:
            try:
                handle, temporary = tempfile.mkstemp(prefix=".engine-render-", suffix=extension, dir=directory)
            except OSError as exc:
                raise AudioFileError(f"{output_path}: cannot write there ({exc.strerror})") from None
            os.close(handle)
            with soundfile.SoundFile(input_path) as source, \
                    soundfile.SoundFile(temporary, "w", samplerate=info.samplerate, channels=info.channels,
                                        format=container, subtype=subtype) as sink:
                for block in source.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                    if terminated:
                        raise RenderTerminated(f"{output_path}: terminated (SIGTERM); nothing written")
                    if not np.all(np.isfinite(block)):
                        frame, channel = np.argwhere(~np.isfinite(block))[0]
                        raise AudioFileError(f"{input_path}: sample {done + frame} of channel {channel} is "
                                             f"{block[frame, channel]}; the input must be finite audio")
                    audio = block[:, 0] if info.channels == 1 else block
                    out = processor.process(np.ascontiguousarray(audio))
                    if to_drop:
                        dropped = min(to_drop, len(out))
                        out, to_drop = out[dropped:], to_drop - dropped
                    non_finite, clipped = _write(sink, out, is_float, non_finite, clipped)
                    done += len(block)
                    if progress is not None:
                        progress(done, info.frames)
                if processor.latency:  # the last input frames' response: flushed with silence
                    shape = (processor.latency - to_drop,) + (() if info.channels == 1 else (info.channels,))
                    out = processor.process(np.zeros(shape, np.float32))
                    non_finite, clipped = _write(sink, out, is_float, non_finite, clipped)
            if terminated:
                raise RenderTerminated(f"{output_path}: terminated (SIGTERM); nothing written")
            os.replace(temporary, output_path)
        except (RuntimeError, soundfile.LibsndfileError) as exc:
            raise AudioFileError(f"{output_path}: cannot write audio ({exc})") from None
        except OSError as exc:  # os.replace: e.g. the output became a folder meanwhile
            if isinstance(exc, AudioFileError):
                raise
            raise AudioFileError(f"{output_path}: cannot write audio ({exc.strerror or exc})") from None
        finally:
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)
    # Where the Processor keeps its own non-finite guard (Processor.repairs: the kernels mute a
    # non-finite network output and restart that channel), its mutes never reach _mute_non_finite:
    # count both.
    repairs = getattr(processor, "repairs", None) or {}
    non_finite += int(repairs.get("non_finite_output", 0))
    return RenderReport(frames=done, sample_rate=float(info.samplerate), channels=info.channels,
                        ratio=processor.ratio, clipped_samples=clipped, subtype=subtype,
                        non_finite_samples=non_finite, state_resets=int(repairs.get("state_resets", 0)),
                        interpolation=processor.interpolation,
                        requested_interpolation=processor.requested_interpolation,
                        oversample=processor.oversample, latency=processor.latency,
                        chain="model" if chain is None else chain.describe())


def _check_paths(input_path, output_path, force):
    """Refuse an input that is not a readable file and an output that is not a file we may (re)write."""
    if not os.path.exists(input_path):
        raise AudioFileError(f"{input_path}: no such audio file")
    if not os.path.isfile(input_path):
        kind = "a folder" if os.path.isdir(input_path) else "not a regular file"
        raise AudioFileError(f"{input_path}: is {kind}, expected an audio file")
    if output_path.endswith(("/", os.sep) if os.altsep is None else ("/", os.sep, os.altsep)):
        raise AudioFileError(f"{output_path}: ends in a path separator, so it names a folder; "
                             "give a file name for the output")
    if not os.path.lexists(output_path):
        return
    if os.path.exists(output_path) and os.path.samefile(input_path, output_path):
        raise AudioFileError(f"{output_path}: is the input file; choose another output path")
    if os.path.isdir(output_path):
        raise AudioFileError(f"{output_path}: is a folder; give a file name for the output")
    if os.path.exists(output_path) and not os.path.isfile(output_path):
        # --force would rename over it: never over a device, FIFO or socket (/dev/null, as root).
        raise AudioFileError(f"{output_path}: exists and is not a regular file; choose another output path")
    if not force:
        raise AudioFileError(f"{output_path}: already exists; pass --force to replace it")


def _write(sink, out, is_float, non_finite, clipped):
    """Write one block of output; return the running counts of muted non-finite and clipped samples."""
    non_finite += _mute_non_finite(out)
    if not is_float:
        # Integer formats cannot hold |x| > 1: clip (and count) rather than let it wrap.
        over = np.abs(out) > 1.0
        clipped += int(np.count_nonzero(over))
        np.clip(out, -1.0, 1.0, out=out)
    sink.write(out)
    return non_finite, clipped


def _mute_non_finite(out):
    """Set the NaN and infinite samples of ``out`` to 0 in place; return how many there were."""
    finite = np.isfinite(out)
    if finite.all():
        return 0
    out[~finite] = 0.0
    return int(out.size - np.count_nonzero(finite))


@contextlib.contextmanager
def _sigterm_flag():
    """For the duration, SIGTERM sets the yielded flag (a list: true once it has arrived).

    Only on the main thread (the only one Python lets install handlers) and only where SIGTERM
    has Python's default handling: an application's own handler is left alone.
    """
    terminated = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield terminated
        return
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def output_format(output_path, info):
    """The container named by the output's extension (else the input's), with the input's subtype
    when that container can hold it (else the container's default)."""
    extension = os.path.splitext(output_path)[1].lstrip(".").upper()
    extension = {"AIF": "AIFF", "OGA": "OGG"}.get(extension, extension)
    container = extension if extension in soundfile.available_formats() else info.format
    if soundfile.check_format(container, info.subtype):
        return container, info.subtype
    return container, soundfile.default_subtype(container)
