"""engine-bench beside PyTorch: the README's speed table, and the speed goals checked against it.

Usage: python benchmarks/speed_vs_torch.py [engine-bench options] [--json PATH]
(e.g. ``--repeats 21 --json benchmarks/reports/speed.json``). PyTorch (the tools extra) runs the
same network in ``torch.nn.LSTM``/``GRU`` + ``Linear`` on one thread, streaming the same blocks
with its state carried between them, interleaved with the engine's runs so both see the same
machine. PyTorch has no rate correction: it runs the network uncorrected, which costs it nothing.
"""

import sys

from engine.bench import MODEL_SAMPLE_RATE, Runner, blocks_of, test_signal, write_json
from engine.cli import bench_parser, run_bench


class TorchComparison:
    """The headline table's other column: the same network in PyTorch (1 thread)."""

    name = "torch"

    def __init__(self):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        self.version = torch.__version__

    def runner(self, model, block_size, samples):
        """A Runner streaming ``model``'s network through PyTorch in blocks, the state carried along."""
        torch = self.torch
        recurrent = [layer for layer in model.layers if hasattr(layer, "cell")]
        first = recurrent[0]
        kind = torch.nn.LSTM if first.cell == "lstm" else torch.nn.GRU
        network = kind(1, first.hidden_size, num_layers=len(recurrent), batch_first=True)
        head = torch.nn.Linear(first.hidden_size, 1)
        with torch.no_grad():
            for index, layer in enumerate(recurrent):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(network, f"{name}_l{index}").copy_(torch.from_numpy(getattr(layer, name)))
            head.weight.copy_(torch.from_numpy(model.layers[-1].weight))
            head.bias.copy_(torch.from_numpy(model.layers[-1].bias))
        x = torch.from_numpy(test_signal(samples, MODEL_SAMPLE_RATE)).reshape(-1, 1)
        state = [None]

        def process(block_in, _):
            with torch.inference_mode():
                out, state[0] = network(block_in.unsqueeze(0), state[0])
                head(out)

        blocks = blocks_of(x, None, block_size)
        return Runner(process, blocks, len(blocks) * block_size)


def goals(results):
    """The speed goals of the project's issues, checked against one run's figures (where it measured them).

    Parameters
    ----------
    results : dict
        engine.bench.run_benchmark's results, run with TorchComparison.

    Returns
    -------
    list of dict
        goal, measured, met.
    """
    checked = []

    def find(rows, **match):
        return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)

    head = results.get("headline", [])
    lstm = find(head, cell="lstm", hidden_size=40, layers=1)
    gru = find(head, cell="gru", hidden_size=40, layers=1)
    if lstm and "speedup" in lstm:
        checked.append({"goal": "LSTM-40, linear, R = 48/44.1: at least 5x faster than PyTorch",
                        "measured": f"{lstm['speedup']:.1f}x", "met": lstm["speedup"] >= 5})
    if lstm and gru:
        checked.append({"goal": "GRU-40 no slower than LSTM-40",
                        "measured": f"{gru['ns_per_sample']:.0f} vs {lstm['ns_per_sample']:.0f} ns",
                        "met": gru["ns_per_sample"] <= lstm["ns_per_sample"]})
    for cell in ("lstm", "gru"):
        one = find(results.get("ratios", []), cell=cell, hidden_size=40, ratio_name="1", interpolation="linear")
        eight = find(results.get("ratios", []), cell=cell, hidden_size=40, ratio_name="8", interpolation="linear")
        if one and eight:
            change = eight["ns_per_sample"] / one["ns_per_sample"] - 1
            checked.append({"goal": f"{cell.upper()}-40: R = 8 within 10% of R = 1",
                            "measured": f"{100 * change:+.1f}%", "met": abs(change) <= 0.10})
        small = find(results.get("blocks", []), cell=cell, hidden_size=40, block_size=32)
        large = find(results.get("blocks", []), cell=cell, hidden_size=40, block_size=4096)
        if small and large:
            change = small["ns_per_sample"] / large["ns_per_sample"] - 1
            checked.append({"goal": f"{cell.upper()}-40: block 32 within 20% of block 4096 per sample",
                            "measured": f"{100 * change:+.1f}%", "met": abs(change) <= 0.20})
    return checked


def main(argv=None):
    parser = bench_parser(prog="speed_vs_torch", description=__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    try:
        comparison = TorchComparison()
    except ImportError:
        parser.exit(1, "speed_vs_torch: PyTorch is not installed (pip install -e '.[tools]')\n")
    print(f"# torch {comparison.version}, 1 thread")
    results, settings = run_bench(args, parser, compare=comparison)
    results["goals"] = goals(results)
    print("\n## Goals")
    for goal in results["goals"]:
        print(f"{'met' if goal['met'] else 'NOT MET':>7}  {goal['goal']}: {goal['measured']}")
    if args.json:
        write_json(args.json, results, {**settings, "torch": comparison.version})
        print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
