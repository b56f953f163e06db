"""Xruns of the live engine beside a C pass-through client's, under load, in the same JACK server at the same time.

For each JACK period (the engine's block size is set to the same) this starts a private
``jackd -d dummy`` at --rate, and in it an engine.LiveSession (LSTM-40 by default) and jackd2's C
example client ``jack_thru``. It first measures the callback's DSP load for --quiet-seconds with
nothing else running; then it starts --burners CPU-bound processes (``python -c 'while 1: pass'``)
and a thread in this (the session's) process that allocates Python objects nonstop (cyclic
garbage, so the collector runs), and counts for --seconds in all:

- engine: the server's "client = engine was not finished" lines (the engine's JACK client was
  late in the cycle; "PortAudio" with --audio-api portaudio), and its own signs: callbacks PortAudio flagged (statusFlags), timing gaps
  (audio missing against the callback's clock: engine.live.callback) and frames lost;
- jack_thru: the server's "client = jack_thru was not finished" lines;
- the server's own timer woken later than one period (a stall of the whole machine).

Both clients run in the same server cycles under the same load, so the C client's count is this
machine's floor. The client that registers first is woken first each cycle and is measured
late several times as often as the second (two jack_thru in one server: 43/4, 2/2, 30/2 in 20 s),
and the load of a shared machine changes from second to second; so the counted time is cut into
--segments pieces that alternate the registration order (the session's PortAudio client and
jack_thru are re-registered between pieces), and each client spends half of the time in each
position, spread over the same minute.

Usage: python benchmarks/live_xruns.py [--seconds 60] [--periods 128 64] [--segments 12] [--model PATH]
Writes benchmarks/results/live_xruns.json; tests/test_live.py runs ``measure`` for its load test.
"""

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

LSTM40 = os.path.join(REPO, "tests/fixtures/torch/lstm_1x40_in1_skip1.guitarml.json")
NOT_FINISHED = re.compile(r"client = (.+?) was not finished")
TIMER_LATE = re.compile(r"JackTimedDriver::Process XRun = (\d+) usec")
#: Seconds each re-registered pair runs before counting starts (PortAudio's stream start, jack_thru's connect).
SETTLE_SECONDS = 0.5


def churn(stop):
    """Python allocation nonstop: lists, dicts and strings, some in reference cycles."""
    while not stop.is_set():
        junk = [{"i": i, "items": [i] * 8, "name": str(i)} for i in range(5000)]
        for item in junk[::50]:
            item["self"] = item  # a cycle: only the cyclic collector frees it
        del junk


def late_clients(log_lines):
    """{client name: "was not finished" lines} in the server's log lines."""
    late = {}
    for line in log_lines:
        match = NOT_FINISHED.search(line)
        if match:
            late[match[1]] = late.get(match[1], 0) + 1
    return late


def timer_late(log_lines, period_us):
    """How many times the server's own timer woke more than a period late."""
    return sum(int(m[1]) > period_us for m in (TIMER_LATE.search(line) for line in log_lines) if m)


def load_figures(loads):
    """Mean, 99th percentile and maximum of per-callback DSP loads (None if there are none)."""
    return {"mean": float(loads.mean()), "p99": float(np.percentile(loads, 99)),
            "max": float(loads.max())} if loads.size else None


class _Thru:
    """jackd2's C pass-through client, started and stopped."""

    def __init__(self, env):
        self.process = subprocess.Popen(["jack_thru"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # registered once its ports exist
            ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout
            if "jack_thru:" in ports:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"jack_thru exited with code {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError("jack_thru did not register within 10 s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def measure(period, seconds=60.0, segments=12, rate=48000, model=LSTM40, burners=2, churn_in_process=True,
            quiet_seconds=5.0, progress=None, audio_api="jack"):
    """Count late cycles of the engine and of jack_thru in one JACK dummy server under load.

    Parameters
    ----------
    period : int
        JACK period and engine block size, frames.
    seconds : float
        Counted seconds in all, cut into ``segments`` pieces alternating the registration order.
    segments : int
        Even: half the pieces register the engine first, half jack_thru first.
    rate : int
    model : str
        The model file the session plays.
    burners : int
        CPU-bound processes running while counting.
    churn_in_process : bool
        Whether a thread of this process allocates Python objects nonstop while counting.
    quiet_seconds : float
        Seconds of DSP load measured before the load starts (engine and jack_thru only).
    progress : callable, optional
        Called with a line of text after each piece.
    audio_api : str
        "jack": the session is a native JACK client (what engine-live --virtual runs);
        "portaudio": it goes through PortAudio's JACK host API.

    Returns
    -------
    dict
        ``engine_late`` / ``thru_late`` (the server's "not finished" lines, totals and per order),
        the engine's own counters (``status_flags``, ``timing_gaps``, ``lost_frames``),
        ``server_timer_late``, ``dsp_load_quiet`` / ``dsp_load_loaded``, ``gc_collections``.

    Raises
    ------
    RuntimeError
        If jack_thru cannot run; DeviceError if the server or PortAudio cannot.
    """
    import engine
    from engine.config import load_config
    from engine.live import devices, jack_device, shared
    from engine.live.virtual import JackDummyServer

    if segments < 2 or segments % 2:
        raise ValueError("segments must be even and at least 2")
    server = JackDummyServer(rate, period, name=f"engine-xruns-{os.getpid()}-{period}").start()
    saved = {key: os.environ.get(key) for key in server.environment()}
    os.environ.update(server.environment())
    env = dict(os.environ)
    helpers, stop = [], threading.Event()
    session = thru = None
    client = engine.LiveSession.JACK_CLIENT if audio_api == "jack" else "PortAudio"
    result = {"audio_api": audio_api, "period": period, "rate": rate, "seconds": seconds, "segments": segments, "burners": burners,
              "churn": churn_in_process, "engine_late": {"engine first": 0, "jack_thru first": 0},
              "thru_late": {"engine first": 0, "jack_thru first": 0}, "status_flags": 0, "timing_gaps": 0,
              "lost_frames": 0, "server_timer_late": 0, "other_late_clients": {}}
    loaded = []
    try:
        device = None
        if audio_api == "portaudio":
            devices.reinitialize_portaudio()
            device = jack_device()
        config = load_config(os.path.join(REPO, "configs/guitar.yaml")).with_models(model).replace(
            input_device=device, output_device=device, sample_rate=rate, block_size=period, interpolation="linear",
            audio_api=audio_api)
        session = engine.LiveSession(config).open()
        session.start()
        thru = _Thru(env)
        time.sleep(SETTLE_SECONDS)
        mark = session.callbacks
        time.sleep(quiet_seconds)
        result["dsp_load_quiet"] = load_figures(session.loads(mark))
        for _ in range(burners):
            helpers.append(subprocess.Popen([sys.executable, "-c", "while 1: pass"], stdin=subprocess.DEVNULL))
        churner = threading.Thread(target=churn, args=(stop,), daemon=True)
        if churn_in_process:
            churner.start()
        collections = sum(g["collections"] for g in gc.get_stats())
        for piece in range(segments):
            thru_first = piece % 2 == 1
            order = "jack_thru first" if thru_first else "engine first"
            session.close()
            thru.stop()
            thru = _Thru(env) if thru_first else None
            if audio_api == "portaudio":
                devices.reinitialize_portaudio()  # PortAudio's JACK client registers now
            session.open()  # a native client registers now
            session.start()
            thru = thru or _Thru(env)
            time.sleep(SETTLE_SECONDS)
            log_mark = len(server.log().splitlines())
            before = session.chain.shared.counters.copy()
            mark = session.callbacks
            time.sleep(seconds / segments)
            after = session.chain.shared.counters.copy()
            loaded.append(session.loads(mark))
            lines = server.log().splitlines()[log_mark:]
            late = late_clients(lines)
            result["engine_late"][order] += late.pop(client, 0)
            result["thru_late"][order] += late.pop("jack_thru", 0)
            for name, count in late.items():
                result["other_late_clients"][name] = result["other_late_clients"].get(name, 0) + count
            result["server_timer_late"] += timer_late(lines, 1e6 * period / rate)
            delta = after - before
            result["status_flags"] += int(delta[shared.C_FLAGGED])
            result["timing_gaps"] += int(delta[shared.C_GAPS])
            result["lost_frames"] += int(delta[shared.C_LOST_FRAMES])
            if progress is not None:
                progress(f"  piece {piece + 1}/{segments} ({order}): engine late "
                         f"{sum(result['engine_late'].values())}, jack_thru late {sum(result['thru_late'].values())}")
        result["gc_collections"] = sum(g["collections"] for g in gc.get_stats()) - collections
    finally:
        stop.set()
        for helper in helpers:
            helper.terminate()
            helper.wait()
        if thru is not None:
            thru.stop()
        if session is not None:
            session.close()
        devices.terminate_portaudio()  # before the server stops
        server.stop()
        server.remove_log()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result["engine_late_total"] = sum(result["engine_late"].values())
    result["thru_late_total"] = sum(result["thru_late"].values())
    result["dsp_load_loaded"] = load_figures(np.concatenate(loaded)) if loaded else None
    return result


def describe(result):
    """The printable lines of one measure() result."""
    r = result
    quiet, loaded = r["dsp_load_quiet"], r["dsp_load_loaded"]
    return [
        f"period {r['period']} ({1e3 * r['period'] / r['rate']:.2f} ms), engine block {r['period']} "
        f"({'native JACK client' if r['audio_api'] == 'jack' else 'through PortAudio'}), {r['seconds']:g} s "
        f"in {r['segments']} pieces alternating the registration order, {r['burners']} CPU-bound processes"
        + (" + allocation churn in the session's process" if r["churn"] else ""),
        f"  late in the server's cycle ('client = ... was not finished'): engine {r['engine_late_total']} "
        f"({r['engine_late']['engine first']} registered first + {r['engine_late']['jack_thru first']} second), "
        f"jack_thru (C) {r['thru_late_total']} ({r['thru_late']['jack_thru first']} first + "
        f"{r['thru_late']['engine first']} second)",
        f"  the engine's own signs: status flags {r['status_flags']}, timing gaps {r['timing_gaps']}, "
        f"{r['lost_frames']} frames lost (a late client costs every client the cycle); server timer late by "
        f"> 1 period: {r['server_timer_late']}; gc runs {r.get('gc_collections', 0)}",
        f"  DSP load (callback time / block time), quiet: mean {100 * quiet['mean']:.1f}% p99 {100 * quiet['p99']:.1f}% "
        f"max {100 * quiet['max']:.1f}%; loaded: mean {100 * loaded['mean']:.1f}% p99 {100 * loaded['p99']:.1f}% "
        f"max {100 * loaded['max']:.1f}%",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="counted seconds per period (default 60)")
    parser.add_argument("--segments", type=int, default=12, help="pieces alternating the registration order")
    parser.add_argument("--quiet-seconds", type=float, default=5)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--periods", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--no-churn", dest="churn", action="store_false", help="no allocation churn in this process")
    parser.add_argument("--model", default=LSTM40)
    parser.add_argument("--audio-api", choices=("jack", "portaudio"), default="jack",
                        help="the session as a native JACK client (default, as engine-live --virtual) or through "
                             "PortAudio's JACK host API")
    parser.add_argument("--verbose", action="store_true", help="a line after every piece")
    args = parser.parse_args()
    for tool in ("jackd", "jack_thru", "jack_lsp"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install --no-install-recommends jackd2")
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    results = []
    for period in args.periods:
        result = measure(period, args.seconds, args.segments, args.rate, args.model, args.burners, args.churn,
                         args.quiet_seconds, progress=(lambda line: print(line, flush=True)) if args.verbose else None,
                         audio_api=args.audio_api)
        results.append(result)
        print("\n".join(describe(result)), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benchmarks", "results", "live_xruns.json"), "w") as handle:
        json.dump({"runs": results, "settings": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
