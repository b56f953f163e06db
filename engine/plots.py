"""PNG plots for the quality report (matplotlib: the optional ``eval`` extra)."""

import importlib.util
import re

import numpy as np

from .errors import EngineError
from .evaluate import candidate_output, reference_output

#: The longest file-name stem made from a model's name, in UTF-8 bytes (file systems allow 255,
#: and the stem gets a suffix such as ``_error_spectrum.png``).
MAX_STEM_BYTES = 100


def file_stem(name, fallback="model"):
    """A safe file-name stem made from a model's name (a file's ``metadata.name`` can be anything).

    Letters, digits, spaces and ``_ . + -`` are kept; every other character (``/``, ``\\``, NUL,
    control characters, ...) becomes ``_``; leading and trailing dots and spaces are dropped, so
    the stem is never ``..``, hidden, or a path: a file named after it stays in its folder.

    Parameters
    ----------
    name : object
        The model's name: a string, or whatever the file stored (a number, a list...).
    fallback : str
        Used (made safe the same way) when nothing is left of ``name``; then ``"model"``.

    Returns
    -------
    str
        A non-empty stem of at most MAX_STEM_BYTES UTF-8 bytes with no path separator.
    """
    for candidate in (name, fallback, "model"):
        text = "" if candidate is None else str(candidate)
        text = re.sub(r"[^\w .+-]", "_", text[:4 * MAX_STEM_BYTES])
        text = text.encode("utf-8")[:MAX_STEM_BYTES].decode("utf-8", "ignore").strip(" .")
        if text:
            return text
    raise AssertionError("unreachable: 'model' is a valid stem")


def require_matplotlib():
    """Check that plots can be drawn, before any work is done.

    Raises
    ------
    EngineError
        If matplotlib is not installed.
    """
    if importlib.util.find_spec("matplotlib") is None:
        raise EngineError("plots need matplotlib: pip install 'rnn-rate-engine[eval]'")


def _pyplot():
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sine_through_rates(model, path, frequency=100.0, amplitude=0.5, seconds=0.3, non_integer_ratio=None,
                       corrected="linear"):
    """The article's picture: a sine through the model at its own rate, at 2× and at a non-integer ratio.

    Each panel overlays the model at its own rate, uncorrected (naive) and corrected, on one time
    axis, over the last two periods of ``seconds`` of the sine (so the state has settled).

    Parameters
    ----------
    model : Model
    path : str
        The PNG to write.
    frequency, amplitude, seconds : float
    non_integer_ratio : float, optional
        Default: 96 kHz over the model's rate when that is not an integer, else 1.5.
    corrected : str
        The correction to show.

    Returns
    -------
    str
        ``path``.
    """
    plt = _pyplot()
    rate = model.sample_rate
    if non_integer_ratio is None:
        non_integer_ratio = 96000 / rate if (96000 / rate) % 1 else 1.5
    n = int(seconds * rate)
    x = (amplitude * np.sin(2 * np.pi * frequency * np.arange(n) / rate)).astype(np.float32)
    reference = reference_output(model, x)
    window = int(2 * rate / frequency)
    t_ref = np.arange(n - window, n) / rate * 1e3
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for axis, ratio in zip(axes, (2.0, non_integer_ratio)):
        run_rate = rate * ratio
        m = int(seconds * run_rate)
        x_run = (amplitude * np.sin(2 * np.pi * frequency * np.arange(m) / run_rate)).astype(np.float32)
        t_run = np.arange(m) / run_rate * 1e3
        keep = (t_run >= t_ref[0]) & (t_run <= t_ref[-1])
        axis.plot(t_ref, reference[-window:], color="black", lw=2.2, label=f"model at its own rate ({rate / 1e3:g} kHz)")
        from .processor import Processor

        for method, style in (("naive", dict(color="tab:red", ls="--")), (corrected, dict(color="tab:blue", ls=":"))):
            y = Processor(model, sample_rate=run_rate, interpolation=method).process(x_run)
            label = "uncorrected (naive)" if method == "naive" else f"corrected ({method})"
            axis.plot(t_run[keep], y[keep], lw=1.6, label=f"{label} at {run_rate / 1e3:.4g} kHz", **style)
        axis.set_title(f"R = {ratio:.4g}")
        axis.set_xlabel("time (ms)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="center right", framealpha=0.9)
    axes[0].set_ylabel("output")
    fig.suptitle(f"{model.name}: a {frequency:g} Hz sine at the model's rate and above it")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def error_spectra(model, x, rate, methods, path, controls=None, segment=4096):
    """Spectrum of (reference − candidate) per method at one run rate, averaged over segments (dB).

    Returns
    -------
    str
        ``path``.
    """
    plt = _pyplot()
    reference = reference_output(model, x, controls).astype(np.float64)
    window = np.hanning(segment)
    frequencies = np.fft.rfftfreq(segment, 1 / model.sample_rate)

    if len(reference) < segment:  # a short clip: one zero-padded segment rather than an empty average
        segment = len(reference)
        window = np.hanning(segment)
        frequencies = np.fft.rfftfreq(segment, 1 / model.sample_rate)

    def spectrum(signal):
        starts = range(0, len(signal) - segment + 1, max(1, segment // 2))
        power = np.mean([np.abs(np.fft.rfft(window * signal[s:s + segment])) ** 2 for s in starts], axis=0)
        return 10 * np.log10(power + 1e-30)

    fig, axis = plt.subplots(figsize=(8, 4.2))
    axis.plot(frequencies[1:], spectrum(reference)[1:], color="black", lw=1.5, label="reference output")
    for method in methods:
        y, ran = candidate_output(model, x, rate, method, controls)
        label = method if ran == method else f"{method} (ran {ran})"
        axis.plot(frequencies[1:], spectrum(reference - y)[1:], lw=1.1, label=f"error: {label}")
    axis.set_xscale("log")
    axis.set_xlabel("frequency (Hz)")
    axis.set_ylabel("power (dB)")
    axis.set_title(f"{model.name} at {rate:g} Hz (R = {rate / model.sample_rate:.4g}): error spectrum per method")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def aliasing_plot(scores, rate, path):
    """ASR (dB) against the sine's frequency at ``rate``, one line per method and oversampling factor.

    Parameters
    ----------
    scores : list of engine.aliasing.AliasingScore
    rate : float
        The run rate whose scores are drawn.
    path : str
        The PNG to write.

    Returns
    -------
    str
        ``path``.
    """
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(10, 4.8))
    styles = {1: "-", 2: "--", 4: ":"}
    chosen = [s for s in scores if s.rate == rate]
    # One colour per method (a line style per factor), from a palette with enough distinct colours.
    methods = list(dict.fromkeys(s.method for s in chosen))
    palette = plt.get_cmap("tab10").colors
    for score in chosen:
        label = score.method if score.oversample == 1 else f"{score.method} ×{score.oversample}"
        if score.ran != score.method:
            label += f" (ran {score.ran})"
        axis.plot(score.frequencies, score.asr_db, marker="o", ls=styles.get(score.oversample, "-"), lw=1.3,
                  color=palette[methods.index(score.method) % len(palette)],
                  label=f"{label}: mean {score.mean_db:.1f} dB")
    axis.set_xscale("log")
    axis.set_xlabel("sine frequency (Hz)")
    axis.set_ylabel("aliasing-to-signal ratio (dB)")
    model = chosen[0].model if chosen else ""
    axis.set_title(f"{model} at {rate:g} Hz: aliasing per method and factor (lower is better)", fontsize=10)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the data, not over it
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
