"""Placeholder: the compare page is being built (see the open issue)."""

import streamlit as st


def render() -> None:
    st.title("Compare")
    st.info("This page is not built yet.")
