"""What both prompt formats share: YAML read with positions (so an error names its line), checked field values,
the parameter names of each format, and YAML written the way people write prompt files by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from services.prompt_model import (
    MAX_FILE_BYTES,
    Prompt,
    PromptParameters,
    PromptParseError,
    PromptTemplateError,
    PromptVariable,
    too_large,
)
from services.prompt_render import prompt_variables

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


@dataclass
class Dumped:
    """A prompt as file text, with what the target format could not hold."""

    text: str
    notices: list[str] = field(default_factory=list)


class YamlDoc:
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


def as_mapping(doc: YamlDoc, value: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"must be a mapping, not {_kind(value)}.")
    return value


def _kind(value: Any) -> str:
    return {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def as_text(doc: YamlDoc, value: Any, path: tuple[str | int, ...]) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise doc.error(path, f"must be text, not {_kind(value)}.")
    return str(value)


def _number(doc: YamlDoc, value: Any, path: tuple[str | int, ...], kind: type) -> Any:
    if value is None or (isinstance(value, str) and value.startswith("${")):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        expected = "a whole number" if kind is int else "a number"
        raise doc.error(path, f"must be {expected}, not {value!r}.")
    return kind(value)


def _stop(doc: YamlDoc, value: Any, path: tuple[str | int, ...]) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise doc.error(path, "must be text or a list of texts.")


def set_parameter(doc: YamlDoc, params: PromptParameters, name: str, value: Any, path: tuple[str | int, ...]) -> None:
    if name == "stop":
        params.stop = _stop(doc, value, path)
    elif name in ("max_tokens", "seed"):
        setattr(params, name, _number(doc, value, path, int))
    else:
        setattr(params, name, _number(doc, value, path, float))


def drop_secrets(config: dict[str, Any], path: str, notices: list[str]) -> dict[str, Any]:
    """A literal key in a prompt file is dropped (never shown, never written back); `${env:VAR}` references stay."""
    kept: dict[str, Any] = {}
    for key, value in config.items():
        if SECRET_NAME.search(str(key)) and isinstance(value, str) and value and not value.startswith("${"):
            notices.append(f"{path}.{key} held a literal secret; it was dropped (use a ${{env:VAR}} reference).")
            continue
        kept[key] = value
    return kept


def first_of(config: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if config.get(key) not in (None, ""):
            return str(config[key])
    return None


def collect_variables(prompt: Prompt) -> None:
    """Variables used by the templates first (in order of use), then declared ones the templates do not use."""
    try:
        used = prompt_variables(prompt)
    except PromptTemplateError as exc:
        prompt.notices.append(f"The template does not parse ({exc}); fix it before running.")
        used = []
    declared = prompt.variables
    prompt.variables = {name: declared.get(name) or PromptVariable(name=name) for name in used}
    prompt.variables.update({name: v for name, v in declared.items() if name not in prompt.variables})


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # repeated values are written out, never as &anchors


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # multi-line text as a block, as people write prompts by hand
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def check_size(text: str, source: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise too_large(source, size)
