"""Runnable code for the current conversation: Python with azure-ai-inference, Python with openai, and curl.

No secret is ever written into the code: every snippet reads the key from the environment variable named by
`key_env_var`, and each extra header value from the one named by `header_env_var` (deployment and header name).
"""

from __future__ import annotations

import json
import pprint
import re
import shlex
from typing import Any

from services.config import Deployment
from services.http import api_version, chat_body

KEY_ENV_VARS = {
    "azure-inference": "AZUREAI_ENDPOINT_KEY",
    "azure-openai": "AZURE_OPENAI_API_KEY",
    "openai": "OPENAI_API_KEY",
    "github": "GITHUB_TOKEN",
}
# Kinds whose endpoint understands the `extra-parameters` header (as in services.http).
EXTRA_HEADER_KINDS = ("azure-inference", "github")
_SDK_KEYWORDS = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed")


def key_env_var(deployment: Deployment) -> str:
    """The environment variable a snippet reads the key from."""
    return KEY_ENV_VARS[deployment.api]


def header_env_var(deployment: Deployment, header: str) -> str:
    """The environment variable a snippet reads one extra header's value from, e.g. PHI4_HEADER_X_CUSTOM."""
    name = re.sub(r"[^A-Z0-9]+", "_", f"{deployment.name}_HEADER_{header}".upper()).strip("_")
    return name if not name[:1].isdigit() else f"_{name}"


def header_env_vars(deployment: Deployment) -> dict[str, str]:
    """Each extra header of the deployment and the environment variable its value is read from."""
    return {header: header_env_var(deployment, header) for header in deployment.extra_headers}


def chat_url(deployment: Deployment) -> str:
    """The full chat completions URL, with the api-version query when the kind takes one."""
    version = api_version(deployment)
    url = f"{deployment.endpoint}/chat/completions"
    return f"{url}?api-version={version}" if version else url


def request_body(deployment: Deployment, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body the API receives for these messages and parameters (built as the client builds it)."""
    return chat_body(deployment, messages, params, stream=False)[0]


def request_headers(deployment: Deployment, params: dict[str, Any], key_placeholder: str) -> dict[str, str]:
    """Headers of the request, with `key_placeholder` where the key goes and `$<header_env_var>` where an extra
    header's value goes (never a secret itself)."""
    headers = {"Content-Type": "application/json"}
    if deployment.key is not None and deployment.auth == "key":
        if deployment.api in ("azure-inference", "azure-openai"):
            headers["api-key"] = key_placeholder
        if deployment.api != "azure-openai":
            headers["Authorization"] = f"Bearer {key_placeholder}"
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    if params.get("model_extras") and deployment.api in EXTRA_HEADER_KINDS:
        headers["extra-parameters"] = params.get("extra_parameters") or "pass-through"
    headers.update({header: f"${env}" for header, env in header_env_vars(deployment).items()})
    return headers


def _literal(value: Any, indent: int = 0) -> str:
    text = pprint.pformat(value, width=100 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def _kwargs_lines(kwargs: dict[str, Any]) -> list[str]:
    return [f"    {name}={_literal(value, 4)}," for name, value in kwargs.items()]


def _headers_code(deployment: Deployment, plain: dict[str, str]) -> str | None:
    """A Python dict expression of the headers: `plain` ones as literals, extra ones read from the environment."""
    secret = header_env_vars(deployment)
    if not secret:
        return _literal(plain, 4) if plain else None
    items = [f"        {name!r}: {value!r}," for name, value in plain.items() if name not in secret]
    items += [f"        {name!r}: os.environ[{env!r}]," for name, env in secret.items()]
    return "{\n" + "\n".join(items) + "\n    }"


def openai_credentials(deployment: Deployment, env: str, imports: list[str], client_args: list[str]) -> str:
    """The openai client's auth and header arguments (appended to `client_args`, imports to `imports`); returns the
    comment that says where the key comes from. The key itself is only ever an environment variable's name."""
    if deployment.auth == "entra":
        imports.append("from azure.identity import DefaultAzureCredential, get_bearer_token_provider")
        scope = "https://cognitiveservices.azure.com/.default"
        client_args.append(
            f"    azure_ad_token_provider=get_bearer_token_provider(DefaultAzureCredential(), {scope!r}),"
        )
        key_comment = "# Signs in with Microsoft Entra ID (az login, managed identity, ...)."
    elif deployment.key is not None:
        client_args.append(f'    api_key=os.environ["{env}"],')
        key_comment = f'# The key of deployment "{deployment.name}" is read from the environment variable {env}.'
    else:
        # The openai SDK insists on a key even when the endpoint takes none.
        client_args.append(f'    api_key=os.environ.get("{env}", "unused"),')
        key_comment = f"# This endpoint takes no key; set {env} if yours does."
    headers: dict[str, str] = {}
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    headers_code = _headers_code(deployment, headers)
    if headers_code:
        client_args.append(f"    default_headers={headers_code},")
    return key_comment


def _header_comments(deployment: Deployment, prefix: str = "# ") -> list[str]:
    return [
        f'{prefix}Header {header} of deployment "{deployment.name}" is read from the environment variable {env}.'
        for header, env in header_env_vars(deployment).items()
    ]


def python_azure_inference(deployment: Deployment, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """A runnable script that sends this request with the `azure-ai-inference` SDK and prints the answer."""
    env = key_env_var(deployment)
    imports = ["import os", "", "from azure.ai.inference import ChatCompletionsClient"]
    kwargs: dict[str, Any] = {"messages": messages}
    if deployment.model:
        kwargs["model"] = deployment.model
    kwargs.update({name: params[name] for name in _SDK_KEYWORDS if params.get(name) is not None})
    extra_code: dict[str, str] = {}
    response_format = params.get("response_format")
    if response_format and response_format.get("type") == "json_schema":
        imports.append("from azure.ai.inference.models import JsonSchemaFormat")
        spec = response_format["json_schema"]
        args = ", ".join(
            f"{k}={_literal(spec[k], 8)}" for k in ("name", "schema", "description", "strict") if k in spec
        )
        extra_code["response_format"] = f"JsonSchemaFormat({args})"
    elif response_format:
        kwargs["response_format"] = response_format["type"]
    for name in ("tools", "tool_choice", "model_extras"):
        if params.get(name):
            kwargs[name] = params[name]
    headers: dict[str, str] = {}
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    if params.get("model_extras") and params.get("extra_parameters") not in (None, "pass-through"):
        headers["extra-parameters"] = params["extra_parameters"]
    if deployment.auth == "entra":
        imports.append("from azure.identity import DefaultAzureCredential")
        credential = "DefaultAzureCredential()"
        key_comment = "# Signs in with Microsoft Entra ID (az login, managed identity, ...)."
    else:
        imports.append("from azure.core.credentials import AzureKeyCredential")
        if deployment.key is not None:
            credential = f'AzureKeyCredential(os.environ["{env}"])'
        else:
            # The SDK needs a credential even for endpoints that take no key.
            credential = f'AzureKeyCredential(os.environ.get("{env}", "unused"))'
        key_comment = f'# The key of deployment "{deployment.name}" is read from the environment variable {env}.'
    client_args = [f"    endpoint={deployment.endpoint!r},", f"    credential={credential},"]
    if api_version(deployment):
        client_args.append(f"    api_version={api_version(deployment)!r},")
    headers_code = _headers_code(deployment, headers)
    if headers_code:
        client_args.append(f"    headers={headers_code},")
    call_lines = _kwargs_lines(kwargs) + [f"    {name}={code}," for name, code in extra_code.items()]
    lines = [
        *imports,
        "",
        key_comment,
        *_header_comments(deployment),
        "client = ChatCompletionsClient(",
        *client_args,
        ")",
        "response = client.complete(",
        *call_lines,
        ")",
        "message = response.choices[0].message",
        "print(message.content)",
        "for call in message.tool_calls or []:",
        "    print(call.function.name, call.function.arguments)",
        "",
    ]
    return "\n".join(lines)


def python_openai(deployment: Deployment, messages: list[dict[str, Any]], params: dict[str, Any]) -> str | None:
    """A runnable script with the `openai` SDK, or None when the deployment's kind cannot be reached with it.

    Azure OpenAI uses `AzureOpenAI`; the other kinds serve an OpenAI-compatible `/chat/completions` route.
    Entra sign-in is only offered by `AzureOpenAI`, so other kinds with Entra auth get None.
    """
    if deployment.auth == "entra" and deployment.api != "azure-openai":
        return None
    env = key_env_var(deployment)
    version = api_version(deployment)
    imports = ["import os", ""]
    client_args: list[str] = []
    if deployment.api == "azure-openai":
        imports.append("from openai import AzureOpenAI")
        constructor = "AzureOpenAI"
        client_args.append(f"    base_url={deployment.endpoint!r},")
        client_args.append(f"    api_version={version!r},")
    else:
        imports.append("from openai import OpenAI")
        constructor = "OpenAI"
        client_args.append(f"    base_url={deployment.endpoint!r},")
        if version:
            client_args.append(f"    default_query={{'api-version': {version!r}}},")
    key_comment = openai_credentials(deployment, env, imports, client_args)
    kwargs: dict[str, Any] = {"model": deployment.model or deployment.name, "messages": messages}
    kwargs.update({k: v for k, v in params.items() if k not in ("model_extras", "extra_parameters")})
    if params.get("model_extras"):
        kwargs["extra_body"] = params["model_extras"]
        if deployment.api in EXTRA_HEADER_KINDS:
            kwargs["extra_headers"] = {"extra-parameters": params.get("extra_parameters") or "pass-through"}
    lines = [
        *imports,
        "",
        key_comment,
        *_header_comments(deployment),
        f"client = {constructor}(",
        *client_args,
        ")",
        "response = client.chat.completions.create(",
        *_kwargs_lines(kwargs),
        ")",
        "message = response.choices[0].message",
        "print(message.content)",
        "for call in message.tool_calls or []:",
        "    print(call.function.name, call.function.arguments)",
        "",
    ]
    return "\n".join(lines)


def curl(deployment: Deployment, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """A curl command (bash) that sends this request; the key comes from an environment variable."""
    env = key_env_var(deployment)
    lines = []
    if deployment.auth == "entra":
        lines.append(
            f'{env}="$(az account get-access-token --resource https://ml.azure.com --query accessToken -o tsv)"'
        )
    elif deployment.key is not None:
        lines.append(f'# The key of deployment "{deployment.name}" is read from the environment variable {env}.')
    lines += _header_comments(deployment)
    lines.append(f"curl -sS -X POST {shlex.quote(chat_url(deployment))} \\")
    placeholder = f"${env}"
    if deployment.auth == "entra":
        headers = request_headers(deployment.model_copy(update={"auth": "key", "key": "x"}), params, placeholder)
        headers.pop("api-key", None)
        headers["Authorization"] = f"Bearer {placeholder}"
    else:
        headers = request_headers(deployment, params, placeholder)
    expanded = {f"${env}" for env in header_env_vars(deployment).values()}
    for name, value in headers.items():
        # Double quotes so the shell expands the secret variables; nothing else in a header needs expanding.
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
        if placeholder not in value and value not in expanded:
            escaped = escaped.replace("$", "\\$")
        lines.append(f'  -H "{name}: {escaped}" \\')
    body = json.dumps(request_body(deployment, messages, params), indent=2, ensure_ascii=False)
    lines += ["  --data-binary @- <<'JSON'", body, "JSON", ""]
    return "\n".join(lines)
