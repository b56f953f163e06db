#!/usr/bin/env python3
"""Write the project's default speaker-cabinet impulse response: models/cabinet_4x12.wav.

The IR is the impulse response of :func:`circuits.cabinet` (tools/circuits.py, the circuit
simulation's speaker stage, with its :data:`circuits.CABINET` settings: a closed-back 4×12"
cabinet in broad strokes): a second-order high-pass at 90 Hz with Q 1.4, i.e. the cone's
resonance in its box peaking near 105 Hz with 12 dB/octave below it; a +6 dB presence peak at
2.5 kHz (Q 1.5); two second-order low-passes at 4.5 kHz (Q 1.0) and 6.5 kHz (Q 0.6), 24 dB/octave
of roll-off above ~5 kHz. Each section is discretised by the bilinear transform pre-warped at its
own frequency, at 48 kHz.

The response is cut at :data:`LENGTH` samples (85 ms: the slowest pole, the 90 Hz resonance,
has decayed by more than 100 dB there) with a half-Hann fade over the last :data:`FADE`
samples so it ends at exactly zero, scaled to a 0 dB peak magnitude response (what the loader's
``normalize=True`` does anyway, so the file plays the same either way), and written as 24-bit PCM
(about 12 kB). Deterministic: the same bytes on every run.

Example::

    python tools/make_cabinet_ir.py            # writes models/cabinet_4x12.wav
"""

import argparse
import os
import sys

import numpy as np
import soundfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
# The repository's root, so the tools import as the package ``tools``, as the tests and benchmarks
# import them: numba's on-disk cache of their kernels records the module's name, and a kernel
# cached under one name fails to load under the other (ModuleNotFoundError: No module named 'tools').
if os.path.dirname(TOOLS) not in sys.path:
    sys.path.insert(0, os.path.dirname(TOOLS))

from tools import circuits  # noqa: E402

DEFAULT_PATH = os.path.join(os.path.dirname(TOOLS), "models", "cabinet_4x12.wav")
SAMPLE_RATE = 48000
#: Taps kept: 4096 at 48 kHz = 85 ms.
LENGTH = 4096
#: Taps of the closing half-Hann fade.
FADE = 512
SUBTYPE = "PCM_24"


def cabinet_ir(sample_rate=SAMPLE_RATE, length=LENGTH, fade=FADE):
    """The cabinet's impulse response, cut, faded and scaled to a 0 dB peak magnitude response.

    Parameters
    ----------
    sample_rate : int
        Hz.
    length, fade : int
        Taps kept, and taps of the closing fade (fade ≤ length).

    Returns
    -------
    numpy.ndarray
        float64, ``length`` taps.
    """
    impulse = np.zeros(length)
    impulse[0] = 1.0
    ir = np.asarray(circuits.cabinet(impulse, sample_rate), np.float64)
    ir[length - fade:] *= 0.5 * (1.0 + np.cos(np.pi * (np.arange(fade) + 1) / fade))  # to exactly 0
    peak = np.max(np.abs(np.fft.rfft(ir, 1 << 18)))
    return ir / peak


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the default speaker-cabinet IR (tools/circuits.py cabinet).")
    parser.add_argument("--out", default=DEFAULT_PATH, help="the WAV file to write (default models/cabinet_4x12.wav)")
    args = parser.parse_args(argv)
    ir = cabinet_ir()
    if not np.max(np.abs(ir)) < 1.0:
        raise SystemExit(f"the IR's peak sample is {np.max(np.abs(ir)):.3f}: it would clip as PCM")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    soundfile.write(args.out, ir, SAMPLE_RATE, subtype=SUBTYPE)
    print(f"wrote {args.out}: {len(ir)} taps ({len(ir) / SAMPLE_RATE * 1000:.1f} ms) at {SAMPLE_RATE} Hz, {SUBTYPE}, "
          f"peak sample {np.max(np.abs(ir)):.3f}, {os.path.getsize(args.out):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
