"""Call dbgpipe_cpp.crash_map(), optionally with a second thread alive (see README.md)."""

# usage: python run.py crash_map [--thread]
#
# The module is imported from $DBGPIPE_EXAMPLE_DIR when set (the `dir` of xtask's
# `Example`, as `xtask::example::build_cpp` returns it), otherwise from where `cargo xtask
# example` builds it: <repo>/target/dbgpipe/example/<interpreter>/, or any sibling holding a
# module built for this interpreter's EXT_SUFFIX. With --thread, a daemon thread sleeping in
# time.sleep is started first, so that gdb reports the crash as `Thread 1 "…" received
# signal` and `thread apply all bt` shows two threads.
#
# Exit status: the process dies with SIGSEGV in crash_map; 2 on a usage error or when the
# module cannot be imported.

import argparse
import importlib
import os
import sys
import sysconfig
import threading
import time


MODULE = "dbgpipe_cpp"


def module_dir():
    """The directory to import dbgpipe_cpp from (see the top of this file)."""
    explicit = os.environ.get("DBGPIPE_EXAMPLE_DIR")
    if explicit:
        return explicit
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    here = os.path.dirname(os.path.abspath(__file__))
    base = os.path.join(os.path.dirname(os.path.dirname(here)), "target", "dbgpipe", "example")
    own = os.path.basename(sys.executable)
    try:
        others = sorted(d for d in os.listdir(base) if d != own)
    except OSError:
        others = []
    for name in [own] + others:
        candidate = os.path.join(base, name)
        if os.path.isfile(os.path.join(candidate, MODULE + suffix)):
            return candidate
    print(
        f"run.py: no {MODULE}{suffix} under {base}: build it with "
        f"`cargo xtask example --python {sys.executable}` or set DBGPIPE_EXAMPLE_DIR",
        file=sys.stderr,
    )
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    parser.add_argument("name", choices=["crash_map"], help="the function to call")
    parser.add_argument(
        "--thread", action="store_true", help="start a sleeping thread first"
    )
    args = parser.parse_args()
    sys.path.insert(0, module_dir())
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
