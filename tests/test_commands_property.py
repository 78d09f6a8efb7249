"""Every command on small generated workbooks, approval rates pushed to 0 and 1: never a bug.

Exit 1 is reserved for bugs (design section 8); a valid workbook must give 0 (or 3
when the solver honestly stops), an invalid one 2. The workbooks are `tiny()`-shaped
with random capacities, demand, intensities, soft floors and approval rates, most
of them exactly 0 or 1, the edges where warm re-solves and break-even searches
meet degenerate LPs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.cli import main
from exposure.errors import EXIT_BUG
from tests import workbooks

EDGE_RATES = st.sampled_from([0.0, 1.0]) | st.floats(0, 1)
quantities = st.sampled_from([0, 1, 10]) | st.integers(0, 30)


@st.composite
def generated_workbooks(draw: st.DrawFn) -> workbooks.Sheets:
    """tiny() with every number drawn: two periods, two oxides bought from sources under
    two regimes, a magnet made from them by a licensed plant, soft service and stock floors."""
    materials = ["DY", "ND", "MAG"]
    regimes = ["CN", "MM"]
    licences = [["regime", "material", "period", "approval_rate", "approval_low", "approval_high"]]
    for regime in regimes:
        for material in materials:
            for period in draw(st.sampled_from([[None], ["t2"], [None, "t2"], []])):
                rate = draw(EDGE_RATES)
                low = draw(st.sampled_from([None, 0.0, rate]))
                high = draw(st.sampled_from([None, 1.0, rate]))
                licences.append([regime, material, period, rate, low, high])
    sources = [["source", "country", "regime", "name"]]
    supply = [["source", "material", "period", "capacity", "unit_cost"]]
    for number, regime in enumerate([*regimes, None]):
        source = f"SRC{number}"
        sources.append([source, regime or "AU", regime, None])
        for material in materials[:2]:
            supply.append([source, material, None, draw(quantities), draw(st.integers(0, 100))])
    sectors = [["sector", "name", "min_service", "weight"]]
    for sector in ("S1", "S2"):
        sectors.append([sector, None, draw(st.sampled_from([None, 0.0, 0.5, 1.0])), None])
    demand = [["sector", "product", "period", "units", "value_per_unit"]]
    intensity = [["product", "material", "kg_per_unit"]]
    for number, sector in enumerate(["S1", "S2", "S2"]):
        product = f"P{number}"
        demand.append([sector, product, None, draw(quantities), draw(st.integers(1, 5000))])
        for material in materials:
            kg = draw(st.sampled_from([0, 500, 1000]))
            if kg or material == "DY":
                intensity.append([product, material, kg])
    return workbooks.variant(
        Periods=[["period", "label"], ["t1", None], ["t2", None]],
        Materials=[
            ["material", "name", "form", "initial_stock", "min_stock", "holding_cost"],
            ["DY", None, "oxide", draw(quantities), draw(st.sampled_from([0, 2])), 1],
            ["ND", None, "oxide", 0, 0, 0],
            ["MAG", None, "magnet", 0, draw(st.sampled_from([0, 1])), 0],
        ],
        Plants=[
            ["plant", "country", "output", "capacity", "regime", "unit_cost"],
            ["PL", "CN", "MAG", draw(quantities), draw(st.sampled_from(["CN", None])), 5],
        ],
        Recipes=[
            ["plant", "input", "t_per_t"],
            ["PL", "DY", draw(st.sampled_from([0.1, 1.0]))],
            ["PL", "ND", draw(st.sampled_from([0.0, 0.5]))],
        ],
        Regimes=[["regime", "name", "authority"], ["CN", None, None], ["MM", None, None]],
        Licences=licences,
        Sources=sources,
        Supply=supply,
        Sectors=sectors,
        Demand=demand,
        Intensity=intensity,
        Scenarios=[
            ["scenario", "sheet", "column", "match", "operation", "value", "note"],
            ["ban", "Licences", "approval_rate", "regime=CN", "set", 0, None],
            ["open", "Licences", "approval_rate", "", "set", 1, None],
        ],
    )


def commands(workbook: Path, folder: Path) -> dict[str, list[str]]:
    vary = "Licences:approval_rate:regime=CN"
    return {
        "validate": ["validate", str(workbook)],
        "run": ["run", str(workbook), "-o", str(folder / "run.xlsx")],
        "whatif": ["whatif", str(workbook), "-o", str(folder / "whatif.xlsx"), "-q"],
        "sweep": [
            *["sweep", str(workbook), "--vary", vary, "--from", "0", "--to", "1", "--steps", "3"],
            *["-o", str(folder / "sweep.xlsx"), "-q", "--jobs", "1"],
        ],
        "stress": [
            *["stress", str(workbook), "--draws", "3", "--seed", "1", "--jobs", "1"],
            *["-o", str(folder / "stress.xlsx"), "-q"],
        ],
    }


def describe(name: str, result: Result) -> str:
    detail: Any = result.exception
    return f"{name} exited {result.exit_code}: {result.output}\n{detail!r}"


@settings(
    max_examples=5,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sheets=generated_workbooks())
def test_no_command_exits_1_on_edge_approval_rates(
    tmp_path_factory: pytest.TempPathFactory, sheets: workbooks.Sheets
):
    folder = tmp_path_factory.mktemp("commands")
    workbook = workbooks.write(sheets, folder / "generated.xlsx")
    runner = CliRunner()
    for name, arguments in commands(workbook, folder).items():
        result = runner.invoke(
            main, [*arguments, "--overwrite"] if name != "validate" else arguments
        )
        assert result.exit_code != EXIT_BUG, describe(name, result)
        assert result.exit_code in (0, 3), describe(name, result)
