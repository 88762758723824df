"""Built-in demo tools that run locally: a calculator and a clock, each with the JSON schema a request's `tools` needs.

A model's tool call is untrusted input: `run_demo_tool` never raises for bad arguments, it returns the error as the
tool's JSON result (what a real tool would answer, and what the model can read and recover from).

    definition = DEMO_TOOLS["calculator"].definition()      # goes into the request's `tools`
    run_demo_tool("calculator", '{"expression": "2 + 3 * 4"}')  # -> '{"expression": "2 + 3 * 4", "result": 14}'
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Limits that keep one expression cheap: short text, few nodes, integers of bounded size (no 9**9**9).
MAX_EXPRESSION_CHARS = 300
MAX_NODES = 120
MAX_INT_BITS = 4096  # about 1,233 decimal digits

Number = int | float


class CalculatorError(ValueError):
    """An expression the calculator refuses or cannot evaluate; the message says why in plain words."""


class ClockError(ValueError):
    """A time zone the clock does not know."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitXor: operator.pow,  # `^` is power, as on a calculator (never Python's exclusive or)
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _round(value: Number, digits: int = 0) -> Number:
    # round(10**1000, -10**9) would compute 10**(10**9): the digits are bounded first.
    if not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > 100:
        raise CalculatorError("round() takes a whole number of digits between -100 and 100")
    return round(value, digits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def _checked(value: Any) -> Number:
    """The value if it is a real, finite number of bounded size; CalculatorError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalculatorError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError("the result is too large (more than about 1,200 digits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("the result is too large to represent")
    return value


def _power(base: Number, exponent: Number) -> Number:
    # Refused before computing: base**exponent has at least (bits of base - 1) * exponent bits.
    whole = isinstance(base, int) and isinstance(exponent, int)
    if whole and exponent > 0 and abs(base) > 1 and (base.bit_length() - 1) * exponent > MAX_INT_BITS:
        raise CalculatorError("the exponent is too large: the result would have more than about 1,200 digits")
    if isinstance(exponent, int) and abs(exponent) > 100_000 and abs(base) > 1:
        raise CalculatorError("the exponent is too large")
    return base**exponent


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow | ast.BitXor):
            return _checked(_power(left, right))
        return _checked(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords or not node.args or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise CalculatorError(f"{node.func.id}() takes plain numbers only")
        return _checked(_FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args)))
    if isinstance(node, ast.Name | ast.Call):
        allowed = ", ".join(sorted(_FUNCTIONS) + sorted(_CONSTANTS))
        raise CalculatorError(f"unknown name; the calculator knows {allowed}")
    raise CalculatorError("only numbers, + - * / // % ** ^, parentheses and a few functions are allowed")


def calculate(expression: str) -> Number:
    """Evaluate an arithmetic expression safely (an AST walk, never eval): numbers, + - * / // % ** (or ^),
    parentheses, pi, e and abs round min max sqrt exp log log10 sin cos tan floor ceil.

    Raises CalculatorError for anything else, for a division by zero, and for results too large to be useful."""
    if not isinstance(expression, str) or not expression.strip():
        raise CalculatorError("the expression is empty")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalculatorError("the expression is not valid arithmetic") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculatorError(f"the expression has more than {MAX_NODES} parts")
    try:
        return _evaluate(tree)
    except CalculatorError:
        raise
    except ZeroDivisionError as exc:
        raise CalculatorError("division by zero") from exc
    except OverflowError as exc:
        raise CalculatorError("the result is too large to represent") from exc
    except (ValueError, TypeError) as exc:
        # math's own refusals ("math domain error") and wrong argument counts
        raise CalculatorError(f"cannot compute this: {exc}") from exc


def current_time(timezone: str = "UTC", now: datetime | None = None) -> dict[str, str]:
    """The current time (or `now`) in an IANA time zone such as `Europe/Oslo`: ISO time, weekday, UTC offset.

    Raises ClockError for a name that is not an IANA time zone."""
    name = (timezone or "UTC").strip()
    if len(name) > 64:
        raise ClockError("the time zone name is too long")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        hint = "use an IANA name such as Europe/Oslo or America/New_York"
        raise ClockError(f"unknown time zone {name!r}: {hint}") from exc
    moment = (now or datetime.now(UTC)).astimezone(zone)
    return {
        "timezone": name,
        "time": moment.isoformat(timespec="seconds"),
        "weekday": moment.strftime("%A"),
        "utc_offset": moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:],
    }


@dataclass(frozen=True)
class DemoTool:
    """A built-in tool: its function name, description, JSON schema of its arguments, and what runs it."""

    name: str
    label: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[Mapping[str, Any]], dict[str, Any]]

    def definition(self) -> dict[str, Any]:
        """The tool as one item of a request's `tools` (OpenAI function format)."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


def _run_calculator(arguments: Mapping[str, Any]) -> dict[str, Any]:
    expression = arguments.get("expression")
    if not isinstance(expression, str):
        raise CalculatorError("`expression` (a string) is required")
    return {"expression": expression, "result": calculate(expression)}


def _run_clock(arguments: Mapping[str, Any]) -> dict[str, Any]:
    timezone = arguments.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ClockError("`timezone` must be a string such as Europe/Oslo")
    return current_time(timezone)


DEMO_TOOLS: dict[str, DemoTool] = {
    "calculator": DemoTool(
        name="calculator",
        label="Calculator",
        description="Evaluate an arithmetic expression exactly, e.g. (2 + 3) * 4 or sqrt(2) / 3.",
        parameters={
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "Numbers, + - * / // % ** ^, parentheses, pi, e, and abs round min max sqrt "
                    "exp log log10 sin cos tan floor ceil.",
                }
            },
            "required": ["expression"],
        },
        run=_run_calculator,
    ),
    "current_time": DemoTool(
        name="current_time",
        label="Clock",
        description="The current date and time in a time zone.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {"type": "string", "description": "An IANA time zone such as Europe/Oslo; default UTC."}
            },
        },
        run=_run_clock,
    ),
}


def run_demo_tool(name: str, arguments: str) -> str:
    """Run the built-in tool `name` on a call's `arguments` (JSON text) and return its result as JSON text.

    Bad arguments and refused expressions come back as `{"error": "..."}`; KeyError only for an unknown `name`."""
    tool = DEMO_TOOLS[name]
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return json.dumps({"error": "the arguments are not valid JSON"})
    if not isinstance(parsed, dict):
        return json.dumps({"error": "the arguments must be a JSON object"})
    try:
        return json.dumps(tool.run(parsed))
    except (CalculatorError, ClockError) as err:
        return json.dumps({"error": str(err)})


def tool_names(tools: list[dict[str, Any]]) -> list[str]:
    """The function names in a `tools` list (wrapped `{"type": "function", "function": ...}` items or bare ones)."""
    names = []
    for item in tools:
        function = item.get("function", item) if isinstance(item, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def with_demo_tool(tools: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """`tools` with the built-in tool `name` added at the end (unchanged when a tool of that name is there)."""
    if name in tool_names(tools):
        return list(tools)
    return [*tools, DEMO_TOOLS[name].definition()]
