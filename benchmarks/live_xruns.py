"""Xruns of the live engine on a JACK dummy server, per server period, beside this machine's own jitter.

For each JACK period (frames per server cycle) it runs ``engine-live`` alone for --seconds with the
engine's block fixed at --block-size, and counts the xruns PortAudio reported to the engine and those
in the server's log. If rt-tests' ``cyclictest`` is installed it also measures how often a
real-time thread on this machine is woken late by more than one block, with nothing else running:
xruns at small periods that match that count come from the machine, not from the engine.

Usage: python benchmarks/live_xruns.py [--seconds 60] [--periods 128 256 1024] [--model PATH]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def engine_run(model, rate, period, block, seconds):
    from engine.live.virtual import JackDummyServer

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(f"model: {model}\nblock_size: {block}\noutput_channels: [1]\n")
        config = handle.name
    server = JackDummyServer(rate, period, name=f"engine-xrun-bench-{os.getpid()}-{period}").start()
    try:
        result = subprocess.run([sys.executable, "-m", "engine.cli_run", "live", "--config", config,
                                 "--duration", str(seconds)], capture_output=True, text=True,
                                env={**os.environ, **server.environment()}, timeout=seconds + 60)
    finally:
        server.stop()
        os.unlink(config)
    xruns = re.search(r"^xruns: (\d+)", result.stdout, re.MULTILINE)
    load = re.search(r"DSP load: mean ([\d.]+)%, p99 ([\d.]+)%, max ([\d.]+)%", result.stdout)
    return {"period": period, "block": block, "engine_xrun_flags": int(xruns[1]) if xruns else None,
            "server_xruns": server.xruns_in_log(), "dsp_mean": float(load[1]) if load else None,
            "dsp_p99": float(load[2]) if load else None, "dsp_max": float(load[3]) if load else None}


def machine_jitter(seconds, interval_us):
    """Wake-ups of a SCHED_FIFO thread later than one block, from cyclictest's histogram."""
    if shutil.which("cyclictest") is None:
        return None
    out = subprocess.run(["cyclictest", "-m", "-p", "80", "-i", str(interval_us), "-t", "1", "-D", str(seconds),
                          "-q", "-h", "20000"], capture_output=True, text=True, timeout=seconds + 30).stdout
    late = sum(int(count) for latency, count in re.findall(r"^(\d+)\s+(\d+)", out, re.MULTILINE)
               if int(latency) > interval_us)
    worst = re.search(r"# Max Latencies: (\d+)", out)
    return {"seconds": seconds, "wakeups_later_than_one_block": late, "worst_latency_us": int(worst[1]) if worst else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--periods", type=int, nargs="+", default=[128, 256, 1024])
    parser.add_argument("--model", default=os.path.join(REPO, "tests/fixtures/torch/lstm_1x40_in1_skip1.guitarml.json"))
    args = parser.parse_args()
    rows = []
    for period in args.periods:
        row = engine_run(args.model, args.rate, period, args.block_size, args.seconds)
        rows.append(row)
        print(f"JACK period {period:>5}, engine block {args.block_size}: xrun flags {row['engine_xrun_flags']}, "
              f"server xruns {row['server_xruns']}, DSP mean {row['dsp_mean']}% p99 {row['dsp_p99']}% "
              f"max {row['dsp_max']}%", flush=True)
    jitter = machine_jitter(int(args.seconds), int(1e6 * args.block_size / args.rate))
    if jitter:
        print(f"cyclictest, {jitter['seconds']} s, nothing else running: {jitter['wakeups_later_than_one_block']} "
              f"wake-ups later than one block ({1e3 * args.block_size / args.rate:.2f} ms), worst "
              f"{jitter['worst_latency_us'] / 1000:.1f} ms")
    else:
        print("cyclictest not installed (apt-get install rt-tests): machine jitter not measured")
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benchmarks", "results", "live_xruns.json"), "w") as handle:
        json.dump({"runs": rows, "machine_jitter": jitter, "settings": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
