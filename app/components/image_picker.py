"""The images page's deployment picker, preselecting a deployment whose /info says it serves image embeddings."""

from __future__ import annotations

import streamlit as st

from app import state
from app.components.error_card import plain
from services.config import Deployment
from services.safe_markdown import code_span
from services.schemas import ModelInfo

PICKER_KEY = "images_deployment"
IMAGE_EMBEDDING_TYPES = {"image_embeddings"}


def serves_image_embeddings(info: ModelInfo | Exception) -> bool:
    """Whether an /info answer names image embeddings (the contract's underscore or the live hyphen form)."""
    return isinstance(info, ModelInfo) and info.model_type.replace("-", "_").lower() in IMAGE_EMBEDDING_TYPES


def _image_deployment(deployments: dict[str, Deployment]) -> str | None:
    for name, deployment in deployments.items():
        # Only kinds with /info can say what they serve; asking the others would only cost a 404.
        if deployment.api == "azure-inference" and serves_image_embeddings(state.get_info(deployment)):
            return name
    return None


def pick_image_deployment() -> Deployment | None:
    """A selectbox over every deployment; the first visit preselects one that serves image embeddings."""
    deployments = state.all_deployments()
    if not deployments:
        st.info("No deployment is configured. Add one in the sidebar or start the embedded endpoint.")
        return None
    names = list(deployments)
    if st.session_state.get(PICKER_KEY) not in names:
        st.session_state[PICKER_KEY] = _image_deployment(deployments) or names[0]
    name = st.selectbox("Deployment", names, key=PICKER_KEY, help="Image embeddings go to its /images/embeddings.")
    deployment = deployments[name]
    if deployment.api == "azure-inference":
        info = state.get_info(deployment)
        if isinstance(info, ModelInfo) and not serves_image_embeddings(info):
            st.warning(
                f"**{name}** says it is a {code_span(info.model_type)} model ({plain(info.model_name)}), "
                "not image embeddings: embedding will most likely be refused."
            )
    return deployment
