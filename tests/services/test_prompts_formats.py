"""Prompt files in both formats: parse the published examples, write, round-trip, convert; real consumers read ours.

The consumers: the Azure AI Inference SDK's `PromptTemplate.from_prompty(...).create_messages(...)` for `.prompty`,
and the key set and types of github/gh-models `pkg/prompt/prompt.go` (the structs `gh models` unmarshals) for
`.prompt.yml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.inference.prompts import PromptTemplate

from services.client import InferenceClient
from services.config import Deployment
from services.prompts import (
    ModelRef,
    Prompt,
    PromptConvertError,
    PromptMessage,
    PromptParameters,
    PromptVariable,
    chat_parameters,
    choose_deployment,
    convert,
    dump_prompt,
    format_of,
    model_ref_for,
    parameters_from_request,
    parse_prompt,
    render_messages,
)
from tests.fixtures.fault_server import FaultServer, Reply, chat_body

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "prompts"
PROMPTY_FILES = sorted(p.name for p in EXAMPLES.glob("*.prompty"))
YML_FILES = sorted(p.name for p in EXAMPLES.glob("*.prompt.yml"))
# Values the SDK needs to load files whose configuration holds references (it resolves them; we never do).
SDK_ENV = {"AZURE_OPENAI_ENDPOINT": "https://example.invalid", "OPENAI_ENDPOINT": "x", "OPENAI_API_KEY": "x"}


def _load(name: str) -> Prompt:
    return parse_prompt((EXAMPLES / name).read_text(encoding="utf-8"), format_of(name), name)


def _values(prompt: Prompt) -> dict[str, Any]:
    values = prompt.initial_values()
    for name in values:
        if values[name] == "":
            values[name] = f"a value for {name}"
    if "chat_history" in values:
        values["chat_history"] = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    return values


def _stripped(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    # A .prompty keeps no whitespace around a message (its parser strips it), so compare without it.
    return [(m["role"], m["content"].strip()) for m in messages]


# --- parsing the published examples ----------------------------------------------------------------------------


def test_prompty_v1_example_fields() -> None:
    prompt = _load("shakespeare.prompty")
    assert prompt.name == "Shakespearean Writing Prompty"
    assert prompt.authors == ["Bethany Jepchumba"]
    assert prompt.model.type == "azure_openai"
    assert prompt.model.endpoint == "${env:AZURE_OPENAI_ENDPOINT}"  # a reference, kept as text
    assert prompt.model.deployment == "gpt-4"
    assert prompt.parameters.max_tokens == 3000
    assert [m.role for m in prompt.messages] == ["system", "user"]
    # "user: Please write..." has text after the colon: it is part of the system message, not a role line.
    assert "user: Please write a short text" in prompt.messages[0].content
    assert prompt.messages[1].content == "{{question}}"
    assert list(prompt.variables) == ["question"]
    assert prompt.test_data == [{"question": "Please write a short text inviting friends to a Game Night."}]
    assert prompt.notices == []


def test_prompty_serverless_keeps_key_reference() -> None:
    prompt = _load("serverless.prompty")
    assert prompt.model.type == "serverless"
    assert prompt.model.endpoint == "https://models.inference.ai.azure.com"
    assert prompt.model.deployment == "Mistral-small"
    assert prompt.model.configuration["key"] == "${env:SERVERLESS_KEY:KEY}"
    text = dump_prompt(prompt, "prompty").text
    assert "key: ${env:SERVERLESS_KEY:KEY}" in text


def test_prompty_v2_example_is_read_into_v1_shape() -> None:
    prompt = _load("v2_basic.prompty")
    assert prompt.model.deployment == "gpt-4"
    assert prompt.model.type == "openai"
    assert prompt.model.endpoint == "${env:OPENAI_ENDPOINT:https://api.openai.com/v1}"
    assert prompt.model.configuration["api_key"] == "${env:OPENAI_API_KEY}"
    assert prompt.parameters.temperature == 0.7
    assert prompt.parameters.max_tokens == 1000
    assert {n: v.default for n, v in prompt.variables.items()} == {
        "firstName": "Jane",
        "lastName": "Doe",
        "question": "What is the meaning of life?",
    }
    assert all(v.declared and v.type == "string" for v in prompt.variables.values())
    assert prompt.authors == ["testauthor"]
    assert any("v2" in notice for notice in prompt.notices)


def test_prompt_yml_example_fields() -> None:
    prompt = _load("judged.prompt.yml")
    assert prompt.model.deployment == "openai/gpt-4o-mini"
    assert (prompt.parameters.max_tokens, prompt.parameters.temperature, prompt.parameters.top_p) == (200, 0.2, 0.9)
    assert prompt.syntax == "placeholders"
    assert list(prompt.variables) == ["topic", "input"]
    assert len(prompt.test_data) == 2
    assert [list(e)[1] for e in prompt.evaluators] == ["string", "llm", "uses"]
    assert prompt.evaluators[1]["llm"]["choices"][0] == {"choice": "good", "score": 1.0}


def test_prompt_yml_json_schema_is_parsed_from_its_json_string() -> None:
    prompt = _load("json_schema.prompt.yml")
    assert prompt.parameters.response_format == "json_schema"
    assert prompt.parameters.json_schema is not None
    assert prompt.parameters.json_schema["name"] == "animal_description"
    assert prompt.parameters.json_schema["schema"]["required"] == ["name", "habitat", "diet"]
    assert chat_parameters(prompt)["response_format"] == {
        "type": "json_schema",
        "json_schema": prompt.parameters.json_schema,
    }


def test_unknown_fields_are_kept_with_a_notice() -> None:
    text = "---\nname: x\nowner: team-a\nmodel:\n  api: chat\n  retries: 3\n---\nuser:\nHi\n"
    prompt = parse_prompt(text, "prompty")
    assert prompt.extra["owner"] == "team-a"
    assert prompt.extra["model"] == {"retries": 3}
    assert any("'owner'" in n for n in prompt.notices)
    assert any("'model.retries'" in n for n in prompt.notices)
    written = yaml.safe_load(dump_prompt(prompt, "prompty").text.split("---")[1])
    assert written["owner"] == "team-a"
    assert written["model"]["retries"] == 3
    yml = parse_prompt("name: y\nmessages: [{role: user, content: hi}]\nextraThing: 1\n", "prompt.yml")
    assert yml.extra == {"extraThing": 1}
    assert any("'extraThing'" in n for n in yml.notices)
    assert yaml.safe_load(dump_prompt(yml, "prompt.yml").text)["extraThing"] == 1


def test_literal_secret_in_a_file_is_dropped_never_kept() -> None:
    text = "---\nname: x\nmodel:\n  configuration:\n    type: openai\n    api_key: sk-literal-123\n---\nuser:\nHi\n"
    prompt = parse_prompt(text, "prompty")
    assert "api_key" not in prompt.model.configuration
    assert "sk-literal-123" not in prompt.model_dump_json()
    assert "sk-literal-123" not in dump_prompt(prompt, "prompty").text
    assert any("literal secret" in n for n in prompt.notices)


# --- writing: real consumers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PROMPTY_FILES, *YML_FILES])
def test_written_prompty_loads_in_azure_sdk_with_same_messages(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = _load(name)
    path = tmp_path / "written.prompty"
    path.write_text(dump_prompt(prompt, "prompty").text, encoding="utf-8")
    for key, value in SDK_ENV.items():
        monkeypatch.setenv(key, value)
    values = _values(prompt)
    if name == "chat.prompty":
        # Its {% for %} loop needs Jinja2, so the file says `template: jinja2` (Prompty's v1 default); the SDK only
        # ships a Mustache renderer and says so.
        assert "\ntemplate: jinja2\n" in path.read_text(encoding="utf-8")
        with pytest.raises(ValueError, match="Renderer jinja2 not found"):
            PromptTemplate.from_prompty(str(path)).create_messages(**values)
        return
    sdk_messages = PromptTemplate.from_prompty(str(path)).create_messages(**values)
    ours = render_messages(parse_prompt(path.read_text(encoding="utf-8"), "prompty"), values)
    assert ours == sdk_messages
    assert len(ours) >= 1


def test_sdk_sees_our_model_settings(tmp_path: Path) -> None:
    prompt = Prompt(
        name="Support",
        model=ModelRef(type="azure_openai", endpoint="https://a.example", deployment="gpt-4o-mini"),
        parameters=PromptParameters(max_tokens=64, temperature=0.1, stop=["END"]),
        messages=[PromptMessage(role="system", content="Be brief."), PromptMessage(role="user", content="{{q}}")],
        test_data=[{"q": "Why?"}],
    )
    path = tmp_path / "support.prompty"
    path.write_text(dump_prompt(prompt, "prompty").text, encoding="utf-8")
    template = PromptTemplate.from_prompty(str(path))
    assert template.model_name == "gpt-4o-mini"
    assert template.parameters == {"max_tokens": 64, "temperature": 0.1, "stop": ["END"]}
    assert template.create_messages() == [  # the sample fills q, as in the SDK's own flow
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why?"},
    ]


def test_undeclared_template_renders_as_jinja2_without_html_escaping(tmp_path: Path) -> None:
    """Prompty's own runtime (and its v1 spec) default to Jinja2; the SDK renders the same file as Mustache, which
    HTML-escapes values. Plain values give the same messages (above); these do not, and we keep Jinja2's text."""
    text = "---\nname: j\nmodel:\n  api: chat\n---\nuser:\nIs {{a}}?\n"
    path = tmp_path / "j.prompty"
    path.write_text(text, encoding="utf-8")
    assert render_messages(parse_prompt(text, "prompty"), {"a": "1 < 2"}) == [{"role": "user", "content": "Is 1 < 2?"}]
    sdk = PromptTemplate.from_prompty(str(path)).create_messages(a="1 < 2")
    assert sdk == [{"role": "user", "content": "Is 1 &lt; 2?"}]


def test_declared_mustache_escapes_like_the_sdk(tmp_path: Path) -> None:
    text = "---\nname: m\nmodel:\n  api: chat\ntemplate: mustache\n---\nuser:\nCompare {{a}} with {{{b}}}\n"
    path = tmp_path / "m.prompty"
    path.write_text(text, encoding="utf-8")
    values = {"a": "x < y & z", "b": "<raw>"}
    sdk = PromptTemplate.from_prompty(str(path)).create_messages(**values)
    ours = render_messages(parse_prompt(text, "prompty"), values)
    assert ours == sdk == [{"role": "user", "content": "Compare x &lt; y &amp; z with <raw>"}]


# GitHub's structs (github/gh-models pkg/prompt/prompt.go at f38cd97d): key -> type, or a nested struct.
GH_FILE = {
    "name": str,
    "description": str,
    "model": str,
    "modelParameters": {"maxTokens": int, "temperature": float, "topP": float},
    "responseFormat": str,
    "jsonSchema": str,
    "messages": [{"role": str, "content": str}],
    "testData": [dict],
    "evaluators": [
        {
            "name": str,
            "string": {"endsWith": str, "startsWith": str, "contains": str, "equals": str},
            "llm": {"modelId": str, "prompt": str, "choices": [{"choice": str, "score": float}], "systemPrompt": str},
            "uses": str,
        }
    ],
}


def _gh_reads(value: Any, shape: Any, path: str) -> None:
    """Every key is one gh unmarshals, with the type its struct field has (nothing gh would drop or reject)."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape, f"{path}.{key} is not a key gh models reads"
            _gh_reads(item, shape[key], f"{path}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            _gh_reads(item, shape[0], f"{path}[{index}]")
    elif shape is float:
        assert isinstance(value, int | float) and not isinstance(value, bool), path
    else:
        assert isinstance(value, shape) and not isinstance(value, bool), path


def _gh_validates(data: dict[str, Any]) -> None:
    """gh's validateResponseFormat and GetAzureChatMessageRole."""
    if "responseFormat" in data:
        assert data["responseFormat"] in ("text", "json_object", "json_schema")
        if data["responseFormat"] == "json_schema":
            schema = json.loads(data["jsonSchema"])
            assert "name" in schema and "schema" in schema
    assert all(m["role"] in ("system", "user", "assistant") for m in data["messages"])


@pytest.mark.parametrize("name", [*PROMPTY_FILES, *YML_FILES])
def test_written_prompt_yml_has_only_keys_gh_models_reads(name: str) -> None:
    prompt = _load(name)
    if name == "chat.prompty":
        with pytest.raises(PromptConvertError, match="Jinja2 logic"):
            dump_prompt(prompt, "prompt.yml")
        return
    data = yaml.safe_load(dump_prompt(prompt, "prompt.yml").text)
    _gh_reads(data, GH_FILE, "file")
    _gh_validates(data)
    assert data["messages"], "gh models needs messages"


def test_prompt_yml_written_from_a_yml_file_keeps_its_keys_and_values() -> None:
    for name in YML_FILES:
        original = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
        written = yaml.safe_load(dump_prompt(_load(name), "prompt.yml").text)
        if "jsonSchema" in original:
            assert json.loads(written.pop("jsonSchema")) == json.loads(original.pop("jsonSchema"))
        assert written == original, name


# --- round trips -----------------------------------------------------------------------------------------------


def _essentials(prompt: Prompt) -> dict[str, Any]:
    return {
        "messages": _stripped(render_messages(prompt, _values(prompt))),
        "parameters": chat_parameters(prompt),
        "variables": list(prompt.variables),
        "values": {name: value for name, value in prompt.initial_values().items()},
    }


@pytest.mark.parametrize("name", [n for n in PROMPTY_FILES if n != "chat.prompty"])
def test_prompty_to_yml_and_back_keeps_messages_parameters_variables(name: str) -> None:
    prompt = _load(name)
    yml = parse_prompt(dump_prompt(prompt, "prompt.yml").text, "prompt.yml")
    back = parse_prompt(dump_prompt(yml, "prompty").text, "prompty")
    before = _essentials(prompt)
    for after in (_essentials(yml), _essentials(back)):
        assert after["messages"] == before["messages"]
        assert after["variables"] == before["variables"]
        assert after["values"] == before["values"]
        # gh's keys hold max_tokens, temperature, top_p and the response format; the examples use only those
        assert after["parameters"] == before["parameters"]
    assert back.model.deployment == prompt.model.deployment


@pytest.mark.parametrize("name", YML_FILES)
def test_yml_to_prompty_and_back_keeps_messages_parameters_variables(name: str) -> None:
    prompt = _load(name)
    prompty = parse_prompt(dump_prompt(prompt, "prompty").text, "prompty")
    back = parse_prompt(dump_prompt(prompty, "prompt.yml").text, "prompt.yml")
    before = _essentials(prompt)
    for after in (_essentials(prompty), _essentials(back)):
        assert after == before
    assert back.model.deployment == prompt.model.deployment
    assert back.test_data == prompt.test_data[:1]  # Prompty holds one sample: later rows are named in notices


def test_prompty_round_trip_through_itself_is_stable() -> None:
    for name in PROMPTY_FILES:
        once = dump_prompt(_load(name), "prompty").text
        twice = dump_prompt(parse_prompt(once, "prompty"), "prompty").text
        assert twice == once, name


def test_conversion_names_what_it_leaves_out() -> None:
    prompt = _load("judged.prompt.yml")
    dumped = dump_prompt(prompt, "prompty")
    assert any("1 test data row" in n for n in dumped.notices)
    assert any("evaluators" in n for n in dumped.notices)
    prompty = Prompt(
        name="p",
        model=ModelRef(type="azure_openai", endpoint="https://a.example", deployment="d"),
        parameters=PromptParameters(seed=7, stop=["x"], extra={"tool_choice": "auto"}),
        messages=[PromptMessage(role="user", content="{{ q }}")],
        variables={
            "q": PromptVariable(name="q", type="string", description="the question", default="Why?", declared=True)
        },
        source_format="prompty",
    )
    dumped = dump_prompt(prompty, "prompt.yml")
    text = " ".join(dumped.notices)
    for word in ("seed", "stop", "tool_choice", "endpoint", "descriptions"):
        assert word in text
    data = yaml.safe_load(dumped.text)
    assert data["testData"] == [{"q": "Why?"}]  # the default travels as the first row
    assert data["messages"] == [{"role": "user", "content": "{{q}}"}]


def test_literal_braces_survive_both_conversions() -> None:
    yml = Prompt(
        name="braces",
        messages=[PromptMessage(role="user", content="Keep {{ this }} and {% that %} as text, fill {{name}}.")],
        syntax="placeholders",
        source_format="prompt.yml",
    )
    prompty = convert(yml, "prompty")
    assert render_messages(prompty, {"name": "N"}) == render_messages(yml, {"name": "N"})
    assert render_messages(yml, {"name": "N"})[0]["content"] == "Keep {{ this }} and {% that %} as text, fill N."
    assert convert(prompty, "prompt.yml").messages[0].content == yml.messages[0].content


def test_conversion_refuses_what_the_target_cannot_express() -> None:
    looped = Prompt(messages=[PromptMessage(role="user", content="{% if a %}A{% endif %}")], source_format="prompty")
    with pytest.raises(PromptConvertError, match=r"message 1 \(user\), line 1: '\{% if a %\}"):
        convert(looped, "prompt.yml")
    role_line = Prompt(
        messages=[PromptMessage(role="user", content="Quote:\nassistant:\nhi")],
        syntax="placeholders",
        source_format="prompt.yml",
    )
    with pytest.raises(PromptConvertError, match="role line"):
        convert(role_line, "prompty")
    dashed = Prompt(messages=[PromptMessage(role="user", content="{{my-var}}")], syntax="placeholders")
    with pytest.raises(PromptConvertError, match="'my-var' is not a Jinja2 name"):
        convert(dashed, "prompty")


def test_template_declared_only_when_jinja_is_needed() -> None:
    plain = Prompt(messages=[PromptMessage(role="user", content="{{ q }}")])
    assert "template:" not in dump_prompt(plain, "prompty").text
    logic = Prompt(messages=[PromptMessage(role="user", content="{% if q %}{{ q }}{% endif %}")])
    assert "\ntemplate: jinja2\n" in dump_prompt(logic, "prompty").text


# --- model settings -> our deployments -------------------------------------------------------------------------


def _deployments() -> dict[str, Deployment]:
    return {
        "gpt4o": Deployment(
            name="gpt4o", endpoint="https://east.example.com/openai", api="azure-openai", model="gpt-4o"
        ),
        "gpt4o-west": Deployment(name="gpt4o-west", endpoint="https://west.example.com", model="gpt-4o"),
        "mistral": Deployment(name="Mistral-small", endpoint="https://models.inference.ai.azure.com"),
    }


def test_choose_deployment_by_name_model_and_endpoint() -> None:
    deps = _deployments()
    assert choose_deployment(ModelRef(deployment="gpt4o-west"), deps) == "gpt4o-west"
    assert choose_deployment(_load("serverless.prompty"), deps) == "Mistral-small"
    # a .prompt.yml model id: publisher prefix dropped, then matched on the deployment's model; the endpoint breaks ties
    assert choose_deployment(ModelRef(deployment="openai/gpt-4o"), deps) == "gpt4o"
    assert choose_deployment(ModelRef(deployment="gpt-4o", endpoint="https://west.example.com/"), deps) == "gpt4o-west"
    assert choose_deployment(ModelRef(endpoint="https://east.example.com"), deps) == "gpt4o"
    assert choose_deployment(ModelRef(deployment="gpt-35-turbo"), deps) is None
    # a reference is never resolved, so it matches nothing
    assert choose_deployment(ModelRef(deployment="${env:DEPLOYMENT}"), deps) is None
    assert choose_deployment(ModelRef(endpoint="${env:AZURE_OPENAI_ENDPOINT}"), deps) is None


def test_model_ref_for_a_deployment_never_carries_the_key() -> None:
    deployment = Deployment(name="gpt4o", endpoint="https://east.example.com", api="azure-openai", key="sk-secret-42")
    prompt = Prompt(name="p", model=model_ref_for(deployment), messages=[PromptMessage(role="user", content="hi")])
    text = dump_prompt(prompt, "prompty").text
    assert "sk-secret-42" not in text
    config = yaml.safe_load(text.split("---")[1])["model"]["configuration"]
    assert config == {"type": "azure_openai", "azure_endpoint": "https://east.example.com", "azure_deployment": "gpt4o"}
    assert choose_deployment(parse_prompt(text, "prompty"), {"gpt4o": deployment}) == "gpt4o"


def test_chat_parameters_in_api_names_without_references() -> None:
    text = (
        "---\nname: x\nmodel:\n  parameters:\n    max_tokens: 10\n    top_p: 0.5\n    stop: END\n"
        "    response_format: ${file:schema.json}\n    tool_choice: auto\n---\nuser:\nhi\n"
    )
    prompt = parse_prompt(text, "prompty")
    assert chat_parameters(prompt) == {"max_tokens": 10, "top_p": 0.5, "stop": ["END"], "tool_choice": "auto"}
    assert "response_format: ${file:schema.json}" in dump_prompt(prompt, "prompty").text


def test_chat_page_parameters_round_trip_through_a_prompty_file() -> None:
    request = {
        "temperature": 0.3,
        "max_tokens": 99,
        "stop": ["\n\n"],
        "seed": 5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "auto",
    }
    prompt = Prompt(
        name="from chat",
        parameters=parameters_from_request(request),
        messages=[PromptMessage(role="user", content="hi")],
    )
    assert chat_parameters(prompt) == request
    assert chat_parameters(parse_prompt(dump_prompt(prompt, "prompty").text, "prompty")) == request


def test_a_models_own_parameter_is_sent_as_an_extra_the_client_accepts(fault_server: FaultServer) -> None:
    text = "---\nname: x\nmodel:\n  parameters:\n    max_tokens: 5\n    top_k: 40\n---\nuser:\nhi\n"
    params = chat_parameters(parse_prompt(text, "prompty"))
    assert params == {"max_tokens": 5, "model_extras": {"top_k": 40}, "extra_parameters": "pass-through"}
    scenario = fault_server.scenario(Reply(json=chat_body("ok")))
    deployment = Deployment(name="x", endpoint=scenario.endpoint)
    with InferenceClient(deployment) as client:
        assert client.chat([{"role": "user", "content": "hi"}], **params).content == "ok"
    sent = scenario.requests[0]
    assert sent.json()["top_k"] == 40 and sent.headers["extra-parameters"] == "pass-through"
