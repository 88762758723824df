"""The sidebar every page shares: the deployment picker, each deployment's status, and "Add deployment"."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import state
from app.auth import render_account
from app.components import presenter
from app.components.error_card import describe_error, plain
from services import tracing
from services.config import ApiKind, Deployment
from services.errors import InferenceError, ModalityNotSupportedError
from services.netguard import check_endpoint_url

API_KINDS: tuple[ApiKind, ...] = ("azure-inference", "azure-openai", "openai", "github")
_FORM_FIELDS = ("add_name", "add_endpoint", "add_key", "add_api", "add_model")
_ADD_ERROR = "add_deployment_error"
_ADD_DONE = "add_deployment_done"


def check_deployment(deployment: Deployment) -> str | None:
    """Try a new deployment with /info, or a one-token chat where /info is not served; None when it answers."""
    with tracing.action("add deployment"):
        return _check(deployment)


def _check(deployment: Deployment) -> str | None:
    client = state.get_client(deployment, guarded=True)
    try:
        client.info()
        return None
    except ModalityNotSupportedError:
        pass
    except InferenceError as err:
        return "{}. {}".format(*describe_error(err))
    try:
        client.chat([{"role": "user", "content": "Hi"}], max_tokens=1)
    except InferenceError as err:
        return "{}. {}".format(*describe_error(err))
    return None


def _add_deployment() -> None:
    """Form callback: validate, check the endpoint, keep it for the session; the key field is emptied either way."""
    values = {name: st.session_state.get(name) for name in _FORM_FIELDS}
    st.session_state[_ADD_ERROR] = None
    name = (values["add_name"] or "").strip()
    try:
        if not name:
            raise ValueError("Give the deployment a name.")
        if name in state.all_deployments():
            raise ValueError(f"A deployment called {name!r} already exists.")
        deployment = Deployment(
            name=name,
            endpoint=(values["add_endpoint"] or "").strip(),
            key=values["add_key"] or None,
            api=values["add_api"] or "azure-inference",
            model=(values["add_model"] or "").strip() or None,
            key_source="session" if values["add_key"] else "none",
        )
        # Credentials in the URL and (under public-only) the host's addresses, before anything is sent.
        check_endpoint_url(deployment.endpoint, state.endpoint_guard())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        st.session_state[_ADD_ERROR] = f"{field}: {first['msg']}"
        return
    except ValueError as exc:
        st.session_state[_ADD_ERROR] = str(exc)
        return
    problem = check_deployment(deployment)
    if problem:
        st.session_state[_ADD_ERROR] = problem
        return
    state.add_deployment(deployment)
    # The key is never shown again: the password field is emptied once the deployment is kept.
    for field in _FORM_FIELDS:
        if field != "add_api":
            st.session_state[field] = ""
    st.session_state[_ADD_DONE] = name


def _render_add_form() -> None:
    with st.expander("Add deployment", expanded=bool(st.session_state.get(_ADD_ERROR))):
        if state.endpoint_guard().policy == "off":
            problem = state.endpoint_policy_problem()
            st.caption(
                f"{problem} Adding endpoints in the page is switched off until it is fixed."
                if problem
                else "Adding endpoints in the page is switched off on this server (PLAYGROUND_USER_ENDPOINTS=off)."
            )
            return
        with st.form("add_deployment_form", clear_on_submit=False, border=False):
            st.text_input("Name", key="add_name", placeholder="my-model")
            st.text_input("Endpoint", key="add_endpoint", placeholder="https://<name>.<region>.models.ai.azure.com")
            st.text_input("Key", key="add_key", type="password", help="Kept for this browser session only.")
            st.selectbox("API kind", API_KINDS, key="add_api")
            st.text_input("Model (optional)", key="add_model", help="Sent as `model` for multi-model endpoints.")
            st.form_submit_button("Check and add", on_click=_add_deployment)
        if st.session_state.get(_ADD_ERROR):
            st.error(st.session_state[_ADD_ERROR])
        elif st.session_state.get(_ADD_DONE):
            st.success(f"Added {st.session_state[_ADD_DONE]} for this session.")


def _status_line(deployment: Deployment, status: state.DeploymentStatus) -> str:
    if not status.usable:
        return f":red[●] **{deployment.name}**: unreachable  \n:small[{plain(status.detail)}]"
    model = plain(status.model_name) if status.model_name else "model not reported"
    latency = f"{status.latency_s * 1000:.0f} ms" if status.latency_s is not None else ""
    return f":green[●] **{deployment.name}**: {model} · {latency}"


def render_sidebar() -> Deployment | None:
    """Draw the sidebar and return the selected deployment (None when nothing is configured).

    In presenter mode nothing is drawn (so nothing of it reaches the page); the picker's choice is kept."""
    if presenter.is_on():
        key = state.selected_name_key()
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]  # an undrawn widget's value would be forgotten
        return state.selected_deployment()
    with st.sidebar:
        render_account()
        error = state.config_error()
        if error is not None:
            st.error(f"Configuration problem: {error}")
        deployments = state.all_deployments()
        names = list(deployments)
        if names:
            key = state.selected_name_key()
            if st.session_state.get(key) not in names:
                st.session_state[key] = names[0]
            st.selectbox("Deployment", names, key=key)
        else:
            st.warning("No deployment is configured. Add one below, or set PLAYGROUND_CONFIG (see the README).")
        with st.expander("Status", expanded=True):
            statuses = state.deployment_statuses(list(deployments.values()))
            for deployment in deployments.values():
                st.markdown(_status_line(deployment, statuses[deployment.name]))
            st.button("Check again", key="status_refresh", on_click=state.refresh_status, type="tertiary")
        _render_add_form()
        presenter.render_switch()
    return state.selected_deployment()
