"""The run history: one row per report run, its KPIs per scenario and sector.

SQLAlchemy Core keeps one code path for the embedded SQLite default and a
PostgreSQL URL (`postgresql+psycopg://user@host/db`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from exposure.errors import ExposureError

METADATA = sa.MetaData()

RUNS = sa.Table(
    "runs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("started_utc", sa.String(32), nullable=False),
    sa.Column("finished_utc", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),  # running, ok, breached, failed
    sa.Column("exit_code", sa.Integer),
    sa.Column("input_file", sa.Text),
    sa.Column("input_sha256", sa.String(64)),
    sa.Column("report_path", sa.Text),
    sa.Column("message", sa.Text),
)

KPIS = sa.Table(
    "kpis",
    METADATA,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("scenario", sa.String(128), nullable=False),
    sa.Column("sector", sa.String(128), nullable=False),  # "" = whole workbook
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("value", sa.Float),
)


class HistoryError(ExposureError):
    """The history database cannot be opened or written."""


@dataclass
class RunRecord:
    id: int
    name: str
    started_utc: str
    finished_utc: str | None
    status: str
    exit_code: int | None
    input_file: str | None
    input_sha256: str | None
    report_path: str | None
    message: str | None


def _shown(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: nothing secret can be told apart, say nothing
        return "(unparsable URL)"


class History:
    """Runs and KPIs of scheduled reports in one database.

    Every database failure (server gone, disk full, file locked) is raised as
    HistoryError, so that callers can tell it from a bug and never report success
    for a run the history did not record.
    """

    def __init__(self, url: str) -> None:
        self.url = _shown(url)
        try:
            self.engine = sa.create_engine(url)
            METADATA.create_all(self.engine)
        except Exception as exc:  # driver missing, server down, bad URL
            raise HistoryError(f"cannot open the history database {self.url!r}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _database(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryError(
                f"the history database {self.url!r} failed while {doing}: "
                f"{type(exc).__name__}: {exc}".splitlines()[0]
            ) from exc

    def start(self, name: str, started: datetime) -> int:
        with self._database("recording the start of a run"), self.engine.begin() as connection:
            result = connection.execute(
                RUNS.insert().values(
                    name=name, started_utc=started.strftime("%Y-%m-%dT%H:%M:%SZ"), status="running"
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT into a table with a primary key returns it
            return int(key[0])

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        exit_code: int,
        finished: datetime,
        input_file: str | None = None,
        input_sha256: str | None = None,
        report_path: str | None = None,
        message: str | None = None,
        kpis: list[tuple[str, str, str, float]] | None = None,
    ) -> None:
        with self._database(f"recording a run as {status}"), self.engine.begin() as connection:
            connection.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id)
                .values(
                    status=status,
                    exit_code=exit_code,
                    finished_utc=finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    input_file=input_file,
                    input_sha256=input_sha256,
                    report_path=report_path,
                    message=message,
                )
            )
            if kpis:
                connection.execute(
                    KPIS.insert(),
                    [
                        {"run_id": run_id, "scenario": s, "sector": k, "metric": m, "value": v}
                        for s, k, m, v in kpis
                    ],
                )

    def runs(self, name: str, limit: int | None = None) -> list[RunRecord]:
        query = RUNS.select().where(RUNS.c.name == name).order_by(RUNS.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self._database("listing runs"), self.engine.connect() as connection:
            return [RunRecord(**row._mapping) for row in connection.execute(query)]

    def last_successful(self, name: str) -> RunRecord | None:
        query = (
            RUNS.select()
            .where(RUNS.c.name == name, RUNS.c.status.in_(["ok", "breached"]))
            .order_by(RUNS.c.id.desc())
            .limit(1)
        )
        with self._database("looking up the last run"), self.engine.connect() as connection:
            row = connection.execute(query).first()
        return RunRecord(**row._mapping) if row else None

    def kpis(self, run_id: int) -> dict[tuple[str, str, str], float]:
        query = KPIS.select().where(KPIS.c.run_id == run_id)
        with self._database("reading KPIs"), self.engine.connect() as connection:
            return {(r.scenario, r.sector, r.metric): r.value for r in connection.execute(query)}
