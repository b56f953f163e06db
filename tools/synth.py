"""A plucked-string DI guitar synthesiser: training data, held-out clips and the demo riff.

Each string is an extended Karplus-Strong loop (D. A. Jaffe and J. O. Smith, "Extensions of the
Karplus-Strong plucked-string algorithm", CMJ 1983): a delay line of one period with a two-point
loss filter (frequency-dependent decay), an optional one-pole damping filter (palm muting, note
release), a loop gain set from the note's T60, and a first-order allpass for exact tuning.
The excitation is the string's shape at release (a triangle peaking at the pick position) with
some pick noise, low-passed (softer picking: darker and quieter); a pickup-position comb, a magnetic pickup's resonant low-pass and a gentle
body/cable colouring follow, with a faint noise floor and hum. The result is a mono
"DI" signal in volts at the level a guitar gives an interface: phrase peaks between about 0.25
and 0.7.

Everything is deterministic for a seed (numpy's default_rng; the string loop is a numba kernel).

Public functions (all return float32 mono at ``sample_rate``, default 44.1 kHz):

- :func:`training_set` — ~90 s of varied playing: lines, strums, palm-muted chugs, arpeggios,
  ringing notes, short silences, at several dynamics;
- :func:`validation_clip`, :func:`test_clip` — the same kinds of material from other seeds;
- :func:`demo_clip` — a fixed, musical 7 s riff (the project's demo DI clip).
"""

import numpy as np
from numba import njit
from scipy import signal

SAMPLE_RATE = 44100

#: Open-string frequencies (Hz), low E (string 6) first: E2 A2 D3 G3 B3 E4.
OPEN_STRINGS = (82.407, 110.0, 146.832, 195.998, 246.942, 329.628)

#: Seeds of the held-out clips (the training set takes the caller's seed, 0 by default).
VALIDATION_SEED = 1001
TEST_SEED = 2002

# Chord shapes: frets from the low E string to the high E string (None: not played).
CHORDS = {
    "E": (0, 2, 2, 1, 0, 0), "A": (None, 0, 2, 2, 2, 0), "D": (None, None, 0, 2, 3, 2),
    "G": (3, 2, 0, 0, 0, 3), "C": (None, 3, 2, 0, 1, 0), "Em": (0, 2, 2, 0, 0, 0),
    "Am": (None, 0, 2, 2, 1, 0), "Dm": (None, None, 0, 2, 3, 1), "F": (1, 3, 3, 2, 1, 1),
    "Bm": (None, 2, 4, 4, 3, 2), "E7": (0, 2, 0, 1, 0, 0), "Cadd9": (None, 3, 2, 0, 3, 0),
}
# Minor-pentatonic box shape (string index, fret offset from the root fret on the low E).
PENTATONIC = ((0, 0), (0, 3), (1, 0), (1, 2), (2, 0), (2, 2), (3, 0), (3, 2), (4, 0), (4, 3), (5, 0), (5, 3))


# -- the string ------------------------------------------------------------------------------

@njit(cache=True)
def _string_loop(excitation, delay, allpass_c, brightness, damping, loop_gain, mute_at, mute_damping, mute_gain, out):
    """Extended Karplus-Strong: y[n] = e[n] + A(ρ·D(L(y[n − N]))).

    L(z) = (1 − S) + S·z⁻¹ (loss; low-frequency delay S), D(z) = (1 − p)/(1 − p·z⁻¹) (damping;
    delay p/(1 − p)), A(z) = (c + z⁻¹)/(1 + c·z⁻¹) (tuning allpass), ρ the loop gain. From
    ``mute_at`` on, p and ρ switch to the muted values (a fretting hand or palm stopping the
    string). The loop delay N + S + p/(1 − p) + A's delay is one period of the note.
    """
    buffer = np.zeros(delay)
    index = 0
    previous = 0.0
    damped = 0.0
    ap_in = 0.0
    ap_out = 0.0
    n_exc = excitation.shape[0]
    for n in range(out.shape[0]):
        delayed = buffer[index]
        loss = (1.0 - brightness) * delayed + brightness * previous
        previous = delayed
        if n < mute_at:
            p = damping
            gain = loop_gain
        else:
            p = mute_damping
            gain = mute_gain
        damped = (1.0 - p) * loss + p * damped
        x = gain * damped
        y_ap = allpass_c * x + ap_in - allpass_c * ap_out
        ap_in = x
        ap_out = y_ap
        y = y_ap
        if n < n_exc:
            y += excitation[n]
        buffer[index] = y
        index += 1
        if index == delay:
            index = 0
        out[n] = y


def pluck(frequency, length, rng, velocity=0.8, ring_seconds=3.0, release_at=None, palm_mute=False,
          pick_position=0.18, pickup_position=0.12, sample_rate=SAMPLE_RATE):
    """One plucked note: float64 (length,), amplitude roughly ``velocity``.

    Parameters
    ----------
    frequency : float
        Hz.
    length : int
        Samples to render.
    rng : numpy.random.Generator
        Source of the excitation noise.
    velocity : float
        0-1: picking strength (louder and brighter when higher).
    ring_seconds : float
        T60 of the fundamental while the note rings.
    release_at : int, optional
        Sample where the string is stopped (decays in ~50 ms); None lets it ring.
    palm_mute : bool
        Damp the string at the bridge: short T60 and a dark loop.
    pick_position, pickup_position : float
        Fractions of the string length from the bridge.
    """
    period = sample_rate / frequency
    brightness = 0.5
    damping = 0.0 if not palm_mute else 0.35 + 0.2 * rng.random()
    t60 = ring_seconds if not palm_mute else 0.25 + 0.25 * rng.random()
    loop_delay = brightness + damping / (1.0 - damping)
    delay = int(np.floor(period - loop_delay - 0.1))
    fraction = period - delay - loop_delay
    allpass_c = (1.0 - fraction) / (1.0 + fraction)
    loop_gain = 10.0 ** (-3.0 / (frequency * t60))
    mute_damping = max(damping, 0.6)
    mute_gain = 10.0 ** (-3.0 / (frequency * 0.06))

    # Excitation: the string's shape when the pick lets go (a triangle peaking at the pick
    # position, harmonics falling as 1/k²) plus some pick noise, darker for softer picking.
    size = max(int(round(period)), 2)
    position = np.arange(size) / size
    shape = np.where(position < pick_position, position / pick_position, (1.0 - position) / (1.0 - pick_position))
    noise = rng.standard_normal(size)
    pole = 0.9 - 0.5 * velocity if not palm_mute else 0.95 - 0.3 * velocity
    noise = signal.lfilter([1.0 - pole], [1.0, -pole], noise)
    burst = shape + 0.25 * noise / (np.max(np.abs(noise)) + 1e-12)
    soft = 0.5 * pole
    burst = signal.lfilter([1.0 - soft], [1.0, -soft], burst - burst.mean())
    combed = burst * (velocity / (np.max(np.abs(burst)) + 1e-12))

    out = np.empty(length)
    mute_at = length if release_at is None else int(release_at)
    _string_loop(combed, delay, allpass_c, brightness, damping, loop_gain, mute_at, mute_damping, mute_gain, out)
    # The pickup senses the string's velocity difference between its position and its mirror image.
    pickup = max(1, int(round(pickup_position * period)))
    sensed = out.copy()
    sensed[pickup:] -= out[:-pickup]
    return sensed


# -- the instrument and room -----------------------------------------------------------------

def _peaking(frequency, gain_db, q, sample_rate):
    """RBJ cookbook peaking-EQ biquad."""
    a_gain = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * frequency / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a_gain, -2 * np.cos(w0), 1 - alpha * a_gain]
    a = [1 + alpha / a_gain, -2 * np.cos(w0), 1 - alpha / a_gain]
    return np.array(b) / a[0], np.array(a) / a[0]


def _resonant_low_pass(frequency, q, sample_rate):
    """RBJ cookbook low-pass biquad (a pickup's inductance against the cable's capacitance)."""
    w0 = 2 * np.pi * frequency / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = [(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2]
    a = [1 + alpha, -2 * np.cos(w0), 1 - alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


def _instrument(strings_sum, rng, sample_rate):
    """Pickup resonance, body/cable colouring, DC block, noise floor and hum."""
    y = strings_sum
    for b, a in (_resonant_low_pass(4200.0, 2.2, sample_rate), _peaking(180.0, 2.5, 1.2, sample_rate),
                 _peaking(450.0, -1.5, 1.0, sample_rate), _peaking(1400.0, 1.5, 0.8, sample_rate)):
        y = signal.lfilter(b, a, y)
    b, a = signal.butter(1, 25.0, "highpass", fs=sample_rate)
    y = signal.lfilter(b, a, y)
    t = np.arange(y.size) / sample_rate
    hum = sum(amp * np.sin(2 * np.pi * 60.0 * k * t + phase)
              for k, amp, phase in ((1, 2e-5, 0.3), (3, 1e-5, 1.1), (5, 5e-6, 2.0)))
    return y + hum + 3e-5 * rng.standard_normal(y.size)


class _Score:
    """Note events (start/stop in samples) gathered per phrase, then rendered and mixed."""

    def __init__(self, sample_rate):
        self.sample_rate = sample_rate
        self.events = []  # (start, string, fret, velocity, release_at or None, palm_mute, ring_seconds, pick_position)

    def note(self, start_s, string, fret, velocity, stop_s=None, palm_mute=False, ring_seconds=None, pick=None, rng=None):
        rate = self.sample_rate
        frequency = OPEN_STRINGS[string] * 2.0 ** (fret / 12.0)
        if ring_seconds is None:
            ring_seconds = 5.0 * (82.4 / frequency) ** 0.5  # low strings ring longer
        if pick is None:
            pick = 0.12 + 0.16 * rng.random() if rng is not None else 0.18
        start = int(round(start_s * rate))
        release = None if stop_s is None else max(1, int(round((stop_s - start_s) * rate)))
        self.events.append((start, string, fret, velocity, release, palm_mute, ring_seconds, pick))

    def render(self, length, rng):
        """Mix every event (a new note on a string stops the previous one on that string)."""
        rate = self.sample_rate
        mix = np.zeros(length)
        by_string = {}
        for event in sorted(self.events, key=lambda e: e[0]):
            by_string.setdefault(event[1], []).append(event)
        for string, events in by_string.items():
            for i, (start, _, fret, velocity, release, palm_mute, ring, pick) in enumerate(events):
                if start >= length:
                    continue
                next_start = events[i + 1][0] if i + 1 < len(events) else None
                if next_start is not None:
                    stop = next_start - start
                    release = stop if release is None else min(release, stop)
                tail = int(0.25 * rate) if release is not None else int(min(ring, 8.0) * rate)
                end = min(length, start + (release if release is not None else 0) + tail)
                n = end - start
                if n <= 0:
                    continue
                frequency = OPEN_STRINGS[string] * 2.0 ** (fret / 12.0)
                mix[start:end] += pluck(frequency, n, rng, velocity, ring, release, palm_mute, pick,
                                        sample_rate=rate)
        return mix


# -- phrases ---------------------------------------------------------------------------------

def _phrase_line(score, t, rng):
    """A single-note pentatonic line (some notes left ringing into the next)."""
    beat = 60.0 / rng.uniform(80, 170)
    root = int(rng.integers(0, 11))
    steps = int(rng.integers(6, 18))
    pos = int(rng.integers(0, len(PENTATONIC)))
    for _ in range(steps):
        pos = int(np.clip(pos + rng.integers(-2, 3), 0, len(PENTATONIC) - 1))
        string, offset = PENTATONIC[pos]
        duration = beat * rng.choice([0.25, 0.5, 0.5, 0.75, 1.0, 1.5])
        velocity = float(np.clip(rng.normal(0.7, 0.18), 0.2, 1.0))
        stop = None if rng.random() < 0.25 else t + duration * rng.uniform(0.7, 1.0)
        score.note(t, string, root + offset, velocity, stop, rng=rng)
        t += duration
    return t + beat


def _phrase_strum(score, t, rng):
    """Open and barre chords strummed up and down, held or choked."""
    beat = 60.0 / rng.uniform(70, 140)
    names = list(CHORDS)
    for _ in range(int(rng.integers(3, 8))):
        shape = CHORDS[names[int(rng.integers(len(names)))]]
        strums = int(rng.integers(1, 5))
        strum_beat = beat * rng.choice([0.5, 1.0, 2.0]) / max(1, strums // 2)
        for k in range(strums):
            down = k % 2 == 0
            spread = rng.uniform(0.006, 0.03)
            velocity = float(np.clip(rng.normal(0.75 if down else 0.55, 0.15), 0.2, 1.0))
            strings = [s for s in range(6) if shape[s] is not None]
            if not down:
                strings = strings[::-1][: int(rng.integers(3, len(strings) + 1))]
            choke = rng.random() < 0.3
            for j, s in enumerate(strings):
                stop = t + strum_beat * 0.8 if choke else None
                score.note(t + j * spread, s, shape[s], velocity * rng.uniform(0.8, 1.0), stop, rng=rng)
            t += strum_beat
    return t + beat


def _phrase_chug(score, t, rng):
    """Palm-muted chugs on the low strings with accented, ringing power chords."""
    beat = 60.0 / rng.uniform(100, 180)
    sub = beat * rng.choice([0.5, 0.25])
    root_string = int(rng.integers(0, 2))
    root = int(rng.integers(0, 6))
    for k in range(int(rng.integers(8, 24))):
        if rng.random() < 0.15:  # accent: an open power chord
            fret = root + int(rng.choice([0, 3, 5, 7]))
            velocity = float(rng.uniform(0.75, 1.0))
            stop = t + sub * rng.uniform(1.0, 3.0)
            for j, (s, f) in enumerate(((root_string, fret), (root_string + 1, fret + 2), (root_string + 2, fret + 2))):
                score.note(t + j * 0.004, s, f, velocity, stop, rng=rng)
            t += sub * 2
        else:
            velocity = float(np.clip(rng.normal(0.8, 0.12), 0.3, 1.0))
            score.note(t, root_string, root, velocity, t + sub * 0.9, palm_mute=True, rng=rng)
            if rng.random() < 0.5:  # muted fifth too
                score.note(t + 0.003, root_string + 1, root + 2, velocity * 0.9, t + sub * 0.9, palm_mute=True, rng=rng)
            t += sub
    return t + beat


def _phrase_arpeggio(score, t, rng):
    """Chord tones picked one by one and left to ring."""
    beat = 60.0 / rng.uniform(60, 120)
    names = list(CHORDS)
    for _ in range(int(rng.integers(2, 4))):
        shape = CHORDS[names[int(rng.integers(len(names)))]]
        strings = [s for s in range(6) if shape[s] is not None]
        order = strings + strings[-2:0:-1]
        for s in order:
            score.note(t, s, shape[s], float(rng.uniform(0.35, 0.8)), rng=rng)
            t += beat * 0.5
    return t + beat


def _phrase_ring(score, t, rng):
    """One or two notes left to ring down towards silence (the quiet tail matters too)."""
    string = int(rng.integers(0, 6))
    fret = int(rng.integers(0, 13))
    velocity = float(rng.uniform(0.4, 1.0))
    score.note(t, string, fret, velocity, ring_seconds=rng.uniform(2.0, 6.0), rng=rng)
    if rng.random() < 0.5 and string < 5:
        score.note(t + rng.uniform(0.0, 0.05), string + 1, fret + int(rng.choice([0, 2])), velocity * 0.8,
                   ring_seconds=rng.uniform(2.0, 6.0), rng=rng)
    return t + rng.uniform(1.5, 3.5)


PHRASES = (_phrase_line, _phrase_strum, _phrase_chug, _phrase_arpeggio, _phrase_ring)


def performance(seconds, seed, sample_rate=SAMPLE_RATE):
    """Random phrases of every kind, each at its own level, back to back with short gaps.

    Parameters
    ----------
    seconds : float
        Length of the result.
    seed : int
        Everything (notes, dynamics, excitation noise, noise floor) follows from it.
    sample_rate : float
        Hz.

    Returns
    -------
    numpy.ndarray
        float32 (round(seconds·sample_rate),): phrase peaks between 0.25 and 0.7.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    rng = np.random.default_rng(seed)
    length = int(round(seconds * sample_rate))
    mix = np.zeros(length)
    t = 0.05
    order = list(rng.permutation(len(PHRASES)))
    while t < seconds:
        if not order:
            order = list(rng.permutation(len(PHRASES)))
        kind = PHRASES[order.pop()]
        score = _Score(sample_rate)
        end = kind(score, 0.0, rng)
        start = int(round(t * sample_rate))
        span = min(length - start, int(round((end + 1.0) * sample_rate)))
        if span <= 0:
            break
        part = _instrument(score.render(span, rng), rng, sample_rate)
        part *= rng.uniform(0.25, 0.7) / (np.max(np.abs(part)) + 1e-12)  # this phrase's level
        # Fade the phrase's tail into the next phrase's start (a hand stopping the strings).
        fade = min(span, int(0.05 * sample_rate))
        part[span - fade:] *= np.linspace(1.0, 0.0, fade)
        mix[start:start + span] += part
        t += end + (rng.uniform(0.1, 0.6) if rng.random() < 0.6 else 0.0)
    floor = np.random.default_rng(seed + 1).standard_normal(length) * 2e-5  # between phrases too
    return (mix + floor).astype(np.float32)


def training_set(seed=0, seconds=90.0, sample_rate=SAMPLE_RATE):
    """The training DI signal: ``seconds`` of varied playing (default 90 s), float32."""
    return performance(seconds, seed, sample_rate)


def validation_clip(seed=VALIDATION_SEED, seconds=15.0, sample_rate=SAMPLE_RATE):
    """A held-out DI clip for early stopping (other seed than any training set), float32."""
    return performance(seconds, seed, sample_rate)


def test_clip(seed=TEST_SEED, seconds=15.0, sample_rate=SAMPLE_RATE):
    """A held-out DI clip for the final ESR (other seed than training and validation), float32."""
    return performance(seconds, seed, sample_rate)


# -- the demo riff ---------------------------------------------------------------------------

def demo_clip(sample_rate=SAMPLE_RATE, seed=7):
    """The demo DI clip: a 7 s rock riff in E at 140 BPM, peaks about 0.6, float32.

    Palm-muted low-E chugs answered by G5-A5 power-chord stabs, a second bar ending on a D5-C5
    slide figure, a short pentatonic lick and a ringing open E major chord.
    """
    rng = np.random.default_rng(seed)
    score = _Score(sample_rate)
    eighth = 60.0 / 140.0 / 2.0

    def power(t, string, fret, velocity, length):
        for j, (s, f) in enumerate(((string, fret), (string + 1, fret + 2), (string + 2, fret + 2))):
            score.note(t + j * 0.005, s, f, velocity, t + length, rng=rng)

    def chugs(t, count, velocity=0.85):
        for k in range(count):
            accent = 1.0 if k % 4 == 0 else 0.85
            score.note(t + k * eighth, 0, 0, velocity * accent, t + (k + 0.9) * eighth, palm_mute=True, rng=rng)
        return t + count * eighth

    t = 0.05
    for ending in (((0, 3), (0, 5)), ((1, 5), (1, 3))):  # bar 1: G5 A5; bar 2: D5 C5
        t = chugs(t, 4)
        power(t, *ending[0], 0.95, eighth * 0.9)
        t += eighth
        power(t, *ending[1], 1.0, eighth * 1.8)
        t += 2 * eighth
        t = chugs(t, 1, 0.8)
    # Lick: E minor pentatonic, open position.
    for string, fret, length in ((3, 0, 1), (3, 2, 1), (4, 0, 1), (4, 3, 1), (3, 2, 1), (2, 2, 2)):
        score.note(t, string, fret, float(rng.uniform(0.7, 0.9)), t + length * eighth * 0.95, rng=rng)
        t += length * eighth
    # Ringing E major chord, strummed down.
    for j, s in enumerate(range(6)):
        score.note(t + j * 0.012, s, CHORDS["E"][s], 0.9, ring_seconds=2.5, rng=rng)
    seconds = 7.0
    length = int(round(seconds * sample_rate))
    mix = _instrument(score.render(length, rng), rng, sample_rate)
    fade = int(0.3 * sample_rate)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade) ** 2
    return (0.6 * mix / np.max(np.abs(mix))).astype(np.float32)
