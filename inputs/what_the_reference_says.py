"""Run the reference workbook, its scenarios and the sweeps of its driving parameters, and
rewrite the "What the reference says" section of ``inputs/README.md`` from the results.

Every figure in that section comes from this script, never typed by hand. It goes through
the command line (``exposure run``, ``whatif``, ``sweep``), so it measures what a user sees.

Run from the repository root::

    .venv/bin/python inputs/what_the_reference_says.py            # rebuild, run, rewrite
    .venv/bin/python inputs/what_the_reference_says.py --no-build # keep reference.xlsx
    .venv/bin/python inputs/what_the_reference_says.py --check    # exit 1 if README is stale

It also prints the quick-start block (the output of ``make run``) for the top-level README
and the upload page's example.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = HERE / "reference.xlsx"
README = HERE / "README.md"
START = "<!-- what-the-reference-says:start (written by inputs/what_the_reference_says.py) -->"
END = "<!-- what-the-reference-says:end -->"
BN = 1e9


@dataclass(frozen=True)
class Sweep:
    """One driving parameter: what to vary, over which values, and why it drives."""

    title: str
    vary: str
    vary_lanes: str
    start: float
    stop: float
    steps: int
    base: str
    why: str
    lanes_only: bool = False
    percent: bool = True


SWEEPS = (
    Sweep(
        "Civil NdFeB approval (Chinese magnet tonnes licensed for civil buyers)",
        "Licences:approval_rate:regime=CN-MOFCOM;material=NDFEB",
        "Licences:approval_rate:regime=CN-MOFCOM;material=NDFEB;end_use=civil",
        0.0,
        1.0,
        11,
        "1.0, fitted to Jul-Nov 2025 exports at or above the 2024 level (0.23 = May 2025)",
        "Chinese exports are most of the ex-China magnet supply; every tonne not licensed is a"
        " tonne some product goes without",
    ),
    Sweep(
        "Civil Dy oxide approval",
        "Licences:approval_rate:regime=CN-MOFCOM;material=DY_OX",
        "Licences:approval_rate:regime=CN-MOFCOM;material=DY_OX;end_use=civil",
        0.0,
        1.0,
        11,
        "0.35, fitted to Sep-Oct 2025 Dy exports",
        "Dy is what ex-China magnet plants cannot make standard grades without",
    ),
    Sweep(
        "Licensing delay for civil lanes (quarters)",
        "",
        "Licences:lead_periods:regime=CN-MOFCOM;end_use=civil",
        0.0,
        2.0,
        9,
        "0.7 (45 working days); 2 for US-linked lanes",
        "tonnes in licensing are not in factories; the last dispatches miss the horizon",
        lanes_only=True,
        percent=False,
    ),
    Sweep(
        "Japanese standard-grade magnet capacity (t per quarter)",
        "Plants:capacity:plant=JP-INCUMBENTS",
        "Plants:capacity:plant=JP-INCUMBENTS",
        1_000.0,
        5_000.0,
        5,
        "2,940 t/qtr, 70% of ex-China output less Shin-Etsu Vietnam (the split is assumed)",
        "the largest ex-China magnet maker; its size is derived from a share (94% Chinese)"
        " rather than reported",
        percent=False,
    ),
)


def exposure_cli() -> list[str]:
    """The ``exposure`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("exposure")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("exposure")
    if found:
        return [found]
    return [sys.executable, "-m", "exposure.cli"]


def run(args: list[str]) -> str:
    """Run one exposure command from the repository root; its stdout (warnings dropped)."""
    done = subprocess.run(
        [*exposure_cli(), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"exposure {' '.join(args)} failed with exit {done.returncode}")
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith("warning"))


def layout_of(path: Path) -> str:
    """'lanes' or 'compat', as the About sheet of the workbook says."""
    about = pd.read_excel(path, sheet_name="About", header=None)
    text = " ".join(str(v) for v in about[0].dropna())
    return "compat" if "Layout: compat" in text else "lanes"


def usd(x: float) -> str:
    """USD in bn with one decimal (M below 1 bn)."""
    if abs(x) >= BN / 10 or x == 0:
        return f"USD {x / BN:,.1f} bn"
    return f"USD {x / 1e6:,.0f} M"


def base_run(out: Path) -> tuple[str, pd.DataFrame, dict[str, float]]:
    """The quick-start output, lost value by sector, and the KPIs of the base run."""
    printed = run(["run", str(REFERENCE), "--overwrite", "-o", str(out)])
    sectors = pd.read_excel(out, sheet_name="Sectors")
    by_sector = (
        sectors.groupby("sector", as_index=False)[["demand_value", "lost_value"]]
        .sum()
        .sort_values("lost_value", ascending=False)
    )
    kpis = {
        "lost_value": float(by_sector["lost_value"].sum()),
        "demand_value": float(by_sector["demand_value"].sum()),
    }
    kpis["value_service_level"] = 1 - kpis["lost_value"] / kpis["demand_value"]
    kpis.update(shortfall(out))
    return printed, by_sector, kpis


def assumed_value_products() -> set[str]:
    """Products whose value_per_unit the About register labels an assumption."""
    about = pd.read_excel(REFERENCE, sheet_name="About", header=None)
    start = next(i for i in range(len(about)) if about.iloc[i, 0] == "sheet")
    register = about.iloc[start + 1 :].dropna(subset=[0])
    register.columns = [str(c) for c in about.iloc[start]]
    rows = register[(register["sheet"] == "Demand") & (register["column"] == "value_per_unit")]
    assumed = rows[rows["basis"].astype(str).str.startswith("assumption")]
    return {str(key).split("/")[1] for key in assumed["key"]}


def shortfall(results: Path) -> dict[str, float]:
    """Tonnes of magnet short and demanded, and the share of lost value at assumed values."""
    products = pd.read_excel(results, sheet_name="Products")
    intensity = pd.read_excel(REFERENCE, sheet_name="Intensity")
    if "variant" in intensity.columns:
        intensity = intensity[intensity["variant"].fillna("standard") == "standard"]
    kg = products["product"].map(intensity.groupby("product")["kg_per_unit"].sum()).fillna(0)
    lost = float(products["lost_value"].sum())
    assumed = products["product"].isin(assumed_value_products())
    return {
        "short_t": float((products["lost_units"] * kg).sum() / 1000),
        "demand_t": float((products["units"] * kg).sum() / 1000),
        "assumed_share": float(products.loc[assumed, "lost_value"].sum() / lost) if lost else 0.0,
    }


def scenarios(out: Path) -> pd.DataFrame:
    """Scenario name, lost value and value service level, base first."""
    run(["whatif", str(REFERENCE), "--overwrite", "-o", str(out)])
    raw = pd.read_excel(out, sheet_name="Scenarios", header=None)
    header = next(i for i in range(len(raw)) if raw.iloc[i, 0] == "kpi")
    table = raw.iloc[header + 1 :].copy()
    table.columns = [str(c) for c in raw.iloc[header]]
    table = table.set_index("kpi")
    names = [c for c in table.columns if not c.endswith(" change")]
    rows = [
        (
            name,
            float(table.loc["lost_value", name]),
            float(table.loc["value_service_level", name]),
        )
        for name in names
    ]
    return pd.DataFrame(rows, columns=["scenario", "lost_value", "value_service_level"])


def scenario_notes() -> dict[str, str]:
    """The first note of each scenario on the Scenarios sheet."""
    sheet = pd.read_excel(REFERENCE, sheet_name="Scenarios")
    return sheet.groupby("scenario")["note"].first().to_dict()


def sweep(s: Sweep, lanes: bool, out: Path) -> pd.DataFrame:
    """Lost value and value service level at each value of a driving parameter."""
    vary = s.vary_lanes if lanes else s.vary
    grid = ["--from", str(s.start), "--to", str(s.stop), "--steps", str(s.steps)]
    run(["sweep", str(REFERENCE), "--vary", vary, *grid, "-q", "--overwrite", "-o", str(out)])
    curve = pd.read_excel(out, sheet_name="Sweep totals")
    return curve[["value", "lost_value", "value_service_level"]]


def section(
    layout: str,
    by_sector: pd.DataFrame,
    kpis: dict[str, float],
    whatif: pd.DataFrame,
    notes: dict[str, str],
    sweeps: list[tuple[Sweep, pd.DataFrame]],
) -> str:
    """The Markdown of "What the reference says"."""
    lines = [
        START,
        "## What the reference says",
        "",
        "Written by `inputs/what_the_reference_says.py` from `exposure run`, `exposure whatif`"
        " and `exposure sweep` on `inputs/reference.xlsx`; re-run it after any change, never"
        " edit the figures by hand. Eight quarters, 2026-Q1 to 2027-Q4; priority objective.",
        "",
    ]
    if layout == "compat":
        lines += [
            "> Measured on the **compat layout**: the code that ran it does not yet read end"
            " uses, markets, lead times, variants or restrictions, so defence takes Chinese"
            " magnets, there is no licensing delay and the low-HREE grades go unused. Re-run"
            " after the lanes merge for the figures of the full instance.",
            "",
        ]
    lines += [
        f"**Headline:** {usd(kpis['lost_value'])} of {usd(kpis['demand_value'])} demanded is"
        f" lost (value service level {kpis['value_service_level']:.1%}). In tonnes:"
        f" {kpis['short_t']:,.0f} t of magnet short of {kpis['demand_t']:,.0f} t wanted"
        f" ({kpis['short_t'] / kpis['demand_t']:.1%}). The LP cuts the products with the"
        " least value per kg of magnet first, so the USD figure is those tonnes times the"
        f" value of the products cut; {kpis['assumed_share']:.0%} of the lost value is in"
        " products whose unit value is an assumption (About register), not a sourced price.",
        "",
        "| sector | value demanded | lost value | share lost |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in by_sector.itertuples():
        share = r.lost_value / r.demand_value if r.demand_value else 0.0
        lines.append(f"| {r.sector} | {usd(r.demand_value)} | {usd(r.lost_value)} | {share:.1%} |")
    lines += [
        "",
        "### Scenarios (Scenarios sheet), each against the base",
        "",
        "| scenario | what it repeats or assumes | lost value | change | value service level |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    base = float(whatif.loc[whatif["scenario"] == "base", "lost_value"].iloc[0])
    for r in whatif.itertuples():
        note = "the record as fitted" if r.scenario == "base" else notes.get(r.scenario, "")
        change = "" if r.scenario == "base" else usd(r.lost_value - base)
        lines.append(
            f"| {r.scenario} | {note} | {usd(r.lost_value)} | {change} |"
            f" {r.value_service_level:.1%} |"
        )
    lines += [
        "",
        "### How sensitive the headline is",
        "",
        "Each table sets one input (every row that its match selects) and re-solves; all else"
        " stays at the base. Read them before quoting the headline.",
    ]
    for s, curve in sweeps:
        lines += [
            "",
            f"**{s.title}.** Base: {s.base}. Why it drives: {s.why}.",
            "",
            "| value | lost value | value service level |",
            "| ---: | ---: | ---: |",
        ]
        for r in curve.itertuples():
            value = f"{r.value:.0%}" if s.percent else f"{r.value:,.2f}".rstrip("0").rstrip(".")
            lines.append(f"| {value} | {usd(r.lost_value)} | {r.value_service_level:.1%} |")
    skipped = [s.title for s in SWEEPS if s.lanes_only and layout != "lanes"]
    if skipped:
        lines += ["", "Not measurable in this layout: " + "; ".join(skipped) + "."]
    lines += ["", END]
    return "\n".join(lines)


def rewrite(readme: str, new: str) -> str:
    """The README with the marked section replaced (appended before 'Regenerating' if new)."""
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + new + tail
    anchor = "## Regenerating"
    if anchor in readme:
        head, tail = readme.split(anchor, 1)
        return head + new + "\n\n" + anchor + tail
    return readme.rstrip("\n") + "\n\n" + new + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="do not rebuild reference.xlsx")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    if not args.no_build:
        sys.path.insert(0, str(HERE))
        import build_reference

        build_reference.main(["--out", str(REFERENCE)])
    layout = layout_of(REFERENCE)
    lanes = layout == "lanes"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        printed, by_sector, kpis = base_run(ROOT / "results" / "reference-results.xlsx")
        whatif = scenarios(work / "whatif.xlsx")
        curves = [
            (s, sweep(s, lanes, work / f"sweep{i}.xlsx"))
            for i, s in enumerate(SWEEPS)
            if lanes or not s.lanes_only
        ]
    new = section(layout, by_sector, kpis, whatif, scenario_notes(), curves)
    old = README.read_text(encoding="utf-8")
    updated = rewrite(old, new)
    quick = printed.replace(str(ROOT) + "/", "")  # as `make run` prints it
    print("Quick-start block for README.md and the upload page (make run):\n")
    print("```\n" + quick + "\n```\n")
    if args.check:
        if updated != old:
            sys.stdout.writelines(
                difflib.unified_diff(old.splitlines(True), updated.splitlines(True), "old", "new")
            )
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    print(f"rewrote the 'What the reference says' section of {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
