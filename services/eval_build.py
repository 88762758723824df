"""Evaluator specs to evaluators: the settings each kind takes (with defaults and types), and `build_evaluator`,
which makes any kind from its spec: the checks of services/eval_checks.py and the model-based ones of
services/eval_judge.py (similarity, judge), which call a deployment named in their settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services import eval_judge
from services.config import Deployment
from services.eval_checks import (
    Affix,
    Contains,
    ExactMatch,
    JsonSchemaMatch,
    LengthBounds,
    RegexMatch,
    ValidJson,
)
from services.eval_model import EvalError, Evaluator, EvaluatorSpec
from services.netguard import AddressGuard

REQUIRED = object()
TEXT = (str,)
FLAG = (bool,)
COUNT = (int, type(None))
SETTINGS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "exact": {"value": (TEXT, "{{expected}}"), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "contains": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "not_contains": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "starts_with": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "ends_with": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "regex": {"pattern": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "length": {"min": (COUNT, None), "max": (COUNT, None)},
    "json": {},
    "json_schema": {"schema": ((dict, str, Mapping), REQUIRED)},
    "similarity": {"deployment": ((str, type(None)), REQUIRED), "threshold": ((int, float), 0.8)},
    "judge": {
        "deployment": ((str, type(None)), REQUIRED),
        "rubric": ((str, type(None)), None),
        "system": ((str, type(None)), None),
        "pass_mark": ((int, float, type(None)), None),
        "choices": ((list, type(None)), None),
        "requires_expected": (FLAG, False),
        "max_tokens": ((int,), 300),
    },
}
KINDS = tuple(SETTINGS)
COMMON_SETTINGS = ("note", "source")  # what a mapping from another format says about itself; not used to judge


def spec_settings(spec: EvaluatorSpec) -> dict[str, Any]:
    """The spec's settings with defaults filled in; EvalError for an unknown kind or setting, a missing or
    mistyped one."""
    if spec.kind not in SETTINGS:
        raise EvalError(f"Evaluator {spec.name!r}: unknown kind {spec.kind!r}; use one of {', '.join(KINDS)}.")
    allowed = SETTINGS[spec.kind]
    out: dict[str, Any] = {}
    for key in spec.settings:
        if key not in allowed and key not in COMMON_SETTINGS:
            known = ", ".join(allowed) or "none"
            raise EvalError(f"Evaluator {spec.name!r}: {spec.kind} has no setting {key!r} (its settings: {known}).")
    for key, (types, default) in allowed.items():
        if key not in spec.settings or (spec.settings[key] is None and default is not REQUIRED):
            if default is REQUIRED:
                raise EvalError(f"Evaluator {spec.name!r}: {spec.kind} needs the setting {key!r}.")
            out[key] = default
            continue
        value = spec.settings[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise EvalError(
                f"Evaluator {spec.name!r}: the setting {key!r} has the wrong type ({type(value).__name__})."
            )
        out[key] = value
    return out


def build_evaluator(
    spec: EvaluatorSpec,
    deployments: Mapping[str, Deployment] | None = None,
    *,
    clients: Mapping[str, Any] | None = None,
    cache: Any = None,
    guards: Mapping[str, AddressGuard | None] | None = None,
) -> Evaluator:
    """The evaluator a spec describes. `similarity` and `judge` call a deployment named in their settings, looked up
    in `deployments` (name -> Deployment); `clients` (name -> InferenceClient) lets them share open clients, `cache`
    (an EmbeddingCache) keeps similarity's vectors, `guards` (name -> AddressGuard or None) is the address guard a
    client they make connects through. Raises EvalError for a spec that cannot work."""
    settings = spec_settings(spec)
    name = spec.name
    makers: dict[str, Callable[[], Evaluator]] = {
        "exact": lambda: ExactMatch(name, settings["value"], settings["ignore_case"], settings["trim"]),
        "contains": lambda: Contains(name, settings["text"], settings["ignore_case"]),
        "not_contains": lambda: Contains(name, settings["text"], settings["ignore_case"], negate=True),
        "starts_with": lambda: Affix(name, settings["text"], settings["ignore_case"], settings["trim"]),
        "ends_with": lambda: Affix(name, settings["text"], settings["ignore_case"], settings["trim"], at_end=True),
        "regex": lambda: RegexMatch(name, settings["pattern"], settings["ignore_case"]),
        "length": lambda: LengthBounds(name, settings["min"], settings["max"]),
        "json": lambda: ValidJson(name),
        "json_schema": lambda: JsonSchemaMatch(name, settings["schema"]),
    }
    if spec.kind in makers:
        return makers[spec.kind]()
    deployment = _deployment_for(spec, settings["deployment"], deployments)
    client = (clients or {}).get(deployment.name)
    guard = (guards or {}).get(deployment.name)
    if spec.kind == "similarity":
        return eval_judge.SimilarityEvaluator(
            name, deployment, settings["threshold"], client=client, cache=cache, guard=guard
        )
    return eval_judge.JudgeEvaluator(
        name,
        deployment,
        rubric=settings["rubric"],
        system=settings["system"],
        pass_mark=settings["pass_mark"],
        choices=settings["choices"],
        requires_expected=settings["requires_expected"],
        max_tokens=settings["max_tokens"],
        client=client,
        guard=guard,
    )


def build_evaluators(
    specs: Sequence[EvaluatorSpec],
    deployments: Mapping[str, Deployment] | None = None,
    *,
    clients: Mapping[str, Any] | None = None,
    cache: Any = None,
    guards: Mapping[str, AddressGuard | None] | None = None,
) -> list[Evaluator]:
    """Every spec's evaluator, in order; EvalError when two share a name (names are the results' column headers)."""
    seen: set[str] = set()
    for spec in specs:
        if not spec.name.strip():
            raise EvalError(f"An evaluator of kind {spec.kind!r} has no name; give it one.")
        if spec.name in seen:
            raise EvalError(f"Two evaluators are named {spec.name!r}; give each its own name.")
        seen.add(spec.name)
    return [build_evaluator(spec, deployments, clients=clients, cache=cache, guards=guards) for spec in specs]


def _deployment_for(
    spec: EvaluatorSpec, wanted: str | None, deployments: Mapping[str, Deployment] | None
) -> Deployment:
    role = "an embeddings deployment" if spec.kind == "similarity" else "a chat deployment to judge with"
    if not wanted:
        raise EvalError(f"Evaluator {spec.name!r} needs {role}; choose one.")
    found = (deployments or {}).get(wanted)
    if found is None:
        raise EvalError(
            f"Evaluator {spec.name!r} uses the deployment {wanted!r}, which is not configured; choose another."
        )
    return found
