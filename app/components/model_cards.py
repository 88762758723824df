"""The models page's overview: what each deployment is, how it is reached, and whether it answers."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import state
from app.components.error_card import plain
from services.probe import DeploymentStatus


def deployment_statuses(*, refresh: bool = False) -> dict[str, DeploymentStatus]:
    """Every deployment's status from the app's one status check (app/state.py, shared with the sidebar and cached
    for a few minutes); checked again, all at once, when `refresh` is set."""
    deployments = state.all_deployments()
    if refresh:
        state.refresh_status()
    with st.spinner(f"Asking {len(deployments)} deployment(s) what they are…"):
        return state.deployment_statuses(list(deployments.values()))


def _identity(status: DeploymentStatus) -> tuple[str, str, str]:
    if status.info is not None:
        return status.info.model_name, status.info.model_type, status.info.model_provider_name
    if status.models is not None:
        listed = ", ".join(status.models[:5]) + (f" (+{len(status.models) - 5} more)" if len(status.models) > 5 else "")
        return listed or "(no models listed)", "(from /models)", "–"
    return "–", "–", "–"


def status_table(statuses: dict[str, DeploymentStatus]) -> pd.DataFrame:
    """One row per deployment: identity from /info (or /models), endpoint kind, api-version, auth, reachability."""
    rows = []
    for status in statuses.values():
        model, kind_of_model, provider = _identity(status)
        rows.append(
            {
                "deployment": status.name,
                "model": model,
                "type": kind_of_model,
                "provider": provider,
                "endpoint kind": status.kind,
                "api-version": status.api_version or "(none)",
                "auth": status.auth,
                "reachable": "yes" if status.reachable else "no",
                "round trip (ms)": None if status.round_trip_s is None else round(status.round_trip_s * 1000, 1),
                "endpoint": status.endpoint,
            }
        )
    return pd.DataFrame(rows)


def render_statuses(statuses: dict[str, DeploymentStatus]) -> None:
    """The overview table, then each deployment's problem in words."""
    if not statuses:
        st.info("No deployment is configured. Add one in the sidebar or start the embedded endpoint.")
        return
    st.dataframe(status_table(statuses), hide_index=True, width="stretch", key="models_overview")
    checked = max(s.checked_at for s in statuses.values())
    st.caption(f"Checked at {checked.astimezone().strftime('%H:%M:%S')}. Keys are never shown.")
    for status in statuses.values():
        if status.error:
            level = st.warning if status.reachable else st.error
            # The error text already names the deployment.
            level(plain(status.error))
