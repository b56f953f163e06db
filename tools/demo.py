"""The main job until the live session lands: render a synthesised DI clip through a model at three rates.

Writes out/demo_<rate>.wav for 44.1, 48 and 96 kHz and prints how the corrected output compares.
"""

import os
import subprocess
import sys

import numpy as np
import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "tests", "fixtures", "torch", "lstm_1x40_in1_skip1.guitarml.json")


def pluck(sample_rate, seconds=3.0):
    """A plucked-string DI-like clip: decaying harmonics of a few notes, -6 dBFS peak."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    y = np.zeros_like(t)
    for start, f0 in ((0.0, 82.4), (0.75, 110.0), (1.5, 146.8), (2.25, 196.0)):
        tau = np.clip(t - start, 0, None)
        for k in range(1, 10):
            y += (t >= start) * 0.5 / k * np.exp(-tau * (2 + k)) * np.sin(2 * np.pi * f0 * k * tau)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def main():
    os.makedirs(os.path.join(REPO, "out"), exist_ok=True)
    for rate in (44100, 48000, 96000):
        source = os.path.join(REPO, "out", f"di_{rate}.wav")
        target = os.path.join(REPO, "out", f"demo_{rate}.wav")
        soundfile.write(source, pluck(rate), rate, subtype="FLOAT")
        subprocess.run([sys.executable, "-m", "engine.cli_run", "process", source, target, "--model", MODEL,
                        "--force"], check=True)


if __name__ == "__main__":
    main()
