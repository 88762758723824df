"""Typed results of image generation (`/images/generations`): the images with their bytes, and the call's facts."""

from __future__ import annotations

import io
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from services.schemas import Metrics, Usage

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}


class GeneratedImage(BaseModel):
    """One generated image. `data` holds its bytes (decoded from `b64_json`, or fetched from its `url`); an image whose
    url has not been fetched yet has empty `data`. `url` is never written to a trace (it may carry a signature)."""

    model_config = ConfigDict(frozen=True)

    index: int = 0
    data: bytes = Field(default=b"", repr=False)
    format: str | None = None  # png, jpeg, webp, gif (from the bytes, not from what the endpoint claimed)
    width: int | None = None
    height: int | None = None
    source: Literal["b64_json", "url"] = "b64_json"
    url: str | None = Field(default=None, repr=False)
    revised_prompt: str | None = None
    content_filter_results: dict[str, Any] | None = None

    @property
    def fetched(self) -> bool:
        """Whether the bytes are here (always for b64_json; for a url once it was fetched)."""
        return bool(self.data)

    @property
    def size(self) -> str | None:
        """`WIDTHxHEIGHT` as the API writes sizes, when the bytes are here."""
        return f"{self.width}x{self.height}" if self.width and self.height else None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.format or "", "application/octet-stream")

    def png(self) -> bytes:
        """The image as PNG bytes (as they are when it is one already; converted otherwise), for downloads."""
        if self.format == "png":
            return self.data
        with Image.open(io.BytesIO(self.data)) as image:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
        return buffer.getvalue()


class ImageGenerationResult(BaseModel):
    """What one `/images/generations` call gave: the images in answer order, the model that answered, usage where the
    endpoint reported it (gpt-image-1: input/output tokens, as prompt/completion tokens) and the call's timings."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    images: list[GeneratedImage] = Field(default_factory=list)
    model: str | None = None
    response_id: str | None = None
    created: int | None = None
    usage: Usage | None = None
    # What the endpoint echoed of the request (gpt-image-1 answers with size, quality, background, output_format).
    echoed: dict[str, Any] = Field(default_factory=dict)
    prompt_filter_results: dict[str, Any] | None = None
    metrics: Metrics

    @property
    def revised_prompts(self) -> list[str]:
        """Every revised prompt the endpoint returned (dall-e-3 rewrites prompts), in image order."""
        return [image.revised_prompt for image in self.images if image.revised_prompt]
