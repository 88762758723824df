"""Prompts as files: Prompty (`.prompty`) and GitHub Models (`.prompt.yml`), their variables, and the library folder.

Decision: the `prompty` package (PyPI 2.1.0) is not used; PyYAML + Jinja2's sandbox are. Prompty 2.x reads only the
Prompty v2 shape (`model.id` / `connection` / `options`, `inputs` as a list; a legacy `template: jinja2` is rejected),
not the v1 shape that Azure AI Foundry, the Azure AI Inference SDK's `PromptTemplate.from_prompty` and the existing
`.prompty` files use (`model.configuration` / `parameters`, `sample`); its loader resolves `${env:VAR}` references
while loading (and fails when one is unset), where this playground must keep them as references; it writes only
the v2 shape (`Agent.to_yaml`), which the Azure SDK cannot load (it expects `inputs` as a mapping); and it would add
`aiofiles`. PyYAML 6.0.3 and Jinja2 3.1.6 were already pinned in constraints.txt (now direct requirements too).
Prompty v2 files are read here too (into the v1 shape).

Where things live: the data model and errors in prompt_model.py; `.prompty` in prompt_prompty.py, `.prompt.yml` in
prompt_yml.py, converting between them in prompt_convert.py (what a format cannot hold is named in notices), shared
YAML handling in prompt_yaml.py; rendering in prompt_render.py, with Jinja2 in prompt_sandbox.py
(ImmutableSandboxedEnvironment, StrictUndefined, bounded output) and GitHub's plain `{{name}}` substitution for
`.prompt.yml` in prompt_syntax.py (not Jinja2: see prompt_render's docstring); the library folder in prompt_files.py.

This module is the one to import: it re-exports the public API and maps a prompt's model settings to the
playground's deployments and request parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

from services.config import Deployment
from services.http import CHAT_PARAMS
from services.prompt_files import (
    PROMPTS_DIR_ENV,
    PromptSummary,
    SavedPrompt,
    check_name,
    content_token,
    delete_prompt,
    duplicate_prompt,
    import_prompt,
    list_prompts,
    load_prompt,
    prompts_dir,
    save_prompt,
    slug,
)
from services.prompt_formats import Dumped, convert, dump_prompt, format_of, parse_prompt
from services.prompt_model import (
    MAX_FILE_BYTES,
    ModelRef,
    Prompt,
    PromptConflictError,
    PromptConvertError,
    PromptError,
    PromptExistsError,
    PromptFormat,
    PromptMessage,
    PromptNameError,
    PromptNotFoundError,
    PromptParameters,
    PromptParseError,
    PromptTemplateError,
    PromptTooLargeError,
    PromptUndefinedError,
    PromptVariable,
)
from services.prompt_render import prompt_variables, render_messages, variables_in

__all__ = [
    "MAX_FILE_BYTES",
    "PROMPTS_DIR_ENV",
    "Dumped",
    "ModelRef",
    "Prompt",
    "PromptConflictError",
    "PromptConvertError",
    "PromptError",
    "PromptExistsError",
    "PromptFormat",
    "PromptMessage",
    "PromptNameError",
    "PromptNotFoundError",
    "PromptParameters",
    "PromptParseError",
    "PromptSummary",
    "PromptTemplateError",
    "PromptTooLargeError",
    "PromptUndefinedError",
    "PromptVariable",
    "SavedPrompt",
    "chat_parameters",
    "check_name",
    "choose_deployment",
    "content_token",
    "convert",
    "delete_prompt",
    "dump_prompt",
    "duplicate_prompt",
    "format_of",
    "import_prompt",
    "is_reference",
    "list_prompts",
    "load_prompt",
    "model_ref_for",
    "parameters_from_request",
    "parse_prompt",
    "prompt_variables",
    "prompts_dir",
    "render_messages",
    "save_prompt",
    "slug",
    "variables_in",
]

# Our api kinds as Prompty's configuration.type.
CONFIG_TYPES = {"azure-openai": "azure_openai", "openai": "openai", "azure-inference": "serverless", "github": "openai"}


def is_reference(value: Any) -> bool:
    """True for `${env:VAR}` / `${file:...}` text: a reference kept as written, never resolved here."""
    return isinstance(value, str) and value.strip().startswith("${") and value.strip().endswith("}")


def _host(url: str | None) -> str | None:
    if not url or is_reference(url):
        return None
    parsed = urlparse(url.strip() if "://" in url else f"https://{url.strip()}")
    return (parsed.hostname or "").lower() or None


def choose_deployment(
    model: ModelRef | Prompt, deployments: Mapping[str, Deployment] | Iterable[Deployment]
) -> str | None:
    """The name of our deployment the prompt's model settings point at, or None.

    Matches, in order: a deployment named like the file's deployment (azure_deployment / name / model / a .prompt.yml
    model id, also without its `publisher/` prefix), then one whose `model` or `azureml_deployment` is that; a literal
    endpoint narrows ties (references are never resolved, so they cannot match); with no deployment named, the one
    deployment at a literal endpoint's host.
    """
    ref = model.model if isinstance(model, Prompt) else model
    pool = list(deployments.values()) if isinstance(deployments, Mapping) else list(deployments)
    host = _host(ref.endpoint)
    wanted = None if is_reference(ref.deployment) else (ref.deployment or "").strip().lower()
    if wanted:
        names = {wanted, wanted.rsplit("/", 1)[-1]}
        for attribute in ("name", "model", "azureml_deployment"):
            found = [d for d in pool if (getattr(d, attribute) or "").lower() in names]
            at_host = [d for d in found if host and _host(d.endpoint) == host]
            if at_host or found:
                return (at_host or found)[0].name
        return None
    at_host = [d for d in pool if host and _host(d.endpoint) == host]
    return at_host[0].name if len(at_host) == 1 else None


def chat_parameters(prompt: Prompt) -> dict[str, Any]:
    """The request parameters the prompt asks for, in the API's names (services.client's chat() takes them).

    `response_format` becomes {"type": ...} (+ "json_schema"); other Prompty parameters (tools, tool_choice, ...) are
    passed on, except values that are unresolved `${...}` references.
    """
    p = prompt.parameters
    params: dict[str, Any] = {}
    for name in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed"):
        value = getattr(p, name)
        if value is not None:
            params[name] = value
    if p.response_format == "json_schema" and p.json_schema is not None:
        params["response_format"] = {"type": "json_schema", "json_schema": p.json_schema}
    elif p.response_format is not None:
        params["response_format"] = {"type": p.response_format}
    extras: dict[str, Any] = {}
    for name, value in p.extra.items():
        if is_reference(value) or name in params:
            continue
        if name == "model_extras" and isinstance(value, Mapping):
            extras.update(value)
        elif name in CHAT_PARAMS or name == "extra_parameters":
            params[name] = value
        else:
            extras[name] = value  # a model's own parameter (top_k, ...): sent as an extra, as the chat page does
    if extras:
        params["model_extras"] = extras
        params.setdefault("extra_parameters", "pass-through")
    return params


def parameters_from_request(params: Mapping[str, Any]) -> PromptParameters:
    """The inverse of chat_parameters: request parameters (e.g. the chat page's) as a prompt's parameters."""
    known = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed")
    out = PromptParameters(**{name: params[name] for name in known if params.get(name) is not None})
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("text", "json_object", "json_schema"):
        out.response_format = fmt["type"]
        out.json_schema = dict(fmt["json_schema"]) if fmt["type"] == "json_schema" else None
    out.extra = {k: v for k, v in params.items() if k not in (*known, "response_format") and v is not None}
    return out


def model_ref_for(deployment: Deployment) -> ModelRef:
    """Model settings naming one of our deployments (for "Save as prompt"): type, endpoint, name; never the key."""
    return ModelRef(
        type=CONFIG_TYPES.get(deployment.api),
        endpoint=deployment.endpoint,
        deployment=deployment.name,
        api_version=deployment.api_version,
    )
