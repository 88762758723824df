"""Learned refusals on the models page: what each deployment rejected, when and why, and Forget to try it again."""

from __future__ import annotations

import streamlit as st

from app import state
from services.store.refusals import RefusalStoreError

_ERROR = "models_forget_error"


def _forget(deployment_name: str, param: str | None) -> None:
    try:
        state.forget_refusals(deployment_name, param)
    except RefusalStoreError as err:
        st.session_state[_ERROR] = f"Nothing was forgotten: {err}"
    else:
        st.session_state[_ERROR] = None


def render_learned_refusals() -> None:
    """Per deployment, every stored refusal (parameter, reason, when) with a Forget button for it and for all."""
    st.subheader("Learned refusals")
    st.caption(
        "Parameters a deployment rejected (a 422 on the chat or compare page, or a probe). They are kept across "
        "reloads and restarts, and the chat and compare pages leave them out of requests. Forget one to try it again."
    )
    if st.session_state.get(_ERROR):
        st.error(st.session_state[_ERROR])
    learned = state.learned_refusals()
    if not learned:
        st.caption("Nothing learned yet.")
        return
    for name, refusals in learned.items():
        with st.container(border=True, key=f"models_refusals_{name}"):
            head = st.container(horizontal=True, vertical_alignment="center")
            head.markdown(f"**{name}**")
            head.button("Forget all", key=f"models_forget_{name}", on_click=_forget, args=(name, None))
            for refusal in refusals:
                when = refusal.learned.astimezone().strftime("%Y-%m-%d %H:%M")
                row = st.container(horizontal=True, vertical_alignment="center")
                row.markdown(f"`{refusal.param}`: {refusal.reason} (learned {when})")
                row.button(
                    "Forget",
                    key=f"models_forget_{name}_{refusal.param}",
                    on_click=_forget,
                    args=(name, refusal.param),
                    type="tertiary",
                )
