"""Parse embeddings bodies (text and image) and encode vectors in every `encoding_format` the API names."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from local_endpoint.errors import invalid_input, not_supported
from local_endpoint.limits import Limits, too_many
from local_endpoint.params import integer, reject_extras

KNOWN = {"input", "dimensions", "encoding_format", "input_type", "model"}
OPENAI_KNOWN = {"user"}
FORMATS = {"float", "base64", "int8", "uint8", "binary", "ubinary"}
INPUT_TYPES = {"text", "query", "document"}
MAX_INPUTS = Limits.max_inputs
DATA_URL = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,(?P<data>.*)$", re.DOTALL)


@dataclass
class EmbeddingsRequest:
    """Validated inputs (strings or image bytes) and the output encoding."""

    inputs: list[Any]
    encoding_format: str


def _common(body: Any, *, extra_mode: str, openai_style: bool, native_dims: int) -> tuple[dict[str, Any], str]:
    if not isinstance(body, dict):
        raise invalid_input((), body, "The body should be a JSON object", "dict_type")
    reject_extras(body, KNOWN | OPENAI_KNOWN if openai_style else KNOWN, extra_mode)
    dims = integer(body, "dimensions", 1)
    if dims is not None and dims != native_dims:
        reason = f"This model only produces {native_dims} dimensions (it was not trained for Matryoshka truncation)"
        raise not_supported(("dimensions",), dims, reason)
    fmt = body.get("encoding_format") or "float"
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise invalid_input(("encoding_format",), fmt, f"Input should be one of {sorted(FORMATS)}", "enum")
    input_type = body.get("input_type")
    if input_type is not None and (not isinstance(input_type, str) or input_type not in INPUT_TYPES):
        raise invalid_input(("input_type",), input_type, f"Input should be one of {sorted(INPUT_TYPES)}", "enum")
    return body, fmt


def parse_text_embeddings(
    body: Any, *, extra_mode: str, openai_style: bool, native_dims: int, max_inputs: int = MAX_INPUTS
) -> EmbeddingsRequest:
    """A list of strings to embed (a lone string is accepted on the OpenAI-compatible route)."""
    body, fmt = _common(body, extra_mode=extra_mode, openai_style=openai_style, native_dims=native_dims)
    texts = body.get("input")
    if openai_style and isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise invalid_input(("input",), texts, "Input should be a list with at least 1 string", "too_short")
    if len(texts) > max_inputs:
        raise too_many("input", len(texts), max_inputs, "inputs", "LOCAL_ENDPOINT_MAX_INPUTS")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise invalid_input(("input", i), text, "Input should be a valid string", "string_type")
    return EmbeddingsRequest(texts, fmt)


def parse_image_embeddings(
    body: Any, *, extra_mode: str, native_dims: int, max_inputs: int = MAX_INPUTS
) -> EmbeddingsRequest:
    """Decoded image bytes; a `text` field is a 422 since this descriptor reads pictures only."""
    body, fmt = _common(body, extra_mode=extra_mode, openai_style=False, native_dims=native_dims)
    items = body.get("input")
    if not isinstance(items, list) or not items:
        raise invalid_input(("input",), items, "Input should be a list with at least 1 image", "too_short")
    if len(items) > max_inputs:
        raise too_many("input", len(items), max_inputs, "inputs", "LOCAL_ENDPOINT_MAX_INPUTS")
    images: list[bytes] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid_input(("input", i), item, "Input should be an object with an 'image' data URL", "dict_type")
        if item.get("text") is not None:
            raise not_supported(
                ("input", i, "text"), item["text"], f"input[{i}].text is not supported: this model embeds images only"
            )
        image = item.get("image")
        found = DATA_URL.match(image) if isinstance(image, str) else None
        if found is None:
            raise invalid_input(
                ("input", i, "image"), _short(image), "Input should be a data URL: data:image/<format>;base64,<data>"
            )
        try:
            images.append(base64.b64decode(found.group("data"), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise invalid_input(("input", i, "image"), _short(image), f"The base64 data is invalid ({exc})") from exc
    return EmbeddingsRequest(images, fmt)


def _short(value: Any) -> Any:
    """Echo at most the start of a long string (images are large)."""
    return value[:64] + "..." if isinstance(value, str) and len(value) > 64 else value


def encode_vectors(vectors: npt.NDArray[np.floating], fmt: str) -> list[Any]:
    """Each row of `vectors` in `encoding_format`: a numpy row (for `render_json`) or, for base64, a string."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if fmt == "float":
        return list(matrix)
    if fmt == "base64":
        raw = matrix.astype("<f4")
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in raw]
    if fmt == "int8":
        return list(np.clip(np.round(matrix * 127.0), -128, 127).astype(np.int8))
    if fmt == "uint8":
        return list(np.clip(np.round((matrix + 1.0) * 127.5), 0, 255).astype(np.uint8))
    packed = np.packbits(matrix > 0, axis=1)
    return list(packed.view(np.int8) if fmt == "binary" else packed)


def render_json(body: Any) -> bytes:
    """`body` as compact JSON with numpy rows written by orjson (float32 in its shortest exact form)."""
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
