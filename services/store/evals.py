"""The store of evaluation runs: each run's settings, its dataset rows, and one cell per row and deployment.

It lives in the area "evals" (SQLite: `evals.sqlite` under `PLAYGROUND_DATA_DIR`; PostgreSQL: the database of
`PLAYGROUND_DATABASE_URL`). A cell is stored at most once (its primary key is run, row, deployment), so a runner that
resumes a killed run, or saves a cell twice, never duplicates one. The rows are kept with the run, so a run resumes
and exports after a restart. A run belongs to the owner who started it (services.identity): a user lists and opens
their own runs, an admin or the anonymous viewer (sign-in off) all of them. A run still marked running whose runner
has not been heard from for STALE_AFTER_S seconds (it saves a cell or touches the run at least that often) is shown
as interrupted: its process was killed or restarted, and it can be resumed.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.eval_model import CellResult, EvaluatorSpec, Row, Verdict
from services.identity import ANONYMOUS, Viewer
from services.prompt_model import Prompt
from services.store.database import Database, StoreError, open_reader_and_writer
from services.store.eval_filter import EVERY_CELL, CellFilter
from services.store.eval_summary import DeploymentSummary, summarise, verdicts_of
from services.store.location import StoreConfigError

AREA = "evals"
STORE_FILE = "evals.sqlite"
STATUSES = ("running", "finished", "cancelled", "interrupted")
STALE_AFTER_S = 120.0
# A guard only: services.eval_dataset bounds datasets well below this.
MAX_ROWS = 100_000
DEFAULT_PAGE = 100
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_CELL_COLUMNS = (
    "row_index, deployment, answer, error, error_type, latency_s, input_tokens, output_tokens, cost, trace_id, verdicts"
)
_INSERT_CELL = (
    "INSERT INTO eval_cells (run_id, row_index, deployment, answer, error, error_type, latency_s, input_tokens,"
    " output_tokens, cost, trace_id, verdicts, passed, saved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run_id, row_index, deployment) DO NOTHING"
)


class EvalStoreError(Exception):
    """The store could not be read or written; the message names the file or database (never a password)."""


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: what it runs (prompt JSON, dataset, deployments, overrides, evaluators) and how far it got."""

    id: str
    owner: str | None
    name: str
    created: float  # epoch seconds
    status: str  # running | finished | cancelled | interrupted
    prompt_json: str
    dataset_name: str
    dataset_digest: str
    row_count: int
    deployments: tuple[str, ...]
    overrides: dict[str, dict[str, Any]]
    evaluators: tuple[EvaluatorSpec, ...]
    cells_done: int
    cells_errors: int
    cells_failed: int
    ended: float | None = None

    @property
    def total_cells(self) -> int:
        """Rows x deployments: how many cells the finished run holds."""
        return self.row_count * len(self.deployments)

    def prompt(self) -> Prompt:
        """The prompt as it was when the run started."""
        return Prompt.model_validate_json(self.prompt_json)


def new_run_id() -> str:
    """A fresh random run id (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def prompt_json(prompt: Prompt | str) -> str:
    """The prompt as stored with a run (its file path and content token are the library's, not the run's)."""
    if isinstance(prompt, str):
        return Prompt.model_validate_json(prompt).model_dump_json(exclude={"path", "token"})
    return prompt.model_dump_json(exclude={"path", "token"})


def _verdicts_json(verdicts: Iterable[Verdict]) -> str:
    return json.dumps(
        [{"evaluator": v.evaluator, "passed": v.passed, "score": v.score, "reason": v.reason} for v in verdicts]
    )


def _cell(row: Sequence[Any]) -> CellResult:
    return CellResult(
        row_index=int(row[0]),
        deployment=str(row[1]),
        answer=row[2],
        error=row[3],
        error_type=row[4],
        latency_s=row[5],
        input_tokens=row[6],
        output_tokens=row[7],
        cost=row[8],
        trace_id=row[9],
        verdicts=verdicts_of(row[10]),
    )


class EvalStore:
    """Runs, rows and cells of evaluations; safe to share between threads and processes. `location` (or
    `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by default); a path is that
    SQLite file, a URL that database."""

    def __init__(
        self,
        location: str | Path | Database | None = None,
        *,
        database_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        location = database_url if database_url is not None else location
        self.clock = clock
        try:
            # Cells arrive from many runner threads: one kept connection writes them, one after another.
            self._reader, self._writer = open_reader_and_writer(AREA, location)
        except StoreConfigError as exc:
            raise EvalStoreError(str(exc)) from None

    @property
    def where(self) -> str:
        """The file or database (without a password) the store reads and writes."""
        return self._reader.where

    def close(self) -> None:
        """Close the kept writing connection (reads open their own)."""
        self._writer.close()

    def _error(self, exc: StoreError, doing: str) -> EvalStoreError:
        verb = "opened" if exc.opening else doing
        return EvalStoreError(f"The evaluation store {exc.where} cannot be {verb}: {exc}")

    def _read(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        try:
            with self._reader.transaction(write=False) as tx:
                return list(tx.execute(sql, args).fetchall())
        except StoreError as exc:
            raise self._error(exc, "read") from None

    # --- runs ---------------------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        name: str,
        prompt: Prompt | str,
        dataset_name: str,
        dataset_digest: str,
        rows: Sequence[Row],
        deployments: Sequence[str],
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        evaluators: Sequence[EvaluatorSpec] = (),
        owner: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Store a new run (status running) with its rows; return its id. `overrides` are per-deployment request
        parameters (never a key: deployments are stored by name only)."""
        if len(rows) > MAX_ROWS:
            raise ValueError(f"A run holds at most {MAX_ROWS} rows, not {len(rows)}.")
        if not deployments or len(set(deployments)) != len(deployments):
            raise ValueError("A run needs one or more deployments, each named once.")
        run_id = run_id or new_run_id()
        if not _ID_PATTERN.fullmatch(run_id):
            raise ValueError(f"Invalid run id {run_id!r}.")
        now = self.clock()
        specs = [{"kind": s.kind, "name": s.name, "settings": dict(s.settings)} for s in evaluators]
        values = (
            run_id, owner, name, now, "running", now, prompt_json(prompt), dataset_name, dataset_digest, len(rows),
            json.dumps(list(deployments)), json.dumps({k: dict(v) for k, v in (overrides or {}).items()}),
            json.dumps(specs),
        )  # fmt: skip
        try:
            with self._writer.transaction() as tx:
                tx.execute(
                    "INSERT INTO eval_runs (id, owner, name, created, status, heartbeat, prompt, dataset_name,"
                    " dataset_digest, row_count, deployments, overrides, evaluators, cells_done, cells_errors,"
                    " cells_failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
                    values,
                )
                tx.executemany(
                    "INSERT INTO eval_rows (run_id, row_index, data) VALUES (?, ?, ?)",
                    [(run_id, index, json.dumps(dict(row), ensure_ascii=False)) for index, row in enumerate(rows)],
                )
        except StoreError as exc:
            raise self._error(exc, "written") from None
        return run_id

    def _record(self, row: Sequence[Any]) -> RunRecord:
        status, heartbeat = str(row[4]), float(row[5])
        if status == "running" and self.clock() - heartbeat > STALE_AFTER_S:
            status = "interrupted"  # its runner stopped without saying so: killed, or the app restarted
        specs = tuple(EvaluatorSpec(s["kind"], s["name"], s.get("settings") or {}) for s in json.loads(row[13]))
        return RunRecord(
            id=str(row[0]), owner=row[1], name=str(row[2]), created=float(row[3]), status=status,
            prompt_json=str(row[7]), dataset_name=str(row[8]), dataset_digest=str(row[9]), row_count=int(row[10]),
            deployments=tuple(json.loads(row[11])), overrides=json.loads(row[12]), evaluators=specs,
            cells_done=int(row[14]), cells_errors=int(row[15]), cells_failed=int(row[16]),
            ended=None if row[6] is None else float(row[6]),
        )  # fmt: skip

    _RUN_COLUMNS = (
        "id, owner, name, created, status, heartbeat, ended, prompt, dataset_name, dataset_digest, row_count,"
        " deployments, overrides, evaluators, cells_done, cells_errors, cells_failed"
    )

    def load_run(self, run_id: str, viewer: Viewer = ANONYMOUS) -> RunRecord | None:
        """The run, or None when it is unknown (or could not be an id) or the viewer may not read it."""
        if not _ID_PATTERN.fullmatch(run_id):
            return None
        found = self._read(f"SELECT {self._RUN_COLUMNS} FROM eval_runs WHERE id = ?", (run_id,))
        if not found or not viewer.can_read(found[0][1]):
            return None
        return self._record(found[0])

    def runs_for(self, viewer: Viewer = ANONYMOUS, limit: int = 50) -> list[RunRecord]:
        """The runs the viewer may read, newest first (all of them for an admin or with sign-in off)."""
        query = f"SELECT {self._RUN_COLUMNS} FROM eval_runs"
        args: list[Any] = []
        if not viewer.sees_all:
            query += " WHERE owner = ?"
            args.append(viewer.owner)
        query += " ORDER BY created DESC, id LIMIT ?"
        args.append(limit)
        return [self._record(row) for row in self._read(query, args)]

    def set_status(self, run_id: str, status: str) -> None:
        """Mark the run running (again, when resumed), finished, cancelled or interrupted."""
        if status not in STATUSES:
            raise ValueError(f"Unknown run status {status!r}: one of {', '.join(STATUSES)}.")
        now = self.clock()
        ended = None if status == "running" else now
        self._write(
            "UPDATE eval_runs SET status = ?, heartbeat = ?, ended = ? WHERE id = ?", (status, now, ended, run_id)
        )

    def touch(self, run_id: str) -> None:
        """Say the run's runner is alive (a run not touched for STALE_AFTER_S shows as interrupted)."""
        self._write("UPDATE eval_runs SET heartbeat = ? WHERE id = ?", (self.clock(), run_id))

    def delete_run(self, run_id: str, viewer: Viewer = ANONYMOUS) -> bool:
        """Remove the run with its rows and cells if the viewer may read it; True when it was removed."""
        if self.load_run(run_id, viewer) is None:
            return False
        try:
            with self._writer.transaction() as tx:
                tx.execute("DELETE FROM eval_cells WHERE run_id = ?", (run_id,))
                tx.execute("DELETE FROM eval_rows WHERE run_id = ?", (run_id,))
                return tx.execute("DELETE FROM eval_runs WHERE id = ?", (run_id,)).rowcount > 0
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def _write(self, sql: str, args: Sequence[Any]) -> None:
        try:
            with self._writer.transaction() as tx:
                tx.execute(sql, args)
        except StoreError as exc:
            raise self._error(exc, "written") from None

    # --- rows and cells ------------------------------------------------------------------------------------------

    def rows(
        self, run_id: str, *, limit: int | None = None, offset: int = 0, indices: Sequence[int] | None = None
    ) -> list[dict[str, str]]:
        """The run's dataset rows in order (a page of them with `limit`/`offset`, or those at `indices`)."""
        query = "SELECT data FROM eval_rows WHERE run_id = ?"
        args: list[Any] = [run_id]
        if indices is not None:
            query += f" AND row_index IN ({', '.join('?' * len(indices)) or 'NULL'})"
            args += [int(i) for i in indices]
        query += " ORDER BY row_index"
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [json.loads(row[0]) for row in self._read(query, args)]

    def save_cell(self, run_id: str, cell: CellResult) -> bool:
        """Store one finished cell; True when stored now, False when that row and deployment already had one (kept
        as it was: a cell is stored at most once)."""
        passed = cell.passed
        values = (
            run_id, cell.row_index, cell.deployment, cell.answer, cell.error, cell.error_type, cell.latency_s,
            cell.input_tokens, cell.output_tokens, cell.cost, cell.trace_id, _verdicts_json(cell.verdicts),
            None if passed is None else int(passed), self.clock(),
        )  # fmt: skip
        try:
            with self._writer.transaction() as tx:
                if tx.execute(_INSERT_CELL, values).rowcount != 1:
                    return False
                tx.execute(
                    "UPDATE eval_runs SET cells_done = cells_done + 1, cells_errors = cells_errors + ?,"
                    " cells_failed = cells_failed + ?, heartbeat = ? WHERE id = ?",
                    (int(not cell.ok), int(passed is False), self.clock(), run_id),
                )
                return True
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def done_cells(self, run_id: str) -> set[tuple[int, str]]:
        """(row_index, deployment) of every stored cell: what a resumed run does not call again."""
        rows = self._read("SELECT row_index, deployment FROM eval_cells WHERE run_id = ?", (run_id,))
        return {(int(row[0]), str(row[1])) for row in rows}

    def cells(
        self, run_id: str, where: CellFilter = EVERY_CELL, *, limit: int = DEFAULT_PAGE, offset: int = 0
    ) -> list[CellResult]:
        """A page of the cells `where` keeps, ordered by row, then deployment."""
        clause, args = where.sql(run_id)
        query = f"SELECT {_CELL_COLUMNS} FROM eval_cells{clause} ORDER BY row_index, deployment LIMIT ? OFFSET ?"
        return [_cell(row) for row in self._read(query, [*args, limit, offset])]

    def count_cells(self, run_id: str, where: CellFilter = EVERY_CELL) -> int:
        """How many cells `cells` would page through with this filter."""
        clause, args = where.sql(run_id)
        return int(self._read(f"SELECT count(*) FROM eval_cells{clause}", args)[0][0])

    def row_indices(
        self, run_id: str, where: CellFilter = EVERY_CELL, *, limit: int = DEFAULT_PAGE, offset: int = 0
    ) -> list[int]:
        """A page of the indices of the rows that have a cell this filter keeps, in order (a matrix's rows)."""
        clause, args = where.sql(run_id)
        query = f"SELECT DISTINCT row_index FROM eval_cells{clause} ORDER BY row_index LIMIT ? OFFSET ?"
        return [int(row[0]) for row in self._read(query, [*args, limit, offset])]

    def count_rows(self, run_id: str, where: CellFilter = EVERY_CELL) -> int:
        """How many rows `row_indices` would page through with this filter."""
        clause, args = where.sql(run_id)
        return int(self._read(f"SELECT count(DISTINCT row_index) FROM eval_cells{clause}", args)[0][0])

    def summary(self, run_id: str) -> list[DeploymentSummary]:
        """Figures per deployment, in the run's deployment order (deployments without a cell yet included)."""
        record = self.load_run(run_id)
        if record is None:
            return []
        found: dict[str, list[Any]] = {name: [] for name in record.deployments}
        query = (
            "SELECT deployment, error IS NOT NULL, passed, latency_s, input_tokens, output_tokens, cost, verdicts"
            " FROM eval_cells WHERE run_id = ?"
        )
        for row in self._read(query, (run_id,)):
            found.setdefault(str(row[0]), []).append(row)
        return [summarise(name, rows, [s.name for s in record.evaluators]) for name, rows in found.items()]
