#!/usr/bin/env python3
"""Train a GuitarML-style LSTM on a simulated circuit and export it for the engine.

The training follows GuitarML / Automated-GuitarAmpModelling (Wright, Damskägg, Välimäki et al.):
a :class:`export_torch.SimpleRNN` (one LSTM layer, a linear head, skip=1: the input is added to
the output) learns DI → circuit output at 44.1 kHz by truncated back-propagation through time.
Each epoch cuts the training signal into 0.5 s segments and shuffles them into mini-batches;
every batch first runs ``--warmup`` samples without gradient (so the state is not the all-zero
start), then steps through the rest in sub-sequences of ``--tbptt`` samples, carrying the
state across them and updating the weights after each. The loss is

    0.75 · ESR(pre-emphasised) + 0.25 · DC,
    ESR = Σ(y − ŷ)² / Σy² on both signals filtered by 1 − 0.85·z⁻¹,  DC = mean(y − ŷ)² / mean(y²),

optimised with Adam (lr 5e-3), the rate halved when the validation ESR stalls
(ReduceLROnPlateau); training stops after ``--patience`` epochs without a better validation
ESR and keeps the best epoch's weights.

The data are synthesised (tools/synth.py: plucked-string DI guitar, seeds fixed per role) and
sent through the circuit (tools/circuits.py). At the end the model is written as a GuitarML
JSON file with tools/export_torch.export, that *file* is loaded with ``engine.load_model`` and
run by ``engine.Processor`` at 44.1 kHz over the held-out test clip, and a JSON report
(settings, time, ESR through torch and through the engine, on the test clip and the demo clip)
is written next to it. ESR in the report is plain: Σ(y − ŷ)²/Σy², no pre-emphasis.

Example::

    python tools/train.py --circuit overdrive --hidden 20 --out models/overdrive_lstm20.json
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
import time

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
# The repository's root, so the tools import as the package ``tools``, as the tests and benchmarks
# import them: numba's on-disk cache of their kernels records the module's name, and a kernel
# cached under one name fails to load under the other (ModuleNotFoundError: No module named 'tools').
if os.path.dirname(TOOLS) not in sys.path:
    sys.path.insert(0, os.path.dirname(TOOLS))

from tools import circuits, synth  # noqa: E402

SAMPLE_RATE = 44100
PRE_EMPHASIS = 0.85
ESR_WEIGHT, DC_WEIGHT = 0.75, 0.25
HIDDEN_RANGE = (16, 40)


def esr(target, prediction):
    """Plain error-to-signal ratio Σ(y − ŷ)²/Σy² (float64)."""
    target = np.asarray(target, np.float64)
    prediction = np.asarray(prediction, np.float64)
    return float(np.sum((target - prediction) ** 2) / np.sum(target ** 2))


def _hidden(value):
    number = int(value)
    if not HIDDEN_RANGE[0] <= number <= HIDDEN_RANGE[1]:
        raise argparse.ArgumentTypeError(f"hidden size must lie in {HIDDEN_RANGE[0]}..{HIDDEN_RANGE[1]}, got {number}")
    return number


def _positive(kind):
    def parse(value):
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return number
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a GuitarML-style LSTM (SimpleRNN, skip=1) on synthesised DI guitar through a simulated "
                    "circuit at 44.1 kHz, export it as GuitarML JSON and measure its ESR through the engine.",
        epilog="example:\n  %(prog)s --circuit overdrive --hidden 20 --out models/overdrive_lstm20.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--circuit", default="overdrive", choices=sorted(circuits.CIRCUITS),
                        help="the target circuit (tools/circuits.py; default %(default)s)")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru"), help="recurrent cell (default %(default)s)")
    parser.add_argument("--hidden", type=_hidden, default=20,
                        help=f"hidden size, {HIDDEN_RANGE[0]}-{HIDDEN_RANGE[1]} (default %(default)s)")
    parser.add_argument("--epochs", type=_positive(int), default=150,
                        help="maximum number of epochs (default %(default)s; early stopping may end sooner)")
    parser.add_argument("--patience", type=_positive(int), default=20,
                        help="stop after this many epochs without a better validation ESR (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the weights, the batch order and the training signal (default %(default)s)")
    parser.add_argument("--out", default=None,
                        help="the GuitarML JSON model to write (default models/<circuit>_<cell><hidden>.json)")
    parser.add_argument("--report", default=None, help="the JSON report to write (default: --out with .report.json)")
    parser.add_argument("--threads", type=_positive(int), default=1,
                        help="torch CPU threads (default %(default)s: other work shares this machine)")
    parser.add_argument("--train-seconds", type=_positive(float), default=90.0,
                        help="length of the synthesised training signal (default %(default)s)")
    parser.add_argument("--segment-seconds", type=_positive(float), default=0.5,
                        help="length of the training segments (default %(default)s)")
    parser.add_argument("--batch-size", type=_positive(int), default=40, help="segments per batch (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=1000,
                        help="samples run before each segment's loss counts (default %(default)s)")
    parser.add_argument("--tbptt", type=_positive(int), default=2048,
                        help="samples per truncated-BPTT step, state carried across (default %(default)s)")
    parser.add_argument("--lr", type=_positive(float), default=5e-3, help="Adam learning rate (default %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="also stop before an epoch would end past this wall-clock budget (default: no limit)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = os.path.join("models", f"{args.circuit}_{args.cell}{args.hidden}.json")
    if args.report is None:
        stem = args.out[:-5] if args.out.endswith(".json") else args.out
        args.report = stem + ".report.json"
    if args.warmup < 0 or args.warmup >= args.segment_seconds * SAMPLE_RATE:
        parser.error("--warmup must be ≥ 0 and shorter than a segment")
    return args


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Trainer:
    """Truncated-BPTT training of one SimpleRNN (see the module docstring)."""

    def __init__(self, args):
        import torch
        from tools.export_torch import SimpleRNN

        self.torch = torch
        self.args = args
        torch.manual_seed(args.seed)
        self.model = SimpleRNN(args.cell, input_size=1, hidden_size=args.hidden, num_layers=1, skip=1)
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimiser, mode="min", factor=0.5,
                                                                    patience=5, min_lr=1e-5)
        self.rng = np.random.default_rng(args.seed)

    def loss(self, target, prediction):
        """0.75·ESR on pre-emphasised signals + 0.25·DC loss, over a (batch, samples, 1) pair."""
        def emphasise(signal):
            return signal[:, 1:] - PRE_EMPHASIS * signal[:, :-1]

        t, p = emphasise(target), emphasise(prediction)
        esr_pre = ((t - p) ** 2).mean() / ((t ** 2).mean() + 1e-10)
        dc = ((target - prediction).mean(dim=1) ** 2).mean() / ((target ** 2).mean() + 1e-10)
        return ESR_WEIGHT * esr_pre + DC_WEIGHT * dc

    def epoch(self, inputs, targets):
        """One pass over the (segments, samples) arrays in a shuffled order; returns the mean loss."""
        torch, args = self.torch, self.args
        self.model.train()
        order = self.rng.permutation(inputs.shape[0])
        total, steps = 0.0, 0
        for first in range(0, order.size, args.batch_size):
            index = order[first:first + args.batch_size]
            x = torch.from_numpy(inputs[index, :, None])
            y = torch.from_numpy(targets[index, :, None])
            state = None
            if args.warmup:
                with torch.no_grad():
                    _, state = self.model.rec(x[:, :args.warmup], state)
            for start in range(args.warmup, x.shape[1], args.tbptt):
                stop = min(start + args.tbptt, x.shape[1])
                if stop - start < 2:
                    break
                chunk = x[:, start:stop]
                hidden, state = self.model.rec(chunk, state)
                prediction = self.model.lin(hidden) + chunk  # skip = 1
                loss = self.loss(y[:, start:stop], prediction)
                self.optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
                self.optimiser.step()
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                total += loss.item()
                steps += 1
        return total / max(steps, 1)

    def predict(self, audio):
        """The model over a whole signal from zero state, float32 numpy (the exported file's behaviour)."""
        from tools.export_torch import forward_numpy

        self.model.eval()
        return forward_numpy(self.model, audio)


def _segments(x, y, length):
    count = x.size // length
    return (np.ascontiguousarray(x[:count * length].reshape(count, length), dtype=np.float32),
            np.ascontiguousarray(y[:count * length].reshape(count, length), dtype=np.float32))


def run_engine(path, audio):
    """Load the exported file with the engine and process ``audio`` at 44.1 kHz from reset."""
    import engine

    model = engine.load_model(path)
    processor = engine.Processor(model, SAMPLE_RATE)
    return processor.process(np.ascontiguousarray(audio, dtype=np.float32))


def main(argv=None):
    args = parse_args(argv)
    import torch
    from tools.export_torch import export

    torch.set_num_threads(args.threads)
    started = time.time()
    circuit = circuits.get(args.circuit)
    print(f"training {args.cell.upper()}-{args.hidden} on '{args.circuit}' at {SAMPLE_RATE} Hz, "
          f"{args.threads} thread(s), seed {args.seed}", flush=True)

    # -- data ------------------------------------------------------------------------------
    x_train = synth.training_set(seed=args.seed, seconds=args.train_seconds)
    x_val, x_test, x_demo = synth.validation_clip(), synth.test_clip(), synth.demo_clip()
    y_train = circuit(x_train, SAMPLE_RATE)
    y_val, y_test, y_demo = (circuit(x, SAMPLE_RATE) for x in (x_val, x_test, x_demo))
    segment = int(round(args.segment_seconds * SAMPLE_RATE))
    inputs, targets = _segments(x_train, y_train, segment)
    data_seconds = time.time() - started
    print(f"data: {x_train.size / SAMPLE_RATE:.0f} s training ({inputs.shape[0]} segments of {segment}), "
          f"{x_val.size / SAMPLE_RATE:.0f} s validation, {x_test.size / SAMPLE_RATE:.0f} s test, "
          f"{x_demo.size / SAMPLE_RATE:.0f} s demo; made in {data_seconds:.1f} s", flush=True)

    # -- training --------------------------------------------------------------------------
    trainer = Trainer(args)
    best = {"esr": math.inf, "epoch": 0, "state": copy.deepcopy(trainer.model.state_dict())}
    history = []
    train_started = time.time()
    stopped = "max epochs"
    for epoch in range(1, args.epochs + 1):
        epoch_started = time.time()
        loss = trainer.epoch(inputs, targets)
        val_esr = esr(y_val, trainer.predict(x_val))
        if not math.isfinite(loss) or not math.isfinite(val_esr):
            stopped = "non-finite loss"
            print("training diverged (non-finite loss); keeping the best epoch", flush=True)
            break
        trainer.scheduler.step(val_esr)
        improved = val_esr < best["esr"]
        if improved:
            best = {"esr": val_esr, "epoch": epoch, "state": copy.deepcopy(trainer.model.state_dict())}
        now = time.time()
        elapsed = now - train_started
        per_epoch = elapsed / epoch
        # Upper bound: the remaining epochs (or the time budget); early stopping can only end sooner.
        eta = per_epoch * (args.epochs - epoch)
        if args.max_minutes is not None:
            eta = min(eta, max(args.max_minutes * 60 - (now - started), 0.0))
        lr = trainer.optimiser.param_groups[0]["lr"]
        history.append({"epoch": epoch, "loss": loss, "val_esr": val_esr, "lr": lr, "seconds": now - epoch_started})
        print(f"epoch {epoch:4d}/{args.epochs}  loss {loss:.5f}  val ESR {val_esr:.5f}{' *' if improved else '  '} "
              f"(best {best['esr']:.5f} @ {best['epoch']})  lr {lr:.1e}  {now - epoch_started:5.1f} s  "
              f"elapsed {_clock(elapsed)}  ETA ≤ {_clock(eta)}", flush=True)
        if epoch - best["epoch"] >= args.patience:
            stopped = f"early stop: no better validation ESR for {args.patience} epochs"
            break
        if args.max_minutes is not None and (now - started + per_epoch) > args.max_minutes * 60:
            stopped = f"time budget of {args.max_minutes:g} min"
            break
    train_seconds = time.time() - train_started
    print(f"stopped ({stopped}) after {len(history)} epochs, {_clock(train_seconds)}; "
          f"best validation ESR {best['esr']:.5f} at epoch {best['epoch']}", flush=True)

    # -- export and evaluation -------------------------------------------------------------
    trainer.model.load_state_dict(best["state"])
    trainer.model.eval()
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    export(trainer.model, args.out, "guitarml")
    test_torch = esr(y_test, trainer.predict(x_test))
    test_engine_output = run_engine(args.out, x_test)
    test_engine = esr(y_test, test_engine_output)
    demo_torch = esr(y_demo, trainer.predict(x_demo))
    demo_engine = esr(y_demo, run_engine(args.out, x_demo))
    torch_vs_engine = float(np.max(np.abs(test_engine_output - trainer.predict(x_test))))
    print(f"test ESR: torch {test_torch:.5f}, engine {test_engine:.5f} (max |torch − engine| {torch_vs_engine:.2e}); "
          f"demo-clip ESR: torch {demo_torch:.5f}, engine {demo_engine:.5f}", flush=True)

    report = {
        "model_file": args.out,
        "model_bytes": os.path.getsize(args.out),
        "format": "guitarml",
        "circuit": args.circuit,
        "cell": args.cell,
        "hidden": args.hidden,
        "skip": 1,
        "sample_rate": SAMPLE_RATE,
        "seed": args.seed,
        "threads": args.threads,
        "epochs_max": args.epochs,
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "stopped": stopped,
        "training_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - started, 1),
        "settings": {
            "train_seconds": args.train_seconds, "train_seed": args.seed, "validation_seed": synth.VALIDATION_SEED,
            "test_seed": synth.TEST_SEED, "segment_samples": segment, "batch_size": args.batch_size,
            "warmup_samples": args.warmup, "tbptt_samples": args.tbptt, "lr": args.lr, "patience": args.patience,
            "loss": f"{ESR_WEIGHT}*ESR(pre-emphasis 1-{PRE_EMPHASIS}z^-1) + {DC_WEIGHT}*DC",
            "scheduler": "ReduceLROnPlateau(factor 0.5, patience 5, min_lr 1e-5) on validation ESR",
            "grad_clip_norm": 5.0,
        },
        "validation_esr_best": best["esr"],
        "test_esr_torch": test_torch,
        "test_esr_engine": test_engine,
        "demo_esr_torch": demo_torch,
        "demo_esr_engine": demo_engine,
        "max_abs_torch_minus_engine_test": torch_vs_engine,
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "history": [{key: (round(value, 6) if isinstance(value, float) else value) for key, value in row.items()}
                    for row in history],
    }
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
        handle.write("\n")
    print(f"wrote {args.out} ({report['model_bytes']:,} bytes) and {args.report}; total {_clock(report['total_seconds'])}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
