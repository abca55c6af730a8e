/*
 * dbgpipe_example: a CPython 3.11 extension module with planted defects.
 *
 * Each function below plants exactly one defect, and the comment above it
 * says exactly what Valgrind (Memcheck), gdb or the interpreter must report
 * for one call.  The dbgpipe tools are tested against these promises, so a
 * change here must keep the comment and the behaviour in step.
 *
 * The module is meant to be built with `-g -O0 -fno-omit-frame-pointer`
 * (`cargo xtask example` does that).  Even so, the defects are written with
 * volatile accesses and noinline helpers, because a compiler is otherwise
 * entitled to delete an unused malloc, fold a double free, or inline the
 * faulting store into its caller and lose the frame the tools look for.
 *
 * Valgrind should be run with PYTHONMALLOC=malloc so that every Python
 * allocation goes through malloc and Memcheck can see it; the planted heap
 * defects use malloc directly and are visible either way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

/*
 * Somewhere to put values that must be computed but not used.  Writing to a
 * volatile object is an observable side effect, so the reads that feed it
 * stay in the binary.  A char cannot hold a pointer, so nothing stored here
 * keeps a block reachable.
 */
static volatile char dbgpipe_sink;

/*
 * The only pointer to the block planted by leak_possible().  It points 16
 * bytes into the block, never at its start.
 */
static char *dbgpipe_interior;

/*
 * leak_definite(): one 64-byte block whose only pointer is dropped.
 *
 * Memcheck (--leak-check=full):
 *   64 bytes in 1 blocks are definitely lost in loss record N of M
 *      at malloc
 *      by leak_definite (dbgpipe_example.c)
 */
static PyObject *
leak_definite(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    char *volatile block = malloc(64);
    if (block == NULL)
        return PyErr_NoMemory();
    /* Touch the block through the volatile pointer so the allocation cannot
     * be elided; then the pointer goes out of scope with the frame. */
    block[0] = 'x';
    Py_RETURN_NONE;
}

/*
 * A node as leak_indirect() builds it: 16 bytes on LP64 (a pointer and an
 * 8-byte tag), so the direct part of the loss record is 16 bytes.
 */
struct dbgpipe_node {
    char *child;
    long tag;
};

/*
 * leak_indirect(): a 16-byte node that holds the only pointer to a 120-byte
 * block; the pointer to the node is dropped.
 *
 * Memcheck (--leak-check=full --show-leak-kinds=all):
 *   136 (16 direct, 120 indirect) bytes in 1 blocks are definitely lost
 *      at malloc
 *      by leak_indirect (dbgpipe_example.c)
 *   120 bytes in 1 blocks are indirectly lost
 *      at malloc
 *      by leak_indirect (dbgpipe_example.c)
 */
static PyObject *
leak_indirect(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    struct dbgpipe_node *volatile node = malloc(sizeof(struct dbgpipe_node));
    if (node == NULL)
        return PyErr_NoMemory();
    node->child = malloc(120);
    if (node->child == NULL) {
        free(node);
        return PyErr_NoMemory();
    }
    memset(node->child, 0, 120);
    node->tag = 1;
    Py_RETURN_NONE;
}

/*
 * leak_possible(): a 256-byte block whose only remaining pointer, kept in the
 * static dbgpipe_interior, points 16 bytes into it.
 *
 * The block is zeroed so that none of Memcheck's interior-pointer heuristics
 * (stdstring, length64, newarray, multipleinheritance) can explain the
 * pointer away: they all look for a size or a vtable pointer in the block.
 *
 * Memcheck (--leak-check=full):
 *   256 bytes in 1 blocks are possibly lost in loss record N of M
 *      at malloc
 *      by leak_possible (dbgpipe_example.c)
 * Calling it again replaces the static pointer, so the earlier block becomes
 * definitely lost: the promise above is for exactly one call per process.
 */
static PyObject *
leak_possible(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    char *block = malloc(256);
    if (block == NULL)
        return PyErr_NoMemory();
    memset(block, 0, 256);
    dbgpipe_interior = block + 16;
    Py_RETURN_NONE;
}

/*
 * invalid_read(): reads the byte just past an 8-byte block, then frees the
 * block (so it does not also leak).
 *
 * Memcheck:
 *   Invalid read of size 1
 *      at invalid_read (dbgpipe_example.c)
 *    Address 0x... is 0 bytes after a block of size 8 alloc'd
 *      at malloc
 *      by invalid_read (dbgpipe_example.c)
 * The byte read is only stored to a volatile sink, never branched on, so it
 * causes no second error.
 */
static PyObject *
invalid_read(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    char *volatile block = malloc(8);
    if (block == NULL)
        return PyErr_NoMemory();
    memset(block, 'a', 8);
    /* Through the volatile pointer the compiler cannot see the bound, so
     * -Wall has nothing to warn about and the load is kept. */
    dbgpipe_sink = block[8];
    free(block);
    Py_RETURN_NONE;
}

/*
 * uninit_branch(): allocates an int, never writes it, and branches on it.
 * The branch picks the return value (1 or 2), so the branch must be there;
 * at -O0 gcc always emits a conditional jump for an if/else.
 *
 * Memcheck (--track-origins=yes):
 *   Conditional jump or move depends on uninitialised value(s)
 *      at uninit_branch (dbgpipe_example.c)
 *    Uninitialised value was created by a heap allocation
 *      at malloc
 *      by uninit_branch (dbgpipe_example.c)
 * The returned int is built from constants, so the undefinedness does not
 * travel on into the interpreter; the block is freed.
 */
static PyObject *
uninit_branch(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    /* Volatile so gcc cannot see that the int comes straight from malloc
     * (its -Wmaybe-uninitialized would stop the -Werror build). */
    int *volatile cell = malloc(sizeof(int));
    long result;
    if (cell == NULL)
        return PyErr_NoMemory();
    if (*cell > 0)
        result = 1;
    else
        result = 2;
    free(cell);
    return PyLong_FromLong(result);
}

/*
 * invalid_free(): frees the same 32-byte block twice.
 *
 * Memcheck:
 *   Invalid free() / delete / delete[] / realloc()
 *      at free
 *      by invalid_free (dbgpipe_example.c)
 *    Address 0x... is 0 bytes inside a block of size 32 free'd
 *      at free
 *      by invalid_free (dbgpipe_example.c)
 *    Block was alloc'd at
 *      at malloc
 *      by invalid_free (dbgpipe_example.c)
 * Reading the pointer through volatile keeps gcc's -Wuse-after-free quiet
 * and the second free in the binary.
 */
static PyObject *
invalid_free(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    char *volatile block = malloc(32);
    if (block == NULL)
        return PyErr_NoMemory();
    free(block);
    free(block);
    Py_RETURN_NONE;
}

/*
 * refleak(): creates a new empty list and returns None without releasing it.
 *
 * Interpreter: each call leaves one more reference alive, so on a debug build
 * sys.gettotalrefcount() grows by 1 per call (run.py prints the delta on
 * stderr), and native memory grows by one list object per call.
 * Memcheck: no error record; the list stays linked into the garbage
 * collector's lists, so its block is still reachable at exit.
 */
static PyObject *
refleak(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    /* Deliberately no Py_DECREF(list). */
    Py_RETURN_NONE;
}

/*
 * clean(): allocates, uses and frees native memory, and creates and releases
 * Python objects correctly.  Returns 2016 (the sum 0 + 1 + ... + 63).
 *
 * Memcheck, gdb and the interpreter: nothing to report.
 */
static PyObject *
clean(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    long *values = malloc(64 * sizeof(long));
    long sum = 0;
    PyObject *list, *item;
    int i;

    if (values == NULL)
        return PyErr_NoMemory();
    for (i = 0; i < 64; i++)
        values[i] = i;
    for (i = 0; i < 64; i++)
        sum += values[i];
    free(values);

    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    item = PyLong_FromLong(sum);
    if (item == NULL || PyList_Append(list, item) < 0) {
        Py_XDECREF(item);
        Py_DECREF(list);
        return NULL;
    }
    Py_DECREF(item);
    Py_DECREF(list);
    return PyLong_FromLong(sum);
}

/*
 * The faulting store of crash_null().  It is a separate function that gcc
 * may not inline, so the crash has a project frame chain:
 *   #0 dbgpipe_store (p=0x0, v=42) at dbgpipe_example.c
 *   #1 crash_null (...) at dbgpipe_example.c
 */
static __attribute__((noinline)) void
dbgpipe_store(int *p, int v)
{
    *p = v;
}

/*
 * crash_null(): stores through a NULL pointer and dies with SIGSEGV.
 *
 * gdb:  Program received signal SIGSEGV, Segmentation fault.
 *       dbgpipe_store (p=0x0, v=42) at .../dbgpipe_example.c
 *       #1 crash_null (...)
 * Memcheck:
 *   Invalid write of size 4
 *      at dbgpipe_store (dbgpipe_example.c)
 *      by crash_null (dbgpipe_example.c)
 *    Address 0x0 is not stack'd, malloc'd or (recently) free'd
 *   Process terminating with default action of signal 11 (SIGSEGV)
 */
static PyObject *
crash_null(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    /* Volatile so gcc cannot prove the store is through NULL and replace it
     * with a trap or drop it. */
    int *volatile target = NULL;
    dbgpipe_store(target, 42);
    Py_RETURN_NONE;
}

static PyMethodDef dbgpipe_example_methods[] = {
    {"leak_definite", leak_definite, METH_NOARGS,
     "Leak a 64-byte block (Memcheck: definitely lost)."},
    {"leak_indirect", leak_indirect, METH_NOARGS,
     "Leak a 16-byte node owning a 120-byte block (definitely + indirectly "
     "lost)."},
    {"leak_possible", leak_possible, METH_NOARGS,
     "Keep only an interior pointer to a 256-byte block (possibly lost)."},
    {"invalid_read", invalid_read, METH_NOARGS,
     "Read 1 byte past an 8-byte block (Memcheck: InvalidRead)."},
    {"uninit_branch", uninit_branch, METH_NOARGS,
     "Branch on an uninitialised heap int (Memcheck: UninitCondition)."},
    {"invalid_free", invalid_free, METH_NOARGS,
     "Free the same block twice (Memcheck: InvalidFree)."},
    {"refleak", refleak, METH_NOARGS,
     "Create a list and never release it (one reference leaked per call)."},
    {"clean", clean, METH_NOARGS,
     "Allocate, use and free correctly; returns 2016 (no report)."},
    {"crash_null", crash_null, METH_NOARGS,
     "Store through a NULL pointer in dbgpipe_store (SIGSEGV)."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef dbgpipe_example_module = {
    PyModuleDef_HEAD_INIT,
    "dbgpipe_example",
    "Planted native defects for testing the dbgpipe tools.",
    -1,
    dbgpipe_example_methods,
    NULL,
    NULL,
    NULL,
    NULL
};

PyMODINIT_FUNC
PyInit_dbgpipe_example(void)
{
    return PyModule_Create(&dbgpipe_example_module);
}
