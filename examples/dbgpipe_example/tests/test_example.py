"""A small pytest suite over dbgpipe_example, for running under dbgpipe memcheck (sharded or with xdist)."""

# Each test calls the extension the way a project's own tests call its
# native code.  Two tests call planted defects that Memcheck reports without
# failing the test: leak_definite (64 bytes definitely lost) and refleak (a
# 56-byte list never released: possibly lost in pytest's process, where only
# a pointer into the block reaches it).  The others are clean.  crash_null
# and invalid_free are left out: one kills the process, the other aborts it
# outside Valgrind.

import gc
import random

import pytest

import dbgpipe_example


def test_leak_definite_returns_none():
    assert dbgpipe_example.leak_definite() is None


def test_refleak_returns_none():
    # A full collection empties the interpreter's free lists first, so the
    # leaked list is a fresh malloc block that Memcheck attributes to refleak
    # (as run.py does before each call).
    gc.collect()
    assert dbgpipe_example.refleak() is None


def test_clean_returns_the_sum():
    assert dbgpipe_example.clean() == sum(range(64))


@pytest.mark.parametrize("calls", [1, 10, 100])
def test_clean_repeated(calls):
    assert [dbgpipe_example.clean() for _ in range(calls)] == [2016] * calls


# Refilled at every call with a random number of objects of random sizes: the memory the
# test holds goes up and down between calls but does not grow, the noise a leak check
# (pytest --dbgpipe-leaks) must not call a leak.
_CACHE = []


def test_cache_of_random_size_stays_bounded():
    del _CACHE[:]
    for _ in range(random.randrange(32)):
        _CACHE.append(random.randbytes(random.randrange(1, 32 * 1024)))
    assert len(_CACHE) < 32


def test_module_exports_every_function():
    names = (
        "leak_definite leak_indirect leak_possible invalid_read uninit_branch "
        "invalid_free refleak clean crash_null"
    ).split()
    assert all(callable(getattr(dbgpipe_example, name)) for name in names)
