"""One change engine: what-if edits as changes to the typed tables (design section 7).

A `Change` is (table, column, match, operation, value) on the tables of
`models.data.AllocationData`. Scenarios rows, `--vary` sweep steps and stress
draws all become lists of changes; `apply_changes` applies them to the typed
tables (a change of a licence's rate reaches every supply and plant row that
takes its approval from that licence), and the warm model (`WarmModel`,
`AllocationModel.update`) moves only the numbers that the changed columns feed.

An edit is validated once, by the schema's rules (`exposure.workbook.schema`:
`edit_sheet`, `edit_column`, `edit_match`, `value_problem`), when a Scenarios
row is resolved against the workbook's rows; a bad edit names its Scenarios
cell. An edit of a sheet without a `SHEET_TABLES` entry (Regimes, whose typed table
holds only the stress persistence) keeps the workbook path: the edited workbook is
turned into tables again.

This module serves the front doors and must not import them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from exposure.errors import InputError
from exposure.issues import Issue
from exposure.tables import SHEET_TABLES
from exposure.workbook.checks import match_rows
from exposure.workbook.reader import ROW, RawWorkbook
from exposure.workbook.schema import (
    SHEETS_BY_NAME,
    edit_sheet,
    split_match,
    value_problem,
)
from models.data import AllocationData

OPERATIONS = ("set", "scale", "add")


# ------------------------------------------------------------------------ change
@dataclass(frozen=True)
class Change:
    """Change `column` of the rows of typed table `table` that `match`.

    `match` is ((column, allowed values), ...): a row matches when each of its columns
    holds one of the allowed values; no conditions match every row. `operation` is
    set, scale or add; `blank` is what a blank (NaN) old value counts as.
    """

    table: str
    column: str
    match: tuple[tuple[str, tuple[Any, ...]], ...]
    operation: str
    value: float
    blank: float = 0.0

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        mask = np.ones(len(frame), dtype=bool)
        for column, allowed in self.match:
            mask &= frame[column].isin(list(allowed)).to_numpy()
        return mask

    def applied(self, old: np.ndarray) -> np.ndarray:
        """The new values of cells that held `old`."""
        if self.operation == "set":
            return np.full(len(old), float(self.value))
        base = np.where(np.isnan(old), self.blank, old)
        return base * self.value if self.operation == "scale" else base + self.value


@dataclass(frozen=True)
class Changes:
    """One task of the warm model: these changes to its base tables, then a solve."""

    items: tuple[Change, ...]


# Columns of supply and plant rows that copy a column of their licence (by licence key).
LICENCE_FEEDS = {"rate": "approval", "lead": "lead"}


def apply_changes(
    data: AllocationData, changes: Iterable[Change]
) -> tuple[AllocationData, set[tuple[str, str]]]:
    """A copy of `data` with `changes` applied in order, and the (table, column)s changed.

    Only the tables a change touches are copied. Supply and plant rows follow the
    rate and lead of their licence (`LICENCE_FEEDS`).
    """
    changed = copy.copy(data)
    copied: set[str] = set()
    touched: set[tuple[str, str]] = set()
    fed: dict[str, set[tuple[float, str]]] = {}  # licence column -> (licence_row, period) keys
    for change in changes:
        if change.table not in copied:
            setattr(changed, change.table, getattr(changed, change.table).copy())
            copied.add(change.table)
        frame: pd.DataFrame = getattr(changed, change.table)
        mask = change.mask(frame)
        if not mask.any():
            continue
        old = frame[change.column].to_numpy(float)
        new = old.copy()
        new[mask] = change.applied(old[mask])
        frame[change.column] = new
        touched.add((change.table, change.column))
        if change.table == "licences" and change.column in LICENCE_FEEDS:
            fed.setdefault(change.column, set()).update(
                zip(frame["licence_row"][mask], frame["period"][mask], strict=True)
            )
    for column, keys in fed.items():
        target = LICENCE_FEEDS[column]
        licences = changed.licences
        value = {
            (r, t): v
            for r, t, v in zip(
                licences["licence_row"], licences["period"], licences[column], strict=True
            )
        }
        for table in ("supply", "plants"):
            frame = getattr(changed, table)
            rows = [
                i
                for i, key in enumerate(zip(frame["licence_row"], frame["period"], strict=True))
                if key in keys
            ]
            if not rows:
                continue
            if table not in copied:
                frame = frame.copy()
                setattr(changed, table, frame)
                copied.add(table)
            column_values = frame[target].to_numpy(float).copy()
            column_values[rows] = [
                value[r, t]
                for r, t in frame.iloc[rows][["licence_row", "period"]].itertuples(index=False)
            ]
            frame[target] = column_values
            touched.add((table, target))
    return changed, touched


def licence_rate_changes(rates: dict[tuple[int, str], float]) -> Changes:
    """Changes setting the rate of each (licence_row, period) (a stress draw)."""
    return Changes(
        tuple(
            Change(
                "licences", "rate", (("licence_row", (row,)), ("period", (period,))), "set", rate
            )
            for (row, period), rate in rates.items()
        )
    )


# ------------------------------------------------------------ limits fast path
# Changes that move only capacities and approvals of supply and plant rows: the licensed
# capacities they give are computed with numpy, no table copied (`LimitMap.numbers_for`).
FAST_CHANGES = frozenset(
    {
        ("licences", "rate", "set"),
        ("supply", "approval", "set"),
        ("plants", "approval", "set"),
        ("supply", "capacity", "scale"),
        ("plants", "capacity", "scale"),
    }
)
RowNumbers = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
FEW_RATES = 64  # up to this many rates are set row by row through an index
NO_ROWS = np.zeros(0, dtype=int)
NO_ROWS.setflags(write=False)


@dataclass
class LimitMap:
    """Capacities and approvals of the supply and plant rows, and which licence feeds which.

    Changes that only set licence rates or row approvals, or scale row capacities (stress
    draws, sweep steps, and the steps behind every sensitivity) need no table copied:
    `numbers_for` gives the rows' capacities and approvals after them, as `apply_changes`
    would, and `AllocationModel.set_capacities` turns those into licensed capacities.
    """

    licences: pd.DataFrame  # the licence table
    supply: pd.DataFrame  # supply rows, for matching row changes
    plants: pd.DataFrame
    supply_capacity: np.ndarray
    plant_capacity: np.ndarray
    supply_approval: np.ndarray
    plant_approval: np.ndarray
    supply_licence_row: np.ndarray  # licence key per supply row (-1: uncontrolled)
    plant_licence_row: np.ndarray
    # (licence_row, period) of each supply and plant row, or None: with lanes one
    # regime, material and period may have several licences (one per end use and market).
    supply_key: list[tuple[int, str] | None]
    plant_key: list[tuple[int, str] | None]
    # Row positions by the values of some key columns, built the first time a change
    # matches on exactly those columns: (table, columns) -> values -> positions.
    _index: dict[tuple[str, tuple[str, ...]], dict[tuple, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    # Row positions by the (licence_row, period) that feeds them, per table.
    _fed: dict[str, dict[tuple[int, str], np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, data: AllocationData) -> LimitMap:
        def keys(frame: pd.DataFrame) -> list[tuple[int, str] | None]:
            return [
                (int(lr), t) if isinstance(r, str) and not pd.isna(lr) else None
                for r, t, lr in zip(
                    frame["regime"], frame["period"], frame["licence_row"], strict=True
                )
            ]

        return cls(
            licences=data.licences,
            supply=data.supply,
            plants=data.plants,
            supply_capacity=data.supply["capacity"].to_numpy(float),
            plant_capacity=data.plants["capacity"].to_numpy(float),
            supply_approval=data.supply["approval"].to_numpy(float),
            plant_approval=data.plants["approval"].to_numpy(float),
            supply_licence_row=data.supply["licence_row"].fillna(-1).to_numpy(int),
            plant_licence_row=data.plants["licence_row"].fillna(-1).to_numpy(int),
            supply_key=keys(data.supply),
            plant_key=keys(data.plants),
        )

    @staticmethod
    def handles(changes: Changes) -> bool:
        """Whether every change is one the fast path computes (`FAST_CHANGES`)."""
        return all((c.table, c.column, c.operation) in FAST_CHANGES for c in changes.items)

    def _rows(self, change: Change) -> np.ndarray:
        """Positions of the rows of `change.table` that `change` matches."""
        frame = self.supply if change.table == "supply" else self.plants
        columns = tuple(column for column, _ in change.match)
        if not columns or not all(len(allowed) == 1 for _, allowed in change.match):
            return np.flatnonzero(change.mask(frame))
        index = self._index.get((change.table, columns))
        if index is None:
            grouped = frame.reset_index(drop=True).groupby(list(columns), sort=False).indices
            index = {k if isinstance(k, tuple) else (k,): _frozen(v) for k, v in grouped.items()}
            self._index[change.table, columns] = index
        return index.get(tuple(allowed[0] for _, allowed in change.match), NO_ROWS)

    def numbers_for(self, changes: Changes) -> RowNumbers:
        """(supply capacity, supply approval, plant capacity, plant approval) per row after
        `changes` (`handles` must hold): row changes in order, then the licence rates,
        which (as in `apply_changes`) the rows they feed take last."""
        return self._apply(changes, None)

    def touched_rows(self, changes: Changes) -> dict[str, np.ndarray]:
        """Per table ("supply", "plants"), the sorted positions of the rows `changes` may move."""
        found: dict[str, list[np.ndarray]] = {"supply": [NO_ROWS], "plants": [NO_ROWS]}
        for change in changes.items:
            if change.table == "licences":
                for table in found:
                    fed = self._fed_rows(table)
                    found[table] += [fed.get(key, NO_ROWS) for key in self._rates(change)]
            else:
                found[change.table].append(self._rows(change))
        return {table: _sorted_union(rows) for table, rows in found.items()}

    def numbers_at(self, changes: Changes, rows: dict[str, np.ndarray]) -> RowNumbers:
        """`numbers_for`, on the rows `touched_rows` gave only (a step on a few rows of a
        large table): the same arithmetic, so the same numbers to the last bit."""
        return self._apply(changes, rows)

    def _apply(self, changes: Changes, rows: dict[str, np.ndarray] | None) -> RowNumbers:
        def local(table: str, positions: np.ndarray) -> np.ndarray:
            return positions if rows is None else np.searchsorted(rows[table], positions)

        base = {
            ("supply", "capacity"): self.supply_capacity,
            ("supply", "approval"): self.supply_approval,
            ("plants", "capacity"): self.plant_capacity,
            ("plants", "approval"): self.plant_approval,
        }
        numbers = {
            key: values if rows is None else values[rows[key[0]]] for key, values in base.items()
        }
        copied: set[tuple[str, str]] = set()
        rates: dict[tuple[int, str], float] = {}
        for change in changes.items:
            if change.table == "licences":
                rates.update(self._rates(change))
                continue
            positions = self._rows(change)
            if not len(positions):
                continue
            column = (change.table, change.column)
            if column not in copied:
                numbers[column] = numbers[column].copy()
                copied.add(column)
            at = local(change.table, positions)
            numbers[column][at] = change.applied(numbers[column][at])
        approvals = {
            "supply": numbers["supply", "approval"],
            "plants": numbers["plants", "approval"],
        }
        for table in approvals if rates else ():
            if rows is None and len(rates) > FEW_RATES:
                # A stress draw sets them all: one pass over the rows.
                keys = self.supply_key if table == "supply" else self.plant_key
                approvals[table] = np.array(
                    [
                        rates.get(k, a) if k else a
                        for k, a in zip(keys, approvals[table], strict=True)
                    ],
                    dtype=float,
                )
                continue
            fed = self._fed_rows(table)
            rated = approvals[table].copy()
            for licence, rate in rates.items():
                rated[local(table, fed.get(licence, NO_ROWS))] = rate
            approvals[table] = rated
        return (
            numbers["supply", "capacity"],
            approvals["supply"],
            numbers["plants", "capacity"],
            approvals["plants"],
        )

    def _fed_rows(self, table: str) -> dict[tuple[int, str], np.ndarray]:
        """Row positions of `table` by the (licence_row, period) that feeds them."""
        fed = self._fed.get(table)
        if fed is None:
            keys = self.supply_key if table == "supply" else self.plant_key
            positions: dict[tuple[int, str], list[int]] = {}
            for i, key in enumerate(keys):
                if key is not None:
                    positions.setdefault(key, []).append(i)
            fed = self._fed[table] = {
                k: _frozen(np.array(v, dtype=int)) for k, v in positions.items()
            }
        return fed

    def _rates(self, change: Change) -> dict[tuple[int, str], float]:
        columns = tuple(column for column, _ in change.match)
        if columns == ("licence_row", "period") and all(len(v) == 1 for _, v in change.match):
            (_, (row,)), (_, (period,)) = change.match
            return {(int(row), period): change.value}  # one licence and period: no scan
        mask = change.mask(self.licences)
        return {
            (int(row), period): change.value
            for row, period in zip(
                self.licences["licence_row"][mask], self.licences["period"][mask], strict=True
            )
        }

    def limits_for(self, changes: Changes) -> tuple[np.ndarray, np.ndarray]:
        """Licensed capacities [t] (capacity x approval) after `changes` (`handles` must hold)."""
        supply_capacity, supply_approval, plant_capacity, plant_approval = self.numbers_for(changes)
        return supply_capacity * supply_approval, plant_capacity * plant_approval

    def limits_for_rows(self, licence_rows: set[int], rate: float) -> tuple[np.ndarray, np.ndarray]:
        """Licensed capacities with the approval of the given licences set to `rate`."""
        supply = self.supply_approval.copy()
        plants = self.plant_approval.copy()
        supply[np.isin(self.supply_licence_row, list(licence_rows))] = rate
        plants[np.isin(self.plant_licence_row, list(licence_rows))] = rate
        return self.supply_capacity * supply, self.plant_capacity * plants

    def limits_for_rates(
        self, rates: dict[tuple[int, str], float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Licensed capacities with approval rates per (licence_row, period)."""
        return self.limits_for(licence_rate_changes(rates))


# ------------------------------------------------------------- edits of a sheet
@dataclass(frozen=True)
class Edit:
    """One row of the Scenarios sheet: change `column` of the rows of `sheet` that match."""

    scenario: str
    sheet: str
    column: str
    conditions: tuple[tuple[str, str], ...]
    operation: str
    value: float
    note: str | None
    row: int  # row on the Scenarios sheet (0: not from the sheet, e.g. a --vary step)

    @property
    def match_text(self) -> str:
        return "; ".join(f"{c}={v}" for c, v in self.conditions) or "(all rows)"


def scenario_edits(book: RawWorkbook) -> dict[str, list[Edit]]:
    """Scenario id -> its edits in sheet order (the sheet was validated)."""
    edits: dict[str, list[Edit]] = {}
    for _, record in book.frame("Scenarios").iterrows():
        edits.setdefault(record["scenario"], []).append(
            Edit(
                scenario=record["scenario"],
                sheet=edit_sheet(record["sheet"]).name,
                column=record["column"].casefold(),
                conditions=tuple(split_match(record["match"])),
                operation=record["operation"],
                value=float(record["value"]),
                note=record["note"],
                row=int(record[ROW]),
            )
        )
    return edits


@dataclass(frozen=True)
class ResolvedEdit:
    """An edit with the worksheet rows it selects, checked against the schema's rules."""

    edit: Edit
    rows: tuple[int, ...]  # worksheet rows of edit.sheet
    keys: tuple[Any, ...]  # the sheet's key column values of those rows (Sectors: sector ids)
    blank: float  # what a blank cell of the column counts as

    def change(self) -> Change | None:
        """The typed-table change of this edit, or None when only the workbook path has it."""
        edit = self.edit
        if edit.sheet == "Sectors":
            return Change(
                "demand",
                edit.column,
                (("sector", self.keys),),
                edit.operation,
                edit.value,
                self.blank,
            )
        if edit.sheet not in SHEET_TABLES:
            return None
        table, row_column, names = SHEET_TABLES[edit.sheet]
        return Change(
            table,
            names.get(edit.column, edit.column),
            ((row_column, tuple(float(r) if table == "licences" else r for r in self.rows)),),
            edit.operation,
            edit.value,
            self.blank,
        )


def _edited(old: Any, edit: Edit, default: float | None) -> float:
    base = default if old is None else float(old)
    if edit.operation == "set":
        return edit.value
    if base is None:
        base = 0.0
    return base * edit.value if edit.operation == "scale" else base + edit.value


def resolve_edits(
    book: RawWorkbook, edits: Iterable[Edit]
) -> tuple[list[ResolvedEdit], pd.DataFrame]:
    """Each edit with the rows it selects, and the input diff (cell, from, to) of them all.

    Raises InputError naming the Scenarios cell of every edit that matches nothing or
    would make a value invalid (a negative tonnage, a rate above 1): the schema's rules.
    Edits apply in order, so a later edit of the same cell starts from the earlier one.
    """
    problems: list[Issue] = []
    diff = []
    resolved = []
    scenarios = book.tables.get("Scenarios")
    title = scenarios.title if scenarios else "Scenarios"
    where = scenarios.column_index if scenarios else {}
    frames: dict[str, pd.DataFrame] = {}
    for edit in edits:
        if edit.sheet not in book.tables:
            problems.append(
                _edit_issue(title, where.get("sheet"), edit, f"the workbook has no {edit.sheet}")
            )
            continue
        table = book.tables[edit.sheet]
        frame = frames.setdefault(edit.sheet, table.frame.copy())
        mask = match_rows(frame, list(edit.conditions))
        if not mask.any():
            problems.append(
                _edit_issue(
                    title,
                    where.get("match"),
                    edit,
                    f"scenario '{edit.scenario}': match {edit.match_text} selects no row of "
                    f"{edit.sheet}",
                )
            )
            continue
        spec = SHEETS_BY_NAME[edit.sheet]
        column = spec.column(edit.column)
        letter = table.column_index.get(edit.column)
        ok = True
        for index in frame.index[mask]:
            old = frame.at[index, edit.column]
            new = _edited(old, edit, column.default)
            bad = value_problem(column.kind, new)
            if bad:
                ok = False
                problems.append(
                    _edit_issue(
                        title,
                        where.get("value"),
                        edit,
                        f"scenario '{edit.scenario}' makes {edit.sheet} {edit.column} {new:g} "
                        f"at row {frame.at[index, ROW]}: {bad}",
                    )
                )
                continue
            frame.at[index, edit.column] = new
            row = int(frame.at[index, ROW])
            key = ", ".join(
                f"{k}={frame.at[index, k]}" for k in spec.key if frame.at[index, k] is not None
            )
            diff.append(
                {
                    "scenario": edit.scenario,
                    "sheet": table.title,
                    "cell": f"{table.title}!{get_column_letter(letter)}{row}"
                    if letter
                    else table.title,
                    "key": key,
                    "column": edit.column,
                    "from": old,
                    "to": new,
                    "note": edit.note,
                }
            )
        if ok:
            rows = tuple(int(r) for r in frame.loc[mask, ROW])
            keys = tuple(frame.loc[mask, spec.key[0]]) if spec.key else ()
            default = column.default
            resolved.append(ResolvedEdit(edit, rows, keys, 0.0 if default is None else default))
    if problems:
        raise InputError(problems)
    columns = ["scenario", "sheet", "cell", "key", "column", "from", "to", "note"]
    return resolved, pd.DataFrame(diff, columns=columns)


def edit_changes(resolved: Sequence[ResolvedEdit]) -> Changes | None:
    """The changes of a scenario's resolved edits, or None if one needs the workbook path."""
    changes = [r.change() for r in resolved]
    if any(c is None for c in changes):
        return None
    return Changes(tuple(c for c in changes if c is not None))


def apply_edits(book: RawWorkbook, edits: Iterable[Edit]) -> tuple[RawWorkbook, pd.DataFrame]:
    """A copy of `book` with the edits applied to its sheets, and the input diff.

    The workbook path, for edits without a typed table (and for comparing the change
    engine with a cold read of an edited workbook). Raises InputError as `resolve_edits`.
    """
    resolved, diff = resolve_edits(book, edits)
    changed = copy.copy(book)
    changed.tables = dict(book.tables)
    for item in resolved:
        edit = item.edit
        table = copy.copy(changed.tables[edit.sheet])
        frame = table.frame.copy()
        default = SHEETS_BY_NAME[edit.sheet].column(edit.column).default
        for index in frame.index[frame[ROW].isin(item.rows)]:
            frame.at[index, edit.column] = _edited(frame.at[index, edit.column], edit, default)
        table.frame = frame
        changed.tables[edit.sheet] = table
    return changed, diff


def vary_edit(
    sheet: str, column: str, conditions: tuple[tuple[str, str], ...], value: float
) -> Edit:
    """One `--vary` step as an edit (set the varied cells to `value`)."""
    return Edit("sweep", sheet, column, conditions, "set", value, None, 0)


def _edit_issue(title: str, column: int | None, edit: Edit, message: str) -> Issue:
    """A problem placed at the Scenarios cell (sheet, match or value) of the edit's row."""
    return Issue(
        code="scenario-edit",
        message=message,
        sheet=title,
        row=edit.row,
        column=column,
        hint="fix the match or value of this Scenarios row",
    )


def check_value(kind_of: tuple[str, str], value: float) -> str | None:
    """Why `value` may not go into column (sheet, column), or None (the schema's rule)."""
    sheet, column = kind_of
    return value_problem(SHEETS_BY_NAME[sheet].column(column).kind, value)


def _sorted_union(parts: list[np.ndarray]) -> np.ndarray:
    """The sorted positions in any of `parts`, each sorted and without repeats already
    (group indices and flatnonzero are): a step touches one part most often, and
    `np.unique` costs more than the rest of its dual check."""
    parts = [part for part in parts if part.size]
    if not parts:
        return NO_ROWS
    if len(parts) == 1:
        return parts[0]
    return np.unique(np.concatenate(parts))


def _frozen(positions: np.ndarray) -> np.ndarray:
    """`positions`, read-only: cached row positions are handed out as they are
    (`_sorted_union`), so no caller may write into them."""
    positions.setflags(write=False)
    return positions
