"""Per-sample cost of the LSTM and GRU kernels at hidden 16/32/40/64 (see engine/bench.py).

Usage: python benchmarks/run_bench.py [engine-bench options]; writes benchmarks/results/latest.json.
"""

import os
import sys

from engine.cli import bench_main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--json" not in args:
        os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
        args += ["--json", os.path.join(os.path.dirname(__file__), "results", "latest.json")]
    sys.exit(bench_main(args))
