"""The Images page's Generate tab: a prompt drawn by up to four deployments side by side, into the session gallery."""

from __future__ import annotations

import streamlit as st

from app import state
from app.components import image_gen_form, image_gen_run
from app.components.error_card import plain
from app.components.image_gen_gallery import PENDING_KEY, render_gallery
from app.components.image_gen_support import Support, support_of
from services import image_codegen
from services.config import Deployment

HOW_TO_ADD = (
    "To add one, configure an image model's deployment in `deployments.toml` (or add it in the sidebar): an Azure "
    'OpenAI `dall-e-3` or `gpt-image-1` deployment (`endpoint = "https://<resource>.openai.azure.com/openai/'
    'deployments/<name>"`, `api = "azure-openai"`; gpt-image-1 needs `api_version = "2025-04-01-preview"`), a '
    'Foundry image model such as FLUX (`endpoint = "https://<resource>.services.ai.azure.com/models"`, '
    '`model = "<deployment>"`), or any OpenAI-compatible server with `/images/generations` (`api = "openai"`). '
    "The embedded endpoint has no image generator: no package it can install carries generator weights."
)


def _no_generator_notice(deployments: dict[str, Deployment], supports: dict[str, Support]) -> None:
    """When every deployment is known not to draw: say so in words, why for each, and how to add one."""
    with st.container(border=True, key="imggen_none"):
        st.markdown("**No configured deployment generates images.**")
        st.markdown("\n".join(f"- **{plain(name)}**: {plain(supports[name].reason)}" for name in deployments))
        st.markdown(HOW_TO_ADD)


def _code(deployment: Deployment, prompt: str, params: dict) -> None:
    snippets = [("azure-ai-inference", image_codegen.python_azure_inference(deployment, prompt, params), "python")]
    openai_code = image_codegen.python_openai(deployment, prompt, params)
    if openai_code is not None:
        snippets.append(("openai", openai_code, "python"))
    snippets.append(("curl", image_codegen.curl(deployment, prompt, params), "bash"))
    st.caption(f"The key is read from the environment variable `{image_codegen.key_env_var(deployment)}`.")
    for tab, (_, code, language) in zip(st.tabs([name for name, _, _ in snippets]), snippets, strict=True):
        with tab:
            st.code(code, language=language)


def _run_pending(n: int) -> None:
    """A Retry or Retry-without pressed on a card: that deployment draws the run's prompt again, in place."""
    pending = st.session_state.pop(PENDING_KEY, None)
    if not pending:
        return
    deployment = state.all_deployments().get(pending["deployment"])
    if deployment is None:
        return
    with st.spinner(f"{deployment.name} draws again…"):
        image_gen_run.retry(pending["run"], deployment, image_gen_form.params_for(deployment, n))


def render_generate(tab_key: str) -> None:
    """The Generate tab."""
    st.caption("Draw images from a prompt with each deployment's `/images/generations`, up to four side by side.")
    deployments = state.all_deployments()
    if not deployments:
        st.info("No deployment is configured. " + HOW_TO_ADD)
        return
    supports = {name: support_of(deployment) for name, deployment in deployments.items()}
    if all(support.verdict == "no" for support in supports.values()):
        _no_generator_notice(deployments, supports)
    prompt, n = image_gen_form.render_prompt_and_n()
    picked = image_gen_form.pick_deployments(deployments, supports)
    jobs: list[image_gen_run.GenJob] = []
    if picked:
        columns = st.columns(len(picked))
        for column, deployment in zip(columns, picked, strict=True):
            with column:
                st.markdown(f"**{plain(deployment.name)}**")
                support = supports[deployment.name]
                if support.verdict == "no":
                    st.caption(f":orange[No image generation]: {plain(support.reason)}")
                params = image_gen_form.render_params(deployment, n)
                jobs.append(image_gen_run.GenJob(deployment, params))
    label = "Generate again" if image_gen_run.gallery() else "Generate"
    ready = bool(prompt.strip()) and bool(jobs)
    clicked = st.button(label, type="primary", disabled=not ready, key="imggen_generate")
    if not picked:
        st.caption("Pick at least one deployment.")
    elif not prompt.strip():
        st.caption("Write a prompt.")
    if jobs and prompt.strip():
        with st.expander("View code", expanded=False):
            for job in jobs:
                st.markdown(f"**{plain(job.deployment.name)}**")
                _code(job.deployment, prompt, job.params)
    if clicked and ready:
        names = ", ".join(job.deployment.name for job in jobs)
        with st.spinner(f"Drawing with {names}…"):
            image_gen_run.generate(prompt, jobs)
        st.rerun()  # drawn again with what the answers taught ("Generate again", deployments without generation)
    _run_pending(n)
    render_gallery(tab_key)
