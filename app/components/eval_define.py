"""Defining an evaluation run and starting it: name, prompt, dataset, deployments with overrides, evaluators, Run.

Every part is checked as it is drawn and its problems show beside it; Run starts nothing while one is left. A run
is created in the evaluation store under the viewer and runs in the background (app/components/eval_jobs.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from app.auth import current_viewer
from app.components import eval_form, eval_jobs
from app.components.eval_dataset_pick import render_dataset_pick
from app.components.eval_deployments import render_deployment_pick, run_deployments, run_guards
from app.components.eval_evaluator_list import render_evaluator_list
from app.components.eval_prompt_pick import render_prompt_pick
from services.eval_build import build_evaluators
from services.eval_dataset import Dataset
from services.eval_model import EvaluatorSpec
from services.eval_run import EvalRunner
from services.prompts import Prompt

NAME_KEY = "evf_run_name"
MAX_NAME = 200


def start_run(
    name: str,
    prompt: Prompt,
    dataset: Dataset,
    deployments: Sequence[str],
    overrides: Mapping[str, Mapping[str, Any]],
    specs: Sequence[EvaluatorSpec],
) -> str:
    """Store a new run under the viewer and start it in the background; return its id."""
    configured = run_deployments()
    guards = run_guards(configured)
    evaluators = build_evaluators(specs, configured, guards=guards)
    store = eval_jobs.eval_store()
    run_id = store.create_run(
        name=name,
        prompt=prompt,
        dataset_name=dataset.source,
        dataset_digest=dataset.digest,
        rows=dataset.rows,
        deployments=list(deployments),
        overrides=overrides,
        evaluators=specs,
        owner=current_viewer().owner,
    )
    chosen = {deployment: configured[deployment] for deployment in deployments}
    runner = EvalRunner(store, run_id, prompt, dataset.rows, chosen, overrides, evaluators, guards=guards)
    eval_jobs.start(runner, evaluators)
    return run_id


def _section(title: str) -> None:
    st.markdown(f"**{title}**")


def render_define() -> str | None:
    """Draw the run's definition and Run; returns the id of the run started on this script run, else None."""
    st.text_input("Run name", key=NAME_KEY, max_chars=MAX_NAME, placeholder="e.g. capitals, temperature 0")
    left, right = st.columns(2, gap="large")
    with left:
        _section("Prompt")
        prompt = render_prompt_pick()
        _section("Dataset")
        dataset = render_dataset_pick(prompt)
    with right:
        _section("Deployments")
        deployments, overrides = render_deployment_pick()
        _section("Evaluators")
        specs = render_evaluator_list(prompt, dataset)
    ready = prompt is not None and dataset is not None and bool(deployments) and specs is not None
    clicked = st.button(
        "Run", key="evals_run", type="primary", icon=":material/play_arrow:", on_click=eval_form.mark_tried
    )
    if not clicked:
        return None
    if not ready or prompt is None or dataset is None or specs is None:
        st.error("Nothing was sent: fix what is marked above, then press Run again.", icon=":material/error:")
        return None
    typed = str(eval_form.value(NAME_KEY, "") or "").strip()
    name = typed or f"{prompt.name or 'Prompt'} on {dataset.source}"
    run_id = start_run(name, prompt, dataset, deployments, overrides, specs)
    eval_form.reset_tried()
    return run_id
