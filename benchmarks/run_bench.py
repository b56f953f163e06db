"""Speed of the kernels, beside PyTorch (see engine/bench.py; the same as ``engine-bench``).

Usage: python benchmarks/run_bench.py [--full] [engine-bench options]
Writes benchmarks/results/latest.json (or --json PATH). The default set takes a few minutes;
--full times every hidden size (8 to 64), one and two layers, every interpolation method and
block sizes 32 to 4096.
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
