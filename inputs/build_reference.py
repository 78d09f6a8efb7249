"""Build the shipped reference input workbook ``inputs/reference.xlsx`` (second edition).

The instance: the ex-China market for sintered NdFeB and SmCo magnets and the rare-earth
oxides they are made from (NdPr, Dy, Tb, Sm), the eight quarters 2026-Q1 to 2027-Q4, under
China's dual-use export licences (MOFCOM & GAC Announcement No. 18 [2025]) as the 2025-26
record shows them: civil approvals fitted to the tonnage China actually shipped, defence
refused, a licensing delay, slower US-linked cases, US procurement rules for defence, a
standard and a low-HREE variant of every civil NdFeB product.

Every number below is wrapped in one of three helpers so that the About sheet can list it:

* ``src(value, source)``            a public figure from ``/work/shared/reference-data.md``
* ``der(value, formula, source)``   derived from cited figures; the formula is shown
* ``asm(value, why)``               a planner's assumption (never presented as sourced)

Source strings carry the tag of reference-data.md section 9 (``[S9]``) and the year the figure
refers to; the product values of reference-data.md section 11, which has no tags, name their
publisher and "reference-data.md section 11".

Units: material quantities are tonnes per quarter, money is USD, rates are fractions, leads
are quarters.

Two layouts, one instance. The design's lanes (Licences rows per end use and market), low-HREE
Intensity rows and the scenario rows that use them need the lanes-aware code (design section
3a/3b). Code without it rejects two Licences rows of one regime, material and period, and
would add a product's two variants together; for such code (``--layout compat``) the builder
leaves those rows out and keeps everything else, new columns and sheets included (they are
then warned about and ignored). ``--layout auto`` (the default) asks the installed
``exposure`` which it can read.

Run::

    .venv/bin/python inputs/build_reference.py            # writes inputs/reference.xlsx
    .venv/bin/python inputs/build_reference.py --out X.xlsx --layout lanes

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
REGIME = "CN-MOFCOM"
Q2026 = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")
Q2027 = ("2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4")
QUARTERS = Q2026 + Q2027


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


class LanesRow(tuple):
    """A row only lanes-aware code can hold; left out of the compat layout."""

    __slots__ = ()


class CompatRow(tuple):
    """A row written only in the compat layout (it stands in for lanes rows)."""

    __slots__ = ()


def sig3(x: float) -> float:
    """``x`` rounded to three significant figures (an int when whole)."""
    if x == 0:
        return 0
    digits = len(str(int(abs(x)))) if abs(x) >= 1 else 0
    out = round(x, 3 - digits)
    return int(out) if float(out).is_integer() else out


# Source labels: tag, publisher, year the figure refers to.
S5 = "[S5] IEA commentary, 2025"
S6_S5 = "[S6] Argus 2024; [S5] IEA 2025"
S8 = "[S8] Argus, 2024 average"
S9 = "[S9] Adamas / China customs, 2024"
S10 = "[S10] Reuters customs reports, Jul-Nov 2025"
S10F = "[S10f] Reuters via Mining.com, Q1 2026 customs"
S10_S9 = S10 + "; [S9] Adamas, 2024"
S11_S10F = "[S11] Bloomberg, May 2025 customs; [S10f] Q1 2026 customs"
S11B = "[S11b] Bloomberg, May 2025 customs (US -93.3%)"
S12A = "[S12a] exporter practice under Ann. No. 18, 2025"
S13_S18_S65 = "[S13] MOFCOM No. 61, 2025; [S18] Reuters/FT Jun 2025; [S65] NYT Jun 2025"
S14 = "[S14] MOFCOM & GAC Ann. No. 70, 2025"
S16 = "[S16] CLEPA via Reuters, 4 Jun 2025"
S16A = "[S16a] CLEPA via Reuters, 30 Jun 2025"
S19 = "[S19] Reuters, Dec 2025"
S21 = "[S21] Lynas FY25 results (year to Jun 2025)"
S22 = "[S22] MP Materials, 2025"
S22A = "[S22a] MP-DoD partnership, 2025"
S22B = "[S22b] MP Materials Q3 2025 results"
S23 = "[S23] Neo Performance, 2025"
S23A = "[S23a] Metalnomist, Dec 2025"
S28 = "[S28] Noveon, 2023"
S29 = "[S29] USA Rare Earth, 2025"
S31_S35_S23 = "[S31] ACREI 2024; [S35] IEA 2024 data; [S23] Neo 2025"
S32 = "[S32] Heim & Vander Wal, 2023 review"
S33 = "[S33] Adamas outlook to 2040, Q3 2024"
S35 = "[S35] IEA Global EV Outlook 2025 (2024 data)"
S36 = "[S36] GWEC Global Wind Report 2025 (2024 data)"
S37 = "[S37] IDC, Jan 2025 (2024 data)"
S38C = "[S38c] DoD report via Bloomberg (c.2012, historical)"
S39A_S40 = "[S39a] Univ. of Plymouth 2019; [S40] magnet datasheets (low)"
S40 = "[S40] magnet datasheets (low confidence)"
S40_S82 = "[S40] magnet datasheets (low); [S82] Discovery Alert 2025 (low)"
S41 = "[S41] IEEE Electrification Magazine, 2017"
S44 = "[S44] Adamas, 2025 volumes (early 2026)"
S43 = "[S43] Argus Europe via GMT Eight, 6 May 2025"
S45 = "[S45] SMM via Rare Earth Exchanges, 2025 H2"
S63 = "[S63] TRADIUM via Rare Earth Exchanges, Oct 2025 (2nd-hand)"
S65 = "[S65] NYT via NZ Herald, 2025"
S70 = "[S70] Courage Magnet blog, end-2022 (low confidence)"
S71 = "[S71] Fortune, 2026 (low confidence)"
S81 = "[S81] Mainrich vendor note (low confidence)"
R11 = "reference-data.md section 11"
R11_PHONE = f"Counterpoint Research Market Monitor, 2024 ({R11})"
R11_BEV = f"JATO Dynamics, US average EV Dec 2024 ({R11})"
R11_WIND = f"BloombergNEF WTPI / BNEF, 2023-24 ({R11})"
R11_F35 = f"F-35 Joint Program Office, F-35A lots 15-19, 2023-25 ({R11})"

# ------------------------------------------------------------------ prices (USD per tonne)
# Volume-backed prices for costs (reference-data 12c); European asks only in a scenario.
P_NDPR = der(83_350, "midpoint of 600,000-608,000 yuan/t = $82.8-83.9/kg, x 1000", S45)
P_NDPR_FLOOR = src(110_000, S22A)  # DoD-MP NdPr floor $110/kg
P_NDPR_WEST = asm(110_000, "ex-China separators priced at the US NdPr floor $110/kg [S22a]")
P_DY = src(224_000, S44)  # ~96% of 2025 Dy oxide volume at ~$224/kg
P_TB = der(792_000, "5,789 yuan/kg at 7.31 CNY/USD x 1000 (no volume-weighted Tb price)", S8)
P_DY_EU = der(850_000, "midpoint of the $700-1,000/kg European ask x 1000", S43)
P_TB_EU = der(3_000_000, "midpoint of the $2,000-4,000/kg European ask x 1000", S43)
P_NDFEB = der(49_180, "US$2.86 bn / 58,152 t China magnet exports, rounded", S9)
P_SM = asm(20_000, "placeholder: no reliable public Sm price (reference-data section 6 gap)")
P_SMCO = asm(100_000, "placeholder: no public SmCo magnet price found")
PRICE_LABELS = {  # for holding and terminal values: material -> (price, what)
    "NDPR_OX": (83_350, "2025 H2 China PrNd oxide [S45]"),
    "DY_OX": (224_000, "2025 volume-weighted Dy oxide [S44]"),
    "TB_OX": (792_000, "2024 China Tb oxide [S8]"),
    "SM_OX": (20_000, "placeholder Sm oxide"),
    "NDFEB": (49_180, "China NdFeB export [S9]"),
    "NDFEB_LH": (49_180, "China NdFeB export [S9]"),
    "SMCO": (100_000, "placeholder SmCo"),
}


def holding(material: str) -> Num:
    """Holding cost: 2% of the unit price per quarter (assumption)."""
    price, what = PRICE_LABELS[material]
    return asm(round(price * 0.02), f"2% of the {what} price per quarter: 0.02 x {price:,.0f}")


def terminal(material: str) -> Num:
    """Terminal value of stock left at the end: its replacement price (assumption)."""
    price, what = PRICE_LABELS[material]
    return asm(
        price,
        f"stock left after 2027-Q4 is worth its replacement cost, the {what} price; below"
        " purchase plus holding cost, so nothing is bought only to be held",
    )


# ------------------------------------------------------------------ the record, as parameters
# Chinese magnet exports (3c), t per month.
H2_2025_WORLD = 5_577 + 6_146 + 5_774 + 5_473 + 6_150  # Jul-Nov 2025
H2_2025_US = 619 + 590 + 420.5 + 656 + 582  # Aug 590 is itself derived (Sep -28.7% m/m)
US_SHARE = round(H2_2025_US / H2_2025_WORLD, 4)  # 0.0985
CN_MAGNETS_Q = 16_001  # Q1 2026, t [S10f]
MONTH_2024 = 58_152 / 12  # 4,846 t
LEAD_CIVIL = der(
    0.7,
    "45 working days statutory review / ~63 working days per quarter = 0.71, rounded",
    S12A,
)
LEAD_US = der(
    2.0,
    'US-linked cases "6 months or longer" = 2 quarters; the split civil/US-linked is derived'
    " (reference-data 12b)",
    S71,
)
NDFEB_CIVIL = der(
    1.0,
    f"Jul-Nov 2025 exports {H2_2025_WORLD:,} t / 5 = {H2_2025_WORLD / 5:,.0f} t/month ="
    f" {H2_2025_WORLD / 5 / MONTH_2024:.2f} x the 2024 average of 4,846 t/month"
    " (58,152 / 12): no cut on civil tonnage, capped at 1",
    S10_S9,
)
MAY25 = round(1_238 / (CN_MAGNETS_Q / 3), 2)  # 0.23
NDFEB_LOW = der(
    MAY25,
    f"May 2025 exports 1,238 t / (Q1 2026 16,001 t / 3) = {1_238 / (CN_MAGNETS_Q / 3):.3f}",
    S11_S10F,
)
US_RELATIVE = round((1 - 0.306) / (1 + 0.048), 2)  # 0.66
NDFEB_US = der(
    US_RELATIVE,
    "US share held back: Mar 2026 exports to the US -30.6% y/y while Q1 2026 world +4.8%:"
    " (1 - 0.306) / (1 + 0.048) = 0.662",
    S10F,
)
DY_CAPACITY = 90  # t/qtr, the assumed pre-control level (Supply)
DY_SEP, DY_OCT = 3.501 / 0.2, 3.501  # t/month: Oct 3,501 kg, -80% m/m
DY_CIVIL = der(
    round((DY_SEP + DY_OCT) / 2 * 3 / DY_CAPACITY, 2),
    f"Sep-Oct 2025 Dy exports ({DY_SEP:.1f} + {DY_OCT:.1f} t)/2 x 3 / {DY_CAPACITY} t/qtr"
    " assumed pre-control capacity (Sep = Oct 3,501 kg / 0.2, from -80% m/m)",
    S63,
)
DY_LOW = der(
    round(DY_OCT * 3 / DY_CAPACITY, 2),
    f"Oct 2025 Dy exports {DY_OCT:.1f} t x 3 / {DY_CAPACITY} t/qtr",
    S63,
)
DY_HIGH = der(
    round(min(1.0, DY_SEP * 3 / DY_CAPACITY), 2),
    f"Sep 2025 Dy exports {DY_SEP:.1f} t x 3 / {DY_CAPACITY} t/qtr",
    S63,
)
TB_CIVIL = der(
    1.0,
    "Oct 2025 Tb exports 12.2 t (a 2025 high; 6 t to the US) x 3 = 36.6 t/qtr, above the"
    " 22 t/qtr assumed capacity: capped at 1",
    S63,
)
COUNT_LOW = src(0.25, S16 + ' ("only a quarter" of applications; counts, not tonnes)')
SM_CIVIL = asm(
    1.0,
    "no Sm/SmCo tonnage record; civil Sm and SmCo follow the civil magnet rate. No civil"
    " product uses them here, so this rate does not move the results",
)
SM_LOW = src(0.0, '[S65] NYT, Jun 2025: "no sign" of Sm approvals (military end use); stress low')
DEFENCE = src(0.0, S13_S18_S65 + ': military end users "denied in principle"; none for defence')
PERSISTENCE = der(
    0.75,
    "the No. 70 suspension holds a regime state for one year (7 Nov 2025 - 10 Nov 2026) = 4"
    " quarters; a mean run of 4 quarters means p = 1 - 1/4",
    S14,
)

# ------------------------------------------------------------------ demand sizing
G26 = 1.087**2  # NdFeB demand CAGR 8.7% [S33], 2024 -> 2026
G27 = 1.087**3
EXCN_TOTAL_T = (58_152 + 19_000) / 4  # China exports [S9] + ex-China output (D, section 2b)
EV_Q = (17_000_000 - 11_000_000) / 4  # ex-China electric cars [S35]
WIND_MW_Q = (117_000 - 79_800) / 4  # ex-China wind additions, MW [S36]
PHONES_Q = 1_240_000_000 * 0.4 / 4  # 40% of smartphones assembled outside China (assumption)
CONV_Q = 40_000_000 / 4  # ex-China conventional cars (assumption)
KG_BEV, KG_PHEV, KG_CONV = 2.0, 1.3, 0.5
KG_DD, KG_GPM = 625, 160
KG_PHONE = round(0.00019 / 0.31, 5)  # 0.19 g Nd+Pr per phone / 0.31 NdPr share of a magnet
DEF_US_Q = 175 / 4
BOTTOM_UP_T = (
    EV_Q * 0.6 * KG_BEV / 1000
    + EV_Q * 0.4 * KG_PHEV / 1000
    + CONV_Q * KG_CONV / 1000
    + WIND_MW_Q * 0.2 * KG_DD / 1000
    + WIND_MW_Q * 0.3 * KG_GPM / 1000
    + PHONES_Q * KG_PHONE / 1000
    + DEF_US_Q * 2
)
RESIDUAL_T = EXCN_TOTAL_T - BOTTOM_UP_T
RESIDUAL_TXT = (
    f"residual ex-China NdFeB demand {EXCN_TOTAL_T:,.0f} - {BOTTOM_UP_T:,.0f} ="
    f" {RESIDUAL_T:,.0f} t/qtr (2024 basis) [S9][S6][S5]"
)
GROWTH_TXT = {
    "2026": f"x 1.087^2 = {G26:.3f} (8.7%/yr NdFeB demand growth [S33], 2024 -> 2026)",
    "2027": f"x 1.087^3 = {G27:.3f} (8.7%/yr [S33], 2024 -> 2027)",
}
SHARE_TXT = {
    "US": f"x {US_SHARE} US share of China's magnet exports Jul-Nov 2025"
    f" ({H2_2025_US:,.1f} / {H2_2025_WORLD:,} t [S10]; same mix in every product: assumption)",
    "ROW": f"x (1 - {US_SHARE}) rest of world (US share from [S10])",
}


# --------------------------------------------------------------------------------------------
# Sheets: one data section per sheet. Rows are tuples in header order; None = blank cell.
# --------------------------------------------------------------------------------------------
PERIODS_COLUMNS = ("period", "label", "start")
PERIODS = [(q, f"Q{q[-1]} {q[:4]}", dt.date(int(q[:4]), 3 * int(q[-1]) - 2, 1)) for q in QUARTERS]

MATERIALS_COLUMNS = (
    "material",
    "name",
    "form",
    "initial_stock",
    "min_stock",
    "holding_cost",
    "terminal_value",
)
NO_FLOOR = "no strategic minimum stock in the base case"


def pipeline_stock(flow: float, working: float, what: str) -> Num:
    """Opening stock: tonnes still in licensing on 1 Jan 2026 plus a working inventory.

    A lane with lead L has L quarters of its flow in licensing; civil lanes wait 0.7 of a
    quarter, US-linked lanes 2 (Licences), weighted by the US share of demand."""
    lead = 0.7 * (1 - US_SHARE) + 2.0 * US_SHARE
    total = round(lead * flow + working, 1)
    return asm(
        int(total) if float(total).is_integer() else total,
        f"(0.7 x (1 - {US_SHARE}) + 2 x {US_SHARE}) = {lead:.3f} quarters of the"
        f" {flow:,.1f} t/qtr licensed flow still in licensing on 1 Jan 2026 (leads 0.7 [S12a]"
        f" and 2 [S71], US share [S10]) + {working:,} t working inventory ({what}; assumed)",
    )


MATERIALS = [
    (
        "NDPR_OX",
        "NdPr oxide (didymium, Nd:Pr 75:25)",
        "oxide",
        asm(1_000, "ex-China working inventory ~5 weeks of plant need; NdPr oxide is not licensed"),
        asm(0, NO_FLOOR),
        holding("NDPR_OX"),
        terminal("NDPR_OX"),
    ),
    (
        "DY_OX",
        "Dysprosium oxide",
        "oxide",
        pipeline_stock(DY_CAPACITY * DY_CIVIL.value, 25, "~4 weeks of plant need"),
        asm(0, NO_FLOOR),
        holding("DY_OX"),
        terminal("DY_OX"),
    ),
    (
        "TB_OX",
        "Terbium oxide",
        "oxide",
        pipeline_stock(22 * TB_CIVIL.value, 6, "~4 weeks of plant need"),
        asm(0, NO_FLOOR),
        holding("TB_OX"),
        terminal("TB_OX"),
    ),
    (
        "SM_OX",
        "Samarium oxide",
        "oxide",
        asm(0.3, "small ex-China inventory; China was the sole Sm source until 2025 [S65]"),
        asm(0, NO_FLOOR),
        holding("SM_OX"),
        terminal("SM_OX"),
    ),
    (
        "NDFEB",
        "Sintered NdFeB magnet, standard grades (Dy/Tb-bearing; licensed under No. 18)",
        "magnet",
        pipeline_stock(CN_MAGNETS_Q, 3_000, "~2 weeks of demand"),
        asm(0, NO_FLOOR),
        holding("NDFEB"),
        terminal("NDFEB"),
    ),
    (
        "NDFEB_LH",
        "Sintered NdFeB magnet, low-HREE grades (grain-boundary diffused or HRE-free)",
        "magnet",
        asm(300, "~1 week of the low-HREE lines' output"),
        asm(0, NO_FLOOR),
        holding("NDFEB_LH"),
        terminal("NDFEB_LH"),
    ),
    (
        "SMCO",
        "SmCo magnet (Sm2Co17)",
        "magnet",
        asm(1, "small ex-China inventory held by defence suppliers"),
        asm(0, NO_FLOOR),
        holding("SMCO"),
        terminal("SMCO"),
    ),
]

REGIMES_COLUMNS = ("regime", "name", "authority", "persistence")
REGIMES = [
    (
        REGIME,
        (
            "China dual-use export licences for medium/heavy rare earths and Dy/Tb/Sm magnets"
            " (MOFCOM & GAC Announcement No. 18 [2025], in force since 4 Apr 2025; the October"
            " 2025 additions Nos. 57 and 61 suspended to 10 Nov 2026 by No. 70)"
        ),
        "Ministry of Commerce (MOFCOM) and General Administration of Customs (GAC), PRC",
        PERSISTENCE,
    ),
]

# Controlled by Announcement No. 18: Dy, Tb, Sm (oxides etc.), SmCo magnets and Dy/Tb-containing
# NdFeB magnets [S12]. NdPr oxide is NOT listed, so it has no row (uncontrolled). Rows per lane:
# civil (every market), civil bound for the US (slower), defence (refused).
LICENCES_COLUMNS = (
    "regime",
    "material",
    "period",
    "approval_rate",
    "approval_low",
    "approval_high",
    "end_use",
    "market",
    "lead_periods",
)
PRE_CONTROL = asm(1.0, "1.0 = pre-April-2025 flows; general licences from Dec 2025 [S19]")


def licence_rows(material: str, civil: Num, low: Num, high: Num, us: Num | None = None) -> list:
    """The civil row (compat and lanes), the US-linked civil row and the defence row (lanes)."""
    us_rate = us if us is not None else civil
    return [
        (REGIME, material, None, civil, low, high, "civil", None, LEAD_CIVIL),
        LanesRow((REGIME, material, None, us_rate, low, high, "civil", "US", LEAD_US)),
        LanesRow((REGIME, material, None, DEFENCE, None, None, "defence", None, None)),
    ]


LICENCES = [
    *licence_rows("NDFEB", NDFEB_CIVIL, NDFEB_LOW, PRE_CONTROL, NDFEB_US),
    *licence_rows("DY_OX", DY_CIVIL, DY_LOW, DY_HIGH),
    *licence_rows("TB_OX", TB_CIVIL, COUNT_LOW, PRE_CONTROL),
    *licence_rows("SM_OX", SM_CIVIL, SM_LOW, PRE_CONTROL),
    *licence_rows("SMCO", SM_CIVIL, SM_LOW, PRE_CONTROL),
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

# Chinese sources have one row per quarter, so that a scenario can change the quarters after
# the No. 70 suspension lapses (10 Nov 2026).
SUPPLY_COLUMNS = ("source", "material", "period", "capacity", "unit_cost")
CN_SUPPLY = [
    (
        "CN-MAGNETS",
        "NDFEB",
        der(
            CN_MAGNETS_Q, "Q1 2026 exports 16,001 t (+4.8% y/y), the latest quarter on record", S10F
        ),
        P_NDFEB,
    ),
    (
        "CN-SMCO",
        "SMCO",
        asm(10, "China SmCo exports not in reference data; pre-control level"),
        P_SMCO,
    ),
    (
        "CN-OXIDES",
        "NDPR_OX",
        asm(
            1_000,
            "China NdPr oxide exports not in reference data; ~6% of 2024 primary output"
            " (~65,000 t/yr [S55]) / 4",
        ),
        P_NDPR,
    ),
    (
        "CN-OXIDES",
        "DY_OX",
        asm(
            DY_CAPACITY,
            "pre-control exports sized to cover ex-China plants' full Dy need;"
            " Japan took 100% of its heavy RE from China [S54]",
        ),
        P_DY,
    ),
    (
        "CN-OXIDES",
        "TB_OX",
        asm(22, "pre-control exports sized to cover ex-China plants' full Tb need"),
        P_TB,
    ),
    (
        "CN-OXIDES",
        "SM_OX",
        asm(10, "China Sm oxide exports not in reference data; China the main Sm source [S65]"),
        P_SM,
    ),
]
LYNAS_DY = asm(
    18.75,
    "1,500 t/yr HRE feed circuit [S21c] x ~5% Dy yield of the new HRE plant [S21d] / 4;"
    " Dy output not disclosed, yield applied to the existing circuit",
)
LYNAS_TB = asm(
    3.75, "1,500 t/yr HRE feed [S21c] x ~1% Tb yield [S21d] / 4; Tb output not disclosed"
)
LYNAS_SM = {
    "2026-Q2": asm(0.1, "Sm output from Apr 2026 [S21d]; volume undisclosed, small ramp assumed"),
    "2026-Q3": asm(0.2, "Sm ramp assumed (volume undisclosed [S21d])"),
    "2026-Q4": asm(0.3, "Sm ramp assumed (volume undisclosed [S21d])"),
    "2027-Q1": asm(0.3, "Sm held at the 2026-Q4 level (volume undisclosed [S21d])"),
}
MP_HALF = "200 t/yr Dy+Tb from mid-2026 [S22b] / 4 x 50% first-year ramp"
MP_FULL = "200 t/yr Dy+Tb [S22b] / 4 at full rate"
SOLVAY_SM = asm(
    1.0,
    'Solvay agreed in Nov 2025 to supply Sm oxide to Permag in "limited volumes" that could'
    " increase quickly (reference-data 12d, no tonnage): sized at 4 t/yr by assumption",
)
SUPPLY = [
    *[(s, m, q, cap, cost) for s, m, cap, cost in CN_SUPPLY for q in QUARTERS],
    ("LYNAS", "NDPR_OX", None, der(1_639.5, "6,558 t NdPr FY25 / 4", S21), P_NDPR),
    ("LYNAS", "DY_OX", None, LYNAS_DY, P_DY),
    ("LYNAS", "TB_OX", None, LYNAS_TB, P_TB),
    # 2027 rows repeat the base so that the Lynas ramp scenario can add to them.
    *[("LYNAS", "DY_OX", q, LYNAS_DY, P_DY) for q in Q2027],
    *[("LYNAS", "TB_OX", q, LYNAS_TB, P_TB) for q in Q2027],
    *[("LYNAS", "SM_OX", q, v, P_SM) for q, v in LYNAS_SM.items()],
    ("MP", "NDPR_OX", None, src(721, S22B), P_NDPR_FLOOR),  # Q3-2025 NdPr output, t/quarter
    *[
        ("MP", "DY_OX", q, asm(20, MP_HALF + " x 80% Dy share (split assumed)"), P_DY)
        for q in ("2026-Q3", "2026-Q4")
    ],
    *[
        ("MP", "TB_OX", q, asm(5, MP_HALF + " x 20% Tb share (split assumed)"), P_TB)
        for q in ("2026-Q3", "2026-Q4")
    ],
    *[
        ("MP", "DY_OX", q, asm(40, MP_FULL + " x 80% Dy share (split assumed)"), P_DY)
        for q in Q2027
    ],
    *[
        ("MP", "TB_OX", q, asm(10, MP_FULL + " x 20% Tb share (split assumed)"), P_TB)
        for q in Q2027
    ],
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
    ("SOLVAY", "SM_OX", None, SOLVAY_SM, P_SM),
    (
        "ENERGY-FUELS",
        "NDPR_OX",
        None,
        asm(106.25, "Phase 1 850 t/yr (low end) [S26] x 50% utilisation / 4"),
        P_NDPR_WEST,
    ),
]

CONVERSION = "conversion cost excluding oxide inputs; no public figure"
JP_TOTAL = 4_200  # (19,000 - 2,200) / 4
LH_SHARE = 0.3
PLANTS_COLUMNS = ("plant", "country", "output", "capacity", "regime", "unit_cost")
PLANTS = [
    (
        "JP-INCUMBENTS",
        "JP",
        "NDFEB",
        asm(
            round(JP_TOTAL * (1 - LH_SHARE)),
            "(ex-China output 19,000 t/yr [S6][S5: 300,000 x 6/94] - Shin-Etsu VN 2,200 [S70])"
            f" / 4 = {JP_TOTAL:,} t/qtr, of which {1 - LH_SHARE:.0%} standard grades (split"
            " assumed)",
        ),
        None,
        asm(20_000, CONVERSION),
    ),
    (
        "JP-LOW-HREE",
        "JP",
        "NDFEB_LH",
        asm(
            round(JP_TOTAL * LH_SHARE),
            f"{LH_SHARE:.0%} of the {JP_TOTAL:,} t/qtr Japanese output runs low-HREE grades"
            " (Proterial, TDK, Daido HRE-free and GBD lines [S54]); share assumed",
        ),
        None,
        der(
            22_000, "conversion cost 20,000 x 1.10: GBD adds 5-15% processing cost, 10% taken", S81
        ),
    ),
    ("SHINETSU-VN", "VN", "NDFEB", der(550, "2,200 t/yr / 4", S70), None, asm(15_000, CONVERSION)),
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

# t of oxide per t of magnet, with the oxide-to-magnet yield of reference-data 5b.
YIELD = 0.675  # midpoint of 60-75% [S82]
YIELD_TXT = f"/ {YIELD} oxide-to-magnet yield (midpoint of 60-75% [S82], low confidence)"
NDPR_PER_T = der(
    round(0.31 / 0.857 / YIELD, 3),
    f"0.31 t NdPr metal per t magnet / 0.857 Nd2O3-to-metal {YIELD_TXT}",
    S40_S82 + "; [S42a] Fastmarkets, 2024",
)
DY_PER_T = der(
    round(0.008 / 0.871 / YIELD, 4),
    "0.010 t Dy+Tb per t (reference-data 10a default, midpoint of the 0.6-1.2% range [S40]) x"
    f" 80% Dy (split assumed) / 0.871 Dy2O3-to-metal {YIELD_TXT}",
    S40_S82,
)
TB_PER_T = der(
    round(0.002 / 0.850 / YIELD, 5),
    f"0.010 t Dy+Tb per t [S40] x 20% Tb (split assumed) / 0.850 Tb4O7-to-metal {YIELD_TXT}",
    S40_S82,
)
DY_PER_T_LH = der(
    round(DY_PER_T.value / 3, 5),
    f"{DY_PER_T.value} / 3: grain-boundary diffusion uses 1/2 to 1/3 of the Dy/Tb; 1/3 taken"
    " (HRE-free grades use none)",
    S41,
)
TB_PER_T_LH = der(
    round(TB_PER_T.value / 3, 6),
    f"{TB_PER_T.value} / 3: grain-boundary diffusion uses 1/2 to 1/3 of the Dy/Tb; 1/3 taken",
    S41,
)
SM_PER_T = der(
    round(0.25 / 0.862 / YIELD, 3),
    f"0.25 t Sm per t Sm2Co17 / 0.862 Sm2O3-to-metal {YIELD_TXT}",
    S40_S82,
)
RECIPES_COLUMNS = ("plant", "input", "t_per_t")
RECIPES = [
    *[
        (plant, material, per_t)
        for plant, _, output, *_ in PLANTS
        if output == "NDFEB"
        for material, per_t in (("NDPR_OX", NDPR_PER_T), ("DY_OX", DY_PER_T), ("TB_OX", TB_PER_T))
    ],
    ("JP-LOW-HREE", "NDPR_OX", NDPR_PER_T),
    ("JP-LOW-HREE", "DY_OX", DY_PER_T_LH),
    ("JP-LOW-HREE", "TB_OX", TB_PER_T_LH),
    ("ROW-SMCO", "SM_OX", SM_PER_T),  # cobalt not modelled (not constrained here)
]

SECTORS_COLUMNS = ("sector", "name", "end_use", "min_service", "weight")
SECTORS = [
    ("EV", "Electric vehicles (traction motors)", "civil", None, None),
    ("CARS", "Conventional cars (wiper, seat, steering and pump motors)", "civil", None, None),
    ("WIND", "Wind turbines", "civil", None, None),
    ("PHONES", "Smartphones and consumer electronics", "civil", None, None),
    ("HVAC", "Air-conditioning (inverter compressors and fans)", "civil", None, None),
    ("INDUSTRY", "Industrial motors, elevators, e-bikes", "civil", None, None),
    (
        "DEFENCE",
        "Defence and aerospace",
        "defence",
        asm(0.9, "planner's floor: defence keeps at least 90% of its output"),
        None,
    ),
]


@dataclass(frozen=True)
class Product:
    """A civil NdFeB product: 2024 ex-China units per quarter, intensity, value, variant cap."""

    sector: str
    product: str
    units_2024: float
    units_why: str
    kg: Num
    value: Num
    max_share: Num | None


NO_PRICE = "no sourced unit value in reference data (section 11 gap)"
NO_INTENSITY = "no reliable public per-unit figure (reference-data section 5a gap)"
PER_T = "product measured in t of magnet: 1 unit = 1 t = 1,000 kg (design section 3)"
HIGH_TEMP = "high-temperature duty: GBD cuts Dy/Tb but HRE-free grades are rare there"
LOW_TEMP = "low-temperature duty where HRE-free grades are common (reference-data 7c, 12e)"
SHARE_HIGH = asm(0.3, HIGH_TEMP + "; 30% of a line assumed switchable")
SHARE_CAR = asm(0.5, "small body motors run cool; 50% assumed switchable")
SHARE_LOW = asm(0.8, LOW_TEMP + "; Daikin ACs use >95% less HRE [S54]; 80% assumed")
SHARE_MID = asm(0.5, "industrial motors: mixed duty; 50% assumed switchable")


def residual(share: float, kg: float) -> float:
    """Units per quarter taking ``share`` of the residual tonnage at ``kg``/unit."""
    return RESIDUAL_T * share / kg * 1000


CIVIL_PRODUCTS = [
    Product(
        "EV",
        "BEV_CAR",
        EV_Q * 0.6,
        "ex-China electric cars 17 M - 11 M = 6 M/yr [S35] x 60% BEV (split assumed) / 4",
        src(KG_BEV, S23),
        src(55_000, R11_BEV),
        SHARE_HIGH,
    ),
    Product(
        "EV",
        "PHEV_CAR",
        EV_Q * 0.4,
        "ex-China electric cars 6 M/yr [S35] x 40% PHEV (split assumed) / 4",
        der(KG_PHEV, "2,000 t / 1.5 M motors (low end of 1.3-2 kg)", S23A),
        asm(45_000, "below the BEV value; " + NO_PRICE),
        SHARE_HIGH,
    ),
    Product(
        "CARS",
        "CONV_CAR",
        CONV_Q,
        "ex-China conventional cars 40 M/yr assumed (world ~85 M: 17 M EVs at >20% share [S35],"
        " China's share of the rest not in reference data) / 4",
        der(
            KG_CONV,
            "NEV all magnet uses ~2.5 kg (43,018 t / 17 M) - ~2.0 kg traction = 0.5 kg of body"
            " motors per car, taken for a conventional car (an upper bound)",
            S31_S35_S23,
        ),
        asm(30_000, "below the US average EV value of $55,000; " + NO_PRICE),
        SHARE_CAR,
    ),
    Product(
        "WIND",
        "WIND_DD_MW",
        WIND_MW_Q * 0.2,
        "ex-China additions 117 - 79.8 = 37.2 GW/yr [S36] x 20% direct-drive PM (assumed) / 4",
        src(KG_DD, S32 + " (low end of 625-850 kg/MW, 4 OEMs)"),
        src(1_000_000, R11_WIND),
        SHARE_HIGH,
    ),
    Product(
        "WIND",
        "WIND_GPM_MW",
        WIND_MW_Q * 0.3,
        "ex-China additions 37.2 GW/yr [S36] x 30% geared/medium-speed PM (assumed) / 4",
        src(KG_GPM, S32 + " (medium PM generator, 160 kg)"),
        src(1_000_000, R11_WIND),
        SHARE_HIGH,
    ),
    Product(
        "PHONES",
        "SMARTPHONE",
        PHONES_Q,
        "1.24 bn shipments [S37] x 40% assembled outside China (assumed) / 4",
        der(
            KG_PHONE,
            "0.16 g Nd + 0.03 g Pr assayed in one phone / 0.31 t NdPr per t magnet = 0.61 g of"
            " magnet (the 2012 Oeko figure, 0.19 g, is the low end)",
            S39A_S40,
        ),
        src(356, R11_PHONE),
        SHARE_LOW,
    ),
    Product(
        "PHONES",
        "CE_OTHER_T",
        residual(0.30, 1000.0),
        f"30% of the {RESIDUAL_TXT} (split assumed); units are t of magnet",
        der(1_000, PER_T, ""),
        asm(2_000_000, "output value ~$2,000 per kg of magnet (HDD, audio); " + NO_PRICE),
        SHARE_LOW,
    ),
    Product(
        "HVAC",
        "INVERTER_AC",
        residual(0.30, 0.3),
        f"30% of the {RESIDUAL_TXT} / 0.3 kg per unit (split assumed)",
        asm(0.3, "compressor + fan motor magnets; " + NO_INTENSITY),
        asm(800, NO_PRICE),
        SHARE_LOW,
    ),
    Product(
        "INDUSTRY",
        "SERVO_MOTOR",
        residual(0.30, 1.0),
        f"30% of the {RESIDUAL_TXT} / 1.0 kg per unit (split assumed)",
        asm(1.0, NO_INTENSITY),
        asm(1_500, NO_PRICE),
        SHARE_MID,
    ),
    Product(
        "INDUSTRY",
        "ELEVATOR",
        residual(0.05, 10.0),
        f"5% of the {RESIDUAL_TXT} / 10 kg per unit (split assumed)",
        asm(10.0, "gearless PM traction machine; " + NO_INTENSITY),
        asm(40_000, NO_PRICE),
        SHARE_LOW,
    ),
    Product(
        "INDUSTRY",
        "EBIKE",
        residual(0.05, 0.35),
        f"5% of the {RESIDUAL_TXT} / 0.35 kg per unit (split assumed)",
        asm(0.35, "hub motor; " + NO_INTENSITY),
        asm(1_500, NO_PRICE),
        SHARE_LOW,
    ),
]
MARKETS = ("ROW", "US")
US_ID = "_US"  # compat layout: older code keys Demand without market, so US rows get own ids


def by_market(row: tuple, market: str, id_at: int) -> list[tuple]:
    """A row for one market: as is for ROW; for the US, the product id (at ``id_at``) is
    shared with ROW in the lanes layout and suffixed in the compat layout."""
    if market == "ROW":
        return [row]
    compat = (*row[:id_at], row[id_at] + US_ID, *row[id_at + 1 :])
    return [LanesRow(row), CompatRow(compat)]


def market_units(p: Product, market: str, year: str) -> Num:
    """Units per quarter of one product in one market and year (three significant figures)."""
    share = US_SHARE if market == "US" else 1 - US_SHARE
    growth = G26 if year == "2026" else G27
    value = sig3(p.units_2024 * share * growth)
    return asm(
        value,
        f"{p.units_why}; {SHARE_TXT[market]}; {GROWTH_TXT[year]}",
    )


DEMAND_COLUMNS = ("sector", "product", "market", "period", "units", "value_per_unit")
DEFENCE_NDFEB_VALUE = asm(50_000_000, "defence output at stake per t of magnet; " + NO_PRICE)
DEMAND = [
    row
    for p in CIVIL_PRODUCTS
    for market in MARKETS
    for period, year in ((None, "2026"), *((q, "2027") for q in Q2027))
    for row in by_market(
        (p.sector, p.product, market, period, market_units(p, market, year), p.value), market, 1
    )
]
DEMAND += [
    (
        "DEFENCE",
        "F35",
        "US",
        None,
        asm(38, "~150 F-35-class aircraft per year / 4, all built in the US supply chain"),
        src(82_500_000, R11_F35),
    ),
    (
        "DEFENCE",
        "DEF_NDFEB_T",
        "ROW",
        None,
        asm(43.75, "allied defence NdFeB taken equal to US use (175 t/yr [S38c]) / 4"),
        DEFENCE_NDFEB_VALUE,
    ),
    *by_market(
        (
            "DEFENCE",
            "DEF_NDFEB_T",
            "US",
            None,
            der(43.75, "US weapons NdFeB ~175 t/yr / 4; units are t of magnet", S38C),
            DEFENCE_NDFEB_VALUE,
        ),
        "US",
        1,
    ),
]

INTENSITY_COLUMNS = ("product", "material", "variant", "kg_per_unit")
INTENSITY = [
    row
    for p in CIVIL_PRODUCTS
    for row in (
        (p.product, "NDFEB", "standard", p.kg),
        CompatRow((p.product + US_ID, "NDFEB", "standard", p.kg)),
        LanesRow((p.product, "NDFEB_LH", "low_hree", p.kg)),
    )
]
INTENSITY += [
    ("F35", "SMCO", "standard", der(22.5, "midpoint of ~22-23 kg (~50 lb) SmCo per aircraft", S65)),
    ("DEF_NDFEB_T", "NDFEB", "standard", der(1_000, PER_T, "")),
    CompatRow(("DEF_NDFEB_T" + US_ID, "NDFEB", "standard", der(1_000, PER_T, ""))),
]


def extra_cost(p: Product) -> Num:
    """Extra cost of the low-HREE variant: 10% of the magnet's value per unit."""
    value = sig3(0.10 * 49.18 * p.kg.value)
    return der(
        value,
        f"GBD adds 5-15% processing cost, 10% taken, on {p.kg.value:g} kg x $49.18/kg [S9]",
        S81,
    )


VARIANTS_COLUMNS = ("product", "variant", "extra_cost_per_unit", "max_share", "note")
VARIANTS = [
    (
        p.product,
        "low_hree",
        extra_cost(p),
        p.max_share,
        "low-HREE NdFeB (grain-boundary diffused or HRE-free), made outside China",
    )
    for p in CIVIL_PRODUCTS
]

DFARS = (
    "US defence procurement, DFARS 252.225-7052 (reference-data 12f: governmentcontractslaw.com"
    " summary, low confidence)"
)
RESTRICTIONS_COLUMNS = (
    "material",
    "origin",
    "end_use",
    "market",
    "from_period",
    "to_period",
    "note",
)
RESTRICTIONS = [
    ("NDFEB", "CN", "defence", "US", None, None, DFARS + ": no NdFeB magnets produced in China"),
    ("SMCO", "CN", "defence", "US", None, None, DFARS + ": no SmCo magnets produced in China"),
    *[
        (
            m,
            "CN",
            "defence",
            "US",
            "2027-Q1",
            None,
            DFARS + ": from 1 Jan 2027 no magnets whose rare earths were mined or refined in China",
        )
        for m in ("NDPR_OX", "DY_OX", "TB_OX", "SM_OX")
    ],
]

SCENARIOS_COLUMNS = ("scenario", "sheet", "column", "match", "operation", "value", "note")
CN_CONTROLLED = (
    ("CN-MAGNETS", "NDFEB"),
    ("CN-SMCO", "SMCO"),
    ("CN-OXIDES", "DY_OX"),
    ("CN-OXIDES", "TB_OX"),
    ("CN-OXIDES", "SM_OX"),
)
Q2_2025 = 2_630 + 1_238 + 3_188  # Apr-Jun 2025 magnet exports, t (Apr derived in 3c)
SQUEEZE_Q = round(Q2_2025 / CN_MAGNETS_Q, 2)  # 0.44
LAPSE_Q4 = round(1 - (1 - SQUEEZE_Q) * 51 / 92, 2)  # suspension ends 10 Nov: 51 of 92 days
NOV26 = "OCT25_RULES_RETURN_NOV26"
NOV26_NOTE = (
    "Nos. 57 and 61 (Oct 2025) return when the No. 70 suspension lapses on 10 Nov 2026 [S14]:"
    " Chinese licensed tonnes fall as in the first quarter of No. 18; applied to the exporters'"
    " capacity in those quarters, which scales licensed tonnes like the approval rate does"
)
SCENARIOS = [
    (
        "MAY25_SQUEEZE",
        "Licences",
        "approval_rate",
        f"regime={REGIME}",
        "scale",
        NDFEB_LOW,
        "May 2025 repeated: every CN-MOFCOM approval scaled to the May 2025 export level"
        " (1,238 t against 5,334 t/month in Q1 2026); defence stays refused",
    ),
    *[
        (
            NOV26,
            "Supply",
            "capacity",
            f"source={s}; material={m}; period=2026-Q4",
            "scale",
            der(
                LAPSE_Q4,
                f"1 - (1 - {SQUEEZE_Q}) x 51/92: the 51 days of Q4 after 10 Nov 2026 at the"
                " first-quarter-of-No.-18 level",
                S14 + "; " + S10,
            ),
            NOV26_NOTE,
        )
        for s, m in CN_CONTROLLED
    ],
    *[
        (
            NOV26,
            "Supply",
            "capacity",
            f"source={s}; material={m}; period={q}",
            "scale",
            der(
                SQUEEZE_Q,
                f"Apr-Jun 2025 magnet exports {Q2_2025:,} t / Q1 2026 {CN_MAGNETS_Q:,} t"
                " (the first quarter of No. 18; two quarters of it assumed for the wider rules)",
                S10 + "; " + S10F,
            ),
            NOV26_NOTE,
        )
        for q in ("2027-Q1", "2027-Q2")
        for s, m in CN_CONTROLLED
    ],
    CompatRow(
        (
            "GENERAL_LICENCES_CIVIL",
            "Licences",
            "approval_rate",
            f"regime={REGIME}",
            "set",
            asm(
                1.0,
                "one-year general licences as issued to named civil customers in Dec 2025"
                " [S19], extended here to every civil buyer",
            ),
            "General licences for civil customers (as in December 2025), every controlled material",
        )
    ),
    LanesRow(
        (
            "GENERAL_LICENCES_CIVIL",
            "Licences",
            "approval_rate",
            f"regime={REGIME}; end_use=civil",
            "set",
            asm(
                1.0,
                "one-year general licences as issued to named civil customers in Dec 2025"
                " [S19], extended here to every civil buyer",
            ),
            "General licences for civil customers (as in December 2025); defence still refused",
        )
    ),
    LanesRow(
        (
            "GENERAL_LICENCES_CIVIL",
            "Licences",
            "lead_periods",
            f"regime={REGIME}; end_use=civil",
            "set",
            asm(0.0, "a general licence covers a year of shipments: no per-shipment review [S19]"),
            "No per-shipment licensing delay under a general licence",
        )
    ),
    LanesRow(
        (
            "US_SLOWDOWN",
            "Licences",
            "approval_rate",
            f"regime={REGIME}; material=NDFEB; market=US",
            "set",
            der(0.07, "May 2025 magnet exports to the US -93.3% y/y: 1 - 0.933 = 0.067", S11B),
            "US-destination slowdown: magnets bound for US civil buyers at the May 2025 US level",
        )
    ),
    LanesRow(
        (
            "US_SLOWDOWN",
            "Licences",
            "lead_periods",
            f"regime={REGIME}; market=US",
            "add",
            asm(1.0, "US-linked cases a further quarter slower than the 6 months reported [S71]"),
            "US-linked licences take a quarter longer",
        )
    ),
    (
        "DY_FREE_GRADES_UP",
        "Plants",
        "capacity",
        "plant=JP-INCUMBENTS",
        "add",
        asm(
            -1_260,
            "Japanese standard lines converted to low-HREE grades (HRE use at Proterial"
            " 1/10 of c.2000 [S54]): as much again as the base low-HREE output",
        ),
        "Japanese makers move 1,260 t/qtr of standard lines to low-HREE grades",
    ),
    (
        "DY_FREE_GRADES_UP",
        "Plants",
        "capacity",
        "plant=JP-LOW-HREE",
        "add",
        asm(1_260, "the converted lines: low-HREE output doubles"),
        "Japanese makers move 1,260 t/qtr of standard lines to low-HREE grades",
    ),
    LanesRow(
        (
            "DY_FREE_GRADES_UP",
            "Variants",
            "max_share",
            "variant=low_hree",
            "add",
            asm(0.2, "product lines requalified for low-HREE magnets: 20 points more of each"),
            "Product lines can take 20 points more low-HREE magnets",
        )
    ),
    *[
        (
            "LYNAS_SOLVAY_RAMPS",
            "Supply",
            "capacity",
            f"source=LYNAS; material={m}; period=2027-*",
            "add",
            der(
                v,
                f"new 5,000 t/yr HRE plant x {y} yield x 50% ramp in its second year / 4"
                " (full in ~2 years from Oct 2025; ramp assumed)",
                "[S21d] rawmaterials.net, Oct 2025",
            ),
            "Lynas's new Malaysian heavy-RE plant ramps up in 2027",
        )
        for m, v, y in (("DY_OX", 31.25, "~5% Dy"), ("TB_OX", 6.25, "~1% Tb"))
    ],
    (
        "LYNAS_SOLVAY_RAMPS",
        "Supply",
        "capacity",
        "source=SOLVAY; material=SM_OX",
        "scale",
        asm(4.0, 'Solvay Sm "could increase quickly" (reference-data 12d); x4 assumed'),
        "Solvay's samarium oxide for Permag/Less Common Metals scales up",
    ),
    (
        "EU_ASK_PRICES",
        "Supply",
        "unit_cost",
        "material=DY_OX",
        "set",
        P_DY_EU,
        "Dy oxide bought at the May 2025 European ask instead of the volume price [S44]",
    ),
    (
        "EU_ASK_PRICES",
        "Supply",
        "unit_cost",
        "material=TB_OX",
        "set",
        P_TB_EU,
        "Tb oxide bought at the May 2025 European ask instead of the volume price",
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
    Table(
        "Licences",
        LICENCES_COLUMNS,
        ("regime", "material", "period", "end_use", "market"),
        LICENCES,
    ),
    Table("Sources", SOURCES_COLUMNS, ("source",), SOURCES),
    Table("Supply", SUPPLY_COLUMNS, ("source", "material", "period"), SUPPLY),
    Table("Plants", PLANTS_COLUMNS, ("plant",), PLANTS),
    Table("Recipes", RECIPES_COLUMNS, ("plant", "input"), RECIPES),
    Table("Sectors", SECTORS_COLUMNS, ("sector",), SECTORS),
    Table("Demand", DEMAND_COLUMNS, ("sector", "product", "market", "period"), DEMAND),
    Table("Intensity", INTENSITY_COLUMNS, ("product", "material", "variant"), INTENSITY),
    Table("Variants", VARIANTS_COLUMNS, ("product", "variant"), VARIANTS),
    Table(
        "Restrictions",
        RESTRICTIONS_COLUMNS,
        ("material", "origin", "end_use", "market", "from_period"),
        RESTRICTIONS,
    ),
    Table("Scenarios", SCENARIOS_COLUMNS, ("scenario",), SCENARIOS),
]

# Full citations (reference-data.md section 9), verbatim, for the tags used above.
CITATIONS: dict[str, str] = {
    "S5": (
        "IEA commentary (23 Oct 2025) via Rare Earth Exchanges, "
        "https://rareearthexchanges.com/news/the-mineral-chessboard-iea-sounds-alarm-as-china-tightens-its-grip"
    ),
    "S6": (
        "Argus (E. Saklatvala, 15 Jan 2025) via MineListings, "
        "https://minelistings.com/mine-news/mp-materials-produces-rare-earth-metal-in-texas"
    ),
    "S8": (
        'Argus, "China\'s recycled rare earth output falls in 2024" (2025), '
        "https://www.argusmedia.com/metals-platform/newsandanalysis/article/2678157-China-s-recycled-rare-earth-output-falls-in-2024"
    ),
    "S9": (
        'Adamas Intelligence, "Record rare earth magnet exports from China in 2024", '
        "https://www.adamasintel.com/record-rare-earth-magnet-exports-from-china-in-2024/"
    ),
    "S10": (
        "Reuters (A. Lv, L. Jackson) customs reports 2025: (a) June data via VnNow "
        "https://vnnow.net/en/business/china-s-rare-earth-magnet-exports-to-the-us-surge-107091.html"
        " and NAM"
        " https://nam.org/u-s-imports-of-rare-earth-magnets-from-china-surge-34433/ ;"
        " (b) July "
        "https://www.kitco.com/news/off-the-wire/2025-08-20/chinas-rare-earth-magnet-exports-hit-six-month-high-july"
        " ; (c) September "
        "https://www.telegraphindia.com/business/chinas-rare-earth-magnet-exports-dip-6-1-in-september-amid-tighter-export-scrutiny-and-curbs/cid/2128671"
        " ; (d) October https://www.squidsite02.com/2025/11/20/china-october-rare-earth"
        " ; (e) November "
        "https://www.devdiscourse.com/article/headlines/3736790-chinas-rare-earth-magnet-surge-a-post-agreement-export-boom"
        " and "
        "https://thewest.com.au/business/mining/new-data-shows-sharp-fall-in-chinas-rare-earth-sales-to-the-us-c-21074598"
        " ; (f) March 2026 via Mining.com"
        " https://www.hdmune.cn/news/detail/12560605375505 ; (g) Sep US data via MENAFN"
        " https://menafn.com/1110230072/US-Rare-Earth-Magnet-Imports-from-China-Drop"
    ),
    "S11": (
        "Bloomberg (18–20 Jun 2025) via Business Standard "
        "https://www.business-standard.com/amp/world-news/china-s-rare-earth-exports-hit-five-year-low-as-magnet-sales-curbs-125061801486_1.html"
        " ; (a) WSJ via Automotive World "
        "https://www.automotiveworld.com/news/chinese-rare-earth-exports-collapsed-74-yoy-in-may/"
        " ; (b) Bloomberg via "
        "https://main.d358xbzettaslu.amplifyapp.com/en/article/e0c6b862ae57ba721c920b82a11ef272"
        " and "
        "https://sglatestnews.biz/chinas-rare-earth-exports-slump-in-may-as-magnet-sales-curbed"
        " ; US −93.3% via Ground News "
        "https://ground.news/article/chinas-rare-earth-magnet-export-volume-drops-to-a-decade-low"
    ),
    "S12": (
        "MOFCOM & GAC Announcement No. 18 [2025] (4 Apr 2025), English translations:"
        " https://osencmagnet.com/export-controls-on-rare-earth-elements/ ;"
        " https://www.hymagnetics.com/news_detail/24.html ; MOFCOM Q&A"
        " https://en.ckhq.net/html/d690b55870b095a96960f687dc9020ef.html ; (a) exporter"
        " practice (45 business days, HS inspection)"
        " https://teslam.co.jp/newsen/694.html"
    ),
    "S13": (
        "MOFCOM No. 61 & 62 [2025] (9 Oct 2025):"
        " http://www.sscollege.cn/en/news/44800.html ;"
        " http://www.sscollege.cn/en/news/44809.html ; ChemRadar"
        " https://www.chemradar.com/en/news/detail/f1la2toi5p1c ; No. 57 via BW Magnets "
        "https://www.bwmagnets.com/News-Release-China-s-Rare-Earth-Export-Controls-Intensify-Posing-Challenges-to-the-High-Performance-NdFeB-Magnet-Industry-id40993485.html"
    ),
    "S14": (
        "MOFCOM & GAC Announcement No. 70 [2025] (7 Nov 2025):"
        " https://www.chemradar.com/en/news/detail/f3s7t2oy9qf4 ; Pillsbury "
        "https://www.pillsburylaw.com/en/news-and-insights/china-suspends-export-controls-certain-critical-minerals-related-items.html"
    ),
    "S16": (
        "CLEPA via Reuters (4 Jun 2025)"
        " https://todayheadline.co/european-auto-supplier-plants-shut-081958659-html/ ;"
        " (a) Reuters (30 Jun 2025) "
        "https://www.hindustantimes.com/world-news/us-news/chinas-rare-earths-are-flowing-again-but-not-freely-101751251601471.html"
    ),
    "S17": (
        "EU Chamber of Commerce in China (Sep 2025): "
        "https://particle.news/story/eu-chamber-reports-surge-in-production-halts-as-chinas-rare-earth-licenses-stall"
        " ; "
        "https://miamidaily.life/world/chinas-rare-earth-curbs-how-european-firms-face-shutdowns-despite-eu-deal"
    ),
    "S18": (
        "Reuters/FT (Jun 2025) via The Oregon Group, "
        "https://theoregongroup.com/commodities/rare-earths/chinas-rare-earth-restrictions-easing-but-us-supply-still-de-prioritized"
    ),
    "S19": (
        "Reuters (Dec 2025) via Tom's Hardware "
        "https://www.tomshardware.com/tech-industry/china-issues-first-batch-of-general-rare-earth-export-licenses-to-magnet-makers"
        " and TRT https://www.trtworld.com:443/article/b8d356291765"
    ),
    "S21": (
        "Lynas FY25 results (Aug 2025) "
        "https://www.middle.news/articles/2025/08/27/lynas-accelerates-rare-earths-growth-with-record-production-and-750m-raise"
        " ; (a) Mt Weld/price"
        " https://www.australianmining.com.au/lynas-mt-weld-gets-a-boost/ ; (b) first"
        " Dy (16 May 2025) "
        "https://www.australianmining.com.au/lynas-produces-worlds-first-dysprosium-outside-of-china/"
        " ; (c) Fastmarkets (27 Jun 2024) "
        "https://fastmarkets.com/insights/lynas-to-produce-dysprosium-terbium-oxide-in-malaysia"
        " ; (d) new HRE plant (Oct 2025)"
        " https://rawmaterials.net/lynas-expands-heavy-rare-earth-production-in-malaysia"
        " and https://www.itiger.com/hans/news/2579919202 ; (e) H1 FY25 report "
        "https://stocksavvy.ai/filings/lynas-rare-earths-limited-asx/half-year-report-fy25-including-annexure-4d"
    ),
    "S22": (
        "MP Materials press release 22 Jan 2025 (SEC Ex. 99.1) "
        "https://www.sec.gov/Archives/edgar/data/1801368/000162828025002096/mpmcexhibit9911222025.htm"
        " ; (a) DoD partnership (10 Jul 2025) "
        "https://www.adamasintel.com/mp-materials-announces-transformational-partnership-with-the-us-department-of-defense"
        " , https://fas.org/publication/unpacking-dod-and-mp-partnership ; (b) Q2/Q3"
        " 2025 results https://rareearthexchanges.com/?p=14660 , "
        "https://script.finanzen.at/nachrichten/aktien/mp-materials-hits-record-high-on-strong-output--pentagon-and-apple-deals-14708598"
        " ; (c) Apple deal (15 Jul 2025)"
        " https://www.daily8.com/en/article/8eccba4012d749035704a2cf9a6abb0a"
    ),
    "S23": (
        "Neo Performance: Argus "
        "https://www.argusmedia.com/de/news-and-insights/latest-market-news/2465359-magnequench-starts-building-estonia-re-magnet-plant"
        " ; Automotive World (19 Sep 2025) "
        "https://www.automotiveworld.com/articles/neo-opens-estonia-rare-earth-plant-to-cut-eu-reliance-on-china/"
        " ; (a) Metalnomist (Dec 2025)"
        " https://www.metalnomist.com/2025/12/neo-estonia-rare-earth-magnet-plant.html"
        " and http://www.earths-book.com/index-1075.html"
    ),
    "S24": (
        "Solvay press release (9 Apr 2025) "
        "https://www.automotiveworld.com/news-releases/solvay-advances-european-rare-earths-production-through-capacity-expansion/"
        " ; (a) https://24brussels.online/?p=13798 ,"
        " https://specchemonline.com/node/10107 ; (b) CRMA targets"
        " https://evertiq.com/news/56133"
    ),
    "S26": (
        "Energy Fuels: "
        "https://engineeringnews.co.za/print-version/energy-fuels-achieves-commercial-production-of-separated-rare-earths-at-white-mesa-2024-06-11"
        " ; PR (21 Aug 2025)"
        " https://crweworld.com/article/news-provided-by-pr-newswire/3700873/ ; Phase 2"
        " BFS https://web3.ouzhyi.onl/it/discover/post/65954887756000 (low) ;"
        " https://www.metalnomist.com/2025/09/energy-fuels-heavy-rare-earth-oxides.html"
    ),
    "S28": ("Noveon (Feb 2023) https://noveon.co/noveon-jumpstart"),
    "S29": (
        "USA Rare Earth "
        "https://minelistings.com/mine-news/usa-rare-earth-produces-first-batch-of-magnets-at-oklahoma-plant"
    ),
    "S31": (
        "ACREI (Chen Zhanheng) via Metalnomist (Dec 2024)"
        " https://metalnomist.com/2024/12/global-magnet-demand-trends-and.html"
    ),
    "S32": (
        "Heim, J.W. & Vander Wal, R.L. (2023) *Minerals* 13(10):1274,"
        " doi:10.3390/min13101274 ; https://encyclopedia.pub/entry/50309"
    ),
    "S33": (
        "Adamas, *Rare Earth Magnet Market Outlook to 2040* (Q3 2024)"
        " https://adamasintel.com/rare-earth/rare-earth-magnet-market-outlook-to-2040 ;"
        " (a) 2023 edition via Green Car Congress"
        " https://www.greencarcongress.com/2023/05/20230506-adamas.html ; (b) 2020"
        " release https://www.greencarcongress.com/2020/08/20200818-admas.html"
    ),
    "S35": (
        "IEA, *Global EV Outlook 2025* (May 2025)"
        " https://electricalindustry.ca/latest-articles/iea-global-ev-outlook-2025"
    ),
    "S36": (
        "GWEC, *Global Wind Report 2025* (23 Apr 2025) "
        "https://www.aa.com.tr/en/energy/renewable/global-wind-power-capacity-sees-record-growth-in-2024/48755"
    ),
    "S37": (
        "IDC (Jan 2025) "
        "https://iconnect007.com//article/143788/worldwide-smartphone-shipments-grew-64-in-2024-despite-macro-challenges/143785/ein"
    ),
    "S38": (
        "CRS (F-35 417 kg) via i-HLS https://i-hls.com/archives/107068 ; (a) 920 lb /"
        " 5,200 lb / 9,200 lb https://asiatimes.com/tag/vital-metals/ , "
        "https://www.metaltechnews.com/story/2025/07/16/tech-metals/dod-commits-billions-to-us-rare-earths/2370.html"
        " ; (b) Benchmark via Foreign Policy https://arkforgeai.com/article/51912 ; (c)"
        " DoD 175 t/yr "
        "https://www.raremetalblog.com/pentagon-says-f-35s-use-chinese-rare-earths-us-supply-to-rise/"
    ),
    "S39": (
        "Oeko-Institut (2012) *Recycling critical raw materials from waste electronic"
        " equipment*, Table 25, "
        "https://www.yumpu.com/en/document/view/5287021/recycling-critical-raw-materials-from-waste-electronic-equipment/47"
        " ; (a) Univ. of Plymouth (2019) "
        "https://plymouth.ac.uk/news/scientists-use-a-blender-to-reveal-whats-in-our-smartphones"
    ),
    "S40": (
        "Magnet composition datasheets: http://www.couragemagnet.com/faq/324.html ;"
        " https://www.couragemagnet.com/magnet-blog/366.html ;"
        " https://www.stanfordmagnets.com/smco-magnets-composition-series-and-types.html"
        " (low)"
    ),
    "S41": (
        "IEEE Electrification Magazine (Mar 2017) "
        "https://www.nxtbook.com/nxtbooks/pes/electrification_march2017/index.php?startid=20"
    ),
    "S42": (
        "Fastmarkets assessments 2024: "
        "https://www.fastmarkets.com/insights/china-rare-earth-prices-turn-higher-as-sellers-insist-on-higher-prices/"
        " ; (a) "
        "https://fastmarkets.com/insights/lynas-to-produce-dysprosium-terbium-oxide-in-malaysia"
        " ; (b) https://www.fastmarkets.com/?p=57207"
    ),
    "S43": (
        "Argus Europe Dy/Tb (6 May 2025) via GMT Eight"
        " https://gmteight.com/latest/detail/282683 ; SMM (May 2025)"
        " https://news.metal.com/newscontent/103310477/"
    ),
    "S44": (
        'Adamas, "The fallacy of European rare earth prices" (early 2026) '
        "https://www.adamasintel.com/the-fallacy-of-european-rare-earth-prices-and-the-pras-that-promote-them"
    ),
    "S45": (
        "SMM via Rare Earth Exchanges (2025) "
        "https://rareearthexchanges.com/news/china-rare-earth-prices-dip-as-market-stalls-whats-really-going-on"
    ),
    "S54": (
        "Nikkei via TrendForce (24 Jun 2025) "
        "https://www.trendforce.com/news/2025/06/24/news-japan-reportedly-develops-tech-to-cut-heavy-rare-earth-use-amid-dependence-on-china/"
    ),
    "S55": (
        "Metalnomist (Aug 2024)"
        " https://metalnomist.com/2024/08/increased-supplies-and-weak-demand.html"
    ),
    "S62": (
        "Federation of American Scientists (15 Jul 2025)"
        " https://fas.org/publication/unpacking-dod-and-mp-partnership"
    ),
    "S63": ("TRADIUM via Rare Earth Exchanges https://rareearthexchanges.com/?p=20206"),
    "S65": (
        "New York Times (Jun 2025) via NZ Herald "
        "https://www.nzherald.co.nz/world/chinas-chokehold-on-an-obscure-mineral-threatens-the-wests-militaries/UOOHX6SN4VDNTNQ4TBZDZOQBIE"
    ),
    "S70": (
        "Courage Magnet blog (capacities as of end-2022)"
        " https://www.couragemagnet.com/magnet-blog/871.html (low)"
    ),
    "S71": ("Fortune via teleo-codex notes (2026) (low)"),
    "S81": (
        "Mainrich (vendor)"
        " https://www.mainrichinternational.com/compare/gbd-vs-bulk-alloyed-ndfeb-magnet"
        " ; https://www.mainrichinternational.com/success-stories/lawn-mower-motors"
        " (low)"
    ),
    "S82": (
        "Discovery Alert"
        " https://discoveryalert.com.au/news/rare-earth-magnets-recycling-benefits-2025"
        " (low)"
    ),
}

# reference-data.md section 11 (product values) names its sources without [S] tags.
SECTION_11 = [
    (
        "section 11",
        "Counterpoint Research Market Monitor: global smartphone average selling price USD 356"
        " (2024), as reported by ictbusiness.biz and digitalinformationworld.com (Feb 2025)",
    ),
    (
        "section 11",
        "JATO Dynamics 'EV price gap' reports: US average EV about USD 55,000 (Dec 2024), as"
        " reported by am-online.com (Oct 2023) and effizziemagz.com (2025)",
    ),
    (
        "section 11",
        "BloombergNEF Wind Turbine Price Index: about USD 1 million per MW as the recent"
        " ballpark; BNEF '2023 Global Wind Turbine Market Shares'",
    ),
    (
        "section 11",
        "F-35 Joint Program Office: F-35A unit recurring flyaway cost about USD 82.5 million"
        " (lots 15-19), as reported (factually.co summary)",
    ),
]


def about_text(lanes: bool) -> list[str]:
    """The free text at the top of the About sheet."""
    layout = (
        "lanes (end use and market on Licences, low-HREE Intensity rows, lane scenarios)"
        if lanes
        else "compat: the lanes-only rows of build_reference.py are left out because the code"
        " that wrote this file cannot read them; rebuild with the lanes-aware code for the full"
        " instance"
    )
    return [
        "Rare-earth supply-chain exposure calculator: reference input workbook, second edition",
        "Instance: the ex-China market for sintered NdFeB (standard and low-HREE grades) and"
        " SmCo magnets and their rare-earth oxides (NdPr, Dy, Tb, Sm) over the eight quarters"
        " 2026-Q1 to 2027-Q4, supplied by Chinese exporters under China's dual-use export"
        " licences (MOFCOM & GAC Announcement No. 18 [2025]) and by non-Chinese producers."
        " Civil and defence end uses; US and rest-of-world (ROW) markets. China's domestic use"
        " is not under export control and is left out.",
        "Licences as the 2025-26 record shows them: civil approvals fitted to the tonnes China"
        " shipped (counts of applications such as CLEPA's 25% and 60% are kept as stress"
        " bounds only), defence refused, a 0.7-quarter review and 2 quarters for US-linked"
        " cases; US defence procurement bars Chinese magnets, and from 2027 Chinese-refined"
        " rare earths (Restrictions).",
        "Prepared 2026-11. Units: material quantities in t per quarter; costs and values in USD"
        " (USD/t, USD/t/period, USD/unit); kg_per_unit in kg; rates and shares are fractions"
        " (shown as %); lead_periods in quarters.",
        "Every number is listed in the register below with its cell and basis: 'sourced'"
        " (public figure; tag from reference-data.md section 9, or a section 11 publisher, and"
        " the year), 'derived: formula' (computed from cited figures) or 'assumption: why' (a"
        " planner's assumption, not a sourced figure; source blank). Most product values,"
        " several capacities and all variant shares are assumptions.",
        f"Layout: {layout}. Regenerate with: .venv/bin/python inputs/build_reference.py"
        " (deterministic).",
    ]


ABOUT_COLUMNS = ("sheet", "cell", "key", "column", "value", "basis", "source")
TAG_RE = re.compile(r"\[(S\d+)[a-z]?\]")


def code_reads_lanes() -> bool:
    """Whether the installed ``exposure`` reads the lanes of design 3a/3b."""
    try:
        from exposure.workbook.schema import SHEETS_BY_NAME
    except ImportError:  # restructured code: the lanes arrive with it
        return True
    spec = SHEETS_BY_NAME.get("Licences")
    return spec is not None and "end_use" in {c.name for c in spec.columns}


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
BOLD = Font(bold=True)
RATE_COLUMNS = {"approval_rate", "approval_low", "approval_high", "min_service", "max_share"}
RATE_COLUMNS |= {"persistence"}
MONEY_COLUMNS = {"unit_cost", "value_per_unit", "holding_cost", "terminal_value"}
MONEY_COLUMNS |= {"extra_cost_per_unit"}


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
        return "0%" if float(value * 100).is_integer() else "0.0%"
    if float(value).is_integer():
        return "#,##0"
    if column in MONEY_COLUMNS:
        return "#,##0.00" if abs(value) >= 1 else "0.000###"
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


def rows_for(table: Table, lanes: bool) -> list[tuple]:
    """The rows of a table in the chosen layout."""
    skip = CompatRow if lanes else LanesRow
    return [row for row in table.rows if not isinstance(row, skip)]


def write_table(wb: Workbook, table: Table, lanes: bool) -> list[tuple]:
    """Write one input sheet; return the About rows for its numbers."""
    ws = wb.create_sheet(table.name)
    ws.append(list(table.columns))
    for cell in ws[1]:
        cell.font = BOLD
    widths = {i: len(c) for i, c in enumerate(table.columns, start=1)}
    about: list[tuple] = []
    counters: dict[str, int] = {}
    for row in rows_for(table, lanes):
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
                ref = f"{table.name}!{cell.coordinate}"
                about.append((table.name, ref, key, column, item.value, item.basis, item.source))
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
    rows = [(f"[{t}]", CITATIONS[t]) for t in ordered]
    if any(R11 in source for *_, source in about):
        rows.extend(SECTION_11)
    return rows


def write_about(ws, about: list[tuple], lanes: bool) -> None:
    """Free text, the number register, then the cited sources."""
    text = about_text(lanes)
    for line in text:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(["Number register: every number in this workbook"])
    ws.cell(row=ws.max_row, column=1).font = BOLD
    ws.append(list(ABOUT_COLUMNS))
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for sheet, ref, key, column, value, basis, source in about:
        ws.append([sheet, ref, key, column, value, basis, source or None])
        cell = ws.cell(row=ws.max_row, column=5)
        cell.number_format = number_format(column, value) or "General"
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
    set_widths(ws, {1: 12, 2: 16, 3: 30, 4: 16, 5: 14, 6: 90, 7: 48})
    for row in ws.iter_rows(min_row=1, max_row=len(text)):
        row[0].alignment = Alignment(wrap_text=False)


def build_workbook(lanes: bool) -> Workbook:
    """The whole reference workbook, in memory."""
    wb = Workbook()
    about_ws = wb.active
    about_ws.title = "About"
    about: list[tuple] = []
    for table in TABLES:
        about.extend(write_table(wb, table, lanes))
    write_about(about_ws, about, lanes)
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


def main(argv: list[str] | None = None) -> None:
    """Write the reference workbook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output workbook (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--layout",
        choices=("auto", "lanes", "compat"),
        default="auto",
        help="lanes: the full instance; compat: without the rows older code rejects;"
        " auto (default): whichever the installed exposure reads",
    )
    args = parser.parse_args(argv)
    lanes = code_reads_lanes() if args.layout == "auto" else args.layout == "lanes"
    save_deterministic(build_workbook(lanes), args.out)
    print(f"wrote {args.out} ({'lanes' if lanes else 'compat'} layout)")


if __name__ == "__main__":
    main()
