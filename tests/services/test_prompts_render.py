"""Rendering prompt templates: the messages sent, the variables listed, and every way a template can go wrong."""

from __future__ import annotations

import pytest

from services.prompts import (
    MAX_FILE_BYTES,
    Prompt,
    PromptMessage,
    PromptTemplateError,
    PromptTooLargeError,
    PromptUndefinedError,
    PromptVariable,
    parse_prompt,
    prompt_variables,
    render_messages,
    variables_in,
)

PROMPTY = """---
name: Support
model:
  api: chat
sample:
  customer: Ada
---
system:
You help {{ customer }}.
Be brief.

user:
Hello, I am {{ customer }}.
My question: {{ question }}
"""


def _prompt(content: str, syntax: str = "jinja2") -> Prompt:
    return Prompt(messages=[PromptMessage(role="user", content=content)], syntax=syntax)


def test_prompty_renders_messages_in_order() -> None:
    prompt = parse_prompt(PROMPTY, "prompty")
    assert render_messages(prompt, {"customer": "Ada", "question": "Why?"}) == [
        {"role": "system", "content": "You help Ada.\nBe brief."},
        {"role": "user", "content": "Hello, I am Ada.\nMy question: Why?"},
    ]


def test_undefined_variable_names_the_variable_and_the_line() -> None:
    prompt = parse_prompt(PROMPTY, "prompty")
    with pytest.raises(PromptUndefinedError) as caught:
        render_messages(prompt, {"customer": "Ada"})
    error = caught.value
    assert error.variable == "question"
    assert error.message_index == 1
    assert error.line == 2
    # "My question: {{ question }}" is line 14 of the file
    assert str(error) == "message 2 (user), line 2 (line 14 of the file): the variable 'question' has no value."
    assert PROMPTY.splitlines()[13] == "My question: {{ question }}"


def test_declared_default_fills_a_missing_value() -> None:
    prompt = _prompt("Hi {{ name }}")
    prompt.variables["name"] = PromptVariable(name="name", default="there", declared=True)
    assert render_messages(prompt)[0]["content"] == "Hi there"
    assert render_messages(prompt, {"name": "Ada"})[0]["content"] == "Hi Ada"


def test_syntax_error_names_the_line() -> None:
    prompt = parse_prompt(PROMPTY.replace("Be brief.", "Be {% if %} brief."), "prompty")
    assert any("does not parse" in notice for notice in prompt.notices)  # it still loads, so it can be fixed
    with pytest.raises(PromptTemplateError) as caught:
        render_messages(prompt, {"customer": "Ada", "question": "q"})
    assert caught.value.message_index == 0
    assert caught.value.line == 2
    assert "(line 10 of the file)" in str(caught.value)
    assert "Expected an expression" in str(caught.value)


def test_loop_emits_messages_like_prompty_runtimes() -> None:
    body = "system:\nBe kind.\n\n{% for m in history %}\n{{ m.role }}:\n{{ m.content }}\n{% endfor %}\nuser:\n{{ q }}"
    prompt = parse_prompt("---\nname: chat\n---\n" + body, "prompty")
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert render_messages(prompt, {"history": history, "q": "And?"}) == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And?"},
    ]
    assert prompt_variables(prompt) == ["history", "q"]


def test_sandbox_blocks_python_internals() -> None:
    for template in ("{{ q.__class__ }}", "{{ q.__class__.__mro__[1].__subclasses__() }}", "{{ [].append(1) }}"):
        with pytest.raises(PromptTemplateError, match=r"unsafe|not safely callable|modify"):
            render_messages(_prompt(template), {"q": "x"})


def test_values_passed_in_cannot_be_changed() -> None:
    history = ["a"]
    with pytest.raises(PromptTemplateError):
        render_messages(_prompt("{{ h.append('b') }}"), {"h": history})
    assert history == ["a"]


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 2000000 }}",
        "{{ 'ab' * 600000 }}",
        "{{ big + big }}",
        "{{ 'x' | center(100000000) }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ '{:>99999999}'.format(1) }}",
        "{{ '%99999999s' % 1 }}",
        "{{ '%99999999s' | format(1) }}",
        "{{ 2 ** 100000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(1000) %}{{ big }}{% endfor %}",
    ],
)
def test_output_is_bounded(template: str) -> None:
    with pytest.raises(PromptTooLargeError):
        render_messages(_prompt(template), {"big": "y" * 600_000})


def test_output_just_under_the_bound_renders() -> None:
    text = render_messages(_prompt("{{ 'x' * n }}"), {"n": MAX_FILE_BYTES - 10})[0]["content"]
    assert len(text) == MAX_FILE_BYTES - 10


def test_variables_in_lists_names_in_order_of_first_use() -> None:
    assert variables_in("{{ b }} {{ a.x }} {% for i in items %}{{ i }}{{ b }}{% endfor %}") == ["b", "a", "items"]
    assert variables_in("{% set t = 1 %}{{ t }} {{ range(3) | list }}") == []
    assert variables_in("Hi {{name}}, {{ not_gh }} {{name}} {{x.y}}", "placeholders") == ["name", "x.y"]
    assert variables_in("{{a}} {{{b}}} {{& c.d}} {{! note }}", "mustache") == ["a", "b", "c"]
    with pytest.raises(PromptTemplateError, match="line 2"):
        variables_in("ok\n{{ broken ")


def test_placeholders_follow_gh_models_substitution() -> None:
    prompt = Prompt(
        messages=[
            PromptMessage(role="system", content="You are {{persona}}."),
            PromptMessage(role="user", content="{{ spaced }} stays, {% raw %} stays, {{input}} fills; {{flag}}"),
        ],
        syntax="placeholders",
    )
    assert render_messages(prompt, {"persona": "a pirate", "input": "<b>&", "flag": True}) == [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "{{ spaced }} stays, {% raw %} stays, <b>& fills; true"},
    ]
    with pytest.raises(PromptUndefinedError) as caught:
        render_messages(prompt, {"persona": "p"})
    assert caught.value.variable == "input"
    assert caught.value.message_index == 1
    assert str(caught.value) == "message 2 (user): line 1: the variable 'input' has no value."


def test_placeholders_keep_surrounding_whitespace() -> None:
    prompt = Prompt(messages=[PromptMessage(role="user", content="  {{q}}\n")], syntax="placeholders")
    assert render_messages(prompt, {"q": "x"}) == [{"role": "user", "content": "  x\n"}]


def test_mustache_sections_are_a_clear_error() -> None:
    prompt = parse_prompt("---\nname: m\ntemplate: mustache\n---\nuser:\n{{#items}}{{.}}{{/items}}\n", "prompty")
    with pytest.raises(PromptTemplateError, match=r"Mustache '\{\{#' tags .* not supported"):
        render_messages(prompt, {"items": ["a"]})
    prompt = parse_prompt("---\nname: m\ntemplate: mustache\n---\nuser:\nHi {{who.name}}\n", "prompty")
    assert render_messages(prompt, {"who": {"name": "Ada"}}) == [{"role": "user", "content": "Hi Ada"}]
    with pytest.raises(PromptUndefinedError, match=r"'who\.name' has no value"):
        render_messages(prompt, {"who": {}})


def test_text_before_the_first_role_is_a_system_message_and_empty_messages_are_dropped() -> None:
    prompt = parse_prompt("---\nname: x\n---\nBe brief.\n\nassistant:\n{{ a }}\nuser:\nHi\n", "prompty")
    assert [m.role for m in prompt.messages] == ["system", "assistant", "user"]
    assert render_messages(prompt, {"a": ""}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
