"""Rare-earth supply-chain exposure calculator.

The library is usable without the CLI::

    from exposure.pipeline import run_workbook
    result = run_workbook("inputs/reference.xlsx", "results.xlsx")
"""

import os

# numpy's OpenBLAS starts a thread per core on its first large vector operation, and
# those threads spin, waiting for more work, for a while after each one. Between warm
# re-solves they burned a core: at 100k LP columns a one-process run used 83 s of CPU in
# 57 s, and pool workers slowed one another down (bench/README.md). Nothing here gains
# from threaded BLAS (vector operations only), so one thread, unless the caller chose
# otherwise. Set before numpy is first imported (this package imports it later).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
