"""Placeholder: the images page is being built (see the open issue)."""

import streamlit as st


def render() -> None:
    st.title("Images")
    st.info("This page is not built yet.")
