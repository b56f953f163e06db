"""Xruns of the live engine beside a C pass-through client's, under load, on a JACK dummy server.

For each JACK period (the engine's block size is set to the same) this starts a private
``jackd -d dummy`` at --rate, opens an engine.LiveSession on it (LSTM-40 by default) and, in the
same server at the same time, jackd2's C example client ``jack_thru``. It first measures the
callback's DSP load for --quiet-seconds with nothing else added; then it starts --burners
CPU-bound processes (``python -c 'while 1: pass'``) and a thread in this (the session's) process
that allocates Python objects nonstop (cyclic garbage, so the collector runs), lets everything
settle for 2 s and counts for --seconds:

- engine: callbacks PortAudio flagged (statusFlags), timing gaps (audio missing against the
  callback's own clock: engine.live.callback), frames lost, and the server's "client =
  PortAudio was not finished" lines;
- jack_thru: the server's "client = jack_thru was not finished" lines;
- the server's own timer woken later than one period (a stall of the whole machine).

Both clients run in the same server cycles under the same load, so their counts compare
directly: the C client's is this machine's floor. Results go to benchmarks/results/live_xruns.json.

Usage: python benchmarks/live_xruns.py [--seconds 60] [--periods 128 64] [--model PATH] [--burners 2]
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
sys.path.insert(0, REPO)

NOT_FINISHED = re.compile(r"client = (.+?) was not finished")
TIMER_LATE = re.compile(r"JackTimedDriver::Process XRun = (\d+) usec")


def churn(stop):
    """Python allocation nonstop: lists, dicts and strings, some in reference cycles."""
    while not stop.is_set():
        junk = [{"i": i, "items": [i] * 8, "name": str(i)} for i in range(5000)]
        for item in junk[::50]:
            item["self"] = item  # a cycle: only the cyclic collector frees it
        del junk


def server_counts(log_lines, period_us):
    late = {}
    for line in log_lines:
        match = NOT_FINISHED.search(line)
        if match:
            late[match[1]] = late.get(match[1], 0) + 1
    timer = [int(m[1]) for m in (TIMER_LATE.search(line) for line in log_lines) if m]
    return late, sum(us > period_us for us in timer)


def thread_faults(pid):
    """{tid: (minor, major) page faults} of the real-time (SCHED_FIFO/RR) threads of process ``pid``."""
    faults = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[38]) in (1, 2):  # policy: SCHED_FIFO, SCHED_RR
            faults[int(tid)] = (int(fields[7]), int(fields[9]))
    return faults


def load_figures(loads):
    return {"mean": float(loads.mean()), "p99": float(np.percentile(loads, 99)), "max": float(loads.max()),
            "max_at_callback": int(np.argmax(loads))} if loads.size else None


def run(period, args, thru_first):
    import engine
    from engine.config import load_config
    from engine.live import devices, jack_device, shared
    from engine.live.virtual import JackDummyServer

    server = JackDummyServer(args.rate, period, name=f"engine-xrun-bench-{os.getpid()}-{period}").start()
    env = {**os.environ, **server.environment()}
    os.environ.update(server.environment())
    helpers = []
    stop = threading.Event()
    session = None
    def start_thru():
        thru = subprocess.Popen(["jack_thru"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        helpers.append(thru)
        time.sleep(1.0)
        return thru

    try:
        # The client that registers first with the server (PortAudio registers when it is
        # initialised) is woken first each cycle, and measured late several times as often as
        # the second (two jack_thru in one server: 43/4, 2/2, 30/2 in 20 s): hence both orders.
        thru = start_thru() if thru_first else None
        devices.reinitialize_portaudio()
        device = jack_device()
        config = load_config(os.path.join(REPO, "configs/guitar.yaml")).with_models(args.model).replace(
            input_device=device, output_device=device, sample_rate=args.rate, block_size=period)
        session = engine.LiveSession(config).open()
        session.start()
        thru = thru or start_thru()
        time.sleep(2.0)
        # Quiet: only the two clients.
        mark = session.callbacks
        time.sleep(args.quiet_seconds)
        quiet = load_figures(session.loads(mark))
        # Loaded: CPU-bound processes, and allocation churn in this process.
        for _ in range(args.burners):
            helpers.append(subprocess.Popen([sys.executable, "-c", "while 1: pass"], stdin=subprocess.DEVNULL))
        churner = threading.Thread(target=churn, args=(stop,), daemon=True)
        if args.churn:
            churner.start()
        time.sleep(2.0)
        log_mark = len(server.log().splitlines())
        before = session.chain.shared.counters.copy()
        collections = sum(g["collections"] for g in gc.get_stats())
        mark = session.callbacks
        faults_before = thread_faults(os.getpid()), thread_faults(thru.pid)
        time.sleep(args.seconds)
        after = session.chain.shared.counters.copy()
        faults_after = thread_faults(os.getpid()), thread_faults(thru.pid)
        faults = [{tid: (after_[tid][0] - before_.get(tid, (0, 0))[0], after_[tid][1] - before_.get(tid, (0, 0))[1])
                   for tid in after_} for before_, after_ in zip(faults_before, faults_after)]
        loaded = load_figures(session.loads(mark))
        collections = sum(g["collections"] for g in gc.get_stats()) - collections
        if args.show_threads:
            print(subprocess.run(["ps", "-L", "-o", "tid,cls,rtprio,pri,psr,comm", "-p", str(os.getpid())],
                                 capture_output=True, text=True).stdout)
            print(subprocess.run(["ps", "-L", "-o", "tid,cls,rtprio,pri,psr,comm", "-p", str(thru.pid)],
                                 capture_output=True, text=True).stdout)
        stop.set()
        if args.churn:
            churner.join(10)
        log_lines = server.log().splitlines()[log_mark:]
    finally:
        stop.set()
        for helper in reversed(helpers):
            if helper.poll() is None:
                helper.terminate()
                try:
                    helper.wait(5)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    helper.wait()
        if session is not None:
            session.close()
        from engine.live import devices as _devices

        _devices.terminate_portaudio()  # before the server stops
        server.stop()
        server.remove_log()
    late, timer_late = server_counts(log_lines, 1e6 * period / args.rate)
    delta = after - before
    return {"period": period, "block": period, "seconds": args.seconds, "burners": args.burners,
            "gc_collections": collections,
            "realtime_thread_page_faults": {"engine": list(faults[0].values()), "jack_thru": list(faults[1].values())},
            "engine": {"status_flags": int(delta[shared.C_FLAGGED]), "timing_gaps": int(delta[shared.C_GAPS]),
                       "lost_frames": int(delta[shared.C_LOST_FRAMES]),
                       "xrun_callbacks": int(delta[shared.C_XRUN_BLOCKS]),
                       "server_not_finished": late.get("PortAudio", 0), "dsp_load_loaded": loaded,
                       "dsp_load_quiet": quiet},
            "jack_thru": {"server_not_finished": late.get("jack_thru", 0)},
            "server_timer_late_over_a_period": timer_late, "other_late_clients": {
                k: v for k, v in late.items() if k not in ("PortAudio", "jack_thru")}}


def total(rows, *path):
    value = 0
    for row in rows:
        item = row
        for key in path:
            item = item[key]
        value += item
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="counted seconds per period, split over both orders")
    parser.add_argument("--quiet-seconds", type=float, default=10)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--periods", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--no-churn", dest="churn", action="store_false", help="no allocation churn in this process")
    parser.add_argument("--show-threads", action="store_true", help="print the scheduling class of every thread")
    parser.add_argument("--model", default=os.path.join(REPO, "tests/fixtures/torch/lstm_1x40_in1_skip1.guitarml.json"))
    args = parser.parse_args()
    for tool in ("jackd", "jack_thru"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install --no-install-recommends jackd2")
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"({os.cpu_count()} CPUs); other JACK servers running: "
          f"{subprocess.run(['pgrep', '-c', 'jackd'], capture_output=True, text=True).stdout.strip() or 0}", flush=True)
    whole = args.seconds
    args.seconds = whole / 2
    results = []
    for period in args.periods:
        rows = [run(period, args, thru_first) for thru_first in (False, True)]
        for row, order in zip(rows, ("engine registered first", "jack_thru registered first")):
            row["order"] = order
        results += rows
        quiet = rows[0]["engine"]["dsp_load_quiet"]
        loaded = [row["engine"]["dsp_load_loaded"] for row in rows]
        print(f"period {period} ({1e3 * period / args.rate:.2f} ms), engine block {period}, {whole:g} s "
              f"({whole / 2:g} s in each registration order) with {args.burners} CPU-bound processes"
              + (" + allocation churn in the session's process" if args.churn else ""), flush=True)
        print(f"  late in the server's cycle (its log: 'client = ... was not finished'): engine "
              f"{total(rows, 'engine', 'server_not_finished')} "
              f"({' + '.join(str(r['engine']['server_not_finished']) for r in rows)}), jack_thru (C) "
              f"{total(rows, 'jack_thru', 'server_not_finished')} "
              f"({' + '.join(str(r['jack_thru']['server_not_finished']) for r in rows)})", flush=True)
        print(f"  the engine's own count: {total(rows, 'engine', 'xrun_callbacks')} host cycles with an xrun sign "
              f"(status flags {total(rows, 'engine', 'status_flags')}, "
              f"timing gaps {total(rows, 'engine', 'timing_gaps')}, "
              f"{total(rows, 'engine', 'lost_frames')} frames lost; PortAudio flags every xrun of the server, "
              f"and a late client costs every client the cycle); server timer late by > 1 period: "
              f"{total(rows, 'server_timer_late_over_a_period')}; gc runs {total(rows, 'gc_collections')}", flush=True)
        print(f"  DSP load (callback time / block time), quiet: mean {100 * quiet['mean']:.1f}% p99 "
              f"{100 * quiet['p99']:.1f}% max {100 * quiet['max']:.1f}%; loaded: mean "
              f"{100 * np.mean([l['mean'] for l in loaded]):.1f}% p99 {100 * max(l['p99'] for l in loaded):.1f}% "
              f"max {100 * max(l['max'] for l in loaded):.1f}%", flush=True)
        if args.show_threads:
            print(f"  page faults (minor, major) of the real-time threads: "
                  f"{[r['realtime_thread_page_faults'] for r in rows]}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    args.seconds = whole
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benchmarks", "results", "live_xruns.json"), "w") as handle:
        json.dump({"runs": results, "settings": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
