# Refcount workload for python-rapidjson 1.23 (affected) vs 1.24 (fixed).
# Use as MODULE:FN = workloads:refleak (this folder on PYTHONPATH).
#
# Same defect as leak.py: RawJSON_new() allocates the object before parsing
# its argument and never releases it when the argument is rejected.
#   changelog 1.24: "Fix memory leak in RawJSON constructor with invalid
#   argument (PR #239)"
#   https://github.com/python-rapidjson/python-rapidjson/pull/239
# On python3.11-dbg each refleak() call grows sys.gettotalrefcount() by 1
# with 1.23 (measured: +1005, +1007, +1000 per 1000 calls over three rounds
# after a 200-call warm-up) and by 0 in steady state with 1.24 (+5, +7, 0:
# the first two rounds carry the same small warm-up noise as 1.23).
import rapidjson


def refleak():
    try:
        rapidjson.RawJSON(42)
    except TypeError:
        pass
