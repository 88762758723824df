"""`.prompty` files: YAML front matter between `---` lines, then the template with `system:` / `user:` / `assistant:`
sections.

Written in the Prompty v1 shape (`model.api` / `configuration` / `parameters`, `inputs` as a mapping, `sample`), the
one Azure AI Foundry and `azure.ai.inference.prompts.PromptTemplate.from_prompty` read. A Prompty v2 file
(`model.id` / `connection` / `options`, `inputs` as a list) is read too, and saved in the v1 shape.
"""

from __future__ import annotations

import re
from typing import Any

from services.prompt_convert import convert
from services.prompt_model import ModelRef, Prompt, PromptMessage, PromptParameters, PromptVariable
from services.prompt_render import join_body, split_roles
from services.prompt_syntax import needs_jinja
from services.prompt_yaml import (
    DEPLOYMENT_KEYS,
    ENDPOINT_KEYS,
    PARAMETERS,
    Dumped,
    YamlDoc,
    as_mapping,
    as_text,
    check_size,
    collect_variables,
    drop_secrets,
    first_of,
    set_parameter,
    to_yaml,
)

FRONT_MATTER = re.compile(r"\A\ufeff?\s*(?:---)[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL | re.MULTILINE)
PROMPTY_KEYS = ("name", "description", "authors", "tags", "version", "model", "inputs", "outputs", "sample", "template")
V2_OPTIONS = {
    "maxOutputTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop",
    "seed": "seed",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
}


def parse_prompty(text: str, source: str = "prompt.prompty") -> Prompt:
    """A `.prompty` file's text as a Prompt (v1 shape, or v2 read into it)."""
    check_size(text, source)
    match = FRONT_MATTER.match(text)
    notices: list[str] = []
    if match:
        front, body = match.group(1), match.group(2)
        offset = text[: match.start(1)].count("\n")
        body_offset = text[: match.start(2)].count("\n")
    else:
        front, body, offset, body_offset = "", text, 0, 0
        notices.append("The file has no front matter (--- lines); it was read as a template only.")
    doc = YamlDoc(front, source, offset)
    data = as_mapping(doc, doc.data, ())
    prompt = Prompt(source_format="prompty", notices=notices)
    prompt.name = as_text(doc, data.get("name"), ("name",)) or ""
    prompt.description = as_text(doc, data.get("description"), ("description",)) or ""
    _read_metadata(doc, prompt, data)
    model = data.get("model")
    if isinstance(model, str) or (isinstance(model, dict) and _is_v2_model(model)):
        _read_v2_model(doc, prompt, model)
    else:
        _read_v1_model(doc, prompt, as_mapping(doc, model, ("model",)))
    _read_template_setting(doc, prompt, data.get("template"))
    _read_inputs(doc, prompt, data.get("inputs"))
    prompt.outputs = data.get("outputs")
    sample = data.get("sample")
    if isinstance(sample, str):
        prompt.sample_ref = sample
        prompt.notices.append(f"sample refers to {sample!r}; it is kept as a reference and not read.")
    elif sample is not None:
        prompt.test_data = [as_mapping(doc, sample, ("sample",))]
    for key in data:
        if key not in PROMPTY_KEYS and key not in ("metadata", "base"):
            prompt.extra[key] = data[key]
            prompt.notices.append(f"Unknown field '{key}' is kept as it is.")
    if "base" in data:
        prompt.extra["base"] = data["base"]
        prompt.notices.append("base (a parent .prompty) is kept but not merged in.")
    for role, content, line in split_roles(body):
        prompt.messages.append(PromptMessage(role=role, content=content, source_line=line + body_offset))
    collect_variables(prompt)
    return prompt


def _read_metadata(doc: YamlDoc, prompt: Prompt, data: dict[str, Any]) -> None:
    # v1 keeps authors/tags/version at the top; v2 under `metadata`.
    meta = as_mapping(doc, data.get("metadata"), ("metadata",))
    for key in ("authors", "tags"):
        value = data.get(key, meta.get(key))
        if value is None:
            continue
        if not isinstance(value, list):
            value = [value]
        setattr(prompt, key, [str(item) for item in value])
    version = data.get("version", meta.get("version"))
    prompt.version = None if version is None else str(version)
    rest = {k: v for k, v in meta.items() if k not in ("authors", "tags", "version")}
    if rest:
        prompt.extra["metadata"] = rest
        prompt.notices.append("metadata fields other than authors, tags and version are kept as they are.")


def _is_v2_model(model: dict[str, Any]) -> bool:
    return any(key in model for key in ("id", "provider", "connection", "options", "apiType"))


def _read_v1_model(doc: YamlDoc, prompt: Prompt, model: dict[str, Any]) -> None:
    api = model.get("api", "chat")
    if api not in ("chat", "completion"):
        raise doc.error(("model", "api"), f"must be chat or completion, not {api!r}.")
    configuration = as_mapping(doc, model.get("configuration"), ("model", "configuration"))
    config = drop_secrets(configuration, "model.configuration", prompt.notices)
    prompt.model = ModelRef(
        api=api,
        type=first_of(config, ("type",)),
        endpoint=first_of(config, ENDPOINT_KEYS),
        deployment=first_of(config, DEPLOYMENT_KEYS),
        api_version=first_of(config, ("api_version",)),
        configuration=config,
        response=model.get("response"),
    )
    params = as_mapping(doc, model.get("parameters"), ("model", "parameters"))
    for ours, name, _, _ in PARAMETERS:
        if name in params:
            set_parameter(doc, prompt.parameters, ours, params[name], ("model", "parameters", name))
    fmt = params.get("response_format")
    if isinstance(fmt, dict):
        _read_response_format(doc, prompt.parameters, fmt, ("model", "parameters", "response_format"))
    elif fmt is not None:
        prompt.parameters.extra["response_format"] = fmt  # a ${file:...} reference: kept as written
    known = {name for _, name, _, _ in PARAMETERS} | {"response_format"}
    prompt.parameters.extra.update({k: v for k, v in params.items() if k not in known})
    for key in model:
        if key not in ("api", "configuration", "parameters", "response"):
            prompt.extra.setdefault("model", {})[key] = model[key]
            prompt.notices.append(f"Unknown field 'model.{key}' is kept as it is.")


def _read_response_format(doc: YamlDoc, params: PromptParameters, fmt: dict[str, Any], path: tuple[str, ...]) -> None:
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise doc.error((*path, "type"), f"must be text, json_object or json_schema, not {kind!r}.")
    params.response_format = kind
    if kind == "json_schema":
        schema = fmt.get("json_schema")
        if not isinstance(schema, dict):
            raise doc.error((*path, "json_schema"), "must be a mapping with name and schema.")
        params.json_schema = schema


def _read_v2_model(doc: YamlDoc, prompt: Prompt, model: str | dict[str, Any]) -> None:
    prompt.notices.append("Prompty v2 model settings (id, connection, options) were read into the v1 shape.")
    if isinstance(model, str):
        prompt.model = ModelRef(deployment=model, configuration={"name": model})
        return
    connection = as_mapping(doc, model.get("connection"), ("model", "connection"))
    connection = drop_secrets(connection, "model.connection", prompt.notices)
    config: dict[str, Any] = {}
    provider = model.get("provider")
    kind = {"azure": "azure_openai", "foundry": "azure_openai"}.get(str(provider), provider)
    if kind:
        config["type"] = kind
    endpoint = connection.get("endpoint")
    if endpoint:
        config["azure_endpoint" if kind == "azure_openai" else "endpoint"] = endpoint
    if model.get("id"):
        config["azure_deployment" if kind == "azure_openai" else "name"] = model["id"]
    if connection.get("apiKey"):
        config["api_key"] = connection["apiKey"]
    api = model.get("apiType", "chat")
    prompt.model = ModelRef(
        api="completion" if api == "completion" else "chat",
        type=kind,
        endpoint=endpoint,
        deployment=model.get("id"),
        configuration=config,
    )
    options = as_mapping(doc, model.get("options"), ("model", "options"))
    for name, value in options.items():
        if name in V2_OPTIONS:
            set_parameter(doc, prompt.parameters, V2_OPTIONS[name], value, ("model", "options", name))
        elif name == "additionalProperties" and isinstance(value, dict):
            prompt.parameters.extra.update(value)
        else:
            prompt.parameters.extra[name] = value


def _read_template_setting(doc: YamlDoc, prompt: Prompt, setting: Any) -> None:
    if setting is None:
        return
    kind = setting
    if isinstance(setting, dict):
        kind = setting.get("type", setting.get("format"))
        if isinstance(kind, dict):  # v2: template.format.kind
            kind = kind.get("kind")
            setting = None  # a v2 template object would break v1 readers; the writer declares the syntax again
    if kind not in ("jinja2", "jinja", "mustache", None):
        raise doc.error(("template",), f"the template engine {kind!r} is not supported (jinja2 or mustache).")
    prompt.syntax = "mustache" if kind == "mustache" else "jinja2"
    prompt.template_setting = setting


def _read_inputs(doc: YamlDoc, prompt: Prompt, inputs: Any) -> None:
    if inputs is None:
        return
    if isinstance(inputs, list):  # v2 (and v1's alternative form): a list of {name, kind|type, ...}
        items = []
        for index, item in enumerate(inputs):
            item = as_mapping(doc, item, ("inputs", index))
            if not isinstance(item.get("name"), str):
                raise doc.error(("inputs", index, "name"), "every input needs a name.")
            items.append((item["name"], {k: v for k, v in item.items() if k != "name"}, ("inputs", index)))
    else:
        items = [(str(k), v, ("inputs", str(k))) for k, v in as_mapping(doc, inputs, ("inputs",)).items()]
    for name, spec, path in items:
        if not isinstance(spec, dict):
            spec = {"default": spec}
        kind = spec.get("type", spec.get("kind"))
        prompt.variables[name] = PromptVariable(
            name=name,
            type=None if kind is None else str(kind),
            description=as_text(doc, spec.get("description"), (*path, "description")),
            default=spec.get("default"),
            declared=True,
            extra={k: v for k, v in spec.items() if k not in ("type", "kind", "description", "default")},
        )


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {list: "array", dict: "object"}.get(type(value), "string")


def _configuration(model: ModelRef) -> dict[str, Any]:
    """Prompty's model.configuration: as read, with the fields a caller may have changed set again."""
    config = dict(model.configuration)
    if model.type:
        config["type"] = model.type
    azure = (model.type or "").startswith("azure_openai")
    for value, keys, preferred in (
        (model.endpoint, ENDPOINT_KEYS, "azure_endpoint" if azure else "endpoint"),
        (model.deployment, DEPLOYMENT_KEYS, "azure_deployment" if azure else "name"),
        (model.api_version, ("api_version",), "api_version"),
    ):
        present = [key for key in keys if key in config]
        if value is None:
            for key in present:
                del config[key]
        elif not any(str(config[key]) == value for key in present):
            config[present[0] if present else preferred] = value
    return config


def dump_prompty(prompt: Prompt) -> Dumped:
    """The `.prompty` text for a prompt (converted first when it came from a .prompt.yml)."""
    converted = convert(prompt, "prompty")
    notices = list(converted.notices) if converted is not prompt else []
    prompt = converted
    front: dict[str, Any] = {"name": prompt.name}
    if prompt.description:
        front["description"] = prompt.description
    for key in ("authors", "tags"):
        if getattr(prompt, key):
            front[key] = list(getattr(prompt, key))
    if prompt.version:
        front["version"] = prompt.version
    model: dict[str, Any] = {"api": prompt.model.api}  # the Azure SDK finds its parser by model.api: always written
    config = _configuration(prompt.model)
    if config:
        model["configuration"] = config
    params = _prompty_parameters(prompt.parameters)
    if params:
        model["parameters"] = params
    if prompt.model.response is not None:
        model["response"] = prompt.model.response
    model.update(prompt.extra.get("model", {}))
    front["model"] = model
    inputs = {}
    for name, variable in prompt.variables.items():
        if not variable.declared:
            continue
        spec: dict[str, Any] = {"type": variable.type or _infer_type(variable.default)}  # the SDK requires a type
        if variable.description:
            spec["description"] = variable.description
        if variable.default is not None:
            spec["default"] = variable.default
        spec.update(variable.extra)
        inputs[name] = spec
    if inputs:
        front["inputs"] = inputs
    if prompt.outputs is not None:
        front["outputs"] = prompt.outputs
    if prompt.test_data:
        front["sample"] = dict(prompt.test_data[0])
        if len(prompt.test_data) > 1:
            left = len(prompt.test_data) - 1
            notices.append(f"Prompty holds one sample: the other {left} test data row(s) are left out.")
    elif prompt.sample_ref:
        front["sample"] = prompt.sample_ref
    body, _ = join_body(prompt.messages)
    setting = prompt.template_setting
    if setting is None and prompt.syntax == "mustache":
        setting = "mustache"
    elif setting is None and needs_jinja(body):
        # Declared only when needed: the Azure SDK renders an undeclared template as Mustache (and knows no jinja2),
        # which gives the same text for plain {{ name }} substitutions.
        setting = "jinja2"
    if setting is not None:
        front["template"] = setting
    if prompt.evaluators:
        notices.append("Prompty has no evaluators: they are left out.")
    for key, value in prompt.extra.items():
        if key != "model":
            front[key] = value
    text = "---\n" + to_yaml(front) + "---\n" + body
    check_size(text, prompt.name or "prompt")
    return Dumped(text, notices)


def _prompty_parameters(params: PromptParameters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ours, name, _, _ in PARAMETERS:
        value = getattr(params, ours)
        if value is not None:
            out[name] = value
    if params.response_format == "json_schema":
        out["response_format"] = {"type": "json_schema", "json_schema": params.json_schema or {}}
    elif params.response_format:
        out["response_format"] = {"type": params.response_format}
    out.update(params.extra)
    return out
