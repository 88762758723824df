"""Models: what every deployment is, how it is reached, and what it can do (probed, not assumed)."""

from __future__ import annotations

import streamlit as st

from app.components import presenter
from app.components.model_cards import deployment_statuses, render_statuses
from app.components.probe_table import render_capability_map
from app.components.refusal_list import render_learned_refusals


def render() -> None:
    """The models page."""
    st.title("Models")
    if presenter.render_backstage_notice("Models"):
        return
    st.caption("Each deployment's `/info` (or `/models` list), connection facts, and a map of what it supports.")
    refresh = st.button("Check again", key="models_refresh")
    render_statuses(deployment_statuses(refresh=refresh))
    render_capability_map()
    render_learned_refusals()
