"""rss-rounds harness: run a workload in rounds and print what each round changed."""

# Shipped inside the rss-rounds binary (include_str!) and run as `python -c`; the
# analysis stays in Rust. Arguments, all positional, written by rss-rounds:
#
#   TARGET ROUNDS CALLS WARMUP NOISE_ROUNDS [SNAPSHOTS]
#
# TARGET is `module:function` (the function may be dotted: `mod:Class.method`) or
# `script:PATH` (the file is compiled once and executed in a fresh namespace per call).
# Each round calls the workload CALLS times, runs gc.collect() and prints one line with
# the changes, over the round, of:
#
#   refs    sys.gettotalrefcount()     (debug builds only; absent otherwise)
#   blocks  sys.getallocatedblocks()
#   fds     open file descriptors      (/proc/self/fd)
#   rss_kib resident set size in KiB   (/proc/self/statm)
#
# First NOISE_ROUNDS rounds of an empty workload (phase=noise): the harness's own cost
# per round, which rss-rounds subtracts. Then WARMUP unmeasured calls of the workload,
# then ROUNDS measured rounds (phase=work).
#
# SNAPSHOTS, when given and not empty, is a path prefix: the process runs under Valgrind's
# Massif, and after each measured round's gc.collect() the harness asks Massif for a detailed
# snapshot into SNAPSHOTS.<round, 6 digits> (the `detailed_snapshot` monitor command, sent as
# a client request), so that snapshot N is the heap at the end of round N. rss-rounds'
# `massif` recipe combines them into one Massif file.
#
# Protocol: lines on the original stdout, each starting with "@rss-rounds ":
#   @rss-rounds start python=3.11.4 debug=1
#   @rss-rounds round phase=noise n=0 refs=4 blocks=2 fds=0 rss_kib=0
#   @rss-rounds end
#   @rss-rounds error ImportError: no module named 'x'
# The workload's own output (print, or C-level writes to fd 1) is sent to stderr, so that
# nothing it prints can break a protocol line.

import gc
import importlib
import itertools
import os
import sys


def emit(out, text):
    out.write("@rss-rounds " + text + "\n")
    out.flush()


def resolve(target):
    kind, _, rest = target.partition(":")
    if kind == "script":
        with open(rest, "rb") as source:
            code = compile(source.read(), rest, "exec")

        def run_script():
            exec(code, {"__name__": "__rss_rounds__", "__file__": rest})

        return run_script
    module_name, function = kind, rest
    obj = importlib.import_module(module_name)
    for part in function.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


def rss_kib():
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        # No /proc (not Linux): the peak is the best that getrusage offers.
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


total_refs = getattr(sys, "gettotalrefcount", None)


# Valgrind's client request, as valgrind.h's VALGRIND_DO_CLIENT_REQUEST_EXPR compiles it on
# x86-64: rax points to the request's six words, rdx holds the default result, and after
# the four rotations of rdi (128 bits in all: nothing, natively) `xchg rbx, rbx` is the
# request; Valgrind puts its result in rdx. A Python process has no other way to ask
# Valgrind for anything without a compiler, so the sequence is written into an executable
# page and called through ctypes.
CLIENT_REQUEST_X86_64 = bytes([
    0x48, 0x89, 0xF8,        # mov rax, rdi
    0x48, 0x89, 0xF2,        # mov rdx, rsi
    0x48, 0xC1, 0xC7, 0x03,  # rol rdi, 3
    0x48, 0xC1, 0xC7, 0x0D,  # rol rdi, 13
    0x48, 0xC1, 0xC7, 0x3D,  # rol rdi, 61
    0x48, 0xC1, 0xC7, 0x33,  # rol rdi, 51
    0x48, 0x87, 0xDB,        # xchg rbx, rbx
    0x48, 0x89, 0xD0,        # mov rax, rdx
    0xC3,                    # ret
])
RUNNING_ON_VALGRIND = 0x1001
GDB_MONITOR_COMMAND = 0x1202


def massif_snapshots(prefix):
    """A function that asks Massif for a detailed snapshot into prefix.<n> per call."""
    import ctypes
    import mmap
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError(
            f"per-round Massif snapshots need x86-64, not {platform.machine()}: "
            "run the command under Massif without rounds instead"
        )
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(CLIENT_REQUEST_X86_64)
    call = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)(
        ctypes.addressof(ctypes.c_char.from_buffer(page))
    )

    def request(code, arg=0):
        words = (ctypes.c_uint64 * 6)(code, arg, 0, 0, 0, 0)
        return call(ctypes.addressof(words), 0)

    if not request(RUNNING_ON_VALGRIND):
        raise RuntimeError("per-round Massif snapshots asked for, but not running under Valgrind")

    def snapshot_to(path):
        command = ctypes.create_string_buffer(f"detailed_snapshot {path}".encode())
        request(GDB_MONITOR_COMMAND, ctypes.addressof(command))

    # A first one is checked: another tool than Massif takes no snapshot.
    check = f"{prefix}.check"
    snapshot_to(check)
    if not os.path.exists(check):
        raise RuntimeError(f"Massif wrote no {check}: is the Valgrind tool massif?")
    os.remove(check)
    rounds = itertools.count()

    def snapshot():
        snapshot_to(f"{prefix}.{next(rounds):06d}")

    # The page must outlive this function: unmapped, the next call would jump nowhere.
    snapshot.code_page = page
    return snapshot


def one_round(workload, calls, snapshot=None):
    # A frame of its own per round, as most hand-written harnesses have: the values read
    # before the calls are objects that exist when the values after are read, which is
    # part of the constant per-round cost the noise phase measures.
    refs0 = total_refs() if total_refs else 0
    blocks0 = sys.getallocatedblocks()
    fds0 = open_fds()
    rss0 = rss_kib()
    for _ in range(calls):
        workload()
    gc.collect()
    if snapshot:
        snapshot()
    refs1 = total_refs() if total_refs else 0
    blocks1 = sys.getallocatedblocks()
    fds1 = open_fds()
    rss1 = rss_kib()
    return refs1 - refs0, blocks1 - blocks0, fds1 - fds0, rss1 - rss0


def measure(out, phase, workload, rounds, calls, snapshot=None):
    for n in range(rounds):
        refs, blocks, fds, rss = one_round(workload, calls, snapshot)
        line = f"round phase={phase} n={n}"
        if total_refs:
            line += f" refs={refs}"
        emit(out, f"{line} blocks={blocks} fds={fds} rss_kib={rss}")


def empty():
    pass


def main():
    target = sys.argv[1]
    rounds, calls, warmup, noise_rounds = (int(a) for a in sys.argv[2:6])
    snapshots = sys.argv[6] if len(sys.argv) > 6 else ""
    # The protocol keeps the real stdout; the workload's fd 1 becomes stderr.
    out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        emit(out, f"start python={sys.version.split()[0]} debug={int(bool(total_refs))}")
        workload = resolve(target)
        snapshot = massif_snapshots(snapshots) if snapshots else None
        gc.collect()
        measure(out, "noise", empty, noise_rounds, calls)
        for _ in range(warmup):
            workload()
        gc.collect()
        measure(out, "work", workload, rounds, calls, snapshot)
        emit(out, "end")
    except BaseException as error:  # report everything, KeyboardInterrupt included
        message = f"{type(error).__name__}: {error}".replace("\n", " ")
        emit(out, f"error {message}")
        sys.exit(3)
    finally:
        out.close()


main()
