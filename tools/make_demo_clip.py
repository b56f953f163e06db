#!/usr/bin/env python3
"""Write the project's demo DI clip: models/demo_di.wav (7 s, 44.1 kHz, mono, 32-bit float).

The clip is :func:`synth.demo_clip` — a synthesised plucked-string guitar riff, deterministic, so
this script rewrites the same samples on any machine with the same numpy/scipy/numba. It is what
``engine-live --virtual`` plays (configs/guitar.yaml: ``demo_clip``) and the clip the committed
model's ESR is checked on (tests/test_tools_circuits.py).

Example::

    python tools/make_demo_clip.py            # writes models/demo_di.wav
"""

import argparse
import os
import sys

import soundfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
# The repository's root, so the tools import as the package ``tools``, as the tests and benchmarks
# import them: numba's on-disk cache of their kernels records the module's name, and a kernel
# cached under one name fails to load under the other (ModuleNotFoundError: No module named 'tools').
if os.path.dirname(TOOLS) not in sys.path:
    sys.path.insert(0, os.path.dirname(TOOLS))

from tools import synth  # noqa: E402

DEFAULT_PATH = os.path.join(os.path.dirname(TOOLS), "models", "demo_di.wav")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the demo DI guitar clip (tools/synth.py demo_clip).")
    parser.add_argument("--out", default=DEFAULT_PATH, help="the WAV file to write (default models/demo_di.wav)")
    parser.add_argument("--subtype", default="FLOAT", choices=("FLOAT", "PCM_24"),
                        help="sample format (default %(default)s: the exact float32 samples)")
    args = parser.parse_args(argv)
    audio = synth.demo_clip(synth.SAMPLE_RATE)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    soundfile.write(args.out, audio, synth.SAMPLE_RATE, subtype=args.subtype)
    print(f"wrote {args.out}: {audio.size / synth.SAMPLE_RATE:.2f} s at {synth.SAMPLE_RATE} Hz, {args.subtype}, "
          f"peak {abs(audio).max():.3f}, {os.path.getsize(args.out):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
