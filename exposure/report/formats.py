"""The one registry of number formats: a column (or key) name -> how its numbers show.

Every workbook the product writes takes its formats from `format_for`, so a
column added anywhere (`value_service_level`, `value_of_relief`, ...) is
formatted by its name without touching a writer: shares as percentages,
money as USD with thousands separators, tonnes with two decimals. Each
format also knows, roughly, the text Excel shows for a number, so that
column widths fit the numbers and no cell renders as "###".

A name is matched on its first whitespace-separated word, casefolded: the
what-if Scenarios sheet names rows "service_level DEFENCE", the rest is data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberFormat:
    """An Excel number format and the text it shows for a number (for widths and tests).

    `negative`, where given, is the format of a negative number: a format with
    conditions (the scaled USD) shows no minus sign in LibreOffice, so a negative
    cell gets a plain format in its own scale, to which the minus is added.
    """

    name: str
    excel: str
    shows: Callable[[float], str]
    negative: Callable[[float], str] | None = None

    def code(self, value: float) -> str:
        """The Excel format code for this value."""
        if value < 0 and self.negative is not None:
            return self.negative(value)
        return self.excel


_USD_BN = '"USD "#,##0.00,,," bn{}"'
_USD_M = '"USD "#,##0.0,," M{}"'
_USD = '"USD "#,##0"{}"'


def _usd_excel(suffix: str = "") -> str:
    """USD in the scale the terminal's `usd` uses: USD 46.60 bn, USD 3.6 M, USD 5,600.

    Full figures of ten or more digits made the what-if and stress tables so wide that
    a printed page shrank them to an unreadable size; the cell keeps the exact value.
    """
    return (
        f"[>=1000000000]{_USD_BN.format(suffix)};"
        f"[>=1000000]{_USD_M.format(suffix)};{_USD.format(suffix)}"
    )


def _usd_negative(value: float, suffix: str = "") -> str:
    """One plain section in the scale of |value|: Excel and LibreOffice add the minus."""
    if value <= -1e9:
        return _USD_BN.format(suffix)
    if value <= -1e6:
        return _USD_M.format(suffix)
    return _USD.format(suffix)


def _usd_shows(value: float, suffix: str = "") -> str:
    sign, size = ("-", -value) if value < 0 else ("", value)
    if size >= 1e9:
        return f"{sign}USD {size / 1e9:,.2f} bn{suffix}"
    if size >= 1e6:
        return f"{sign}USD {size / 1e6:,.1f} M{suffix}"
    return f"{sign}USD {size:,.0f}{suffix}"


PERCENT = NumberFormat("share", "0.0%", lambda v: f"{v:.1%}")
USD = NumberFormat("USD", _usd_excel(), _usd_shows, _usd_negative)
USD_PER_T = NumberFormat(
    "USD per t",
    _usd_excel("/t"),
    lambda v: _usd_shows(v, "/t"),
    lambda v: _usd_negative(v, "/t"),
)
TONNES = NumberFormat("tonnes", '#,##0.00" t"', lambda v: f"{v:,.2f} t")
UNITS = NumberFormat("units", "#,##0.0", lambda v: f"{v:,.1f}")
COUNT = NumberFormat("count", "#,##0", lambda v: f"{v:,.0f}")
DECIMAL4 = NumberFormat("number, 4 decimals", "#,##0.0000", lambda v: f"{v:,.4f}")
RATIO = NumberFormat("ratio", "#,##0.000", lambda v: f"{v:,.3f}")
SECONDS = NumberFormat("seconds", '0.000" s"', lambda v: f"{v:.3f} s")
TEXT = NumberFormat("text", "@", str)
# Excel's General: up to 11 significant digits, no separators (years, seeds, ids).
GENERAL = NumberFormat("general", "General", lambda v: f"{v:.11g}")

# Names whose meaning no pattern below captures, or that a pattern would get wrong.
EXACT: dict[str, NumberFormat] = {
    "value": GENERAL,  # a key/value table's value column, or a swept value: set per row
    "limit": GENERAL,
    "period": GENERAL,
    "seed": GENERAL,
    "exit_code": GENERAL,
    "lead": COUNT,
    "method": TEXT,  # how a value was computed: words, though the name says value
    "value_method": TEXT,
    "penalty": DECIMAL4,  # a sum of soft-constraint gap shares, not a share itself
    "penalty_change_1pp": DECIMAL4,
    "penalty_change_1t": DECIMAL4,
    "penalty_change_relief": DECIMAL4,
    "violation": DECIMAL4,
    "t_per_t": RATIO,
    "kg_per_unit": RATIO,
    "weight": RATIO,
    "max_dual": USD,
    "hhi": COUNT,
    "concentration": COUNT,
}

_W = r"(^|_)"  # start of a word in a snake_case name
_E = r"(_|$)"  # end of a word

# First match wins: the order settles names that hold two kinds of word
# (`value_service_level` is a share, `value_per_pct_approval` is money).
PATTERNS: list[tuple[re.Pattern[str], NumberFormat]] = [
    (re.compile(r"service_level|^min_service$"), PERCENT),
    (
        re.compile(r"^value_of_1t$|^value_per_t$|_per_t$|shadow_price|unit_cost|holding_cost"),
        USD_PER_T,
    ),
    (
        re.compile(
            rf"{_W}(value|values|cost|costs|usd|price|objective|revenue|at_risk|at_stake){_E}"
        ),
        USD,
    ),
    (
        re.compile(
            rf"{_W}(share|shares|pct|percent|approval|dependency|rate|rates|probability"
            rf"|persistence){_E}"
        ),
        PERCENT,
    ),
    (re.compile(r"seconds"), SECONDS),
    (
        re.compile(
            rf"{_W}(t|tonnes|capacity|buy|make|stock|supplied|made|used|received|licensed"
            rf"|licensing|bought){_E}"
        ),
        TONNES,
    ),
    (re.compile(rf"{_W}(units|built|lost_units){_E}"), UNITS),
    (
        re.compile(
            rf"{_W}(count|draw|draws|iterations|variables|constraints|rebuilds|steps"
            rf"|scenarios|violated|breached|rows){_E}"
        ),
        COUNT,
    ),
]


def format_for(name: object) -> NumberFormat | None:
    """The format of numbers under this column or key name; None: no rule (General)."""
    words = str(name).strip().casefold().split()
    if not words:
        return None
    key = words[0]
    if key in EXACT:
        return EXACT[key]
    for pattern, number_format in PATTERNS:
        if pattern.search(key):
            return number_format
    return None


def usd_axis_format(largest: float) -> str:
    """A chart axis of USD in one scale, that of its largest value: "USD 30 bn" reads at a
    glance where "USD 30,000,000,000" does not."""
    if abs(largest) >= 1e9:
        return '"USD "#,##0,,," bn"'
    if abs(largest) >= 1e6:
        return '"USD "#,##0,," M"'
    return '"USD "#,##0'
