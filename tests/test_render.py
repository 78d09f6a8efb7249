"""The workbooks as a planner prints them: LibreOffice converts them to PDF headless.

Checks what a reader would see on paper: a sensible number of pages, no cell
shown as "###" (a number wider than its column), shares with a % sign. Skipped
when LibreOffice (`soffice`) or poppler (`pdfinfo`, `pdftotext`) is not installed;
.ci/run installs both (Debian packages libreoffice-calc and poppler-utils).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from exposure.cli import main
from tests import workbooks

TOOLS = ("soffice", "pdfinfo", "pdftotext")
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason="LibreOffice (soffice) and poppler-utils (pdfinfo, pdftotext) are needed to render "
    "workbooks to PDF; .ci/run installs them (apt-get install libreoffice-calc poppler-utils)",
)

# Page bounds. The tiny results (15 sheets of a few rows) print one page a sheet plus two
# pages of Summary charts: 16 (35 before). The first edition of the reference (4 quarters)
# printed on 25 pages (59 before the page setup); the second edition has 8 quarters, four
# lanes and variants and prints on 84: Origins (1,326 rows by lane, sector and period) takes
# 38 of them and Variants 11; every summary sheet fits a page or two.
TINY_RESULTS_MAX_PAGES = 20
REFERENCE_RESULTS_MAX_PAGES = 90
WHATIF_MAX_PAGES = 6


def to_pdf(workbook: Path, folder: Path) -> Path:
    """Convert with a private LibreOffice profile, so that parallel runs do not collide."""
    profile = folder / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    pdf = folder / f"{workbook.stem}.pdf"
    assert pdf.exists(), f"LibreOffice wrote no {pdf.name}"
    return pdf


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return int(next(line for line in info.stdout.splitlines() if line.startswith("Pages:"))[6:])


def text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def run_to_pdf(tmp_path: Path, *args: str) -> tuple[Path, str]:
    out = tmp_path / f"{args[0]}.xlsx"
    result = CliRunner().invoke(main, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    pdf = to_pdf(out, tmp_path)
    return pdf, text(pdf)


def test_tiny_results_print_readably(tiny_workbook: Path, tmp_path: Path):
    pdf, printed = run_to_pdf(tmp_path, "run", str(tiny_workbook))
    assert "###" not in printed
    assert pages(pdf) <= TINY_RESULTS_MAX_PAGES
    assert "30.0%" in printed  # P2's service level, a share with its % sign
    assert "USD 3,500" in printed  # lost value as money with separators
    assert "status: optimal (priority objective)" in printed  # the terminal's sentences


@pytest.mark.slow
def test_reference_results_print_readably(tmp_path: Path):
    pdf, printed = run_to_pdf(tmp_path, "run", str(workbooks.REFERENCE))
    assert "###" not in printed
    assert pages(pdf) <= REFERENCE_RESULTS_MAX_PAGES
    # The headline shows as a percentage with its decimal, not "1".
    summary = load_workbook(tmp_path / "run.xlsx")["Summary"]
    kpis = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row[0]}
    headline = kpis["value_service_level"]
    assert 0 < headline < 1
    assert f"{headline:.1%}" in printed
    assert "%" in printed and "USD " in printed


def test_whatif_sweep_and_stress_print_readably(tmp_path: Path):
    sheets = workbooks.tiny()
    sheets["Licences"] = [
        ["regime", "material", "period", "approval_rate", "approval_low", "approval_high"],
        ["CN", "DY", None, 0.3, 0.1, 0.5],
    ]
    sheets["Scenarios"] = [
        ["scenario", "sheet", "column", "match", "operation", "value", "note"],
        ["CUT", "Licences", "approval_rate", "regime=CN", "set", 0.1, None],
    ]
    path = workbooks.write(sheets, tmp_path / "w.xlsx")
    vary = ["--vary", "Licences:approval_rate:regime=CN", "--from", "0", "--to", "1"]
    for args in (
        ["whatif", str(path), "-q"],
        ["sweep", str(path), "-q", *vary],
        ["stress", str(path), "-q", "--draws", "10", "--jobs", "1"],
    ):
        pdf, printed = run_to_pdf(tmp_path, *args)
        assert "###" not in printed, args[0]
        assert "%" in printed, args[0]
        assert pages(pdf) <= WHATIF_MAX_PAGES, args[0]
