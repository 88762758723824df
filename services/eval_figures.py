"""A run's figures as tables: the summary per deployment (what the results page and the HTML report show), and two
runs on the same dataset compared per deployment and evaluator ("did the new system prompt help?")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.store.eval_summary import DeploymentSummary
from services.store.evals import RunRecord

ALL_CHECKS = "all checks"


def overall_rate(summary: DeploymentSummary) -> float | None:
    """The share of judged answers that passed every check (errors and unjudged answers count in neither part)."""
    judged = summary.passed + summary.failures
    return summary.passed / judged if judged else None


def _percent(rate: float | None) -> float | None:
    return None if rate is None else 100.0 * rate


def evaluator_columns(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> list[tuple[str, str, str]]:
    """(evaluator, kind, column) for the summary's evaluator columns: a pass rate ("pass %") for an evaluator that
    passes or fails, a mean score for one that scores, both when it does both (each judged by what was stored)."""
    columns = []
    for spec in record.evaluators:
        rated = any(s.pass_rates.get(spec.name) is not None for s in summaries)
        scored = any(s.mean_scores.get(spec.name) is not None for s in summaries)
        if rated or not scored:
            columns.append((spec.name, "rate", f"{spec.name} pass %"))
        if scored:
            columns.append((spec.name, "score", f"{spec.name} mean score"))
    return columns


def summary_records(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> list[dict[str, Any]]:
    """One record per deployment, in the run's order: calls, errors (no answer), failures (a check failed), the
    pass rate of all checks and of each evaluator in percent, mean scores, latency, tokens and cost (None: unknown)."""
    columns = evaluator_columns(record, summaries)
    records = []
    for summary in summaries:
        item: dict[str, Any] = {
            "Deployment": summary.deployment,
            "Calls": summary.calls,
            "Errors": summary.errors,
            "Failures": summary.failures,
            f"{ALL_CHECKS} pass %": _percent(overall_rate(summary)),
        }
        for name, kind, column in columns:
            value = summary.pass_rates.get(name) if kind == "rate" else summary.mean_scores.get(name)
            item[column] = _percent(value) if kind == "rate" else value
        item.update(
            {
                "Mean latency (s)": summary.mean_latency_s,
                "p95 latency (s)": summary.p95_latency_s,
                "Input tokens": summary.input_tokens,
                "Output tokens": summary.output_tokens,
                "Cost ($)": summary.cost,
            }
        )
        records.append(item)
    return records


@dataclass(frozen=True)
class RateChange:
    """One deployment and check in two runs: pass rates in percent (None: nothing judged) and B minus A in points."""

    deployment: str
    check: str
    rate_a: float | None
    rate_b: float | None

    @property
    def difference(self) -> float | None:
        """B minus A in percentage points (None unless both are known)."""
        return None if self.rate_a is None or self.rate_b is None else self.rate_b - self.rate_a


def same_dataset(a: RunRecord, b: RunRecord) -> bool:
    """True when both runs ran the same dataset (same content digest): only then are their rates comparable."""
    return bool(a.dataset_digest) and a.dataset_digest == b.dataset_digest


def _rates(summary: DeploymentSummary | None, checks: Sequence[str]) -> dict[str, float | None]:
    if summary is None:
        return dict.fromkeys(checks)
    rates = {name: _percent(summary.pass_rates.get(name)) for name in checks}
    rates[ALL_CHECKS] = _percent(overall_rate(summary))
    return rates


def compare_runs(
    a: RunRecord, summaries_a: Sequence[DeploymentSummary], b: RunRecord, summaries_b: Sequence[DeploymentSummary]
) -> list[RateChange]:
    """Pass rates of A and B per deployment (A's order, then B's new ones) and per check ("all checks" first, then
    each evaluator of either run that passes or fails)."""
    by_a = {s.deployment: s for s in summaries_a}
    by_b = {s.deployment: s for s in summaries_b}
    deployments = list(dict.fromkeys([*by_a, *by_b]))
    names = [spec.name for spec in (*a.evaluators, *b.evaluators)]
    checks = [
        name
        for name in dict.fromkeys(names)
        if any(s.pass_rates.get(name) is not None for s in (*summaries_a, *summaries_b))
    ]
    changes = []
    for deployment in deployments:
        rates_a = _rates(by_a.get(deployment), checks)
        rates_b = _rates(by_b.get(deployment), checks)
        for check in (ALL_CHECKS, *checks):
            changes.append(RateChange(deployment, check, rates_a.get(check), rates_b.get(check)))
    return changes
