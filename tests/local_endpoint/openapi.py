"""Validators for response bodies from the Swagger 2.0 contract in docs/api (x-nullable made JSON Schema)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

# The project keeps its own copy of the contract (docs/api/PROVENANCE.md says where it came from).
CONTRACT_DIR = Path(__file__).resolve().parents[2] / "docs" / "api"
CONTRACTS = {
    "2024-05-01-preview": "ai-model-inference-2024-05-01-preview.openapi.json",
    "2025-04-01": "ai-model-inference-2025-04-01.openapi.json",
}


def _json_schema(node: Any) -> Any:
    """Swagger 2.0 -> JSON Schema: `x-nullable: true` allows null; `$ref` siblings move into allOf."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if k != "discriminator"}
    if "$ref" in converted and len(converted) > 1:
        ref = converted.pop("$ref")
        converted = {**converted, "allOf": [{"$ref": ref}, *converted.get("allOf", [])]}
    if converted.pop("x-nullable", False):
        return {"anyOf": [{"type": "null"}, converted]}
    return converted


@functools.cache
def _definitions(version: str) -> dict[str, Any]:
    contract = json.loads((CONTRACT_DIR / CONTRACTS[version]).read_text())
    return _json_schema(contract["definitions"])


def validate(body: Any, definition: str, version: str = "2025-04-01", **overrides: Any) -> None:
    """Raise jsonschema.ValidationError unless `body` fits `#/definitions/<definition>` of that contract version.

    `overrides` replace whole definitions, for the documented gaps between the contract and live services.
    """
    definitions = {**_definitions(version), **overrides}
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    jsonschema.Draft7Validator(schema).validate(body)


def model_type_with_live_forms() -> dict[str, Any]:
    """ModelType plus `chat-completion`, the form live services answer (PROTOCOL.md: accept both)."""
    base = _definitions("2025-04-01")["ModelType"]
    return {**base, "enum": [*base["enum"], "chat-completion"]}
