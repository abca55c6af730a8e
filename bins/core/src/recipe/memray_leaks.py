"""The leaked allocations of a memray capture, by the native function that called the allocator."""

# usage: python memray_leaks.py CAPTURE.bin ROOT
#
# Run by `cargo xtask memray` with the interpreter memray is installed for. Reads the capture
# with memray's FileReader (what `memray flamegraph --leaks` shows: allocations not freed when
# tracking stopped) and groups the leaked allocations by their leak site: the innermost native
# frame that is not an allocation wrapper of the C or C++ runtime (operator new, std::
# containers and allocators, strdup), i.e. the code that asked for the memory. Allocations
# through the Python allocators have the allocator's own frame there (PyObject_Malloc), which
# never lies in the project, so a project leak site is native memory the project's code lost
# itself; "via" names the runtime frame it went through, if any.
#
# A frame is the project's when its source file lies under ROOT (a relative path is taken
# relative to ROOT) and exists.
#
# Prints JSON lines, largest site first:
#   {"type":"leak","function":...,"file":...,"line":...,"project":true|false,"via":...,"bytes":N,
#    "allocations":N,"allocators":[...],"project_frame":{"function","file","line","depth"}|null,
#    "stack":["fn at file:line", ...],"python_stack":["fn at file:line", ...]}
# then {"type":"summary","tool":"xtask memray","schema":1,"records":N,"sites":N,
#       "leaked_bytes":N,"project_sites":N,"project_bytes":N,"project_functions":[...]}.

import json
import os
import sys

from memray import AllocatorType, FileReader

STACK_FRAMES = 8

# Frames of the C and C++ runtime that allocate on behalf of their caller.
RUNTIME_ALLOCATORS = (
    "operator new",
    "std::",
    "__gnu_cxx::",
    "strdup",
    "strndup",
    "__strdup",
    "__strndup",
)


def is_project(file, root):
    if not file:
        return False
    path = os.path.normpath(file if os.path.isabs(file) else os.path.join(root, file))
    return path.startswith(root + os.sep) and os.path.exists(path)


def frame_text(frame):
    function, file, line = frame
    return f"{function} at {file}:{line}"


def main():
    if len(sys.argv) != 3:
        print("usage: memray_leaks.py CAPTURE.bin ROOT", file=sys.stderr)
        sys.exit(2)
    capture, root = sys.argv[1], os.path.normpath(os.path.abspath(sys.argv[2]))
    sites = {}
    records = 0
    for record in FileReader(capture).get_leaked_allocation_records(merge_threads=True):
        records += 1
        native = record.native_stack_trace()  # innermost frame first
        caller = next(
            (i for i, f in enumerate(native) if not str(f[0]).startswith(RUNTIME_ALLOCATORS)),
            0,
        )
        top = native[caller] if native else ("<no native frame>", None, None)
        via = native[0][0] if caller > 0 else None
        site = sites.get(top)
        if site is None:
            project_frame = next(
                (
                    {"function": f, "file": fi, "line": li, "depth": depth}
                    for depth, (f, fi, li) in enumerate(native)
                    if is_project(fi, root)
                ),
                None,
            )
            site = sites[top] = {
                "type": "leak",
                "function": top[0],
                "file": top[1],
                "line": top[2],
                "project": is_project(top[1], root),
                "via": via,
                "bytes": 0,
                "allocations": 0,
                "allocators": [],
                "project_frame": project_frame,
                "stack": [frame_text(f) for f in native[:STACK_FRAMES]],
                "python_stack": [frame_text(f) for f in record.stack_trace()[:3]],
            }
        site["bytes"] += record.size
        site["allocations"] += record.n_allocations
        # The reader gives the allocator as a plain int in some versions.
        try:
            allocator = AllocatorType(record.allocator).name.lower()
        except ValueError:
            allocator = str(record.allocator)
        if allocator not in site["allocators"]:
            site["allocators"].append(allocator)
    ordered = sorted(sites.values(), key=lambda s: (-s["bytes"], str(s["function"])))
    for site in ordered:
        print(json.dumps(site, separators=(",", ":")))
    project = [s for s in ordered if s["project"]]
    functions = []
    for s in project:
        if s["function"] not in functions:
            functions.append(s["function"])
    print(
        json.dumps(
            {
                "type": "summary",
                "tool": "xtask memray",
                "schema": 1,
                "records": records,
                "sites": len(ordered),
                "leaked_bytes": sum(s["bytes"] for s in ordered),
                "project_sites": len(project),
                "project_bytes": sum(s["bytes"] for s in project),
                "project_functions": functions,
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
