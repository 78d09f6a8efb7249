"""Rare-earth supply-chain exposure calculator.

The library is usable without the CLI::

    from exposure.pipeline import run_workbook
    result = run_workbook("inputs/reference.xlsx", "results.xlsx")
"""

__version__ = "0.1.0"
