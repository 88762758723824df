"""Which cells of an evaluation run a query keeps: one value for the matrix's "Show" choice and a page's rows.

The store's cell queries (`cells`, `count_cells`, `row_indices`, `count_rows`) take one `CellFilter` instead of
repeating the same keywords, so a new way to narrow a run is added here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SHOWS = ("all", "failures", "errors", "disagreements")


@dataclass(frozen=True)
class CellFilter:
    """Filters narrow together: `failures` keeps answers a check failed (not errors), `errors` calls that gave no
    answer, `disagreements` the rows where one deployment passed and another failed, `deployment` one deployment's
    cells, `rows` the cells of those row indices."""

    failures: bool = False
    errors: bool = False
    disagreements: bool = False
    deployment: str | None = None
    rows: tuple[int, ...] | None = None

    @classmethod
    def show(cls, name: str) -> CellFilter:
        """The filter for a "Show" choice of the results matrix: one of SHOWS."""
        if name not in SHOWS:
            raise ValueError(f"Unknown choice {name!r}; use one of {', '.join(SHOWS)}.")
        return cls(failures=name == "failures", errors=name == "errors", disagreements=name == "disagreements")

    def of_rows(self, rows: Sequence[int]) -> CellFilter:
        """This filter narrowed to the cells of `rows`."""
        return CellFilter(self.failures, self.errors, self.disagreements, self.deployment, tuple(int(i) for i in rows))

    def sql(self, run_id: str) -> tuple[str, list[Any]]:
        """The WHERE clause over eval_cells (with "?" placeholders) and its arguments, for one run."""
        clauses, args = ["run_id = ?"], [run_id]
        if self.rows is not None:
            clauses.append(f"row_index IN ({', '.join('?' * len(self.rows)) or 'NULL'})")
            args += list(self.rows)
        if self.failures:
            clauses.append("passed = 0")
        if self.errors:
            clauses.append("error IS NOT NULL")
        if self.disagreements:
            clauses.append(
                "row_index IN (SELECT row_index FROM eval_cells WHERE run_id = ? AND passed IS NOT NULL"
                " GROUP BY row_index HAVING min(passed) <> max(passed))"
            )
            args.append(run_id)
        if self.deployment is not None:
            clauses.append("deployment = ?")
            args.append(self.deployment)
        return " WHERE " + " AND ".join(clauses), args


EVERY_CELL = CellFilter()
