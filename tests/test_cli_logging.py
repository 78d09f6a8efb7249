"""-v: each stage of a run and its time, and none of the libraries' own debug lines."""

import logging
import re
from pathlib import Path

from click.testing import CliRunner

from exposure.cli import main

STAGE = re.compile(r"stage ([a-z ]+): \d+\.\d{3} s")


def stages(output: str) -> list[str]:
    return STAGE.findall(output)


def test_verbose_logs_each_stage_with_its_time(tiny_workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    result = CliRunner().invoke(main, ["run", str(tiny_workbook), "-o", str(out), "-v"])
    assert result.exit_code == 0, result.output
    assert stages(result.stderr) == [
        "read",
        "validate",
        "build",
        "solve",
        "analytics and sensitivities",
        "write",
    ]
    # Pyomo and the rest keep WARNING: -v is the application's lines, not theirs
    lines = result.stderr.splitlines()
    assert not [line for line in lines if "pyomo" in line.casefold()]
    assert all(" exposure" in line for line in lines), lines
    assert len(lines) < 20
    assert logging.getLogger("pyomo").getEffectiveLevel() >= logging.WARNING


def test_without_verbose_no_stage_lines(tiny_workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    result = CliRunner().invoke(main, ["run", str(tiny_workbook), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stages(result.output) == []
    assert result.stderr == ""


def test_verbose_whatif_times_its_stages(tiny_workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "whatif.xlsx"
    result = CliRunner().invoke(main, ["whatif", str(tiny_workbook), "-o", str(out), "-q", "-v"])
    assert result.exit_code == 0, result.output
    assert stages(result.stderr) == ["read and validate", "solve scenarios", "write"]
