"""The EQ's magnitude response for a few settings, as a PNG (for the README).

Every curve is measured from the running code: an impulse through engine.dsp.eq.Equalizer at
48 kHz, 65,536 samples, then its FFT (tests/test_eq.py holds this measurement to
scipy.signal.freqz of the cookbook biquads within 0.01 dB). Left: each band alone at +12 and
−12 dB, at its default frequency and Q. Right: all four bands together, three tone settings.

Usage: python benchmarks/eq_response.py [--out benchmarks/reports/eq_response.png]
Needs matplotlib (the project's ``eval`` extra).
"""

import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from engine.dsp.eq import Equalizer  # noqa: E402
from engine.dsp.settings import EQ_BANDS  # noqa: E402
from engine.plots import _pyplot  # noqa: E402

RATE = 48000.0
LENGTH = 1 << 16
PRESETS = {
    "scooped: bass +6, mid −8, treble +4, presence +3": dict(bass_db=6, mid_db=-8, treble_db=4, presence_db=3),
    "mid push: mid +6 at 800 Hz (Q 1), bass −3": dict(mid_db=6, mid_hz=800, mid_q=1.0, bass_db=-3),
    "dark: treble −9, presence −6": dict(treble_db=-9, presence_db=-6),
}


def measured_response(settings):
    """(frequencies Hz, magnitude dB) of the EQ with ``settings``, from its impulse response.

    Parameters
    ----------
    settings : dict
        EQ keys (engine.dsp.settings.EQ_PARAMETERS).

    Returns
    -------
    tuple of numpy.ndarray
    """
    eq = Equalizer(settings)
    eq.prepare(RATE)
    impulse = np.zeros(LENGTH, np.float32)
    impulse[0] = 1.0
    response = eq.process(impulse).astype(np.float64)
    return np.fft.rfftfreq(LENGTH, 1 / RATE), 20 * np.log10(np.abs(np.fft.rfft(response)))


def draw(path):
    plt = _pyplot()
    figure, (bands, presets) = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (band, kind, hz, q) in zip(colours, EQ_BANDS):
        for gain, style in ((12, "-"), (-12, "--")):
            f, db = measured_response({f"{band}_db": gain})
            bands.semilogx(f[1:], db[1:], style, color=colour,
                           label=f"{band} ({kind.replace('_', ' ')}, {hz:g} Hz, Q {q:g})" if gain > 0 else None)
    bands.set_title("each band alone at +12 dB (solid) and −12 dB (dashed)")
    for name, settings in PRESETS.items():
        f, db = measured_response(settings)
        presets.semilogx(f[1:], db[1:], label=name)
    presets.set_title("all four bands together")
    for axes in (bands, presets):
        axes.set_xlim(20, 20000)
        axes.set_ylim(-18, 14)
        axes.set_xlabel("frequency (Hz)")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    bands.set_ylabel("gain (dB)")
    figure.suptitle("engine.dsp.eq at 48 kHz: RBJ cookbook biquads, measured from an impulse through the running code",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "reports", "eq_response.png"),
                        help="the PNG to write")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    draw(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
