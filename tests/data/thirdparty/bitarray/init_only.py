# Module-setup workload for bitarray 1.8.1 / 1.8.2 (no defect triggered).
#
# bitarray uses single-phase init, so the allocations made while the module
# is set up have PyInit__bitarray (_bitarray.c) on their stack. Under
# PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=all on
# python3.11-dbg both releases give 0 bytes definitely lost and, through
# PyInit__bitarray, 4 possibly-lost records (192 bytes) and 25
# still-reachable records (10,030 bytes). Contrast with python-rapidjson,
# which uses multi-phase init: its setup records go through
# module_exec(_object*) and PyInit_rapidjson is never on the stack.
from bitarray import bitarray

a = bitarray('1100') & bitarray('1010')
