"""The allocation LP (design section 4): typed tables in, solved model and tables out.

Knows nothing about Excel, files or the command line.
"""

# Before anything imports scipy: Pyomo would load much of it (models/pyomo_setup.py).
from models import pyomo_setup  # noqa: F401
from models.allocation import AllocationModel, build_model
from models.data import AllocationData
from models.status import SolveStatus

__all__ = ["AllocationData", "AllocationModel", "SolveStatus", "build_model"]
