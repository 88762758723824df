""" "View code": the conversation and parameters as runnable Python (two SDKs) and curl; secrets stay env vars."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services import codegen
from services.config import Deployment


def render_code_view(deployment: Deployment, messages: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """Tabs with the same request as azure-ai-inference Python, openai Python (where the kind allows) and curl."""
    if not messages:
        messages = [{"role": "user", "content": "Hello!"}]
    snippets = [("azure-ai-inference", codegen.python_azure_inference(deployment, messages, params), "python")]
    openai_code = codegen.python_openai(deployment, messages, params)
    if openai_code is not None:
        snippets.append(("openai", openai_code, "python"))
    snippets.append(("curl", codegen.curl(deployment, messages, params), "bash"))
    caption = f"The key is read from the environment variable `{codegen.key_env_var(deployment)}`."
    headers = codegen.header_env_vars(deployment)
    if headers:
        # Header values are secrets like the key: the snippets name a variable, never the value.
        named = ", ".join(f"`{header}` from `{env}`" for header, env in headers.items())
        caption += f" Extra headers are read from the environment too: {named}."
    st.caption(caption)
    for tab, (_, code, language) in zip(st.tabs([name for name, _, _ in snippets]), snippets, strict=True):
        with tab:
            st.code(code, language=language)
