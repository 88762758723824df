"""Images: embed uploaded, sample or generated images and look at how the model places them (Embed tab), or draw
images from a prompt with up to four deployments side by side (Generate tab)."""

from __future__ import annotations

import streamlit as st

from app.components.error_card import render_error
from app.components.image_embed import discard_failure, run_embedding, stored_failure, stored_result
from app.components.image_gen_tab import render_generate
from app.components.image_inputs import collect_images, image_limits
from app.components.image_picker import pick_image_deployment
from app.components.image_results import render_results
from services.safe_markdown import escape_markdown

RETRY_WITHOUT_TEXT_KEY = "images_pending_without_text"
TAB_KEY = "images_tab"


def _text_refused(deployment: str) -> None:
    with st.container(border=True, key="images_text_refused"):
        st.markdown(f"**:red[{escape_markdown(deployment)} does not take text with images]**")
        st.markdown(
            "It embeds images only, so it refused the text given with each image "
            "(`input[0].text`, `input[1].text`, … in the request)."
        )
        if st.button("Embed without the text", key="images_retry_without_text"):
            st.session_state[RETRY_WITHOUT_TEXT_KEY] = True
            st.rerun()


def render() -> None:
    """The images page: its two tabs, only the open one drawn."""
    st.title("Images")
    embed_tab, generate_tab = st.tabs(["Embed", "Generate"], key=TAB_KEY, on_change="rerun")
    if embed_tab.open:
        with embed_tab:
            _render_embed()
    if generate_tab.open:
        with generate_tab:
            render_generate(TAB_KEY)


def _render_embed() -> None:
    st.caption("Embed images with a deployment's `/images/embeddings` and compare them.")
    deployment = pick_image_deployment()
    limits = image_limits()
    items = collect_images(limits)
    retry_without_text = bool(st.session_state.pop(RETRY_WITHOUT_TEXT_KEY, False))
    clicked = st.button("Embed", type="primary", disabled=not items or deployment is None, key="images_embed")
    if deployment is not None and items and (clicked or retry_without_text):
        run_embedding(deployment, items, with_text=not retry_without_text)
        if retry_without_text:
            st.info(f"Embedded without the per-image text, which {deployment.name} does not take.")
    failure = stored_failure()
    if failure is not None and not items:
        # The images it was about are gone (removed by the user), and so is its card.
        discard_failure()
        failure = None
    if failure is not None and failure.text_refused:
        _text_refused(failure.deployment)
    elif failure is not None:
        render_error(failure.error, key="images_embed")
    result = stored_result()
    if result is not None:
        render_results(result, deployment)
    elif not items:
        st.info("Upload images or switch on the sample images, then press Embed.")
