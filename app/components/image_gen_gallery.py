"""The session's gallery: each run's prompt, then per deployment its images (size, time, revised prompt, a PNG
download) or its error card, and "Embed these" to take a run's images to the embeddings tab."""

from __future__ import annotations

import functools
import re
import time

import streamlit as st

from app import state
from app.components import image_gen_form, image_inputs
from app.components.error_card import plain, render_error
from app.components.image_gen_run import GalleryEntry, GalleryRun, clear_gallery, dropped_runs, gallery
from services.errors import UnsupportedParameterError

PENDING_KEY = "imggen_pending_retry"  # {"run": run_id, "deployment": name}: generate that entry again
EMBED_TAB = "Embed"


def _retry_without(run_id: str, deployment_name: str, invalid_value: bool, param: str) -> None:
    deployment = state.all_deployments().get(deployment_name)
    if deployment is None:
        return
    if invalid_value or param == "size":
        # The deployment takes the parameter, only not this value: back to its default, nothing remembered.
        image_gen_form.switch_off(deployment, param)
    else:
        image_gen_form.mark_refused(deployment_name, param)
    st.session_state[PENDING_KEY] = {"run": run_id, "deployment": deployment_name}


def _retry(run_id: str, deployment_name: str) -> None:
    st.session_state[PENDING_KEY] = {"run": run_id, "deployment": deployment_name}


def _embed(run: GalleryRun, tab_key: str) -> None:
    items = [
        (f"{_slug(entry.deployment)}-{run.run_id[:4]}-{image.index + 1}.png", image.png, entry.deployment)
        for entry in run.entries
        for image in entry.images
    ]
    image_inputs.send_generated(items)
    st.session_state[tab_key] = EMBED_TAB


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "image"


def _entry(run: GalleryRun, position: int, entry: GalleryEntry) -> None:
    st.markdown(f"**{plain(entry.deployment)}**")
    if entry.error is not None:
        err = entry.error
        retry_without = None
        if isinstance(err, UnsupportedParameterError):
            retry_without = functools.partial(_retry_without, run.run_id, entry.deployment, err.invalid_value)
        render_error(
            err,
            key=f"imggen_{run.run_id}_{position}",
            on_retry_without=retry_without,
            on_retry=functools.partial(_retry, run.run_id, entry.deployment),
        )
        return
    facts = [f"{len(entry.images)} image(s) in {entry.elapsed_s:.1f} s"]
    if entry.model:
        facts.append(plain(entry.model))
    if entry.output_tokens:
        facts.append(f"{entry.output_tokens:,} output tokens")
    st.caption(" · ".join(facts))
    for image in entry.images:
        caption = " · ".join(part for part in (image.size, f"{entry.elapsed_s:.1f} s") if part)
        st.image(image.png, caption=caption, width="stretch")
        if image.revised_prompt:
            st.caption(f"Revised prompt: {plain(image.revised_prompt)}")
        st.download_button(
            "Download PNG",
            data=image.png,
            file_name=f"{_slug(entry.deployment)}-{run.run_id[:6]}-{image.index + 1}.png",
            mime="image/png",
            key=f"imggen_download_{run.run_id}_{position}_{image.index}",
            icon=":material/download:",
        )


def render_gallery(tab_key: str) -> None:
    """Every run of this session, newest first."""
    runs = gallery()
    if not runs:
        return
    head = st.container(horizontal=True, vertical_alignment="center")
    head.subheader("Gallery")
    head.button("Clear gallery", key="imggen_clear", on_click=clear_gallery)
    if dropped_runs():
        st.caption(f"The {dropped_runs()} oldest run(s) left the gallery to keep it small; download what you keep.")
    for run in runs:
        with st.container(border=True, key=f"imggen_run_{run.run_id}"):
            when = time.strftime("%H:%M:%S", time.localtime(run.created))
            st.markdown(f"**Prompt:** {plain(run.prompt)}")
            st.caption(f"Generated at {when}")
            columns = st.columns(max(1, len(run.entries)))
            for position, (column, entry) in enumerate(zip(columns, run.entries, strict=True)):
                with column:
                    _entry(run, position, entry)
            if any(entry.images for entry in run.entries):
                st.button(
                    "Embed these",
                    key=f"imggen_embed_{run.run_id}",
                    on_click=_embed,
                    args=(run, tab_key),
                    help="Take this run's images to the Embed tab, to embed them with an image embeddings deployment.",
                )
