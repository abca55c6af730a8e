# Leak workload for python-rapidjson 1.23 (affected) vs 1.24 (fixed).
#
# Defect: RawJSON_new() (rapidjson.cpp) called type->tp_alloc() *before*
# PyArg_ParseTupleAndKeywords(); when the argument is rejected (not a str)
# it returned NULL without releasing the freshly allocated object, so every
# rejected call leaks one RawJSON object.
#   changelog 1.24: "Fix memory leak in RawJSON constructor with invalid
#   argument (PR #239)"
#   https://github.com/python-rapidjson/python-rapidjson/pull/239
# Fixed release (1.24) parses the arguments first and allocates afterwards,
# so the rejected call allocates nothing.
#
# Under PYTHONMALLOC=malloc valgrind --leak-check=full on python3.11-dbg,
# 1.23 reports "240 bytes in 10 blocks are definitely lost" whose first
# project frame is RawJSON_new(_typeobject*, _object*, _object*)
# (rapidjson.cpp:468, the tp_alloc line); 1.24 reports no definitely lost
# block.
import rapidjson

for _ in range(10):
    try:
        rapidjson.RawJSON(42)  # not a str: TypeError, object leaked in 1.23
    except TypeError:
        pass
