"""The Generate tab's inputs: prompt, up to four deployments, n, and each deployment's own parameters.

A deployment is offered the parameters its model family takes (services.image_models), less those it refused before
(a 422/400 naming the parameter, remembered as `images.<param>` in the refusal store so chat's own refusals stay
apart). Widget keys start with `p_` so the values survive a visit to another page (app.state.keep_widget_state).
"""

from __future__ import annotations

import zlib
from typing import Any

import streamlit as st

from app import state
from app.components.error_card import plain
from app.components.image_gen_run import MAX_DEPLOYMENTS
from app.components.image_gen_support import Support
from services.config import Deployment
from services.image_models import ImageModelFamily, family_of

PROMPT_KEY = "p_imggen_prompt"
PICK_KEY = "p_imggen_deployments"
N_KEY = "p_imggen_n"
DEFAULT = "(default)"
REFUSAL_PREFIX = "images."
_CHOICES = {
    "quality": "qualities",
    "style": "styles",
    "background": "backgrounds",
    "output_format": "output_formats",
    "response_format": "response_formats",
}
_TEXT_PARAMS = ("seed", "negative_prompt")


def param_key(deployment_name: str, param: str) -> str:
    """The widget key of one deployment's parameter (names may hold any character: a checksum keeps keys plain)."""
    return f"p_imggen_{zlib.crc32(deployment_name.encode()):08x}_{param}"


def refused_params(deployment_name: str) -> dict[str, str]:
    """Image parameters this deployment refused before: param -> reason."""
    found = state.unsupported_params(deployment_name)
    return {key[len(REFUSAL_PREFIX) :]: reason for key, reason in found.items() if key.startswith(REFUSAL_PREFIX)}


def mark_refused(deployment_name: str, param: str) -> None:
    """Remember that the deployment does not take `param` for image generation: its control goes, it is not sent."""
    state.mark_unsupported(deployment_name, REFUSAL_PREFIX + param, "refused by the deployment (image generation)")


def switch_off(deployment: Deployment, param: str) -> None:
    """Back to the default (not sent) for a value the deployment refused; the parameter itself stays offered. A size
    the contract requires has no default: it stays for the user to change."""
    key = param_key(deployment.name, param)
    if param == "n":
        st.session_state[N_KEY] = 1
    elif param in _TEXT_PARAMS:
        st.session_state[key] = ""
    elif not (param == "size" and family_of(deployment).size_required):
        st.session_state[key] = DEFAULT


def _default(family: ImageModelFamily, param: str) -> str:
    """The control's first value: b64_json for response_format, since a `url` answer is fetched only from the
    endpoint's own host and Azure OpenAI's links point at blob storage elsewhere; a required size's first size."""
    options = _options(family, param)
    if param == "response_format" and "b64_json" in options:
        return "b64_json"
    return options[0]


def _options(family: ImageModelFamily, param: str) -> list[str]:
    if param == "size":
        return ([] if family.size_required else [DEFAULT]) + list(family.sizes)
    return [DEFAULT, *getattr(family, _CHOICES[param])]


def params_for(deployment: Deployment, n: int) -> dict[str, Any]:
    """The request parameters for one deployment from the current inputs (only what is set is sent)."""
    family = family_of(deployment)
    refused = refused_params(deployment.name)
    params: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for param in family.params:
        if param in refused:
            continue
        value = st.session_state.get(param_key(deployment.name, param))
        if param in _TEXT_PARAMS:
            text = str(value or "").strip()
            if param == "seed" and text.lstrip("-").isdigit():
                params["seed"] = int(text)
            elif param == "negative_prompt" and text:
                # Not an OpenAI parameter: sent as a model extra (pass-through on the Azure inference contract).
                extras["negative_prompt"] = text
            continue
        if value is None:
            value = _default(family, param)
        if value not in (None, DEFAULT) and value in _options(family, param):
            params[param] = value
    count = min(n, family.max_n)
    if count > 1 and "n" not in refused:
        params["n"] = count
    if extras:
        params["model_extras"] = extras
    return params


def _render_param(deployment: Deployment, family: ImageModelFamily, param: str) -> None:
    key = param_key(deployment.name, param)
    if param == "seed":
        st.text_input("seed", key=key, placeholder="random", help="A whole number repeats a drawing, if the model can.")
        raw = str(st.session_state.get(key) or "").strip()
        if raw and not raw.lstrip("-").isdigit():
            st.warning(f"The seed must be a whole number; {plain(raw)} is not sent.")
        return
    if param == "negative_prompt":
        st.text_input("negative prompt", key=key, help="What the image should not show (sent as a model extra).")
        return
    options = _options(family, param)
    if not options or options == [DEFAULT]:
        return
    if st.session_state.get(key) not in options:
        st.session_state[key] = _default(family, param)
    label = param.replace("_", " ")
    help_text = "Required by the Azure AI Model Inference API." if param == "size" and family.size_required else None
    st.selectbox(label, options, key=key, help=help_text)


def render_params(deployment: Deployment, n: int) -> dict[str, Any]:
    """One deployment's parameter controls in an expander; returns what will be sent."""
    family = family_of(deployment)
    refused = refused_params(deployment.name)
    with st.expander(f"Parameters · {family.label}", expanded=False):
        for param in family.params:
            if param not in refused:
                _render_param(deployment, family, param)
        if family.max_n == 1 and n > 1:
            st.caption(f"{family.label} draws one image a request: n is not sent.")
        for param, reason in refused.items():
            st.caption(f"`{param}` is not sent: {plain(reason)}.")
            if st.button(f"Offer {param} again", key=f"imggen_forget_{param_key(deployment.name, param)}"):
                state.forget_refusals(deployment.name, REFUSAL_PREFIX + param)
                st.rerun()
    return params_for(deployment, n)


def pick_deployments(deployments: dict[str, Deployment], supports: dict[str, Support]) -> list[Deployment]:
    """The deployments to draw with (at most four), preselecting those known or likely to generate images."""
    names = list(deployments)
    chosen = st.session_state.get(PICK_KEY)
    if chosen is None or not all(name in names for name in chosen):
        wanted = [name for name in names if supports[name].verdict in ("yes", "likely")]
        st.session_state[PICK_KEY] = wanted[:MAX_DEPLOYMENTS]

    def label(name: str) -> str:
        verdict = supports[name].verdict
        return name if verdict in ("yes", "likely", "unknown") else f"{name} (no image generation)"

    picked = st.multiselect(
        "Deployments",
        names,
        key=PICK_KEY,
        max_selections=MAX_DEPLOYMENTS,
        format_func=label,
        help="Up to four: the same prompt is drawn by each at the same time, side by side.",
    )
    return [deployments[name] for name in picked]


def render_prompt_and_n() -> tuple[str, int]:
    """The prompt box and the number of images per deployment."""
    prompt = st.text_area("Prompt", key=PROMPT_KEY, placeholder="A lighthouse on a cliff at dusk, watercolour")
    n = st.number_input("Images per deployment (n)", min_value=1, max_value=10, value=1, step=1, key=N_KEY)
    return str(prompt or ""), int(n)
