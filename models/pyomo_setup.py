"""Pyomo without the parts of scipy that this package never uses.

Pyomo finalises its deferred `scipy` import by importing `scipy.stats`,
`scipy.integrate` and `scipy.spatial` as well (`pyomo.common.dependencies.
_finalize_scipy`), as soon as anything imports scipy, or at once if scipy is
already imported. The standard-form compiler and `models.kept_basis` need only
`scipy.sparse`; the rest is about 490 modules and 50 MiB of resident memory in
every process that builds a model (measured with Pyomo 6.10, scipy 1.17: 147 MiB
after importing numpy, pandas, highspy, Pyomo and scipy.sparse, 99 MiB with this).

`lighten_scipy_finaliser` swaps that finaliser for one that imports
`scipy.sparse` only. It must run after `pyomo.common.dependencies` is imported
and before scipy is; `models/__init__.py` calls it first of all. Other
subpackages stay reachable: scipy loads them on first attribute access. If a
Pyomo release changes these internals, nothing is swapped and everything works
as before, only heavier; `tests/test_pyomo_setup.py` notices.
"""

from __future__ import annotations


def _finalize_scipy_sparse(module: object, available: bool) -> None:
    if available:
        import scipy.sparse  # noqa: F401  (what the compiler uses)


def lighten_scipy_finaliser() -> bool:
    """Swap Pyomo's scipy finaliser for `_finalize_scipy_sparse`; True if swapped.

    False when scipy was imported before Pyomo (the finaliser has run already) or
    when this Pyomo does not have the finaliser where 6.10 has it.
    """
    from pyomo.common import dependencies

    # Once resolved (scipy imported before or since), the indicator has replaced itself
    # by a bool in that module, and there is no callback left to swap.
    indicator = getattr(dependencies, "scipy_available", None)
    finaliser = getattr(dependencies, "_finalize_scipy", None)
    if finaliser is None or getattr(indicator, "_callback", None) is not finaliser:
        return False
    indicator._callback = _finalize_scipy_sparse  # type: ignore[union-attr]
    return True


LIGHTENED = lighten_scipy_finaliser()
