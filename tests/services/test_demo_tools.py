"""The built-in demo tools: the calculator's arithmetic and limits, the clock's time zones, their schemas."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from services.demo_tools import (
    DEMO_TOOLS,
    CalculatorError,
    ClockError,
    calculate,
    current_time,
    run_demo_tool,
    tool_names,
    with_demo_tool,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ** 3 ** 2", 512),  # power binds right to left
        ("-2 ** 2", -4),  # and tighter than the sign
        ("2 ^ 10", 1024),  # `^` is power, as on a calculator
        ("7 // 2 + 7 % 3", 4),
        ("10 / 4", 2.5),
        ("17 * 0.15", 2.55),
        ("max(3, 9, 4) - min(3, 9, 4)", 6),
        ("round(2.567, 2)", 2.57),
        ("sqrt(16) + abs(-3)", 7.0),
        ("floor(pi * 100)", 314),
        ("1 ** (10 ** 100)", 1),  # a huge exponent of 1 is cheap and allowed
        ("2 ** -2", 0.25),
    ],
)
def test_calculator_follows_arithmetic_precedence(expression: str, expected: float) -> None:
    assert calculate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("sqrt(-1)", "math domain error"),
        ("(-8) ** 0.5", "not a real number"),
        ("1e308 * 10", "too large"),
        ("", "empty"),
        ("2 +", "not valid arithmetic"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("1j", "only numbers"),
        ("__import__('os').system('true')", "unknown name"),
        ("open('/etc/passwd')", "unknown name"),
        ("(1).__class__", "only numbers"),
        ("[1, 2]", "only numbers"),
        ("x + 1", "unknown name"),
        ("round(10 ** 100, -10 ** 9)", "round() takes"),
        ("1 + " * 100 + "1", "longer than 300 characters"),
        ("-" * 200 + "1", "more than 120 parts"),
    ],
)
def test_calculator_refuses_with_a_reason(expression: str, reason: str) -> None:
    with pytest.raises(CalculatorError, match=None) as info:
        calculate(expression)
    assert reason in str(info.value)


@pytest.mark.parametrize("expression", ["9 ** 9 ** 9", "10 ** 5000", "(10 ** 1000) ** 1000", "2 ^ 99999999"])
def test_huge_exponents_are_refused_before_computing(expression: str) -> None:
    started = time.perf_counter()
    with pytest.raises(CalculatorError, match="exponent is too large"):
        calculate(expression)
    assert time.perf_counter() - started < 0.5  # refused from the operands' sizes, never computed


def test_products_that_grow_past_the_limit_are_refused() -> None:
    assert calculate("2 ** 4000") == 2**4000
    with pytest.raises(CalculatorError, match="too large"):
        calculate("2 ** 4000 * 2 ** 4000")


def test_clock_gives_the_time_in_an_iana_zone() -> None:
    moment = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert current_time("Europe/Oslo", now=moment) == {
        "timezone": "Europe/Oslo",
        "time": "2024-07-01T14:00:00+02:00",
        "weekday": "Monday",
        "utc_offset": "+02:00",
    }
    assert current_time("Asia/Kolkata", now=moment)["utc_offset"] == "+05:30"
    assert current_time("", now=moment)["time"] == "2024-07-01T12:00:00+00:00"  # UTC when none is given


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America", "x" * 80])
def test_clock_refuses_names_that_are_not_time_zones(zone: str) -> None:
    with pytest.raises(ClockError):
        current_time(zone)


def test_clock_reads_the_real_time_by_default() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    shown = datetime.fromisoformat(current_time("America/New_York")["time"])
    assert before <= shown <= datetime.now(UTC)


def test_running_a_tool_never_raises_for_the_models_arguments() -> None:
    assert json.loads(run_demo_tool("calculator", '{"expression": "6 * 7"}')) == {"expression": "6 * 7", "result": 42}
    assert json.loads(run_demo_tool("calculator", '{"expression": "1/0"}')) == {"error": "division by zero"}
    assert "not valid JSON" in json.loads(run_demo_tool("calculator", "{expression"))["error"]
    assert "JSON object" in json.loads(run_demo_tool("calculator", "[1]"))["error"]
    assert "`expression`" in json.loads(run_demo_tool("calculator", "{}"))["error"]
    assert json.loads(run_demo_tool("current_time", ""))["timezone"] == "UTC"  # no arguments: the default zone
    assert "unknown time zone" in json.loads(run_demo_tool("current_time", '{"timezone": "Nowhere"}'))["error"]
    with pytest.raises(KeyError):
        run_demo_tool("rm_rf", "{}")


def test_definitions_are_function_tools_with_a_json_schema() -> None:
    for name, tool in DEMO_TOOLS.items():
        definition = tool.definition()
        assert definition["type"] == "function"
        assert definition["function"]["name"] == name
        assert definition["function"]["parameters"]["type"] == "object"
        assert definition["function"]["description"]
    assert DEMO_TOOLS["calculator"].definition()["function"]["parameters"]["required"] == ["expression"]


def test_adding_a_demo_tool_keeps_the_others_and_never_adds_twice() -> None:
    weather = {"name": "get_weather", "parameters": {"type": "object"}}  # a bare function, as the editor accepts
    tools = with_demo_tool([weather], "calculator")
    assert tool_names(tools) == ["get_weather", "calculator"]
    assert with_demo_tool(tools, "calculator") == tools
    assert tool_names(with_demo_tool(tools, "current_time")) == ["get_weather", "calculator", "current_time"]
