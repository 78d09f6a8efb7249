"""A workbook with nothing to allocate: every command finishes, none writes and then fails.

Design section 8: exit 1 is a bug. The blank template has no products, so each
command either writes its (empty) results and exits 0, or refuses with exit 2 and
writes nothing; the input's warnings are printed and written.
"""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from exposure.cli import main
from tests import workbooks

COMMANDS = {
    "run": [],
    "whatif": ["-q"],
    "sweep": ["--vary", "Licences:approval_rate", "--from", "0", "--to", "1", "--steps", "3"],
    "stress": ["--draws", "5", "--jobs", "1", "-q"],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "t.xlsx"
    result = CliRunner().invoke(main, ["template", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_fails_on_an_empty_workbook(template: Path, tmp_path: Path, command: str):
    out = tmp_path / f"{command}.xlsx"
    result = CliRunner().invoke(main, [command, str(template), "-o", str(out), *COMMANDS[command]])
    assert result.exit_code in (0, 2), result.output
    assert "internal error" not in result.output
    assert out.exists() == (result.exit_code == 0), result.output


def test_report_on_an_empty_workbook(template: Path, tmp_path: Path):
    (tmp_path / "t.xlsx").write_bytes(template.read_bytes())
    config = tmp_path / "r.toml"
    config.write_text(
        'name = "empty"\ninput = "t.xlsx"\noutput_dir = "out"\n[stress]\ndraws = 3\nseed = 1\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["report", str(config), "-q"])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "out").glob("empty-*.xlsx")
    assert "Stress" in pd.read_excel(written, sheet_name=None)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_inputs_warnings_are_printed_and_written(tmp_path: Path, command: str):
    # an unknown column is a warning, not an error (design section 3)
    sheets = workbooks.tiny()
    header, *rows = sheets["Sectors"]
    sheets["Sectors"] = [[*header, "colour"], *([*row, "red"] for row in rows)]
    path = workbooks.write(sheets, tmp_path / "w.xlsx")
    out = tmp_path / f"{command}.xlsx"
    extra = [
        a.replace("Licences:approval_rate", "Licences:approval_rate:regime=CN")
        for a in COMMANDS[command]
    ]
    result = CliRunner().invoke(main, [command, str(path), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "colour" in result.stderr
    warnings = pd.read_excel(out, sheet_name="Warnings")
    assert warnings["message"].str.contains("colour").any()
