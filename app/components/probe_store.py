"""Probe reports kept for the session, and fed to the store of unsupported parameters the chat pages read."""

from __future__ import annotations

import streamlit as st

from app import state
from services.capabilities import unsupported_params
from services.probe import ProbeReport

REPORTS_KEY = "probe_reports"


def stored_reports() -> dict[str, ProbeReport]:
    """Every deployment's latest probe report in this session, by deployment name."""
    return st.session_state.setdefault(REPORTS_KEY, {})


def stored_report(deployment_name: str) -> ProbeReport | None:
    """The latest probe report of one deployment, if it was probed in this session."""
    return stored_reports().get(deployment_name)


def store_reports(reports: dict[str, ProbeReport]) -> None:
    """Keep the reports and mark every parameter they found unsupported, as a 422 would."""
    stored_reports().update(reports)
    for name, report in reports.items():
        for param, reason in unsupported_params(report).items():
            state.mark_unsupported(name, param, f"probe: {reason}")
