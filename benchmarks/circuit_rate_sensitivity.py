"""How rate-sensitive a circuit of tools/circuits.py is, before any model is trained on it.

A model trained on a circuit at 44.1 kHz and run uncorrected at another rate behaves like the
circuit with its 44.1 kHz coefficients run on the faster stream: every time constant shrinks by
F_model / F_run. This script scores exactly that with the published protocol (SRC.md; the same
FFT resampling and SNR as engine.evaluate): the reference is ``circuit(x, 44100)`` on the demo clip,
the candidate is ``circuit(x_run, 44100)`` on the clip resampled to F_run, its output resampled back.
The score predicts the naive column of benchmarks/quality_report.py for a model trained on the
circuit (within 0.1-0.9 dB on the plain-cabinet models; models/README.md), which is how
tools/circuits.py's ``miked_cabinet`` was tuned to the published captures' naive 9.8 dB at 48 kHz.

Usage: python benchmarks/circuit_rate_sensitivity.py [CIRCUIT ...] [--rates 48000 96000]
(default: every ``*_cab`` and ``*_mic`` circuit)
"""

import argparse
import os
import sys

import numpy as np
import soundfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # this checkout's engine and tools
    sys.path.insert(0, REPO)

MODEL_RATE = 44100
DEMO_CLIP = os.path.join(REPO, "models", "demo_di.wav")


def naive_snr_db(circuit, x, rate):
    """The protocol's SNR of ``circuit`` run with its MODEL_RATE coefficients at ``rate`` (x at MODEL_RATE).

    Parameters
    ----------
    circuit : callable
        ``circuit(x, sample_rate) -> y`` (tools/circuits.py).
    x : numpy.ndarray
        float32 test signal at MODEL_RATE.
    rate : float
        The run rate in Hz.

    Returns
    -------
    float
        SNR in dB (higher: less rate-sensitive).
    """
    from engine.evaluate import PAD_SECONDS, snr_db
    from engine.resample import resample

    reference = np.asarray(circuit(x, MODEL_RATE), np.float64)
    x_run = resample(x, MODEL_RATE, rate, PAD_SECONDS)
    y = resample(np.asarray(circuit(x_run, MODEL_RATE), np.float32), rate, MODEL_RATE, PAD_SECONDS)[:len(x)]
    return snr_db(reference, y)


def main(argv=None):
    from tools import circuits

    names = [n for n in circuits.CIRCUITS if n.endswith(("_cab", "_mic"))]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("circuits", nargs="*", metavar="CIRCUIT", default=names,
                        help=f"circuits to score (default: {' '.join(names)})")
    parser.add_argument("--rates", type=float, nargs="+", default=[48000.0, 96000.0], metavar="HZ",
                        help="run rates (default 48000 96000)")
    args = parser.parse_args(argv)
    for name in args.circuits:
        if name not in circuits.CIRCUITS:
            parser.error(f"unknown circuit {name!r}; choose from {', '.join(circuits.CIRCUITS)}")
    x, rate = soundfile.read(DEMO_CLIP, dtype="float32")
    assert rate == MODEL_RATE, rate
    print(f"naive SNR in dB of each circuit's {MODEL_RATE} Hz coefficients at the run rate "
          f"(the published GuitarML set's models: 9.8 at 48 kHz, -1.6 at 96 kHz)")
    print(f"{'circuit':<26}" + "".join(f"{r:>10g}" for r in args.rates))
    for name in args.circuits:
        scores = [naive_snr_db(circuits.get(name), x, r) for r in args.rates]
        print(f"{name:<26}" + "".join(f"{s:>10.1f}" for s in scores), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
