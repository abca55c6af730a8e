"""Rounds of a test, what each round leaves behind, and rss-rounds' verdict on them.

The loop is the one of rss-rounds' own harness (bins/core/src/rounds/harness.py): per round,
read every measure, call, collect the garbage, read again, keep the changes. Rounds of an
empty test come first: the loop's own cost per round (the noise), which rss-rounds
subtracts. The statistics are all rss-rounds': this module writes the rounds as its JSON
lines, runs the rss-rounds binary, and reads its records back.
"""

import array
import ctypes
import gc
import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

# Measure -> (series, unit). The series are changes per round (rss-rounds' `delta` kind),
# named as rss-rounds' harness names its own, plus malloc_b.
MEASURES = {
    "refs": ("refs", "refs"),
    "blocks": ("blocks", "blocks"),
    "malloc": ("malloc_b", "B"),
    "rss": ("rss_kib", "KiB"),
}

# glibc's per-thread cache holds freed blocks that mallinfo2 still counts as in use, so a
# block freed and one leaked in the same round, of one size, cancel out. Without it the
# count is exact.
NO_TCACHE = "glibc.malloc.tcache_count=0"

NOT_FOUND = (
    f"no rss-rounds beside this interpreter's scripts ({sysconfig.get_path('scripts')}) "
    "nor on PATH: pip install dbgpipe"
)


def tcache_off():
    """Whether this process started with glibc's per-thread malloc cache off."""
    return NO_TCACHE in os.environ.get("GLIBC_TUNABLES", "").split(":")


class _Mallinfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (glibc 2.33 and later): ten size_t.
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


def _malloc_read():
    """A function giving the bytes malloc has handed out, or None (not glibc 2.33 or later)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    mallinfo2.restype = _Mallinfo2
    mallinfo2.argtypes = []

    def malloc_bytes():
        info = mallinfo2()
        # In use in the heap, plus the large blocks malloc mapped on their own: native
        # code's leaks of a few bytes a round, which RSS shows only a page at a time.
        return info.uordblks + info.hblkhd

    return malloc_bytes


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kib():
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_KIB


def probes():
    """The measures this interpreter offers (name -> read), and why the others are missing."""
    found, missing = {}, {}
    if hasattr(sys, "gettotalrefcount"):
        found["refs"] = sys.gettotalrefcount
    else:
        missing["refs"] = "not a debug build: no sys.gettotalrefcount (python3.11-dbg has it)"
    if sys.getallocatedblocks() > 0:
        found["blocks"] = sys.getallocatedblocks
    else:
        missing["blocks"] = "sys.getallocatedblocks() is 0 without pymalloc (PYTHONMALLOC=malloc)"
    malloc_bytes = _malloc_read()
    if malloc_bytes:
        found["malloc"] = malloc_bytes
    else:
        missing["malloc"] = "the C library has no mallinfo2 (glibc 2.33 or later has)"
    try:
        _rss_kib()
        found["rss"] = _rss_kib
    except OSError:
        missing["rss"] = "no /proc/self/statm to read the resident set size from"
    return found, missing


# CPython's method cache keeps a reference to each attribute name it caches, keyed by the
# name's address: a test that looks up freshly made names (getattr over str.split()'s words)
# fills its 4096 entries over thousands of rounds, a growth of blocks that stops only when
# the cache is full. sys.getallocatedblocks' documentation advises clearing it, as CPython's
# own refleak runs (regrtest -R) do before each repetition.
_clear_type_cache = getattr(sys, "_clear_type_cache", lambda: None)


def _settle():
    gc.collect()
    _clear_type_cache()


def _one_round(call, reads, before, values, at):
    # A frame of its own per round, as in rss-rounds' harness. The values go into arrays
    # made before the rounds: an object kept per round (a list of the changes, an int above
    # 256) would come from the interpreter's free lists until they ran dry and from malloc
    # after, a step in the loop's own cost that the noise rounds need not share.
    for i in range(len(reads)):
        before[i] = reads[i]()
    call()
    _settle()
    for i in range(len(reads)):
        values[at + i] = reads[i]() - before[i]


def measure(call, reads, rounds):
    """`rounds` rounds of `call`: per round, a list of each read's change over it."""
    k = len(reads)
    values = array.array("q", bytes(8 * k * rounds))
    before = array.array("q", bytes(8 * k))
    _settle()
    for n in range(rounds):
        _one_round(call, reads, before, values, n * k)
    return [values[n * k : (n + 1) * k].tolist() for n in range(rounds)]


def round_lines(names, values):
    """The rounds as rss-rounds' `round` records, one JSON line each."""
    lines = []
    for n, changes in enumerate(values):
        for name, value in zip(names, changes):
            series, unit = MEASURES[name]
            record = {
                "type": "round",
                "series": series,
                "round": n,
                "value": value,
                "kind": "delta",
                "unit": unit,
            }
            lines.append(json.dumps(record, separators=(",", ":")) + "\n")
    return "".join(lines)


def find_rss_rounds():
    """rss-rounds where pip put this distribution's scripts (a venv's bin, or the user's
    scripts directory), else on PATH; None when there is none."""
    dirs = [sysconfig.get_path("scripts")]
    user = f"{os.name}_user"
    if user in sysconfig.get_scheme_names():
        dirs.append(sysconfig.get_path("scripts", user))
    for d in dirs:
        candidate = os.path.join(d, "rss-rounds")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("rss-rounds")


class RssRoundsError(Exception):
    """rss-rounds could not judge the rounds."""


def judge(rss_rounds, names, noise, work):
    """rss-rounds' baseline, verdict and summary records for the rounds of `work`.

    The noise rounds go in as `--baseline FILE`, a clean run's rounds whose per-round growth
    rss-rounds subtracts, as its `run` harness subtracts its own noise rounds. The files are
    named from their directory, so that the records' `baseline_source` reads `noise.jsonl`.
    """
    with tempfile.TemporaryDirectory(prefix="dbgpipe-pytest-") as tmp:
        for name, values in (("noise.jsonl", noise), ("rounds.jsonl", work)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(round_lines(names, values))
        argv = [rss_rounds, "--format", "jsonl", "--baseline", "noise.jsonl", "rounds.jsonl"]
        done = subprocess.run(argv, cwd=tmp, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise RssRoundsError(f"{rss_rounds} failed: {said}")
    records = []
    for line in done.stdout.splitlines():
        record = json.loads(line)
        if record.get("type") in ("baseline", "verdict", "summary"):
            records.append(record)
    if not records or records[-1]["type"] != "summary":
        raise RssRoundsError(f"{rss_rounds} wrote no summary")
    return records


def _number(v):
    """3 significant digits, no trailing zeros: rss-rounds' numbers in words (trend::fmt_num)."""
    if v == 0 or not math.isfinite(v):
        return str(v)
    magnitude = math.floor(math.log10(abs(v)))
    if not -4 <= magnitude < 9:
        mantissa, exponent = f"{v:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    text = f"{v:.{max(2 - magnitude, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _p(p):
    """A p-value in words, as rss-rounds writes it (trend::fmt_p)."""
    if p is None:
        return "p=?"
    if p < 1e-12:
        return "p<1e-12"
    if p < 0.001:
        mantissa, exponent = f"{p:.1e}".split("e")
        return f"p={mantissa}e{int(exponent)}"
    return f"p={p:.3f}"


def growth_words(verdict):
    """`refs +1/round (p=4.3e-6)`, `malloc +80 B/round (…)`: a leaking series for a person."""
    measure = next(m for m, (s, _) in MEASURES.items() if s == verdict["series"])
    unit = MEASURES[measure][1]
    growth = verdict["growth_per_round"]
    amount = "?" if growth is None else ("+" if growth > 0 else "") + _number(growth)
    if unit != measure:
        amount += f" {unit}"
    return f"{measure} {amount}/round ({_p(verdict['p_value'])})"
