""" "View code" snippets run as written: each sends the app's request, with the key from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services import codegen
from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_body

SECRET = "sk-test-0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": 'Say "hi" and $HOME'},
]
PARAMS = {
    "temperature": 0.2,
    "max_tokens": 5,
    "stop": ["END"],
    "seed": 3,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
    },
    "model_extras": {"top_k": 4},
    "extra_parameters": "pass-through",
}


def _run(args: list[str], env_var: str) -> str:
    env = {**os.environ, env_var: SECRET}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _deployment(endpoint: str, api: str = "azure-inference", **extra: object) -> Deployment:
    return Deployment(name="dep-a", endpoint=endpoint, key=SECRET, api=api, key_source="file", **extra)


def _expected_body() -> dict[str, object]:
    body = {k: v for k, v in PARAMS.items() if k not in ("model_extras", "extra_parameters")}
    return {"messages": MESSAGES, **body, "top_k": 4}


@pytest.mark.parametrize("kind", ["azure_inference", "openai", "curl"])
def test_snippet_sends_the_request_with_the_key_from_the_environment(fault_server: FaultServer, kind: str) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("generated answer")))
    deployment = _deployment(scenario.endpoint)
    if kind == "curl":
        code = codegen.curl(deployment, MESSAGES, PARAMS)
        output = _run(["bash", "-c", code], "AZUREAI_ENDPOINT_KEY")
        assert json.loads(output)["choices"][0]["message"]["content"] == "generated answer"
    else:
        make = codegen.python_azure_inference if kind == "azure_inference" else codegen.python_openai
        code = make(deployment, MESSAGES, PARAMS)
        assert code is not None
        output = _run([sys.executable, "-c", code], "AZUREAI_ENDPOINT_KEY")
        assert output.strip() == "generated answer"
    assert SECRET not in code
    assert "AZUREAI_ENDPOINT_KEY" in code
    [request] = scenario.requests
    assert request.path == "/chat/completions"
    assert "api-version=2024-05-01-preview" in request.query
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["extra-parameters"] == "pass-through"
    body = request.json()
    body.pop("model", None)  # the openai SDK always names a model
    assert body == _expected_body()


def test_openai_snippet_for_azure_openai_uses_api_key_header_and_its_api_version(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("from aoai")))
    deployment = _deployment(scenario.endpoint, api="azure-openai")
    code = codegen.python_openai(deployment, MESSAGES, {"max_tokens": 5})
    assert code is not None and "AzureOpenAI" in code
    assert _run([sys.executable, "-c", code], "AZURE_OPENAI_API_KEY").strip() == "from aoai"
    [request] = scenario.requests
    assert request.headers["api-key"] == SECRET
    assert "api-version=2024-10-21" in request.query


def test_snippets_for_a_keyless_deployment_send_no_key(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("ok")))
    deployment = Deployment(name="local", endpoint=scenario.endpoint)
    code = codegen.curl(deployment, MESSAGES, {})
    assert "Authorization" not in code
    _run(["bash", "-c", code], "UNUSED")
    assert "authorization" not in scenario.requests[0].headers


def test_no_snippet_contains_the_key() -> None:
    for api in ("azure-inference", "azure-openai", "openai", "github"):
        deployment = _deployment("https://example.invalid/x", api=api, extra_headers={"x-team": "blue"})
        for make in (codegen.python_azure_inference, codegen.python_openai, codegen.curl):
            code = make(deployment, MESSAGES, PARAMS)
            assert code is not None and SECRET not in code
            assert codegen.key_env_var(deployment) in code


HEADER_SECRET = "hdr-secret-9876543210"


@pytest.mark.parametrize("kind", ["azure_inference", "openai", "curl"])
def test_snippet_reads_extra_header_values_from_the_environment(fault_server: FaultServer, kind: str) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("with header")))
    deployment = Deployment(
        name="phi4",
        endpoint=scenario.endpoint,
        key=SECRET,
        key_source="file",
        azureml_deployment="blue",
        extra_headers={"x-custom": HEADER_SECRET, "X-Other-Id": "$not-a-variable"},
    )
    assert codegen.header_env_vars(deployment) == {
        "x-custom": "PHI4_HEADER_X_CUSTOM",
        "X-Other-Id": "PHI4_HEADER_X_OTHER_ID",
    }
    if kind == "curl":
        code = codegen.curl(deployment, MESSAGES, {"max_tokens": 5})
        assert "$PHI4_HEADER_X_CUSTOM" in code
        args = ["bash", "-c", code]
    else:
        make = codegen.python_azure_inference if kind == "azure_inference" else codegen.python_openai
        code = make(deployment, MESSAGES, {"max_tokens": 5})
        assert code is not None and 'os.environ["PHI4_HEADER_X_CUSTOM"]' in code.replace("'", '"')
        args = [sys.executable, "-c", code]
    assert HEADER_SECRET not in code and "$not-a-variable" not in code and SECRET not in code
    env = {**os.environ, "AZUREAI_ENDPOINT_KEY": SECRET, "PHI4_HEADER_X_CUSTOM": HEADER_SECRET}
    env["PHI4_HEADER_X_OTHER_ID"] = "$not-a-variable"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    [request] = scenario.requests
    assert request.headers["x-custom"] == HEADER_SECRET
    assert request.headers["x-other-id"] == "$not-a-variable"  # the shell does not expand the value it read
    assert request.headers["azureml-model-deployment"] == "blue"


def test_a_header_variable_name_is_a_valid_shell_name() -> None:
    deployment = Deployment(name="4o-mini.eu", endpoint="https://x.y", extra_headers={"x-ms--trace": "v"})
    assert codegen.header_env_var(deployment, "x-ms--trace") == "_4O_MINI_EU_HEADER_X_MS_TRACE"
