"""Which deployments generate images, from what is known: the probe, this session's answers, /info and names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app import state
from app.components.image_gen_run import generated_here, learned_without_generation
from app.components.probe_store import stored_report
from services.config import Deployment
from services.image_models import named_like_an_image_model
from services.probe import Status
from services.schemas import ModelInfo

Verdict = Literal["yes", "likely", "no", "unknown"]
# /info model types of image generators (the contract's underscore form and the live hyphen form alike).
_IMAGE_TYPES = {"image_generation", "text_to_image"}


@dataclass(frozen=True)
class Support:
    """Whether a deployment generates images, and how that is known (in words)."""

    verdict: Verdict
    reason: str


def support_of(deployment: Deployment) -> Support:
    """The best knowledge about one deployment, strongest source first."""
    name = deployment.name
    if name in generated_here():
        return Support("yes", "it drew images in this session")
    learned = learned_without_generation().get(name)
    if learned is not None:
        return Support("no", f"it answered: {learned}")
    report = stored_report(name)
    if report is not None and report.status("image_generation") is not Status.UNKNOWN:
        result = report.results["image_generation"]
        if result.status is Status.SUPPORTED:
            return Support("yes", "the capability probe found /images/generations")
        return Support("no", f"the capability probe: {result.detail}")
    if deployment.api == "azure-inference":
        info = state.get_info(deployment)
        if isinstance(info, ModelInfo):
            kind = info.model_type.replace("-", "_").lower()
            if kind in _IMAGE_TYPES:
                return Support("yes", f"its /info says it is a {info.model_type} model")
            return Support("no", f"its /info says it is a {info.model_type} model ({info.model_name})")
    if named_like_an_image_model(deployment):
        return Support("likely", "its name is an image model's")
    return Support("unknown", "not probed yet")
