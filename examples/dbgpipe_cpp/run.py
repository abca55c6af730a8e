"""Call dbgpipe_cpp.crash_map(), optionally with a second thread alive (see README.md)."""

# usage: python run.py crash_map [--thread]
#
# The module is imported from $DBGPIPE_EXAMPLE_DIR (the `dir` of xtask's `Example`, as
# `xtask::example::build_cpp` returns it). With --thread, a daemon thread sleeping in
# time.sleep is started first, so that gdb reports the crash as `Thread 1 "…" received
# signal` and `thread apply all bt` shows two threads.
#
# Exit status: the process dies with SIGSEGV in crash_map; 2 on a usage error or when the
# module cannot be imported.

import argparse
import importlib
import os
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    parser.add_argument("name", choices=["crash_map"], help="the function to call")
    parser.add_argument(
        "--thread", action="store_true", help="start a sleeping thread first"
    )
    args = parser.parse_args()
    directory = os.environ.get("DBGPIPE_EXAMPLE_DIR")
    if not directory:
        print("run.py: set DBGPIPE_EXAMPLE_DIR to the built module's directory", file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, directory)
    try:
        module = importlib.import_module("dbgpipe_cpp")
    except ImportError as error:
        print(f"run.py: cannot import dbgpipe_cpp: {error}", file=sys.stderr)
        sys.exit(2)
    if args.thread:
        # Started and given time to reach its sleep, so its stack is the same every run.
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        time.sleep(0.2)
    getattr(module, args.name)()


if __name__ == "__main__":
    main()
