"""GitHub Models `.prompt.yml` files, written with exactly the keys `gh models` reads (github/gh-models
pkg/prompt/prompt.go); `jsonSchema` is a JSON string there, as gh requires."""

from __future__ import annotations

import json
from typing import Any

from services.prompt_convert import convert
from services.prompt_model import ROLES, ModelRef, Prompt, PromptMessage
from services.prompt_yaml import (
    PARAMETERS,
    Dumped,
    YamlDoc,
    as_mapping,
    as_text,
    check_size,
    collect_variables,
    set_parameter,
    to_yaml,
)

YML_KEYS = (
    "name",
    "description",
    "model",
    "modelParameters",
    "responseFormat",
    "jsonSchema",
    "messages",
    "testData",
    "evaluators",
)
EVALUATOR_STRING_KEYS = ("endsWith", "startsWith", "contains", "equals")


def parse_prompt_yml(text: str, source: str = "prompt.prompt.yml") -> Prompt:
    """A GitHub Models `.prompt.yml` file's text as a Prompt."""
    check_size(text, source)
    doc = YamlDoc(text, source, 0)
    data = as_mapping(doc, doc.data, ())
    prompt = Prompt(source_format="prompt.yml", syntax="placeholders")
    prompt.name = as_text(doc, data.get("name"), ("name",)) or ""
    prompt.description = as_text(doc, data.get("description"), ("description",)) or ""
    model = as_text(doc, data.get("model"), ("model",))
    prompt.model = ModelRef(deployment=model)
    params = as_mapping(doc, data.get("modelParameters"), ("modelParameters",))
    by_yml_name = {yml: ours for ours, _, yml, _ in PARAMETERS}
    for name, value in params.items():
        if name in by_yml_name:
            set_parameter(doc, prompt.parameters, by_yml_name[name], value, ("modelParameters", name))
        else:
            prompt.parameters.extra[name] = value
            prompt.notices.append(f"Unknown field 'modelParameters.{name}' is kept as it is.")
    _read_yml_response_format(doc, prompt, data)
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise doc.error(("messages",), "must be a list of {role, content} (it is missing or not a list).")
    for index, item in enumerate(messages):
        item = as_mapping(doc, item, ("messages", index))
        role = str(item.get("role", "")).lower()
        if role not in ROLES:
            raise doc.error(("messages", index, "role"), f"{item.get('role')!r} is not one of {', '.join(ROLES)}.")
        content = as_text(doc, item.get("content"), ("messages", index, "content")) or ""
        line = doc.line(("messages", index, "content"))
        prompt.messages.append(PromptMessage(role=role, content=content, source_line=line))
    rows = data.get("testData") or []
    if not isinstance(rows, list):
        raise doc.error(("testData",), "must be a list of mappings.")
    prompt.test_data = [as_mapping(doc, row, ("testData", index)) for index, row in enumerate(rows)]
    prompt.evaluators = _evaluators(doc, data.get("evaluators"))
    for key in data:
        if key not in YML_KEYS:
            prompt.extra[key] = data[key]
            prompt.notices.append(f"Unknown field '{key}' is kept as it is.")
    collect_variables(prompt)
    return prompt


def _read_yml_response_format(doc: YamlDoc, prompt: Prompt, data: dict[str, Any]) -> None:
    kind = data.get("responseFormat")
    if kind is not None and kind not in ("text", "json_object", "json_schema"):
        raise doc.error(("responseFormat",), f"must be text, json_object or json_schema, not {kind!r}.")
    prompt.parameters.response_format = kind
    schema = data.get("jsonSchema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise doc.error(("jsonSchema",), f"is not valid JSON ({exc.msg} at line {exc.lineno} of it).") from exc
    elif isinstance(schema, dict):
        prompt.notices.append("jsonSchema is a mapping; gh models wants a JSON string, and it is written back as one.")
    if schema is not None and not isinstance(schema, dict):
        raise doc.error(("jsonSchema",), "must be a JSON object.")
    if kind == "json_schema" and (schema is None or "name" not in schema or "schema" not in schema):
        raise doc.error(("jsonSchema",), "responseFormat json_schema needs a jsonSchema with name and schema.")
    prompt.parameters.json_schema = schema


def _evaluators(doc: YamlDoc, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(("evaluators",), "must be a list.")
    out = []
    for index, item in enumerate(value):
        path: tuple[str | int, ...] = ("evaluators", index)
        item = as_mapping(doc, item, path)
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise doc.error((*path, "name"), "every evaluator needs a name.")
        kinds = [key for key in ("string", "llm", "uses") if item.get(key) is not None]
        if len(kinds) != 1:
            raise doc.error(path, "an evaluator has exactly one of string, llm or uses.")
        if kinds == ["string"]:
            checks = as_mapping(doc, item["string"], (*path, "string"))
            if not any(key in checks for key in EVALUATOR_STRING_KEYS):
                raise doc.error((*path, "string"), f"needs one of {', '.join(EVALUATOR_STRING_KEYS)}.")
        elif kinds == ["llm"]:
            llm = as_mapping(doc, item["llm"], (*path, "llm"))
            for key in ("modelId", "prompt", "choices"):
                if key not in llm:
                    raise doc.error((*path, "llm"), f"needs {key}.")
            if not isinstance(llm["choices"], list) or not all(
                isinstance(c, dict) and "choice" in c and "score" in c for c in llm["choices"]
            ):
                raise doc.error((*path, "llm", "choices"), "must be a list of {choice, score}.")
        out.append(item)
    return out


def dump_prompt_yml(prompt: Prompt) -> Dumped:
    """The `.prompt.yml` text for a prompt (converted first when it came from a .prompty)."""
    converted = convert(prompt, "prompt.yml")
    notices = list(converted.notices) if converted is not prompt else []
    prompt = converted
    data: dict[str, Any] = {"name": prompt.name, "description": prompt.description}
    if prompt.model.deployment:
        data["model"] = prompt.model.deployment
    params: dict[str, Any] = {}
    for ours, _, yml, _ in PARAMETERS:
        value = getattr(prompt.parameters, ours)
        if value is not None:
            params[yml] = value
    params.update(prompt.parameters.extra)
    if params:
        data["modelParameters"] = params
    if prompt.parameters.response_format:
        data["responseFormat"] = prompt.parameters.response_format
    if prompt.parameters.json_schema is not None:
        data["jsonSchema"] = json.dumps(prompt.parameters.json_schema, indent=2, ensure_ascii=False)
    data["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
    if prompt.test_data:
        data["testData"] = [dict(row) for row in prompt.test_data]
    if prompt.evaluators:
        data["evaluators"] = list(prompt.evaluators)
    data.update(prompt.extra)
    text = to_yaml(data)
    check_size(text, prompt.name or "prompt")
    return Dumped(text, notices)
