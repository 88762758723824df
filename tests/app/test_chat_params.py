"""The parameter panel's values become request parameters: unset sends nothing, bad JSON is caught with its position."""

from __future__ import annotations

import pytest

from app.chat_params import JsonFieldError, ParamValues, build_params, parse_stop_sequences, values_from_params


def test_unset_values_send_nothing() -> None:
    assert build_params(ParamValues()) == {}


def test_set_values_are_sent_with_their_api_names() -> None:
    values = ParamValues(temperature=0.2, top_p=0.9, max_tokens=16, presence_penalty=0.5, frequency_penalty=-1.0)
    values.seed = 7
    values.stop = parse_stop_sequences("END\n\n###\n")
    assert build_params(values) == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 16,
        "presence_penalty": 0.5,
        "frequency_penalty": -1.0,
        "stop": ["END", "###"],
        "seed": 7,
    }


def test_response_format_json_schema_wraps_a_bare_schema() -> None:
    values = ParamValues(response_format="json_schema", json_schema='{"type": "object"}')
    assert build_params(values)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    assert build_params(ParamValues(response_format="json_object"))["response_format"] == {"type": "json_object"}


def test_invalid_json_names_the_editor_line_and_column() -> None:
    with pytest.raises(JsonFieldError) as caught:
        build_params(ParamValues(tools='[\n  {"name": "f",\n   "parameters": {]\n}]'))
    assert caught.value.field == "Tools"
    assert (caught.value.line, caught.value.column) == (3, 19)
    assert "line 3, column 19" in str(caught.value)


def test_json_schema_name_is_checked_before_sending() -> None:
    with pytest.raises(JsonFieldError, match="name"):
        build_params(ParamValues(response_format="json_schema", json_schema='{"name": "has space", "schema": {}}'))


def test_tools_accept_bare_functions_and_tool_choice_by_name() -> None:
    params = build_params(ParamValues(tools='[{"name": "get_weather"}]', tool_choice="get_weather"))
    assert params["tools"] == [{"type": "function", "function": {"name": "get_weather"}}]
    assert params["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert build_params(ParamValues(tools='[{"name": "f"}]', tool_choice="auto"))["tool_choice"] == "auto"


def test_tool_without_a_name_is_refused() -> None:
    with pytest.raises(JsonFieldError, match="item 1 needs a function `name`"):
        build_params(ParamValues(tools='[{"description": "x"}]'))


def test_model_extras_default_to_pass_through_and_must_be_an_object() -> None:
    assert build_params(ParamValues(model_extras='{"top_k": 5}')) == {
        "model_extras": {"top_k": 5},
        "extra_parameters": "pass-through",
    }
    assert build_params(ParamValues(model_extras='{"top_k": 5}', extra_parameters="drop"))["extra_parameters"] == "drop"
    with pytest.raises(JsonFieldError, match="expected an object"):
        build_params(ParamValues(model_extras="[1]"))


def test_unsupported_parameters_are_left_out_including_their_dependants() -> None:
    values = ParamValues(temperature=0.5, tools='[{"name": "f"}]', tool_choice="auto", model_extras='{"top_k": 1}')
    params = build_params(values, {"tools", "top_k"})
    assert params == {"temperature": 0.5}


def test_values_from_params_round_trips() -> None:
    values = ParamValues(
        temperature=0.3,
        max_tokens=12,
        stop=["x"],
        seed=1,
        response_format="json_schema",
        json_schema='{"name": "n", "schema": {"type": "object"}}',
        tools='[{"name": "f"}]',
        tool_choice="f",
        model_extras='{"top_k": 2}',
        extra_parameters="drop",
    )
    params = build_params(values)
    assert build_params(values_from_params(params)) == params


def test_json_schema_refused_by_a_probe_leaves_json_mode_usable() -> None:
    schema = ParamValues(response_format="json_schema", json_schema='{"type": "object"}')
    assert build_params(schema, {"response_format.json_schema"}) == {}
    json_mode = ParamValues(response_format="json_object")
    assert build_params(json_mode, {"response_format.json_schema"}) == {"response_format": {"type": "json_object"}}
