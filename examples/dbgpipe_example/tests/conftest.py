"""Puts the built dbgpipe_example module on sys.path, found the way run.py finds it."""

# $DBGPIPE_EXAMPLE_DIR when set, else the checkout's build directory
# target/dbgpipe/example/<interpreter>/ (see run.py's module_dir and ../README.md).
# run.py is loaded under another name so that it is not mistaken for a test module
# or shadowed by a user's own `run` module.

import importlib.util
import os
import sys

import pytest

_RUN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run.py")


def _module_dir():
    spec = importlib.util.spec_from_file_location("dbgpipe_example_run", _RUN_PY)
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    try:
        return run.module_dir()
    except SystemExit:
        # run.py has said on stderr what is missing and how to build it.
        raise pytest.UsageError("dbgpipe_example is not built (see the line above)") from None


_DIR = _module_dir()
if _DIR not in sys.path:
    sys.path.insert(0, _DIR)
