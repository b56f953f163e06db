"""Round-trip latency of the live path on a JACK dummy server, per period: play an impulse, find it in the recording.

For each period it starts a private JACK dummy server (engine.live.virtual.JackDummyServer) and a
live session whose block size is that period (one engine callback per JACK cycle, as
``engine-live --virtual`` runs), bypassed so the chain passes its input through unchanged. A
player client in a child process plays impulses into the engine's input port and records its
output port in the same JACK cycles; the frames from an impulse played to the same impulse
recorded are the round trip player → engine (its native JACK client, engine.live.jack_native) →
player: what the engine adds on a real interface on top of the interface's own converters and
buffers.

The same figure is then measured through the model, as ``engine-live --virtual`` reports it
in its summary: the lag at which the recording equals the chain run offline (playthrough.align).

Usage: python benchmarks/live_latency.py [--periods 64 128 256 1024] [--rate 48000] [--json PATH]
Needs jackd (Debian: jackd2) and JACK-Client.
"""

import argparse
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

IMPULSES = 8
SPACING_SECONDS = 0.25
LEAD_IN_SECONDS = 0.5


def _bypass(session):
    """Bypass the chain through whichever API the session offers."""
    if hasattr(session, "bypass"):
        session.bypass(True)
    else:
        session.chain.set_bypass(True)


def measure(config, rate, period):
    """The round trip at one period, by impulses (bypassed) and by alignment with offline processing (model)."""
    from engine.live import LiveChain, align, play_through, terminate_portaudio
    from engine.live.virtual import JackDummyServer
    from engine.testing import guitar_like_signal

    config = config.replace(block_size=period)
    max_lag = max(4 * period, 256)
    lead = int(LEAD_IN_SECONDS * rate)
    spacing = int(SPACING_SECONDS * rate)
    impulses = np.zeros(lead + IMPULSES * spacing, np.float32)
    at = lead + spacing * np.arange(IMPULSES)
    impulses[at] = 0.5
    server = JackDummyServer(rate, period, name=f"engine-latency-{os.getpid()}-{period}").start()
    try:
        session, recording, _ = play_through(config, server, impulses, actions=[(0, _bypass)], extra_frames=max_lag)
        lags = []
        for index in at:
            window = recording[index:index + max_lag + 1]
            hits = np.flatnonzero(window == 0.5)
            if hits.size == 1 and np.count_nonzero(window) == 1:  # exactly the impulse, and nothing else
                lags.append(int(hits[0]))
        impulse_xruns = sum(session.xruns.values())
        signal = np.concatenate([np.zeros(lead, np.float32), guitar_like_signal(2 * rate, rate, seed=5)])
        session, recording, _ = play_through(config, server, signal, extra_frames=max_lag)
        offline = LiveChain(session.config, session.models, rate, 1, max(config.output_channels)).render(signal)[:, 0]
        model_lag, model_error = align(recording[lead:], offline[lead:], max_lag)
        model_xruns = sum(session.xruns.values())
        terminate_portaudio()
    finally:
        server.stop()
        server.remove_log()
    lag = max(set(lags), key=lags.count) if lags else None
    return {"period": period, "rate": rate, "impulses_found": len(lags), "impulses_played": IMPULSES,
            "impulse_lags": sorted(set(lags)), "round_trip_frames": lag,
            "round_trip_ms": None if lag is None else 1000 * lag / rate,
            "round_trip_periods": None if lag is None else lag / period,
            "model_alignment_lag": model_lag, "model_max_error": model_error,
            "engine_xruns": impulse_xruns + model_xruns}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, nargs="+", default=[64, 128, 256, 1024])
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "guitar.yaml"))
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    from engine.config import load_config

    config = load_config(args.config)
    rows = []
    print(f"# round trip player -> engine -> player on a JACK dummy server at {args.rate} Hz, block = period")
    print(f"{'period':>6} {'frames':>7} {'ms':>6} {'periods':>7} {'impulses':>9} {'model lag':>9} "
          f"{'model err':>9} {'xruns':>5}")
    for period in args.periods:
        row = measure(config, args.rate, period)
        rows.append(row)
        frames = "-" if row["round_trip_frames"] is None else row["round_trip_frames"]
        ms = "-" if row["round_trip_ms"] is None else f"{row['round_trip_ms']:.2f}"
        periods = "-" if row["round_trip_periods"] is None else f"{row['round_trip_periods']:g}"
        print(f"{period:>6} {frames:>7} {ms:>6} {periods:>7} {row['impulses_found']:>4}/{row['impulses_played']:<4} "
              f"{row['model_alignment_lag']:>9} {row['model_max_error']:>9.2g} {row['engine_xruns']:>5}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows}, handle, indent=1)
        print(f"# wrote {args.json}")


if __name__ == "__main__":
    main()
