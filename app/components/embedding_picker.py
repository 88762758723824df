"""The embeddings page's deployment pickers: a main one that preselects an embeddings model, and one to compare."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app import state
from app.components.error_card import plain
from services.config import Deployment
from services.errors import InferenceError
from services.safe_markdown import code_span
from services.schemas import ModelInfo

MAIN_KEY = "emb_deployment"
OTHER_KEY = "emb_compare_with"
OTHER_CHOSEN_KEY = "emb_compare_chosen"
DEFAULT_FOR_KEY = "emb_compare_default_for"
NO_COMPARISON = "(none)"
EMBEDDING_TYPES = {"embeddings", "text_embeddings", "text-embeddings", "embedding"}


@dataclass(frozen=True)
class PickedDeployment:
    """A chosen deployment, what /info says about it, and whether it says it serves text embeddings."""

    deployment: Deployment
    info: ModelInfo | InferenceError

    @property
    def model_name(self) -> str | None:
        """The model name from /info, else the configured model."""
        return self.info.model_name if isinstance(self.info, ModelInfo) else self.deployment.model

    @property
    def model_type(self) -> str | None:
        """The /info model_type, or None when /info did not answer."""
        return self.info.model_type if isinstance(self.info, ModelInfo) else None

    @property
    def serves_embeddings(self) -> bool | None:
        """True or False from /info; None when unknown (no /info route, unreachable)."""
        kind = self.model_type
        return None if kind is None else kind.lower() in EMBEDDING_TYPES


def embedding_deployment_names(deployments: dict[str, Deployment]) -> list[str]:
    """Names of the deployments whose /info says `embeddings`, in configuration order."""
    names = []
    for name, deployment in deployments.items():
        info = state.get_info(deployment)
        if isinstance(info, ModelInfo) and info.model_type.lower() in EMBEDDING_TYPES:
            names.append(name)
    return names


def default_comparison(preferred: list[str], main: str) -> str:
    """With the first embeddings deployment as the main one, the second (when there is one); else no comparison."""
    return preferred[1] if len(preferred) > 1 and preferred[0] == main else NO_COMPARISON


def _user_chose_comparison() -> None:
    st.session_state[OTHER_CHOSEN_KEY] = True


def _describe(picked: PickedDeployment) -> None:
    if picked.serves_embeddings is False:
        st.warning(
            f"**{picked.deployment.name}** serves {code_span(str(picked.model_type))}, not embeddings: "
            "its `/embeddings` route will most likely refuse. Pick a deployment whose model type is `embeddings`.",
            icon=":material/warning:",
        )
    elif picked.serves_embeddings is None:
        st.caption(f"{picked.deployment.name}: model type unknown ({plain(picked.info)}); embeddings will be tried.")
    else:
        st.caption(f"Model {code_span(str(picked.model_name))} · type {code_span(str(picked.model_type))}")


def pick_deployments() -> tuple[PickedDeployment | None, PickedDeployment | None]:
    """Draw both pickers; returns the main deployment and the comparison one (None when not chosen)."""
    deployments = state.all_deployments()
    if not deployments:
        st.info("No deployment is configured. Add one in the sidebar, or start the app with the embedded endpoint.")
        return None, None
    names = list(deployments)
    preferred = embedding_deployment_names(deployments)
    if st.session_state.get(MAIN_KEY) not in names:
        selected = state.selected_deployment()
        fallback = selected.name if selected is not None else names[0]
        st.session_state[MAIN_KEY] = preferred[0] if preferred else fallback
    left, right = st.columns(2)
    with left:
        name = st.selectbox("Deployment", names, key=MAIN_KEY, help="Preselected: one whose /info says embeddings.")
        main = PickedDeployment(deployments[name], state.get_info(deployments[name]))
        _describe(main)
    with right:
        choices = [NO_COMPARISON] + [n for n in names if n != name]
        # The default follows the main deployment until the user picks a comparison; their pick stays while it can.
        following = not st.session_state.get(OTHER_CHOSEN_KEY) and st.session_state.get(DEFAULT_FOR_KEY) != name
        if following or st.session_state.get(OTHER_KEY) not in choices:
            st.session_state[OTHER_KEY] = default_comparison(preferred, name)
            st.session_state[DEFAULT_FOR_KEY] = name
        other_name = st.selectbox(
            "Compare with",
            choices,
            key=OTHER_KEY,
            on_change=_user_chose_comparison,
            help="Embed the same texts with a second deployment to compare.",
        )
        other = None
        if other_name != NO_COMPARISON:
            other = PickedDeployment(deployments[other_name], state.get_info(deployments[other_name]))
            _describe(other)
    return main, other
