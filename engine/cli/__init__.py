"""Command-line entry points: engine-live, engine-process, engine-info, engine-bench, engine-eval.

One module per command (process, info, bench, live, eval) and what they share (common).

Every command prints an EngineError as one line on stderr (no traceback) and exits 1;
argparse's own usage errors exit 2; Ctrl-C exits 130. engine-process and engine-live exit 143
on SIGTERM, after cleaning up (as a shell reports a process SIGTERM ended: 128 + 15). For
engine-live a device or audio server that goes away mid-run is a DeviceError (exit 1). A warning
(StabilityWarning, ...) is one line too: ``engine-process: warning: <message>``.
"""

from .bench import bench_main, bench_parser, run_bench
from .common import ProgressBar, entry_point
from .eval import DEMO_CLIP, eval_main
from .info import info_main
from .live import live_main
from .process import process_main

# The name the tests and older callers use for the error convention's decorator.
_entry_point = entry_point

__all__ = ["process_main", "info_main", "bench_main", "live_main", "eval_main", "bench_parser", "run_bench",
           "ProgressBar", "DEMO_CLIP"]
