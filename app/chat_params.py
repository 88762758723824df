"""The chat parameter panel's values as plain data, and the request parameters they make (no streamlit here).

Unset values send nothing; the JSON editors are parsed here so a mistake is caught before any request, with its line
and column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any, Literal

ResponseFormat = Literal["text", "json_object", "json_schema"]
ExtraParameters = Literal["pass-through", "drop", "error"]
SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOOL_CHOICE_MODES = ("auto", "none", "required")
# How a refused json_schema (with JSON mode still working) is recorded (services.capabilities.JSON_SCHEMA_PARAM).
JSON_SCHEMA_PARAM = "response_format.json_schema"


class JsonFieldError(ValueError):
    """An editor's text is not the JSON it should be; names the editor and the position of the mistake."""

    def __init__(self, field: str, message: str, line: int | None = None, column: int | None = None) -> None:
        self.field = field
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{field}: {message}{where}.")


@dataclass
class ParamValues:
    """What the panel holds; None (or an empty editor) means "not set", and nothing is sent for it."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    response_format: ResponseFormat | None = None
    json_schema: str = ""
    tools: str = ""
    tool_choice: str | None = None
    model_extras: str = ""
    extra_parameters: ExtraParameters | None = None


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ParamValues) if f.name != "json_schema")


def parse_json_editor(field: str, text: str) -> Any:
    """Parse an editor's JSON text; raise JsonFieldError with the line and column of the first mistake."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFieldError(field, exc.msg, exc.lineno, exc.colno) from exc


def parse_stop_sequences(text: str) -> list[str] | None:
    """One stop sequence per line; blank lines are ignored; no lines means not set."""
    sequences = [line for line in text.splitlines() if line.strip()]
    return sequences or None


def _json_schema_format(text: str) -> dict[str, Any]:
    value = parse_json_editor("JSON schema", text)
    if not isinstance(value, dict):
        raise JsonFieldError("JSON schema", "expected an object")
    # A bare schema is accepted and wrapped, so pasting a schema from elsewhere just works.
    spec = value if "schema" in value else {"name": "response", "schema": value}
    if not isinstance(spec.get("schema"), dict):
        raise JsonFieldError("JSON schema", "`schema` must be an object")
    name = spec.setdefault("name", "response")
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise JsonFieldError("JSON schema", "`name` must be 1 to 64 letters, digits, `_` or `-`")
    return {"type": "json_schema", "json_schema": spec}


def _tools(text: str) -> list[dict[str, Any]]:
    value = parse_json_editor("Tools", text)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise JsonFieldError("Tools", "expected a list of function definitions")
    tools = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise JsonFieldError("Tools", f"item {index + 1} is not an object")
        # Accept the bare OpenAI-style function object as well as the wrapped form.
        function = item.get("function", item) if item.get("type", "function") == "function" else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise JsonFieldError("Tools", f"item {index + 1} needs a function `name`")
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in TOOL_CHOICE_MODES:
        return choice
    return {"type": "function", "function": {"name": choice}}


def build_params(values: ParamValues, unsupported: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return the request parameters for the panel's values, leaving out unset ones and those in `unsupported`.

    Raises JsonFieldError when an editor holds invalid JSON (before anything is sent).
    """
    params: dict[str, Any] = {}
    for name in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed"):
        value = getattr(values, name)
        if value is not None:
            params[name] = value
    if values.response_format == "json_schema":
        params["response_format"] = _json_schema_format(values.json_schema)
    elif values.response_format is not None:
        params["response_format"] = {"type": values.response_format}
    if values.tools.strip():
        params["tools"] = _tools(values.tools)
        if values.tool_choice:
            params["tool_choice"] = _tool_choice(values.tool_choice)
    if values.model_extras.strip():
        extras = parse_json_editor("model_extras", values.model_extras)
        if not isinstance(extras, dict):
            raise JsonFieldError("model_extras", "expected an object of parameter names and values")
        if extras:
            params["model_extras"] = extras
            params["extra_parameters"] = values.extra_parameters or "pass-through"
    for name in unsupported:
        params.pop(name, None)
    if JSON_SCHEMA_PARAM in unsupported and params.get("response_format", {}).get("type") == "json_schema":
        del params["response_format"]
    if "tools" not in params:
        params.pop("tool_choice", None)
    if "model_extras" in params:
        for name in unsupported:
            params["model_extras"].pop(name, None)
        if not params["model_extras"]:
            del params["model_extras"], params["extra_parameters"]
    return params


def values_from_params(params: dict[str, Any]) -> ParamValues:
    """The panel values that produce `params` again (used when a transcript is imported)."""
    values = ParamValues()
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if isinstance(params.get(name), int | float):
            setattr(values, name, float(params[name]))
    for name in ("max_tokens", "seed"):
        if isinstance(params.get(name), int):
            setattr(values, name, params[name])
    if isinstance(params.get("stop"), list):
        values.stop = [str(s) for s in params["stop"]]
    response_format = params.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("text", "json_object", "json_schema"):
        values.response_format = response_format["type"]
        if response_format["type"] == "json_schema":
            values.json_schema = json.dumps(response_format.get("json_schema", {}), indent=2)
    if params.get("tools"):
        values.tools = json.dumps(params["tools"], indent=2)
        choice = params.get("tool_choice")
        if isinstance(choice, dict):
            values.tool_choice = choice.get("function", {}).get("name")
        elif isinstance(choice, str):
            values.tool_choice = choice
    if isinstance(params.get("model_extras"), dict):
        values.model_extras = json.dumps(params["model_extras"], indent=2)
        if params.get("extra_parameters") in ("pass-through", "drop", "error"):
            values.extra_parameters = params["extra_parameters"]
    return values
