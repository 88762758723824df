"""What each kind of image model takes, so a page offers only parameters and values a deployment can use.

The family is read from the deployment's model (or name): OpenAI's gpt-image and dall-e models publish their
sizes, qualities and options; a deployment on the Azure AI Model Inference contract takes the contract's options
(size required); anything else (FLUX, Stable Diffusion behind an OpenAI-compatible server) gets the common ones.
A refusal the deployment itself sent (a 422/400 naming a parameter) always wins over this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.config import Deployment


@dataclass(frozen=True)
class ImageModelFamily:
    """The parameters one family of image models takes and the values it documents (empty tuple: free text)."""

    name: str
    label: str
    params: tuple[str, ...]
    sizes: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    response_formats: tuple[str, ...] = ("url", "b64_json")
    max_n: int = 4
    size_required: bool = False


GPT_IMAGE = ImageModelFamily(
    "gpt-image",
    "gpt-image-1",
    ("size", "quality", "background", "output_format"),
    sizes=("auto", "1024x1024", "1536x1024", "1024x1536"),
    qualities=("auto", "low", "medium", "high"),
    backgrounds=("auto", "transparent", "opaque"),
    output_formats=("png", "jpeg", "webp"),
    response_formats=(),  # always b64_json; the parameter is refused
    max_n=10,
)
DALL_E_3 = ImageModelFamily(
    "dall-e-3",
    "dall-e-3",
    ("size", "quality", "style", "response_format"),
    sizes=("1024x1024", "1792x1024", "1024x1792"),
    qualities=("standard", "hd"),
    styles=("vivid", "natural"),
    max_n=1,
)
DALL_E_2 = ImageModelFamily(
    "dall-e-2", "dall-e-2", ("size", "response_format"), sizes=("256x256", "512x512", "1024x1024"), max_n=10
)
AZURE_CONTRACT = ImageModelFamily(
    "azure-inference",
    "Azure AI Model Inference image model",
    ("size", "quality", "response_format", "seed", "negative_prompt"),
    sizes=("1024x1024", "1024x768", "768x1024", "512x512"),
    qualities=("standard", "hd"),
    size_required=True,
)
GENERIC = ImageModelFamily(
    "generic",
    "image model",
    ("size", "quality", "style", "response_format", "seed", "negative_prompt"),
    sizes=("1024x1024", "1024x768", "768x1024", "512x512", "256x256"),
    qualities=("standard", "hd", "low", "medium", "high"),
    styles=("vivid", "natural"),
)

_HINTS = (
    (re.compile(r"gpt-?image"), GPT_IMAGE),
    (re.compile(r"dall-?e-?3"), DALL_E_3),
    (re.compile(r"dall-?e-?2"), DALL_E_2),
)
# Names that say a deployment draws images (used to preselect it before anything is known for sure).
IMAGE_MODEL_NAMES = re.compile(r"gpt-?image|dall-?e|flux|stable-?diffusion|sdxl|sd-?3|imagen|image-?gen|midjourney")


def family_of(deployment: Deployment) -> ImageModelFamily:
    """The family by model (or deployment) name, else by the kind's dialect."""
    text = f"{deployment.model or ''} {deployment.name}".lower()
    for pattern, family in _HINTS:
        if pattern.search(text):
            return family
    return AZURE_CONTRACT if deployment.api == "azure-inference" else GENERIC


def named_like_an_image_model(deployment: Deployment) -> bool:
    """Whether the model or deployment name is one of the known image model names."""
    return bool(IMAGE_MODEL_NAMES.search(f"{deployment.model or ''} {deployment.name}".lower()))
