"""Typed access to st.session_state, and the cached clients and deployment status shared by every page."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

import streamlit as st

from app import run_slots
from services import tracing
from services.client import InferenceClient
from services.config import DEFAULT_CONFIG, ConfigError, Deployment, load_settings
from services.errors import InferenceError
from services.netguard import AddressGuard, EndpointPolicyError, policy_from_env
from services.probe import DeploymentStatus, check_all
from services.schemas import ModelInfo
from services.store.refusals import Refusal, RefusalStore, RefusalStoreError, endpoint_key

# Status is fetched at most this often per deployment, not on every rerun.
STATUS_TTL_S = 300
# A status check waits this long at most: one dead endpoint must not hold up the sidebar.
STATUS_TIMEOUT_S = 5.0
_ADDED = "deployments_added"
_SELECTED = "deployment_selected"
_UNSUPPORTED = "unsupported_params"
log = logging.getLogger(__name__)
# fingerprint -> (monotonic time, status); process-wide like st.cache_resource.
_STATUS: dict[str, tuple[float, DeploymentStatus]] = {}
_STATUS_LOCK = threading.Lock()


def _fingerprint(deployment: Deployment) -> str:
    """A stable digest of everything that makes a client different (key and header values included, never shown)."""
    # model_dump_json masks the secrets, so they are added here; only the digest is ever kept.
    key = deployment.key.get_secret_value() if deployment.key else None
    secrets = {"key": key, "headers": deployment.header_values()}
    return hashlib.sha256((deployment.model_dump_json() + "\0" + json.dumps(secrets)).encode()).hexdigest()


@st.cache_resource(show_spinner=False)
def _load_configured(path: str, mtime: float, environ_digest: str) -> dict[str, Deployment] | ConfigError:
    try:
        return dict(load_settings().deployments)
    except ConfigError as err:
        return err


def _config_path() -> Path:
    return Path(os.environ.get("PLAYGROUND_CONFIG") or DEFAULT_CONFIG)


def configured_deployments() -> dict[str, Deployment] | ConfigError:
    """Deployments from services.config, read again only when the file or the environment changes."""
    path = _config_path()
    mtime = path.stat().st_mtime if path.exists() else 0.0
    environ = sorted((k, v) for k, v in os.environ.items() if k.startswith(("PLAYGROUND_", "AZUREAI_", "LOCAL_")))
    digest = hashlib.sha256(repr(environ).encode()).hexdigest()
    return _load_configured(str(path), mtime, digest)


def config_error() -> ConfigError | None:
    """The configuration problem, if the file or environment is invalid (the app still runs with added ones)."""
    loaded = configured_deployments()
    return loaded if isinstance(loaded, ConfigError) else None


def added_deployments() -> dict[str, Deployment]:
    """Deployments added with the sidebar form, for this browser session only."""
    return st.session_state.setdefault(_ADDED, {})


def add_deployment(deployment: Deployment) -> None:
    """Keep a deployment for this session and select it."""
    added_deployments()[deployment.name] = deployment
    st.session_state[_SELECTED] = deployment.name


def all_deployments() -> dict[str, Deployment]:
    """Configured (services.config) plus added in this session; a session one with the same name wins."""
    loaded = configured_deployments()
    configured = {} if isinstance(loaded, ConfigError) else loaded
    return {**configured, **added_deployments()}


def selected_name_key() -> str:
    """The session_state key of the sidebar picker (its widget key)."""
    return _SELECTED


def selected_deployment() -> Deployment | None:
    """The sidebar picker's choice; the first deployment when nothing (or something gone) is selected."""
    deployments = all_deployments()
    name = st.session_state.get(_SELECTED)
    if name in deployments:
        return deployments[name]
    return next(iter(deployments.values()), None)


def endpoint_policy_problem() -> str | None:
    """Why PLAYGROUND_USER_ENDPOINTS cannot be used (a misspelt value), or None."""
    try:
        policy_from_env(os.environ, None)
    except EndpointPolicyError as err:
        return str(err)
    return None


def endpoint_guard() -> AddressGuard:
    """The address guard for endpoints added in the page: PLAYGROUND_USER_ENDPOINTS, else where the app listens."""
    try:
        return AddressGuard(policy_from_env(os.environ, st.get_option("server.address")))
    except EndpointPolicyError as err:
        # A misspelt policy must not open the server up: nothing added in the page is reached until it is fixed.
        log.warning("%s Endpoints added in the page are refused until it is fixed.", err)
        return AddressGuard("off")


def guard_for(deployment: Deployment, guarded: bool | None = None) -> AddressGuard | None:
    """The address guard a client for `deployment` must connect through: endpoint_guard() when it was added in the
    page (or `guarded=True`), None for a configured one (trusted as it is)."""
    if guarded is None:
        guarded = added_deployments().get(deployment.name) == deployment
    return endpoint_guard() if guarded else None


@st.cache_resource(show_spinner=False, max_entries=64)
def _client(name: str, fingerprint: str, _deployment: Deployment, _guard: AddressGuard | None) -> InferenceClient:
    return InferenceClient(_deployment, guard=_guard)


def get_client(deployment: Deployment, *, guarded: bool | None = None) -> InferenceClient:
    """One pooled client per deployment (per distinct configuration), shared by all sessions.

    A deployment added in this session (or `guarded=True`) gets a client whose every connection is judged by
    endpoint_guard(); configured deployments are trusted.
    """
    guard = guard_for(deployment, guarded)
    policy = guard.policy if guard is not None else "trusted"
    return _client(deployment.name, _fingerprint(deployment) + policy, deployment, guard)


def _cached_status(deployments: list[Deployment]) -> list[DeploymentStatus]:
    """The status of each deployment, checked (all at once, by services.probe) when missing or older than
    STATUS_TTL_S."""
    now = time.monotonic()
    keys = [_fingerprint(d) for d in deployments]
    with _STATUS_LOCK:
        missing = {
            k: d for k, d in zip(keys, deployments, strict=True) if now - _STATUS.get(k, (-1e9,))[0] > STATUS_TTL_S
        }
    if missing:
        # Guards are decided here, in the page's thread (they read the session); the checks run in worker threads.
        guards = {d.name: guard_for(d, None) for d in missing.values()}

        def client_for(probe: Deployment) -> InferenceClient:
            return InferenceClient(probe, guard=guards[probe.name])

        # One trace per round of status checks, not one per deployment: they are one thing the app did.
        with run_slots.released(), tracing.action("deployment status"):
            checked = check_all(missing.values(), timeout_s=STATUS_TIMEOUT_S, client_factory=client_for)
        with _STATUS_LOCK:
            for key, deployment in missing.items():
                _STATUS[key] = (time.monotonic(), checked[deployment.name])
    with _STATUS_LOCK:
        return [_STATUS[k][1] for k in keys]


def get_info(deployment: Deployment) -> ModelInfo | InferenceError:
    """The deployment's /info answer, or the error that says why there is none; cached for a few minutes."""
    status = _cached_status([deployment])[0]
    if status.info is not None:
        return status.info
    if status.info_error is not None:
        return status.info_error
    return InferenceError(status.error or "no answer from /info", deployment=deployment.name)


def deployment_status(deployment: Deployment) -> DeploymentStatus:
    """What a deployment is and whether it answers, from the cached check."""
    return deployment_statuses([deployment])[deployment.name]


def deployment_statuses(deployments: list[Deployment]) -> dict[str, DeploymentStatus]:
    """Status of each deployment by name; the uncached ones are checked at the same time."""
    return {d.name: status for d, status in zip(deployments, _cached_status(deployments), strict=True)}


def refresh_status() -> None:
    """Forget cached /info answers so the sidebar checks every deployment again."""
    with _STATUS_LOCK:
        _STATUS.clear()


def _refusal_owner(deployment_name: str) -> tuple[Deployment | None, tuple[str, str, str]]:
    """The deployment of that name (None when it is gone) and the key its refusals are kept under in the session."""
    deployment = all_deployments().get(deployment_name)
    if deployment is None:
        return None, (deployment_name, "", "")
    return deployment, (deployment.name, endpoint_key(deployment.endpoint), deployment.model or "")


def _session_refusals() -> dict[tuple[str, str, str], dict[str, str]]:
    # Only what the store could not take (it failed, or the deployment is no longer configured) stays here.
    return st.session_state.setdefault(_UNSUPPORTED, {})


def unsupported_params(deployment_name: str) -> dict[str, str]:
    """Parameters this deployment rejected (from 422s and probes): param -> reason.

    Read from the refusal store (services.store.refusals), so they outlive a reload and are shared by every page and
    session; keyed by the deployment's name and endpoint, so one name on two endpoints does not mix them up.
    """
    deployment, key = _refusal_owner(deployment_name)
    found = dict(_session_refusals().get(key, {}))
    if deployment is not None:
        try:
            stored = RefusalStore().refusals(deployment.name, deployment.endpoint, model=deployment.model)
        except RefusalStoreError as err:
            log.warning("learned refusals of %s cannot be read: %s", deployment.name, err)
        else:
            found.update({param: refusal.reason for param, refusal in stored.items()})
    return found


def mark_unsupported(deployment_name: str, param: str, reason: str) -> None:
    """Remember that a deployment does not support `param`; controls show it and requests leave it out."""
    deployment, key = _refusal_owner(deployment_name)
    if deployment is not None:
        try:
            RefusalStore().record(deployment.name, deployment.endpoint, param, reason, model=deployment.model)
            return
        except RefusalStoreError as err:
            # Still honoured for this session: the next request must not be refused again.
            log.warning("refusal of %s by %s kept for this session only: %s", param, deployment.name, err)
    _session_refusals().setdefault(key, {})[param] = reason


def learned_refusals() -> dict[str, list[Refusal]]:
    """Every stored refusal of a deployment configured now (at its current endpoint), by deployment name."""
    deployments = all_deployments()
    try:
        stored = RefusalStore().all()
    except RefusalStoreError as err:
        log.warning("learned refusals cannot be read: %s", err)
        stored = []
    found: dict[str, list[Refusal]] = {}
    for refusal in stored:
        deployment = deployments.get(refusal.deployment)
        if deployment is None or _refusal_owner(deployment.name)[1] != (
            refusal.deployment,
            refusal.endpoint,
            refusal.model,
        ):
            continue
        found.setdefault(refusal.deployment, []).append(refusal)
    return found


def forget_refusals(deployment_name: str, param: str | None = None) -> None:
    """Forget what was learned about a deployment (one parameter, or all of them): the next request tries again."""
    deployment, key = _refusal_owner(deployment_name)
    session = _session_refusals().get(key, {})
    if param is None:
        session.clear()
    else:
        session.pop(param, None)
    if deployment is not None:
        RefusalStore().forget(deployment.name, deployment.endpoint, model=deployment.model, param=param)


# Widget values that must outlive a visit to another page (Streamlit forgets state of widgets not drawn).
PERSISTENT_PREFIXES = ("p_", "chat_system_prompt", "chat_preset_pick")


# Inputs of the embeddings and images pages, by exact key: a prefix would also catch their buttons, whose state
# cannot be set. Column pickers and uploads are left out: their options come from a file the browser re-sends.
PERSISTENT_KEYS = frozenset(
    {
        "emb_deployment",
        "emb_compare_with",
        "emb_source",
        "emb_paste",
        "emb_input_type",
        "emb_dimensions",
        "emb_encoding",
        "emb_batch_size",
        "emb_concurrency",
        "emb_drop_long",
        "emb_tab",
        "emb_method",
        "emb_dims",
        "emb_colour",
        "emb_clusters",
        "emb_query",
        "emb_top_k",
        "emb_heatmap_items",
        "emb_cmp_k",
        "images_deployment",
        "images_use_samples",
        "images_query",
    }
)


def keep_widget_state(prefixes: tuple[str, ...] = PERSISTENT_PREFIXES) -> None:
    """Re-assign widget values so they survive runs where their page is not shown (call once per run)."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and (key in PERSISTENT_KEYS or key.startswith(prefixes)):
            st.session_state[key] = st.session_state[key]
