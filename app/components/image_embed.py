"""Sends the page's images to `/images/embeddings` in batches and keeps the result (or the error) in the session."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app import run_slots, state
from app.components.image_inputs import ImageItem
from app.components.probe_store import stored_report
from services import tracing
from services.config import Deployment
from services.errors import UnsupportedParameterError
from services.probe import CapabilityResult, Status, probe_capability
from services.schemas import ImageInput

RESULT_KEY = "images_result"
ERROR_KEY = "images_error"
TEXT_SUPPORT_KEY = "images_text_support"
# Images per request: keeps each body a few MB even at the largest downscale setting.
BATCH_SIZE = 16


@dataclass(frozen=True)
class ImageEmbedding:
    """Vectors of the embedded images in input order, with what the results section shows about each."""

    deployment: str
    names: list[str]
    thumbnails: list[str]
    families: list[str]
    texts: list[str]
    vectors: np.ndarray
    model: str | None
    elapsed_s: float
    requests: int
    sent_text: bool


def embed_items(deployment: Deployment, items: list[ImageItem], *, with_text: bool) -> ImageEmbedding:
    """Embed every item (raises the client's InferenceError on the first refused batch)."""
    client = state.get_client(deployment)
    inputs = [ImageInput(image=item.image.data_url, text=(item.text or None) if with_text else None) for item in items]
    started = time.perf_counter()
    parts: list[np.ndarray] = []
    model: str | None = None
    with tracing.action("image embedding job"):
        for start in range(0, len(inputs), BATCH_SIZE):
            with run_slots.released():
                result = client.embed_images(inputs[start : start + BATCH_SIZE])
            parts.append(np.asarray(result.vectors, dtype=np.float32))
            model = model or result.model
    return ImageEmbedding(
        deployment=deployment.name,
        names=[item.image.name for item in items],
        thumbnails=[item.image.thumbnail_url for item in items],
        families=[item.family for item in items],
        texts=[item.text for item in items],
        vectors=np.vstack(parts),
        model=model,
        elapsed_s=time.perf_counter() - started,
        requests=len(parts),
        sent_text=with_text and any(item.text for item in items),
    )


@dataclass(frozen=True)
class EmbedFailure:
    """Why the last Embed failed, and whether text went with the images (a text refusal can be retried without)."""

    error: Exception
    deployment: str
    sent_text: bool

    @property
    def text_refused(self) -> bool:
        """The deployment refused the per-image text (a 422 naming `input[i].text`)."""
        return self.sent_text and isinstance(self.error, UnsupportedParameterError) and ".text" in self.error.message


def run_embedding(deployment: Deployment, items: list[ImageItem], *, with_text: bool = True) -> None:
    """Embed and store the result for the results section; on failure store the error and keep the old result."""
    st.session_state.pop(ERROR_KEY, None)
    try:
        with st.spinner(f"Embedding {len(items)} image(s) with {deployment.name}…"):
            st.session_state[RESULT_KEY] = embed_items(deployment, items, with_text=with_text)
    except Exception as exc:  # every failure becomes a card on the page, never a traceback
        sent_text = with_text and any(item.text for item in items)
        st.session_state[ERROR_KEY] = EmbedFailure(exc, deployment.name, sent_text)


def stored_result() -> ImageEmbedding | None:
    """The last successful embedding of this session."""
    return st.session_state.get(RESULT_KEY)


def stored_failure() -> EmbedFailure | None:
    """Why the last Embed failed, if it did."""
    return st.session_state.get(ERROR_KEY)


def discard_failure() -> None:
    """Forget the last failure (its images are no longer on the page)."""
    st.session_state.pop(ERROR_KEY, None)


def text_support(deployment: Deployment) -> CapabilityResult:
    """Whether the deployment embeds text too (text-to-image search): from a probe report, else one tiny request."""
    report = stored_report(deployment.name)
    if report is not None and report.status("embeddings") is not Status.UNKNOWN:
        return report.results["embeddings"]
    cache: dict[str, CapabilityResult] = st.session_state.setdefault(TEXT_SUPPORT_KEY, {})
    if deployment.name not in cache:
        cache[deployment.name] = probe_capability(state.get_client(deployment), "embeddings")
    return cache[deployment.name]
