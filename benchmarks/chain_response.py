"""The signal chain's linear stages as one PNG (for the README): EQ settings, the shipped cabinet, and both.

Every curve is measured from the running code at 48 kHz: an impulse (65,536 samples) through
the stage(s), then its FFT. Left: the EQ for the tone settings of benchmarks/eq_response.py
(whose measurement it reuses; tests/test_eq.py holds it to scipy.signal.freqz of the cookbook
biquads within 0.01 dB), plus flat. Right: the shipped cabinet (models/cabinet_4x12.wav through
engine.dsp.cabinet.Cabinet, normalised to a 0 dB peak), alone and after each EQ setting: what
the chain after the model (eq → cabinet, engine.Chain's default order) does to the amp's output.

Usage: python benchmarks/chain_response.py [--ir models/cabinet_4x12.wav]
       [--out benchmarks/reports/chain_response.png]
Needs matplotlib (the project's ``eval`` extra).
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

from eq_response import LENGTH, PRESETS, RATE, measured_response  # noqa: E402
from engine.dsp.cabinet import Cabinet  # noqa: E402
from engine.dsp.eq import Equalizer  # noqa: E402
from engine.plots import _pyplot  # noqa: E402

SHIPPED_IR = os.path.join(REPO, "models", "cabinet_4x12.wav")


def impulse():
    x = np.zeros(LENGTH, np.float32)
    x[0] = 1.0
    return x


def spectrum_db(response):
    """(frequencies Hz, magnitude dB) of an impulse response of LENGTH samples at RATE."""
    magnitude = np.abs(np.fft.rfft(response.astype(np.float64)))
    return np.fft.rfftfreq(LENGTH, 1 / RATE), 20 * np.log10(np.maximum(magnitude, 1e-12))


def chain_response(ir_path, eq_settings=None):
    """The measured response of eq (optional) → cabinet, as engine.Chain runs them after the model.

    Parameters
    ----------
    ir_path : str
        The cabinet's IR file.
    eq_settings : dict, optional
        EQ keys; None: the cabinet alone.

    Returns
    -------
    tuple of numpy.ndarray
        Frequencies (Hz) and magnitude (dB).
    """
    x = impulse()
    if eq_settings is not None:
        eq = Equalizer(eq_settings)
        eq.prepare(RATE)
        x = eq.process(x)
    return spectrum_db(Cabinet(ir_path, RATE, max_block_size=4096).process(x))


def draw(path, ir_path):
    plt = _pyplot()
    figure, (eqs, cabinet) = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    f, db = measured_response({})
    eqs.semilogx(f[1:], db[1:], color="0.4", label="flat (every band 0 dB)")
    for colour, (name, settings) in zip(colours, PRESETS.items()):
        f, db = measured_response(settings)
        eqs.semilogx(f[1:], db[1:], color=colour, label=name)
    eqs.set_title("EQ (bass, mid, treble, presence)")
    f, db = chain_response(ir_path)
    cabinet.semilogx(f[1:], db[1:], color="black", linewidth=2, label=f"{os.path.basename(ir_path)} alone")
    for colour, (name, settings) in zip(colours, PRESETS.items()):
        f, db = chain_response(ir_path, settings)
        cabinet.semilogx(f[1:], db[1:], color=colour, alpha=0.8, label=f"EQ {name.split(':')[0]} → cabinet")
    cabinet.set_title("cabinet IR, alone and after the EQ (the chain after the model)")
    for axes in (eqs, cabinet):
        axes.set_xlim(20, 20000)
        axes.set_ylim(-42, 14)
        axes.set_xlabel("frequency (Hz)")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    eqs.set_ylabel("gain (dB)")
    figure.suptitle("engine.Chain's linear stages at 48 kHz, measured from an impulse through the running code",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", default=SHIPPED_IR, help="the cabinet IR file (default: the shipped 4x12)")
    parser.add_argument("--out", default=os.path.join(HERE, "reports", "chain_response.png"), help="the PNG to write")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    draw(args.out, args.ir)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
