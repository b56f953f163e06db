"""``python -m engine.cli_run COMMAND ARGS…``: run an entry point without the installed scripts."""

import sys

from . import cli

COMMANDS = {"eval": cli.eval_main, "live": cli.live_main, "process": cli.process_main, "info": cli.info_main, "bench": cli.bench_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m engine.cli_run {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
