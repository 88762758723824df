"""The deployments the endpoint serves, each a name, an operation, its `/info` answer and a model slot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_endpoint import chat_model, image_descriptor, text_embedder
from local_endpoint.config import EndpointConfig
from local_endpoint.slots import ModelSlot

CHAT = "smollm2-135m-instruct"
TEXT_EMBEDDINGS = "all-minilm-l6-v2"
PARAPHRASE_EMBEDDINGS = "paraphrase-minilm-l3-v2"
IMAGE_EMBEDDINGS = "image-descriptor"


@dataclass
class Deployment:
    """One served model: `operation` is `chat`, `embeddings` or `images/embeddings` (the route it answers);
    `also_serves` lists further routes (`completions` for the chat model)."""

    name: str
    operation: str
    model_type: str
    model_name: str
    provider: str
    slot: ModelSlot[Any]
    also_serves: tuple[str, ...] = ()
    # The vector size an embeddings deployment answers with (0 for chat).
    dimensions: int = 0

    def serves(self, operation: str) -> bool:
        """True when this deployment answers `operation`'s route."""
        return operation == self.operation or operation in self.also_serves

    def info(self) -> dict[str, str]:
        """The `/info` body."""
        return {"model_name": self.model_name, "model_type": self.model_type, "model_provider_name": self.provider}


def build_deployments(config: EndpointConfig) -> dict[str, Deployment]:
    """The deployments with their (not yet loaded) slots."""
    q = config.max_queue
    items = [
        Deployment(
            CHAT,
            "chat",
            "chat-completion",
            chat_model.MODEL_NAME,
            chat_model.PROVIDER,
            ModelSlot(CHAT, lambda: chat_model.load_chat_model(config), q),
            also_serves=("completions",),
        ),
        Deployment(
            TEXT_EMBEDDINGS,
            "embeddings",
            "embeddings",
            text_embedder.MINILM.model_name,
            text_embedder.MINILM.provider,
            ModelSlot(TEXT_EMBEDDINGS, lambda: text_embedder.load_text_embedder(config), q),
            dimensions=text_embedder.MINILM.dimensions,
        ),
        Deployment(
            PARAPHRASE_EMBEDDINGS,
            "embeddings",
            "embeddings",
            text_embedder.PARAPHRASE.model_name,
            text_embedder.PARAPHRASE.provider,
            ModelSlot(PARAPHRASE_EMBEDDINGS, lambda: text_embedder.load_paraphrase_embedder(config), q),
            dimensions=text_embedder.PARAPHRASE.dimensions,
        ),
        Deployment(
            IMAGE_EMBEDDINGS,
            "images/embeddings",
            "image_embeddings",
            image_descriptor.MODEL_NAME,
            image_descriptor.PROVIDER,
            ModelSlot(IMAGE_EMBEDDINGS, lambda: image_descriptor.load_image_descriptor(config), q),
            dimensions=image_descriptor.DIMENSIONS,
        ),
    ]
    return {d.name: d for d in items}
