"""Named cross-sheet checks, one function per rule, each with a stable code.

Like PyPSA's `consistency.py`: every check looks at the tables read from the
workbook, logs what it finds with the exact cell, and never stops the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

import pandas as pd

from exposure.issues import IssueLog
from exposure.workbook.reader import ROW, RawWorkbook, closest
from exposure.workbook.schema import (
    SHEETS_BY_NAME,
    EditError,
    edit_column,
    edit_match,
    edit_sheet,
)
from models.data import ANY_MARKET, DEFAULT_END_USE, STANDARD

DEFAULT_PERIOD = "base"

Check = Callable[[RawWorkbook, IssueLog], None]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


def run_checks(book: RawWorkbook) -> None:
    """Run every registered check, adding issues to `book.log`.

    A check that needs a sheet which could not be read skips the rows depending on
    it (see `skip_unread`), rather than report each of them as a problem of its
    own: they are counted on the one error that says why the sheet was not read.
    """
    for function in CHECKS:
        function(book, book.log)
    for sheet, rows in book.rows_not_checked.items():
        root = book.unread[sheet]
        rows_that = "1 row that depends" if rows == 1 else f"{rows} rows that depend"
        counted = dataclasses.replace(root, message=f"{root.message} ... and {rows_that} on it")
        book.log.issues = [counted if issue is root else issue for issue in book.log.issues]
        book.unread[sheet] = counted
    book.rows_not_checked.clear()


def skip_unread(book: RawWorkbook, sheets: Iterable[str], rows: int) -> bool:
    """True if any of `sheets` could not be read; then `rows` are counted against it."""
    unread = next((s for s in sheets if s in book.unread), None)
    if unread is None:
        return False
    book.rows_not_checked[unread] += rows
    return True


def known_ids(book: RawWorkbook, sheet_name: str) -> list[str]:
    """The ids defined by a sheet's first key column (Demand defines products)."""
    if sheet_name == "Periods" and "Periods" not in book.tables:
        return [DEFAULT_PERIOD]
    column = "product" if sheet_name == "Demand" else SHEETS_BY_NAME[sheet_name].key[0]
    frame = book.frame(sheet_name)
    return list(dict.fromkeys(v for v in frame[column] if v is not None))


@check
def duplicate_keys(book: RawWorkbook, log: IssueLog) -> None:
    for table in book.tables.values():
        key = list(table.spec.key)
        if not key or table.frame.empty:
            continue
        frame = table.frame
        complete = frame[key[0]].notna()
        for column in key:
            if table.spec.column(column).required:  # blank period, end_use... are values
                complete &= frame[column].notna()
        # Vectorised (issue 14: iterrows took 9 s at 240k rows). A blank period is a
        # key value of its own, so blanks are made equal before comparing.
        keys = frame.loc[complete, key].astype(object)
        keys = keys.where(keys.notna(), "")
        repeated = keys.duplicated(keep="first")
        if not repeated.any():
            continue
        rows = frame.loc[complete, ROW]
        first_rows = rows.groupby([keys[c] for c in key], sort=False).transform("first")
        for index in repeated.index[repeated.to_numpy()]:
            values = [frame.at[index, c] for c in key]
            row, first = frame.at[index, ROW], first_rows[index]
            label = ", ".join(f"{c}={v}" for c, v in zip(key, values, strict=True) if v)
            log.add_error(
                "duplicate-key",
                f"{label} is also in row {first}",
                **table.cell(key[0], row),
                value=label,
                hint=f"keep one of rows {first} and {row}",
            )


@check
def unknown_ids(book: RawWorkbook, log: IssueLog) -> None:
    cache: dict[str, set[str]] = {}
    for table in book.tables.values():
        for column in table.spec.columns:
            target = column.refers_to
            if target is None or target == table.spec.name:
                continue
            referring = table.frame[column.name].notna()
            if skip_unread(book, [target], int(referring.sum())):
                continue
            if target not in cache:
                cache[target] = set(known_ids(book, target))
            valid = cache[target]
            values = table.frame[column.name]
            unknown = referring & ~values.isin(valid)
            for value, row in zip(values[unknown], table.frame.loc[unknown, ROW], strict=True):
                guess = closest(value, sorted(valid))
                hint = f"did you mean '{guess}'?" if guess else f"add it to the {target} sheet"
                log.add_error(
                    "unknown-id",
                    f"{column.name} '{value}' is not on the {target} sheet",
                    **table.cell(column.name, row),
                    value=value,
                    hint=hint,
                )


@check
def product_in_one_sector(book: RawWorkbook, log: IssueLog) -> None:
    if "Demand" not in book.tables:
        return
    table = book.tables["Demand"]
    frame = table.frame
    rows = frame[frame["product"].notna() & frame["sector"].notna()]
    by_product = rows.groupby("product", sort=False)
    first_sector = by_product["sector"].transform("first")
    first_row = by_product[ROW].transform("first")
    moved = rows["sector"] != first_sector
    for product, sector, row, other, other_row in zip(
        rows.loc[moved, "product"],
        rows.loc[moved, "sector"],
        rows.loc[moved, ROW],
        first_sector[moved],
        first_row[moved],
        strict=True,
    ):
        log.add_error(
            "product-in-two-sectors",
            f"product '{product}' is in sector '{sector}' here and '{other}' in row {other_row}",
            **table.cell("sector", row),
            value=sector,
            hint="a product belongs to one sector; give the other one its own product id",
        )


@check
def product_has_intensity(book: RawWorkbook, log: IssueLog) -> None:
    if "Demand" not in book.tables:
        return
    table = book.tables["Demand"]
    if skip_unread(book, ["Intensity"], len(table.frame)):
        return
    products = table.frame["product"]
    missing = products.notna() & ~products.isin(set(book.frame("Intensity")["product"]))
    first_of_each = missing & ~products.duplicated(keep="first")
    rows = table.frame.loc[first_of_each, ROW]
    for product, row in zip(products[first_of_each], rows, strict=True):
        log.add_error(
            "product-without-intensity",
            f"product '{product}' has no row on the Intensity sheet",
            **table.cell("product", row),
            value=product,
            hint="add its kg_per_unit of each material it needs",
        )


@check
def approval_range_ordered(book: RawWorkbook, log: IssueLog) -> None:
    if "Licences" not in book.tables:
        return
    table = book.tables["Licences"]
    frame = table.frame
    rate, low, high = (
        pd.to_numeric(frame[c]) for c in ("approval_rate", "approval_low", "approval_high")
    )
    disordered = (low > rate) | (high < rate)
    for record in frame[disordered].to_dict("records"):
        rate, low, high = record["approval_rate"], record["approval_low"], record["approval_high"]
        if low is not None and low > rate:
            log.add_error(
                "approval-range",
                f"approval_low {low:g} is above approval_rate {rate:g}",
                **table.cell("approval_low", record[ROW]),
                value=low,
                hint="approval_low <= approval_rate <= approval_high",
            )
        if high is not None and high < rate:
            log.add_error(
                "approval-range",
                f"approval_high {high:g} is below approval_rate {rate:g}",
                **table.cell("approval_high", record[ROW]),
                value=high,
                hint="approval_low <= approval_rate <= approval_high",
            )


@check
def recipe_not_circular(book: RawWorkbook, log: IssueLog) -> None:
    if "Recipes" not in book.tables:
        return
    outputs = dict(zip(book.frame("Plants")["plant"], book.frame("Plants")["output"], strict=True))
    table = book.tables["Recipes"]
    own_output = table.frame["plant"].map(outputs) == table.frame["input"]
    for record in table.frame[own_output].to_dict("records"):
        log.add_error(
            "recipe-self-input",
            f"plant '{record['plant']}' uses its own output '{record['input']}' as input",
            **table.cell("input", record[ROW]),
            value=record["input"],
            hint="a plant's inputs are other materials",
        )


@check
def material_has_supply(book: RawWorkbook, log: IssueLog) -> None:
    if "Materials" not in book.tables:
        return
    table = book.tables["Materials"]
    depends = ["Supply", "Plants", "Intensity", "Recipes"]
    if skip_unread(book, depends, len(table.frame)):
        return
    supplied = set(book.frame("Supply")["material"]) | set(book.frame("Plants")["output"])
    needed = set(book.frame("Intensity")["material"]) | set(book.frame("Recipes")["input"])
    for _, record in table.frame.iterrows():
        material = record["material"]
        if material is None or material in supplied or material not in needed:
            continue
        if (record["initial_stock"] or 0) > 0:
            continue
        log.add_warning(
            "material-without-supply",
            f"material '{material}' is needed but has no supply, plant or stock",
            **table.cell("material", record[ROW]),
            value=material,
            hint="every unit that needs it will be lost; add a Supply row if that is wrong",
        )


def lane_values(book: RawWorkbook) -> tuple[set[str], set[str]]:
    """End uses (Sectors, blank = civil) and markets (Demand, blank = *) of the lanes."""
    end_uses = {u or DEFAULT_END_USE for u in book.frame("Sectors")["end_use"]}
    markets = {d or ANY_MARKET for d in book.frame("Demand")["market"]}
    return end_uses | {DEFAULT_END_USE}, markets | {ANY_MARKET}


@check
def lane_cells_known(book: RawWorkbook, log: IssueLog) -> None:
    """Licences and Restrictions may name only end uses and markets that some lane has."""
    end_uses, markets = lane_values(book)
    for name in ("Licences", "Restrictions"):
        if name not in book.tables:
            continue
        table = book.tables[name]
        for column, known, where, source in (
            ("end_use", end_uses, "the end_use column of Sectors", "Sectors"),
            ("market", markets, "the market column of Demand", "Demand"),
        ):
            named = table.frame[column].notna().sum()
            # The lanes are read off Sectors and Demand: if one could not be read, its own
            # error says so, and these cells are counted on it instead of repeated.
            if named and skip_unread(book, [source], int(named)):
                continue
            for value, row in zip(table.frame[column], table.frame[ROW], strict=True):
                if value is None or value in known:
                    continue
                guess = closest(value, sorted(known))
                log.add_error(
                    "unknown-lane",
                    f"{column} '{value}' is not a lane of this workbook",
                    **table.cell(column, row),
                    value=value,
                    hint=f"did you mean '{guess}'?" if guess else f"it must appear in {where}",
                )


@check
def licence_rows_do_not_tie(book: RawWorkbook, log: IssueLog) -> None:
    """Two Licences rows that name as much of a lane as each other is a tie (design 3a).

    Rows naming both cells, or neither, tie only when they repeat a key, which
    `duplicate_keys` reports; so the ties left are one row naming only the end use
    and one naming only the market, both matching a lane that Demand has.
    """
    if "Licences" not in book.tables:
        return
    table = book.tables["Licences"]
    sector_frame, demand = book.frame("Sectors"), book.frame("Demand")
    sectors = dict(zip(sector_frame["sector"], sector_frame["end_use"], strict=True))
    lanes = {
        (sectors.get(k) or DEFAULT_END_USE, d or ANY_MARKET)
        for k, d in zip(demand["sector"], demand["market"], strict=True)
    }
    records = table.frame.to_dict("records")
    only_end_use = [r for r in records if r["end_use"] is not None and r["market"] is None]
    only_market = [r for r in records if r["end_use"] is None and r["market"] is not None]
    for a in only_end_use:
        for b in only_market:
            same = (a["regime"], a["material"], a["period"]) == (
                b["regime"],
                b["material"],
                b["period"],
            )
            if same and (a["end_use"], b["market"]) in lanes:
                first, second = sorted((a, b), key=lambda r: r[ROW])
                other = table.cell("end_use" if second is b else "market", first[ROW])
                log.add_error(
                    "licence-tie",
                    f"rows {first[ROW]} and {second[ROW]} both apply to lane "
                    f"{a['end_use']}/{b['market']} with equal precedence",
                    **table.cell("market" if second is b else "end_use", second[ROW]),
                    value=f"{a['end_use']}/{b['market']}",
                    hint=f"add a row naming both end_use {a['end_use']} and market "
                    f"{b['market']}, or remove one of rows {first[ROW]} and {second[ROW]} "
                    f"(the other is {other['sheet']} row {first[ROW]})",
                )


@check
def restriction_origin_known(book: RawWorkbook, log: IssueLog) -> None:
    if "Restrictions" not in book.tables:
        return
    table = book.tables["Restrictions"]
    countries = set(book.frame("Sources")["country"]) | set(book.frame("Plants")["country"])
    countries.discard(None)
    for origin, row in zip(table.frame["origin"], table.frame[ROW], strict=True):
        if origin is None or origin in countries:
            continue
        guess = closest(origin, sorted(countries))
        log.add_error(
            "unknown-origin",
            f"origin '{origin}' is the country of no source or plant",
            **table.cell("origin", row),
            value=origin,
            hint=f"did you mean '{guess}'?" if guess else "use a country of the Sources sheet",
        )


@check
def variant_has_row(book: RawWorkbook, log: IssueLog) -> None:
    """A variant other than standard needs a Variants row (its cost and share)."""
    if "Intensity" not in book.tables:
        return
    table = book.tables["Intensity"]
    declared = set(
        zip(book.frame("Variants")["product"], book.frame("Variants")["variant"], strict=True)
    )
    reported = set()
    for _, record in table.frame.iterrows():
        key = (record["product"], record["variant"])
        if record["variant"] in (None, STANDARD) or key in declared or key in reported:
            continue
        reported.add(key)
        log.add_error(
            "variant-without-row",
            f"variant '{record['variant']}' of product '{record['product']}' has no Variants row",
            **table.cell("variant", record[ROW]),
            value=record["variant"],
            hint="add a Variants row with its extra_cost_per_unit and max_share",
        )
    if "Variants" not in book.tables:
        return
    intensity = book.frame("Intensity")
    with_rows = set(zip(intensity["product"], intensity["variant"], strict=True))
    variants = book.tables["Variants"]
    for _, record in variants.frame.iterrows():
        key = (record["product"], record["variant"])
        if record["variant"] is None or record["variant"] == STANDARD or key in with_rows:
            continue
        log.add_warning(
            "variant-without-intensity",
            f"variant '{record['variant']}' of '{record['product']}' has no Intensity rows",
            **variants.cell("variant", record[ROW]),
            value=record["variant"],
            hint="a variant without a bill of material needs no material: is that meant?",
        )


@check
def something_to_allocate(book: RawWorkbook, log: IssueLog) -> None:
    """An empty workbook (the blank template) is valid, but nothing to allocate is rarely
    what a planner meant (design section 3): one warning, on every front door."""
    # Absent or unreadable sheets are not looked at: they already have their own error.
    empty = [
        book.tables[name].title
        for name in ("Demand", "Supply")
        if name in book.tables and book.tables[name].frame.empty
    ]
    if not empty:
        return
    log.add_warning(
        "nothing-to-allocate",
        f"the {' and '.join(empty)} {'sheet has' if len(empty) == 1 else 'sheets have'} "
        "no rows: there is nothing to allocate",
        sheet=empty[0] if len(empty) == 1 else None,
        hint="fill in " + " and ".join(empty) + " if this is not what you meant",
    )


@check
def scenario_rows(book: RawWorkbook, log: IssueLog) -> None:
    if "Scenarios" not in book.tables:
        return
    table = book.tables["Scenarios"]
    for _, record in table.frame.iterrows():
        row = record[ROW]
        sheet_name, column_name = record["sheet"], record["column"]
        if sheet_name is None or column_name is None:
            continue
        try:  # the schema's rules of an edit, as `--vary` and the change engine use them
            spec = edit_sheet(sheet_name)
            edit_column(spec, column_name)
            conditions = edit_match(spec, record["match"])
        except EditError as problem:
            where = {**table.cell(problem.part, row), "value": record[problem.part]}
            if problem.part == "sheet":
                message = f"scenario changes {problem.message}"
                log.add_error("scenario-sheet", message, **where, hint=problem.hint)
            elif problem.part == "column":
                log.add_error("scenario-column", problem.message, **where, hint=problem.hint)
            else:
                log.add_error("scenario-match", problem.message, **where, hint=problem.hint)
            continue
        if spec.name in book.tables and not match_rows(book.frame(spec.name), conditions).any():
            log.add_error(
                "scenario-no-match",
                f"scenario '{record['scenario']}': match '{record['match'] or ''}' selects "
                f"no row of {spec.name}",
                **table.cell("match", row),
                value=record["match"],
                hint="check the ids; * matches any text",
            )


def match_rows(frame: pd.DataFrame, conditions: list[tuple[str, str]]) -> pd.Series:
    """Boolean mask of rows where every condition holds (`*` and `?` wildcards, any case)."""
    mask = pd.Series(True, index=frame.index)
    for column, pattern in conditions:
        lowered = pattern.casefold()
        mask &= frame[column].map(
            lambda v, p=lowered: v is not None and fnmatchcase(str(v).casefold(), p)
        )
    return mask
