"""How long engine-live takes from launch to its first audio, on a JACK dummy server.

It starts a private JACK dummy server (engine.live.virtual.JackDummyServer) and a probe client
(JACK-Client) that feeds a constant into the engine's input port and listens to its output port.
Then it launches ``engine-live`` (``python -m engine.cli_run live``) with a small configuration
for the model and notes when the first non-zero sample comes out of the engine: the first
callback, to within one JACK period. That is the user-visible start: process launch to sound.

Runs first with a fresh, empty numba cache (the cold start: every kernel compiled) and then with
the same cache again (warm: what every later start costs), ``--runs`` times each after the first.

Usage: python benchmarks/live_startup.py [--model PATH] [--rate 48000] [--block-size 128] [--runs 3] [--json PATH]
Needs jackd (Debian: jackd2) and JACK-Client.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(REPO, "models", "overdrive_lstm20.json")


def first_audio(server, config, cache, timeout=120.0):
    """Seconds from launching engine-live to the first non-zero sample at its output port."""
    import jack

    probe = jack.Client("startup-probe", no_start_server=True, servername=server.name)
    drive = probe.outports.register("drive")
    listen = probe.inports.register("listen")
    heard = {}

    @probe.set_process_callback
    def process(frames):
        drive.get_array()[:] = 0.25
        if "at" not in heard and np.any(listen.get_array() != 0):
            heard["at"] = time.monotonic()

    probe.activate()
    env = {**os.environ, **server.environment(), "NUMBA_CACHE_DIR": cache}
    launched = time.monotonic()
    engine = subprocess.Popen([sys.executable, "-m", "engine.cli_run", "live", "--config", config, "--duration", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    try:
        connected = False
        while "at" not in heard and time.monotonic() - launched < timeout and engine.poll() is None:
            if not connected:
                inputs = probe.get_ports("PortAudio", is_audio=True, is_input=True)
                outputs = probe.get_ports("PortAudio", is_audio=True, is_output=True)
                if inputs and outputs:
                    probe.connect(drive, inputs[0])
                    probe.connect(outputs[0], listen)
                    connected = True
            time.sleep(0.0005)
        started = heard.get("at")
        output, _ = engine.communicate(timeout=timeout)
    finally:
        if engine.poll() is None:
            engine.kill()
        probe.deactivate()
        probe.close()
    if started is None:
        raise RuntimeError(f"no audio from engine-live (exit {engine.returncode}): {output[-2000:]}")
    return started - launched, output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model file (default: the shipped LSTM-20)")
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3, help="warm starts to time (default 3)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    from engine.live.virtual import JackDummyServer

    server = JackDummyServer(args.rate, args.block_size, name=f"startup-{os.getpid()}").start()
    results = {"model": os.path.relpath(args.model, REPO), "rate": args.rate, "block_size": args.block_size}
    try:
        with tempfile.TemporaryDirectory(prefix="engine-startup-") as folder:
            config = os.path.join(folder, "live.yaml")
            with open(config, "w") as handle:
                handle.write(f"model: {os.path.abspath(args.model)}\nblock_size: {args.block_size}\n"
                             f"output_channels: [1]\n")
            cache = os.path.join(folder, "numba-cache")
            os.makedirs(cache)
            cold, _ = first_audio(server, config, cache)
            warm = [first_audio(server, config, cache)[0] for _ in range(args.runs)]
    finally:
        server.stop()
        server.remove_log()
    results.update(cold_s=cold, warm_s=warm, warm_median_s=statistics.median(warm))
    print(f"engine-live, {results['model']} at {args.rate} Hz, block {args.block_size} (JACK dummy server): "
          f"launch to first audio {cold:.2f} s with an empty numba cache, "
          f"{results['warm_median_s']:.2f} s with a warm one (median of {args.runs}: "
          + ", ".join(f"{w:.2f}" for w in warm) + ")")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
