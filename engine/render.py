"""Offline rendering: run a model over an audio file at the file's own rate.

The output keeps the input's rate, channel count, container and subtype. It is written to a
temporary file beside the destination and moved into place only when complete, so a failure
never leaves a half-written file, and nothing the user has is overwritten unless asked.
"""

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile

from .errors import AudioFileError
from .processor import Processor, knob_values

BLOCK_FRAMES = 65536


@dataclass
class RenderReport:
    """What a render did: frames written, the rate and ratio it ran at, clipped samples, the subtype written."""

    frames: int
    sample_rate: float
    channels: int
    ratio: float
    clipped_samples: int
    subtype: str


def render_file(model, input_path, output_path, interpolation="linear", controls=None, force=False,
                progress=None):
    """Process an audio file through a model and write the result.

    Parameters
    ----------
    model : Model
        The model to run; it is corrected to the file's rate.
    input_path, output_path : str or os.PathLike
        Any file soundfile reads; the output takes the input's format and subtype.
    interpolation : str
        The state-read method (see engine.INTERPOLATIONS).
    controls : sequence of float, optional
        Control values for a conditioned model (default 0.5 for each control).
    force : bool
        Replace an existing output file.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each block.

    Returns
    -------
    RenderReport

    Raises
    ------
    AudioFileError
        If the input is missing or unreadable, the output would overwrite the input, the output
        exists and ``force`` is false, the output cannot be written, or the input holds NaN or
        infinite samples.
    SampleRateError, ControlError, ArgumentError
        From the Processor.
    """
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    if not os.path.isfile(input_path):
        raise AudioFileError(f"{input_path}: no such audio file")
    if os.path.exists(output_path) and os.path.samefile(input_path, output_path):
        raise AudioFileError(f"{output_path}: is the input file; choose another output path")
    if os.path.exists(output_path) and not force:
        raise AudioFileError(f"{output_path}: already exists; pass --force to replace it")
    try:
        info = soundfile.info(input_path)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"{input_path}: cannot read audio ({exc})") from None
    processor = Processor(model, sample_rate=info.samplerate, interpolation=interpolation,
                          channels=info.channels, max_block_size=BLOCK_FRAMES, controls=knob_values(model, controls))
    container, subtype = output_format(output_path, info)
    is_float = subtype in ("FLOAT", "DOUBLE")
    directory = os.path.dirname(os.path.abspath(output_path))
    extension = os.path.splitext(output_path)[1]
    try:
        handle, temporary = tempfile.mkstemp(prefix=".engine-render-", suffix=extension, dir=directory)
    except OSError as exc:
        raise AudioFileError(f"{output_path}: cannot write there ({exc.strerror})") from None
    os.close(handle)
    clipped = 0
    done = 0
    try:
        with soundfile.SoundFile(input_path) as source, \
                soundfile.SoundFile(temporary, "w", samplerate=info.samplerate, channels=info.channels,
                                    format=container, subtype=subtype) as sink:
            for block in source.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                if not np.all(np.isfinite(block)):
                    frame, channel = np.argwhere(~np.isfinite(block))[0]
                    raise AudioFileError(f"{input_path}: sample {done + frame} of channel {channel} is "
                                         f"{block[frame, channel]}; the input must be finite audio")
                audio = block[:, 0] if info.channels == 1 else block
                out = processor.process(np.ascontiguousarray(audio))
                if not is_float:
                    # Integer formats cannot hold |x| > 1: clip (and count) rather than let it wrap.
                    over = np.abs(out) > 1.0
                    clipped += int(np.count_nonzero(over))
                    np.clip(out, -1.0, 1.0, out=out)
                sink.write(out)
                done += len(block)
                if progress is not None:
                    progress(done, info.frames)
        os.replace(temporary, output_path)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"{output_path}: cannot write audio ({exc})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return RenderReport(frames=done, sample_rate=float(info.samplerate), channels=info.channels,
                        ratio=processor.ratio, clipped_samples=clipped, subtype=subtype)


def output_format(output_path, info):
    """The container named by the output's extension (else the input's), with the input's subtype
    when that container can hold it (else the container's default)."""
    extension = os.path.splitext(output_path)[1].lstrip(".").upper()
    extension = {"AIF": "AIFF", "OGA": "OGG"}.get(extension, extension)
    container = extension if extension in soundfile.available_formats() else info.format
    if soundfile.check_format(container, info.subtype):
        return container, info.subtype
    return container, soundfile.default_subtype(container)
