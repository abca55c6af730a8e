# Crash workload for python-rapidjson 1.23 (affected) vs 1.24 (fixed).
#
# Defect: the list branch of dumps_internal() (rapidjson.cpp) cached
# PyList_GET_SIZE() once and then used unchecked PyList_GET_ITEM(); a
# default= callback that shrinks the list being serialized makes the loop
# read past the list's items.
#   changelog 1.24: "Fix crash serializing a list that changes on the fly
#   (issue 238)"
#   https://github.com/python-rapidjson/python-rapidjson/issues/238
# The reproducer uses `del lst[128:]` (a read of freed pointers, so
# where it faults varies); clearing the list instead sets ob_item to NULL,
# so 1.23 faults deterministically on the PyList_GET_ITEM read itself:
# SIGSEGV, frame #0 = dumps_internal<rapidjson::Writer<...> >(...) at
# rapidjson.cpp:2512, #1 do_encode (rapidjson.cpp:3418), #2 dumps
# (rapidjson.cpp:3144).
# Fixed release (1.24) re-reads the size on every iteration: prints
# "[null]" and exits 0.
import rapidjson

lst = [object(), 1, 2, 3]


def default(obj):
    lst.clear()
    return None


print(rapidjson.dumps(lst, default=default))
