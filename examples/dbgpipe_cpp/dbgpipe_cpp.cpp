/*
 * dbgpipe_cpp: a CPython 3.11 extension module written in C++ that crashes
 * inside std::unordered_map, the way a C++ extension with a faulty hasher does.
 *
 * It exists for bt-demangle: gdb's frames for it are long libstdc++ template
 * names (std::_Hashtable<...>::_M_emplace<...>), mangled or demangled, with
 * or without debug information, which is what the tool must make readable.
 *
 * The module is built by `xtask::example::build_cpp` with
 * `-O1 -fno-omit-frame-pointer` and, for one variant, `-g`.  -O1 makes gcc
 * inline the hasher into _Hashtable::_M_emplace, so without debug
 * information frame #0 is _M_emplace itself, as in real reports; with -g gdb
 * shows the inlined frames (the hasher, _M_hash_code) above it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>
#include <string_view>
#include <unordered_map>

namespace dbgpipe {

/* The mapped value: big enough that emplace has to build a node for it. */
struct parameter {
    long value;
    const char *name;
};

/*
 * A hasher that reads its seed through a NULL pointer.  The pointer is
 * volatile so that gcc cannot see it is NULL and replace the load with a
 * trap (which would be SIGILL, not SIGSEGV) or drop it.
 */
struct BadHash {
    std::size_t operator()(std::string_view key) const noexcept
    {
        const std::size_t *volatile seed = nullptr;
        return *seed ^ key.size();
    }
};

using table = std::unordered_map<std::string_view, parameter, BadHash>;

/*
 * The project frame below the library ones.  noinline keeps it a frame of
 * its own at -O1:
 *   #0 std::_Hashtable<...>::_M_emplace<...>(...)   (the hasher inlined)
 *   #1 dbgpipe::insert(std::unordered_map<...>&, std::basic_string_view<...>)
 *   #2 crash_map
 */
__attribute__((noinline)) void insert(table &map, std::string_view key)
{
    map.emplace(key, parameter{42, "answer"});
}

} // namespace dbgpipe

/*
 * crash_map(): inserts one key into an unordered_map whose hasher
 * dereferences NULL; the process dies with SIGSEGV inside emplace.
 */
static PyObject *
crash_map(PyObject *, PyObject *)
{
    dbgpipe::table map;
    dbgpipe::insert(map, "key");
    return PyLong_FromSize_t(map.size());
}

static PyMethodDef dbgpipe_cpp_methods[] = {
    {"crash_map", crash_map, METH_NOARGS,
     "Insert into an unordered_map whose hasher reads through NULL (SIGSEGV)."},
    {nullptr, nullptr, 0, nullptr}
};

static struct PyModuleDef dbgpipe_cpp_module = {
    PyModuleDef_HEAD_INIT,
    "dbgpipe_cpp",
    "A C++ extension that crashes inside std::unordered_map.",
    -1,
    dbgpipe_cpp_methods,
    nullptr,
    nullptr,
    nullptr,
    nullptr
};

PyMODINIT_FUNC
PyInit_dbgpipe_cpp(void)
{
    return PyModule_Create(&dbgpipe_cpp_module);
}
