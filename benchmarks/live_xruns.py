"""Xruns of the live engine beside C pass-through clients', under load, in the same JACK server at the same time.

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
- with --busy, busy_thru (benchmarks/c_clients/busy_thru.c, built here with gcc): a C pass-through
  that does, every cycle, as much arithmetic as takes the engine's mean callback time measured in
  the quiet part. jack_thru does nothing at all, so on a shared machine it is late less often
  than any client that computes: a stall of the machine that lands inside a callback makes that
  client late. busy_thru is the floor for a client doing the engine's amount of work;
- the server's own timer woken later than one period (a stall of the whole machine).

All clients run in the same server cycles under the same load. The client that registers first
is woken first each cycle and is measured late several times as often as the second (two
jack_thru in one server: 43/4, 2/2, 30/2 in 20 s), and the load of a shared machine changes from
second to second; so the counted time is cut into --segments pieces that rotate the registration
order (every client is re-registered between pieces: both orders of two clients, or all six of
three), and each client spends as long in each position, spread over the same minute.

Usage: python benchmarks/live_xruns.py [--seconds 60] [--periods 128 64] [--segments 12] [--busy] [--model PATH]
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


class _Client:
    """A C client process (jack_thru, or busy_thru NAME ITERATIONS), registered once its ports exist."""

    def __init__(self, env, command, name):
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout
            if f"{name}:" in ports:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not register within 10 s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def build_busy_thru(directory):
    """Compile benchmarks/c_clients/busy_thru.c with gcc into ``directory``; its path.

    Raises
    ------
    RuntimeError
        If gcc is missing or the build fails.
    """
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc not found (apt-get install gcc): it builds the busy_thru C client")
    binary = os.path.join(directory, "busy_thru")
    build = subprocess.run(["gcc", "-O2", "-o", binary, os.path.join(REPO, "benchmarks/c_clients/busy_thru.c"),
                            "-l:libjack.so.0"], capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"building busy_thru failed: {build.stderr.strip()}")
    return binary


def measure(period, seconds=60.0, segments=12, rate=48000, model=LSTM40, burners=2, churn_in_process=True,
            quiet_seconds=5.0, progress=None, audio_api="jack", busy=False):
    """Count late cycles of the engine and of C clients in one JACK dummy server under load.

    Parameters
    ----------
    period : int
        JACK period and engine block size, frames.
    seconds : float
        Counted seconds in all, cut into ``segments`` pieces rotating the registration order.
    segments : int
        A multiple of the number of orders: 2 (engine, jack_thru), or 6 with ``busy`` (every
        order of the three clients), so each client spends as long in each position.
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
    busy : bool
        Also run busy_thru (benchmarks/c_clients/busy_thru.c, built with gcc): a C pass-through
        whose callback does, each cycle, the arithmetic that takes as long as the engine's mean
        callback measured in the quiet part, so that its lateness is that of a C client doing
        the engine's amount of work.

    Returns
    -------
    dict
        ``late``: {client: "not finished" lines} and ``late_by_position`` ({client: [count when
        registered first, second, …]}), with ``engine_late_total``, ``thru_late_total`` (and
        ``busy_late_total``, ``busy_work_us``); the engine's own counters (``status_flags``,
        ``timing_gaps``, ``lost_frames``), ``server_timer_late``, ``dsp_load_quiet`` /
        ``dsp_load_loaded``, ``gc_collections``.

    Raises
    ------
    RuntimeError
        If jack_thru (or busy_thru) cannot run; DeviceError if the server or PortAudio cannot.
    """
    import itertools
    import tempfile

    import engine
    from engine.config import load_config
    from engine.live import devices, jack_device, shared
    from engine.live.virtual import JackDummyServer

    names = ["engine", "jack_thru"] + (["busy_thru"] if busy else [])
    orders = list(itertools.permutations(names))
    if segments < len(orders) or segments % len(orders):
        raise ValueError(f"segments must be a multiple of {len(orders)} (every registration order equally often)")
    build_dir = tempfile.mkdtemp(prefix="engine-busy-thru-") if busy else None
    busy_binary = build_busy_thru(build_dir) if busy else None
    server = JackDummyServer(rate, period, name=f"engine-xruns-{os.getpid()}-{period}").start()
    saved = {key: os.environ.get(key) for key in server.environment()}
    os.environ.update(server.environment())
    env = dict(os.environ)
    helpers, stop = [], threading.Event()
    session = None
    c_clients = {}
    engine_client = engine.LiveSession.JACK_CLIENT if audio_api == "jack" else "PortAudio"
    result = {"audio_api": audio_api, "period": period, "rate": rate, "seconds": seconds, "segments": segments,
              "burners": burners, "churn": churn_in_process, "clients": names,
              "late": {name: 0 for name in names}, "late_by_position": {name: [0] * len(names) for name in names},
              "status_flags": 0, "timing_gaps": 0, "lost_frames": 0, "server_timer_late": 0,
              "other_late_clients": {}}
    loaded = []

    def start_c_client(name):
        command = ["jack_thru"] if name == "jack_thru" else [busy_binary, "busy_thru", str(result["busy_iterations"])]
        c_clients[name] = _Client(env, command, name)

    def stop_c_clients():
        for client in c_clients.values():
            client.stop()
        c_clients.clear()

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
        start_c_client("jack_thru")
        time.sleep(SETTLE_SECONDS)
        mark = session.callbacks
        time.sleep(quiet_seconds)
        result["dsp_load_quiet"] = load_figures(session.loads(mark))
        if busy:  # the engine's mean callback time, as arithmetic a C client repeats each cycle
            result["busy_work_us"] = 1e6 * result["dsp_load_quiet"]["mean"] * period / rate
            calibrated = subprocess.run([busy_binary, "--calibrate", f"{result['busy_work_us']:.3f}"],
                                        capture_output=True, text=True, check=True)
            result["busy_iterations"] = int(calibrated.stdout)
        for _ in range(burners):
            helpers.append(subprocess.Popen([sys.executable, "-c", "while 1: pass"], stdin=subprocess.DEVNULL))
        churner = threading.Thread(target=churn, args=(stop,), daemon=True)
        if churn_in_process:
            churner.start()
        collections = sum(g["collections"] for g in gc.get_stats())
        for piece in range(segments):
            order = orders[piece % len(orders)]
            session.close()
            stop_c_clients()
            for name in order:  # registered in this order: the server wakes them in it
                if name != "engine":
                    start_c_client(name)
                    continue
                if audio_api == "portaudio":
                    devices.reinitialize_portaudio()  # PortAudio's JACK client registers now
                session.open()  # a native client registers now
                session.start()
            time.sleep(SETTLE_SECONDS)
            log_mark = len(server.log().splitlines())
            before = session.chain.shared.counters.copy()
            mark = session.callbacks
            time.sleep(seconds / segments)
            after = session.chain.shared.counters.copy()
            loaded.append(session.loads(mark))
            lines = server.log().splitlines()[log_mark:]
            late = late_clients(lines)
            for position, name in enumerate(order):
                count = late.pop(engine_client if name == "engine" else name, 0)
                result["late"][name] += count
                result["late_by_position"][name][position] += count
            for name, count in late.items():
                result["other_late_clients"][name] = result["other_late_clients"].get(name, 0) + count
            result["server_timer_late"] += timer_late(lines, 1e6 * period / rate)
            delta = after - before
            result["status_flags"] += int(delta[shared.C_FLAGGED])
            result["timing_gaps"] += int(delta[shared.C_GAPS])
            result["lost_frames"] += int(delta[shared.C_LOST_FRAMES])
            if progress is not None:
                progress(f"  piece {piece + 1}/{segments} ({' → '.join(order)}): "
                         + ", ".join(f"{name} late {result['late'][name]}" for name in names))
        result["gc_collections"] = sum(g["collections"] for g in gc.get_stats()) - collections
    finally:
        stop.set()
        for helper in helpers:
            helper.terminate()
            helper.wait()
        stop_c_clients()
        if session is not None:
            session.close()
        devices.terminate_portaudio()  # before the server stops
        server.stop()
        server.remove_log()
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result["engine_late_total"] = result["late"]["engine"]
    result["thru_late_total"] = result["late"]["jack_thru"]
    if busy:
        result["busy_late_total"] = result["late"]["busy_thru"]
    result["dsp_load_loaded"] = load_figures(np.concatenate(loaded)) if loaded else None
    return result


def describe(result):
    """The printable lines of one measure() result."""
    r = result
    quiet, loaded = r["dsp_load_quiet"], r["dsp_load_loaded"]
    names = r["clients"]
    what = {"engine": "engine", "jack_thru": "jack_thru (C, no work)",
            "busy_thru": f"busy_thru (C, {r.get('busy_work_us', 0):.0f} µs of arithmetic a cycle)"}
    positions = ("first", "second", "third")
    late = "; ".join(f"{what[name]} {r['late'][name]} ("
                     + " + ".join(f"{count} {positions[i]}" for i, count in enumerate(r["late_by_position"][name]))
                     + ")" for name in names)
    return [
        f"period {r['period']} ({1e3 * r['period'] / r['rate']:.2f} ms), engine block {r['period']} "
        f"({'native JACK client' if r['audio_api'] == 'jack' else 'through PortAudio'}), {r['seconds']:g} s "
        f"in {r['segments']} pieces rotating the registration order, {r['burners']} CPU-bound processes"
        + (" + allocation churn in the session's process" if r["churn"] else ""),
        f"  late in the server's cycle ('client = ... was not finished', by registration position): {late}",
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
    parser.add_argument("--busy", action="store_true",
                        help="also run busy_thru: a C client doing the engine's mean callback time of arithmetic "
                             "each cycle (built with gcc; segments must then be a multiple of 6)")
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
                         audio_api=args.audio_api, busy=args.busy)
        results.append(result)
        print("\n".join(describe(result)), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benchmarks", "results", "live_xruns.json"), "w") as handle:
        json.dump({"runs": results, "settings": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
