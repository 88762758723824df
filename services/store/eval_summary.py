"""Per-deployment figures of an evaluation run, from its stored cells (services.store.evals reads them)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from services.eval_model import Verdict


@dataclass(frozen=True)
class DeploymentSummary:
    """One deployment's figures over a run. Errors (no answer) are apart from failures (an answer a check failed);
    pass rates and scores count answered cells only, latency too."""

    deployment: str
    calls: int
    errors: int
    failures: int
    passed: int
    pass_rates: dict[str, float | None] = field(default_factory=dict)  # by evaluator; None when it judged nothing
    mean_scores: dict[str, float | None] = field(default_factory=dict)
    mean_latency_s: float | None = None
    p95_latency_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None


def verdicts_of(text: str | None) -> list[Verdict]:
    """A cell's stored verdicts JSON as Verdicts."""
    return [Verdict(**item) for item in json.loads(text or "[]")]


def p95(values: list[float]) -> float | None:
    """The nearest-rank 95th percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summarise(deployment: str, rows: list[Any], evaluators: list[str]) -> DeploymentSummary:
    """One deployment's figures from its cells as (deployment, has_error, passed, latency_s, input_tokens,
    output_tokens, cost, verdicts JSON) rows."""
    answered = [row for row in rows if not row[1]]
    judged: dict[str, list[bool]] = {name: [] for name in evaluators}
    scores: dict[str, list[float]] = {name: [] for name in evaluators}
    for row in answered:
        for verdict in verdicts_of(row[7]):
            if verdict.passed is not None:
                judged.setdefault(verdict.evaluator, []).append(verdict.passed)
            if verdict.score is not None:
                scores.setdefault(verdict.evaluator, []).append(verdict.score)
    latencies = [float(row[3]) for row in answered if row[3] is not None]
    costs = [float(row[6]) for row in rows if row[6] is not None]
    return DeploymentSummary(
        deployment=deployment,
        calls=len(rows),
        errors=len(rows) - len(answered),
        failures=sum(1 for row in answered if row[2] is not None and not row[2]),
        passed=sum(1 for row in answered if row[2]),
        pass_rates={name: (sum(v) / len(v) if v else None) for name, v in judged.items()},
        mean_scores={name: (sum(v) / len(v) if v else None) for name, v in scores.items()},
        mean_latency_s=sum(latencies) / len(latencies) if latencies else None,
        p95_latency_s=p95(latencies),
        input_tokens=sum(int(row[4] or 0) for row in rows),
        output_tokens=sum(int(row[5] or 0) for row in rows),
        cost=sum(costs) if costs else None,
    )
