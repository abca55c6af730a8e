"""Call one dbgpipe_example function in rounds and print a Round line per round (see README.md)."""

# usage: python rounds.py NAME [--rounds R] [--calls C]
#
# Calls the function NAME of dbgpipe_example C times per round (default 2000) for R rounds
# (default 100) and prints, after each round, the line dd-trace-py's leak tests print:
#
#   Round 12 Max RSS: 41.9453125
#
# (the process's peak RSS in MiB, ru_maxrss / 1024 on Linux). This is the workload that
# `rss-rounds watch` is tested on: with leak_definite (64 bytes of native memory lost per
# call) the RSS grows by about 128 KiB per round; with clean it stays flat.
#
# The module is imported from where run.py finds it ($DBGPIPE_EXAMPLE_DIR, else the
# checkout's target/dbgpipe/example/<interpreter>/).

import argparse
import importlib
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (run.py beside this file: its module_dir())


def main():
    parser = argparse.ArgumentParser(prog="rounds.py", description=__doc__)
    parser.add_argument("name", metavar="NAME", choices=run.FUNCTIONS)
    parser.add_argument("--rounds", type=int, default=100, metavar="R")
    parser.add_argument("--calls", type=int, default=2000, metavar="C")
    args = parser.parse_args()
    sys.path.insert(0, run.module_dir())
    module = importlib.import_module(run.MODULE)
    function = getattr(module, args.name)
    for i in range(args.rounds):
        for _ in range(args.calls):
            function()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Round {i} Max RSS: {peak_mib}", flush=True)


if __name__ == "__main__":
    main()
