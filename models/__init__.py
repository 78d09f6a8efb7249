"""The allocation LP (design section 4): typed tables in, solved model and tables out.

Knows nothing about Excel, files or the command line.
"""

from models.allocation import AllocationModel, build_model
from models.data import AllocationData
from models.status import SolveStatus

__all__ = ["AllocationData", "AllocationModel", "SolveStatus", "build_model"]
