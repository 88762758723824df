"""Placeholder: the models page is being built (see the open issue)."""

import streamlit as st


def render() -> None:
    st.title("Models")
    st.info("This page is not built yet.")
