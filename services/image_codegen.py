"""Runnable code for one image generation: Python with azure-ai-inference, Python with openai, and curl.

As services.codegen does for chat, every snippet reads the key from the environment variable `codegen.key_env_var`
names and each extra header's value from its own variable: no secret is ever written into the code. The body is the
one InferenceClient.generate_images sends (services.image_generation.request_body), so the code shows what was sent.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from services.codegen import (
    _header_comments,
    _headers_code,
    _kwargs_lines,
    _literal,
    header_env_vars,
    key_env_var,
    openai_credentials,
)
from services.config import Deployment
from services.http import api_version, entra_scope
from services.image_generation import ROUTE, request_body

# The keywords of openai's `client.images.generate`; anything else goes in `extra_body`.
_OPENAI_KEYWORDS = (
    "n",
    "size",
    "quality",
    "style",
    "response_format",
    "user",
    "background",
    "output_format",
    "output_compression",
    "moderation",
)
# How the snippets save what came back: b64_json to files, a url printed (fetching it is the reader's choice).
_SAVE_LINES = [
    "    if {revised}:",
    '        print(f"image {{index}} revised prompt: {{{revised}}}")',
    "    if {b64}:",
    '        path = f"image-{{index}}.{ext}"',
    '        with open(path, "wb") as file:',
    "            file.write(base64.b64decode({b64}))",
    '        print(f"image {{index}} saved as {{path}}")',
    "    else:",
    '        print(f"image {{index}} is at {{{url}}}")',
]


def _body_and_mode(deployment: Deployment, prompt: str, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    body, mode, _ = request_body(deployment, prompt, {k: v for k, v in params.items() if k != "max_image_bytes"})
    return body, mode


def _extension(params: dict[str, Any]) -> str:
    return {"jpeg": "jpg"}.get(params.get("output_format") or "png", params.get("output_format") or "png")


def images_url(deployment: Deployment) -> str:
    """The full /images/generations URL, with the api-version query when the kind takes one."""
    version = api_version(deployment)
    url = f"{deployment.endpoint}{ROUTE}"
    return f"{url}?api-version={version}" if version else url


def _save_loop(items: str, *, b64: str, url: str, revised: str, ext: str) -> list[str]:
    lines = [f"for index, item in enumerate({items}, start=1):"]
    lines += [line.format(b64=b64, url=url, revised=revised, ext=ext) for line in _SAVE_LINES]
    return lines


def python_azure_inference(deployment: Deployment, prompt: str, params: dict[str, Any]) -> str:
    """A runnable script that sends this generation through the `azure-ai-inference` SDK's pipeline and saves the
    images. The SDK (1.0.0b9, its newest release) has no image generation client, so the script sends the request
    with the chat client's `send_request`: the same endpoint, key handling, api-version and retries."""
    env = key_env_var(deployment)
    body, mode = _body_and_mode(deployment, prompt, params)
    version = api_version(deployment)
    imports = ["import base64", "import os", "", "from azure.ai.inference import ChatCompletionsClient"]
    client_args = [f"    endpoint={deployment.endpoint!r},"]
    if deployment.auth == "entra":
        imports.append("from azure.identity import DefaultAzureCredential")
        client_args.append("    credential=DefaultAzureCredential(),")
        client_args.append(f"    credential_scopes=[{entra_scope(deployment)!r}],")
        key_comment = "# Signs in with Microsoft Entra ID (az login, managed identity, ...)."
    else:
        imports.append("from azure.core.credentials import AzureKeyCredential")
        if deployment.key is not None:
            client_args.append(f'    credential=AzureKeyCredential(os.environ["{env}"]),')
        else:
            # The SDK needs a credential even for endpoints that take no key.
            client_args.append(f'    credential=AzureKeyCredential(os.environ.get("{env}", "unused")),')
        key_comment = f'# The key of deployment "{deployment.name}" is read from the environment variable {env}.'
    imports.append("from azure.core.rest import HttpRequest")
    headers: dict[str, str] = {}
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    headers_code = _headers_code(deployment, headers)
    if headers_code:
        client_args.append(f"    headers={headers_code},")
    request_args = ['    "POST",', f"    {ROUTE!r},"]
    if version:
        request_args.append(f"    params={{'api-version': {version!r}}},")
    if mode and deployment.api in ("azure-inference", "github"):
        request_args.append(f"    headers={{'extra-parameters': {mode!r}}},")
    request_args.append(f"    json={_literal(body, 4)},")
    lines = [
        *imports,
        "",
        "# azure-ai-inference has no image generation client (1.0.0b9): the chat client's pipeline sends the request.",
        key_comment,
        *_header_comments(deployment),
        "client = ChatCompletionsClient(",
        *client_args,
        ")",
        "request = HttpRequest(",
        *request_args,
        ")",
        "response = client.send_request(request)",
        "response.raise_for_status()",
        *_save_loop(
            'response.json()["data"]',
            # Single quotes: they sit inside f-strings, which cannot hold their own quote before Python 3.12.
            b64="item.get('b64_json')",
            url="item.get('url')",
            revised="item.get('revised_prompt')",
            ext=_extension(params),
        ),
        "",
    ]
    return "\n".join(lines)


def python_openai(deployment: Deployment, prompt: str, params: dict[str, Any]) -> str | None:
    """A runnable script with the `openai` SDK's `client.images.generate`, or None when the kind cannot be reached
    with it (Entra sign-in outside Azure OpenAI)."""
    if deployment.auth == "entra" and deployment.api != "azure-openai":
        return None
    env = key_env_var(deployment)
    version = api_version(deployment)
    body, mode = _body_and_mode(deployment, prompt, params)
    imports = ["import base64", "import os", ""]
    client_args = [f"    base_url={deployment.endpoint!r},"]
    if deployment.api == "azure-openai":
        imports.append("from openai import AzureOpenAI")
        constructor = "AzureOpenAI"
        client_args.append(f"    api_version={version!r},")
    else:
        imports.append("from openai import OpenAI")
        constructor = "OpenAI"
        if version:
            client_args.append(f"    default_query={{'api-version': {version!r}}},")
    key_comment = openai_credentials(deployment, env, imports, client_args)
    kwargs: dict[str, Any] = {"model": body.pop("model", None) or deployment.model or deployment.name}
    kwargs["prompt"] = body.pop("prompt")
    kwargs.update({name: body.pop(name) for name in _OPENAI_KEYWORDS if name in body})
    if body:  # seed, negative_prompt and other extras
        kwargs["extra_body"] = body
    if mode and deployment.api in ("azure-inference", "github"):
        kwargs["extra_headers"] = {"extra-parameters": mode}
    lines = [
        *imports,
        "",
        key_comment,
        *_header_comments(deployment),
        f"client = {constructor}(",
        *client_args,
        ")",
        "result = client.images.generate(",
        *_kwargs_lines(kwargs),
        ")",
        *_save_loop(
            "result.data", b64="item.b64_json", url="item.url", revised="item.revised_prompt", ext=_extension(params)
        ),
        "",
    ]
    return "\n".join(lines)


def curl(deployment: Deployment, prompt: str, params: dict[str, Any]) -> str:
    """A curl command (bash) that sends this generation; the key comes from an environment variable."""
    env = key_env_var(deployment)
    body, mode = _body_and_mode(deployment, prompt, params)
    placeholder = f"${env}"
    lines = []
    headers = {"Content-Type": "application/json"}
    if deployment.auth == "entra":
        scope = entra_scope(deployment).removesuffix("/.default")
        lines.append(f'{env}="$(az account get-access-token --resource {scope} --query accessToken -o tsv)"')
        headers["Authorization"] = f"Bearer {placeholder}"
    elif deployment.key is not None:
        lines.append(f'# The key of deployment "{deployment.name}" is read from the environment variable {env}.')
        if deployment.api in ("azure-inference", "azure-openai"):
            headers["api-key"] = placeholder
        if deployment.api != "azure-openai":
            headers["Authorization"] = f"Bearer {placeholder}"
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    if mode and deployment.api in ("azure-inference", "github"):
        headers["extra-parameters"] = mode
    expanded = {f"${name}" for name in header_env_vars(deployment).values()}
    headers.update({header: f"${name}" for header, name in header_env_vars(deployment).items()})
    lines += _header_comments(deployment)
    lines.append("# The images come back in .data[].b64_json (base64; decode with `base64 -d`) or as .data[].url.")
    lines.append(f"curl -sS -X POST {shlex.quote(images_url(deployment))} \\")
    for name, value in headers.items():
        # Double quotes so the shell expands the secret variables; nothing else in a header needs expanding.
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
        if placeholder not in value and value not in expanded:
            escaped = escaped.replace("$", "\\$")
        lines.append(f'  -H "{name}: {escaped}" \\')
    lines += ["  --data-binary @- <<'JSON'", json.dumps(body, indent=2, ensure_ascii=False), "JSON", ""]
    return "\n".join(lines)
