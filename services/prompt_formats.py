"""Read and write `.prompty` and `.prompt.yml` text, and convert a prompt from one format to the other.

`.prompty` is written in the Prompty v1 shape (`model.api` / `configuration` / `parameters`, `inputs` as a mapping,
`sample`), the one Azure AI Foundry and `azure.ai.inference.prompts.PromptTemplate.from_prompty` read; a Prompty v2
file (`model.id` / `connection` / `options`, `inputs` as a list) is read too and saved in the v1 shape. `.prompt.yml`
is written with exactly the keys `gh models` reads (github/gh-models pkg/prompt/prompt.go); `jsonSchema` is a JSON
string there, as gh requires.

What one format cannot hold is left out when converting to it, and each thing left out is named in `notices`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from services.prompt_model import (
    MAX_FILE_BYTES,
    ROLES,
    ModelRef,
    Prompt,
    PromptConvertError,
    PromptFormat,
    PromptMessage,
    PromptParameters,
    PromptParseError,
    PromptTemplateError,
    PromptVariable,
    too_large,
)
from services.prompt_render import (
    ROLE_LINE,
    jinja_to_placeholders,
    join_body,
    mustache_to,
    needs_jinja,
    placeholders_to_jinja,
    prompt_variables,
    split_roles,
)

FRONT_MATTER = re.compile(r"\A\ufeff?\s*(?:---)[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL | re.MULTILINE)
PROMPTY_KEYS = ("name", "description", "authors", "tags", "version", "model", "inputs", "outputs", "sample", "template")
YML_KEYS = ("name", "description", "model", "modelParameters", "responseFormat", "jsonSchema", "messages", "testData",
            "evaluators")  # fmt: skip
SECRET_NAME = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)
ENDPOINT_KEYS = ("azure_endpoint", "endpoint", "base_url")
DEPLOYMENT_KEYS = ("azure_deployment", "name", "model")
# (our name, Prompty model.parameters name, .prompt.yml modelParameters name, whether gh models reads it)
PARAMETERS = (
    ("max_tokens", "max_tokens", "maxTokens", True),
    ("temperature", "temperature", "temperature", True),
    ("top_p", "top_p", "topP", True),
    ("stop", "stop", "stop", False),
    ("seed", "seed", "seed", False),
    ("frequency_penalty", "frequency_penalty", "frequencyPenalty", False),
    ("presence_penalty", "presence_penalty", "presencePenalty", False),
)
V2_OPTIONS = {"maxOutputTokens": "max_tokens", "temperature": "temperature", "topP": "top_p",
              "stopSequences": "stop", "seed": "seed", "frequencyPenalty": "frequency_penalty",
              "presencePenalty": "presence_penalty"}  # fmt: skip
EVALUATOR_STRING_KEYS = ("endsWith", "startsWith", "contains", "equals")


@dataclass
class Dumped:
    """A prompt as file text, with what the target format could not hold."""

    text: str
    notices: list[str] = field(default_factory=list)


def format_of(filename: str) -> PromptFormat:
    """The format a file name says: `.prompty`, or `.prompt.yml` / `.prompt.yaml`."""
    lower = filename.lower()
    if lower.endswith(".prompty"):
        return "prompty"
    if lower.endswith((".prompt.yml", ".prompt.yaml")):
        return "prompt.yml"
    raise PromptParseError(f"{filename}: not a prompt file (the name must end in .prompty, .prompt.yml, .prompt.yaml).")


# --- YAML with positions --------------------------------------------------------------------------------------------


class _Doc:
    """Parsed YAML plus its node tree, so a field of the wrong shape is reported with its line."""

    def __init__(self, text: str, source: str, line_offset: int) -> None:
        self.source = source
        self.offset = line_offset
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 + line_offset if mark else None
            column = mark.column + 1 if mark else None
            where = f"line {line}, column {column}: " if mark else ""
            problem = exc.problem or exc.context or "not valid YAML"
            raise PromptParseError(f"{source}: YAML error at {where}{problem}.", line=line, column=column) from exc
        except yaml.YAMLError as exc:
            raise PromptParseError(f"{source}: YAML error: {exc}.") from exc

    def line(self, path: tuple[str | int, ...]) -> int | None:
        node = self.node
        for part in path:
            if isinstance(node, yaml.MappingNode):
                node = next((value for key, value in node.value if key.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                node = None
            if node is None:
                return None
        return node.start_mark.line + 1 + self.offset if node is not None else None

    def error(self, path: tuple[str | int, ...], problem: str) -> PromptParseError:
        line = self.line(path)
        at = f"line {line}: " if line else ""
        return PromptParseError(f"{self.source}: {at}{_path_text(path)}: {problem}", line=line)


def _path_text(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _mapping(doc: _Doc, value: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"must be a mapping, not {_kind(value)}.")
    return value


def _kind(value: Any) -> str:
    return {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _text(doc: _Doc, value: Any, path: tuple[str | int, ...]) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise doc.error(path, f"must be text, not {_kind(value)}.")
    return str(value)


def _number(doc: _Doc, value: Any, path: tuple[str | int, ...], kind: type) -> Any:
    if value is None or (isinstance(value, str) and value.startswith("${")):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        expected = "a whole number" if kind is int else "a number"
        raise doc.error(path, f"must be {expected}, not {value!r}.")
    return kind(value)


def _stop(doc: _Doc, value: Any, path: tuple[str | int, ...]) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise doc.error(path, "must be text or a list of texts.")


def _set_parameter(doc: _Doc, params: PromptParameters, name: str, value: Any, path: tuple[str | int, ...]) -> None:
    if name == "stop":
        params.stop = _stop(doc, value, path)
    elif name in ("max_tokens", "seed"):
        setattr(params, name, _number(doc, value, path, int))
    else:
        setattr(params, name, _number(doc, value, path, float))


def _drop_secrets(config: dict[str, Any], path: str, notices: list[str]) -> dict[str, Any]:
    """A literal key in a prompt file is dropped (never shown, never written back); `${env:VAR}` references stay."""
    kept: dict[str, Any] = {}
    for key, value in config.items():
        if SECRET_NAME.search(str(key)) and isinstance(value, str) and value and not value.startswith("${"):
            notices.append(f"{path}.{key} held a literal secret; it was dropped (use a ${{env:VAR}} reference).")
            continue
        kept[key] = value
    return kept


def _first(config: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if config.get(key) not in (None, ""):
            return str(config[key])
    return None


# --- .prompty -------------------------------------------------------------------------------------------------------


def parse_prompty(text: str, source: str = "prompt.prompty") -> Prompt:
    """A `.prompty` file's text as a Prompt (v1 shape, or v2 read into it)."""
    _check_size(text, source)
    match = FRONT_MATTER.match(text)
    notices: list[str] = []
    if match:
        front, body = match.group(1), match.group(2)
        offset = text[: match.start(1)].count("\n")
        body_offset = text[: match.start(2)].count("\n")
    else:
        front, body, offset, body_offset = "", text, 0, 0
        notices.append("The file has no front matter (--- lines); it was read as a template only.")
    doc = _Doc(front, source, offset)
    data = _mapping(doc, doc.data, ())
    prompt = Prompt(source_format="prompty", notices=notices)
    prompt.name = _text(doc, data.get("name"), ("name",)) or ""
    prompt.description = _text(doc, data.get("description"), ("description",)) or ""
    _read_metadata(doc, prompt, data)
    model = data.get("model")
    if isinstance(model, str) or (isinstance(model, dict) and _is_v2_model(model)):
        _read_v2_model(doc, prompt, model)
    else:
        _read_v1_model(doc, prompt, _mapping(doc, model, ("model",)))
    _read_template_setting(doc, prompt, data.get("template"))
    _read_inputs(doc, prompt, data.get("inputs"))
    prompt.outputs = data.get("outputs")
    sample = data.get("sample")
    if isinstance(sample, str):
        prompt.sample_ref = sample
        prompt.notices.append(f"sample refers to {sample!r}; it is kept as a reference and not read.")
    elif sample is not None:
        prompt.test_data = [_mapping(doc, sample, ("sample",))]
    for key in data:
        if key not in PROMPTY_KEYS and key not in ("metadata", "base"):
            prompt.extra[key] = data[key]
            prompt.notices.append(f"Unknown field '{key}' is kept as it is.")
    if "base" in data:
        prompt.extra["base"] = data["base"]
        prompt.notices.append("base (a parent .prompty) is kept but not merged in.")
    for role, content, line in split_roles(body):
        prompt.messages.append(PromptMessage(role=role, content=content, source_line=line + body_offset))
    _collect_variables(prompt)
    return prompt


def _read_metadata(doc: _Doc, prompt: Prompt, data: dict[str, Any]) -> None:
    # v1 keeps authors/tags/version at the top; v2 under `metadata`.
    meta = _mapping(doc, data.get("metadata"), ("metadata",))
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


def _read_v1_model(doc: _Doc, prompt: Prompt, model: dict[str, Any]) -> None:
    api = model.get("api", "chat")
    if api not in ("chat", "completion"):
        raise doc.error(("model", "api"), f"must be chat or completion, not {api!r}.")
    config = _drop_secrets(_mapping(doc, model.get("configuration"), ("model", "configuration")), "model.configuration",
                           prompt.notices)  # fmt: skip
    prompt.model = ModelRef(
        api=api,
        type=_first(config, ("type",)),
        endpoint=_first(config, ENDPOINT_KEYS),
        deployment=_first(config, DEPLOYMENT_KEYS),
        api_version=_first(config, ("api_version",)),
        configuration=config,
        response=model.get("response"),
    )
    params = _mapping(doc, model.get("parameters"), ("model", "parameters"))
    for ours, name, _, _ in PARAMETERS:
        if name in params:
            _set_parameter(doc, prompt.parameters, ours, params[name], ("model", "parameters", name))
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


def _read_response_format(doc: _Doc, params: PromptParameters, fmt: dict[str, Any], path: tuple[str, ...]) -> None:
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise doc.error((*path, "type"), f"must be text, json_object or json_schema, not {kind!r}.")
    params.response_format = kind
    if kind == "json_schema":
        schema = fmt.get("json_schema")
        if not isinstance(schema, dict):
            raise doc.error((*path, "json_schema"), "must be a mapping with name and schema.")
        params.json_schema = schema


def _read_v2_model(doc: _Doc, prompt: Prompt, model: str | dict[str, Any]) -> None:
    prompt.notices.append("Prompty v2 model settings (id, connection, options) were read into the v1 shape.")
    if isinstance(model, str):
        prompt.model = ModelRef(deployment=model, configuration={"name": model})
        return
    connection = _drop_secrets(_mapping(doc, model.get("connection"), ("model", "connection")), "model.connection",
                               prompt.notices)  # fmt: skip
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
    options = _mapping(doc, model.get("options"), ("model", "options"))
    for name, value in options.items():
        if name in V2_OPTIONS:
            _set_parameter(doc, prompt.parameters, V2_OPTIONS[name], value, ("model", "options", name))
        elif name == "additionalProperties" and isinstance(value, dict):
            prompt.parameters.extra.update(value)
        else:
            prompt.parameters.extra[name] = value


def _read_template_setting(doc: _Doc, prompt: Prompt, setting: Any) -> None:
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


def _read_inputs(doc: _Doc, prompt: Prompt, inputs: Any) -> None:
    if inputs is None:
        return
    if isinstance(inputs, list):  # v2 (and v1's alternative form): a list of {name, kind|type, ...}
        items = []
        for index, item in enumerate(inputs):
            item = _mapping(doc, item, ("inputs", index))
            if not isinstance(item.get("name"), str):
                raise doc.error(("inputs", index, "name"), "every input needs a name.")
            items.append((item["name"], {k: v for k, v in item.items() if k != "name"}, ("inputs", index)))
    else:
        items = [(str(k), v, ("inputs", str(k))) for k, v in _mapping(doc, inputs, ("inputs",)).items()]
    for name, spec, path in items:
        if not isinstance(spec, dict):
            spec = {"default": spec}
        kind = spec.get("type", spec.get("kind"))
        prompt.variables[name] = PromptVariable(
            name=name,
            type=None if kind is None else str(kind),
            description=_text(doc, spec.get("description"), (*path, "description")),
            default=spec.get("default"),
            declared=True,
            extra={k: v for k, v in spec.items() if k not in ("type", "kind", "description", "default")},
        )


def _collect_variables(prompt: Prompt) -> None:
    """Variables used by the templates first (in order of use), then declared ones the templates do not use."""
    try:
        used = prompt_variables(prompt)
    except PromptTemplateError as exc:
        prompt.notices.append(f"The template does not parse ({exc}); fix it before running.")
        used = []
    declared = prompt.variables
    prompt.variables = {name: declared.get(name) or PromptVariable(name=name) for name in used}
    prompt.variables.update({name: v for name, v in declared.items() if name not in prompt.variables})


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
    text = "---\n" + _yaml(front) + "---\n" + body
    _check_size(text, prompt.name or "prompt")
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


# --- .prompt.yml ----------------------------------------------------------------------------------------------------


def parse_prompt_yml(text: str, source: str = "prompt.prompt.yml") -> Prompt:
    """A GitHub Models `.prompt.yml` file's text as a Prompt."""
    _check_size(text, source)
    doc = _Doc(text, source, 0)
    data = _mapping(doc, doc.data, ())
    prompt = Prompt(source_format="prompt.yml", syntax="placeholders")
    prompt.name = _text(doc, data.get("name"), ("name",)) or ""
    prompt.description = _text(doc, data.get("description"), ("description",)) or ""
    model = _text(doc, data.get("model"), ("model",))
    prompt.model = ModelRef(deployment=model)
    params = _mapping(doc, data.get("modelParameters"), ("modelParameters",))
    by_yml_name = {yml: ours for ours, _, yml, _ in PARAMETERS}
    for name, value in params.items():
        if name in by_yml_name:
            _set_parameter(doc, prompt.parameters, by_yml_name[name], value, ("modelParameters", name))
        else:
            prompt.parameters.extra[name] = value
            prompt.notices.append(f"Unknown field 'modelParameters.{name}' is kept as it is.")
    _read_yml_response_format(doc, prompt, data)
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise doc.error(("messages",), "must be a list of {role, content} (it is missing or not a list).")
    for index, item in enumerate(messages):
        item = _mapping(doc, item, ("messages", index))
        role = str(item.get("role", "")).lower()
        if role not in ROLES:
            raise doc.error(("messages", index, "role"), f"{item.get('role')!r} is not one of {', '.join(ROLES)}.")
        content = _text(doc, item.get("content"), ("messages", index, "content")) or ""
        line = doc.line(("messages", index, "content"))
        prompt.messages.append(PromptMessage(role=role, content=content, source_line=line))
    rows = data.get("testData") or []
    if not isinstance(rows, list):
        raise doc.error(("testData",), "must be a list of mappings.")
    prompt.test_data = [_mapping(doc, row, ("testData", index)) for index, row in enumerate(rows)]
    prompt.evaluators = _evaluators(doc, data.get("evaluators"))
    for key in data:
        if key not in YML_KEYS:
            prompt.extra[key] = data[key]
            prompt.notices.append(f"Unknown field '{key}' is kept as it is.")
    _collect_variables(prompt)
    return prompt


def _read_yml_response_format(doc: _Doc, prompt: Prompt, data: dict[str, Any]) -> None:
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


def _evaluators(doc: _Doc, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(("evaluators",), "must be a list.")
    out = []
    for index, item in enumerate(value):
        path: tuple[str | int, ...] = ("evaluators", index)
        item = _mapping(doc, item, path)
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise doc.error((*path, "name"), "every evaluator needs a name.")
        kinds = [key for key in ("string", "llm", "uses") if item.get(key) is not None]
        if len(kinds) != 1:
            raise doc.error(path, "an evaluator has exactly one of string, llm or uses.")
        if kinds == ["string"]:
            checks = _mapping(doc, item["string"], (*path, "string"))
            if not any(key in checks for key in EVALUATOR_STRING_KEYS):
                raise doc.error((*path, "string"), f"needs one of {', '.join(EVALUATOR_STRING_KEYS)}.")
        elif kinds == ["llm"]:
            llm = _mapping(doc, item["llm"], (*path, "llm"))
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
    text = _yaml(data)
    _check_size(text, prompt.name or "prompt")
    return Dumped(text, notices)


# --- conversion -----------------------------------------------------------------------------------------------------


def convert(prompt: Prompt, target: PromptFormat) -> Prompt:
    """The prompt as the target format holds it: templates translated, what it cannot hold left out (see notices).

    Raises PromptConvertError when a template cannot be expressed (Jinja2 logic in a .prompt.yml, a Mustache section).
    """
    if prompt.source_format == target:
        return prompt
    out = prompt.model_copy(deep=True)
    out.source_format, out.path, out.token = target, None, None
    notices: list[str] = []
    if target == "prompt.yml":
        _to_yml(out, notices)
    else:
        _to_prompty(out, notices)
    if prompt.extra:
        notices.append(f"Fields only the source format has are left out: {', '.join(sorted(prompt.extra))}.")
        out.extra = {}
    if prompt.parameters.extra:
        names = ", ".join(sorted(prompt.parameters.extra))
        notices.append(f"Model parameters the target format has no place for are left out: {names}.")
        out.parameters.extra = {}
    out.notices = notices
    return out


def _to_yml(out: Prompt, notices: list[str]) -> None:
    for index, message in enumerate(out.messages):
        where = f"message {index + 1} ({message.role})"
        if out.syntax == "jinja2":
            message.content = jinja_to_placeholders(message.content, where)
        elif out.syntax == "mustache":
            message.content = mustache_to(message.content, "placeholders", where)
    if out.syntax == "mustache":
        notices.append("Mustache's HTML escaping of {{name}} is not kept: .prompt.yml substitutes values as they are.")
    out.syntax, out.template_setting = "placeholders", None
    for ours, _, _, gh_reads in PARAMETERS:
        if not gh_reads and getattr(out.parameters, ours) is not None:
            notices.append(f"{ours} is not a .prompt.yml model parameter (gh models reads maxTokens, temperature, "
                           "topP): left out.")  # fmt: skip
            setattr(out.parameters, ours, None)
    if out.model.api == "completion":
        notices.append("model.api completion has no .prompt.yml field: left out.")
    extra_model = [k for k in ("type", "endpoint", "api_version") if getattr(out.model, k)]
    if extra_model:
        notices.append(f"model configuration ({', '.join(extra_model)}) has no .prompt.yml field: left out.")
    defaults = {name: v.default for name, v in out.variables.items() if v.default is not None}
    if defaults and not out.test_data:
        out.test_data = [defaults]
        notices.append("Input defaults are written as the first testData row.")
    described = [name for name, v in out.variables.items() if v.type or v.description or v.extra]
    if described:
        notices.append(f"Input types and descriptions ({', '.join(described)}) have no .prompt.yml field: left out.")
    if out.outputs is not None:
        notices.append("outputs has no .prompt.yml field: left out.")
    if out.sample_ref and not out.test_data:
        notices.append(f"sample {out.sample_ref!r} is a file reference .prompt.yml cannot hold: left out.")
    out.model = ModelRef(deployment=out.model.deployment)
    out.variables = {name: PromptVariable(name=name) for name in out.variables}
    out.outputs, out.sample_ref, out.authors, out.tags, out.version = None, None, [], [], None


def _to_prompty(out: Prompt, notices: list[str]) -> None:
    for index, message in enumerate(out.messages):
        where = f"message {index + 1} ({message.role})"
        if ROLE_LINE.search(message.content + "\n"):
            raise PromptConvertError(
                f"{where}: a line of it reads as a role line ('user:' ...), which would split it in a .prompty."
            )
        if out.syntax == "placeholders":
            message.content = placeholders_to_jinja(message.content, where)
        message.content = message.content.strip()
    out.syntax = "jinja2" if out.syntax == "placeholders" else out.syntax
    if len(out.test_data) > 1:
        notices.append(f"Prompty holds one sample: the other {len(out.test_data) - 1} test data row(s) are left out.")
        out.test_data = out.test_data[:1]
    if out.evaluators:
        notices.append("Prompty has no evaluators: they are left out.")
        out.evaluators = []


# --- common ---------------------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # repeated values are written out, never as &anchors


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # multi-line text as a block, as people write prompts by hand
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def _check_size(text: str, source: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise too_large(source, size)


def parse_prompt(text: str, fmt: PromptFormat, source: str | None = None) -> Prompt:
    """Parse either format."""
    if fmt == "prompty":
        return parse_prompty(text, source or "prompt.prompty")
    return parse_prompt_yml(text, source or "prompt.prompt.yml")


def dump_prompt(prompt: Prompt, fmt: PromptFormat) -> Dumped:
    """Write either format (converting when the prompt came from the other)."""
    return dump_prompty(prompt) if fmt == "prompty" else dump_prompt_yml(prompt)
