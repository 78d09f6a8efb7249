"""Build the shipped reference input workbook ``inputs/reference.xlsx``.

The instance: the ex-China market for sintered NdFeB and SmCo magnets and the rare-earth
oxides they are made from (NdPr, Dy, Tb, Sm), four quarters of 2026, under China's dual-use
export licences (MOFCOM & GAC Announcement No. 18 [2025]).

Every number below is wrapped in one of three helpers so that the About sheet can list it:

* ``src(value, source)``            a public figure from ``/work/shared/reference-data.md``
* ``der(value, formula, source)``   derived from cited figures; the formula is shown
* ``asm(value, why)``               a planner's assumption (never presented as sourced)

Source strings carry the tag of reference-data.md section 9 (``[S9]``) and the year the figure
refers to. Product values from reference-data.md section 11 carry the untagged marker ``[§11]``.

Units: material quantities are tonnes per quarter, money is USD, rates are fractions.

Run::

    .venv/bin/python inputs/build_reference.py            # writes inputs/reference.xlsx
    .venv/bin/python inputs/build_reference.py --out X.xlsx

The output is byte-for-byte deterministic (fixed document timestamps and zip entry times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

DEFAULT_OUT = Path(__file__).resolve().parent / "reference.xlsx"
FIXED_TIME = dt.datetime(2026, 11, 1, 0, 0, 0)
ZIP_TIME = (2026, 11, 1, 0, 0, 0)
QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")
REGIME = "CN-MOFCOM"


# --------------------------------------------------------------------------------------------
# Numbers with provenance
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    """A number in the workbook together with its basis and source."""

    value: float
    basis: str
    source: str = ""


def src(value: float, source: str) -> Num:
    """A figure taken as published."""
    return Num(value, "sourced", source)


def der(value: float, formula: str, source: str) -> Num:
    """A figure derived from cited figures; ``formula`` shows how."""
    return Num(value, f"derived: {formula}", source)


def asm(value: float, why: str) -> Num:
    """A planner's assumption (source left blank on purpose)."""
    return Num(value, f"assumption: {why}")


# Source labels: tag, publisher, year the figure refers to.
S5 = "[S5] IEA commentary, 2025"
S6_S5 = "[S6] Argus 2024; [S5] IEA 2025"
S8 = "[S8] Argus, 2024 average"
S9 = "[S9] Adamas / China customs, 2024"
S14 = "[S14] MOFCOM & GAC Ann. No. 70, 2025"
S16 = "[S16] CLEPA via Reuters, Jun 2025"
S16A = "[S16a] CLEPA via Reuters, 30 Jun 2025"
S17 = "[S17] EU Chamber of Commerce in China, Sep 2025"
S18 = "[S18] Reuters/FT (Dexter Magnetic), Jun 2025"
S19 = "[S19] Reuters, Dec 2025"
S21 = "[S21] Lynas FY25 results (year to Jun 2025)"
S21CD = "[S21c] Fastmarkets 2024; [S21d] rawmaterials.net, Oct 2025"
S22 = "[S22] MP Materials, 2025"
S22A = "[S22a] MP-DoD partnership, 2025"
S22B = "[S22b] MP Materials Q3 2025 results"
S23 = "[S23] Neo Performance, 2025"
S23A = "[S23a] Metalnomist, Dec 2025"
S28 = "[S28] Noveon, 2023"
S29 = "[S29] USA Rare Earth, 2025"
S32 = "[S32] Heim & Vander Wal, 2023 (data 2013)"
S35 = "[S35] IEA Global EV Outlook 2025 (2024 data)"
S36 = "[S36] GWEC Global Wind Report 2025 (2024 data)"
S37 = "[S37] IDC, Jan 2025 (2024 data)"
S39 = "[S39] Oeko-Institut, 2012"
S40 = "[S40] magnet datasheets (low confidence)"
S43 = "[S43] Argus Europe via GMT Eight / SMM, May 2025"
S65 = "[S65] NYT via NZ Herald, 2025"
S70 = "[S70] Courage Magnet blog, end-2022 (low confidence)"
S77_S32 = "[S77] Windpower Engineering c.2012; [S32] Heim & Vander Wal 2023"
R11_PHONE = "[§11] Counterpoint Research Market Monitor, 2024"
R11_BEV = "[§11] JATO Dynamics, Dec 2024"
R11_WIND = "[§11] BloombergNEF WTPI / BNEF, 2023-24"
R11_F35 = "[§11] F-35 Joint Program Office, lots 15-19 (2023-25)"

# Recurring cited figures (USD per tonne unless stated).
P_NDPR_CN = src(53_600, S8)  # NdPr oxide China avg $53.6/kg
P_DY_CN = der(251_000, "1,837 yuan/kg at 7.31 CNY/USD x 1000", S8)
P_TB_CN = der(792_000, "5,789 yuan/kg at 7.31 CNY/USD x 1000", S8)
P_DY_EU = der(850_000, "midpoint of $700-1,000/kg Europe x 1000", S43)
P_TB_EU = der(3_000_000, "midpoint of $2,000-4,000/kg Europe x 1000", S43)
P_NDPR_FLOOR = src(110_000, S22A)  # DoD-MP NdPr floor $110/kg
P_NDPR_WEST = asm(110_000, "ex-China separators priced at the US NdPr floor $110/kg [S22a]")
P_NDFEB_CN = der(49_180, "US$2.86 bn / 58,152 t exports, rounded", S9)
P_SM = asm(20_000, "no reliable public Sm price (reference-data section 6 gap); placeholder")
P_SMCO = asm(100_000, "no public SmCo magnet price found; placeholder")


def holding(price: float, what: str) -> Num:
    """Holding cost: 2% of the unit price per quarter (assumption)."""
    return asm(round(price * 0.02), f"2% of the {what} price per quarter: 0.02 x {price:,.0f}")


# Demand sizing for the ex-China market, t NdFeB per quarter.
EXCN_TOTAL_T = (58_152 + 19_000) / 4  # China exports [S9] + ex-China output (D, section 2b)
EXCN_EV_PER_Q = (17_000_000 - 11_000_000) / 4  # ex-China electric cars [S35]
EXCN_WIND_MW_PER_Q = (117_000 - 79_800) / 4  # ex-China wind additions, MW [S36]
EXCN_PHONES_PER_Q = 1_240_000_000 * 0.4 / 4  # 40% of smartphones assembled outside China
BOTTOM_UP_T = (
    EXCN_EV_PER_Q * 0.6 * 2.0 / 1000  # BEV
    + EXCN_EV_PER_Q * 0.4 * 1.3 / 1000  # PHEV
    + EXCN_WIND_MW_PER_Q * 0.2 * 625 / 1000  # direct-drive
    + EXCN_WIND_MW_PER_Q * 0.3 * 62.5 / 1000  # geared PM
    + EXCN_PHONES_PER_Q * 0.00019 / 1000  # smartphones
    + 175 * 2 / 4  # defence NdFeB
)
RESIDUAL_T = EXCN_TOTAL_T - BOTTOM_UP_T
RESIDUAL_TXT = f"residual ex-China NdFeB demand {EXCN_TOTAL_T:,.0f} - {BOTTOM_UP_T:,.0f}"
RESIDUAL_TXT += f" = {RESIDUAL_T:,.0f} t/qtr [S9][S6][S5]"


def residual_units(share: float, kg: float) -> int:
    """Units per quarter taking ``share`` of the residual tonnage at ``kg``/unit (3 sig. fig.)."""
    units = RESIDUAL_T * share / kg * 1000
    return round(units, 3 - len(str(int(units))))


# --------------------------------------------------------------------------------------------
# Sheets: one data section per sheet. Rows are tuples in header order; None = blank cell.
# --------------------------------------------------------------------------------------------
PERIODS_COLUMNS = ("period", "label", "start")
PERIODS = [
    ("2026-Q1", "Q1 2026 (Jan-Mar)", dt.date(2026, 1, 1)),
    ("2026-Q2", "Q2 2026 (Apr-Jun)", dt.date(2026, 4, 1)),
    ("2026-Q3", "Q3 2026 (Jul-Sep)", dt.date(2026, 7, 1)),
    ("2026-Q4", "Q4 2026 (Oct-Dec)", dt.date(2026, 10, 1)),
]

NO_FLOOR = "no strategic minimum stock in the base case"
MATERIALS_COLUMNS = ("material", "name", "form", "initial_stock", "min_stock", "holding_cost")
MATERIALS = [
    (
        "NDPR_OX",
        "NdPr oxide (didymium, Nd:Pr 75:25)",
        "oxide",
        asm(1_000, "ex-China working inventory ~40 days of full plant need (~2,280 t/qtr)"),
        asm(0, NO_FLOOR),
        holding(53_600, "China NdPr oxide [S8]"),
    ),
    (
        "DY_OX",
        "Dysprosium oxide",
        "oxide",
        asm(25, "ex-China working inventory ~4 weeks of full plant need (~87 t/qtr)"),
        asm(0, NO_FLOOR),
        holding(251_000, "China Dy oxide [S8]"),
    ),
    (
        "TB_OX",
        "Terbium oxide",
        "oxide",
        asm(6, "ex-China working inventory ~4 weeks of full plant need (~22 t/qtr)"),
        asm(0, NO_FLOOR),
        holding(792_000, "China Tb oxide [S8]"),
    ),
    (
        "SM_OX",
        "Samarium oxide",
        "oxide",
        asm(0.3, "small ex-China inventory; China was the sole Sm source [S65]"),
        asm(0, NO_FLOOR),
        holding(20_000, "placeholder Sm"),
    ),
    (
        "NDFEB",
        "Sintered NdFeB magnet (Dy/Tb-bearing grades)",
        "magnet",
        asm(3_000, "pipeline inventory ~2 weeks of ex-China demand (~19,300 t/qtr)"),
        asm(0, NO_FLOOR),
        holding(49_180, "China NdFeB export [S9]"),
    ),
    (
        "SMCO",
        "SmCo magnet (Sm2Co17)",
        "magnet",
        asm(1, "small ex-China inventory held by defence suppliers"),
        asm(0, NO_FLOOR),
        holding(100_000, "placeholder SmCo"),
    ),
]

REGIMES_COLUMNS = ("regime", "name", "authority")
REGIMES = [
    (
        REGIME,
        (
            "China dual-use export licences for medium/heavy rare earths and Dy/Tb/Sm magnets "
            "(MOFCOM & GAC Announcement No. 18 [2025], in force since 4 Apr 2025)"
        ),
        "Ministry of Commerce (MOFCOM) and General Administration of Customs (GAC), PRC",
    ),
]

# Controlled by Announcement No. 18: Dy, Tb, Sm (oxides etc.), SmCo magnets and Dy/Tb-containing
# NdFeB magnets [S12]. NdPr oxide is NOT listed, so it has no row (uncontrolled).
HRE_RATE = src(0.25, S16)  # "only a quarter" granted
HRE_LOW = der(0.13, "19 approved / 141 applied = 0.135, rounded down", S17)
HRE_HIGH = src(0.60, S16A)  # rate "risen to 60%"
SM_RATE = der(0.03, "5 licences / 180 applied = 0.028, rounded", S18)
SM_LOW = src(0.0, "[S65] NYT via NZ Herald, Jun 2025 (no Sm approvals seen)")
SM_HIGH = src(0.25, S16)
PRE_CONTROL = asm(1.0, "1.0 = pre-April-2025 flows; general licences from Dec 2025 [S19]")
LICENCES_COLUMNS = (
    "regime",
    "material",
    "period",
    "approval_rate",
    "approval_low",
    "approval_high",
)
LICENCES = [
    (REGIME, "DY_OX", None, HRE_RATE, HRE_LOW, HRE_HIGH),
    (REGIME, "TB_OX", None, HRE_RATE, HRE_LOW, HRE_HIGH),
    (REGIME, "SM_OX", None, SM_RATE, SM_LOW, SM_HIGH),  # military Sm: "no sign" of approvals
    (REGIME, "SMCO", None, SM_RATE, SM_LOW, SM_HIGH),
    (REGIME, "NDFEB", None, HRE_HIGH, src(0.25, S16), PRE_CONTROL),
    (  # Q4 override: suspension of the October 2025 measures lapses 10 Nov 2026 [S14]
        REGIME,
        "NDFEB",
        "2026-Q4",
        asm(0.45, "partial re-tightening when the No. 70 suspension lapses on 10 Nov 2026 [S14]"),
        HRE_LOW,
        PRE_CONTROL,
    ),
]

SOURCES_COLUMNS = ("source", "country", "regime", "name")
SOURCES = [
    ("CN-MAGNETS", "CN", REGIME, "Chinese NdFeB magnet exporters (JL Mag, Ningbo Yunsheng, ...)"),
    ("CN-SMCO", "CN", REGIME, "Chinese SmCo magnet exporters"),
    ("CN-OXIDES", "CN", REGIME, "Chinese rare-earth oxide exporters (separators and traders)"),
    ("LYNAS", "MY", None, "Lynas Rare Earths (Mt Weld/Kalgoorlie AU, Kuantan MY)"),
    ("MP", "US", None, "MP Materials, Mountain Pass (CA)"),
    ("NEO-SILMET", "EE", None, "Neo Performance Materials, Silmet (Sillamae)"),
    ("SOLVAY", "FR", None, "Solvay, La Rochelle"),
    ("ENERGY-FUELS", "US", None, "Energy Fuels, White Mesa (UT)"),
]

SUPPLY_COLUMNS = ("source", "material", "period", "capacity", "unit_cost")
SUPPLY = [
    ("CN-MAGNETS", "NDFEB", None, der(14_538, "58,152 t/yr 2024 exports / 4", S9), P_NDFEB_CN),
    (
        "CN-SMCO",
        "SMCO",
        None,
        asm(10, "China SmCo exports not in reference data; pre-control level assumed"),
        P_SMCO,
    ),
    (
        "CN-OXIDES",
        "NDPR_OX",
        None,
        asm(
            1_000,
            "China NdPr oxide exports not in reference data; ~6% of 2024 primary output"
            " (~65,000 t/yr [S55]) / 4",
        ),
        P_NDPR_CN,
    ),
    (
        "CN-OXIDES",
        "DY_OX",
        None,
        asm(
            90,
            "pre-control exports sized to cover ex-China plants' full Dy need (~87 t/qtr);"
            " Japan took 100% of its heavy RE from China [S54]",
        ),
        P_DY_CN,
    ),
    (
        "CN-OXIDES",
        "TB_OX",
        None,
        asm(22, "pre-control exports sized to cover ex-China plants' full Tb need (~22 t/qtr)"),
        P_TB_CN,
    ),
    (
        "CN-OXIDES",
        "SM_OX",
        None,
        asm(10, "China Sm oxide exports not in reference data; China sole Sm source [S65]"),
        P_SM,
    ),
    ("LYNAS", "NDPR_OX", None, der(1_639.5, "6,558 t NdPr FY25 / 4", S21), P_NDPR_CN),
    (
        "LYNAS",
        "DY_OX",
        None,
        asm(
            18.75,
            "1,500 t/yr HRE feed circuit [S21c] x ~5% Dy yield of the new HRE plant"
            " [S21d] / 4; Dy output not disclosed, yield applied to the existing circuit",
        ),
        P_DY_EU,
    ),
    (
        "LYNAS",
        "TB_OX",
        None,
        asm(3.75, "1,500 t/yr HRE feed [S21c] x ~1% Tb yield [S21d] / 4; Tb output not disclosed"),
        P_TB_EU,
    ),
    # Lynas Sm from April 2026 [S21d]; volume undisclosed, so a small ramp is assumed.
    ("LYNAS", "SM_OX", "2026-Q2", asm(0.1, "Sm output from Apr 2026 [S21d]; ramp assumed"), P_SM),
    ("LYNAS", "SM_OX", "2026-Q3", asm(0.2, "Sm ramp assumed (volume undisclosed [S21d])"), P_SM),
    ("LYNAS", "SM_OX", "2026-Q4", asm(0.3, "Sm ramp assumed (volume undisclosed [S21d])"), P_SM),
    ("MP", "NDPR_OX", None, src(721, S22B), P_NDPR_FLOOR),  # Q3-2025 NdPr output, t/quarter
    # MP heavy-RE circuit ~200 t/yr Dy+Tb from mid-2026 [S22b]: 50% first-year ramp, 80:20 Dy:Tb.
    ("MP", "DY_OX", "2026-Q3", asm(20, "200 t/yr [S22b] / 4 x 50% ramp x 80% Dy share"), P_DY_EU),
    ("MP", "DY_OX", "2026-Q4", asm(20, "200 t/yr [S22b] / 4 x 50% ramp x 80% Dy share"), P_DY_EU),
    ("MP", "TB_OX", "2026-Q3", asm(5, "200 t/yr [S22b] / 4 x 50% ramp x 20% Tb share"), P_TB_EU),
    ("MP", "TB_OX", "2026-Q4", asm(5, "200 t/yr [S22b] / 4 x 50% ramp x 20% Tb share"), P_TB_EU),
    (
        "NEO-SILMET",
        "NDPR_OX",
        None,
        asm(187.5, "3,000 t/yr light-RE separation [S23] x 25% NdPr share / 4"),
        P_NDPR_WEST,
    ),
    (
        "SOLVAY",
        "NDPR_OX",
        None,
        asm(75, '"several hundred t" in 2025 [S24] read as 300 t/yr NdPr / 4'),
        P_NDPR_WEST,
    ),
    (
        "ENERGY-FUELS",
        "NDPR_OX",
        None,
        asm(106.25, "Phase 1 850 t/yr (low end) [S26] x 50% utilisation / 4"),
        P_NDPR_WEST,
    ),
]

CONVERSION = "conversion cost excluding oxide inputs; no public figure"
PLANTS_COLUMNS = ("plant", "country", "output", "capacity", "regime", "unit_cost")
PLANTS = [
    (
        "JP-INCUMBENTS",
        "JP",
        "NDFEB",
        der(
            4_200,
            "(ex-China output 19,000 t/yr [300,000 x 6/94] - Shin-Etsu VN 2,200) / 4;"
            " Japan is the main other producer",
            S6_S5 + "; [S70] 2022",
        ),
        None,
        asm(20_000, CONVERSION),
    ),
    (
        "SHINETSU-VN",
        "VN",
        "NDFEB",
        der(550, "2,200 t/yr / 4", S70),
        None,
        asm(15_000, CONVERSION),
    ),
    (
        "NEO-NARVA",
        "EE",
        "NDFEB",
        der(500, "2,000 t/yr Phase 1 / 4", S23),
        None,
        asm(30_000, CONVERSION + "; new plant"),
    ),
    (
        "MP-INDEPENDENCE",
        "US",
        "NDFEB",
        der(250, "~1,000 t/yr / 4", S22),
        None,
        asm(30_000, CONVERSION + "; new plant"),
    ),
    (
        "NOVEON",
        "US",
        "NDFEB",
        der(500, "2,000 t/yr / 4", S28),
        None,
        asm(30_000, CONVERSION + "; new plant"),
    ),
    (
        "USAR-STILLWATER",
        "US",
        "NDFEB",
        der(300, "1,200 t/yr initial / 4", S29),
        None,
        asm(30_000, CONVERSION + "; new plant"),
    ),
    (
        "ROW-SMCO",
        "US",
        "SMCO",
        asm(5, "aggregate ex-China SmCo makers (US/EU/JP); no public capacity figure"),
        None,
        asm(60_000, CONVERSION),
    ),
]

# t of oxide per t of magnet.
NDPR_PER_T = der(
    0.362,
    "0.31 t NdPr metal per t magnet / 0.857 oxide-to-metal",
    S40 + "; [S42a] Fastmarkets, 2024",
)
DY_PER_T = der(
    0.0138,
    "0.012 t Dy per t (top of 0.6-1.2% Dy range, EV/industrial grades) / 0.871 Dy2O3-to-metal",
    S40,
)
TB_PER_T = asm(0.0035, "0.003 t Tb per t (GBD grades use <0.6% Dy+Tb [S81]) / 0.850 Tb4O7")
SM_PER_T = der(0.29, "0.25 t Sm per t Sm2Co17 / 0.862 Sm2O3-to-metal", S40)
NDFEB_PLANTS = [p[0] for p in PLANTS if p[2] == "NDFEB"]
RECIPES_COLUMNS = ("plant", "input", "t_per_t")
RECIPES = [
    *[
        (plant, material, per_t)
        for plant in NDFEB_PLANTS
        for material, per_t in (("NDPR_OX", NDPR_PER_T), ("DY_OX", DY_PER_T), ("TB_OX", TB_PER_T))
    ],
    ("ROW-SMCO", "SM_OX", SM_PER_T),  # cobalt not modelled (not constrained here)
]

# Lanes (DESIGN 3a): MOFCOM refuses military end users in principle [S14], so the
# defence lane gets no Chinese NdFeB licence; US rules (DFARS 252.225-7052) bar Chinese
# SmCo magnets from US defence systems.
LICENCES_COLUMNS = (*LICENCES_COLUMNS, "end_use")
LICENCES = [(*row, None) for row in LICENCES] + [
    (
        REGIME,
        "NDFEB",
        None,
        asm(0.0, "military end users refused in principle [S14]"),
        None,
        None,
        "defence",
    ),
]
RESTRICTIONS_COLUMNS = ("material", "origin", "end_use", "note")
RESTRICTIONS = [
    ("SMCO", "CN", "defence", "DFARS 252.225-7052: no Chinese SmCo magnets in US defence systems"),
]

SECTORS_COLUMNS = ("sector", "name", "min_service", "weight")
SECTORS = [
    ("EV", "Electric vehicles (traction motors)", None, None),
    ("WIND", "Wind and other green technology", None, None),
    ("PHONES", "Smartphones and consumer electronics", None, None),
    ("HVAC", "Air-conditioning (inverter compressors and fans)", None, None),
    (
        "DEFENCE",
        "Defence and aerospace",
        asm(0.9, "planner's floor: defence keeps at least 90% of its output"),
        None,
    ),
    ("INDUSTRY", "Industrial motors, elevators, e-bikes", None, None),
]
SECTORS_COLUMNS = (*SECTORS_COLUMNS, "end_use")
SECTORS = [(*row, "defence" if row[0] == "DEFENCE" else None) for row in SECTORS]

NO_PRICE = "no sourced unit value in reference data (section 11 gap)"
DEMAND_COLUMNS = ("sector", "product", "period", "units", "value_per_unit")
DEMAND = [
    (
        "EV",
        "BEV_CAR",
        None,
        asm(900_000, "ex-China electric cars 17 M - 11 M = 6 M/yr [S35] x 60% BEV / 4"),
        src(55_000, R11_BEV),
    ),
    (
        "EV",
        "PHEV_CAR",
        None,
        asm(600_000, "ex-China electric cars 6 M/yr [S35] x 40% PHEV / 4"),
        asm(45_000, "below the BEV value; " + NO_PRICE),
    ),
    (
        "WIND",
        "WIND_DD_MW",
        None,
        asm(1_860, "ex-China additions 117 - 79.8 = 37.2 GW/yr [S36] x 20% direct-drive PM / 4"),
        src(1_000_000, R11_WIND),
    ),
    (
        "WIND",
        "WIND_GPM_MW",
        None,
        asm(2_790, "ex-China additions 37.2 GW/yr [S36] x 30% geared/medium-speed PM / 4"),
        src(1_000_000, R11_WIND),
    ),
    (
        "PHONES",
        "SMARTPHONE",
        None,
        asm(124_000_000, "1.24 bn shipments [S37] x 40% assembled outside China / 4"),
        src(356, R11_PHONE),
    ),
    (
        "PHONES",
        "CE_OTHER_T",
        None,
        asm(residual_units(0.30, 1000.0), f"30% of the {RESIDUAL_TXT}; units are t of magnet"),
        asm(2_000_000, "output value ~$2,000 per kg of magnet (HDD, audio); " + NO_PRICE),
    ),
    (
        "HVAC",
        "INVERTER_AC",
        None,
        asm(residual_units(0.30, 0.3), f"30% of the {RESIDUAL_TXT} / 0.3 kg per unit"),
        asm(800, NO_PRICE),
    ),
    (
        "INDUSTRY",
        "SERVO_MOTOR",
        None,
        asm(residual_units(0.30, 1.0), f"30% of the {RESIDUAL_TXT} / 1.0 kg per unit"),
        asm(1_500, NO_PRICE),
    ),
    (
        "INDUSTRY",
        "ELEVATOR",
        None,
        asm(residual_units(0.05, 10.0), f"5% of the {RESIDUAL_TXT} / 10 kg per unit"),
        asm(40_000, NO_PRICE),
    ),
    (
        "INDUSTRY",
        "EBIKE",
        None,
        asm(residual_units(0.05, 0.35), f"5% of the {RESIDUAL_TXT} / 0.35 kg per unit"),
        asm(1_500, NO_PRICE),
    ),
    (
        "DEFENCE",
        "F35",
        None,
        asm(38, "~150 F-35-class aircraft per year / 4; no delivery figure in reference data"),
        src(82_500_000, R11_F35),
    ),
    (
        "DEFENCE",
        "GUIDED_MUNITION",
        None,
        asm(5_000, "guided munitions with SmCo actuators per quarter; no public figure"),
        asm(500_000, NO_PRICE),
    ),
    (
        "DEFENCE",
        "DEF_NDFEB_T",
        None,
        asm(
            87.5,
            "US weapons NdFeB ~175 t/yr [S38c] (c.2012) x 2 for allies / 4; units are t of magnet",
        ),
        asm(50_000_000, "defence output at stake per t of magnet; " + NO_PRICE),
    ),
]

PER_T = "product measured in t of magnet: 1 unit = 1 t = 1,000 kg (DESIGN section 3)"
NO_INTENSITY = "no reliable public per-unit figure (reference-data section 5a gap)"
INTENSITY_COLUMNS = ("product", "material", "kg_per_unit")
INTENSITY = [
    ("BEV_CAR", "NDFEB", src(2.0, S23)),  # ~2 kg NdFeB per EV (2,000 t ~ 1 M EVs)
    ("PHEV_CAR", "NDFEB", der(1.3, "2,000 t / 1.5 M motors (low end of 1.3-2 kg)", S23A)),
    ("WIND_DD_MW", "NDFEB", src(625, S32)),  # low end of 625-850 kg/MW (4 OEMs)
    ("WIND_GPM_MW", "NDFEB", der(62.5, "geared PM ~10% of direct-drive: 0.1 x 625", S77_S32)),
    ("SMARTPHONE", "NDFEB", src(0.00019, S39)),  # magnet 190 mg per phone
    ("CE_OTHER_T", "NDFEB", der(1_000, PER_T, "")),
    ("INVERTER_AC", "NDFEB", asm(0.3, "compressor + fan motor magnets; " + NO_INTENSITY)),
    ("SERVO_MOTOR", "NDFEB", asm(1.0, NO_INTENSITY)),
    ("ELEVATOR", "NDFEB", asm(10.0, "gearless PM traction machine; " + NO_INTENSITY)),
    ("EBIKE", "NDFEB", asm(0.35, "hub motor; " + NO_INTENSITY)),
    ("F35", "SMCO", der(22.5, "midpoint of ~22-23 kg (~50 lb) SmCo per aircraft", S65)),
    ("GUIDED_MUNITION", "SMCO", asm(0.5, "fin actuators and seeker; no public figure")),
    ("DEF_NDFEB_T", "NDFEB", der(1_000, PER_T, "")),
]

SCENARIOS_COLUMNS = ("scenario", "sheet", "column", "match", "operation", "value", "note")
SCENARIOS = [
    (
        "CN_APPROVALS_10PCT",
        "Licences",
        "approval_rate",
        f"regime={REGIME}",
        "set",
        asm(0.1, "stress level below the EU Chamber's 13% [S17]"),
        "China approves 10% of every controlled licence",
    ),
    (
        "CN_DY_HALT",
        "Licences",
        "approval_rate",
        f"regime={REGIME}; material=DY_OX",
        "set",
        asm(0.0, "no Dy oxide licences (cf. Oct 2025 Dy exports -80% m/m [S63])"),
        "China stops licensing Dy oxide",
    ),
    (
        "LYNAS_HRE_RAMP",
        "Supply",
        "capacity",
        "source=LYNAS; material=DY_OX",
        "scale",
        asm(2.0, "new 5,000 t/yr HRE plant [S21d] partly on line"),
        "Lynas Malaysia heavy-RE output doubles",
    ),
    (
        "LYNAS_HRE_RAMP",
        "Supply",
        "capacity",
        "source=LYNAS; material=TB_OX",
        "scale",
        asm(2.0, "new 5,000 t/yr HRE plant [S21d] partly on line"),
        "Lynas Malaysia heavy-RE output doubles",
    ),
    (
        "EV_DEMAND_UP",
        "Demand",
        "units",
        "sector=EV",
        "scale",
        asm(1.2, "about two years of 8.7%/yr NdFeB demand growth [S33] (1.087^2 = 1.18)"),
        "Ex-China EV output 20% higher",
    ),
    (
        "MAY25_SHOCK",
        "Licences",
        "approval_rate",
        "regime=CN-*",
        "set",
        der(0.26, "1 - 0.74 (May 2025 magnet exports -74% y/y)", "[S11a] WSJ, May 2025"),
        "Repeat of the May 2025 export collapse",
    ),
    (
        "PRE_CONTROL",
        "Licences",
        "approval_rate",
        f"regime={REGIME}",
        "set",
        asm(1.0, "1.0 = pre-April-2025 flows (no licence refusals)"),
        "China licences everything (pre-April-2025 baseline)",
    ),
    (
        "GBD_THRIFT",
        "Recipes",
        "t_per_t",
        "plant=*; input=DY_OX",
        "scale",
        der(0.5, "grain-boundary diffusion uses 1/2 to 1/3 of Dy/Tb; 1/2 taken", "[S41] IEEE 2017"),
        "Ex-China plants halve Dy use by grain-boundary diffusion",
    ),
    (
        "GBD_THRIFT",
        "Recipes",
        "t_per_t",
        "plant=*; input=TB_OX",
        "scale",
        der(0.5, "grain-boundary diffusion uses 1/2 to 1/3 of Dy/Tb; 1/2 taken", "[S41] IEEE 2017"),
        "Ex-China plants halve Tb use by grain-boundary diffusion",
    ),
]


@dataclass(frozen=True)
class Table:
    """One input sheet: its columns, the columns that identify a row, and the rows."""

    name: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    rows: list[tuple]


TABLES = [
    Table("Periods", PERIODS_COLUMNS, ("period",), PERIODS),
    Table("Materials", MATERIALS_COLUMNS, ("material",), MATERIALS),
    Table("Regimes", REGIMES_COLUMNS, ("regime",), REGIMES),
    Table("Licences", LICENCES_COLUMNS, ("regime", "material", "period", "end_use"), LICENCES),
    Table("Sources", SOURCES_COLUMNS, ("source",), SOURCES),
    Table("Supply", SUPPLY_COLUMNS, ("source", "material", "period"), SUPPLY),
    Table("Plants", PLANTS_COLUMNS, ("plant",), PLANTS),
    Table("Recipes", RECIPES_COLUMNS, ("plant", "input"), RECIPES),
    Table("Sectors", SECTORS_COLUMNS, ("sector",), SECTORS),
    Table("Demand", DEMAND_COLUMNS, ("sector", "product", "period"), DEMAND),
    Table("Intensity", INTENSITY_COLUMNS, ("product", "material"), INTENSITY),
    Table("Restrictions", RESTRICTIONS_COLUMNS, ("material", "origin", "end_use"), RESTRICTIONS),
    Table("Scenarios", SCENARIOS_COLUMNS, ("scenario",), SCENARIOS),
]

# Full citations (reference-data.md section 9) for the tags used above.
CITATIONS: dict[str, str] = {
    "S5": (
        "IEA commentary (23 Oct 2025) via Rare Earth Exchanges,"
        " https://rareearthexchanges.com/news/the-mineral-chessboard-iea-sounds-alarm-as-china-tightens-its-grip"
    ),
    "S6": (
        "Argus (E. Saklatvala, 15 Jan 2025) via MineListings,"
        " https://minelistings.com/mine-news/mp-materials-produces-rare-earth-metal-in-texas"
    ),
    "S8": (
        'Argus, "China\'s recycled rare earth output falls in 2024" (2025),'
        " https://www.argusmedia.com/metals-platform/newsandanalysis/article/2678157-China-s-recycled-rare-earth-output-falls-in-2024"
    ),
    "S9": (
        'Adamas Intelligence, "Record rare earth magnet exports from China in 2024",'
        " https://www.adamasintel.com/record-rare-earth-magnet-exports-from-china-in-2024/"
    ),
    "S11": (
        "Bloomberg (18–20 Jun 2025) via Business Standard"
        " https://www.business-standard.com/amp/world-news/china-s-rare-earth-exports-hit-five-year-low-as-magnet-sales-curbs-125061801486_1.html"
        " ; (a) WSJ via Automotive World"
        " https://www.automotiveworld.com/news/chinese-rare-earth-exports-collapsed-74-yoy-in-may/"
        " ; (b) Bloomberg via"
        " https://main.d358xbzettaslu.amplifyapp.com/en/article/e0c6b862ae57ba721c920b82a11ef272"
        " and"
        " https://sglatestnews.biz/chinas-rare-earth-exports-slump-in-may-as-magnet-sales-curbed"
        " ; US −93.3% via Ground News"
        " https://ground.news/article/chinas-rare-earth-magnet-export-volume-drops-to-a-decade-low"
    ),
    "S12": (
        "MOFCOM & GAC Announcement No. 18 [2025] (4 Apr 2025), English translations:"
        " https://osencmagnet.com/export-controls-on-rare-earth-elements/ ;"
        " https://www.hymagnetics.com/news_detail/24.html ; MOFCOM Q&A"
        " https://en.ckhq.net/html/d690b55870b095a96960f687dc9020ef.html ; (a) exporter"
        " practice (45 business days, HS inspection) https://teslam.co.jp/newsen/694.html"
    ),
    "S14": (
        "MOFCOM & GAC Announcement No. 70 [2025] (7 Nov 2025):"
        " https://www.chemradar.com/en/news/detail/f3s7t2oy9qf4 ; Pillsbury"
        " https://www.pillsburylaw.com/en/news-and-insights/china-suspends-export-controls-certain-critical-minerals-related-items.html"
    ),
    "S16": (
        "CLEPA via Reuters (4 Jun 2025)"
        " https://todayheadline.co/european-auto-supplier-plants-shut-081958659-html/ ; (a)"
        " Reuters (30 Jun 2025)"
        " https://www.hindustantimes.com/world-news/us-news/chinas-rare-earths-are-flowing-again-but-not-freely-101751251601471.html"
    ),
    "S17": (
        "EU Chamber of Commerce in China (Sep 2025):"
        " https://particle.news/story/eu-chamber-reports-surge-in-production-halts-as-chinas-rare-earth-licenses-stall"
        " ;"
        " https://miamidaily.life/world/chinas-rare-earth-curbs-how-european-firms-face-shutdowns-despite-eu-deal"
    ),
    "S18": (
        "Reuters/FT (Jun 2025) via The Oregon Group,"
        " https://theoregongroup.com/commodities/rare-earths/chinas-rare-earth-restrictions-easing-but-us-supply-still-de-prioritized"
    ),
    "S19": (
        "Reuters (Dec 2025) via Tom's Hardware"
        " https://www.tomshardware.com/tech-industry/china-issues-first-batch-of-general-rare-earth-export-licenses-to-magnet-makers"
        " and TRT https://www.trtworld.com:443/article/b8d356291765"
    ),
    "S21": (
        "Lynas FY25 results (Aug 2025)"
        " https://www.middle.news/articles/2025/08/27/lynas-accelerates-rare-earths-growth-with-record-production-and-750m-raise"
        " ; (a) Mt Weld/price https://www.australianmining.com.au/lynas-mt-weld-gets-a-boost/"
        " ; (b) first Dy (16 May 2025)"
        " https://www.australianmining.com.au/lynas-produces-worlds-first-dysprosium-outside-of-china/"
        " ; (c) Fastmarkets (27 Jun 2024)"
        " https://fastmarkets.com/insights/lynas-to-produce-dysprosium-terbium-oxide-in-malaysia"
        " ; (d) new HRE plant (Oct 2025)"
        " https://rawmaterials.net/lynas-expands-heavy-rare-earth-production-in-malaysia and"
        " https://www.itiger.com/hans/news/2579919202 ; (e) H1 FY25 report"
        " https://stocksavvy.ai/filings/lynas-rare-earths-limited-asx/half-year-report-fy25-including-annexure-4d"
    ),
    "S22": (
        "MP Materials press release 22 Jan 2025 (SEC Ex. 99.1)"
        " https://www.sec.gov/Archives/edgar/data/1801368/000162828025002096/mpmcexhibit9911222025.htm"
        " ; (a) DoD partnership (10 Jul 2025)"
        " https://www.adamasintel.com/mp-materials-announces-transformational-partnership-with-the-us-department-of-defense"
        " , https://fas.org/publication/unpacking-dod-and-mp-partnership ; (b) Q2/Q3 2025"
        " results https://rareearthexchanges.com/?p=14660 ,"
        " https://script.finanzen.at/nachrichten/aktien/mp-materials-hits-record-high-on-strong-output--pentagon-and-apple-deals-14708598"
        " ; (c) Apple deal (15 Jul 2025)"
        " https://www.daily8.com/en/article/8eccba4012d749035704a2cf9a6abb0a"
    ),
    "S23": (
        "Neo Performance: Argus"
        " https://www.argusmedia.com/de/news-and-insights/latest-market-news/2465359-magnequench-starts-building-estonia-re-magnet-plant"
        " ; Automotive World (19 Sep 2025)"
        " https://www.automotiveworld.com/articles/neo-opens-estonia-rare-earth-plant-to-cut-eu-reliance-on-china/"
        " ; (a) Metalnomist (Dec 2025)"
        " https://www.metalnomist.com/2025/12/neo-estonia-rare-earth-magnet-plant.html and"
        " http://www.earths-book.com/index-1075.html"
    ),
    "S24": (
        "Solvay press release (9 Apr 2025)"
        " https://www.automotiveworld.com/news-releases/solvay-advances-european-rare-earths-production-through-capacity-expansion/"
        " ; (a) https://24brussels.online/?p=13798 , https://specchemonline.com/node/10107 ;"
        " (b) CRMA targets https://evertiq.com/news/56133"
    ),
    "S26": (
        "Energy Fuels:"
        " https://engineeringnews.co.za/print-version/energy-fuels-achieves-commercial-production-of-separated-rare-earths-at-white-mesa-2024-06-11"
        " ; PR (21 Aug 2025)"
        " https://crweworld.com/article/news-provided-by-pr-newswire/3700873/ ; Phase 2 BFS"
        " https://web3.ouzhyi.onl/it/discover/post/65954887756000 (low) ;"
        " https://www.metalnomist.com/2025/09/energy-fuels-heavy-rare-earth-oxides.html"
    ),
    "S28": ("Noveon (Feb 2023) https://noveon.co/noveon-jumpstart"),
    "S29": (
        "USA Rare Earth"
        " https://minelistings.com/mine-news/usa-rare-earth-produces-first-batch-of-magnets-at-oklahoma-plant"
    ),
    "S32": (
        "Heim, J.W. & Vander Wal, R.L. (2023) Minerals 13(10):1274, doi:10.3390/min13101274 ;"
        " https://encyclopedia.pub/entry/50309"
    ),
    "S33": (
        "Adamas, Rare Earth Magnet Market Outlook to 2040 (Q3 2024)"
        " https://adamasintel.com/rare-earth/rare-earth-magnet-market-outlook-to-2040 ; (a)"
        " 2023 edition via Green Car Congress"
        " https://www.greencarcongress.com/2023/05/20230506-adamas.html ; (b) 2020 release"
        " https://www.greencarcongress.com/2020/08/20200818-admas.html"
    ),
    "S35": (
        "IEA, Global EV Outlook 2025 (May 2025)"
        " https://electricalindustry.ca/latest-articles/iea-global-ev-outlook-2025"
    ),
    "S36": (
        "GWEC, Global Wind Report 2025 (23 Apr 2025)"
        " https://www.aa.com.tr/en/energy/renewable/global-wind-power-capacity-sees-record-growth-in-2024/48755"
    ),
    "S37": (
        "IDC (Jan 2025)"
        " https://iconnect007.com//article/143788/worldwide-smartphone-shipments-grew-64-in-2024-despite-macro-challenges/143785/ein"
    ),
    "S38": (
        "CRS (F-35 417 kg) via i-HLS https://i-hls.com/archives/107068 ; (a) 920 lb / 5,200"
        " lb / 9,200 lb https://asiatimes.com/tag/vital-metals/ ,"
        " https://www.metaltechnews.com/story/2025/07/16/tech-metals/dod-commits-billions-to-us-rare-earths/2370.html"
        " ; (b) Benchmark via Foreign Policy https://arkforgeai.com/article/51912 ; (c) DoD"
        " 175 t/yr"
        " https://www.raremetalblog.com/pentagon-says-f-35s-use-chinese-rare-earths-us-supply-to-rise/"
    ),
    "S39": (
        "Oeko-Institut (2012) Recycling critical raw materials from waste electronic"
        " equipment, Table 25,"
        " https://www.yumpu.com/en/document/view/5287021/recycling-critical-raw-materials-from-waste-electronic-equipment/47"
        " ; (a) Univ. of Plymouth (2019)"
        " https://plymouth.ac.uk/news/scientists-use-a-blender-to-reveal-whats-in-our-smartphones"
    ),
    "S40": (
        "Magnet composition datasheets: http://www.couragemagnet.com/faq/324.html ;"
        " https://www.couragemagnet.com/magnet-blog/366.html ;"
        " https://www.stanfordmagnets.com/smco-magnets-composition-series-and-types.html (low)"
    ),
    "S41": (
        "IEEE Electrification Magazine (Mar 2017)"
        " https://www.nxtbook.com/nxtbooks/pes/electrification_march2017/index.php?startid=20"
    ),
    "S42": (
        "Fastmarkets assessments 2024:"
        " https://www.fastmarkets.com/insights/china-rare-earth-prices-turn-higher-as-sellers-insist-on-higher-prices/"
        " ; (a)"
        " https://fastmarkets.com/insights/lynas-to-produce-dysprosium-terbium-oxide-in-malaysia"
        " ; (b) https://www.fastmarkets.com/?p=57207"
    ),
    "S43": (
        "Argus Europe Dy/Tb (6 May 2025) via GMT Eight"
        " https://gmteight.com/latest/detail/282683 ; SMM (May 2025)"
        " https://news.metal.com/newscontent/103310477/"
    ),
    "S54": (
        "Nikkei via TrendForce (24 Jun 2025)"
        " https://www.trendforce.com/news/2025/06/24/news-japan-reportedly-develops-tech-to-cut-heavy-rare-earth-use-amid-dependence-on-china/"
    ),
    "S55": (
        "Metalnomist (Aug 2024)"
        " https://metalnomist.com/2024/08/increased-supplies-and-weak-demand.html"
    ),
    "S63": ("TRADIUM via Rare Earth Exchanges https://rareearthexchanges.com/?p=20206"),
    "S65": (
        "New York Times (Jun 2025) via NZ Herald"
        " https://www.nzherald.co.nz/world/chinas-chokehold-on-an-obscure-mineral-threatens-the-wests-militaries/UOOHX6SN4VDNTNQ4TBZDZOQBIE"
    ),
    "S70": (
        "Courage Magnet blog (capacities as of end-2022)"
        " https://www.couragemagnet.com/magnet-blog/871.html (low)"
    ),
    "S77": (
        "Windpower Engineering (c.2012)"
        " https://www.windpowerengineering.com/bummer-china-slows-pm-materials-so-oems-looking-elsewhere/"
        " (historical)"
    ),
    "S81": (
        "Mainrich (vendor)"
        " https://www.mainrichinternational.com/compare/gbd-vs-bulk-alloyed-ndfeb-magnet ;"
        " https://www.mainrichinternational.com/success-stories/lawn-mower-motors (low)"
    ),
}

SECTION_11 = [
    (
        "§11",
        (
            "Counterpoint Research Market Monitor: global smartphone average selling price USD 356"
            " (2024), as reported by ictbusiness.biz and digitalinformationworld.com (Feb 2025)"
        ),
    ),
    (
        "§11",
        (
            "JATO Dynamics 'EV price gap' reports: US average EV about USD 55,000 (Dec 2024), as"
            " reported by am-online.com (Oct 2023) and effizziemagz.com (2025)"
        ),
    ),
    (
        "§11",
        (
            "BloombergNEF Wind Turbine Price Index: about USD 1 million per MW as the recent"
            " ballpark; BNEF '2023 Global Wind Turbine Market Shares'"
        ),
    ),
    (
        "§11",
        (
            "F-35 Joint Program Office: F-35A unit recurring flyaway cost about USD 82.5 million"
            " (lots 15-19), as reported (factually.co summary)"
        ),
    ),
]

ABOUT_TEXT = [
    "Rare-earth supply-chain exposure calculator: reference input workbook",
    (
        "Instance: the ex-China market for sintered NdFeB and SmCo magnets and their rare-earth"
        " oxides (NdPr, Dy, Tb, Sm) over the four quarters of 2026, supplied by Chinese exporters"
        " under China's dual-use export licences (MOFCOM & GAC Announcement No. 18 [2025]) and by"
        " non-Chinese producers. China's domestic use is not under export control and is left out."
    ),
    (
        "Prepared 2026-11. Units: material quantities in t per quarter; costs and values in USD"
        " (USD/t, USD/t/period, USD/unit); kg_per_unit in kg; rates are fractions (shown as %)."
    ),
    (
        "Every number is listed in the table below with its basis: 'sourced' (public figure; tag"
        " from reference-data.md section 9 and the year), 'derived: formula' (computed from"
        " cited figures) or 'assumption: why' (a planner's assumption, not a sourced figure;"
        " source blank). Most product values and several capacities are assumptions."
    ),
    (
        "Figures mostly describe 2024-2025; the 2026 quarters reuse them (no demand growth"
        " assumed). Regenerate with: .venv/bin/python inputs/build_reference.py (deterministic)."
    ),
]
ABOUT_COLUMNS = ("sheet", "key", "column", "value", "basis", "source")
TAG_RE = re.compile(r"\[(S\d+)[a-z]?\]")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
BOLD = Font(bold=True)
RATE_COLUMNS = {"approval_rate", "approval_low", "approval_high", "min_service"}
MONEY_COLUMNS = {"unit_cost", "value_per_unit", "holding_cost"}


def plain(value: object) -> object:
    """The cell value of a data item (unwraps ``Num``)."""
    return value.value if isinstance(value, Num) else value


def number_format(column: str, value: object) -> str | None:
    """A readable Excel number format for a cell."""
    if isinstance(value, dt.date):
        return "yyyy-mm-dd"
    if not isinstance(value, int | float):
        return None
    if column in RATE_COLUMNS:
        return "0%"
    if column in MONEY_COLUMNS or float(value).is_integer():
        return "#,##0"
    return "#,##0.0#####"


def set_widths(ws, widths: dict[int, int]) -> None:
    """Apply column widths (characters), capped for readability."""
    for idx, width in widths.items():
        ws.column_dimensions[get_column_letter(idx)].width = min(max(width + 2, 8), 70)


def display_len(value: object) -> int:
    """Approximate displayed width of a cell value."""
    if value is None:
        return 0
    if isinstance(value, float):
        return len(f"{value:,.6f}".rstrip("0").rstrip("."))
    if isinstance(value, int):
        return len(f"{value:,}")
    return len(str(value))


def check_value(value: object) -> None:
    """Guard: values only, never formulas."""
    if isinstance(value, str) and value.startswith("="):
        raise ValueError(f"refusing to write a formula-like string: {value!r}")


def write_table(wb: Workbook, table: Table) -> list[tuple]:
    """Write one input sheet; return the About rows for its numbers."""
    ws = wb.create_sheet(table.name)
    ws.append(list(table.columns))
    for cell in ws[1]:
        cell.font = BOLD
    widths = {i: len(c) for i, c in enumerate(table.columns, start=1)}
    about: list[tuple] = []
    counters: dict[str, int] = {}
    for row in table.rows:
        if len(row) != len(table.columns):
            raise ValueError(f"{table.name}: row {row!r} does not match {table.columns}")
        values = [plain(v) for v in row]
        for v in values:
            check_value(v)
        ws.append(values)
        r = ws.max_row
        record = dict(zip(table.columns, values, strict=True))
        key = "/".join(str(record[k]) if record[k] is not None else "*" for k in table.keys)
        if table.name == "Scenarios":
            counters[key] = counters.get(key, 0) + 1
            key = f"{key}#{counters[key]}"
        for c, (column, item) in enumerate(zip(table.columns, row, strict=True), start=1):
            cell = ws.cell(row=r, column=c)
            fmt = number_format(column, cell.value)
            if fmt:
                cell.number_format = fmt
            widths[c] = max(widths[c], display_len(cell.value))
            if isinstance(item, Num):
                about.append((table.name, key, column, item.value, item.basis, item.source))
            elif isinstance(item, int | float):
                raise ValueError(f"{table.name} {key} {column}: bare number {item!r}")
    ws.freeze_panes = "A2"
    set_widths(ws, widths)
    return about


def cited_sources(about: list[tuple]) -> list[tuple[str, str]]:
    """(tag, citation) for every tag mentioned in a source or basis, in tag order."""
    tags: set[str] = set()
    for *_, basis, source in about:
        tags.update(TAG_RE.findall(f"{basis} {source}"))
    missing = sorted(tags - CITATIONS.keys())
    if missing:
        raise KeyError(f"no citation text for {missing}")
    ordered = sorted(tags, key=lambda t: int(t[1:]))
    rows = [(t, CITATIONS[t]) for t in ordered]
    if any("[§11]" in source for *_, source in about):
        rows.extend(SECTION_11)
    return rows


def write_about(ws, about: list[tuple]) -> None:
    """Free text, the number register, then the cited sources."""
    for line in ABOUT_TEXT:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(["Number register: every number in this workbook"])
    ws.cell(row=ws.max_row, column=1).font = BOLD
    ws.append(list(ABOUT_COLUMNS))
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for sheet, key, column, value, basis, source in about:
        ws.append([sheet, key, column, value, basis, source or None])
        cell = ws.cell(row=ws.max_row, column=4)
        cell.number_format = "0%" if column in RATE_COLUMNS else "#,##0.0#####"
        if float(value).is_integer() and column not in RATE_COLUMNS:
            cell.number_format = "#,##0"
    ws.append([])
    ws.append(["Cited sources (full citations: reference-data.md section 9 and section 11)"])
    ws.cell(row=ws.max_row, column=1).font = BOLD
    ws.append(["tag", "citation"])
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for tag, citation in cited_sources(about):
        ws.append([tag, citation])
    for row in ws.iter_rows():
        for cell in row:
            check_value(cell.value)
    set_widths(ws, {1: 12, 2: 30, 3: 16, 4: 14, 5: 90, 6: 48})
    for row in ws.iter_rows(min_row=1, max_row=len(ABOUT_TEXT)):
        row[0].alignment = Alignment(wrap_text=False)


def build_workbook() -> Workbook:
    """The whole reference workbook, in memory."""
    wb = Workbook()
    about_ws = wb.active
    about_ws.title = "About"
    about: list[tuple] = []
    for table in TABLES:
        about.extend(write_table(wb, table))
    write_about(about_ws, about)
    props = wb.properties
    props.creator = "inputs/build_reference.py"
    props.lastModifiedBy = "inputs/build_reference.py"
    props.title = "Rare-earth exposure calculator: reference input workbook"
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    return wb


def save_deterministic(wb: Workbook, out: Path) -> None:
    """Save with fixed timestamps (document properties and zip entries), atomically."""
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)
    ExcelWriter(wb, archive).save()  # unlike Workbook.save, keeps props.modified
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".reference-", suffix=".xlsx")
    os.close(fd)
    try:
        with (
            zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src_zip,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst_zip,
        ):
            for info in src_zip.infolist():
                fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
                fixed.compress_type = zipfile.ZIP_DEFLATED
                fixed.external_attr = 0o644 << 16
                dst_zip.writestr(fixed, src_zip.read(info.filename))
        Path(tmp).chmod(0o644)
        Path(tmp).replace(out)
    finally:
        Path(tmp).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Sanity table: where is shortage expected? (rough, per quarter, ignores costs and priorities)
# --------------------------------------------------------------------------------------------
def _rows(table: list[tuple], columns: tuple[str, ...]) -> list[dict]:
    return [dict(zip(columns, (plain(v) for v in row), strict=True)) for row in table]


def _by_period(rows: list[dict], key_cols: tuple[str, ...], value_col: str) -> dict:
    """{(key..., period): value} with blank-period rows expanded and overridden per period."""
    out: dict = {}
    for row in rows:
        if row["period"] is None:
            for q in QUARTERS:
                out.setdefault((*[row[k] for k in key_cols], q), row[value_col])
    for row in rows:
        if row["period"] is not None:
            out[(*[row[k] for k in key_cols], row["period"])] = row[value_col]
    return out


def sanity_table() -> list[tuple]:
    """Per material and quarter: need, licensed/available supply, plant capacity, cover."""
    intensity = {
        (r["product"], r["material"]): r["kg_per_unit"] for r in _rows(INTENSITY, INTENSITY_COLUMNS)
    }
    units = _by_period(_rows(DEMAND, DEMAND_COLUMNS), ("product",), "units")
    approval = _by_period(
        _rows(LICENCES, LICENCES_COLUMNS), ("regime", "material"), "approval_rate"
    )
    regime_of = {r["source"]: r["regime"] for r in _rows(SOURCES, SOURCES_COLUMNS)}
    capacity = _by_period(_rows(SUPPLY, SUPPLY_COLUMNS), ("source", "material"), "capacity")
    plants = _rows(PLANTS, PLANTS_COLUMNS)
    recipes = _rows(RECIPES, RECIPES_COLUMNS)
    materials = [r[0] for r in MATERIALS]
    stock0 = {r["material"]: r["initial_stock"] for r in _rows(MATERIALS, MATERIALS_COLUMNS)}

    def supply(m: str, q: str) -> float:
        total = 0.0
        for (s, mat, per), cap in capacity.items():
            if mat == m and per == q:
                rate = approval.get((regime_of[s], m, q), 1.0) if regime_of[s] else 1.0
                total += cap * rate
        return total

    out = []
    for q in QUARTERS:
        need = dict.fromkeys(materials, 0.0)
        for (product, per), n in units.items():
            if per == q:
                for (p, m), kg in intensity.items():
                    if p == product:
                        need[m] += n * kg / 1000
        avail = {m: supply(m, q) for m in materials}
        plant_cap = {m: sum(p["capacity"] for p in plants if p["output"] == m) for m in materials}
        make = dict.fromkeys(materials, 0.0)
        for m in ("NDFEB", "SMCO"):  # magnets: plants fill the gap left by licensed imports
            per_t = {
                r["input"]: r["t_per_t"]
                for r in recipes
                if r["plant"] in {p["plant"] for p in plants if p["output"] == m}
            }
            planned = min(plant_cap[m], max(0.0, need[m] - avail[m]))
            for oxide, t in per_t.items():
                need[oxide] += planned * t
            feasible = min([plant_cap[m], *[avail[o] / t for o, t in per_t.items()]])
            make[m] = min(planned, feasible)
        for m in materials:
            have = avail[m] + make[m]
            cover = have / need[m] if need[m] else float("nan")
            out.append((m, q, need[m], avail[m], plant_cap[m], make[m], stock0[m], cover))
    return out


def print_sanity() -> None:
    """Print the sanity table."""
    print("\nSanity check (t per quarter; initial stock excluded from cover):")
    print("  need      = product demand (magnets) or oxide needed by ex-China plants to fill")
    print("              the magnet gap left by licensed imports (oxides)")
    print("  supply    = sum capacity x approval_rate (1 for uncontrolled materials/sources)")
    print("  make      = ex-China plant output possible with the supplied oxides")
    head = f"{'material':9}{'period':9}{'need':>11}{'supply':>11}{'plant cap':>11}"
    head += f"{'make':>11}{'init stock':>11}{'cover':>8}"
    print(head)
    for m, q, need, avail, cap, make, stock, cover in sanity_table():
        print(
            f"{m:9}{q:9}{need:11,.1f}{avail:11,.1f}{cap:11,.1f}{make:11,.1f}"
            f"{stock:11,.1f}{cover:8.0%}"
        )


def main(argv: list[str] | None = None) -> None:
    """Write the reference workbook and print the sanity table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output workbook (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    wb = build_workbook()
    save_deterministic(wb, args.out)
    print(f"wrote {args.out}")
    print_sanity()


if __name__ == "__main__":
    main()
