"""Call functions of the dbgpipe_example extension by name (see README.md)."""

# usage: python run.py NAME [NAME...] [--rounds N]
#
# Each NAME is a function of dbgpipe_example (see README.md), or `all-defects`
# for every function except `clean` and `crash_null`, with `invalid_free` last
# (outside Valgrind, glibc aborts the process on that double free).
# Each named function is called N times (default 1), one name after another.
#
# Where the module is imported from:
#   - $DBGPIPE_EXAMPLE_DIR, when set: the directory holding the built
#     dbgpipe_example<EXT_SUFFIX> (the `dir` of xtask's `Example`);
#   - otherwise the build directory of the checkout this script lives in,
#     <repo>/target/dbgpipe/example/<interpreter>/, where `cargo xtask example
#     --python PYTHON` puts it.  The directory named after this interpreter's
#     file name is tried first, then any other one holding a module built for
#     this interpreter's EXT_SUFFIX (python3.11-dbg and python3.11d share one).
#
# stdout carries exactly one line per name, `called NAME xN`, printed after
# the N calls, so a tool reading this process's output sees nothing else.
# On an interpreter built with Py_DEBUG (python3.11-dbg) a second line per
# name goes to stderr, `run.py: NAME xN: total refcount +D`, the change of
# sys.gettotalrefcount() across the calls: it is how a reference leak shows.
#
# Exit status: 0 when every call returned, 2 on a usage error or when the
# module cannot be found; crash_null ends the process with SIGSEGV, and
# invalid_free outside Valgrind with SIGABRT.
#
# The docstring stays one line on purpose: gdb's Python pretty-printer shows the
# module's globals in every eval frame of a backtrace, __doc__ included.

import argparse
import gc
import importlib
import os
import sys
import sysconfig

# Everything the module exports, in the order of its method table.
FUNCTIONS = (
    "leak_definite",
    "leak_indirect",
    "leak_possible",
    "invalid_read",
    "uninit_branch",
    "invalid_free",
    "refleak",
    "clean",
    "crash_null",
)

# What `all-defects` expands to: every function but clean and crash_null.
# invalid_free comes last because outside Valgrind glibc notices the double
# free and aborts the process (SIGABRT); the other defects have run by then.
ALL_DEFECTS = (
    "leak_definite",
    "leak_indirect",
    "leak_possible",
    "invalid_read",
    "uninit_branch",
    "refleak",
    "invalid_free",
)

MODULE = "dbgpipe_example"


def fail(message):
    print(f"run.py: {message}", file=sys.stderr)
    sys.exit(2)


def module_dir():
    """The directory to import dbgpipe_example from (see the top of this file)."""
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
    fail(
        f"no {MODULE}{suffix} under {base}: build it with "
        f"`cargo xtask example --python {sys.executable}` "
        "or set DBGPIPE_EXAMPLE_DIR"
    )


def call(function, rounds):
    # A separate frame, so that nothing the loop created is still alive when
    # the total refcount is read again.
    for _ in range(rounds):
        function()


def refcount_delta(function, rounds, total_refcount):
    """The change of the interpreter's total refcount across the calls."""
    # Everything counted here lives in this frame, so earlier batches' locals
    # cannot disturb the count. The caller has just collected; collecting at
    # the end too keeps unrelated garbage cycles, freed whenever the collector
    # happens to run, out of the count. Less one: the int held in `start` is
    # itself a reference that did not exist when it was counted.
    start = total_refcount()
    call(function, rounds)
    gc.collect()
    return total_refcount() - start - 1


def main():
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Call functions of the dbgpipe_example extension by name.",
    )
    parser.add_argument(
        "names",
        metavar="NAME",
        nargs="+",
        choices=FUNCTIONS + ("all-defects",),
        help="a function of dbgpipe_example, or all-defects",
    )
    parser.add_argument(
        "--rounds", metavar="N", type=int, default=1, help="calls per name (default 1)"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    names = []
    for name in args.names:
        names.extend(ALL_DEFECTS if name == "all-defects" else (name,))

    sys.path.insert(0, module_dir())
    try:
        module = importlib.import_module(MODULE)
    except ImportError as error:
        fail(f"cannot import {MODULE}: {error}")

    total_refcount = getattr(sys, "gettotalrefcount", None)
    for name in names:
        function = getattr(module, name)
        # A full collection also empties the interpreter's free lists, so
        # every object the batch creates comes fresh from malloc and Memcheck
        # attributes it to the planted function: refleak's lists show up as
        # still reachable under refleak, not under whoever freed a list last.
        gc.collect()
        if total_refcount:
            delta = refcount_delta(function, args.rounds, total_refcount)
            print(
                f"run.py: {name} x{args.rounds}: total refcount {delta:+d}",
                file=sys.stderr,
                flush=True,
            )
        else:
            call(function, args.rounds)
        print(f"called {name} x{args.rounds}", flush=True)


if __name__ == "__main__":
    main()
