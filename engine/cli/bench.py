"""engine-bench: the per-sample cost of the kernels (and the options speed_vs_torch.py shares)."""

import argparse

from .common import check_output, entry_point

def bench_parser(prog="engine-bench", description=None):
    """The options of engine-bench (benchmarks/speed_vs_torch.py takes the same ones).

    Parameters
    ----------
    prog : str
    description : str, optional
        Replaces engine-bench's description.

    Returns
    -------
    argparse.ArgumentParser
    """
    from ..bench import SECTIONS

    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or
        "Time the per-sample cost of the LSTM and GRU kernels (random weights, dense head, models trained at "
        "44.1 kHz): at 48 kHz for each size, against R, interpolation method and block size, two channels on two "
        "threads, and start-up (compile and cache-load times, memory). Prints tables and, with --json, writes "
        "every figure. Medians of repeated runs after warm-up of the processing thread's CPU time. The default "
        "set takes a few minutes; --full all sizes. Beside PyTorch: python benchmarks/speed_vs_torch.py.",
    )
    parser.add_argument("--full", action="store_true",
                        help="hidden 8 to 64, one and two layers, every interpolation method, blocks 32 to 4096 "
                             "(default: a quick set)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, metavar="S",
                        help=f"which tables to run (default: all of {', '.join(SECTIONS)})")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru"],
                        help="cells of the headline table")
    parser.add_argument("--hidden", nargs="+", type=int, metavar="H",
                        help="hidden sizes of the headline table (default 16 40 64; --full: 8 16 32 40 64)")
    parser.add_argument("--seconds", type=float, default=0.68,
                        help="audio per timed run, in seconds at 48 kHz (default 0.68: 32768 samples)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per case; the median is reported "
                                                                 "(default 15)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    return parser


def run_bench(args, parser, compare=None):
    """Run engine-bench's tables for parsed ``args`` (see bench_parser), beside ``compare`` if given.

    Returns
    -------
    (dict, dict)
        The results (engine.bench.run_benchmark) and the settings written to the JSON.
    """
    if args.repeats < 1 or args.seconds <= 0 or (args.hidden and min(args.hidden) < 1):
        parser.error("--repeats, --seconds and --hidden must be positive")
    if args.json:
        check_output(args.json, "--json")
    from ..bench import machine_description, run_benchmark

    machine = machine_description()
    print(f"# {parser.prog}: {machine['cpu']}, {machine['cores']} cores (load average {machine['load_average']:.1f}); "
          f"numba {machine['numba']}, numpy {machine['numpy']}")
    samples = max(4096, int(args.seconds * 48000))
    results = run_benchmark(full=args.full, cells=args.cells, hidden_sizes=args.hidden, sections=args.sections,
                            samples=samples, repeats=args.repeats, compare=compare)
    return results, {**vars(args), "samples": samples}


@entry_point
def bench_main(argv=None):
    """engine-bench: time the kernels per sample."""
    parser = bench_parser()
    args = parser.parse_args(argv)
    results, settings = run_bench(args, parser)
    if args.json:
        from ..bench import write_json

        write_json(args.json, results, settings)
        print(f"# wrote {args.json}")
    return 0
