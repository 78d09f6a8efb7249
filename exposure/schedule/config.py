"""The report configuration file (TOML), checked key by key.

Example (`inputs/report-example.toml`)::

    name = "weekly-exposure"
    input = "/shared/planning/inputs"      # a workbook, or a folder: newest .xlsx is taken
    output_dir = "/var/lib/exposure/reports"
    keep = 12
    objective = "priority"
    scenarios = "all"                       # or ["CN_APPROVALS_10PCT", "CN_DY_HALT"]
    history = "sqlite:////var/lib/exposure/reports/history.sqlite"   # default: in output_dir

    [stress]
    draws = 500
    seed = 7

    [[thresholds]]
    metric = "lost_value"
    sector = "DEFENCE"
    op = ">"
    value = 1e9
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exposure.errors import InputError
from exposure.issues import Issue
from models.allocation import ObjectiveMode

METRICS = (
    "lost_value",
    "value_service_level",
    "objective_value",
    "penalty",
    "shortfall_at_risk",
    "licence_dependency",
)
METRIC_ALIASES = {"service_level": "value_service_level"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
KEYS = {
    "name",
    "input",
    "output_dir",
    "keep",
    "objective",
    "scenarios",
    "history",
    "stress",
    "thresholds",
    "cluster",
}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Threshold:
    """Alert when `metric` (of a sector or product, in a scenario) `op` `value` holds."""

    metric: str
    op: str
    value: float
    sector: str | None = None
    product: str | None = None
    scenario: str = "base"
    regime: str | None = None

    def describe(self) -> str:
        target = self.product or self.sector or "all sectors"
        regime = f" on {self.regime}" if self.regime else ""
        return f"{self.metric}{regime} of {target} ({self.scenario}) {self.op} {self.value:g}"

    def breached(self, actual: float) -> bool:
        return OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True)
class StressConfig:
    draws: int
    seed: int


@dataclass
class ReportConfig:
    """A checked report configuration; paths resolved against the config file's folder."""

    path: Path
    name: str
    input: Path
    output_dir: Path
    keep: int | None = None
    objective: ObjectiveMode = "priority"
    scenarios: list[str] | None = None  # None = all of the Scenarios sheet
    history: str = ""
    stress: StressConfig | None = None
    thresholds: list[Threshold] = field(default_factory=list)
    scheduler: str | None = None  # [cluster] scheduler: a Dask scheduler for the what-ifs


def _issue(path: Path, key: str, message: str, hint: str = "") -> Issue:
    return Issue(code="bad-config", message=f"{key}: {message}", sheet=path.name, hint=hint)


def load_config(path: str | Path) -> ReportConfig:
    """Read and check a report config; InputError lists every problem at once."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError([Issue("bad-config", f"no config file at {path}")]) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            [Issue("bad-config", f"{path.name} is not valid TOML: {exc}", sheet=path.name)]
        ) from exc
    problems: list[Issue] = []
    base = path.resolve().parent

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in raw:
            problems.append(_issue(path, key, "is required"))
            return None
        if not isinstance(raw[key], kind) or (
            isinstance(raw[key], bool)
            and bool not in (kind if isinstance(kind, tuple) else (kind,))
        ):
            problems.append(_issue(path, key, f"must be {getattr(kind, '__name__', kind)}"))
            return None
        return raw[key]

    for key in raw:
        if key not in KEYS:
            problems.append(
                _issue(path, key, "is not a known key", "known: " + ", ".join(sorted(KEYS)))
            )
    name = need("name", str)
    if name is not None and not NAME_PATTERN.match(name):
        problems.append(_issue(path, "name", f"'{name}' must be letters, digits, '-', '_', '.'"))
    input_value = need("input", str)
    output_value = need("output_dir", str)
    keep = raw.get("keep")
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 1):
        problems.append(_issue(path, "keep", "must be a whole number of at least 1"))
    objective = raw.get("objective", "priority")
    if objective not in ("priority", "fair"):
        problems.append(_issue(path, "objective", "must be 'priority' or 'fair'"))
    scenarios = raw.get("scenarios", "all")
    if scenarios == "all":
        scenario_list = None
    elif isinstance(scenarios, list) and all(isinstance(s, str) for s in scenarios):
        scenario_list = list(scenarios)
    else:
        scenario_list = None
        problems.append(_issue(path, "scenarios", 'must be "all" or a list of scenario ids'))
    scheduler = None
    cluster = raw.get("cluster", {})
    if not isinstance(cluster, dict) or set(cluster) - {"scheduler"}:
        problems.append(_issue(path, "cluster", 'takes one key: scheduler = "tcp://HOST:8786"'))
    elif "scheduler" in cluster:
        if isinstance(cluster["scheduler"], str) and cluster["scheduler"].strip():
            scheduler = cluster["scheduler"].strip()
        else:
            problems.append(_issue(path, "cluster.scheduler", "must be an address as text"))
    stress = None
    if "stress" in raw:
        table = raw["stress"]
        draws, seed = table.get("draws", 200), table.get("seed", 7)
        if (
            not isinstance(table, dict)
            or not isinstance(draws, int)
            or draws < 1
            or not isinstance(seed, int)
        ):
            problems.append(_issue(path, "stress", "needs draws (>= 1) and seed (whole numbers)"))
        else:
            stress = StressConfig(draws, seed)
    thresholds = []
    for i, item in enumerate(raw.get("thresholds", []), start=1):
        where = f"thresholds[{i}]"
        if not isinstance(item, dict):
            problems.append(_issue(path, where, "must be a table"))
            continue
        metric, op, value = item.get("metric"), item.get("op"), item.get("value")
        # Configs written before the headline became value-based keep working: the one
        # service level a threshold can mean now is the value service level.
        metric = METRIC_ALIASES.get(str(metric), metric)
        if metric not in METRICS:
            problems.append(
                _issue(
                    path, where, f"metric '{metric}' is not known", "one of " + ", ".join(METRICS)
                )
            )
            continue
        if op not in OPERATORS:
            problems.append(
                _issue(path, where, f"op '{op}' is not known", "one of " + " ".join(OPERATORS))
            )
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(_issue(path, where, "value must be a number"))
            continue
        if metric == "shortfall_at_risk" and stress is None:
            problems.append(_issue(path, where, "shortfall_at_risk needs a [stress] table"))
            continue
        unknown = set(item) - {"metric", "op", "value", "sector", "product", "scenario", "regime"}
        if unknown:
            problems.append(_issue(path, where, f"unknown keys {sorted(unknown)}"))
            continue
        thresholds.append(
            Threshold(
                metric,
                op,
                float(value),
                item.get("sector"),
                item.get("product"),
                item.get("scenario", "base"),
                item.get("regime"),
            )
        )
    if problems:
        raise InputError(problems)
    output_dir = (base / output_value).resolve()
    history = raw.get("history") or f"sqlite:///{output_dir / 'history.sqlite'}"
    return ReportConfig(
        path=path,
        name=name,
        input=(base / input_value).resolve(),
        output_dir=output_dir,
        keep=keep,
        objective=objective,
        scenarios=scenario_list,
        history=history,
        stress=stress,
        thresholds=thresholds,
        scheduler=scheduler,
    )
