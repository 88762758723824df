"""Image embeddings: upload or generate images, embed them, and look at how the model places them."""

from __future__ import annotations

import streamlit as st

from app.components.error_card import render_error
from app.components.image_embed import run_embedding, stored_error, stored_result
from app.components.image_inputs import collect_images, image_limits
from app.components.image_picker import pick_image_deployment
from app.components.image_results import render_results

RETRY_WITHOUT_TEXT_KEY = "images_retry_without_text"


def _retry_without_text(param: str) -> None:
    # The error card's button: embed the same images again, leaving the refused text out.
    st.session_state[RETRY_WITHOUT_TEXT_KEY] = param


def render() -> None:
    """The images page."""
    st.title("Images")
    st.caption("Embed images with a deployment's `/images/embeddings` and compare them.")
    deployment = pick_image_deployment()
    limits = image_limits()
    items = collect_images(limits)
    retry_param = st.session_state.pop(RETRY_WITHOUT_TEXT_KEY, None)
    clicked = st.button("Embed", type="primary", disabled=not items or deployment is None, key="images_embed")
    if deployment is not None and items and (clicked or retry_param):
        run_embedding(deployment, items, with_text=retry_param is None)
        if retry_param:
            st.info(f"Embedded without the per-image text, which {deployment.name} refused (`{retry_param}`).")
    error = stored_error()
    if error is not None:
        render_error(error, key="images_embed", on_retry_without=_retry_without_text)
    result = stored_result()
    if result is not None:
        render_results(result, deployment)
    elif not items:
        st.info("Upload images or switch on the sample images, then press Embed.")
