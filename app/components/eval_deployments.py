"""The evaluation's deployments (one to six chat deployments) and each one's request-parameter overrides, typed as
a small JSON object such as {"temperature": 0, "max_tokens": 64}."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import streamlit as st

from app import state
from app.components import eval_form
from app.components.eval_form import Problem
from services.config import Deployment
from services.eval_model import MAX_DEPLOYMENTS
from services.http import CHAT_PARAMS
from services.netguard import AddressGuard
from services.schemas import ModelInfo

PICK_KEY = "evf_deployments"
OVERRIDE_PREFIX = "evf_override_"
NOT_CHAT = ("embedding", "image")  # /info model types that cannot answer a chat request
OVERRIDE_PARAMS = (CHAT_PARAMS - {"model"}) | {"model_extras", "extra_parameters"}
WHOLE_NUMBERS = ("max_tokens", "seed")


def run_deployments() -> dict[str, Deployment]:
    """The deployments an evaluation may use: the configured ones and those added in the sidebar (run_guards gives
    the latter's clients the endpoint guard the rest of the app uses)."""
    return state.all_deployments()


def run_guards(deployments: Mapping[str, Deployment]) -> dict[str, AddressGuard | None]:
    """Each deployment's address guard by name (state.guard_for): for the runner's and the judges' clients."""
    return {name: state.guard_for(deployment) for name, deployment in deployments.items()}


def chat_deployment_names(deployments: Mapping[str, Deployment]) -> list[str]:
    """The deployments that may answer chat: all but those whose /info says embeddings or images."""
    names = []
    for name, deployment in deployments.items():
        info = state.get_info(deployment) if deployment.api == "azure-inference" else None
        kind = info.model_type.lower() if isinstance(info, ModelInfo) else ""
        if not any(word in kind for word in NOT_CHAT):
            names.append(name)
    return names


def parse_overrides(deployment: str, text: str) -> tuple[dict[str, Any], str | None]:
    """The overrides typed for `deployment` as request parameters, or the reason they cannot be used (naming it)."""
    if not text.strip():
        return {}, None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, (
            f"The overrides for {deployment} are not JSON ({exc.msg} at column {exc.colno}); write an object "
            'such as {"temperature": 0}.'
        )
    if not isinstance(found, dict):
        return {}, f'The overrides for {deployment} must be a JSON object such as {{"temperature": 0}}.'
    unknown = sorted(set(found) - OVERRIDE_PARAMS)
    if unknown:
        known = ", ".join(sorted(OVERRIDE_PARAMS))
        return {}, (
            f"The overrides for {deployment} name {', '.join(map(repr, unknown))}, not a chat parameter "
            f"(these are: {known})."
        )
    for name in WHOLE_NUMBERS:
        value = found.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            return {}, f"The overrides for {deployment}: {name} must be a whole number of 1 or more, not {value!r}."
    return found, None


def render_deployment_pick() -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Draw the deployment picker and one overrides field per chosen deployment; return the chosen names and their
    overrides (no names while something is wrong, with the reason next to its field)."""
    options = chat_deployment_names(run_deployments())
    eval_form.keep_choices(PICK_KEY, options, many=True)
    chosen = st.multiselect(
        "Deployments",
        options,
        key=PICK_KEY,
        max_selections=MAX_DEPLOYMENTS,
        placeholder="Choose one to six deployments",
        help="Every dataset row is sent to each of them.",
    )
    if not options:
        eval_form.show([Problem("No chat deployment is configured; add one in the sidebar.")])
        return [], {}
    if not chosen:
        eval_form.show([Problem("Choose at least one deployment to run on.", quiet=True)])
        return [], {}
    overrides: dict[str, dict[str, Any]] = {}
    broken = False
    for name in chosen:
        text = st.text_input(
            f"Overrides for {name}",
            key=f"{OVERRIDE_PREFIX}{name}",
            placeholder='{"temperature": 0, "max_tokens": 64}',
            help="Request parameters over the prompt's own, as a JSON object. Leave empty to use the prompt's.",
        )
        found, problem = parse_overrides(name, text or "")
        if problem is not None:
            eval_form.show([Problem(problem)])
            broken = True
        elif found:
            overrides[name] = found
    return ([], {}) if broken else (list(chosen), overrides)
